/* Non-blocking work: a FIFO queue with one worker thread that runs applies, uploads, commits
 * and caller functions in order, each behind a job handle to poll, wait for or cancel. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/util.h"
#include "hfsync/job.h"

typedef enum { JOB_APPLY, JOB_UPLOAD, JOB_COMMIT, JOB_CALL } job_kind;

/* A job is shared by the caller's handle and the queue until both let go (refs), and it
 * outlives its queue: it has its own lock. */
struct hfs_job {
    pthread_mutex_t lock;
    pthread_cond_t finished;
    int refs;
    hfs_job_state state;
    volatile int cancel; /* what the work looks at (its options' cancel points here) */
    job_kind kind;
    struct hfs_job *next; /* in the queue */

    /* the work */
    const hfs_plan *plan;
    const hfs_upload_spec *spec;
    hfs_apply_options apply_opts;
    hfs_commit_options commit_opts;
    hfs_commit_ops *ops;
    char *summary, *description, *parent;
    hfs_job_fn fn;
    void *ctx;

    /* what it produced */
    int error;
    char *message;
    hfs_apply_result apply;
    char *url;
    hfs_commit_info commit;
};

struct hfs_jobs {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    hfs_job *head, *tail; /* queued, oldest first */
    hfs_job *running;
    bool closing;
    pthread_t worker;
};

const char *hfs_job_state_name(hfs_job_state state)
{
    switch (state) {
    case HFS_JOB_PENDING:
        return "pending";
    case HFS_JOB_RUNNING:
        return "running";
    case HFS_JOB_DONE:
        return "done";
    case HFS_JOB_FAILED:
        return "failed";
    case HFS_JOB_CANCELLED:
        return "cancelled";
    }
    return "unknown";
}

static bool is_finished(hfs_job_state s)
{
    return s == HFS_JOB_DONE || s == HFS_JOB_FAILED || s == HFS_JOB_CANCELLED;
}

static void job_destroy(hfs_job *job)
{
    pthread_mutex_destroy(&job->lock);
    pthread_cond_destroy(&job->finished);
    free(job->summary);
    free(job->description);
    free(job->parent);
    free(job->message);
    free(job->url);
    hfs_apply_result_clear(&job->apply);
    hfs_commit_info_clear(&job->commit);
    free(job);
}

/* Drops one reference; the last one frees the job. */
static void job_unref(hfs_job *job)
{
    pthread_mutex_lock(&job->lock);
    bool last = --job->refs == 0;
    pthread_mutex_unlock(&job->lock);
    if (last)
        job_destroy(job);
}

/* Moves a job to a final state and wakes its waiters. */
static void job_finish(hfs_job *job, hfs_job_state state, int error, const char *message)
{
    pthread_mutex_lock(&job->lock);
    job->state = state;
    job->error = error;
    free(job->message);
    job->message = hfs_strdup(message ? message : "");
    pthread_cond_broadcast(&job->finished);
    pthread_mutex_unlock(&job->lock);
}

/* Runs the job on the worker thread; returns 0 or its error (last error set). */
static int job_run(hfs_job *job)
{
    switch (job->kind) {
    case JOB_APPLY:
        return hfs_apply(&job->apply, job->plan, &job->apply_opts);
    case JOB_UPLOAD:
        return hfs_upload(&job->url, &job->apply, job->spec, &job->apply_opts);
    case JOB_COMMIT:
        return hfs_create_commit(&job->commit, &job->commit_opts, job->ops, job->summary,
                                 job->description, job->parent);
    case JOB_CALL:
        return job->fn(job->ctx, &job->cancel);
    }
    return hfs_error_set(HFS_ERROR, "job of an unknown kind %d", (int)job->kind);
}

