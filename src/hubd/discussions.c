/* The local hub's discussions and pull requests: their JSON files and events, number
 * allocation under a per-repo lock, and a PR's git side (commits, diff, squash-merge). */
#include "hubd/discussions.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/hash.h"
#include "common/util.h"
#include "hubd/repo_internal.h"

#define TITLE_MIN_CHARS 3
#define TITLE_MAX_CHARS 200
/* A merge retries this long while other commits keep moving the base branch. */
#define MERGE_RETRY_SECONDS 10.0
/* The diff of a PR stops growing past this (regular files alone may be 10 MiB each). */
#define DIFF_MAX_BYTES (8u * 1024 * 1024)
/* A PR lists at most this many of its commits as events. */
#define COMMIT_EVENTS_MAX 1000

static const char *kind_name(hfs_repo_kind kind)
{
    return kind == HFS_REPO_DATASET ? "dataset" : kind == HFS_REPO_SPACE ? "space" : "model";
}

static const char *kind_dir(hfs_repo_kind kind)
{
    return kind == HFS_REPO_DATASET ? "datasets" : kind == HFS_REPO_SPACE ? "spaces" : "models";
}

char *hubd_discussions_dir(const char *root, hfs_repo_kind kind, const char *id)
{
    /* lowercased like the repo's own path: ids are case-insensitive */
    char *dir = hfs_sprintf("%s/discussions/%s/%s", root, kind_dir(kind), id);
    for (char *p = dir + strlen(dir) - strlen(id); *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return dir;
}

/* ---- small pieces: time, ids, authors ------------------------------------------------ */

static void now_iso(char out[32])
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    repo_iso_time(out, tv.tv_sec, (int)(tv.tv_usec / 1000));
}

/* Event ids look like the hub's (MongoDB ObjectIds): 8 hex of time, 16 random. */
static void new_event_id(char out[25])
{
    unsigned char rnd[8];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        /* without an entropy source, uniqueness within the process is what matters */
        static atomic_ulong counter;
        uint64_t v = ((uint64_t)getpid() << 32) ^ (uint64_t)atomic_fetch_add(&counter, 1);
        memcpy(rnd, &v, sizeof(rnd));
    }
    int n = snprintf(out, 25, "%08x", (unsigned)time(NULL));
    for (size_t i = 0; i < sizeof(rnd); i++)
        n += snprintf(out + n, (size_t)(25 - n), "%02x", rnd[i]);
}

static json_t *author_json(const char *name)
{
    const char *n = name && *name ? name : "deleted";
    return json_pack("{s:s, s:s, s:s, s:s, s:b}", "name", n, "fullname", n, "avatarUrl", "", "type",
                     "user", "isPro", 0);
}

static json_t *event_new(const char *type, const char *author, json_t *data)
{
    char id[25], when[32];
    new_event_id(id);
    now_iso(when);
    return json_pack("{s:s, s:s, s:s, s:o, s:o}", "id", id, "type", type, "createdAt", when,
                     "author", author_json(author), "data", data);
}

static json_t *comment_event(const char *author, const char *text)
{
    char when[32];
    now_iso(when);
    json_t *latest = json_pack("{s:s, s:s, s:o}", "raw", text ? text : "", "updatedAt", when,
                               "author", author_json(author));
    json_t *data = json_pack("{s:b, s:b, s:i, s:o, s:[], s:[]}", "edited", 0, "hidden", 0,
                             "numEdits", 0, "latest", latest, "history", "reactions");
    return event_new("comment", author, data);
}

/* Trims a title and checks the hub's rules; *out is the trimmed copy. */
static int title_clean(char **out, const char *title)
{
    *out = NULL;
    if (!title)
        return hfs_error_set(HFS_EINVALID, "a discussion needs a \"title\" (a string)");
    while (isspace((unsigned char)*title))
        title++;
    size_t len = strlen(title);
    while (len > 0 && isspace((unsigned char)title[len - 1]))
        len--;
    if (!hfs_utf8_valid(title, len))
        return hfs_error_set(HFS_EINVALID, "the title is not valid UTF-8");
    size_t chars = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)title[i];
        if (c < 0x20 || c == 0x7f)
            return hfs_error_set(HFS_EINVALID,
                                 "the title must be one line of text (it has a control "
                                 "character at byte %zu)",
                                 i);
        if ((c & 0xc0) != 0x80)
            chars++;
    }
    if (chars < TITLE_MIN_CHARS || chars > TITLE_MAX_CHARS)
        return hfs_error_set(HFS_EINVALID,
                             "the title must be %d to %d characters long (after trimming "
                             "spaces), got %zu",
                             TITLE_MIN_CHARS, TITLE_MAX_CHARS, chars);
    *out = hfs_strndup(title, len);
    return 0;
}

