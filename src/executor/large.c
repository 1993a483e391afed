/* Strategy large: upload_large_folder's semantics, made reviewable. The plan's operations go
 * to the revision in adaptive commits, preupload, uploads and commits pipelined, resumable. */
#include <errno.h>
#include <pthread.h>
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
#include "executor/large.h"
#include "hfsync/large.h"

/* upload_large_folder's COMMIT_SIZE_SCALE: files per commit, one step up after a commit of
 * the full size that took less than FAST_COMMIT_SECONDS, one step down after a failure. */
static const size_t SCALE[] = {20, 50, 75, 100, 125, 200, 250, 400, 600, 1000};
#define SCALE_START 1
#define FAST_COMMIT_SECONDS 40.0
/* A commit that fails this many times in a row (each time smaller) stops the apply. */
#define COMMIT_ATTEMPTS 5
/* Entries handed to one LFS batch-and-upload round. */
#define UPLOAD_CHUNK HFS_HUB_LFS_BATCH
/* Objects this big upload in a lane of their own (see upload_lane). */
#define BIG_OBJECT_BYTES (64ull << 20)
/* The status event, and the journal after uploads (commits always save it). */
#define STATUS_INTERVAL 5.0
#define JOURNAL_UPLOAD_INTERVAL 1.0

/* ---- the status, for people and machines ------------------------------------------------ */

void exec_large_status_format(char *out, size_t size, const hfs_apply_event *ev)
{
    const hfs_apply_large_status *st = ev->large;
    char hashed[32], uploaded[32], committed[32], skipped[32] = "";
    if (!st) {
        snprintf(out, size, "(no status)");
        return;
    }
    hfs_human_size(hashed, sizeof(hashed), st->bytes_hashed);
    hfs_human_size(uploaded, sizeof(uploaded), st->bytes_uploaded + st->bytes_skipped);
    hfs_human_size(committed, sizeof(committed), st->bytes_committed + st->bytes_skipped);
    if (st->files_skipped)
        snprintf(skipped, sizeof(skipped), " (%llu before)", (unsigned long long)st->files_skipped);
    /* Files an earlier apply committed count as uploaded and committed: the totals say
     * how far the whole plan is. */
    snprintf(out, size,
             "hashed %llu (%s) · uploaded %llu/%llu (%s) · committed %llu/%llu (%s)%s in %zu "
             "commit(s), next %zu files · workers: hash %u, preupload %u, upload %u, commit %u",
             (unsigned long long)st->files_hashed, hashed,
             (unsigned long long)(st->files_uploaded + st->files_skipped),
             (unsigned long long)st->files_total, uploaded,
             (unsigned long long)(st->files_committed + st->files_skipped),
             (unsigned long long)st->files_total, committed, skipped, st->commits,
             st->commit_target, st->workers_hash, st->workers_preupload, st->workers_upload,
             st->workers_commit);
}

void exec_large_status_to_json(json_t *o, const hfs_apply_event *ev)
{
    const hfs_apply_large_status *st = ev->large;
    if (!st)
        return;
    json_t *workers = json_pack("{s:i, s:i, s:i, s:i}", "hash", (int)st->workers_hash, "preupload",
                                (int)st->workers_preupload, "upload", (int)st->workers_upload,
                                "commit", (int)st->workers_commit);
    json_t *fields = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:f}", "files_total",
        (json_int_t)st->files_total, "bytes_total", (json_int_t)st->bytes_total, "files_hashed",
        (json_int_t)st->files_hashed, "bytes_hashed", (json_int_t)st->bytes_hashed, "files_skipped",
        (json_int_t)st->files_skipped, "bytes_skipped", (json_int_t)st->bytes_skipped,
        "files_uploaded", (json_int_t)st->files_uploaded, "bytes_uploaded",
        (json_int_t)st->bytes_uploaded, "files_committed", (json_int_t)st->files_committed,
        "bytes_committed", (json_int_t)st->bytes_committed, "commits", (json_int_t)st->commits,
        "commit_target", (json_int_t)st->commit_target, "workers", workers, "seconds", ev->seconds);
    if (fields)
        json_object_update(o, fields);
    json_decref(fields);
}

bool exec_large_status_final(const hfs_apply_event *ev)
{
    const hfs_apply_large_status *st = ev->large;
    return st && st->files_committed + st->files_skipped >= st->files_total;
}

/* ---- resuming: the pin check's view of our own commits ------------------------------------ */

typedef struct {
    const char *trailer; /* "hfsync-plan: ID" */
    const char *stop;    /* the pinned head; NULL: walk to the root */
    size_t ours, foreign;
    bool reached;      /* met `stop` */
    bool foreign_last; /* the foreign commit was the last one seen (the root) */
} history_walk;

static int on_history(void *ctx, const hfs_hub_commit_entry *c)
{
    history_walk *w = ctx;
    if (!c->id)
        return 1;
    if (w->stop && strcmp(c->id, w->stop) == 0) {
        w->reached = true;
        return 1;
    }
    const char *text = c->message ? c->message : c->title;
    if (w->foreign > 0) {
        /* Something follows a commit that is not ours: not a repo only we wrote to. */
        w->foreign_last = false;
        return 1;
    }
    if (text && exec_has_line(text, w->trailer)) {
        w->ours++;
        return 0;
    }
    w->foreign++;
    w->foreign_last = true;
    /* Below the pinned head nothing foreign may appear; towards the root, the hub's own
     * first commit is the one allowed. */
    return w->stop ? 1 : 0;
}

