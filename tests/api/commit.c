/* The commit API (src/api: ops.c, preupload.c, commit.c) against an in-process local hub:
 * buffers and files added, pre-uploaded one by one and committed once, buffers released at
 * the right moment, deletes, copies (LFS and regular), no-ops, pull requests, stale input. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/hash.h"
#include "common/util.h"
#include "hfsync.h"
#include "hub/hub.h"
#include "tap.h"

#define TOKEN "hf_apicommittest0123456789"
#define MIB (1024u * 1024u)

static int freed; /* buffers given back through count_free */

static void count_free(void *data)
{
    freed++;
    free(data);
}

/* Deterministic bytes that are not UTF-8 text: the hub stores them with LFS. */
static unsigned char *binary(size_t len, unsigned seed)
{
    unsigned char *p = hfs_malloc(len ? len : 1);
    uint32_t x = 2463534242u ^ (seed * 2654435761u);
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)(x | 0x80); /* high bit set everywhere: never valid UTF-8 */
    }
    return p;
}

static char *text(const char *s)
{
    return hfs_strdup(s);
}

/* ---- reading the repo back through the hub client ----------------------------------- */

static hfs_hub *reader;
static const char *access_log; /* the hub's, one line per request */
static hfs_hub_repo repo = {HFS_REPO_DATASET, "tester/shards"};

typedef struct {
    bool found, is_lfs;
    char sha256[65], oid[41];
    uint64_t size;
} remote_file;

static int on_entries(void *ctx, const hfs_hub_entry *e, size_t n)
{
    remote_file *f = ctx;
    for (size_t i = 0; i < n; i++) {
        if (e[i].type != HFS_HUB_ENTRY_FILE)
            continue;
        f->found = true;
        f->is_lfs = e[i].is_lfs;
        f->size = e[i].size;
        memcpy(f->sha256, e[i].lfs_sha256, sizeof(f->sha256));
        memcpy(f->oid, e[i].oid, sizeof(f->oid));
    }
    return 0;
}

static remote_file remote(const char *path, const char *revision)
{
    remote_file f = {0};
    const char *paths[] = {path};
    if (hfs_hub_paths_info(reader, &repo, revision, paths, 1, on_entries, &f) < 0)
        tap_diag("paths-info %s: %s", path, hfs_error_last());
    return f;
}

static int collect(void *ctx, const void *data, size_t len)
{
    hfs_buf_add(ctx, data, len);
    return 0;
}

/* The content of a file at main ("" when it cannot be read). Caller frees. */
static char *download(const char *path)
{
    hfs_buf b = HFS_BUF_INIT;
    if (hfs_hub_download(reader, &repo, "main", path, collect, NULL, &b) < 0)
        tap_diag("download %s: %s", path, hfs_error_last());
    return hfs_buf_detach(&b);
}

static int count_commit(void *ctx, const hfs_hub_commit_entry *c)
{
    (void)c;
    (*(int *)ctx)++;
    return 0;
}

static int commits(const char *revision)
{
    int n = 0;
    hfs_hub_list_commits(reader, &repo, revision, count_commit, &n);
    return n;
}

static char *head(const char *revision)
{
    hfs_hub_repo_info info = {0};
    hfs_hub_repo_info_get(&info, reader, &repo, revision, false);
    char *sha = hfs_strdup(info.sha ? info.sha : "");
    hfs_hub_repo_info_clear(&info);
    return sha;
}

/* ---- events ----------------------------------------------------------------------------- */

typedef struct {
    int preupload, ignored, upload_start, upload_done, commit_progress, commit, warning;
} event_counts;

static void on_event(void *ctx, const hfs_apply_event *ev)
{
    event_counts *c = ctx;
    switch (ev->kind) {
    case HFS_APPLY_EVENT_PREUPLOAD:
        c->preupload++;
        break;
    case HFS_APPLY_EVENT_IGNORED:
        c->ignored++;
        break;
    case HFS_APPLY_EVENT_UPLOAD_START:
        c->upload_start++;
        break;
    case HFS_APPLY_EVENT_UPLOAD_DONE:
        c->upload_done++;
        break;
    case HFS_APPLY_EVENT_COMMIT_PROGRESS:
        c->commit_progress++;
        break;
    case HFS_APPLY_EVENT_COMMIT:
        c->commit++;
        break;
    case HFS_APPLY_EVENT_WARNING:
        c->warning++;
        break;
    default:
        break;
    }
}