static void *worker_main(void *arg)
{
    hfs_jobs *jobs = arg;
    pthread_mutex_lock(&jobs->lock);
    for (;;) {
        while (!jobs->head && !jobs->closing)
            pthread_cond_wait(&jobs->wake, &jobs->lock);
        hfs_job *job = jobs->head;
        if (!job)
            break; /* closing, and nothing left */
        jobs->head = job->next;
        if (!jobs->head)
            jobs->tail = NULL;
        job->next = NULL;

        pthread_mutex_lock(&job->lock);
        bool start = job->state == HFS_JOB_PENDING; /* else cancelled while queued */
        if (start)
            job->state = HFS_JOB_RUNNING;
        pthread_mutex_unlock(&job->lock);
        if (!start) {
            job_unref(job);
            continue;
        }
        jobs->running = job;
        pthread_mutex_unlock(&jobs->lock);

        hfs_error_clear();
        int rc = job_run(job);
        if (rc == 0)
            job_finish(job, HFS_JOB_DONE, 0, NULL);
        else
            job_finish(job, job->cancel ? HFS_JOB_CANCELLED : HFS_JOB_FAILED, rc,
                       *hfs_error_last() ? hfs_error_last() : "the job failed without a message");

        pthread_mutex_lock(&jobs->lock);
        jobs->running = NULL;
        job_unref(job);
    }
    pthread_mutex_unlock(&jobs->lock);
    return NULL;
}

int hfs_jobs_new(hfs_jobs **out)
{
    hfs_jobs *jobs = hfs_calloc(1, sizeof(*jobs));
    pthread_mutex_init(&jobs->lock, NULL);
    pthread_cond_init(&jobs->wake, NULL);
    int err = pthread_create(&jobs->worker, NULL, worker_main, jobs);
    if (err != 0) {
        pthread_mutex_destroy(&jobs->lock);
        pthread_cond_destroy(&jobs->wake);
        free(jobs);
        *out = NULL;
        return hfs_error_set(HFS_ERROR, "cannot start the job queue's worker thread: %s",
                             strerror(err));
    }
    *out = jobs;
    return 0;
}

void hfs_jobs_free(hfs_jobs *jobs)
{
    if (!jobs)
        return;
    pthread_mutex_lock(&jobs->lock);
    jobs->closing = true;
    pthread_cond_signal(&jobs->wake);
    pthread_mutex_unlock(&jobs->lock);
    pthread_join(jobs->worker, NULL);
    pthread_mutex_destroy(&jobs->lock);
    pthread_cond_destroy(&jobs->wake);
    free(jobs);
}

/* A new job holding two references: the caller's handle and the queue's. */
static hfs_job *job_new(job_kind kind)
{
    hfs_job *job = hfs_calloc(1, sizeof(*job));
    pthread_mutex_init(&job->lock, NULL);
    pthread_cond_init(&job->finished, NULL);
    job->refs = 2;
    job->state = HFS_JOB_PENDING;
    job->kind = kind;
    return job;
}

static hfs_job *enqueue(hfs_jobs *jobs, hfs_job *job)
{
    pthread_mutex_lock(&jobs->lock);
    if (jobs->tail)
        jobs->tail->next = job;
    else
        jobs->head = job;
    jobs->tail = job;
    pthread_cond_signal(&jobs->wake);
    pthread_mutex_unlock(&jobs->lock);
    return job;
}

static hfs_job *refuse(const char *what)
{
    hfs_error_set(HFS_EINVALID, "cannot queue %s: no job queue (NULL); make one with hfs_jobs_new",
                  what);
    return NULL;
}

hfs_job *hfs_jobs_apply(hfs_jobs *jobs, const hfs_plan *plan, const hfs_apply_options *opts)
{
    static const hfs_apply_options defaults = HFS_APPLY_OPTIONS_INIT;
    if (!jobs)
        return refuse("an apply");
    if (!plan) {
        hfs_error_set(HFS_EINVALID, "cannot queue an apply: the plan is missing (NULL)");
        return NULL;
    }
    hfs_job *job = job_new(JOB_APPLY);
    job->plan = plan;
    job->apply_opts = opts ? *opts : defaults;
    job->apply_opts.cancel = &job->cancel;
    return enqueue(jobs, job);
}