int exec_large_repin(exec_ctx *x, const hfs_plan_sync **syncs, size_t n, hfs_plan_sync *copies)
{
    char *trailer = hfs_sprintf("%s %s", HFS_APPLY_PLAN_TRAILER, hfs_plan_id(x->plan));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const hfs_plan_sync *s = syncs[i];
        if (s->strategy != HFS_STRATEGY_LARGE || s->transport != HFS_TRANSPORT_HTTP)
            continue;
        hfs_hub_repo repo = {s->repo_type, s->repo_id};
        hfs_hub_repo_info info = {0};
        rc = hfs_hub_repo_head_get(&info, x->hub, &repo, s->revision);
        if (rc < 0 || !info.sha || (!s->create && strcmp(info.sha, s->remote_head) == 0)) {
            /* Missing or unmoved: the pin check has the last word. */
            if (rc < 0)
                hfs_error_clear();
            rc = 0;
            hfs_hub_repo_info_clear(&info);
            continue;
        }
        history_walk w = {trailer, s->create ? NULL : s->remote_head, 0, 0, false, false};
        rc = hfs_hub_list_commits(x->hub, &repo, info.sha, on_history, &w);
        if (rc > 0)
            rc = 0;
        bool only_ours = s->create ? w.ours > 0 && w.foreign == 1 && w.foreign_last
                                   : w.ours > 0 && w.foreign == 0 && w.reached;
        if (rc == 0 && only_ours) {
            copies[i] = *s;
            copies[i].create = false;
            snprintf(copies[i].remote_head, sizeof(copies[i].remote_head), "%s", info.sha);
            syncs[i] = &copies[i];
            hfs_debug("sync %s: %s@%s moved from %.7s to %.7s by %zu commit(s) of this plan: "
                      "resuming",
                      s->name, s->repo_id, s->revision, s->create ? "(new)" : s->remote_head,
                      info.sha, w.ours);
        }
        hfs_hub_repo_info_clear(&info);
    }
    free(trailer);
    return rc;
}

/* The plan's own sync (before any re-pin), for what it pinned. */
static const hfs_plan_sync *planned_sync(const exec_ctx *x, const hfs_plan_sync *s)
{
    for (size_t i = 0; i < x->plan->n_syncs; i++)
        if (strcmp(x->plan->syncs[i].name, s->name) == 0)
            return &x->plan->syncs[i];
    return s;
}

/* ---- the run --------------------------------------------------------------------------- */

/* The pipeline is one array of entries (deletes first, then the other operations in path
 * order) and a state per entry that only moves forward: the preupload thread confirms modes,
 * the upload lanes get LFS content (and regular copies) to the hub, the commit thread
 * commits the ready entries in groups, and this thread watches. Regular files are ready once
 * the hub has confirmed their mode; the rest once their content is there. */
enum { ENTRY_PENDING, ENTRY_QUEUED, ENTRY_READY, ENTRY_COMMITTED };

/* The upload stage runs in two lanes, a thread each: objects of BIG_OBJECT_BYTES or more in
 * one, everything else in the other. An LFS round only ends when its last object is in, so
 * with one lane a multi-GiB file held back every small file queued behind it, and their
 * commits, until its last part was sent. The lanes share the --jobs transfer slots (an equal
 * share each while both have work, all of them for one alone). */
enum { LANE_BIG, LANE_SMALL, N_LANES };

typedef struct large_run large_run;

typedef struct {
    large_run *r;
    size_t *queue;        /* entries waiting for this lane, in order */
    size_t queued, taken; /* appended by preupload, taken by the lane's thread */
    uint64_t inflight;    /* bytes of the lane's LFS round in progress */
} upload_lane;

struct large_run {
    exec_sync *s; /* the sync as apply_sync set it up (the caller's context) */
    exec_ctx wx;  /* the workers' context: events through relay(), `stop` cancels */
    hfs_apply_options wopts;
    exec_sync ws;       /* the workers' sync: wx, and the moving parent */
    const char *pinned; /* the head the plan was made against (regular copies read it) */
    exec_entry *entries;
    size_t n, n_deletes;
    size_t file_cap;   /* files per commit: the plan's max_files */
    uint64_t byte_cap; /* upload bytes per commit: the plan's max_bytes */
    char *message, *description;
    unsigned jobs;

    pthread_mutex_t mu; /* everything below */
    pthread_cond_t cv;
    unsigned char *state;  /* per entry: ENTRY_* */
    unsigned char *landed; /* per entry: found committed by an earlier apply meanwhile */
    upload_lane lanes[N_LANES];
    unsigned lanes_running, lanes_uploading;
    hfs_lfs_slots *slots;      /* shared by the lanes */
    pthread_mutex_t result_mu; /* s->x->result, which both lanes add to */
    size_t unsettled;          /* entries not READY or COMMITTED yet */
    size_t first_open;         /* every entry before it is committed */
    bool preupload_over, upload_over, commit_over;
    size_t scale;
    hfs_apply_large_status st;
    int rc;
    char *error;
    volatile int stop; /* the workers' cancel flag: a failure, or the caller's */

    pthread_mutex_t emit_mu;    /* the caller's event callback, one thread at a time */
    pthread_mutex_t journal_mu; /* s->journal */
    double journal_saved;
};

static void emit_locked(large_run *r, const hfs_apply_event *ev)
{
    const hfs_apply_options *o = r->s->x->opts;
    if (!o->event)
        return;
    pthread_mutex_lock(&r->emit_mu);
    o->event(o->event_ctx, ev);
    pthread_mutex_unlock(&r->emit_mu);
}

/* The workers' events: the per-batch ones would be thousands of lines, so the status event
 * stands for them; the rest go to the caller. */
static void relay(void *ctx, const hfs_apply_event *ev)
{
    large_run *r = ctx;
    switch (ev->kind) {
    case HFS_APPLY_EVENT_UPLOAD_PROGRESS:
    case HFS_APPLY_EVENT_PREUPLOAD:
    case HFS_APPLY_EVENT_UPLOAD_START:
    case HFS_APPLY_EVENT_UPLOAD_DONE:
    case HFS_APPLY_EVENT_COMMIT_PROGRESS:
        return;
    default:
        emit_locked(r, ev);
    }
}