/* ---- the cases -------------------------------------------------------------------------- */

static void test_builder(const char *dir)
{
    hfs_commit_ops *ops = hfs_commit_ops_new();
    char buf[] = "x";
    tap_is_int(hfs_commit_ops_add_buffer(ops, ".git/config", buf, 1, NULL), HFS_EINVALID,
               "a .git segment is refused");
    tap_ok(strstr(hfs_error_last(), ".git") != NULL, "... and the message names it: %s",
           hfs_error_last());
    tap_is_int(hfs_commit_ops_add_buffer(ops, "a/../b", buf, 1, NULL), HFS_EINVALID,
               "a .. segment is refused");
    tap_is_int(hfs_commit_ops_delete_folder(ops, "/"), HFS_EINVALID,
               "deleting the root is refused");
    tap_is_int(hfs_commit_ops_add_buffer(ops, "a", NULL, 3, NULL), HFS_EINVALID,
               "a NULL buffer with a length is refused");
    char *missing = hfs_path_join(dir, "no-such-file");
    tap_is_int(hfs_commit_ops_add_file(ops, "x", missing), HFS_ENOTFOUND,
               "adding a missing file is HFS_ENOTFOUND");
    tap_ok(strstr(hfs_error_last(), missing) != NULL, "... naming the file");
    free(missing);
    tap_is_int(hfs_commit_ops_add_file(ops, "x", dir), HFS_EINVALID, "adding a folder is refused");
    tap_is_int(hfs_commit_ops_copy(ops, "a", "", "b"), HFS_EINVALID,
               "an empty source revision is refused");
    tap_is_int((long long)hfs_commit_ops_count(ops), 0, "nothing was added by the refusals");

    tap_is_int(hfs_commit_ops_add_buffer(ops, "/lead/./x.txt", buf, 1, NULL), HFS_EINVALID,
               "a '.' segment is refused");
    tap_is_int(hfs_commit_ops_add_buffer(ops, "/lead/x.txt", buf, 1, NULL), 0,
               "a leading '/' is fine");
    hfs_commit_op_info info;
    tap_is_int(hfs_commit_ops_get(&info, ops, 0), 0, "the operation is there");
    tap_is_str(info.path, "lead/x.txt", "... without the leading '/'");
    tap_ok(info.kind == HFS_COMMIT_ADD && info.mode == HFS_UPLOAD_MODE_UNKNOWN && !info.released &&
               !*info.sha256,
           "... an add not hashed nor classified yet");
    tap_is_int(hfs_commit_ops_get(&info, ops, 1), HFS_EINVALID, "operation 1 does not exist");

    int before = freed;
    hfs_commit_ops_add_buffer(ops, "one", hfs_strdup("1"), 1, count_free);
    hfs_commit_ops_add_buffer(ops, "two", hfs_strdup("2"), 1, count_free);
    hfs_commit_ops_free(ops);
    tap_is_int(freed - before, 2, "hfs_commit_ops_free releases the buffers it still holds");
    hfs_commit_ops_free(NULL);
    tap_ok(1, "hfs_commit_ops_free(NULL) does nothing");
}

/* Shards generated in memory, pre-uploaded one by one, committed once with a file from disk
 * (LFS) and text from a buffer and from a file (regular). */
