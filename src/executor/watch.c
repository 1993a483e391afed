/* Scheduled syncs: one run of a sync (its lock, the plan with the append-only rules and the
 * pack, the apply, the squash), hfs_watch's thread per sync that runs it on its period until
 * stopped, cron's single run (hfs_watch_run), and the scheduled one-shot upload. */
#include "hfsync/watch.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/util.h"
#include "executor/executor.h"
#include "executor/pack.h"
#include "executor/state.h"
#include "executor/watch.h"
#include "hub/hub.h"
#include "manifest/manifest.h"
#include "planner/plan.h"

/* Bytes read at a time when a file's start is checked against the hub's copy. */
#define READ_CHUNK (256u * 1024u)

/* ---- editing a run's plan -------------------------------------------------------------- */

static void op_clear(hfs_plan_op *op)
{
    free(op->path);
    free(op->local);
    free(op->from);
}

void exec_plan_drop_op(hfs_plan_sync *s, size_t commit, size_t index)
{
    hfs_plan_commit *c = &s->commits[commit];
    op_clear(&c->ops[index]);
    memmove(&c->ops[index], &c->ops[index + 1], (c->n_ops - index - 1) * sizeof(*c->ops));
    c->n_ops--;
}

void exec_plan_add_op(hfs_plan_sync *s, const hfs_plan_op *op)
{
    if (s->n_commits == 0) {
        s->commits = hfs_realloc(s->commits, sizeof(*s->commits));
        memset(&s->commits[0], 0, sizeof(s->commits[0]));
        s->n_commits = 1;
    }
    hfs_plan_commit *c = &s->commits[0];
    c->ops = hfs_realloc(c->ops, (c->n_ops + 1) * sizeof(*c->ops));
    size_t at = c->n_ops;
    while (at > 0 && strcmp(c->ops[at - 1].path, op->path) > 0)
        at--;
    memmove(&c->ops[at + 1], &c->ops[at], (c->n_ops - at) * sizeof(*c->ops));
    c->ops[at] = *op;
    c->n_ops++;
}

static int by_content(const void *a, const void *b)
{
    const hfs_plan_op *x = *(const hfs_plan_op *const *)a, *y = *(const hfs_plan_op *const *)b;
    int c = strcmp(x->sha256, y->sha256);
    /* Plan order within one content: the first path uploads it, as the diff decides. */
    return c ? c : (x < y ? -1 : x > y);
}

/* Each LFS content is uploaded by one operation: when the one that carried it was left
 * out, the next one with that content carries it. */
static void settle_uploads(hfs_plan_sync *s)
{
    const hfs_plan_op **lfs = NULL;
    size_t n = 0, cap = 0;
    for (size_t c = 0; c < s->n_commits; c++)
        for (size_t i = 0; i < s->commits[c].n_ops; i++) {
            const hfs_plan_op *op = &s->commits[c].ops[i];
            if (op->lfs && (op->kind == HFS_OP_ADD || op->kind == HFS_OP_UPDATE))
                HFS_PUSH(lfs, n, cap, op);
        }
    if (n > 1)
        qsort(lfs, n, sizeof(*lfs), by_content);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        bool carried = false;
        while (j < n && strcmp(lfs[j]->sha256, lfs[i]->sha256) == 0)
            carried |= lfs[j++]->upload;
        if (!carried)
            ((hfs_plan_op *)lfs[i])->upload = true;
        i = j;
    }
    free(lfs);
}

void exec_plan_settle(hfs_plan *plan, hfs_plan_sync *s, const hfs_sync *sync)
{
    size_t keep = 0;
    for (size_t c = 0; c < s->n_commits; c++) {
        hfs_plan_commit *commit = &s->commits[c];
        if (commit->n_ops == 0) {
            free(commit->ops);
            free(commit->message);
            free(commit->description);
            continue;
        }
        s->commits[keep++] = *commit;
    }
    s->n_commits = keep;
    for (size_t c = 0; c < keep; c++) {
        hfs_plan_commit *commit = &s->commits[c];
        free(commit->message);
        commit->message = keep > 1
                              ? hfs_sprintf("%s (part %zu/%zu)", sync->commit.message, c + 1, keep)
                              : hfs_strdup(sync->commit.message);
        if (!commit->description)
            commit->description = hfs_strdup(sync->commit.description);
    }
    settle_uploads(s);
    hfs_plan_summary *sum = &s->summary;
    sum->n_add = sum->n_update = sum->n_delete = sum->n_copy = 0;
    sum->upload_files = sum->upload_bytes = 0;
    sum->commits = keep;
    for (size_t c = 0; c < keep; c++)
        for (size_t i = 0; i < s->commits[c].n_ops; i++) {
            const hfs_plan_op *op = &s->commits[c].ops[i];
            uint64_t *count[] = {&sum->n_add, &sum->n_update, &sum->n_delete, &sum->n_copy};
            (*count[op->kind])++;
            if (op->upload) {
                sum->upload_files++;
                sum->upload_bytes += op->size;
            }
        }
    hfs_plan_seal(plan);
}

/* ---- events ------------------------------------------------------------------------------ */

static const char *const event_names[] = {
    [HFS_WATCH_EVENT_START] = "start",           [HFS_WATCH_EVENT_APPLY] = "apply",
    [HFS_WATCH_EVENT_NO_CHANGES] = "no_changes", [HFS_WATCH_EVENT_PUSHED] = "pushed",
    [HFS_WATCH_EVENT_SKIPPED] = "skipped",       [HFS_WATCH_EVENT_REFUSED] = "refused",
    [HFS_WATCH_EVENT_PACKED] = "packed",         [HFS_WATCH_EVENT_UNPACKED] = "unpacked",
    [HFS_WATCH_EVENT_SQUASHED] = "squashed",     [HFS_WATCH_EVENT_FAILED] = "failed",
    [HFS_WATCH_EVENT_STOPPING] = "stopping",
};

