/* hfs_preupload_lfs: the LFS content of a commit sent before the commit — hash what is new,
 * ask the hub how each file uploads, send the LFS objects in parallel, release buffers. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/error.h"
#include "common/lfsrules.h"
#include "common/util.h"
#include "hub/transfer.h"

/* The most paths one refusal message names. */
#define REFUSED_SHOWN 20

/* An addition the hub has not classified yet. */
static bool is_new(const api_op *op)
{
    return op->kind == HFS_COMMIT_ADD && op->mode == HFS_UPLOAD_MODE_UNKNOWN && !op->released;
}

/* The content's sha256 and git sha1 in one pass: the first is the LFS oid, the second how
 * the hub names a regular file (for the no-op check). A file is streamed, never read whole;
 * its size is taken from this read, which pins the content from here on. */
static int hash_op(api_op *op)
{
    if (op->hashed)
        return 0;
    if (op->from_buffer) {
        hfs_hasher *h = hfs_hasher_new(true, true, op->size);
        if (op->size)
            hfs_hasher_update(h, op->data, (size_t)op->size);
        hfs_hasher_final(h, op->sha256, op->sha1);
        hfs_hasher_free(h);
    } else {
        uint64_t size = 0;
        int rc = hfs_hash_file(op->local_path, op->sha256, op->sha1, &size);
        if (rc < 0)
            return rc;
        op->size = size;
    }
    op->hashed = true;
    return 0;
}

/* The first bytes of the content, which the hub judges text or binary by. */
static int read_sample(unsigned char *buf, size_t *len, const api_op *op)
{
    size_t want = op->size < HFS_HUB_SAMPLE_MAX ? (size_t)op->size : HFS_HUB_SAMPLE_MAX;
    *len = 0;
    if (want == 0)
        return 0;
    if (op->from_buffer) {
        memcpy(buf, op->data, want);
        *len = want;
        return 0;
    }
    ssize_t got = hfs_hub_sample_read(buf, op->local_path, op->size);
    if (got < 0)
        return hfs_error_set(errno == ENOENT ? HFS_ESTALE : HFS_ERROR,
                             "cannot read %s (for %s) to ask the hub how it uploads: %s",
                             op->local_path, op->path, strerror(errno));
    if ((size_t)got < want)
        return hfs_error_set(HFS_ESTALE,
                             "%s (for %s) became shorter since it was hashed: nothing was sent; "
                             "add it again once it is written",
                             op->local_path, op->path);
    *len = want;
    return 0;
}

/* The content of the root config file `name` the commit adds (the last add wins): the hub
 * judges shouldIgnore by that copy of .gitignore, and LFS by that copy of .gitattributes,
 * rather than by the ones at the revision. NULL when none. */
static int commit_config_file(char **out, const hfs_commit_ops *ops, const char *name)
{
    *out = NULL;
    for (size_t i = ops->n; i-- > 0;) {
        const api_op *op = &ops->ops[i];
        if (strcmp(op->path, name) != 0)
            continue;
        if (op->kind != HFS_COMMIT_ADD || op->released)
            return 0; /* deleted or copied over: the hub has nothing of ours to judge by */
        if (op->size > HFS_REGULAR_MAX_BYTES)
            return 0; /* too large to be a regular file, so never a file the hub reads */
        if (op->from_buffer) {
            *out = hfs_strndup(op->data ? op->data : "", (size_t)op->size);
            return 0;
        }
        size_t len;
        return hfs_read_file(out, &len, op->local_path, HFS_REGULAR_MAX_BYTES);
    }
    return 0;
}

/* ---- asking the hub how each new addition uploads (hfs_hub_preupload_each) ------------- */

typedef struct {
    api_call *call;
    hfs_commit_ops *ops;
} ask_ctx;

static bool ask_wanted(void *ctx, size_t i)
{
    const ask_ctx *a = ctx;
    return is_new(&a->ops->ops[i]);
}

static int ask_sample(void *ctx, size_t i, hfs_hub_preupload_file *file, unsigned char *sample)
{
    const ask_ctx *a = ctx;
    api_op *op = &a->ops->ops[i];
    size_t len = 0;
    int rc;
    if ((rc = hash_op(op)) < 0 || (rc = read_sample(sample, &len, op)) < 0)
        return rc;
    *file = (hfs_hub_preupload_file){op->path, op->size, sample, len};
    return 0;
}

static int ask_before_request(void *ctx)
{
    const ask_ctx *a = ctx;
    return api_check_cancel(a->call);
}

