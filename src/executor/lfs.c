/* Getting a commit's content to the hub before the commit: preupload (the hub confirms each
 * file's mode as planned, and its .gitignore), the LFS batch, and the parallel LFS uploads. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/lfsrules.h"
#include "common/util.h"
#include "executor/executor.h"
#include "hub/transfer.h"

/* The most files a mode-mismatch message names. */
#define MISMATCH_SHOWN 20

/* The first bytes of the file, which the hub judges text or binary by. */
static int read_sample(unsigned char *buf, size_t *len, const char *path, uint64_t size)
{
    size_t want = size < HFS_HUB_SAMPLE_MAX ? (size_t)size : HFS_HUB_SAMPLE_MAX;
    ssize_t got = hfs_hub_sample_read(buf, path, size);
    *len = 0;
    if (got < 0)
        return hfs_error_set(errno == ENOENT ? HFS_ESTALE : HFS_ERROR,
                             "cannot read %s for the hub's preupload check: %s", path,
                             strerror(errno));
    if ((size_t)got < want)
        return hfs_error_set(HFS_ESTALE,
                             "%s changed since the plan was written: it is shorter than "
                             "planned; run `hfsync plan` again",
                             path);
    *len = want;
    return 0;
}

/* The content *out of the root config file `name` when `op` adds or changes it, else NULL;
 * *found says which. */
static int config_file_of(char **out, bool *found, const exec_sync *s, const hfs_plan_op *op,
                          const char *name)
{
    *found = (op->kind == HFS_OP_ADD || op->kind == HFS_OP_UPDATE) && !op->lfs &&
             strcmp(op->path, name) == 0;
    if (!*found)
        return 0;
    char *path = exec_local_path(s->sync, op);
    size_t len;
    int rc = hfs_read_file(out, &len, path, HFS_REGULAR_MAX_BYTES);
    free(path);
    return rc;
}

/* The root .gitignore when this commit adds or changes it: the hub judges shouldIgnore by
 * the copy in the commit, not the one at the revision. */
static int commit_gitignore(char **out, const exec_sync *s, const exec_entry *entries, size_t n)
{
    *out = NULL;
    bool found = false;
    int rc = 0;
    for (size_t i = 0; i < n && !found && rc == 0; i++)
        rc = config_file_of(out, &found, s, entries[i].op, ".gitignore");
    return rc;
}

int exec_plan_gitattributes(char **out, const exec_sync *s)
{
    *out = NULL;
    bool found = false;
    int rc = 0;
    for (size_t k = 0; k < s->sync->n_commits && !found && rc == 0; k++) {
        const hfs_plan_commit *c = &s->sync->commits[k];
        for (size_t i = 0; i < c->n_ops && !found && rc == 0; i++)
            rc = config_file_of(out, &found, s, &c->ops[i], ".gitattributes");
    }
    return rc;
}

static bool asks_preupload(const exec_entry *e)
{
    return e->op->kind == HFS_OP_ADD || e->op->kind == HFS_OP_UPDATE;
}

typedef struct {
    exec_sync *s;
    exec_entry *entries;
    hfs_buf mismatch;
    size_t n_mismatch;
} confirm_ctx;

static bool confirm_wanted(void *ctx, size_t i)
{
    const confirm_ctx *c = ctx;
    return asks_preupload(&c->entries[i]);
}

static int confirm_sample(void *ctx, size_t i, hfs_hub_preupload_file *file, unsigned char *sample)
{
    const confirm_ctx *c = ctx;
    const hfs_plan_op *op = c->entries[i].op;
    size_t len = 0;
    char *path = exec_local_path(c->s->sync, op);
    int rc = read_sample(sample, &len, path, op->size);
    free(path);
    if (rc == 0)
        *file = (hfs_hub_preupload_file){op->path, op->size, sample, len};
    return rc;
}

/* An entry the hub ignores is left out of the commit; one whose mode the hub decided
 * otherwise than the plan is collected for the error. */
