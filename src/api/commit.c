/* hfs_create_commit: the caller's operations as one commit — the pre-upload of what is new,
 * copies resolved on the hub, no-ops dropped, then the NDJSON body streamed as it is sent. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "common/lfsrules.h"
#include "common/error.h"
#include "common/util.h"

/* Raw bytes encoded per step: a multiple of 3, so every chunk but the last encodes to base64
 * without padding and the chunks simply concatenate. */
#define RAW_CHUNK (3u * 16384u)
#define B64_CHUNK (4u * 16384u)

bool api_op_unchanged(const api_op *op)
{
    if (op->kind != HFS_COMMIT_ADD || !op->remote_oid || !op->hashed)
        return false;
    const char *local = op->mode == HFS_UPLOAD_MODE_LFS ? op->sha256 : op->sha1;
    return strcmp(local, op->remote_oid) == 0;
}

/* ---- copies ------------------------------------------------------------------------------ */

/* What the hub says about a copy's source (and its destination). */
typedef struct {
    bool found, is_dir, is_lfs;
    char oid[HFS_SHA1_HEX]; /* the source's blob oid */
    char sha256[HFS_SHA256_HEX];
    uint64_t size;
    char dst_oid[HFS_SHA1_HEX]; /* the destination's blob oid now; "" when there is none */
    bool skip;                  /* the destination already holds that content */
    int fd;                     /* a regular source, downloaded; else -1 */
} copy_state;

typedef struct {
    const hfs_commit_ops *ops;
    copy_state *copies;
    const char *revision; /* the source revision looked up (NULL: destinations) */
    const char *target;   /* the revision committed to */
} copy_walk;

static const char *src_revision_of(const api_op *op, const char *target)
{
    return op->src_revision ? op->src_revision : target;
}

static int on_copy_entries(void *ctx, const hfs_hub_entry *entries, size_t n)
{
    copy_walk *w = ctx;
    for (size_t e = 0; e < n; e++) {
        for (size_t i = 0; i < w->ops->n; i++) {
            const api_op *op = &w->ops->ops[i];
            if (op->kind != HFS_COMMIT_COPY)
                continue;
            copy_state *c = &w->copies[i];
            if (!w->revision) {
                if (entries[e].type == HFS_HUB_ENTRY_FILE && strcmp(op->path, entries[e].path) == 0)
                    snprintf(c->dst_oid, sizeof(c->dst_oid), "%s", entries[e].oid);
                continue;
            }
            if (strcmp(src_revision_of(op, w->target), w->revision) != 0 ||
                strcmp(op->src_path, entries[e].path) != 0)
                continue;
            c->found = true;
            c->is_dir = entries[e].type == HFS_HUB_ENTRY_DIR;
            c->is_lfs = entries[e].is_lfs;
            c->size = entries[e].size;
            snprintf(c->oid, sizeof(c->oid), "%s", entries[e].oid);
            snprintf(c->sha256, sizeof(c->sha256), "%s", entries[e].lfs_sha256);
        }
    }
    return 0;
}

/* paths-info for every source at its revision (one request per revision), and for the
 * destinations at the revision committed to. */
static int look_up_copies(api_call *call, const hfs_commit_ops *ops, copy_state *copies)
{
    const char **paths = hfs_calloc(ops->n ? ops->n : 1, sizeof(*paths));
    bool *done = hfs_calloc(ops->n ? ops->n : 1, sizeof(*done));
    int rc = 0;
    for (size_t i = 0; i < ops->n && rc == 0; i++) {
        const api_op *op = &ops->ops[i];
        if (op->kind != HFS_COMMIT_COPY || done[i])
            continue;
        const char *rev = src_revision_of(op, call->revision);
        size_t n = 0;
        for (size_t j = i; j < ops->n; j++) {
            const api_op *o = &ops->ops[j];
            if (o->kind == HFS_COMMIT_COPY && !done[j] &&
                strcmp(src_revision_of(o, call->revision), rev) == 0) {
                paths[n++] = o->src_path;
                done[j] = true;
            }
        }
        copy_walk w = {ops, copies, rev, call->revision};
        rc = hfs_hub_paths_info(call->hub, &call->repo, rev, paths, n, on_copy_entries, &w);
    }
    size_t n = 0;
    for (size_t i = 0; i < ops->n; i++)
        if (ops->ops[i].kind == HFS_COMMIT_COPY)
            paths[n++] = ops->ops[i].path;
    if (rc == 0 && n > 0) {
        copy_walk w = {ops, copies, NULL, call->revision};
        rc = hfs_hub_paths_info(call->hub, &call->repo, call->revision, paths, n, on_copy_entries,
                                &w);
    }
    free(done);
    free(paths);
    return rc;
}