/* The first failure stops every stage; its message is the apply's. */
static void fail(large_run *r, int rc)
{
    pthread_mutex_lock(&r->mu);
    if (r->rc == 0) {
        r->rc = rc;
        r->error = hfs_strdup(hfs_error_last());
    }
    r->stop = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static size_t target_of(const large_run *r)
{
    size_t t = SCALE[r->scale];
    return t < r->file_cap ? t : r->file_cap;
}

static void emit_status(large_run *r)
{
    pthread_mutex_lock(&r->mu);
    hfs_apply_large_status st = r->st;
    for (size_t l = 0; l < N_LANES; l++)
        st.bytes_uploaded += r->lanes[l].inflight;
    st.commit_target = target_of(r);
    pthread_mutex_unlock(&r->mu);
    hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_LARGE_STATUS,
                          .large = &st,
                          .files_done = st.files_committed,
                          .files_total = st.files_total,
                          .bytes_done = st.bytes_committed,
                          .bytes_total = st.bytes_total,
                          .seconds = hfs_now() - r->s->x->started};
    const hfs_plan_sync *ps = r->s->sync;
    ev.sync = ps->name;
    ev.repo_id = ps->repo_id;
    ev.repo_type = ps->repo_type;
    ev.revision = ps->revision;
    emit_locked(r, &ev);
}

static bool has_content(const hfs_plan_op *op)
{
    return op->kind != HFS_OP_DELETE;
}

/* Content the upload stage must get to the hub first: LFS objects, and regular copies
 * (downloaded, to go inline). */
static bool needs_upload(const exec_entry *e)
{
    const hfs_plan_op *op = e->op;
    if (e->ignored)
        return false;
    if (op->lfs)
        return op->kind == HFS_OP_ADD || op->kind == HFS_OP_UPDATE;
    return op->kind == HFS_OP_COPY;
}

/* Called with r->mu held. */
static void advance_open(large_run *r)
{
    while (r->first_open < r->n && r->state[r->first_open] == ENTRY_COMMITTED)
        r->first_open++;
}

static void mark_ready(large_run *r, size_t i)
{
    const exec_entry *e = &r->entries[i];
    r->unsettled--;
    if (r->landed[i]) {
        r->state[i] = ENTRY_COMMITTED;
        advance_open(r);
        return;
    }
    r->state[i] = ENTRY_READY;
    if (!e->ignored && has_content(e->op)) {
        r->st.files_uploaded++;
        r->st.bytes_uploaded += e->op->size;
    }
}

static void journal_save_locked(large_run *r)
{
    if (hfs_journal_save(r->s->journal, r->s->x->state_dir, r->s->state_name) < 0) {
        /* The hub stays the truth (LFS batch, commit trailers): a lost journal costs
         * requests, never correctness. */
        hfs_warn("%s", hfs_error_last());
        hfs_error_clear();
    }
    r->journal_saved = hfs_now();
}

/* ---- stage 1: preupload ----------------------------------------------------------------- */

static void *preupload_main(void *arg)
{
    large_run *r = arg;
    for (size_t i = r->n_deletes; i < r->n;) {
        size_t j = i, asked = 0;
        for (; j < r->n && asked < HFS_HUB_PREUPLOAD_BATCH; j++)
            if (r->entries[j].op->kind == HFS_OP_ADD || r->entries[j].op->kind == HFS_OP_UPDATE)
                asked++;
        pthread_mutex_lock(&r->mu);
        r->st.workers_preupload = 1;
        pthread_mutex_unlock(&r->mu);
        int rc = exec_check_cancel(&r->wx);
        if (rc == 0)
            rc = exec_preupload(&r->ws, r->entries + i, j - i);
        if (rc < 0) {
            fail(r, rc);
            break;
        }
        /* Regular files can be committed now; the rest go to the upload stage. */
        pthread_mutex_lock(&r->mu);
        for (size_t k = i; k < j; k++) {
            if (needs_upload(&r->entries[k])) {
                const hfs_plan_op *op = r->entries[k].op;
                upload_lane *lane =
                    &r->lanes[op->lfs && op->size >= BIG_OBJECT_BYTES ? LANE_BIG : LANE_SMALL];
                r->state[k] = ENTRY_QUEUED;
                lane->queue[lane->queued++] = k;
            } else {
                mark_ready(r, k);
            }
        }
        r->st.workers_preupload = 0;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        i = j;
    }
    pthread_mutex_lock(&r->mu);
    r->preupload_over = true;
    r->st.workers_preupload = 0;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- stage 2: content to the hub -------------------------------------------------------- */

static void on_lane_progress(void *ctx, const hfs_lfs_upload_progress *p)
{
    upload_lane *lane = ctx;
    pthread_mutex_lock(&lane->r->mu);
    lane->inflight = p->bytes_done;
    pthread_mutex_unlock(&lane->r->mu);
}

/* Called with r->mu held. */
static void set_uploading(upload_lane *lane, bool on)
{
    large_run *r = lane->r;
    if (on) {
        r->lanes_uploading++;
    } else {
        r->lanes_uploading--;
        lane->inflight = 0;
    }
    r->st.workers_upload = r->lanes_uploading ? r->jobs : 0;
}

/* One round of a lane: the queued entries idx[0..n) — regular copies fetched, then one LFS
 * batch for the objects the journal does not know, uploaded in parallel. */
static int upload_round(upload_lane *lane, const size_t *idx, size_t n)
{
    large_run *r = lane->r;
    exec_entry *todo = hfs_calloc(n, sizeof(*todo));
    size_t k = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        exec_entry *e = &r->entries[idx[i]];
        if (!e->op->lfs) {
            /* At the pinned head, where the source still is, whatever our own commits did
             * since. */
            rc = exec_fetch_copy(e, r->wx.hub, &r->ws.repo, r->pinned);
            continue;
        }
        pthread_mutex_lock(&r->journal_mu);
        bool known = hfs_journal_has_uploaded(r->s->journal, e->op->sha256);
        pthread_mutex_unlock(&r->journal_mu);
        /* The journal says an earlier apply sent it: not even a batch request for it. */
        if (!known)
            todo[k++] = *e;
    }
    if (rc == 0 && k > 0) {
        exec_lane how = {r->slots, on_lane_progress, lane, &r->result_mu};
        pthread_mutex_lock(&r->mu);
        set_uploading(lane, true);
        pthread_mutex_unlock(&r->mu);
        rc = exec_upload_lfs(&r->ws, todo, k, &how);
        pthread_mutex_lock(&r->mu);
        set_uploading(lane, false);
        pthread_mutex_unlock(&r->mu);
    }
    if (rc == 0 && k > 0) {
        pthread_mutex_lock(&r->journal_mu);
        for (size_t i = 0; i < k; i++)
            hfs_journal_add_uploaded(r->s->journal, todo[i].op->sha256);
        if (hfs_now() - r->journal_saved >= JOURNAL_UPLOAD_INTERVAL)
            journal_save_locked(r);
        pthread_mutex_unlock(&r->journal_mu);
    }
    free(todo);
    return rc;
}