static bool text_blank(const char *s)
{
    for (; s && *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

/* ---- the per-repo lock and the files ------------------------------------------------- */

typedef struct {
    char *dir;
    int fd;
} disc_lock;
#define DISC_LOCK_INIT                                                                             \
    {                                                                                              \
        NULL, -1                                                                                   \
    }

/* Takes the repo's discussion lock (creating its directory). Threads of one process
 * exclude each other too: each flock is on its own open file description. */
static int lock_take(disc_lock *l, hubd_repos *repos, hfs_repo_kind kind, const char *id)
{
    l->dir = hubd_discussions_dir(repos->root, kind, id);
    l->fd = -1;
    int rc = hfs_mkdir_p(l->dir);
    if (rc < 0)
        return rc;
    char *path = hfs_path_join(l->dir, ".lock");
    l->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (l->fd < 0)
        rc = hfs_error_set(HFS_ERROR, "cannot open the discussion lock %s: %s", path,
                           strerror(errno));
    while (rc == 0 && flock(l->fd, LOCK_EX) != 0) {
        if (errno != EINTR)
            rc = hfs_error_set(HFS_ERROR, "cannot lock %s: %s", path, strerror(errno));
    }
    free(path);
    return rc;
}

static void lock_release(disc_lock *l)
{
    if (l->fd >= 0)
        close(l->fd); /* closing drops the flock */
    l->fd = -1;
    free(l->dir);
    l->dir = NULL;
}

static char *record_path(const char *dir, int num)
{
    return hfs_sprintf("%s/%d.json", dir, num);
}

/* A record written by an older hub (title, description, ref, baseRef, repo; no events)
 * gets its description as the first comment, with an id derived from the record so that
 * it stays the same until the record is next saved. */
static void record_upgrade(json_t *rec, const char *id)
{
    if (json_is_array(json_object_get(rec, "events")))
        return;
    const char *desc = json_string_value(json_object_get(rec, "description"));
    const char *author = json_string_value(json_object_get(rec, "author"));
    const char *created = json_string_value(json_object_get(rec, "createdAt"));
    json_t *ev = comment_event(author, desc ? desc : "");
    char *seed =
        hfs_sprintf("%s#%lld@%s", id, (long long)json_integer_value(json_object_get(rec, "num")),
                    created ? created : "");
    char hex[65];
    hfs_sha256_hex(hex, seed, strlen(seed));
    hex[24] = '\0';
    free(seed);
    json_object_set_new(ev, "id", json_string(hex));
    if (created)
        json_object_set_new(ev, "createdAt", json_string(created));
    json_object_set_new(rec, "events", json_pack("[o]", ev));
    json_object_del(rec, "description");
    json_object_del(rec, "ref");
    json_object_del(rec, "repo");
}

static int record_load(json_t **out, const char *dir, int num, hfs_repo_kind kind, const char *id)
{
    *out = NULL;
    char *path = record_path(dir, num);
    int rc = 0;
    if (access(path, F_OK) != 0) {
        rc = hfs_error_set(HFS_ENOTFOUND, "Discussion #%d not found in %s repo %s", num,
                           kind_name(kind), id);
        goto done;
    }
    json_error_t err;
    json_t *rec = json_load_file(path, 0, &err);
    if (!json_is_object(rec) || !json_is_string(json_object_get(rec, "title")) ||
        !json_is_string(json_object_get(rec, "status"))) {
        json_decref(rec);
        rc = hfs_error_set(HFS_ERROR, "discussion #%d of %s is unreadable (%s: %s)", num, id, path,
                           rec ? "no title or status" : err.text);
        goto done;
    }
    record_upgrade(rec, id);
    *out = rec;
done:
    free(path);
    return rc;
}

static int record_save(const char *dir, int num, json_t *rec)
{
    char *path = record_path(dir, num);
    char *text = json_dumps(rec, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    int rc = text ? hfs_write_file_atomic(path, text, strlen(text), 0644)
                  : hfs_error_set(HFS_ERROR, "cannot encode discussion #%d (%s)", num, path);
    free(text);
    free(path);
    return rc;
}

/* N of "N.json"; 0 for any other name. */
static int file_number(const char *name)
{
    char *end;
    if (!isdigit((unsigned char)name[0]) || name[0] == '0')
        return 0;
    long n = strtol(name, &end, 10);
    return strcmp(end, ".json") == 0 && n > 0 && n < 1000000000 ? (int)n : 0;
}

/* The next free number (under the lock): past every recorded discussion and every
 * refs/pr/N, so numbers stay shared even with refs that have no record. */
static int next_number(int *out, git_repository *repo, const char *dir, const char *id)
{
    long max = 0;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            int n = file_number(de->d_name);
            if (n > max)
                max = n;
        }
        closedir(d);
    }
    git_reference_iterator *it = NULL;
    if (git_reference_iterator_glob_new(&it, repo, "refs/pr/*") < 0)
        return repo_git_fail(HFS_ERROR, "cannot list the pull requests of %s", id);
    const char *name;
    while (git_reference_next_name(&name, it) == 0) {
        char *end;
        long n = strtol(name + 8, &end, 10);
        if (*end == '\0' && n > max)
            max = n;
    }
    git_reference_iterator_free(it);
    git_error_clear();
    if (max >= 999999999)
        return hfs_error_set(HFS_ELIMIT, "%s has no discussion numbers left", id);
    *out = (int)max + 1;
    return 0;
}

static json_t *record_new(int num, const hubd_discussion_new *d, const char *title,
                          const char *status, const git_oid *base)
{
    char when[32];
    now_iso(when);
    json_t *rec = json_pack("{s:i, s:s, s:s, s:s, s:s, s:b}", "num", num, "title", title, "author",
                            d->author ? d->author : "deleted", "createdAt", when, "status", status,
                            "isPullRequest", d->pull_request);
    if (d->pull_request) {
        char hex[GIT_OID_HEXSZ + 1];
        git_oid_tostr(hex, sizeof(hex), base);
        json_object_set_new(rec, "baseRef",
                            json_string(d->base_ref ? d->base_ref : "refs/heads/main"));
        json_object_set_new(rec, "baseOid", json_string(hex));
    }
    json_t *first = comment_event(d->author, d->description);
    if (!rec || !first) { /* not UTF-8 */
        json_decref(rec);
        json_decref(first);
        return NULL;
    }
    json_object_set_new(first, "createdAt", json_string(when));
    json_object_set_new(rec, "events", json_pack("[o]", first));
    return rec;
}

/* Allocates a number, creates refs/pr/N at `pr_at` for a PR, and writes the record, all
 * under the lock (the caller holds the repository open). */
static int create_locked(int *out, git_repository *repo, hubd_repos *repos, hfs_repo_kind kind,
                         const char *id, const hubd_discussion_new *d, const char *status,
                         const git_oid *pr_at, const git_oid *base)
{
    disc_lock l = DISC_LOCK_INIT;
    char *title = NULL;
    json_t *rec = NULL;
    git_reference *ref = NULL;
    int num = 0;
    int rc = title_clean(&title, d->title);
    if (rc < 0 || (rc = lock_take(&l, repos, kind, id)) < 0 ||
        (rc = next_number(&num, repo, l.dir, id)) < 0)
        goto done;
    rec = record_new(num, d, title, status, base);
    if (!rec) {
        rc = hfs_error_set(HFS_EINVALID, "the title or description is not valid UTF-8");
        goto done;
    }
    if (d->pull_request) {
        char name[32];
        snprintf(name, sizeof(name), "refs/pr/%d", num);
        if (git_reference_create(&ref, repo, name, pr_at, 0, "pull request") < 0) {
            rc = repo_git_fail(HFS_ERROR, "cannot create %s in %s", name, id);
            goto done;
        }
    }
    if ((rc = record_save(l.dir, num, rec)) < 0) {
        if (ref)
            git_reference_delete(ref); /* a ref without a record would hide the failure */
        goto done;
    }
    *out = num;
done:
    git_reference_free(ref);
    json_decref(rec);
    lock_release(&l);
    free(title);
    return rc;
}

/* A commit summary made into a title the hub accepts: one line, 3 to 200 characters. */
static char *title_fit(const char *summary)
{
    char *t = hfs_strdup(summary ? summary : ""), *clean = NULL;
    size_t chars = 0, len = 0;
    for (; t[len]; len++) {
        if ((unsigned char)t[len] < 0x20 || t[len] == 0x7f)
            t[len] = ' ';
        if (((unsigned char)t[len] & 0xc0) != 0x80 && ++chars > TITLE_MAX_CHARS)
            break;
    }
    t[len] = '\0';                    /* cut before the 201st character */
    if (title_clean(&clean, t) < 0) { /* too short */
        char *longer = hfs_sprintf("Pull request: %s", t);
        if (title_clean(&clean, longer) < 0)
            clean = hfs_strdup("Pull request");
        free(longer);
        hfs_error_clear();
    }
    free(t);
    return clean;
}

int hubd_discussion_open_pr(int *out, git_repository *repo, hubd_repos *repos, hfs_repo_kind kind,
                            const char *id, const hubd_discussion_new *d, const git_oid *head,
                            const git_oid *base)
{
    *out = 0;
    hubd_discussion_new pr = *d;
    char *title = title_fit(d->title);
    pr.pull_request = true;
    pr.title = title;
    int rc = create_locked(out, repo, repos, kind, id, &pr, "open", head, base);
    free(title);
    return rc;
}

int hubd_discussion_create(int *out, hubd_repos *repos, hfs_repo_kind kind, const char *id,
                           const hubd_discussion_new *d)
{
    *out = 0;
    repo_session s;
    git_oid base = {{0}};
    int rc = repo_session_open(&s, repos, kind, id);
    if (rc < 0)
        return rc;
    const char *base_ref = d->base_ref ? d->base_ref : "refs/heads/" HUBD_DEFAULT_BRANCH;
    if (d->pull_request && git_reference_name_to_id(&base, s.repo, base_ref) < 0) {
        git_error_clear();
        rc =
            hfs_error_set(HFS_ENOTFOUND, "Invalid rev id: %s (no such branch in %s)", base_ref, id);
        goto done;
    }
    hubd_discussion_new nd = *d;
    nd.base_ref = base_ref;
    rc = create_locked(out, s.repo, repos, kind, id, &nd,
                       d->pull_request && d->draft ? "draft" : "open", &base, &base);
done:
    repo_session_close(&s);
    return rc;
}

/* ---- a PR's git side ------------------------------------------------------------------ */

typedef struct {
    git_oid head;      /* refs/pr/N */
    git_oid base_head; /* the head of the branch it merges into */
    git_oid ancestor;  /* the merge base; the recorded start when the histories split */
    bool has_head, has_base, has_ancestor;
} pr_refs;

static void pr_refs_read(pr_refs *p, git_repository *repo, const json_t *rec, int num)
{
    memset(p, 0, sizeof(*p));
    char name[32];
    snprintf(name, sizeof(name), "refs/pr/%d", num);
    p->has_head = git_reference_name_to_id(&p->head, repo, name) == 0;
    const char *base_ref = json_string_value(json_object_get(rec, "baseRef"));
    p->has_base = base_ref && git_reference_name_to_id(&p->base_head, repo, base_ref) == 0;
    if (p->has_head && p->has_base)
        p->has_ancestor = git_merge_base(&p->ancestor, repo, &p->head, &p->base_head) == 0;
    /* A super-squashed base branch shares no history with the PR any more: the commit
     * the PR started from still tells what the PR itself changed. */
    const char *base_oid = json_string_value(json_object_get(rec, "baseOid"));
    git_commit *c = NULL;
    if (!p->has_ancestor && base_oid && git_oid_fromstr(&p->ancestor, base_oid) == 0 &&
        git_commit_lookup(&c, repo, &p->ancestor) == 0)
        p->has_ancestor = true;
    git_commit_free(c);
    git_error_clear();
}

/* The tree of a commit, or NULL (the empty tree) when there is none. */
static int tree_of(git_tree **out, git_repository *repo, const git_oid *commit_oid, bool has,
                   const char *what)
{
    git_commit *c = NULL;
    *out = NULL;
    if (!has)
        return 0;
    int rc = 0;
    if (git_commit_lookup(&c, repo, commit_oid) < 0 || git_commit_tree(out, c) < 0)
        rc = repo_git_fail(HFS_ERROR, "cannot read the tree of %s", what);
    git_commit_free(c);
    return rc;
}

static void strings_free(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

/* Both sides appending LFS tracking lines to .gitattributes is the usual case, not a real
 * conflict: such a conflict is resolved by keeping the lines of both (a union merge). */
static int resolve_gitattributes(git_index *index, git_repository *repo)
{
    const git_index_entry *anc = NULL, *ours = NULL, *theirs = NULL;
    if (git_index_conflict_get(&anc, &ours, &theirs, index, ".gitattributes") < 0 || !ours ||
        !theirs) {
        git_error_clear();
        return 1; /* not a both-modified conflict: it stays one */
    }
    git_merge_file_options fo;
    git_merge_file_options_init(&fo, GIT_MERGE_FILE_OPTIONS_VERSION);
    fo.favor = GIT_MERGE_FILE_FAVOR_UNION;
    git_merge_file_result res = {0};
    git_oid blob;
    int rc = 0;
    if (git_merge_file_from_index(&res, repo, anc, ours, theirs, &fo) < 0 ||
        git_blob_create_from_buffer(&blob, repo, res.ptr, res.len) < 0) {
        rc = repo_git_fail(HFS_ERROR, "cannot merge .gitattributes");
        goto done;
    }
    git_index_entry entry = *ours;
    GIT_INDEX_ENTRY_STAGE_SET(&entry, 0); /* the resolved file, no longer "ours" */
    entry.id = blob;
    entry.path = ".gitattributes";
    entry.file_size = (uint32_t)res.len;
    if (git_index_conflict_remove(index, ".gitattributes") < 0 || git_index_add(index, &entry) < 0)
        rc = repo_git_fail(HFS_ERROR, "cannot merge .gitattributes");
done:
    git_merge_file_result_free(&res);
    return rc;
}

/* The three-way merge of the PR into its base, as an index; the paths that conflict are
 * listed (and the index is then of no use). */
static int pr_merge_index(git_index **out, char ***conflicts, size_t *n_conflicts,
                          git_repository *repo, const pr_refs *p, const char *what)
{
    git_tree *anc = NULL, *ours = NULL, *theirs = NULL;
    git_index_conflict_iterator *it = NULL;
    char **paths = NULL;
    size_t n = 0, cap = 0;
    *out = NULL;
    *conflicts = NULL;
    *n_conflicts = 0;
    int rc;
    if ((rc = tree_of(&anc, repo, &p->ancestor, p->has_ancestor, what)) < 0 ||
        (rc = tree_of(&ours, repo, &p->base_head, true, what)) < 0 ||
        (rc = tree_of(&theirs, repo, &p->head, true, what)) < 0)
        goto done;
    git_merge_options mo;
    git_merge_options_init(&mo, GIT_MERGE_OPTIONS_VERSION);
    if (git_merge_trees(out, repo, anc, ours, theirs, &mo) < 0) {
        rc = repo_git_fail(HFS_ERROR, "cannot merge %s", what);
        goto done;
    }
    if (!git_index_has_conflicts(*out))
        goto done;
    if ((rc = resolve_gitattributes(*out, repo)) < 0)
        goto done;
    rc = 0;
    if (git_index_conflict_iterator_new(&it, *out) < 0) {
        rc = repo_git_fail(HFS_ERROR, "cannot list the conflicts of %s", what);
        goto done;
    }
    const git_index_entry *a, *o, *t;
    while (git_index_conflict_next(&a, &o, &t, it) == 0) {
        const char *path = o ? o->path : t ? t->path : a->path;
        HFS_PUSH(paths, n, cap, hfs_strdup(path));
    }
    git_error_clear();
    *conflicts = paths;
    *n_conflicts = n;
    paths = NULL;
    n = 0;
done:
    strings_free(paths, n);
    git_index_conflict_iterator_free(it);
    git_tree_free(anc);
    git_tree_free(ours);
    git_tree_free(theirs);
    if (rc < 0) {
        git_index_free(*out);
        *out = NULL;
    }
    return rc;
}

/* The PR's own commits (on refs/pr/N, not on its base), oldest first, as commit events. */
static int commit_events(json_t *events, git_repository *repo, const pr_refs *p, const char *what)
{
    git_revwalk *walk = NULL;
    git_oid oid;
    int rc = 0;
    if (!p->has_head)
        return 0;
    if (git_revwalk_new(&walk, repo) < 0 ||
        git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE) < 0 ||
        git_revwalk_push(walk, &p->head) < 0 ||
        (p->has_ancestor && git_revwalk_hide(walk, &p->ancestor) < 0) ||
        (p->has_base && git_revwalk_hide(walk, &p->base_head) < 0)) {
        rc = repo_git_fail(HFS_ERROR, "cannot walk the commits of %s", what);
        goto done;
    }
    for (size_t count = 0; count < COMMIT_EVENTS_MAX && git_revwalk_next(&oid, walk) == 0;
         count++) {
        git_commit *c = NULL;
        if (git_commit_lookup(&c, repo, &oid) < 0) {
            rc = repo_git_fail(HFS_ERROR, "cannot read a commit of %s", what);
            goto done;
        }
        char hex[GIT_OID_HEXSZ + 1], when[32];
        git_oid_tostr(hex, sizeof(hex), &oid);
        repo_iso_time(when, git_commit_time(c), 0);
        const git_signature *a = git_commit_author(c);
        const char *subject = git_commit_summary(c);
        json_t *ev =
            json_pack("{s:s#, s:s, s:s, s:o, s:{s:s, s:s}}", "id", hex, 24, "type", "commit",
                      "createdAt", when, "author", author_json(a ? a->name : NULL), "data",
                      "subject", subject ? subject : "", "oid", hex);
        git_commit_free(c);
        if (ev)
            json_array_append_new(events, ev);
    }
    git_error_clear();
done:
    git_revwalk_free(walk);
    return rc;
}

typedef struct {
    hfs_buf *out;
    bool cut;
} diff_sink;

static int diff_line(const git_diff_delta *delta, const git_diff_hunk *hunk,
                     const git_diff_line *line, void *payload)
{
    (void)delta, (void)hunk;
    diff_sink *s = payload;
    if (s->cut)
        return 0;
    if (s->out->len + line->content_len + 1 > DIFF_MAX_BYTES) {
        hfs_buf_printf(s->out, "\n[the diff is longer than %u MiB and was cut here]\n",
                       DIFF_MAX_BYTES >> 20);
        s->cut = true;
        return 0;
    }
    if (line->origin == GIT_DIFF_LINE_CONTEXT || line->origin == GIT_DIFF_LINE_ADDITION ||
        line->origin == GIT_DIFF_LINE_DELETION)
        hfs_buf_putc(s->out, line->origin);
    hfs_buf_add(s->out, line->content, line->content_len);
    return 0;
}

/* The unified diff of what the PR changes (from where it started to its head). */
static int pr_diff(char **out, git_repository *repo, const pr_refs *p, const char *what)
{
    git_tree *from = NULL, *to = NULL;
    git_diff *diff = NULL;
    hfs_buf b = HFS_BUF_INIT;
    diff_sink sink = {&b, false};
    int rc;
    *out = NULL;
    if ((rc = tree_of(&from, repo, &p->ancestor, p->has_ancestor, what)) < 0 ||
        (rc = tree_of(&to, repo, &p->head, p->has_head, what)) < 0)
        goto done;
    if (git_diff_tree_to_tree(&diff, repo, from, to, NULL) < 0 ||
        git_diff_print(diff, GIT_DIFF_FORMAT_PATCH, diff_line, &sink) < 0) {
        rc = repo_git_fail(HFS_ERROR, "cannot diff %s", what);
        goto done;
    }
    *out = hfs_buf_detach(&b);
done:
    hfs_buf_free(&b);
    git_diff_free(diff);
    git_tree_free(from);
    git_tree_free(to);
    return rc;
}

/* ---- reading ---------------------------------------------------------------------------- */

static int cmp_event_time(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    const char *tx = json_string_value(json_object_get(x, "createdAt"));
    const char *ty = json_string_value(json_object_get(y, "createdAt"));
    return strcmp(tx ? tx : "", ty ? ty : "");
}

/* Events in time order; stored events and commits of the same second keep their order
 * (a stable merge: stored ones are already in order, and so are commits). */
static json_t *events_sorted(json_t *stored, json_t *commits)
{
    size_t ns = json_array_size(stored), nc = json_array_size(commits), i = 0, k = 0;
    json_t *out = json_array();
    while (i < ns || k < nc) {
        json_t *s = i < ns ? json_array_get(stored, i) : NULL;
        json_t *c = k < nc ? json_array_get(commits, k) : NULL;
        if (s && (!c || cmp_event_time(&s, &c) <= 0)) {
            json_array_append(out, s);
            i++;
        } else {
            json_array_append(out, c);
            k++;
        }
    }
    return out;
}

/* The fields a list entry and the details share. */
static json_t *summary_json(const json_t *rec, hfs_repo_kind kind, const char *id)
{
    size_t comments = 0, i;
    json_t *ev;
    json_array_foreach(json_object_get(rec, "events"), i, ev)
    {
        const char *type = json_string_value(json_object_get(ev, "type"));
        if (type && strcmp(type, "comment") == 0)
            comments++;
    }
    return json_pack("{s:O, s:O, s:O, s:b, s:o, s:O, s:{s:s, s:s}, s:I, s:b, s:[]}", "num",
                     json_object_get(rec, "num"), "title", json_object_get(rec, "title"), "status",
                     json_object_get(rec, "status"), "isPullRequest",
                     json_is_true(json_object_get(rec, "isPullRequest")), "author",
                     author_json(json_string_value(json_object_get(rec, "author"))), "createdAt",
                     json_object_get(rec, "createdAt"), "repo", "name", id, "type", kind_name(kind),
                     "numComments", (json_int_t)comments, "pinned", 0, "topReactions");
}

int hubd_discussion_get(json_t **out, hubd_repos *repos, hfs_repo_kind kind, const char *id,
                        int num, bool with_diff)
{
    *out = NULL;
    repo_session s;
    json_t *rec = NULL, *body = NULL, *commits = json_array();
    char **conflicts = NULL;
    size_t n_conflicts = 0;
    git_index *index = NULL;
    char *dir = hubd_discussions_dir(repos->root, kind, id);
    char *what = hfs_sprintf("pull request #%d of %s", num, id);
    int rc = repo_session_open(&s, repos, kind, id);
    if (rc < 0 || (rc = record_load(&rec, dir, num, kind, id)) < 0)
        goto done;
    if (!(body = summary_json(rec, kind, id))) {
        rc = hfs_error_set(HFS_ERROR, "discussion #%d of %s is malformed (num or createdAt)", num,
                           id);
        goto done;
    }
    json_object_set_new(body, "locked", json_false());
    bool is_pr = json_is_true(json_object_get(rec, "isPullRequest"));
    if (is_pr) {
        pr_refs p;
        pr_refs_read(&p, s.repo, rec, num);
        if ((rc = commit_events(commits, s.repo, &p, what)) < 0)
            goto done;
        json_t *changes = json_pack("{s:O}", "base", json_object_get(rec, "baseRef"));
        json_t *merged = json_object_get(rec, "mergeCommitId");
        if (json_is_string(merged))
            json_object_set(changes, "mergeCommitId", merged);
        json_object_set_new(body, "changes", changes);
        /* only a PR that can still be merged has conflicts to show */
        const char *status = json_string_value(json_object_get(rec, "status"));
        json_t *files = json_array();
        if (p.has_head && p.has_base &&
            (strcmp(status, "open") == 0 || strcmp(status, "draft") == 0)) {
            if ((rc = pr_merge_index(&index, &conflicts, &n_conflicts, s.repo, &p, what)) < 0) {
                json_decref(files);
                goto done;
            }
            for (size_t i = 0; i < n_conflicts; i++)
                json_array_append_new(files, json_string(conflicts[i]));
        }
        json_object_set_new(body, "filesWithConflicts", files);
        if (with_diff) {
            char *diff = NULL;
            if ((rc = pr_diff(&diff, s.repo, &p, what)) < 0)
                goto done;
            json_t *d = json_string(diff);
            /* a diff of files that are not UTF-8 cannot travel in JSON as is */
            json_object_set_new(body, "diff",
                                d ? d : json_string("[the diff is not valid UTF-8 text]"));
            free(diff);
        }
    }
    json_object_set_new(body, "events", events_sorted(json_object_get(rec, "events"), commits));
    *out = body;
    body = NULL;
done:
    git_index_free(index);
    strings_free(conflicts, n_conflicts);
    json_decref(body);
    json_decref(commits);
    json_decref(rec);
    repo_session_close(&s);
    free(what);
    free(dir);
    return rc;
}

static bool filter_pass(const json_t *rec, const hubd_discussion_filter *f)
{
    bool is_pr = json_is_true(json_object_get(rec, "isPullRequest"));
    const char *status = json_string_value(json_object_get(rec, "status"));
    const char *author = json_string_value(json_object_get(rec, "author"));
    if (f->type && strcmp(f->type, "all") != 0 && (strcmp(f->type, "pull_request") == 0) != is_pr)
        return false;
    if (f->status && strcmp(f->status, "all") != 0) {
        /* "open" covers drafts and "closed" merged PRs, as the hub's filter does */
        bool open = strcmp(status, "open") == 0 || strcmp(status, "draft") == 0;
        bool closed = strcmp(status, "closed") == 0 || strcmp(status, "merged") == 0;
        if (strcmp(f->status, "open") == 0     ? !open
            : strcmp(f->status, "closed") == 0 ? !closed
                                               : strcmp(f->status, status) != 0)
            return false;
    }
    return !f->author || (author && strcmp(f->author, author) == 0);
}

static bool one_of(const char *v, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcmp(v, *allowed) == 0)
            return true;
    return false;
}