static void test_shards(hfs_commit_options *o, const char *dir)
{
    event_counts ev = {0};
    o->event = on_event;
    o->event_ctx = &ev;
    int before_commits = commits("main");
    hfs_commit_ops *ops = hfs_commit_ops_new();
    int base = freed;
    char sha[3][65];
    const size_t sizes[3] = {64 * 1024, 3 * MIB, 1}; /* the 3 MiB one is sent in parts */
    for (unsigned i = 0; i < 3; i++) {
        unsigned char *shard = binary(sizes[i], i);
        hfs_sha256_hex(sha[i], shard, sizes[i]);
        char *name = hfs_sprintf("data/shard-%u.bin", i);
        tap_ok(hfs_commit_ops_add_buffer(ops, name, shard, sizes[i], count_free) == 0,
               "add shard %u from memory", i);
        int rc = hfs_preupload_lfs(o, ops);
        if (!tap_ok(rc == 0, "pre-upload shard %u", i))
            tap_diag("%s", hfs_error_last());
        tap_is_int(freed - base, (long long)i + 1, "... its buffer is released right after");
        hfs_commit_op_info info;
        hfs_commit_ops_get(&info, ops, i);
        tap_ok(info.mode == HFS_UPLOAD_MODE_LFS && info.uploaded && info.released,
               "... it is LFS, uploaded, released");
        tap_is_str(info.sha256, sha[i], "... with its sha256");
        free(name);
    }
    tap_is_int(ev.upload_start, 3, "one LFS upload per pre-upload");
    /* The 3 MiB shard crossed the hub's 1 MiB multipart threshold: its parts went from memory. */
    char *logtext = NULL;
    size_t loglen = 0;
    hfs_read_file(&logtext, &loglen, access_log, 64 * MIB);
    char *part = hfs_sprintf("lfs-upload/%s?part=", sha[1]);
    int parts = 0;
    for (const char *p = logtext; p && (p = strstr(p, part)) != NULL; p++)
        parts++;
    tap_ok(parts >= 3, "the 3 MiB shard was sent in %d parts from memory", parts);
    free(part);
    free(logtext);

    /* regular content: a buffer and a file; and an LFS file from disk never pre-uploaded */
    hfs_commit_ops_add_buffer(ops, "README.md", text("# Shards\n"), 9, count_free);
    char *txt = hfs_path_join(dir, "notes.txt");
    hfs_write_file_atomic(txt, "notes\n", 6, 0644);
    hfs_commit_ops_add_file(ops, "docs/notes.txt", txt);
    char *bin = hfs_path_join(dir, "weights.bin");
    unsigned char *w = binary(200000, 9);
    char wsha[65];
    hfs_sha256_hex(wsha, w, 200000);
    hfs_write_file_atomic(bin, w, 200000, 0644);
    free(w);
    hfs_commit_ops_add_file(ops, "weights.bin", bin);
    tap_is_int(hfs_preupload_lfs(o, ops), 0, "pre-upload again: only what is new");
    hfs_commit_op_info info;
    hfs_commit_ops_get(&info, ops, 3);
    tap_ok(info.mode == HFS_UPLOAD_MODE_REGULAR && !info.uploaded && !info.released,
           "the regular buffer is classified but kept for the commit");
    tap_is_int(freed - base, 3, "... and not released yet");
    hfs_commit_ops_get(&info, ops, 5);
    tap_ok(info.mode == HFS_UPLOAD_MODE_LFS && info.uploaded, "the LFS file from disk is uploaded");

    hfs_commit_info ci;
    int rc = hfs_create_commit(&ci, o, ops, "Add shards", "generated in memory", NULL);
    if (!tap_is_int(rc, 0, "commit everything once"))
        tap_diag("%s", hfs_error_last());
    tap_ok(strlen(ci.commit_oid) == 40 && !ci.empty, "a commit was made: %s", ci.commit_oid);
    tap_ok(ci.commit_url && strstr(ci.commit_url, ci.commit_oid), "its URL names it");
    tap_is_int((long long)ci.n_lfs_uploaded, 0, "the commit call itself sent no LFS object");
    tap_is_int((long long)ci.n_inline, 2, "two regular files went inline");
    tap_is_int((long long)ci.inline_bytes, 15, "... 15 bytes");
    tap_is_int(freed - base, 4, "the regular buffer is released after the commit");
    tap_is_int(commits("main"), before_commits + 1, "exactly one commit was added");
    tap_is_int(ev.commit, 1, "one commit event");
    tap_ok(ev.preupload >= 1 && ev.commit_progress >= 1, "preupload and commit progress events");
    char *tip = head("main");
    tap_is_str(tip, ci.commit_oid, "main is at the new commit");
    free(tip);
    for (unsigned i = 0; i < 3; i++) {
        char *name = hfs_sprintf("data/shard-%u.bin", i);
        remote_file f = remote(name, "main");
        tap_ok(f.found && f.is_lfs && strcmp(f.sha256, sha[i]) == 0 && f.size == sizes[i],
               "%s is on main as LFS with its sha256 and size", name);
        free(name);
    }
    remote_file wf = remote("weights.bin", "main");
    tap_ok(wf.found && wf.is_lfs && strcmp(wf.sha256, wsha) == 0, "weights.bin is LFS on main");
    char *readme = download("README.md");
    tap_is_str(readme, "# Shards\n", "README.md holds the buffer's bytes");
    free(readme);
    char *notes = download("docs/notes.txt");
    tap_is_str(notes, "notes\n", "docs/notes.txt holds the file's bytes");
    free(notes);

    tap_is_int(hfs_commit_ops_add_buffer(ops, "late.txt", "x", 1, NULL), HFS_EINVALID,
               "committed operations take no more adds");
    tap_is_int(hfs_create_commit(NULL, o, ops, "again", NULL, NULL), HFS_EINVALID,
               "... and are not committed twice");
    hfs_commit_info_clear(&ci);
    hfs_commit_ops_free(ops);
    tap_is_int(freed - base, 4, "freeing the spent list releases nothing twice");
    free(txt);
    free(bin);
    o->event = NULL;
    o->event_ctx = NULL;
}

