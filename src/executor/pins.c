/* The stale check of an apply: before anything is created or uploaded, every remote head and
 * every local file the plan pinned must still be as planned (a moved mtime means hash again). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "common/util.h"
#include "executor/executor.h"
#include "planner/hashcache.h"
#include "planner/hashpool.h"

static const char *short_oid(char out[8], const char *oid)
{
    snprintf(out, 8, "%.7s", oid);
    return out;
}

typedef struct {
    size_t seen;
} count_walk;

/* Stops at the second commit: one is all a fresh repo has. */
static int count_commit(void *ctx, const hfs_hub_commit_entry *c)
{
    (void)c;
    count_walk *w = ctx;
    w->seen++;
    return w->seen > 1 ? 1 : 0;
}

/* A sync whose plan creates the repo: it must still be missing, or hold only the first
 * commit the hub makes itself (an earlier apply of this plan may have created it and then
 * failed), and then that commit becomes the parent. */
static int check_created(exec_ctx *x, const hfs_plan_sync *s, exec_pin *pin)
{
    hfs_hub_repo repo = {s->repo_type, s->repo_id};
    hfs_hub_repo_info info = {0};
    int rc = hfs_hub_repo_head_get(&info, x->hub, &repo, s->revision);
    if (rc == HFS_ENOTFOUND) {
        hfs_error_clear();
        hfs_hub_repo_info_clear(&info);
        return 0;
    }
    if (rc < 0)
        goto done;
    if (!info.sha || strlen(info.sha) != 40) {
        rc = hfs_error_set(HFS_ERROR, "the hub's info for %s %s at %s has no head commit",
                           hfs_repo_type_name(s->repo_type), s->repo_id, s->revision);
        goto done;
    }
    count_walk w = {0};
    rc = hfs_hub_list_commits(x->hub, &repo, info.sha, count_commit, &w);
    if (rc == 1)
        rc = 0;
    if (rc < 0)
        goto done;
    if (w.seen > 1) {
        rc = hfs_error_set(HFS_ESTALE,
                           "plan is stale: the plan creates %s %s, but it exists now and has "
                           "commits at %s since the plan was written; run `hfsync plan` again",
                           hfs_repo_type_name(s->repo_type), s->repo_id, s->revision);
        goto done;
    }
    pin->exists = true;
    snprintf(pin->head, sizeof(pin->head), "%s", info.sha);
done:
    hfs_hub_repo_info_clear(&info);
    return rc;
}

static int check_remote(exec_ctx *x, const hfs_plan_sync *s, exec_pin *pin)
{
    hfs_hub_repo repo = {s->repo_type, s->repo_id};
    hfs_hub_repo_info info = {0};
    char was[8], now[8];
    memset(pin, 0, sizeof(*pin));
    if (s->create)
        return check_created(x, s, pin);
    int rc = hfs_hub_repo_head_get(&info, x->hub, &repo, s->revision);
    if (rc == HFS_ENOTFOUND) {
        rc = hfs_error_set(HFS_ESTALE,
                           "plan is stale: %s@%s (%s) is gone since the plan was written (%s); "
                           "run `hfsync plan` again",
                           s->repo_id, s->revision, hfs_repo_type_name(s->repo_type),
                           hfs_error_last());
        goto done;
    }
    if (rc < 0)
        goto done;
    if (!info.sha || strcmp(info.sha, s->remote_head) != 0) {
        rc = hfs_error_set(HFS_ESTALE,
                           "plan is stale: %s@%s moved from %s to %s since the plan was "
                           "written; run `hfsync plan` again",
                           s->repo_id, s->revision, short_oid(was, s->remote_head),
                           info.sha ? short_oid(now, info.sha) : "(no head)");
        goto done;
    }
    pin->exists = true;
    snprintf(pin->head, sizeof(pin->head), "%s", s->remote_head);
done:
    hfs_hub_repo_info_clear(&info);
    return rc;
}

static int stale_file(exec_ctx *x, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int stale_file(exec_ctx *x, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *why = hfs_vsprintf(fmt, ap);
    va_end(ap);
    free(x->stale_path);
    x->stale_path = hfs_strdup(path);
    int rc = hfs_error_set(HFS_ESTALE,
                           "plan is stale: %s %s since the plan was written; run "
                           "`hfsync plan` again",
                           path, why);
    free(why);
    return rc;
}

typedef struct {
    exec_ctx *x;
    double started;
} hash_relay;

static void on_hash_progress(const hfs_hash_progress *p, void *payload)
{
    hash_relay *r = payload;
    hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_HASH_PROGRESS,
                          .files_done = p->files_done,
                          .files_total = p->files_total,
                          .bytes_done = p->bytes_done,
                          .bytes_total = p->bytes_total,
                          .seconds = hfs_now() - r->started};
    exec_emit(r->x, NULL, &ev);
}