static int cmp_num_desc(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x < y) - (x > y);
}

int hubd_discussion_list(json_t **out, hubd_repos *repos, hfs_repo_kind kind, const char *id,
                         const hubd_discussion_filter *filter, size_t page)
{
    static const char *const types[] = {"all", "discussion", "pull_request", NULL};
    static const char *const statuses[] = {"all", "open", "closed", "merged", "draft", NULL};
    *out = NULL;
    if (filter->type && !one_of(filter->type, types))
        return hfs_error_set(HFS_EINVALID, "type '%s' is not one of all, discussion, pull_request",
                             filter->type);
    if (filter->status && !one_of(filter->status, statuses))
        return hfs_error_set(HFS_EINVALID,
                             "status '%s' is not one of all, open, closed, merged, draft",
                             filter->status);
    char *dir = hubd_discussions_dir(repos->root, kind, id);
    int *nums = NULL;
    size_t n = 0, cap = 0;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            int num = file_number(de->d_name);
            if (num > 0)
                HFS_PUSH(nums, n, cap, num);
        }
        closedir(d);
    }
    if (n > 1)
        qsort(nums, n, sizeof(int), cmp_num_desc);
    json_t *list = json_array();
    size_t count = 0, start = page * HUBD_DISCUSSIONS_PAGE;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *rec = NULL;
        rc = record_load(&rec, dir, nums[i], kind, id);
        if (rc == HFS_ENOTFOUND) { /* removed since the directory was read */
            rc = 0;
            continue;
        }
        if (rc < 0)
            break;
        if (filter_pass(rec, filter)) {
            if (count >= start && count < start + HUBD_DISCUSSIONS_PAGE)
                json_array_append_new(list, summary_json(rec, kind, id));
            count++;
        }
        json_decref(rec);
    }
    if (rc == 0)
        *out = json_pack("{s:I, s:I, s:o}", "count", (json_int_t)count, "start", (json_int_t)start,
                         "discussions", list);
    else
        json_decref(list);
    free(nums);
    free(dir);
    return rc;
}