static void *upload_main(void *arg)
{
    upload_lane *lane = arg;
    large_run *r = lane->r;
    size_t *idx = hfs_calloc(UPLOAD_CHUNK, sizeof(*idx));
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (!r->stop && lane->taken == lane->queued && !r->preupload_over)
            pthread_cond_wait(&r->cv, &r->mu);
        size_t n = 0;
        while (n < UPLOAD_CHUNK && lane->taken < lane->queued)
            idx[n++] = lane->queue[lane->taken++];
        bool stop = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (stop || n == 0)
            break;
        int rc = upload_round(lane, idx, n);
        if (rc == 0)
            rc = exec_check_cancel(&r->wx);
        if (rc < 0) {
            fail(r, rc);
            break;
        }
        pthread_mutex_lock(&r->mu);
        for (size_t i = 0; i < n; i++)
            mark_ready(r, idx[i]);
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
    free(idx);
    pthread_mutex_lock(&r->mu);
    r->upload_over = --r->lanes_running == 0;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- stage 3: commits -------------------------------------------------------------------- */

/* The next commit, from the ready entries in path order (out[0..*n) are their indices):
 * every delete goes with the first commit and counts against no bound (as the planner
 * groups them); files stop at the target, upload bytes at byte_cap, inline content at the
 * hub's 100 MiB, and one file over a bound goes alone. Returns whether the commit is as
 * big as it may be (else it had better wait for more ready files, unless none will come).
 * Called with r->mu held. */
static bool pick_group(const large_run *r, size_t target, size_t *out, size_t *n)
{
    size_t files = 0;
    uint64_t up = 0, inl = 0;
    *n = 0;
    for (size_t i = r->first_open; i < r->n; i++) {
        if (r->state[i] != ENTRY_READY)
            continue;
        const exec_entry *e = &r->entries[i];
        const hfs_plan_op *op = e->op;
        if (!e->ignored && has_content(op)) {
            uint64_t u = op->upload ? op->size : 0, l = op->lfs ? 0 : op->size;
            if (files > 0 && (up + u > r->byte_cap || inl + l > HFS_GROUP_MAX_INLINE_BYTES))
                return true;
            files++;
            up += u;
            inl += l;
        }
        out[(*n)++] = i;
        if (files >= target)
            return true;
    }
    return false;
}

/* The commit's step id: sha256 of its sorted paths, one per line, so a commit that landed
 * although its POST failed is found by it. */
static void step_id(char out[HFS_SHA256_HEX], const exec_entry *entries, size_t n)
{
    const char **paths = hfs_calloc(n ? n : 1, sizeof(*paths));
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!entries[i].ignored)
            paths[m++] = entries[i].op->path;
    /* Insertion sort: deletes come first, the rest already in path order. */
    for (size_t i = 1; i < m; i++)
        for (size_t j = i; j > 0 && strcmp(paths[j - 1], paths[j]) > 0; j--) {
            const char *t = paths[j - 1];
            paths[j - 1] = paths[j];
            paths[j] = t;
        }
    hfs_hasher *h = hfs_hasher_new(true, false, 0);
    for (size_t i = 0; i < m; i++) {
        hfs_hasher_update(h, paths[i], strlen(paths[i]));
        hfs_hasher_update(h, "\n", 1);
    }
    hfs_hasher_final(h, out, NULL);
    hfs_hasher_free(h);
    free(paths);
}

/* Commits entries (copies of the run's, in path order). *files_out: the files it held. */
static int commit_group(large_run *r, const exec_entry *entries, size_t n, size_t *files_out)
{
    size_t live = 0, deleted = 0, files = 0, regular = 0;
    uint64_t bytes = 0;
    exec_commit_result res = {0};
    char *trailer = NULL, *description = NULL;
    int rc = 0;
    *files_out = 0;
    for (size_t i = 0; i < n; i++) {
        if (entries[i].ignored)
            continue;
        live++;
        if (!has_content(entries[i].op)) {
            deleted++;
            continue;
        }
        files++;
        bytes += entries[i].op->size;
        regular += !entries[i].op->lfs;
    }
    if (live == 0)
        goto done; /* the hub's .gitignore took everything: no empty commit */

    char step[HFS_SHA256_HEX];
    step_id(step, entries, n);
    trailer = hfs_sprintf("%s %s\n%s %s", HFS_APPLY_PLAN_TRAILER, hfs_plan_id(r->wx.plan),
                          HFS_APPLY_STEP_TRAILER, step);
    description = r->description && *r->description
                      ? hfs_sprintf("%s\n\n%s", r->description, trailer)
                      : hfs_strdup(trailer);
    if ((rc = exec_commit(&res, &r->ws, entries, n, r->message, description, trailer)) < 0)
        goto done;
    exec_record_commit(&r->ws, &res);
    memcpy(r->ws.parent, res.commit_oid, sizeof(r->ws.parent));
    r->wx.result->inline_files += regular;

    pthread_mutex_lock(&r->journal_mu);
    hfs_journal_add_commit(r->s->journal, step, res.commit_oid);
    journal_save_locked(r);
    pthread_mutex_unlock(&r->journal_mu);

    pthread_mutex_lock(&r->mu);
    r->st.commits++;
    r->st.files_committed += files;
    r->st.bytes_committed += bytes;
    size_t number = r->st.commits;
    pthread_mutex_unlock(&r->mu);
    hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_COMMIT,
                          .commit_oid = res.commit_oid,
                          .url = res.commit_url,
                          .recovered = res.recovered,
                          .step = number,
                          .files_total = files,
                          .n_deleted = deleted};
    exec_emit(&r->wx, r->ws.sync, &ev);
    *files_out = files;