/* Records mode, shouldIgnore and the remote oid. */
static void ask_answer(void *ctx, size_t i, const hfs_hub_preupload_result *result)
{
    const ask_ctx *a = ctx;
    api_op *op = &a->ops->ops[i];
    op->mode = result->mode == HFS_HUB_UPLOAD_LFS ? HFS_UPLOAD_MODE_LFS : HFS_UPLOAD_MODE_REGULAR;
    op->ignored = result->should_ignore;
    free(op->remote_oid);
    op->remote_oid = result->oid ? hfs_strdup(result->oid) : NULL;
    if (op->ignored) {
        hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_IGNORED,
                              .path = op->path,
                              .message = "the repo's .gitignore excludes it: it is "
                                         "neither uploaded nor committed"};
        api_emit(a->call, &ev);
        api_op_release(op); /* never sent: the buffer is not needed any more */
    }
}

/* Asks the hub for the mode of every new addition. */
static int ask_modes(api_call *call, hfs_commit_ops *ops)
{
    ask_ctx ctx = {call, ops};
    hfs_hub_preupload_fns fns = {ask_wanted, ask_sample, ask_before_request, ask_answer, &ctx};
    hfs_hub_preupload_counts counts = {0};
    char *gitignore = NULL, *gitattributes = NULL;
    int rc = commit_config_file(&gitignore, ops, ".gitignore");
    if (rc == 0)
        rc = commit_config_file(&gitattributes, ops, ".gitattributes");
    if (rc == 0)
        rc = hfs_hub_preupload_each(&counts, call->hub, &call->repo, call->revision, ops->n,
                                    gitignore, gitattributes, call->opts->create_pr, &fns);
    if (rc == 0 && counts.asked > 0) {
        hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_PREUPLOAD,
                              .n_lfs = counts.lfs,
                              .n_regular = counts.regular,
                              .n_ignored = counts.ignored,
                              .files_total = counts.asked};
        api_emit(call, &ev);
    }
    free(gitattributes);
    free(gitignore);
    return rc;
}

/* ---- LFS uploads ------------------------------------------------------------------------ */

typedef struct {
    const api_call *call;
    double started;
} upload_relay;

static void on_upload_progress(void *ctx, const hfs_lfs_upload_progress *p)
{
    const upload_relay *r = ctx;
    hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_UPLOAD_PROGRESS,
                          .files_done = p->items_done,
                          .files_total = p->items_total,
                          .bytes_done = p->bytes_done,
                          .bytes_total = p->bytes_total,
                          .seconds = hfs_now() - r->started};
    api_emit(r->call, &ev);
}

static bool wants_upload(const api_op *op)
{
    return op->kind == HFS_COMMIT_ADD && op->mode == HFS_UPLOAD_MODE_LFS && !op->ignored &&
           !op->uploaded;
}

static int by_sha256(const void *a, const void *b)
{
    const api_op *x = *(const api_op *const *)a, *y = *(const api_op *const *)b;
    return strcmp(x->sha256, y->sha256);
}

/* Marks every LFS addition with this content as on the hub, and gives back its buffer. */
static void mark_uploaded(hfs_commit_ops *ops, const char *sha256)
{
    for (size_t i = 0; i < ops->n; i++) {
        api_op *op = &ops->ops[i];
        if (wants_upload(op) && strcmp(op->sha256, sha256) == 0) {
            op->uploaded = true;
            api_op_release(op);
        }
    }
}