/* ---- changing a discussion -------------------------------------------------------------- */

/* One change, done under the lock on a loaded record: it may edit the record and sets
 * *event to the event to answer with (a new reference). */
typedef int (*change_fn)(json_t *rec, json_t **event, void *ctx);

static int change(json_t **out, hubd_repos *repos, hfs_repo_kind kind, const char *id, int num,
                  change_fn fn, void *ctx)
{
    repo_session s;
    disc_lock l = DISC_LOCK_INIT;
    json_t *rec = NULL;
    *out = NULL;
    /* the repo first, then the lock: the order every path takes */
    int rc = repo_session_open(&s, repos, kind, id);
    if (rc < 0 || (rc = lock_take(&l, repos, kind, id)) < 0 ||
        (rc = record_load(&rec, l.dir, num, kind, id)) < 0 || (rc = fn(rec, out, ctx)) < 0 ||
        (rc = record_save(l.dir, num, rec)) < 0) {
        json_decref(*out);
        *out = NULL;
    }
    json_decref(rec);
    lock_release(&l);
    repo_session_close(&s);
    return rc;
}

static void events_add(json_t *rec, json_t *ev)
{
    json_array_append(json_object_get(rec, "events"), ev);
}

typedef struct {
    const char *author, *text, *comment_id, *status;
} change_args;