done:
    exec_commit_result_clear(&res);
    free(description);
    free(trailer);
    return rc;
}

/* Worth another, smaller try: the hub or the network failed, or the commit was too big. */
static bool retryable(int rc)
{
    return rc == HFS_ENET || rc == HFS_ELIMIT;
}

static struct timespec deadline_in(double seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)seconds;
    until.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return until;
}

/* Waits `seconds` unless the run stops first. Called with r->mu held. */
static void pause_locked(large_run *r, double seconds)
{
    struct timespec until = deadline_in(seconds);
    while (!r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &until) != ETIMEDOUT)
        ;
}

/* Called with r->mu held: the group's entries are in, the committed prefix moves on. */
static void mark_committed(large_run *r, const size_t *idx, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        exec_entry *e = &r->entries[idx[i]];
        r->state[idx[i]] = ENTRY_COMMITTED;
        if (e->fd >= 0) {
            close(e->fd);
            e->fd = -1;
        }
    }
    advance_open(r);
}

static int find_done(large_run *r, const hfs_plan_op *const *ops, size_t n, bool *done);
static int on_history(void *ctx, const hfs_hub_commit_entry *c);

/* A commit refused as stale: did the branch move by this plan's own commits only (an
 * apply killed while its commit was on the way, which landed after this apply looked)?
 * Then *adopted: the branch head becomes the parent, and the entries those commits hold
 * are done. */
static int adopt_own_commits(large_run *r, bool *adopted)
{
    hfs_hub_repo_info info = {0};
    char *trailer = hfs_sprintf("%s %s", HFS_APPLY_PLAN_TRAILER, hfs_plan_id(r->wx.plan));
    const hfs_plan_op **ops = NULL;
    size_t *which = NULL, n = 0;
    bool *done = NULL;
    *adopted = false;
    int rc = hfs_hub_repo_head_get(&info, r->wx.hub, &r->ws.repo, r->ws.revision);
    if (rc < 0 || !info.sha || strcmp(info.sha, r->ws.parent) == 0)
        goto done;
    history_walk w = {trailer, r->ws.parent, 0, 0, false, false};
    rc = hfs_hub_list_commits(r->wx.hub, &r->ws.repo, info.sha, on_history, &w);
    if (rc > 0)
        rc = 0;
    if (rc < 0 || !w.reached || w.foreign > 0 || w.ours == 0)
        goto done;
    snprintf(r->ws.parent, sizeof(r->ws.parent), "%s", info.sha);

    pthread_mutex_lock(&r->mu);
    ops = hfs_calloc(r->n, sizeof(*ops));
    which = hfs_calloc(r->n, sizeof(*which));
    for (size_t i = r->first_open; i < r->n; i++)
        if (r->state[i] != ENTRY_COMMITTED && !r->landed[i]) {
            ops[n] = r->entries[i].op;
            which[n++] = i;
        }
    pthread_mutex_unlock(&r->mu);
    done = hfs_calloc(n ? n : 1, sizeof(*done));
    if (n > 0 && (rc = find_done(r, ops, n, done)) < 0)
        goto done;
    size_t found = 0;
    pthread_mutex_lock(&r->mu);
    for (size_t k = 0; k < n; k++) {
        if (!done[k])
            continue;
        size_t i = which[k];
        const hfs_plan_op *op = r->entries[i].op;
        r->landed[i] = 1;
        found++;
        if (has_content(op)) {
            r->st.files_skipped++;
            r->st.bytes_skipped += op->size;
        }
        if (r->state[i] == ENTRY_READY) {
            r->state[i] = ENTRY_COMMITTED;
            if (!r->entries[i].ignored && has_content(op)) {
                r->st.files_uploaded--;
                r->st.bytes_uploaded -= op->size;
            }
        }
    }
    advance_open(r);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    char *msg = hfs_sprintf("%s@%s moved by %zu commit(s) of this plan from an earlier, "
                            "interrupted apply; their %zu operation(s) are not committed again",
                            r->ws.repo.id, r->ws.revision, w.ours, found);
    hfs_apply_event warn = {.kind = HFS_APPLY_EVENT_WARNING, .message = msg};
    exec_emit(&r->wx, r->ws.sync, &warn);
    free(msg);
    *adopted = true;
done:
    free(done);
    free(which);
    free(ops);
    free(trailer);
    hfs_hub_repo_info_clear(&info);
    return rc;
}