/* Deletes and copies: LFS copies reuse the object; regular ones are downloaded and inlined. */
static void test_delete_copy(hfs_commit_options *o)
{
    char *first = head("main");
    hfs_commit_ops *ops = hfs_commit_ops_new();
    hfs_commit_ops_copy(ops, "data/shard-0.bin", NULL, "copies/shard-0.bin");
    hfs_commit_ops_copy(ops, "README.md", first, "copies/README.md");
    hfs_commit_ops_delete_file(ops, "weights.bin");
    hfs_commit_ops_delete_folder(ops, "docs/");
    hfs_commit_info ci;
    int rc = hfs_create_commit(&ci, o, ops, "Copy and delete", NULL, first);
    if (!tap_is_int(rc, 0, "commit copies and deletes with parent_commit = the head"))
        tap_diag("%s", hfs_error_last());
    tap_is_int((long long)ci.n_lfs_uploaded, 0, "an LFS copy transfers nothing");
    tap_is_int((long long)ci.n_inline, 1, "the regular copy goes inline");
    remote_file src = remote("data/shard-0.bin", "main");
    remote_file dst = remote("copies/shard-0.bin", "main");
    tap_ok(dst.found && dst.is_lfs && strcmp(dst.sha256, src.sha256) == 0 && dst.size == src.size,
           "the LFS copy names the same object");
    char *copy = download("copies/README.md");
    tap_is_str(copy, "# Shards\n", "the regular copy has the source's bytes");
    free(copy);
    tap_ok(!remote("weights.bin", "main").found, "weights.bin is deleted");
    tap_ok(!remote("docs/notes.txt", "main").found, "the docs folder is deleted");
    hfs_commit_info_clear(&ci);
    hfs_commit_ops_free(ops);

    /* a copy onto the same content changes nothing: no commit */
    ops = hfs_commit_ops_new();
    hfs_commit_ops_copy(ops, "data/shard-0.bin", NULL, "copies/shard-0.bin");
    char *before = head("main");
    rc = hfs_create_commit(&ci, o, ops, "Copy again", NULL, NULL);
    tap_ok(rc == 0 && ci.empty, "copying onto the same content makes no commit");
    tap_is_str(ci.commit_oid, before, "... and answers with the head");
    hfs_commit_info_clear(&ci);
    hfs_commit_ops_free(ops);

    ops = hfs_commit_ops_new();
    hfs_commit_ops_copy(ops, "nope.bin", NULL, "x.bin");
    tap_is_int(hfs_create_commit(NULL, o, ops, "Copy missing", NULL, NULL), HFS_ENOTFOUND,
               "copying a missing file is HFS_ENOTFOUND");
    tap_ok(strstr(hfs_error_last(), "nope.bin") != NULL, "... naming it: %s", hfs_error_last());
    hfs_commit_ops_free(ops);
    ops = hfs_commit_ops_new();
    hfs_commit_ops_copy(ops, "data", NULL, "data2");
    tap_is_int(hfs_create_commit(NULL, o, ops, "Copy a folder", NULL, NULL), HFS_EINVALID,
               "copying a folder is HFS_EINVALID");
    hfs_commit_ops_free(ops);
    ops = hfs_commit_ops_new();
    hfs_commit_ops_delete_file(ops, "never-was.txt");
    tap_is_int(hfs_create_commit(NULL, o, ops, "Delete missing", NULL, NULL), HFS_ENOTFOUND,
               "deleting a missing file is HFS_ENOTFOUND (the hub's answer)");
    hfs_commit_ops_free(ops);
    char *after = head("main");
    tap_is_str(after, before, "no failed call moved main");
    free(after);
    free(before);
    free(first);
}