static int do_comment(json_t *rec, json_t **event, void *ctx)
{
    const change_args *a = ctx;
    if (text_blank(a->text))
        return hfs_error_set(HFS_EINVALID, "the comment is empty");
    json_t *ev = comment_event(a->author, a->text);
    if (!ev)
        return hfs_error_set(HFS_EINVALID, "the comment is not valid UTF-8");
    events_add(rec, ev);
    *event = ev;
    return 0;
}

int hubd_discussion_comment(json_t **out, hubd_repos *repos, hfs_repo_kind kind, const char *id,
                            int num, const char *author, const char *text)
{
    change_args a = {.author = author, .text = text};
    return change(out, repos, kind, id, num, do_comment, &a);
}

static int find_comment(json_t **out, json_t *rec, const char *comment_id, int num)
{
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(rec, "events"), i, ev)
    {
        const char *eid = json_string_value(json_object_get(ev, "id"));
        const char *type = json_string_value(json_object_get(ev, "type"));
        if (eid && type && strcmp(eid, comment_id) == 0 && strcmp(type, "comment") == 0) {
            *out = ev;
            return 0;
        }
    }
    return hfs_error_set(HFS_ENOTFOUND, "Comment %s not found in discussion #%d", comment_id, num);
}

static int do_edit(json_t *rec, json_t **event, void *ctx)
{
    const change_args *a = ctx;
    json_t *ev;
    int num = (int)json_integer_value(json_object_get(rec, "num"));
    int rc = find_comment(&ev, rec, a->comment_id, num);
    if (rc < 0)
        return rc;
    json_t *data = json_object_get(ev, "data");
    if (json_is_true(json_object_get(data, "hidden")))
        return hfs_error_set(HFS_EINVALID,
                             "comment %s of discussion #%d is hidden: it cannot "
                             "be edited any more",
                             a->comment_id, num);
    if (text_blank(a->text))
        return hfs_error_set(HFS_EINVALID, "the new content of comment %s is empty", a->comment_id);
    char when[32];
    now_iso(when);
    json_t *latest = json_pack("{s:s, s:s, s:o}", "raw", a->text, "updatedAt", when, "author",
                               author_json(a->author));
    if (!latest)
        return hfs_error_set(HFS_EINVALID, "the new content is not valid UTF-8");
    json_t *history = json_object_get(data, "history");
    if (!json_is_array(history)) {
        history = json_array();
        json_object_set_new(data, "history", history);
    }
    json_array_insert(history, 0, json_object_get(data, "latest"));
    json_object_set_new(data, "latest", latest);
    json_object_set_new(data, "edited", json_true());
    json_object_set_new(data, "numEdits", json_integer((json_int_t)json_array_size(history)));
    *event = json_incref(ev);
    return 0;
}