struct exec_send_check {
    const hfs_plan_op *op;
    char check[HFS_CHECK_HEX];
};

/* The send checks found for a plan read from a file. */
typedef struct {
    struct exec_send_check *v;
    size_t n, cap;
    const char *state_dir;
    bool opened;          /* the hash cache was looked for (on the first op that needs it) */
    hfs_hashcache *cache; /* read only; NULL when there is none */
} check_list;

/* Does this op name an LFS object to upload whose send check is still to be found? (Of
 * ops with the same content, exec_upload_lfs sends one, any.) */
static bool wants_check(const hfs_plan_op *op)
{
    return op->lfs && (op->kind == HFS_OP_ADD || op->kind == HFS_OP_UPDATE) && op->sha256[0] &&
           !op->check[0];
}

static void check_add(check_list *l, const hfs_plan_op *op, const char *check)
{
    struct exec_send_check c = {op, ""};
    snprintf(c.check, sizeof(c.check), "%s", check);
    HFS_PUSH(l->v, l->n, l->cap, c);
}

static int by_op(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const struct exec_send_check *)a)->op;
    uintptr_t y = (uintptr_t)((const struct exec_send_check *)b)->op;
    return (x > y) - (x < y);
}

const char *exec_send_check_of(const exec_ctx *x, const hfs_plan_op *op)
{
    if (op->check[0])
        return op->check;
    struct exec_send_check key = {op, ""};
    const struct exec_send_check *c =
        x->n_checks ? bsearch(&key, x->checks, x->n_checks, sizeof(key), by_op) : NULL;
    return c ? c->check : NULL;
}

/* The file an op pins, as the hasher and the hash cache describe files: its stat data now. */
static hfs_local_file local_file_of(const hfs_plan_op *op, char *path, const struct stat *st)
{
    hfs_local_file f = {0};
    f.repo_path = op->path;
    f.local_path = path;
    f.rel_path = path;
    hfs_local_file_set_stat(&f, st);
    return f;
}

/* A file the pin check does not read (its mtime is the planned one): the hash cache gives
 * its send check when it vouches for the file as it is now, with the planned sha256. */
static void check_from_cache(check_list *l, const hfs_plan_op *op, char *path,
                             const struct stat *st)
{
    if (!wants_check(op))
        return;
    /* A plan made in this process carries its checks, so this is a plan file's apply. A
     * cache that cannot be read is none: those bytes are hashed with SHA-256 as sent. */
    if (!l->opened && hfs_hashcache_open_quiet(&l->cache, l->state_dir) < 0)
        l->cache = NULL;
    l->opened = true;
    if (!l->cache)
        return;
    hfs_local_file f = local_file_of(op, path, st);
    if (hfs_hashcache_lookup(l->cache, &f, HFS_HASH_SHA256) == HFS_HASHCACHE_HIT && f.has_check &&
        strcmp(f.sha256, op->sha256) == 0)
        check_add(l, op, f.check);
}

/* The files to hash again: their stat data now, and the op whose pin they answer to. */
typedef struct {
    hfs_local_file *files;
    const hfs_plan_op **ops;
    unsigned char *want;
    size_t n, cap;
} rehash_list;

static void rehash_add(rehash_list *l, const hfs_plan_op *op, char *path, const struct stat *st)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->files = hfs_realloc(l->files, l->cap * sizeof(*l->files));
        l->ops = hfs_realloc(l->ops, l->cap * sizeof(*l->ops));
        l->want = hfs_realloc(l->want, l->cap * sizeof(*l->want));
    }
    hfs_local_file *f = &l->files[l->n];
    *f = local_file_of(op, path, st);
    f->repo_path = hfs_strdup(op->path);
    l->ops[l->n] = op;
    /* Only the hashes the plan pinned are worth reading for. */
    unsigned char want = (op->sha1[0] ? HFS_HASH_SHA1 : 0) | (op->sha256[0] ? HFS_HASH_SHA256 : 0);
    l->want[l->n] = want ? want : HFS_HASH_BOTH;
    l->n++;
}

static void rehash_clear(rehash_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->files[i].repo_path);
        free(l->files[i].local_path);
    }
    free(l->files);
    free(l->ops);
    free(l->want);
    memset(l, 0, sizeof(*l));
}

/* Stats every file the sync reads; files whose size moved are stale at once, files whose
 * mtime moved go on the list to hash again. */