/* Content the hub has already is left out; all of it: no commit at all. */
static void test_noop_and_ignore(hfs_commit_options *o)
{
    char *before = head("main");
    int base = freed;
    hfs_commit_ops *ops = hfs_commit_ops_new();
    hfs_commit_ops_add_buffer(ops, "README.md", text("# Shards\n"), 9, count_free);
    hfs_commit_ops_add_buffer(ops, "data/shard-2.bin", binary(1, 2), 1, count_free);
    hfs_commit_info ci;
    int rc = hfs_create_commit(&ci, o, ops, "Nothing new", NULL, NULL);
    tap_ok(rc == 0 && ci.empty && ci.n_unchanged == 2, "unchanged content makes no commit");
    tap_is_str(ci.commit_oid, before, "... the answer is the head");
    tap_is_int(freed - base, 2, "... and both buffers are released");
    hfs_commit_info_clear(&ci);
    hfs_commit_ops_free(ops);

    /* the .gitignore added in the same commit decides what the hub ignores */
    base = freed;
    ops = hfs_commit_ops_new();
    hfs_commit_ops_add_buffer(ops, ".gitignore", text("*.log\n"), 6, count_free);
    hfs_commit_ops_add_buffer(ops, "run.log", text("noise\n"), 6, count_free);
    hfs_commit_ops_add_buffer(ops, "kept.txt", text("kept\n"), 5, count_free);
    tap_is_int(hfs_preupload_lfs(o, ops), 0, "pre-upload with a new .gitignore");
    hfs_commit_op_info info;
    hfs_commit_ops_get(&info, ops, 1);
    tap_ok(info.ignored && info.released, "run.log is ignored and released at once");
    tap_is_int(freed - base, 1, "... only that buffer");
    rc = hfs_create_commit(&ci, o, ops, "With a .gitignore", NULL, NULL);
    tap_ok(rc == 0 && !ci.empty && ci.n_ignored == 1 && ci.n_inline == 2,
           "the commit leaves the ignored file out");
    tap_ok(!remote("run.log", "main").found && remote("kept.txt", "main").found,
           "run.log is not on the hub, kept.txt is");
    hfs_commit_info_clear(&ci);
    hfs_commit_ops_free(ops);

    /* the .gitattributes added in the same commit decides what goes to LFS */
    static const char attrs[] = "*.jsonl filter=lfs diff=lfs merge=lfs -text\n";
    ops = hfs_commit_ops_new();
    hfs_commit_ops_add_buffer(ops, ".gitattributes", text(attrs), sizeof(attrs) - 1, count_free);
    hfs_commit_ops_add_buffer(ops, "events.jsonl", text("{\"a\": 1}\n"), 9, count_free);
    tap_is_int(hfs_preupload_lfs(o, ops), 0, "pre-upload with a new .gitattributes");
    hfs_commit_ops_get(&info, ops, 1);
    tap_ok(info.mode == HFS_UPLOAD_MODE_LFS, "the text file its rule covers goes to LFS");
    rc = hfs_create_commit(&ci, o, ops, "With a .gitattributes", NULL, NULL);
    tap_ok(rc == 0 && remote("events.jsonl", "main").is_lfs, "... and is an LFS file on the hub");
    hfs_commit_info_clear(&ci);
    hfs_commit_ops_free(ops);
    free(before);
}