int hubd_discussion_edit_comment(json_t **out, hubd_repos *repos, hfs_repo_kind kind,
                                 const char *id, int num, const char *comment_id,
                                 const char *author, const char *text)
{
    change_args a = {.author = author, .text = text, .comment_id = comment_id};
    return change(out, repos, kind, id, num, do_edit, &a);
}

static int do_hide(json_t *rec, json_t **event, void *ctx)
{
    const change_args *a = ctx;
    json_t *ev;
    int num = (int)json_integer_value(json_object_get(rec, "num"));
    int rc = find_comment(&ev, rec, a->comment_id, num);
    if (rc < 0)
        return rc;
    json_t *data = json_object_get(ev, "data");
    json_t *latest = json_object_get(data, "latest");
    char when[32];
    now_iso(when);
    json_object_set_new(data, "hidden", json_true());
    json_object_set_new(data, "hiddenBy", json_string(a->author ? a->author : "deleted"));
    json_object_set_new(latest, "raw", json_string(""));
    json_object_set_new(latest, "updatedAt", json_string(when));
    json_object_set_new(data, "history", json_array());
    *event = json_incref(ev);
    return 0;
}

int hubd_discussion_hide_comment(json_t **out, hubd_repos *repos, hfs_repo_kind kind,
                                 const char *id, int num, const char *comment_id,
                                 const char *author)
{
    change_args a = {.author = author, .comment_id = comment_id};
    return change(out, repos, kind, id, num, do_hide, &a);
}