const char *hfs_watch_event_name(hfs_watch_event_kind kind)
{
    if ((size_t)kind < HFS_ARRAY_LEN(event_names) && event_names[kind])
        return event_names[kind];
    return "unknown";
}

char *hfs_watch_event_to_json(const hfs_watch_event *ev)
{
    char stamp[32];
    struct tm tm;
    time_t now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *o = NULL;
    if (ev->kind == HFS_WATCH_EVENT_APPLY && ev->apply) {
        char *text = hfs_apply_event_to_json(ev->apply);
        o = json_loads(text, 0, NULL);
        free(text);
    }
    if (!o) {
        char *name = hfs_sprintf("watch_%s", hfs_watch_event_name(ev->kind));
        o = json_pack("{s:s}", "event", name);
        free(name);
        if (ev->sync)
            json_object_set_new(o, "sync", json_string(ev->sync));
        if (ev->repo_id) {
            json_object_set_new(o, "repo_id", json_string(ev->repo_id));
            json_object_set_new(o, "repo_type", json_string(hfs_repo_type_name(ev->repo_type)));
            json_object_set_new(o, "revision", json_string(ev->revision));
        }
        if (ev->message)
            json_object_set_new(o, "message", json_string(ev->message));
        if (ev->path)
            json_object_set_new(o, "path", json_string(ev->path));
        switch (ev->kind) {
        case HFS_WATCH_EVENT_START:
            json_object_set_new(o, "every", json_integer((json_int_t)ev->every));
            break;
        case HFS_WATCH_EVENT_PUSHED:
            json_object_set_new(o, "commits", json_integer((json_int_t)ev->commits));
            json_object_set_new(o, "files", json_integer((json_int_t)ev->files));
            json_object_set_new(o, "seconds", json_real(ev->seconds));
            break;
        case HFS_WATCH_EVENT_PACKED:
        case HFS_WATCH_EVENT_UNPACKED:
            json_object_set_new(o, "files", json_integer((json_int_t)ev->files));
            if (ev->kind == HFS_WATCH_EVENT_PACKED)
                json_object_set_new(o, "bytes", json_integer((json_int_t)ev->bytes));
            break;
        case HFS_WATCH_EVENT_FAILED:
            json_object_set_new(o, "code", json_integer(ev->error_code));
            json_object_set_new(o, "persistent", json_boolean(ev->persistent));
            json_object_set_new(o, "seconds", json_real(ev->seconds));
            break;
        case HFS_WATCH_EVENT_NO_CHANGES:
            json_object_set_new(o, "seconds", json_real(ev->seconds));
            break;
        default:
            break;
        }
        if (ev->kind != HFS_WATCH_EVENT_START && ev->kind != HFS_WATCH_EVENT_STOPPING)
            json_object_set_new(o, "last", json_boolean(ev->last));
    }
    json_object_set_new(o, "time", json_string(stamp));
    char *out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return out;
}

/* ---- printing events ------------------------------------------------------------------ */

#define JSON_PROGRESS_INTERVAL 0.25

struct hfs_watch_printer {
    hfs_apply_print_mode mode;
    FILE *out, *err;
    double last_progress;
};

hfs_watch_printer *hfs_watch_printer_new(hfs_apply_print_mode mode, FILE *out, FILE *err)
{
    hfs_watch_printer *p = hfs_calloc(1, sizeof(*p));
    p->mode = mode;
    p->out = out;
    p->err = err;
    return p;
}

void hfs_watch_printer_free(hfs_watch_printer *p)
{
    free(p);
}