static void *commit_main(void *arg)
{
    large_run *r = arg;
    size_t *idx = hfs_calloc(r->n ? r->n : 1, sizeof(*idx));
    exec_entry *group = hfs_calloc(r->n ? r->n : 1, sizeof(*group));
    int failures = 0, adoptions = 0;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        size_t n = 0, target = 0;
        bool go = false;
        while (!r->stop && r->first_open < r->n) {
            target = target_of(r);
            bool full = pick_group(r, target, idx, &n);
            if (n > 0 && (full || r->unsettled == 0)) {
                go = true;
                break;
            }
            if (r->upload_over && r->unsettled > 0)
                break; /* an earlier stage failed: it stopped the run */
            pthread_cond_wait(&r->cv, &r->mu);
        }
        for (size_t i = 0; go && i < n; i++)
            group[i] = r->entries[idx[i]];
        if (go)
            r->st.workers_commit = 1;
        pthread_mutex_unlock(&r->mu);
        if (!go)
            break;

        double t0 = hfs_now();
        size_t files = 0;
        int rc = commit_group(r, group, n, &files);
        if (rc == 0)
            rc = exec_check_cancel(&r->wx);
        pthread_mutex_lock(&r->mu);
        r->st.workers_commit = 0;
        if (rc == 0) {
            mark_committed(r, idx, n);
            failures = 0;
            if (files >= target && hfs_now() - t0 < FAST_COMMIT_SECONDS &&
                r->scale + 1 < HFS_ARRAY_LEN(SCALE))
                r->scale++;
            pthread_cond_broadcast(&r->cv);
            pthread_mutex_unlock(&r->mu);
            continue;
        }
        if (retryable(rc) && ++failures < COMMIT_ATTEMPTS && !r->stop) {
            if (r->scale > 0)
                r->scale--;
            char *msg = hfs_sprintf("a commit of %zu file(s) failed (%s); trying again with "
                                    "at most %zu",
                                    n, hfs_error_last(), target_of(r));
            pthread_mutex_unlock(&r->mu);
            hfs_apply_event warn = {.kind = HFS_APPLY_EVENT_WARNING, .message = msg};
            exec_emit(&r->wx, r->ws.sync, &warn);
            free(msg);
            hfs_error_clear();
            pthread_mutex_lock(&r->mu);
            pause_locked(r, (double)(1 << (failures - 1)));
            pthread_mutex_unlock(&r->mu);
            continue;
        }
        pthread_mutex_unlock(&r->mu);
        if (rc == HFS_ESTALE && adoptions < 3) {
            char *why = hfs_strdup(hfs_error_last());
            bool adopted = false;
            int look = adopt_own_commits(r, &adopted);
            if (look == 0 && adopted) {
                adoptions++;
                free(why);
                continue;
            }
            hfs_error_set(rc, "%s", why);
            free(why);
        }
        fail(r, rc);
        break;
    }
    free(group);
    free(idx);
    pthread_mutex_lock(&r->mu);
    r->commit_over = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- before the pipeline ----------------------------------------------------------------- */

typedef struct {
    const char **paths; /* sorted, for bsearch */
    size_t *index;      /* paths[i] is the path of ops[index[i]] */
    const hfs_plan_op *const *ops;
    size_t n;
    bool *done;
} done_scan;

static int by_path(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Is the remote entry what the operation would make? */
static bool lands(const hfs_plan_op *op, const hfs_hub_entry *e)
{
    if (e->type != HFS_HUB_ENTRY_FILE)
        return false;
    if (op->lfs)
        return e->is_lfs && strcmp(e->lfs_sha256, op->sha256) == 0;
    return !e->is_lfs && strcmp(e->oid, op->sha1) == 0;
}

static int on_remote(void *ctx, const hfs_hub_entry *entries, size_t n)
{
    done_scan *d = ctx;
    for (size_t k = 0; k < n; k++) {
        const char *key = entries[k].path;
        const char **hit = bsearch(&key, d->paths, d->n, sizeof(*d->paths), by_path);
        if (!hit)
            continue;
        size_t i = d->index[hit - d->paths];
        const hfs_plan_op *op = d->ops[i];
        /* A delete is done when the path is gone: an answer means it is not. */
        d->done[i] = op->kind == HFS_OP_DELETE ? false : lands(op, &entries[k]);
    }
    return 0;
}

/* Which operations an earlier apply of this plan already committed: the remote at the
 * current head, asked path by path (paths-info), is the truth. */
static int find_done(large_run *r, const hfs_plan_op *const *ops, size_t n, bool *done)
{
    char **keys = hfs_calloc(n ? n : 1, sizeof(*keys));
    done_scan d = {hfs_calloc(n ? n : 1, sizeof(char *)), hfs_calloc(n ? n : 1, sizeof(size_t)),
                   ops, n, done};
    /* Sort (path, index) pairs: a path and its index travel together. */
    typedef struct {
        const char *path;
        size_t i;
    } pair;
    pair *pairs = hfs_calloc(n ? n : 1, sizeof(*pairs));
    for (size_t i = 0; i < n; i++) {
        const char *p = ops[i]->path;
        size_t len = strlen(p);
        /* A folder delete is asked for without its '/'. */
        keys[i] = len > 1 && p[len - 1] == '/' ? hfs_strndup(p, len - 1) : hfs_strdup(p);
        pairs[i] = (pair){keys[i], i};
        done[i] = ops[i]->kind == HFS_OP_DELETE; /* until the hub shows it is there */
    }
    qsort(pairs, n, sizeof(*pairs), by_path);
    for (size_t i = 0; i < n; i++) {
        d.paths[i] = pairs[i].path;
        d.index[i] = pairs[i].i;
    }
    int rc = hfs_hub_paths_info(r->wx.hub, &r->ws.repo, r->ws.parent, d.paths, n, on_remote, &d);
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    free(pairs);
    free(d.paths);
    free(d.index);
    return rc;
}

/* The sync's commit message without the planner's " (part i/N)". */
static char *base_message(const hfs_plan_commit *c)
{
    const char *m = c->message ? c->message : HFS_DEFAULT_COMMIT_MESSAGE;
    size_t len = strlen(m);
    const char *part = len ? strrchr(m, '(') : NULL;
    unsigned a, b;
    char tail;
    if (part && part > m && part[-1] == ' ' && sscanf(part, "(part %u/%u%c", &a, &b, &tail) == 3 &&
        tail == ')' && part[strlen(part) - 1] == ')')
        return hfs_strndup(m, (size_t)(part - 1 - m));
    return hfs_strdup(m);
}

/* The bounds the plan's groups were cut with (commit.max_files and max_bytes, recorded in
 * the plan; 0 is none). A plan from before they were recorded: none of its groups passed
 * them, so the biggest (of those with more than one file, for bytes) stands for them. */
static void plan_bounds(large_run *r, const hfs_plan_sync *ps)
{
    if (ps->has_limits) {
        r->file_cap = ps->max_files ? (size_t)ps->max_files : SIZE_MAX;
        r->byte_cap = ps->max_bytes ? ps->max_bytes : UINT64_MAX;
        return;
    }
    size_t max_files = 0;
    uint64_t max_bytes = 0;
    for (size_t c = 0; c < ps->n_commits; c++) {
        size_t files = 0;
        uint64_t bytes = 0;
        for (size_t i = 0; i < ps->commits[c].n_ops; i++) {
            const hfs_plan_op *op = &ps->commits[c].ops[i];
            if (op->kind == HFS_OP_DELETE)
                continue;
            files++;
            bytes += op->upload ? op->size : 0;
        }
        if (files > max_files)
            max_files = files;
        if (files > 1 && bytes > max_bytes)
            max_bytes = bytes;
    }
    bool bounded = ps->n_commits > 1;
    r->file_cap = bounded && max_files ? max_files : SIZE_MAX;
    r->byte_cap = bounded && max_bytes ? max_bytes : UINT64_MAX;
}

static void run_clear(large_run *r)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->entries[i].fd >= 0)
            close(r->entries[i].fd);
    free(r->entries);
    free(r->state);
    free(r->landed);
    for (size_t l = 0; l < N_LANES; l++)
        free(r->lanes[l].queue);
    hfs_lfs_slots_free(r->slots);
    free(r->message);
    free(r->description);
    free(r->error);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->emit_mu);
    pthread_mutex_destroy(&r->journal_mu);
    pthread_mutex_destroy(&r->result_mu);
}