static void confirm_answer(void *ctx, size_t i, const hfs_hub_preupload_result *result)
{
    confirm_ctx *c = ctx;
    exec_entry *e = &c->entries[i];
    bool hub_lfs = result->mode == HFS_HUB_UPLOAD_LFS;
    if (result->should_ignore) {
        e->ignored = true;
        hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_IGNORED,
                              .path = e->op->path,
                              .message = "the repo's .gitignore excludes it: it is "
                                         "neither uploaded nor committed"};
        exec_emit(c->s->x, c->s->sync, &ev);
    } else if (hub_lfs != e->op->lfs) {
        if (c->n_mismatch < MISMATCH_SHOWN)
            hfs_buf_printf(&c->mismatch, "\n  the hub decided %s for %s but the plan says %s",
                           hfs_plan_mode_name(hub_lfs), e->op->path,
                           hfs_plan_mode_name(e->op->lfs));
        c->n_mismatch++;
    }
}

int exec_preupload(exec_sync *s, exec_entry *entries, size_t n)
{
    confirm_ctx ctx = {s, entries, HFS_BUF_INIT, 0};
    hfs_hub_preupload_fns fns = {confirm_wanted, confirm_sample, NULL, confirm_answer, &ctx};
    hfs_hub_preupload_counts counts = {0};
    char *gitignore = NULL;
    int rc = commit_gitignore(&gitignore, s, entries, n);
    if (rc == 0)
        rc = hfs_hub_preupload_each(&counts, s->x->hub, &s->repo, s->revision, n, gitignore,
                                    s->gitattributes, s->create_pr, &fns);
    if (rc == 0 && ctx.n_mismatch > 0) {
        if (ctx.n_mismatch > MISMATCH_SHOWN)
            hfs_buf_printf(&ctx.mismatch, "\n  … and %zu more", ctx.n_mismatch - MISMATCH_SHOWN);
        rc = hfs_error_set(HFS_ERROR,
                           "sync %s: the hub does not agree with the plan on how %zu file(s) "
                           "upload; nothing was committed: re-plan (`hfsync plan`) so the plan "
                           "follows the hub's rules (.gitattributes, size, binary content):%s",
                           s->sync->name, ctx.n_mismatch, hfs_buf_cstr(&ctx.mismatch));
    }
    if (rc == 0 && counts.asked > 0) {
        hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_PREUPLOAD,
                              .n_lfs = counts.lfs,
                              .n_regular = counts.regular,
                              .n_ignored = counts.ignored,
                              .files_total = counts.asked};
        exec_emit(s->x, s->sync, &ev);
    }
    hfs_buf_free(&ctx.mismatch);
    free(gitignore);
    return rc;
}

/* ---- LFS uploads ------------------------------------------------------------------------ */

typedef struct {
    exec_sync *s;
    double started;
} upload_relay;

static void on_upload_progress(void *ctx, const hfs_lfs_upload_progress *p)
{
    upload_relay *r = ctx;
    hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_UPLOAD_PROGRESS,
                          .files_done = p->items_done,
                          .files_total = p->items_total,
                          .bytes_done = p->bytes_done,
                          .bytes_total = p->bytes_total,
                          .seconds = hfs_now() - r->started};
    exec_emit(r->s->x, r->s->sync, &ev);
}

static int by_sha256(const void *a, const void *b)
{
    const exec_entry *x = *(const exec_entry *const *)a, *y = *(const exec_entry *const *)b;
    return strcmp(x->op->sha256, y->op->sha256);
}

/* The object a refused upload is about, for the message. */
static const char *path_of(const exec_entry *const *objs, size_t n, const char *oid)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(objs[i]->op->sha256, oid) == 0)
            return objs[i]->op->path;
    return oid;
}