static int do_rename(json_t *rec, json_t **event, void *ctx)
{
    const change_args *a = ctx;
    char *title = NULL;
    int rc = title_clean(&title, a->text);
    if (rc < 0)
        return rc;
    json_t *ev =
        event_new("title-change", a->author,
                  json_pack("{s:O, s:s}", "from", json_object_get(rec, "title"), "to", title));
    json_object_set_new(rec, "title", json_string(title));
    free(title);
    events_add(rec, ev);
    *event = ev;
    return 0;
}

int hubd_discussion_rename(json_t **out, hubd_repos *repos, hfs_repo_kind kind, const char *id,
                           int num, const char *author, const char *title)
{
    change_args a = {.author = author, .text = title};
    return change(out, repos, kind, id, num, do_rename, &a);
}

static int do_status(json_t *rec, json_t **event, void *ctx)
{
    const change_args *a = ctx;
    int num = (int)json_integer_value(json_object_get(rec, "num"));
    const char *now = json_string_value(json_object_get(rec, "status"));
    if (strcmp(a->status, "open") != 0 && strcmp(a->status, "closed") != 0)
        return hfs_error_set(HFS_EINVALID, "status '%s' is not \"open\" or \"closed\"", a->status);
    if (strcmp(now, "merged") == 0)
        return hfs_error_set(HFS_EINVALID,
                             "pull request #%d is merged: its status cannot change any more", num);
    if (a->text && !text_blank(a->text)) {
        json_t *c = comment_event(a->author, a->text);
        if (!c)
            return hfs_error_set(HFS_EINVALID, "the comment is not valid UTF-8");
        events_add(rec, c);
        json_decref(c);
    }
    json_t *ev = event_new("status-change", a->author, json_pack("{s:s}", "status", a->status));
    json_object_set_new(rec, "status", json_string(a->status));
    events_add(rec, ev);
    *event = ev;
    return 0;
}

int hubd_discussion_set_status(json_t **out, hubd_repos *repos, hfs_repo_kind kind, const char *id,
                               int num, const char *author, const char *status, const char *comment)
{
    change_args a = {.author = author, .status = status ? status : "", .text = comment};
    return change(out, repos, kind, id, num, do_status, &a);
}

/* ---- merging ------------------------------------------------------------------------------ */

void hubd_merge_result_clear(hubd_merge_result *r)
{
    if (!r)
        return;
    strings_free(r->conflicts, r->n_conflicts);
    memset(r, 0, sizeof(*r));
}