static void line(hfs_watch_printer *p, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void line(hfs_watch_printer *p, const char *level, const char *fmt, ...)
{
    char stamp[32];
    struct tm tm;
    time_t now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    va_list ap;
    va_start(ap, fmt);
    char *text = hfs_vsprintf(fmt, ap);
    va_end(ap);
    fprintf(p->err, "%s hfsync: %s%s\n", stamp, level, text);
    fflush(p->err);
    free(text);
}

static bool is_progress(const hfs_watch_event *ev)
{
    if (ev->kind != HFS_WATCH_EVENT_APPLY)
        return false;
    hfs_apply_event_kind k = ev->apply->kind;
    return k == HFS_APPLY_EVENT_HASH_PROGRESS || k == HFS_APPLY_EVENT_UPLOAD_PROGRESS ||
           k == HFS_APPLY_EVENT_COMMIT_PROGRESS || k == HFS_APPLY_EVENT_LARGE_STATUS;
}

static void print_apply(hfs_watch_printer *p, const hfs_watch_event *w)
{
    const hfs_apply_event *ev = w->apply;
    char size[32];
    switch (ev->kind) {
    case HFS_APPLY_EVENT_CREATE_REPO:
        if (!ev->existed)
            line(p, "", "%s: created %s %s %s: %s", w->sync, ev->is_private ? "private" : "public",
                 hfs_repo_type_name(ev->repo_type), ev->repo_id, ev->url);
        break;
    case HFS_APPLY_EVENT_WARNING:
        line(p, "warning: ", "%s: %s", w->sync, ev->message);
        break;
    case HFS_APPLY_EVENT_IGNORED:
        line(p, "", "%s: %s left out: %s", w->sync, ev->path, ev->message);
        break;
    case HFS_APPLY_EVENT_UPLOAD_START:
        hfs_human_size(size, sizeof(size), ev->bytes_total);
        line(p, "", "%s: uploading %llu LFS file(s) (%s)", w->sync,
             (unsigned long long)ev->files_total, size);
        break;
    case HFS_APPLY_EVENT_UPLOAD_DONE:
        hfs_human_size(size, sizeof(size), ev->bytes_total);
        line(p, "", "%s: uploaded %llu LFS file(s) (%s) in %.1f s", w->sync,
             (unsigned long long)ev->files_total, size, ev->seconds);
        break;
    case HFS_APPLY_EVENT_COMMIT:
        line(p, "", "%s: committed %.7s to %s@%s: %s%s", w->sync, ev->commit_oid, ev->repo_id,
             ev->revision, ev->pr_url ? ev->pr_url : ev->url,
             ev->recovered ? " (the hub answered with an error, but the commit had landed)" : "");
        break;
    default:
        /* Errors come as the run's failure; progress and counts are for --json. */
        break;
    }
}

void hfs_watch_printer_event(void *printer, const hfs_watch_event *ev)
{
    hfs_watch_printer *p = printer;
    char size[32];
    if (p->mode == HFS_APPLY_PRINT_JSON) {
        if (is_progress(ev)) {
            double now = hfs_now();
            if (now - p->last_progress < JSON_PROGRESS_INTERVAL)
                return;
            p->last_progress = now;
        }
        char *text = hfs_watch_event_to_json(ev);
        fprintf(p->out, "%s\n", text);
        fflush(p->out);
        free(text);
        return;
    }
    if (p->mode == HFS_APPLY_PRINT_QUIET && ev->kind != HFS_WATCH_EVENT_FAILED)
        return;
    const char *last = ev->last ? " (the last run)" : "";
    switch (ev->kind) {
    case HFS_WATCH_EVENT_START:
        line(p, "", "%s: every %llu s, %s to %s %s@%s", ev->sync, (unsigned long long)ev->every,
             "pushing", hfs_repo_type_name(ev->repo_type), ev->repo_id, ev->revision);
        break;
    case HFS_WATCH_EVENT_APPLY:
        print_apply(p, ev);
        break;
    case HFS_WATCH_EVENT_NO_CHANGES:
        line(p, "", "%s: no changes%s", ev->sync, last);
        break;
    case HFS_WATCH_EVENT_PUSHED:
        line(p, "", "%s: pushed %llu change(s) in %zu commit(s) in %.1f s%s", ev->sync,
             (unsigned long long)ev->files, ev->commits, ev->seconds, last);
        break;
    case HFS_WATCH_EVENT_SKIPPED:
        line(p, "", "%s: this run is left to the other one: %s", ev->sync, ev->message);
        break;
    case HFS_WATCH_EVENT_REFUSED:
        line(p, "warning: ", "%s: %s", ev->sync, ev->message);
        break;
    case HFS_WATCH_EVENT_PACKED:
        hfs_human_size(size, sizeof(size), ev->bytes);
        line(p, "", "%s: packed %llu new file(s) (%s) into %s", ev->sync,
             (unsigned long long)ev->files, size, ev->path);
        break;
    case HFS_WATCH_EVENT_UNPACKED:
        line(p, "", "%s: %s landed; its %llu packed file(s) %s", ev->sync, ev->path,
             (unsigned long long)ev->files,
             strcmp(ev->message, "removed") == 0 ? "were removed" : "stay, remembered as packed");
        break;
    case HFS_WATCH_EVENT_SQUASHED:
        line(p, "", "%s: squashed the history of %s into one commit", ev->sync, ev->revision);
        break;
    case HFS_WATCH_EVENT_FAILED:
        line(p, "error: ", "%s: %s (%s)", ev->sync, ev->message,
             ev->last         ? "the last run failed"
             : ev->persistent ? "this needs fixing; every run tries again and says so"
                              : "the next run tries again");
        break;
    case HFS_WATCH_EVENT_STOPPING:
        line(p, "", "stopping: %s", ev->message);
        break;
    }
}

/* ---- a watcher and its syncs -------------------------------------------------------------- */

typedef struct watcher watcher;

typedef struct {
    watcher *w;
    const hfs_sync *sync;
    hfs_watch_sync_result *result;
    pthread_t thread;
    bool started;
    bool squash_pending; /* a push landed but its squash failed: the next run squashes */
    bool last;           /* the run in progress is the last one */
} runner;

struct watcher {
    const hfs_manifest *m;
    hfs_watch_options opts;
    char *state_dir;
    pthread_mutex_t emit_lock; /* one event at a time */
    pthread_mutex_t lock;      /* `stopping`, with `wake` */
    pthread_cond_t wake;
    bool stopping;
    runner *runners;
    size_t n;
    hfs_watch_result *result;
};

/* Fills in the sync's names and passes the event on, one at a time. */
static void watcher_emit(watcher *w, runner *r, hfs_watch_event *ev)
{
    if (r) {
        ev->sync = r->sync->name;
        ev->repo_id = r->sync->repo_id;
        ev->repo_type = r->sync->repo_type;
        ev->revision = r->sync->revision;
        ev->last = r->last;
    }
    if (!w->opts.event)
        return;
    pthread_mutex_lock(&w->emit_lock);
    w->opts.event(w->opts.event_ctx, ev);
    pthread_mutex_unlock(&w->emit_lock);
}

static void relay_apply(void *ctx, const hfs_apply_event *event)
{
    runner *r = ctx;
    hfs_watch_event ev = {.kind = HFS_WATCH_EVENT_APPLY, .apply = event};
    watcher_emit(r->w, r, &ev);
}

/* An error no retry mends: credentials, permissions, a repo or revision the hub does not
 * have, a setting the hub or a safety limit refuses. Network failures, 5xx and 429 (all
 * HFS_ENET), stale pins and busy locks are the next run's to retry. */
static bool is_persistent(int code)
{
    switch (code) {
    case HFS_EAUTH:
    case HFS_EINVALID:
    case HFS_ELIMIT:
        return true;
    case HFS_ENOTFOUND: {
        /* The hub said so (a missing repo or revision), rather than a local file that
         * vanished between the scan and its read. */
        long status = hfs_hub_last_status();
        return status == 401 || status == 403 || status == 404;
    }
    default:
        return false;
    }
}

/* ---- append-only ----------------------------------------------------------------------- */

typedef struct {
    char *path; /* a copy: operations are dropped (and freed) while the list is in use */
    bool found, lfs;
    uint64_t size;
    char oid[HFS_SHA256_HEX]; /* the git sha1 of a regular file, the sha256 of an LFS one */
} remote_copy;

static int by_path(const void *a, const void *b)
{
    return strcmp(((const remote_copy *)a)->path, ((const remote_copy *)b)->path);
}

static int on_remote(void *ctx, const hfs_hub_entry *entries, size_t n)
{
    struct {
        remote_copy *items;
        size_t n;
    } *list = ctx;
    for (size_t i = 0; i < n; i++) {
        if (entries[i].type != HFS_HUB_ENTRY_FILE)
            continue;
        remote_copy key = {.path = (char *)entries[i].path}; /* a key, never written */
        remote_copy *hit = bsearch(&key, list->items, list->n, sizeof(key), by_path);
        if (!hit)
            continue;
        hit->found = true;
        hit->lfs = entries[i].is_lfs;
        hit->size = entries[i].size;
        snprintf(hit->oid, sizeof(hit->oid), "%s",
                 entries[i].is_lfs ? entries[i].lfs_sha256 : entries[i].oid);
    }
    return 0;
}

/* Is the remote copy the first bytes of the local file? Read up to its size only. */
static int is_prefix(bool *out, const char *path, const remote_copy *rc)
{
    unsigned char *buf = NULL;
    hfs_hasher *h = NULL;
    char sha256[HFS_SHA256_HEX] = "", sha1[HFS_SHA1_HEX] = "";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rv = 0;
    *out = false;
    if (fd < 0)
        return hfs_error_set(errno == ENOENT ? HFS_ESTALE : HFS_ERROR, "cannot read %s: %s", path,
                             strerror(errno));
    buf = hfs_malloc(READ_CHUNK);
    h = hfs_hasher_new(rc->lfs, !rc->lfs, rc->size);
    for (uint64_t pos = 0; pos < rc->size;) {
        size_t want = rc->size - pos < READ_CHUNK ? (size_t)(rc->size - pos) : READ_CHUNK;
        ssize_t got = pread(fd, buf, want, (off_t)pos);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rv = hfs_error_set(HFS_ERROR, "cannot read %s: %s", path, strerror(errno));
            goto done;
        }
        if (got == 0)
            goto done; /* shorter than the hub's copy: not a prefix */
        hfs_hasher_update(h, buf, (size_t)got);
        pos += (uint64_t)got;
    }
    hfs_hasher_final(h, sha256, sha1);
    *out = strcmp(rc->lfs ? sha256 : sha1, rc->oid) == 0;
done:
    hfs_hasher_free(h);
    free(buf);
    close(fd);
    return rv;
}