static void test_pr_and_stale(hfs_commit_options *o, const char *dir)
{
    char *main_head = head("main");
    hfs_commit_ops *ops = hfs_commit_ops_new();
    hfs_commit_ops_add_buffer(ops, "data/shard-9.bin", binary(5000, 99), 5000, count_free);
    o->create_pr = true;
    hfs_commit_info ci;
    int rc = hfs_create_commit(&ci, o, ops, "Propose a shard", "for review", NULL);
    o->create_pr = false;
    if (!tap_is_int(rc, 0, "commit with create_pr"))
        tap_diag("%s", hfs_error_last());
    tap_ok(ci.pr_url && strstr(ci.pr_url, "/discussions/") && ci.pr_num > 0,
           "a pull request was opened: %s", ci.pr_url ? ci.pr_url : "(none)");
    char *ref = hfs_sprintf("refs/pr/%ld", ci.pr_num);
    tap_ok(remote("data/shard-9.bin", ref).found, "the shard is on %s", ref);
    tap_ok(!remote("data/shard-9.bin", "main").found, "... not on main");
    char *now = head("main");
    tap_is_str(now, main_head, "main did not move");
    free(now);
    free(ref);
    hfs_commit_info_clear(&ci);
    hfs_commit_ops_free(ops);

    ops = hfs_commit_ops_new();
    hfs_commit_ops_add_buffer(ops, "late.txt", text("late\n"), 5, count_free);
    tap_is_int(
        hfs_create_commit(NULL, o, ops, "Late", NULL, "0123456789abcdef0123456789abcdef01234567"),
        HFS_ESTALE, "a parent_commit that is not the head is HFS_ESTALE");
    tap_is_int(hfs_create_commit(NULL, o, ops, "Late", NULL, "not-hex"), HFS_EINVALID,
               "a parent_commit that is no oid is HFS_EINVALID");
    tap_is_int(hfs_create_commit(NULL, o, ops, "", NULL, NULL), HFS_EINVALID,
               "an empty summary is HFS_EINVALID");
    hfs_commit_ops_free(ops);

    /* a file that changes between its pre-upload and the commit */
    char *path = hfs_path_join(dir, "moving.txt");
    hfs_write_file_atomic(path, "first\n", 6, 0644);
    ops = hfs_commit_ops_new();
    hfs_commit_ops_add_file(ops, "moving.txt", path);
    tap_is_int(hfs_preupload_lfs(o, ops), 0, "pre-upload a text file");
    hfs_write_file_atomic(path, "other\n", 6, 0644);
    tap_is_int(hfs_create_commit(NULL, o, ops, "Moving", NULL, NULL), HFS_ESTALE,
               "it changed before the commit: HFS_ESTALE");
    tap_ok(strstr(hfs_error_last(), path) != NULL, "... naming the file: %s", hfs_error_last());
    tap_ok(!remote("moving.txt", "main").found, "... and nothing was committed");
    hfs_commit_ops_free(ops);
    free(path);

    volatile int stop = 1;
    o->cancel = &stop;
    ops = hfs_commit_ops_new();
    hfs_commit_ops_add_buffer(ops, "never.bin", binary(1000, 5), 1000, count_free);
    tap_is_int(hfs_create_commit(NULL, o, ops, "Cancelled", NULL, NULL), HFS_ERROR,
               "a cancelled commit stops with HFS_ERROR");
    tap_ok(strstr(hfs_error_last(), "interrupted") != NULL, "... interrupted");
    o->cancel = NULL;
    hfs_commit_ops_free(ops);
    now = head("main");
    tap_is_str(now, main_head, "main is where it was");
    free(now);
    free(main_head);
}

/* The endpoint and token come from HF_ENDPOINT and HF_TOKEN when the options leave them out,
 * as for the command line; an explicit token wins. */