static int check_local(exec_ctx *x, const hfs_plan_sync *s, rehash_list *rehash, check_list *checks)
{
    for (size_t c = 0; c < s->n_commits; c++) {
        const hfs_plan_commit *commit = &s->commits[c];
        for (size_t i = 0; i < commit->n_ops; i++) {
            const hfs_plan_op *op = &commit->ops[i];
            if (op->kind == HFS_OP_DELETE || !op->local)
                continue;
            /* A regular copy commits the remote's content, not the local file's. */
            if (op->kind == HFS_OP_COPY && !op->lfs)
                continue;
            char *path = exec_local_path(s, op);
            struct stat st;
            int rc = 0;
            if (stat(path, &st) != 0)
                rc = errno == ENOENT ? stale_file(x, path, "was removed")
                     /* a folder on its way became a file: the planned file is gone too */
                     : errno == ENOTDIR
                         ? stale_file(x, path, "was removed (a folder above it is now a file)")
                         : hfs_error_set(HFS_ERROR, "cannot check %s against the plan: %s", path,
                                         strerror(errno));
            else if (!S_ISREG(st.st_mode))
                rc = stale_file(x, path, "is no longer a regular file");
            else if ((uint64_t)st.st_size != op->size &&
                     !(x->opts->allow_growth && (uint64_t)st.st_size > op->size))
                rc =
                    stale_file(x, path, "changed size (%" PRIu64 " bytes now, %" PRIu64 " planned)",
                               (uint64_t)st.st_size, op->size);
            if (rc < 0) {
                free(path);
                return rc;
            }
            /* A file that grew is sent up to its planned size, and those bytes are checked
             * against the pinned hash as they go: hashing it whole here would only say that
             * it grew. */
            if ((uint64_t)st.st_size > op->size) {
                free(path);
                continue;
            }
            if (!op->has_mtime || hfs_timespec_ns(&st.st_mtim) != op->mtime_ns) {
                rehash_add(rehash, op, path, &st);
            } else {
                check_from_cache(checks, op, path, &st);
                free(path);
            }
        }
    }
    return 0;
}

static int check_hashes(exec_ctx *x, rehash_list *l, check_list *checks)
{
    if (l->n == 0)
        return 0;
    hash_relay relay = {x, hfs_now()};
    hfs_hash_options ho = HFS_HASH_OPTIONS_INIT;
    ho.want = l->want;
    ho.progress = on_hash_progress;
    ho.progress_payload = &relay;
    int rc = hfs_hash_files(l->files, l->n, &ho, NULL);
    if (rc == HFS_ESTALE || rc == HFS_ENOTFOUND) {
        /* The hasher names the file in its message. */
        char *why = hfs_strdup(hfs_error_last());
        rc = hfs_error_set(HFS_ESTALE, "plan is stale: %s; run `hfsync plan` again", why);
        free(why);
    }
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < l->n; i++) {
        const hfs_plan_op *op = l->ops[i];
        const hfs_local_file *f = &l->files[i];
        if (f->size != op->size)
            return stale_file(x, f->local_path,
                              "changed size (%" PRIu64 " bytes now, %" PRIu64 " planned)", f->size,
                              op->size);
        if (op->sha256[0] && f->has_sha256 && strcmp(f->sha256, op->sha256) != 0)
            return stale_file(x, f->local_path,
                              "changed (its sha256 is now %.12s…, the plan "
                              "has %.12s…)",
                              f->sha256, op->sha256);
        if (op->sha1[0] && f->has_sha1 && strcmp(f->sha1, op->sha1) != 0)
            return stale_file(x, f->local_path,
                              "changed (its git sha1 is now %.12s…, the "
                              "plan has %.12s…)",
                              f->sha1, op->sha1);
        /* Read again just now: its send check was taken with the sha256 just compared. */
        if (wants_check(op) && f->has_sha256 && f->has_check)
            check_add(checks, op, f->check);
    }
    return 0;
}

int exec_check_pins(exec_ctx *x, const hfs_plan_sync *const *syncs, size_t n, exec_pin *pins)
{
    rehash_list rehash = {0};
    check_list checks = {.state_dir = x->state_dir};
    int rc = 0;
    /* Remote heads first: one request per sync, and the likelier thing to have moved. */
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = check_remote(x, syncs[i], &pins[i]);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = check_local(x, syncs[i], &rehash, &checks);
    if (rc == 0)
        rc = check_hashes(x, &rehash, &checks);
    rehash_clear(&rehash);
    hfs_hashcache_free(checks.cache);
    if (checks.n)
        qsort(checks.v, checks.n, sizeof(*checks.v), by_op);
    free(x->checks);
    x->checks = checks.v;
    x->n_checks = checks.n;
    return rc;
}