hfs_job *hfs_jobs_upload(hfs_jobs *jobs, const hfs_upload_spec *spec, const hfs_apply_options *opts)
{
    static const hfs_apply_options defaults = HFS_APPLY_OPTIONS_INIT;
    if (!jobs)
        return refuse("an upload");
    if (!spec) {
        hfs_error_set(HFS_EINVALID, "cannot queue an upload: its spec is missing (NULL)");
        return NULL;
    }
    hfs_job *job = job_new(JOB_UPLOAD);
    job->spec = spec;
    job->apply_opts = opts ? *opts : defaults;
    job->apply_opts.cancel = &job->cancel;
    return enqueue(jobs, job);
}

hfs_job *hfs_jobs_commit(hfs_jobs *jobs, const hfs_commit_options *opts, hfs_commit_ops *ops,
                         const char *summary, const char *description, const char *parent_commit)
{
    static const hfs_commit_options defaults = HFS_COMMIT_OPTIONS_INIT;
    if (!jobs)
        return refuse("a commit");
    hfs_job *job = job_new(JOB_COMMIT);
    /* Missing options are reported by the commit itself, when the job runs. */
    job->commit_opts = opts ? *opts : defaults;
    job->commit_opts.cancel = &job->cancel;
    job->ops = ops;
    job->summary = summary ? hfs_strdup(summary) : NULL;
    job->description = description ? hfs_strdup(description) : NULL;
    job->parent = parent_commit ? hfs_strdup(parent_commit) : NULL;
    return enqueue(jobs, job);
}

hfs_job *hfs_jobs_call(hfs_jobs *jobs, hfs_job_fn fn, void *ctx)
{
    if (!jobs)
        return refuse("a call");
    if (!fn) {
        hfs_error_set(HFS_EINVALID, "cannot queue a call: its function is NULL");
        return NULL;
    }
    hfs_job *job = job_new(JOB_CALL);
    job->fn = fn;
    job->ctx = ctx;
    return enqueue(jobs, job);
}

hfs_job_state hfs_job_poll(const hfs_job *job)
{
    hfs_job *j = (hfs_job *)job; /* the lock is not part of what the caller sees */
    pthread_mutex_lock(&j->lock);
    hfs_job_state s = j->state;
    pthread_mutex_unlock(&j->lock);
    return s;
}

int hfs_job_wait(hfs_job_result *out, hfs_job *job)
{
    pthread_mutex_lock(&job->lock);
    while (!is_finished(job->state))
        pthread_cond_wait(&job->finished, &job->lock);
    hfs_job_state state = job->state;
    int error = job->error;
    pthread_mutex_unlock(&job->lock);
    /* Once finished, nothing in the job changes any more: reading it unlocked is safe. */
    if (out) {
        memset(out, 0, sizeof(*out));
        out->state = state;
        out->error = error;
        out->message = job->message;
        if (job->kind == JOB_APPLY || job->kind == JOB_UPLOAD)
            out->apply = &job->apply;
        if (job->kind == JOB_UPLOAD)
            out->url = job->url;
        if (job->kind == JOB_COMMIT && state == HFS_JOB_DONE)
            out->commit = &job->commit;
    }
    if (state == HFS_JOB_DONE)
        return 0;
    return hfs_error_set(error ? error : HFS_ERROR, "%s", job->message);
}

hfs_job_state hfs_job_cancel(hfs_job *job)
{
    pthread_mutex_lock(&job->lock);
    if (job->state == HFS_JOB_PENDING) {
        /* The worker drops it when its turn comes. */
        job->state = HFS_JOB_CANCELLED;
        job->error = HFS_ERROR;
        free(job->message);
        job->message = hfs_strdup("cancelled before it started");
        pthread_cond_broadcast(&job->finished);
    } else if (job->state == HFS_JOB_RUNNING) {
        job->cancel = 1;
    }
    hfs_job_state s = job->state;
    pthread_mutex_unlock(&job->lock);
    return s;
}

void hfs_jobs_cancel_all(hfs_jobs *jobs)
{
    if (!jobs)
        return;
    pthread_mutex_lock(&jobs->lock);
    for (hfs_job *job = jobs->head; job; job = job->next)
        hfs_job_cancel(job);
    if (jobs->running)
        hfs_job_cancel(jobs->running);
    pthread_mutex_unlock(&jobs->lock);
}

void hfs_job_free(hfs_job *job)
{
    if (job)
        job_unref(job);
}