static void refuse(runner *r, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void refuse(runner *r, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *why = hfs_vsprintf(fmt, ap);
    va_end(ap);
    hfs_watch_event ev = {.kind = HFS_WATCH_EVENT_REFUSED, .path = path, .message = why};
    watcher_emit(r->w, r, &ev);
    free(why);
}

/* schedule.append_only: the hub's files only ever grow. An update goes ahead when the hub's
 * copy is a prefix of the local file; any other change is left out (the hub keeps its copy)
 * and said; deletes never happen (the manifest refuses delete_patterns anyway). */
static int append_only_filter(runner *r, hfs_hub *hub, hfs_plan_sync *ps)
{
    struct {
        remote_copy *items;
        size_t n;
    } list = {NULL, 0};
    size_t cap = 0;
    const char **paths = NULL;
    int rc = 0;

    for (size_t c = 0; c < ps->n_commits; c++)
        for (size_t i = ps->commits[c].n_ops; i-- > 0;) {
            const hfs_plan_op *op = &ps->commits[c].ops[i];
            if (op->kind == HFS_OP_DELETE) {
                refuse(r, op->path, "%s is not deleted: schedule.append_only never deletes",
                       op->path);
                exec_plan_drop_op(ps, c, i);
            } else if (op->remote_oid[0] && op->local) {
                remote_copy rcopy = {.path = hfs_strdup(op->path)};
                HFS_PUSH(list.items, list.n, cap, rcopy);
            }
        }
    if (list.n == 0)
        goto done;
    qsort(list.items, list.n, sizeof(*list.items), by_path);
    paths = hfs_calloc(list.n, sizeof(*paths));
    for (size_t i = 0; i < list.n; i++)
        paths[i] = list.items[i].path;
    hfs_hub_repo repo = {ps->repo_type, ps->repo_id};
    rc = hfs_hub_paths_info(hub, &repo, ps->remote_head, paths, list.n, on_remote, &list);
    if (rc < 0)
        goto done;
    for (size_t c = 0; c < ps->n_commits && rc == 0; c++)
        for (size_t i = ps->commits[c].n_ops; i-- > 0 && rc == 0;) {
            const hfs_plan_op *op = &ps->commits[c].ops[i];
            if (!op->remote_oid[0] || !op->local)
                continue;
            remote_copy key = {.path = op->path}; /* a key, never written */
            const remote_copy *hub_copy = bsearch(&key, list.items, list.n, sizeof(key), by_path);
            if (!hub_copy || !hub_copy->found)
                continue; /* gone from the hub meanwhile: adding it is growing it */
            bool grown = false;
            if (hub_copy->size <= op->size) {
                char *local = hfs_path_join(ps->folder, op->local);
                rc = is_prefix(&grown, local, hub_copy);
                free(local);
                if (rc < 0)
                    break;
            }
            if (grown)
                continue;
            if (hub_copy->size > op->size)
                refuse(r, op->path,
                       "%s is shorter here (%" PRIu64 " bytes) than on the hub (%" PRIu64
                       " bytes): schedule.append_only only uploads files that grew; the hub "
                       "keeps its copy",
                       op->path, op->size, hub_copy->size);
            else
                refuse(r, op->path,
                       "%s was rewritten, not appended to (the hub's copy is not the start of "
                       "it): schedule.append_only leaves it out; the hub keeps its copy",
                       op->path);
            exec_plan_drop_op(ps, c, i);
        }
done:
    for (size_t i = 0; i < list.n; i++)
        free(list.items[i].path);
    free(paths);
    free(list.items);
    return rc;
}

/* ---- one run of one sync ----------------------------------------------------------------- */

static void record_failure(runner *r, int rc, double started)
{
    char *message = hfs_strdup(hfs_error_last());
    bool persistent = is_persistent(rc);
    hfs_watch_sync_result *res = r->result;
    res->failures++;
    res->last_error = rc;
    free(res->last_message);
    res->last_message = hfs_strdup(message);
    if (persistent) {
        res->persistent_error = rc;
        free(res->persistent_message);
        res->persistent_message = hfs_strdup(message);
    }
    hfs_watch_event ev = {.kind = HFS_WATCH_EVENT_FAILED,
                          .message = message,
                          .error_code = rc,
                          .persistent = persistent,
                          .seconds = hfs_now() - started};
    watcher_emit(r->w, r, &ev);
    free(message);
}

static void utc_stamp(char out[32])
{
    struct tm tm;
    time_t now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(out, 32, "%Y%m%dT%H%M%SZ", &tm);
}

static int squash(runner *r, hfs_hub *hub)
{
    hfs_hub_repo repo = {r->sync->repo_type, r->sync->repo_id};
    int rc = hfs_hub_super_squash(hub, &repo, r->sync->revision, NULL);
    r->squash_pending = rc < 0;
    if (rc < 0) {
        char *why = hfs_strdup(hfs_error_last());
        rc = hfs_error_set(rc,
                           "sync %s: the push landed, but squashing the history of %s "
                           "failed (the next run tries again): %s",
                           r->sync->name, r->sync->revision, why);
        free(why);
        return rc;
    }
    hfs_watch_event ev = {.kind = HFS_WATCH_EVENT_SQUASHED};
    watcher_emit(r->w, r, &ev);
    return 0;
}

static void emit_pack(runner *r, hfs_watch_event_kind kind, const exec_pack_info *info)
{
    if (!info->archive)
        return;
    hfs_watch_event ev = {
        .kind = kind, .path = info->archive, .files = info->files, .bytes = info->bytes};
    if (kind == HFS_WATCH_EVENT_UNPACKED)
        ev.message = info->removed ? "removed" : "kept";
    watcher_emit(r->w, r, &ev);
}

static int run_once(runner *r)
{
    watcher *w = r->w;
    const hfs_sync *sync = r->sync;
    hfs_sync_lock *lock = NULL;
    hfs_hub *hub = NULL;
    hfs_plan *plan = NULL;
    hfs_apply_result applied = {0};
    exec_pack_info packed = {0}, settled = {0};
    double started = hfs_now();
    char stamp[32];
    int rc;

    utc_stamp(stamp);
    r->result->runs++;
    /* The same lock name as apply's: `upload --every` runs are named after their target. */
    char *lock_name = hfs_state_name(w->m->path, sync->name, sync->repo_type, sync->repo_id,
                                     sync->revision, sync->path_in_repo);
    rc = hfs_sync_lock_acquire(&lock, w->state_dir, lock_name, w->opts.wait_lock);
    free(lock_name);
    if (rc == HFS_ELOCKED) {
        /* The holder (a cron run, another watch) pushes what there is: not a failure. */
        hfs_watch_event ev = {.kind = HFS_WATCH_EVENT_SKIPPED, .message = hfs_error_last()};
        watcher_emit(w, r, &ev);
        hfs_error_clear();
        r->result->skipped++;
        r->result->last_error = 0;
        return 0;
    }
    if (rc < 0)
        goto done;

    hfs_hub_options ho = HFS_HUB_OPTIONS_INIT;
    ho.manifest_endpoint = w->m->endpoint;
    ho.verbose = w->opts.verbose;
    if ((rc = hfs_hub_new(&hub, &ho)) < 0)
        goto done;
    if ((rc = exec_pack_recover(&settled, hub, sync, w->state_dir)) < 0)
        goto done;
    emit_pack(r, HFS_WATCH_EVENT_UNPACKED, &settled);

    const char *names[] = {sync->name};
    hfs_plan_options po = HFS_PLAN_OPTIONS_INIT;
    po.syncs = names;
    po.n_syncs = 1;
    po.jobs = w->opts.jobs;
    po.state_dir = w->state_dir;
    if ((rc = hfs_plan_compute(&plan, w->m, &po)) < 0)
        goto done;
    hfs_plan_sync *ps = &plan->syncs[0];
    if (sync->schedule_append_only && !ps->create && (rc = append_only_filter(r, hub, ps)) < 0)
        goto done;
    if (sync->schedule_pack.enabled) {
        rc = exec_pack_prepare(&packed, ps, sync, w->state_dir, hub, stamp);
        if (rc < 0)
            goto done;
        emit_pack(r, HFS_WATCH_EVENT_PACKED, &packed);
    }
    exec_plan_settle(plan, ps, sync);

    if (!hfs_plan_has_changes(plan)) {
        hfs_watch_event ev = {.kind = HFS_WATCH_EVENT_NO_CHANGES, .seconds = hfs_now() - started};
        watcher_emit(w, r, &ev);
    } else if (w->opts.review && !w->opts.review(w->opts.review_ctx, plan)) {
        /* Not applied: a packed archive goes back to being its files. */
        rc = exec_pack_recover(NULL, hub, sync, w->state_dir);
        goto done;
    } else {
        hfs_apply_options ao = HFS_APPLY_OPTIONS_INIT;
        ao.jobs = w->opts.jobs;
        ao.verbose = w->opts.verbose;
        ao.event = relay_apply;
        ao.event_ctx = r;
        ao.cancel = w->opts.cancel;
        ao.state_dir = w->state_dir;
        ao.allow_growth = true;
        ao.lock_held = true;
        if ((rc = hfs_apply(&applied, plan, &ao)) < 0)
            goto done;
        r->result->pushes++;
        r->result->commits += applied.n_commits;
        if (packed.archive) {
            exec_pack_info_clear(&settled);
            if ((rc = exec_pack_finish(&settled, sync, w->state_dir)) < 0)
                goto done;
            emit_pack(r, HFS_WATCH_EVENT_UNPACKED, &settled);
        }
        hfs_plan_summary sum;
        hfs_plan_get_summary(&sum, plan);
        hfs_watch_event ev = {.kind = HFS_WATCH_EVENT_PUSHED,
                              .commits = applied.n_commits,
                              .files = sum.n_add + sum.n_update + sum.n_delete + sum.n_copy,
                              .seconds = hfs_now() - started};
        watcher_emit(w, r, &ev);
        if (applied.n_commits > 0 && sync->schedule_squash_history)
            r->squash_pending = true;
    }
    if (r->squash_pending && sync->schedule_squash_history)
        rc = squash(r, hub);
done:
    if (rc < 0)
        record_failure(r, rc, started);
    else
        r->result->last_error = 0;
    exec_pack_info_clear(&packed);
    exec_pack_info_clear(&settled);
    hfs_apply_result_clear(&applied);
    hfs_plan_free(plan);
    hfs_hub_free(hub);
    hfs_sync_lock_release(lock);
    return rc;
}

/* ---- the watcher: a thread per sync ------------------------------------------------------ */

static void watcher_free(watcher *w)
{
    free(w->runners);
    free(w->state_dir);
    pthread_mutex_destroy(&w->emit_lock);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->wake);
}