static void test_resolution(const char *url)
{
    setenv("HF_ENDPOINT", url, 1);
    setenv("HF_TOKEN", TOKEN, 1);
    hfs_commit_options o = HFS_COMMIT_OPTIONS_INIT;
    o.repo_id = repo.id;
    o.repo_type = repo.type;
    hfs_commit_ops *ops = hfs_commit_ops_new();
    hfs_commit_ops_add_buffer(ops, "env.txt", text("env\n"), 4, count_free);
    int rc = hfs_create_commit(NULL, &o, ops, "From the environment", NULL, NULL);
    if (!tap_is_int(rc, 0, "HF_ENDPOINT and HF_TOKEN are used when the options name none"))
        tap_diag("%s", hfs_error_last());
    hfs_commit_ops_free(ops);

    o.token = "hf_notavalidtoken000000000";
    ops = hfs_commit_ops_new();
    hfs_commit_ops_add_buffer(ops, "env2.txt", text("env\n"), 4, count_free);
    tap_is_int(hfs_create_commit(NULL, &o, ops, "Bad token", NULL, NULL), HFS_EAUTH,
               "an explicit token wins over HF_TOKEN (a bad one is HFS_EAUTH)");
    hfs_commit_ops_free(ops);
    unsetenv("HF_ENDPOINT");
    unsetenv("HF_TOKEN");

    hfs_commit_options bad = HFS_COMMIT_OPTIONS_INIT;
    tap_is_int(hfs_preupload_lfs(&bad, NULL), HFS_EINVALID, "options without a repo_id");
    bad.repo_id = "no-namespace";
    tap_is_int(hfs_preupload_lfs(&bad, NULL), HFS_EINVALID, "a repo id without a namespace");
    bad.version = 99;
    tap_is_int(hfs_preupload_lfs(&bad, NULL), HFS_EINVALID, "an unknown options version");
}

int main(void)
{
    char root[] = "/tmp/hfsync-api-commit.XXXXXX";
    if (!mkdtemp(root)) {
        printf("Bail out! cannot make a temp dir\n");
        return 1;
    }
    char *hub_root = hfs_path_join(root, "hub");
    char *files = hfs_path_join(root, "files");
    char *home = hfs_path_join(root, "hf-home");
    hfs_mkdir_p(files);
    setenv("HF_HOME", home, 1); /* no token file of the machine's user is read */
    unsetenv("HF_TOKEN");
    unsetenv("HUGGING_FACE_HUB_TOKEN");
    unsetenv("HF_ENDPOINT");
    char *log = hfs_path_join(root, "access.log");
    access_log = log;
    const char *tokens[] = {TOKEN};
    hfs_hubd_options ho = HFS_HUBD_OPTIONS_INIT;
    ho.root = hub_root;
    ho.listen = "127.0.0.1:0";
    ho.tokens = tokens;
    ho.n_tokens = 1;
    ho.access_log = log;
    ho.threads = 4;
    ho.multipart_threshold = 1 * MIB;
    hfs_hubd *hubd = NULL;
    if (hfs_hubd_start(&hubd, &ho) < 0) {
        printf("Bail out! cannot start the local hub: %s\n", hfs_error_last());
        return 1;
    }
    hfs_hub_options ro = HFS_HUB_OPTIONS_INIT;
    ro.endpoint = hfs_hubd_url(hubd);
    ro.token = TOKEN;
    ro.max_attempts = 1;
    if (hfs_hub_new(&reader, &ro) < 0) {
        printf("Bail out! cannot open a hub session: %s\n", hfs_error_last());
        return 1;
    }

    hfs_commit_options o = HFS_COMMIT_OPTIONS_INIT;
    o.repo_id = repo.id;
    o.repo_type = repo.type;
    o.endpoint = hfs_hubd_url(hubd);
    o.token = TOKEN;
    char *url = NULL;
    tap_is_int(hfs_create_repo(&url, &o, false, false), 0, "create the dataset repo");
    tap_ok(url && strstr(url, "datasets/tester/shards"), "its URL: %s", url ? url : "(none)");
    free(url);
    tap_is_int(hfs_create_repo(NULL, &o, false, false), HFS_EEXISTS,
               "creating it again is HFS_EEXISTS");
    tap_is_int(hfs_create_repo(NULL, &o, false, true), 0, "... and fine with exist_ok");

    test_builder(files);
    test_shards(&o, files);
    test_delete_copy(&o);
    test_noop_and_ignore(&o);
    test_pr_and_stale(&o, files);
    test_resolution(hfs_hubd_url(hubd));

    hfs_hub_free(reader);
    hfs_hubd_stop(hubd);
    char *cmd = hfs_sprintf("rm -rf '%s'", root);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", root);
    free(cmd);
    free(log);
    free(home);
    free(files);
    free(hub_root);
    return tap_done();
}