static int upload_lfs(api_call *call, hfs_commit_ops *ops)
{
    api_op **objs = hfs_calloc(ops->n ? ops->n : 1, sizeof(*objs));
    hfs_hub_lfs_object *objects = NULL;
    hfs_hub_lfs_action *actions = NULL;
    hfs_lfs_upload_item *items = NULL;
    char **labels = NULL;
    int *results = NULL;
    size_t m = 0, k = 0, n_refused = 0;
    uint64_t bytes = 0;
    hfs_buf refused = HFS_BUF_INIT;
    int rc = 0;

    /* Every object once: the same content at several paths is sent once. */
    for (size_t i = 0; i < ops->n; i++)
        if (wants_upload(&ops->ops[i]))
            objs[m++] = &ops->ops[i];
    if (m == 0)
        goto done;
    qsort(objs, m, sizeof(*objs), by_sha256);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (u == 0 || strcmp(objs[u - 1]->sha256, objs[i]->sha256) != 0)
            objs[u++] = objs[i];
    m = u;

    objects = hfs_calloc(m, sizeof(*objects));
    for (size_t i = 0; i < m; i++)
        objects[i] = (hfs_hub_lfs_object){objs[i]->sha256, objs[i]->size};
    actions = hfs_calloc(m, sizeof(*actions));
    if ((rc = api_check_cancel(call)) < 0)
        goto done;
    /* With create_pr the batch names no branch: read access is enough to open a PR. */
    rc = hfs_hub_lfs_batch(actions, call->hub, &call->repo,
                           call->opts->create_pr ? NULL : call->revision, objects, m);
    if (rc < 0) {
        free(actions); /* the call cleared what it had filled */
        actions = NULL;
        goto done;
    }

    items = hfs_calloc(m, sizeof(*items));
    labels = hfs_calloc(m, sizeof(*labels));
    for (size_t i = 0; i < m; i++) {
        const hfs_hub_lfs_action *a = &actions[i];
        const api_op *op = objs[i];
        if (a->kind == HFS_HUB_LFS_ERROR) {
            if (n_refused++ < REFUSED_SHOWN)
                hfs_buf_printf(&refused, "\n  %s: %s (code %d)", op->path,
                               a->error_message ? a->error_message : "refused", a->error_code);
            continue;
        }
        if (a->kind == HFS_HUB_LFS_PRESENT)
            continue;
        /* A file is opened by its path; a buffer's "path" only names it in messages. */
        labels[k] =
            op->from_buffer ? hfs_sprintf("%s (in memory)", op->path) : hfs_strdup(op->local_path);
        items[k] = (hfs_lfs_upload_item){.local_path = labels[k],
                                         .size = op->size,
                                         .sha256 = op->sha256,
                                         .action = a,
                                         .data = op->from_buffer ? op->data : NULL};
        /* An empty buffer has no address to read from, but has no byte to read either. */
        if (op->from_buffer && !op->data)
            items[k].data = "";
        bytes += op->size;
        k++;
    }
    if (n_refused) {
        if (n_refused > REFUSED_SHOWN)
            hfs_buf_printf(&refused, "\n  … and %zu more", n_refused - REFUSED_SHOWN);
        rc = hfs_error_set(HFS_ERROR,
                           "%s: the hub refused %zu LFS object(s); nothing of them was sent:%s",
                           call->opts->repo_id, n_refused, hfs_buf_cstr(&refused));
        goto done;
    }
    /* What the hub has already needs no sending. */
    for (size_t i = 0; i < m; i++)
        if (actions[i].kind == HFS_HUB_LFS_PRESENT)
            mark_uploaded(ops, actions[i].oid);
    if (k == 0)
        goto done;
    if ((rc = api_check_cancel(call)) < 0)
        goto done;

    upload_relay relay = {call, hfs_now()};
    hfs_apply_event start = {
        .kind = HFS_APPLY_EVENT_UPLOAD_START, .files_total = k, .bytes_total = bytes};
    api_emit(call, &start);
    hfs_lfs_upload_options uo = HFS_LFS_UPLOAD_OPTIONS_INIT;
    uo.jobs = call->opts->jobs ? call->opts->jobs : HFS_APPLY_DEFAULT_JOBS;
    uo.progress = on_upload_progress;
    uo.progress_ctx = &relay;
    uo.cancel = call->opts->cancel;
    results = hfs_calloc(k, sizeof(*results));
    rc = hfs_lfs_upload_all(results, call->hub, items, k, &uo);
    /* Objects that made it count, also when others failed: a new call sends only the rest. */
    for (size_t i = 0; i < k; i++) {
        if (results[i] != 0)
            continue;
        call->n_lfs_uploaded++;
        call->lfs_bytes_uploaded += items[i].size;
        mark_uploaded(ops, items[i].sha256);
    }
    if (rc < 0)
        goto done;
    hfs_apply_event end = {.kind = HFS_APPLY_EVENT_UPLOAD_DONE,
                           .files_done = k,
                           .files_total = k,
                           .bytes_done = bytes,
                           .bytes_total = bytes,
                           .seconds = hfs_now() - relay.started};
    api_emit(call, &end);
done:
    for (size_t i = 0; labels && i < k; i++)
        free(labels[i]);
    free(labels);
    free(results);
    free(items);
    for (size_t i = 0; actions && i < m; i++)
        hfs_hub_lfs_action_clear(&actions[i]);
    free(actions);
    free(objects);
    free(objs);
    hfs_buf_free(&refused);
    return rc;
}

int api_preupload(api_call *call, hfs_commit_ops *ops)
{
    int rc = ask_modes(call, ops);
    if (rc == 0)
        rc = upload_lfs(call, ops);
    return rc;
}

int hfs_preupload_lfs(const hfs_commit_options *opts, hfs_commit_ops *ops)
{
    api_call call;
    int rc = api_call_begin(&call, opts);
    if (rc == 0 && !ops)
        rc = hfs_error_set(HFS_EINVALID, "pre-upload: no operations list (NULL)");
    if (rc == 0 && ops->committed)
        rc = hfs_error_set(HFS_EINVALID,
                           "pre-upload: these operations were committed already; build a new "
                           "hfs_commit_ops for the next commit");
    if (rc == 0)
        rc = api_preupload(&call, ops);
    api_call_end(&call);
    return rc;
}