static int not_scheduled(const hfs_manifest *m, const char *name)
{
    return hfs_error_set(HFS_EINVALID,
                         "sync %s of %s has no schedule: add `schedule: {every: 10m}` to it "
                         "(scheduled runs are for syncs with a schedule)",
                         name, m->path);
}

/* The selected syncs (every scheduled one when none is named), each with its result. */
static int watcher_init(watcher *w, hfs_watch_result *result, const hfs_manifest *m,
                        const hfs_watch_options *opts)
{
    static const hfs_watch_options defaults = HFS_WATCH_OPTIONS_INIT;
    memset(w, 0, sizeof(*w));
    w->m = m;
    w->opts = opts ? *opts : defaults;
    w->result = result;
    pthread_mutex_init(&w->emit_lock, NULL);
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &attr);
    pthread_condattr_destroy(&attr);
    w->state_dir =
        w->opts.state_dir ? hfs_strdup(w->opts.state_dir) : hfs_path_join(m->dir, ".hfsync");
    memset(result, 0, sizeof(*result));
    if (w->opts.version != HFS_WATCH_OPTIONS_VERSION)
        return hfs_error_set(HFS_EINVALID,
                             "hfs_watch_options version %d is not supported (expected %d)",
                             w->opts.version, HFS_WATCH_OPTIONS_VERSION);
    for (size_t k = 0; k < w->opts.n_syncs; k++) {
        const hfs_sync *s = hfs_manifest_find_sync(m, w->opts.syncs[k]);
        if (!s) {
            hfs_buf names = HFS_BUF_INIT;
            for (size_t i = 0; i < m->n_syncs; i++)
                hfs_buf_printf(&names, "%s%s", i ? ", " : "", m->syncs[i].name);
            int rc = hfs_error_set(HFS_EINVALID, "%s has no sync named \"%s\" (its syncs: %s)",
                                   m->path, w->opts.syncs[k], hfs_buf_cstr(&names));
            hfs_buf_free(&names);
            return rc;
        }
        if (!s->scheduled)
            return not_scheduled(m, s->name);
    }
    w->runners = hfs_calloc(m->n_syncs ? m->n_syncs : 1, sizeof(*w->runners));
    result->syncs = hfs_calloc(m->n_syncs ? m->n_syncs : 1, sizeof(*result->syncs));
    for (size_t i = 0; i < m->n_syncs; i++) {
        const hfs_sync *s = &m->syncs[i];
        bool wanted = w->opts.n_syncs == 0 && s->scheduled;
        for (size_t k = 0; k < w->opts.n_syncs; k++)
            wanted |= strcmp(w->opts.syncs[k], s->name) == 0;
        if (!wanted)
            continue;
        hfs_watch_sync_result *res = &result->syncs[result->n_syncs++];
        res->sync = hfs_strdup(s->name);
        w->runners[w->n] = (runner){.w = w, .sync = s, .result = res};
        w->n++;
    }
    if (w->n == 0)
        return hfs_error_set(HFS_EINVALID,
                             "%s has no scheduled sync: add `schedule: {every: 10m}` to the "
                             "syncs to run on a schedule",
                             m->path);
    return 0;
}