int exec_large_apply(exec_sync *s)
{
    const hfs_plan_sync *ps = s->sync;
    const hfs_plan_sync *planned = planned_sync(s->x, ps);
    large_run r = {.s = s, .scale = SCALE_START};
    const hfs_plan_op **ops = NULL;
    bool *done = NULL;
    size_t n_ops = 0;
    int rc = 0;

    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    pthread_mutex_init(&r.emit_mu, NULL);
    pthread_mutex_init(&r.journal_mu, NULL);
    pthread_mutex_init(&r.result_mu, NULL);
    r.wx = *s->x;
    r.wopts = *s->x->opts;
    r.wopts.event = relay;
    r.wopts.event_ctx = &r;
    r.wopts.cancel = &r.stop;
    r.wx.opts = &r.wopts;
    r.ws = *s;
    r.ws.x = &r.wx;
    r.pinned = planned->remote_head[0] ? planned->remote_head : s->parent;
    r.jobs = r.wopts.jobs ? r.wopts.jobs : HFS_APPLY_DEFAULT_JOBS;
    plan_bounds(&r, ps);
    if (ps->n_commits > 0) {
        r.message = base_message(&ps->commits[0]);
        r.description = hfs_strdup(ps->commits[0].description ? ps->commits[0].description : "");
    }

    for (size_t c = 0; c < ps->n_commits; c++)
        n_ops += ps->commits[c].n_ops;
    ops = hfs_calloc(n_ops ? n_ops : 1, sizeof(*ops));
    done = hfs_calloc(n_ops ? n_ops : 1, sizeof(*done));
    n_ops = 0;
    for (size_t c = 0; c < ps->n_commits; c++)
        for (size_t i = 0; i < ps->commits[c].n_ops; i++)
            ops[n_ops++] = &ps->commits[c].ops[i];

    /* Resumed (our own commits moved the head, or the journal lists some): what landed is
     * not committed again. */
    bool moved = planned->create ? ps != planned : strcmp(s->parent, planned->remote_head) != 0;
    if ((moved || s->journal->n_commits > 0) && n_ops > 0 &&
        (rc = find_done(&r, ops, n_ops, done)) < 0)
        goto done;

    r.entries = hfs_calloc(n_ops ? n_ops : 1, sizeof(*r.entries));
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n_ops; i++) {
            const hfs_plan_op *op = ops[i];
            if ((op->kind == HFS_OP_DELETE) != (pass == 0))
                continue;
            if (has_content(op)) {
                r.st.files_total++;
                r.st.bytes_total += op->size;
                r.st.files_hashed++;
                r.st.bytes_hashed += op->size;
            }
            if (done[i]) {
                r.st.files_skipped += has_content(op);
                r.st.bytes_skipped += has_content(op) ? op->size : 0;
                continue;
            }
            r.entries[r.n++] = (exec_entry){op, false, -1};
            r.n_deletes += pass == 0;
        }
    /* Deletes need neither preupload nor upload: ready from the start. */
    r.state = hfs_calloc(r.n ? r.n : 1, sizeof(*r.state));
    r.landed = hfs_calloc(r.n ? r.n : 1, sizeof(*r.landed));
    for (size_t l = 0; l < N_LANES; l++)
        r.lanes[l] = (upload_lane){.r = &r, .queue = hfs_calloc(r.n ? r.n : 1, sizeof(size_t))};
    r.lanes_running = N_LANES;
    r.slots = hfs_lfs_slots_new(r.jobs);
    r.unsettled = r.n;
    for (size_t i = 0; i < r.n_deletes; i++)
        mark_ready(&r, i);
    emit_status(&r);
    if (r.n == 0)
        goto done;

    enum { N_THREADS = 2 + N_LANES };
    pthread_t threads[N_THREADS];
    void *(*mains[N_THREADS])(void *) = {preupload_main, commit_main, upload_main, upload_main};
    void *args[N_THREADS] = {&r, &r, &r.lanes[LANE_BIG], &r.lanes[LANE_SMALL]};
    size_t started = 0;
    for (; started < N_THREADS; started++) {
        int err = pthread_create(&threads[started], NULL, mains[started], args[started]);
        if (err != 0) {
            hfs_error_set(HFS_ERROR, "cannot start the upload pipeline's threads: %s",
                          strerror(err));
            fail(&r, HFS_ERROR);
            break;
        }
    }
    /* This thread watches: the caller's cancel flag, and the status every few seconds. */
    double last_status = hfs_now();
    pthread_mutex_lock(&r.mu);
    while (!r.commit_over && started == N_THREADS) {
        struct timespec tick = deadline_in(0.2);
        pthread_cond_timedwait(&r.cv, &r.mu, &tick);
        if (s->x->opts->cancel && *s->x->opts->cancel && !r.stop) {
            r.stop = 1;
            pthread_cond_broadcast(&r.cv);
        }
        if (hfs_now() - last_status >= STATUS_INTERVAL) {
            pthread_mutex_unlock(&r.mu);
            emit_status(&r);
            last_status = hfs_now();
            pthread_mutex_lock(&r.mu);
        }
    }
    if (started < N_THREADS) {
        r.stop = 1;
        pthread_cond_broadcast(&r.cv);
    }
    pthread_mutex_unlock(&r.mu);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    memcpy(s->parent, r.ws.parent, sizeof(s->parent));
    emit_status(&r);

    if (r.rc < 0 || r.first_open < r.n) {
        /* Stopped: what the uploads got to since the last save is worth keeping. */
        pthread_mutex_lock(&r.journal_mu);
        journal_save_locked(&r);
        pthread_mutex_unlock(&r.journal_mu);
    }
    if (r.rc < 0)
        rc = hfs_error_set(r.rc, "%s", r.error);
    else if (r.first_open < r.n)
        rc = exec_check_cancel(s->x) < 0 ? hfs_error_last_code()
                                         : hfs_error_set(HFS_ERROR,
                                                         "sync %s: the upload stopped before every "
                                                         "operation was committed",
                                                         ps->name);