/* A regular file the commit copies: downloaded into an unlinked temp file, to be inlined
 * from there (it is at most 10 MiB, but still never held in memory). */
static int download_copy(api_call *call, const api_op *op, copy_state *c)
{
    const char *dir = getenv("TMPDIR");
    char *tmpl = hfs_sprintf("%s/hfsync-copy-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(tmpl);
    int rc = 0;
    if (fd < 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot create a temp file (%s) to copy %s: %s", tmpl,
                           op->src_path, strerror(errno));
        goto done;
    }
    unlink(tmpl);
    const char *rev = src_revision_of(op, call->revision);
    /* a copied regular file is at most what the hub keeps out of LFS (10 MiB) */
    rc = hfs_hub_download_fd(call->hub, &call->repo, rev, op->src_path, fd,
                             HFS_REGULAR_MAX_BYTES);
    struct stat st;
    if (rc == 0 && fstat(fd, &st) != 0)
        rc = hfs_error_set(HFS_ERROR, "cannot stat the downloaded copy of %s: %s", op->src_path,
                           strerror(errno));
    if (rc < 0) {
        close(fd);
        goto done;
    }
    c->fd = fd;
    c->size = (uint64_t)st.st_size;
done:
    free(tmpl);
    return rc;
}

static int resolve_copies(api_call *call, const hfs_commit_ops *ops, copy_state *copies)
{
    bool any = false;
    for (size_t i = 0; i < ops->n; i++)
        any |= ops->ops[i].kind == HFS_COMMIT_COPY;
    if (!any)
        return 0;
    int rc = look_up_copies(call, ops, copies);
    for (size_t i = 0; i < ops->n && rc == 0; i++) {
        const api_op *op = &ops->ops[i];
        copy_state *c = &copies[i];
        if (op->kind != HFS_COMMIT_COPY)
            continue;
        const char *rev = src_revision_of(op, call->revision);
        if (!c->found)
            return hfs_error_set(HFS_ENOTFOUND,
                                 "cannot copy %s to %s: %s has no file %s at %s; nothing was "
                                 "committed",
                                 op->src_path, op->path, call->opts->repo_id, op->src_path, rev);
        if (c->is_dir)
            return hfs_error_set(HFS_EINVALID,
                                 "cannot copy %s to %s: %s is a folder at %s, and only files can "
                                 "be copied (one copy per file)",
                                 op->src_path, op->path, op->src_path, rev);
        if (c->is_lfs && !c->sha256[0])
            return hfs_error_set(HFS_ERROR,
                                 "cannot copy %s: the hub says it is an LFS file at %s but "
                                 "gives no sha256 for it",
                                 op->src_path, rev);
        /* The destination has that very blob already: copying changes nothing. */
        c->skip = c->dst_oid[0] && strcmp(c->dst_oid, c->oid) == 0;
        if (!c->skip && !c->is_lfs)
            rc = download_copy(call, op, c);
    }
    return rc;
}

/* ---- the NDJSON body -------------------------------------------------------------------- */

typedef enum { AT_HEADER, AT_ENTRY, IN_CONTENT, AT_END } stage;

typedef struct {
    api_call *call;
    const hfs_commit_ops *ops;
    const copy_state *copies;
    const bool *keep; /* which operations have a line */
    const char *summary, *description, *parent;
    stage at;
    size_t next; /* the operation to write next */
    hfs_buf out; /* bytes produced, not yet handed over */
    size_t out_pos;
    /* the content being inlined */
    const api_op *cur;
    const void *mem; /* from a buffer */
    int fd;          /* from a file or a downloaded copy */
    bool own_fd;
    const char *what; /* for messages */
    uint64_t size, pos;
    hfs_hasher *hasher; /* a file: its git sha1, checked against the pre-upload's */
    uint64_t inline_done, inline_total;
    bool failed;
    double started;
    unsigned char *raw, *b64;
} body;