static bool should_stop(watcher *w)
{
    pthread_mutex_lock(&w->lock);
    bool stop = w->stopping;
    pthread_mutex_unlock(&w->lock);
    return stop;
}

/* Waits until `due` (hfs_now() seconds) or a stop; true when stopping. */
static bool wait_until(watcher *w, double due)
{
    pthread_mutex_lock(&w->lock);
    while (!w->stopping) {
        double left = due - hfs_now();
        if (left <= 0)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        time_t whole = (time_t)left;
        ts.tv_sec += whole;
        ts.tv_nsec += (long)((left - (double)whole) * 1e9);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->wake, &w->lock, &ts);
    }
    bool stop = w->stopping;
    pthread_mutex_unlock(&w->lock);
    return stop;
}

static bool cancelled(const watcher *w)
{
    return w->opts.cancel && *w->opts.cancel;
}

/* A run at once, then one per period, start to start; after a stop, one last run (unless
 * cancelled: then what was asked is to quit now). */
static void *runner_main(void *arg)
{
    runner *r = arg;
    watcher *w = r->w;
    double due = hfs_now();
    for (;;) {
        r->last = wait_until(w, due);
        if (r->last && cancelled(w))
            break;
        double started = hfs_now();
        run_once(r);
        if (r->last)
            break;
        due = started + (double)r->sync->schedule_every;
        if (should_stop(w) && cancelled(w))
            break;
    }
    return NULL;
}