done:
    run_clear(&r);
    free(done);
    free(ops);
    return rc;
}

/* ---- hfsync upload-large-folder ----------------------------------------------------------- */

/* The sync's name in events and logs. Its lock and journal are named after the target as
 * well (hfs_state_name), so uploads of one folder to different repos or revisions are
 * independent. */
#define LARGE_SYNC_NAME "upload-large-folder"

int hfs_upload_large_folder(hfs_apply_result *out, const hfs_upload_large_spec *spec,
                            const hfs_apply_options *opts)
{
    static const hfs_apply_options defaults = HFS_APPLY_OPTIONS_INIT;
    hfs_manifest *m = NULL;
    hfs_plan *plan = NULL;
    char *folder = NULL, *state_dir = NULL;
    int rc = 0;

    if (!opts)
        opts = &defaults;
    if (!spec || spec->version != HFS_UPLOAD_LARGE_SPEC_VERSION) {
        rc = hfs_error_set(HFS_EINVALID,
                           "hfs_upload_large_spec version %d is not supported "
                           "(expected %d)",
                           spec ? spec->version : 0, HFS_UPLOAD_LARGE_SPEC_VERSION);
        goto done;
    }
    if (!spec->repo_id || (rc = hfs_repo_id_validate(spec->repo_id)) < 0) {
        if (!spec->repo_id)
            rc = hfs_error_set(HFS_EINVALID, "upload-large-folder: a repo id (namespace/name) "
                                             "is required");
        goto done;
    }
    if (!spec->local_path) {
        rc = hfs_error_set(HFS_EINVALID, "upload-large-folder: LOCAL_PATH, the folder to upload, "
                                         "is required");
        goto done;
    }
    folder = realpath(spec->local_path, NULL);
    struct stat st;
    if (!folder || stat(folder, &st) != 0) {
        rc = hfs_error_set(errno == ENOENT ? HFS_ENOTFOUND : HFS_ERROR, "cannot upload %s: %s",
                           spec->local_path, strerror(errno));
        goto done;
    }
    if (!S_ISDIR(st.st_mode)) {
        rc = hfs_error_set(HFS_EINVALID,
                           "upload-large-folder uploads a folder, and %s is not one: use "
                           "`hfsync upload` for a single file",
                           spec->local_path);
        goto done;
    }

    /* The state lives in the folder (as huggingface_hub keeps .cache/huggingface there):
     * a re-run from anywhere finds the hash cache and the journal. */
    hfs_sync_spec ms = HFS_SYNC_SPEC_INIT;
    ms.name = LARGE_SYNC_NAME;
    ms.repo_id = spec->repo_id;
    ms.repo_type = spec->repo_type;
    ms.revision = spec->revision;
    ms.create = true;
    ms.create_private = spec->create_private;
    ms.folder_path = ".";
    ms.allow_patterns = spec->include;
    ms.n_allow_patterns = spec->n_include;
    ms.ignore_patterns = spec->exclude;
    ms.n_ignore_patterns = spec->n_exclude;
    ms.commit_message = HFS_UPLOAD_LARGE_MESSAGE;
    ms.strategy = HFS_STRATEGY_LARGE;
    if ((rc = hfs_manifest_new_single(&m, folder, &ms)) < 0)
        goto done;

    state_dir = hfs_path_join(folder, ".hfsync");
    hfs_plan_options po = HFS_PLAN_OPTIONS_INIT;
    po.jobs = spec->num_workers;
    po.state_dir = state_dir;
    if (opts->event) {
        po.progress = exec_plan_progress_event;
        po.progress_ctx = (void *)opts;
    }
    if ((rc = hfs_plan_compute(&plan, m, &po)) < 0)
        goto done;
    hfs_apply_options ao = *opts;
    ao.state_dir = state_dir;
    if (spec->num_workers)
        ao.jobs = spec->num_workers;
    rc = hfs_apply(out, plan, &ao);
done:
    hfs_plan_free(plan);
    hfs_manifest_free(m);
    free(state_dir);
    free(folder);
    return rc;
}