int exec_upload_lfs(exec_sync *s, const exec_entry *entries, size_t n, const exec_lane *lane)
{
    const exec_entry **objs = hfs_calloc(n ? n : 1, sizeof(*objs));
    hfs_hub_lfs_object *objects = NULL;
    hfs_hub_lfs_action *actions = NULL;
    hfs_lfs_upload_item *items = NULL;
    char **paths = NULL;
    int *results = NULL;
    size_t m = 0, k = 0;
    uint64_t bytes = 0;
    int rc = 0;

    /* Every LFS object the commit names, once: copies point at objects the hub has, and
     * the same content at several paths is sent once. */
    for (size_t i = 0; i < n; i++) {
        const hfs_plan_op *op = entries[i].op;
        if (!entries[i].ignored && op->lfs && (op->kind == HFS_OP_ADD || op->kind == HFS_OP_UPDATE))
            objs[m++] = &entries[i];
    }
    if (m == 0)
        goto done;
    qsort(objs, m, sizeof(*objs), by_sha256);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (u == 0 || strcmp(objs[u - 1]->op->sha256, objs[i]->op->sha256) != 0)
            objs[u++] = objs[i];
    m = u;

    objects = hfs_calloc(m, sizeof(*objects));
    actions = hfs_calloc(m, sizeof(*actions));
    for (size_t i = 0; i < m; i++)
        objects[i] = (hfs_hub_lfs_object){objs[i]->op->sha256, objs[i]->op->size};
    /* With create_pr the batch names no ref: read access is enough to open a PR. */
    rc = hfs_hub_lfs_batch(actions, s->x->hub, &s->repo, s->create_pr ? NULL : s->revision, objects,
                           m);
    if (rc < 0) {
        free(actions);
        actions = NULL;
        goto done;
    }

    hfs_buf refused = HFS_BUF_INIT;
    size_t n_refused = 0;
    items = hfs_calloc(m, sizeof(*items));
    paths = hfs_calloc(m, sizeof(*paths));
    for (size_t i = 0; i < m; i++) {
        const hfs_hub_lfs_action *a = &actions[i];
        if (a->kind == HFS_HUB_LFS_ERROR) {
            if (n_refused++ < MISMATCH_SHOWN)
                hfs_buf_printf(&refused, "\n  %s: %s (code %d)", path_of(objs, m, a->oid),
                               a->error_message ? a->error_message : "refused", a->error_code);
            continue;
        }
        if (a->kind == HFS_HUB_LFS_PRESENT)
            continue;
        paths[k] = exec_local_path(s->sync, objs[i]->op);
        items[k] = (hfs_lfs_upload_item){.local_path = paths[k],
                                         .size = objs[i]->op->size,
                                         .sha256 = objs[i]->op->sha256,
                                         .check = exec_send_check_of(s->x, objs[i]->op),
                                         .action = a,
                                         .growing = s->x->opts->allow_growth};
        bytes += objs[i]->op->size;
        k++;
    }
    if (n_refused) {
        rc = hfs_error_set(HFS_ERROR,
                           "sync %s: the hub refused %zu LFS object(s); nothing was committed:%s",
                           s->sync->name, n_refused, hfs_buf_cstr(&refused));
        hfs_buf_free(&refused);
        goto done;
    }
    hfs_buf_free(&refused);
    if (k == 0)
        goto done;
    if ((rc = exec_check_cancel(s->x)) < 0)
        goto done;

    upload_relay relay = {s, hfs_now()};
    hfs_apply_event start = {
        .kind = HFS_APPLY_EVENT_UPLOAD_START, .files_total = k, .bytes_total = bytes};
    exec_emit(s->x, s->sync, &start);
    hfs_lfs_upload_options uo = HFS_LFS_UPLOAD_OPTIONS_INIT;
    uo.jobs = s->x->opts->jobs ? s->x->opts->jobs : HFS_APPLY_DEFAULT_JOBS;
    uo.progress = lane ? lane->progress : on_upload_progress;
    uo.progress_ctx = lane ? lane->progress_ctx : &relay;
    uo.cancel = s->x->opts->cancel;
    uo.slots = lane ? lane->slots : NULL;
    results = hfs_calloc(k, sizeof(*results));
    rc = hfs_lfs_upload_all(results, s->x->hub, items, k, &uo);
    if (rc < 0)
        goto done;
    if (lane)
        pthread_mutex_lock(lane->result_mu);
    s->x->result->lfs_files_uploaded += k;
    s->x->result->lfs_bytes_uploaded += bytes;
    if (lane)
        pthread_mutex_unlock(lane->result_mu);
    hfs_apply_event end = {.kind = HFS_APPLY_EVENT_UPLOAD_DONE,
                           .files_done = k,
                           .files_total = k,
                           .bytes_done = bytes,
                           .bytes_total = bytes,
                           .seconds = hfs_now() - relay.started};
    exec_emit(s->x, s->sync, &end);
done:
    for (size_t i = 0; paths && i < k; i++)
        free(paths[i]);
    free(paths);
    free(results);
    free(items);
    for (size_t i = 0; actions && i < m; i++)
        hfs_hub_lfs_action_clear(&actions[i]);
    free(actions);
    free(objects);
    free(objs);
    return rc;
}