/* The verdict when watch stops: each sync whose last run failed, or that met an error no
 * retry mends, is named with what went wrong. */
static int verdict(const hfs_watch_result *res)
{
    hfs_buf why = HFS_BUF_INIT;
    size_t bad = 0;
    for (size_t i = 0; i < res->n_syncs; i++) {
        const hfs_watch_sync_result *s = &res->syncs[i];
        if (s->persistent_error) {
            hfs_buf_printf(&why, "\n  sync %s: %s", s->sync, s->persistent_message);
            if (s->last_error == 0)
                hfs_buf_puts(&why, " (its last run succeeded)");
            bad++;
        } else if (s->last_error) {
            hfs_buf_printf(&why, "\n  sync %s: its last run failed: %s", s->sync, s->last_message);
            bad++;
        }
    }
    int rc = 0;
    if (bad)
        rc = hfs_error_set(HFS_ERROR, "%zu scheduled sync%s did not end well:%s", bad,
                           bad == 1 ? "" : "s", hfs_buf_cstr(&why));
    hfs_buf_free(&why);
    return rc;
}

int hfs_watch(hfs_watch_result *out, const hfs_manifest *m, const hfs_watch_options *opts)
{
    hfs_watch_result local = {0};
    hfs_watch_result *res = out ? out : &local;
    watcher w;
    int rc = watcher_init(&w, res, m, opts);
    if (rc < 0)
        goto done;
    for (size_t i = 0; i < w.n; i++) {
        runner *r = &w.runners[i];
        hfs_watch_event ev = {.kind = HFS_WATCH_EVENT_START, .every = r->sync->schedule_every};
        watcher_emit(&w, r, &ev);
    }
    for (size_t i = 0; i < w.n; i++) {
        runner *r = &w.runners[i];
        int err = pthread_create(&r->thread, NULL, runner_main, r);
        if (err != 0) {
            rc = hfs_error_set(HFS_ERROR, "cannot start a thread for sync %s: %s", r->sync->name,
                               strerror(err));
            break;
        }
        r->started = true;
    }
    /* Signal handlers can only set a flag: this thread turns it into a wake-up. */
    while (rc == 0 && !(w.opts.stop && *w.opts.stop)) {
        struct timespec nap = {0, 50 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    if (rc == 0) {
        hfs_watch_event ev = {.kind = HFS_WATCH_EVENT_STOPPING,
                              .message =
                                  cancelled(&w) ? "stopping now" : "a last run of each sync"};
        watcher_emit(&w, NULL, &ev);
    }
    pthread_mutex_lock(&w.lock);
    w.stopping = true;
    pthread_cond_broadcast(&w.wake);
    pthread_mutex_unlock(&w.lock);
    for (size_t i = 0; i < w.n; i++)
        if (w.runners[i].started)
            pthread_join(w.runners[i].thread, NULL);
    if (rc == 0)
        rc = verdict(res);
done:
    watcher_free(&w);
    hfs_watch_result_clear(&local);
    return rc;
}

int hfs_watch_run(hfs_watch_result *out, const hfs_manifest *m, const hfs_watch_options *opts)
{
    hfs_watch_result local = {0};
    hfs_watch_result *res = out ? out : &local;
    watcher w;
    int rc = watcher_init(&w, res, m, opts);
    char *first = NULL;
    for (size_t i = 0; rc == 0 && i < w.n; i++) {
        int err = run_once(&w.runners[i]);
        if (err < 0 && !first) {
            first = hfs_strdup(hfs_error_last());
            rc = err;
        }
    }
    if (first)
        hfs_error_set(rc, "%s", first);
    free(first);
    watcher_free(&w);
    hfs_watch_result_clear(&local);
    return rc;
}

void hfs_watch_result_clear(hfs_watch_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_syncs; i++) {
        free(r->syncs[i].sync);
        free(r->syncs[i].last_message);
        free(r->syncs[i].persistent_message);
    }
    free(r->syncs);
    memset(r, 0, sizeof(*r));
}

/* ---- the scheduled one-shot upload --------------------------------------------------------- */

/* A file name as a pattern that matches only itself: fnmatch's *, ? and [ become classes. */
static char *literal_pattern(const char *name)
{
    hfs_buf b = HFS_BUF_INIT;
    for (const char *p = name; *p; p++) {
        if (*p == '*' || *p == '?' || *p == '[')
            hfs_buf_printf(&b, "[%c]", *p);
        else
            hfs_buf_putc(&b, *p);
    }
    return hfs_buf_detach(&b);
}

int hfs_upload_every(hfs_watch_result *out, const hfs_upload_spec *spec, double minutes,
                     const hfs_watch_options *opts)
{
    static const hfs_watch_options defaults = HFS_WATCH_OPTIONS_INIT;
    hfs_manifest *m = NULL;
    char *base = NULL, *local = NULL, *folder = NULL, *prefix = NULL, *pattern = NULL;
    int rc = 0;

    if (out)
        memset(out, 0, sizeof(*out));
    if (!(minutes > 0) || !isfinite(minutes) || minutes * 60.0 > 1e9) {
        rc = hfs_error_set(HFS_EINVALID,
                           "--every must be a number of minutes above 0 (e.g. 5 or 0.5), not "
                           "%g",
                           minutes);
        goto done;
    }
    uint64_t every = (uint64_t)(minutes * 60.0 + 0.5);
    if (every == 0)
        every = 1;
    if (spec->n_delete > 0) {
        rc = hfs_error_set(HFS_EINVALID, "--delete cannot be used with --every: scheduled "
                                         "uploads never delete remote files");
        goto done;
    }
    if (spec->create_pr) {
        rc = hfs_error_set(HFS_EINVALID, "--create-pr cannot be used with --every: scheduled "
                                         "uploads commit to the branch (set --revision)");
        goto done;
    }
    if (!spec->repo_id) {
        rc = hfs_error_set(HFS_EINVALID, "upload: a repo id (namespace/name) is required");
        goto done;
    }
    if ((rc = hfs_repo_id_validate(spec->repo_id)) < 0)
        goto done;
    base = spec->base_dir ? hfs_strdup(spec->base_dir) : getcwd(NULL, 0);
    if (!base) {
        rc = hfs_error_set(HFS_ERROR, "cannot read the current directory: %s", strerror(errno));
        goto done;
    }
    const char *given = spec->local_path ? spec->local_path : strchr(spec->repo_id, '/') + 1;
    local = given[0] == '/' ? hfs_strdup(given) : hfs_path_join(base, given);
    struct stat st;
    if (stat(local, &st) != 0) {
        rc = hfs_error_set(errno == ENOENT ? HFS_ENOTFOUND : HFS_ERROR,
                           "cannot upload %s every %g minutes: %s%s", local, minutes,
                           strerror(errno),
                           spec->local_path ? ""
                                            : " (no LOCAL_PATH was given: the default is "
                                              "the file or folder named like the repo)");
        goto done;
    }

    /* No --delete and no --create-pr here (refused above). */
    hfs_sync_spec ms;
    exec_upload_sync_spec(&ms, spec, S_ISDIR(st.st_mode) ? local : NULL);
    ms.schedule_every = every;
    const char *allow[1];
    if (S_ISREG(st.st_mode)) {
        /* As huggingface-cli does: the file's folder is watched, for that file alone. */
        char *copy = hfs_strdup(local);
        folder = hfs_strdup(dirname(copy));
        free(copy);
        const char *name = strrchr(local, '/') + 1;
        const char *target = spec->path_in_repo;
        if (target) {
            size_t tl = strlen(target), nl = strlen(name);
            if (tl > 0 && target[tl - 1] == '/') {
                prefix = hfs_strdup(target);
            } else if (tl >= nl && strcmp(target + tl - nl, name) == 0 &&
                       (tl == nl || target[tl - nl - 1] == '/')) {
                prefix = hfs_strndup(target, tl - nl);
            } else {
                rc = hfs_error_set(HFS_EINVALID,
                                   "with --every, %s keeps its name in the repo: PATH_IN_REPO "
                                   "must end with \"%s\" or name a folder (ending in '/'), not "
                                   "\"%s\"",
                                   local, name, target);
                goto done;
            }
        }
        pattern = literal_pattern(name);
        allow[0] = pattern;
        ms.folder_path = folder;
        ms.path_in_repo = prefix;
        ms.allow_patterns = allow;
        ms.n_allow_patterns = 1;
        /* The file was named: no .gitignore of its folder applies to it. */
        ms.gitignore = false;
    } else if (!S_ISDIR(st.st_mode)) {
        rc = hfs_error_set(HFS_EINVALID, "cannot upload %s: it is neither a file nor a folder",
                           local);
        goto done;
    }
    if ((rc = hfs_manifest_new_single(&m, base, &ms)) < 0)
        goto done;
    hfs_watch_options wo = opts ? *opts : defaults;
    wo.syncs = NULL;
    wo.n_syncs = 0;
    rc = hfs_watch(out, m, &wo);
done:
    hfs_manifest_free(m);
    free(pattern);
    free(prefix);
    free(folder);
    free(local);
    free(base);
    return rc;
}