static int merge_refusal(const json_t *rec, int num)
{
    const char *status = json_string_value(json_object_get(rec, "status"));
    if (!json_is_true(json_object_get(rec, "isPullRequest")))
        return hfs_error_set(HFS_EINVALID,
                             "#%d is a discussion, not a pull request: there is "
                             "nothing to merge",
                             num);
    if (strcmp(status, "merged") == 0)
        return hfs_error_set(HFS_EINVALID, "pull request #%d is already merged (commit %s)", num,
                             json_string_value(json_object_get(rec, "mergeCommitId")));
    if (strcmp(status, "closed") == 0)
        return hfs_error_set(HFS_EINVALID,
                             "pull request #%d is closed: reopen it (status \"open\") to merge it",
                             num);
    if (strcmp(status, "draft") == 0)
        return hfs_error_set(HFS_EINVALID,
                             "pull request #%d is a draft: publish it (status \"open\") before "
                             "merging",
                             num);
    return 0;
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One attempt: the merge commit on the base's current head, and the compare-and-swap of
 * the base branch. 1 when the branch moved meanwhile (try again). */
static int merge_once(hubd_merge_result *out, git_repository *repo, const json_t *rec, int num,
                      const git_signature *sig, const char *message, const char *what)
{
    pr_refs p;
    git_index *index = NULL;
    git_tree *tree = NULL, *base_tree = NULL;
    git_commit *parent = NULL;
    git_reference *ref = NULL;
    git_oid tree_oid, commit_oid;
    const char *base_ref = json_string_value(json_object_get(rec, "baseRef"));
    int rc = 0;
    pr_refs_read(&p, repo, rec, num);
    if (!p.has_head) {
        rc = hfs_error_set(HFS_ENOTFOUND, "refs/pr/%d of %s is gone: nothing to merge", num, what);
        goto done;
    }
    if (!p.has_base) {
        rc = hfs_error_set(HFS_ENOTFOUND, "Invalid rev id: %s (the base branch of %s is gone)",
                           base_ref ? base_ref : "(none)", what);
        goto done;
    }
    if ((rc = pr_merge_index(&index, &out->conflicts, &out->n_conflicts, repo, &p, what)) < 0)
        goto done;
    if (out->n_conflicts) {
        hfs_buf names = HFS_BUF_INIT;
        for (size_t i = 0; i < out->n_conflicts; i++)
            hfs_buf_printf(&names, "%s%s", i ? ", " : "", out->conflicts[i]);
        rc = hfs_error_set(HFS_EINVALID,
                           "Cannot merge %s: it conflicts with %s in %zu file%s: %s. Update "
                           "the pull request from %s first",
                           what, base_ref, out->n_conflicts, out->n_conflicts == 1 ? "" : "s",
                           names.ptr, base_ref);
        hfs_buf_free(&names);
        goto done;
    }
    if (git_index_write_tree_to(&tree_oid, index, repo) < 0 ||
        git_commit_lookup(&parent, repo, &p.base_head) < 0 ||
        git_commit_tree(&base_tree, parent) < 0) {
        rc = repo_git_fail(HFS_ERROR, "cannot build the merge of %s", what);
        goto done;
    }
    if (git_oid_equal(&tree_oid, git_tree_id(base_tree))) {
        rc = hfs_error_set(HFS_EINVALID,
                           "This pull request has no associated changes: %s would change "
                           "nothing on %s",
                           what, base_ref);
        goto done;
    }
    const git_commit *parents[] = {parent};
    if (git_tree_lookup(&tree, repo, &tree_oid) < 0 ||
        git_commit_create(&commit_oid, repo, NULL, sig, sig, NULL, message, tree, 1, parents) < 0) {
        rc = repo_git_fail(HFS_ERROR, "cannot write the merge commit of %s", what);
        goto done;
    }
    int err = git_reference_create_matching(&ref, repo, base_ref, &commit_oid, 1, &p.base_head,
                                            "merge pull request");
    if (err == GIT_EMODIFIED || err == GIT_ELOCKED) {
        git_error_clear();
        rc = 1;
        goto done;
    }
    if (err < 0) {
        rc = repo_git_fail(HFS_ERROR, "cannot move %s for %s", base_ref, what);
        goto done;
    }
    git_oid_tostr(out->commit_oid, sizeof(out->commit_oid), &commit_oid);
done:
    git_reference_free(ref);
    git_commit_free(parent);
    git_tree_free(base_tree);
    git_tree_free(tree);
    git_index_free(index);
    return rc;
}

int hubd_discussion_merge(hubd_merge_result *out, hubd_repos *repos, hfs_repo_kind kind,
                          const char *id, int num, const char *author, const char *comment)
{
    memset(out, 0, sizeof(*out));
    repo_session s;
    disc_lock l = DISC_LOCK_INIT;
    json_t *rec = NULL;
    git_signature *sig = NULL;
    char *message = NULL;
    char *what = hfs_sprintf("pull request #%d of %s", num, id);
    int rc = repo_session_open(&s, repos, kind, id);
    if (rc < 0 || (rc = lock_take(&l, repos, kind, id)) < 0 ||
        (rc = record_load(&rec, l.dir, num, kind, id)) < 0 || (rc = merge_refusal(rec, num)) < 0 ||
        (rc = repo_signature(&sig, author)) < 0)
        goto done;
    /* one commit on the base, titled like the hub's squash merges: the PR's title */
    message = hfs_sprintf("%s (#%d)\n\n%s%sMerged pull request #%d.",
                          json_string_value(json_object_get(rec, "title")), num,
                          comment && !text_blank(comment) ? comment : "",
                          comment && !text_blank(comment) ? "\n\n" : "", num);
    double started = mono_now();
    while ((rc = merge_once(out, s.repo, rec, num, sig, message, what)) == 1) {
        if (mono_now() - started > MERGE_RETRY_SECONDS) {
            rc = hfs_error_set(HFS_ELOCKED,
                               "Cannot merge %s: other commits kept its base branch busy for "
                               "%.0f s; try again",
                               what, MERGE_RETRY_SECONDS);
            break;
        }
        hubd_merge_result_clear(out);
    }
    if (rc < 0)
        goto done;
    if (comment && !text_blank(comment)) {
        json_t *c = comment_event(author, comment);
        if (c)
            events_add(rec, c);
        json_decref(c);
    }
    json_t *ev = event_new("status-change", author, json_pack("{s:s}", "status", "merged"));
    events_add(rec, ev);
    json_decref(ev);
    json_object_set_new(rec, "status", json_string("merged"));
    json_object_set_new(rec, "mergeCommitId", json_string(out->commit_oid));
    rc = record_save(l.dir, num, rec);
done:
    free(message);
    free(what);
    git_signature_free(sig);
    json_decref(rec);
    lock_release(&l);
    repo_session_close(&s);
    return rc;
}