/* A JSON line {"key": key, "value": value}, appended to b (steals value). */
static void put_line(hfs_buf *b, const char *key, json_t *value)
{
    json_t *line = json_pack("{s:s,s:o}", "key", key, "value", value);
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    json_decref(line);
    if (!text)
        abort(); /* every string was checked to be UTF-8: jansson fails only without memory */
    hfs_buf_puts(b, text);
    hfs_buf_putc(b, '\n');
    free(text);
}

/* A JSON string literal (quotes and escapes included), appended to b. */
static void put_json_string(hfs_buf *b, const char *s)
{
    json_t *j = json_string(s);
    char *text = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        abort();
    hfs_buf_puts(b, text);
    free(text);
}

static bool is_inline(const api_op *op, const copy_state *c)
{
    return op->kind == HFS_COMMIT_ADD ? op->mode == HFS_UPLOAD_MODE_REGULAR
                                      : op->kind == HFS_COMMIT_COPY && !c->is_lfs;
}

static uint64_t content_size(const api_op *op, const copy_state *c)
{
    return op->kind == HFS_COMMIT_COPY ? c->size : op->size;
}

static void close_content(body *b)
{
    if (b->own_fd && b->fd >= 0)
        close(b->fd);
    b->fd = -1;
    b->own_fd = false;
    b->mem = NULL;
    hfs_hasher_free(b->hasher);
    b->hasher = NULL;
    b->cur = NULL;
}

static int body_fail(body *b, int rc)
{
    b->failed = true;
    return rc;
}

/* Opens the content of an inline file and writes the start of its `file` line. */
static int begin_content(body *b, const api_op *op, const copy_state *c)
{
    b->cur = op;
    b->pos = 0;
    b->size = content_size(op, c);
    if (op->kind == HFS_COMMIT_COPY) {
        b->fd = c->fd;
        b->what = op->src_path;
    } else if (op->from_buffer) {
        b->mem = op->data;
        b->what = op->path;
    } else {
        b->fd = open(op->local_path, O_RDONLY | O_CLOEXEC);
        if (b->fd < 0)
            return body_fail(b, hfs_error_set(errno == ENOENT ? HFS_ESTALE : HFS_ERROR,
                                              "cannot read %s to commit it as %s: %s",
                                              op->local_path, op->path, strerror(errno)));
        b->own_fd = true;
        b->what = op->local_path;
        b->hasher = hfs_hasher_new(false, true, op->size);
        posix_fadvise(b->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    hfs_buf_puts(&b->out, "{\"key\":\"file\",\"value\":{\"path\":");
    put_json_string(&b->out, op->path);
    hfs_buf_puts(&b->out, ",\"encoding\":\"base64\",\"content\":\"");
    return 0;
}

static void report_progress(body *b)
{
    hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_COMMIT_PROGRESS,
                          .bytes_done = b->inline_done,
                          .bytes_total = b->inline_total,
                          .seconds = hfs_now() - b->started};
    api_emit(b->call, &ev);
}

/* Encodes the next chunk of the current content; at its end checks a file's hash and closes
 * the line. */
static int continue_content(body *b)
{
    uint64_t left = b->size - b->pos;
    size_t want = left < RAW_CHUNK ? (size_t)left : RAW_CHUNK;
    const unsigned char *chunk = b->raw;
    size_t got = 0;
    if (b->mem) {
        chunk = (const unsigned char *)b->mem + b->pos;
        got = want;
    }
    while (!b->mem && got < want) {
        ssize_t r = pread(b->fd, b->raw + got, want - got, (off_t)(b->pos + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return body_fail(b, hfs_error_set(HFS_ERROR, "cannot read %s to commit it: %s", b->what,
                                              strerror(errno)));
        if (r == 0)
            return body_fail(b, hfs_error_set(HFS_ESTALE,
                                              "%s became shorter since it was hashed (%" PRIu64
                                              " bytes, it had %" PRIu64
                                              "): nothing was committed; add it again",
                                              b->what, b->pos + got, b->size));
        got += (size_t)r;
    }
    if (got) {
        if (b->hasher)
            hfs_hasher_update(b->hasher, chunk, got);
        int n = EVP_EncodeBlock(b->b64, chunk, (int)got);
        hfs_buf_add(&b->out, b->b64, (size_t)n);
        b->pos += got;
        b->inline_done += got;
        report_progress(b);
    }
    if (b->pos < b->size)
        return 0;
    if (b->hasher) {
        char sha1[HFS_SHA1_HEX];
        hfs_hasher_final(b->hasher, NULL, sha1);
        if (strcmp(sha1, b->cur->sha1) != 0)
            return body_fail(b, hfs_error_set(HFS_ESTALE,
                                              "%s changed since it was hashed (its git sha1 is "
                                              "now %s, it was %s): nothing was committed; add "
                                              "it again",
                                              b->what, sha1, b->cur->sha1));
    }
    hfs_buf_puts(&b->out, "\"}}\n");
    close_content(b);
    b->at = AT_ENTRY;
    return 0;
}

static void write_header(body *b)
{
    json_t *value = json_object();
    json_object_set_new(value, "summary", json_string(b->summary));
    json_object_set_new(value, "description", json_string(b->description ? b->description : ""));
    if (b->parent && *b->parent)
        json_object_set_new(value, "parentCommit", json_string(b->parent));
    put_line(&b->out, "header", value);
}

/* Writes the next operation's line (or starts its content). */
static int write_entry(body *b)
{
    while (b->next < b->ops->n && !b->keep[b->next])
        b->next++;
    if (b->next >= b->ops->n) {
        b->at = AT_END;
        return 0;
    }
    size_t i = b->next++;
    const api_op *op = &b->ops->ops[i];
    const copy_state *c = &b->copies[i];
    if (op->kind == HFS_COMMIT_DELETE_FILE) {
        put_line(&b->out, "deletedFile", json_pack("{s:s}", "path", op->path));
    } else if (op->kind == HFS_COMMIT_DELETE_FOLDER) {
        /* A trailing '/' says "folder" to hubs that only know deletedFile, too. */
        char *folder = hfs_sprintf("%s/", op->path);
        put_line(&b->out, "deletedFolder", json_pack("{s:s}", "path", folder));
        free(folder);
    } else if (!is_inline(op, c)) {
        /* An LFS add names the object it uploaded; an LFS copy the source's object. */
        bool copy = op->kind == HFS_COMMIT_COPY;
        put_line(&b->out, "lfsFile",
                 json_pack("{s:s,s:s,s:s,s:I}", "path", op->path, "algo", "sha256", "oid",
                           copy ? c->sha256 : op->sha256, "size",
                           (json_int_t)(copy ? c->size : op->size)));
    } else {
        b->at = IN_CONTENT;
        return begin_content(b, op, c);
    }
    return 0;
}

static ssize_t body_read(void *ctx, char *buf, size_t len)
{
    body *b = ctx;
    if (b->failed)
        return -1;
    while (b->out_pos >= b->out.len) {
        hfs_buf_clear(&b->out);
        b->out_pos = 0;
        int rc = 0;
        switch (b->at) {
        case AT_HEADER:
            write_header(b);
            b->at = AT_ENTRY;
            break;
        case AT_ENTRY:
            rc = write_entry(b);
            break;
        case IN_CONTENT:
            rc = continue_content(b);
            break;
        case AT_END:
            return 0;
        }
        if (rc < 0)
            return body_fail(b, -1);
    }
    size_t n = b->out.len - b->out_pos;
    if (n > len)
        n = len;
    memcpy(buf, b->out.ptr + b->out_pos, n);
    b->out_pos += n;
    return (ssize_t)n;
}

static int body_rewind(void *ctx)
{
    body *b = ctx;
    if (b->failed)
        return hfs_error_last_code() ? hfs_error_last_code() : HFS_ERROR;
    close_content(b);
    hfs_buf_clear(&b->out);
    b->out_pos = 0;
    b->at = AT_HEADER;
    b->next = 0;
    b->inline_done = 0;
    return 0;
}

/* ---- the commit ------------------------------------------------------------------------- */

static int check_text(const char *what, const char *text, bool required)
{
    if (!text || !*text)
        return required ? hfs_error_set(HFS_EINVALID,
                                        "commit: the %s is required: the hub refuses a commit "
                                        "without a title",
                                        what)
                        : 0;
    if (!hfs_utf8_valid(text, strlen(text)))
        return hfs_error_set(HFS_EINVALID, "commit: the %s is not valid UTF-8", what);
    return 0;
}

static int check_parent(const char *parent)
{
    size_t len = parent ? strlen(parent) : 0;
    if (!parent || (len >= 5 && len <= 40 && hfs_is_hex(parent, len)))
        return 0;
    return hfs_error_set(HFS_EINVALID,
                         "commit: parent_commit \"%s\" is not a commit oid (5 to 40 hex digits)",
                         parent);
}

/* Could the commit have landed although the call failed? The hub may have made it and
 * then failed to answer. */
static bool may_have_landed(int rc, long status)
{
    if (rc == HFS_ENET || status == 0)
        return true;
    return status == 408 || status == 429 || status >= 500;
}

static void fill_url(hfs_commit_info *out, const api_call *call, const char *oid)
{
    out->commit_url = hfs_sprintf("%s/%s%s/commit/%s", hfs_hub_endpoint(call->hub),
                                  hfs_hub_type_prefix(call->repo.type), call->repo.id, oid);
}

/* Nothing to commit: like huggingface_hub, no empty commit; the answer is the head. */
static int no_commit(hfs_commit_info *out, api_call *call)
{
    hfs_hub_repo_info info = {0};
    int rc = hfs_hub_repo_head_get(&info, call->hub, &call->repo, call->revision);
    if (rc == 0 && !info.sha)
        rc = hfs_error_set(HFS_ERROR, "%s at %s: the hub gave no head commit", call->opts->repo_id,
                           call->revision);
    if (rc == 0) {
        snprintf(out->commit_oid, sizeof(out->commit_oid), "%s", info.sha);
        fill_url(out, call, out->commit_oid);
        out->empty = true;
        hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_WARNING,
                              .message = "nothing to commit: the hub has every file with this "
                                         "content already (or its .gitignore excludes it); no "
                                         "commit was made"};
        api_emit(call, &ev);
    }
    hfs_hub_repo_info_clear(&info);
    return rc;
}

static int post(hfs_commit_info *out, api_call *call, body *b, size_t n_files, size_t n_deleted)
{
    hfs_hub_body hb = {body_read, body_rewind, b, -1};
    hfs_hub_commit_result res = {0};
    int rc =
        hfs_hub_commit(&res, call->hub, &call->repo, call->revision, &hb, call->opts->create_pr);
    if (rc < 0) {
        long status = hfs_hub_last_status();
        if (!b->failed && rc != HFS_ESTALE && may_have_landed(rc, status)) {
            char *why = hfs_strdup(hfs_error_last());
            rc = hfs_error_set(rc,
                               "%s; the commit may have landed anyway: look at %s@%s before "
                               "committing again",
                               why, call->opts->repo_id, call->revision);
            free(why);
        }
        goto done;
    }
    memcpy(out->commit_oid, res.commit_oid, sizeof(out->commit_oid));
    if (res.commit_url)
        out->commit_url = hfs_strdup(res.commit_url);
    else
        fill_url(out, call, res.commit_oid);
    out->pr_url = res.pull_request_url ? hfs_strdup(res.pull_request_url) : NULL;
    out->pr_num = res.pr_num;
    out->inline_bytes = b->inline_total;
    hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_COMMIT,
                          .commit_oid = out->commit_oid,
                          .url = out->commit_url,
                          .pr_url = out->pr_url,
                          .step = 1,
                          .steps = 1,
                          .files_total = n_files,
                          .n_deleted = n_deleted};
    api_emit(call, &ev);
done:
    hfs_hub_commit_result_clear(&res);
    return rc;
}

int hfs_create_commit(hfs_commit_info *out, const hfs_commit_options *opts, hfs_commit_ops *ops,
                      const char *summary, const char *description, const char *parent_commit)
{
    hfs_commit_info local = {0};
    api_call call;
    copy_state *copies = NULL;
    bool *keep = NULL;
    body b = {0};
    b.fd = -1;
    if (!out)
        out = &local;
    memset(out, 0, sizeof(*out));

    int rc = api_call_begin(&call, opts);
    if (rc == 0 && !ops)
        rc = hfs_error_set(HFS_EINVALID, "commit: no operations list (NULL)");
    if (rc == 0 && ops->committed)
        rc = hfs_error_set(HFS_EINVALID,
                           "commit: these operations were committed already; build a new "
                           "hfs_commit_ops for the next commit");
    if (rc == 0)
        rc = check_text("summary", summary, true);
    if (rc == 0)
        rc = check_text("description", description, false);
    if (rc == 0)
        rc = check_parent(parent_commit);
    if (rc < 0)
        goto done;

    if ((rc = api_preupload(&call, ops)) < 0)
        goto done;
    out->n_lfs_uploaded = call.n_lfs_uploaded;
    out->lfs_bytes_uploaded = call.lfs_bytes_uploaded;
    copies = hfs_calloc(ops->n ? ops->n : 1, sizeof(*copies));
    for (size_t i = 0; i < ops->n; i++)
        copies[i].fd = -1;
    if ((rc = api_check_cancel(&call)) < 0 || (rc = resolve_copies(&call, ops, copies)) < 0)
        goto done;

    /* Which operations make a line: additions the hub ignores or already has, and copies
     * onto the same content, change nothing. */
    keep = hfs_calloc(ops->n ? ops->n : 1, sizeof(*keep));
    size_t lines = 0, n_files = 0, n_deleted = 0;
    for (size_t i = 0; i < ops->n; i++) {
        const api_op *op = &ops->ops[i];
        if (op->kind == HFS_COMMIT_ADD && op->ignored) {
            out->n_ignored++;
        } else if (api_op_unchanged(op)) {
            out->n_unchanged++;
        } else if (!(op->kind == HFS_COMMIT_COPY && copies[i].skip)) {
            keep[i] = true;
            lines++;
            if (op->kind == HFS_COMMIT_DELETE_FILE || op->kind == HFS_COMMIT_DELETE_FOLDER) {
                n_deleted++;
                continue;
            }
            n_files++;
            if (is_inline(op, &copies[i])) {
                out->n_inline++;
                b.inline_total += content_size(op, &copies[i]);
            }
        }
    }
    if ((rc = api_check_cancel(&call)) < 0)
        goto done;
    if (lines == 0) {
        rc = no_commit(out, &call);
    } else {
        b.call = &call;
        b.ops = ops;
        b.copies = copies;
        b.keep = keep;
        b.summary = summary;
        b.description = description;
        b.parent = parent_commit;
        b.out = (hfs_buf)HFS_BUF_INIT;
        b.started = hfs_now();
        b.raw = hfs_malloc(RAW_CHUNK);
        b.b64 = hfs_malloc(B64_CHUNK + 1);
        rc = post(out, &call, &b, n_files, n_deleted);
    }
    if (rc == 0) {
        /* Spent: the buffers of regular files went out in the body. */
        ops->committed = true;
        for (size_t i = 0; i < ops->n; i++)
            api_op_release(&ops->ops[i]);
    }
done:
    close_content(&b);
    hfs_buf_free(&b.out);
    free(b.raw);
    free(b.b64);
    for (size_t i = 0; copies && i < ops->n; i++)
        if (copies[i].fd >= 0)
            close(copies[i].fd);
    free(copies);
    free(keep);
    api_call_end(&call);
    if (rc < 0)
        hfs_commit_info_clear(out);
    hfs_commit_info_clear(&local);
    return rc;
}

void hfs_commit_info_clear(hfs_commit_info *info)
{
    if (!info)
        return;
    free(info->commit_url);
    free(info->pr_url);
    memset(info, 0, sizeof(*info));
}
