/* hfsync public API: non-blocking work. A job queue runs applies, uploads and commits on a
 * worker thread of its own, one after another in the order they were queued; each start call
 * returns a job handle to poll, wait for or cancel (the C counterpart of run_as_future).
 *
 *     hfs_jobs *q = NULL;
 *     hfs_jobs_new(&q);
 *     hfs_job *a = hfs_jobs_apply(q, plan, &apply_opts);               // returns at once
 *     hfs_job *c = hfs_jobs_commit(q, &commit_opts, ops, "Add", NULL, NULL); // runs after a
 *     while (hfs_job_poll(a) <= HFS_JOB_RUNNING)                        // pending, running
 *         do_something_else();
 *     hfs_job_result r;
 *     if (hfs_job_wait(&r, c) < 0)                                      // blocks until c ends
 *         fprintf(stderr, "%s\n", r.message);
 *     hfs_job_free(a);
 *     hfs_job_free(c);
 *     hfs_jobs_free(q);
 *
 * Lifetimes: a job reads what its start call was given (the plan, spec, options and what they
 * point to, the operations) while it runs, so the caller keeps all of it alive and leaves it
 * unchanged until the job has finished (hfs_job_poll says DONE, FAILED or CANCELLED, or
 * hfs_job_wait returned). Strings given to hfs_jobs_commit directly are copied. Event
 * callbacks run on the worker thread. */
#ifndef HFSYNC_JOB_H
#define HFSYNC_JOB_H

#include <stdbool.h>

#include "hfsync/apply.h"
#include "hfsync/commit.h"
#include "hfsync/plan.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hfs_jobs hfs_jobs;
typedef struct hfs_job hfs_job;

/* A job's state, in the order it goes through them. */
typedef enum {
    HFS_JOB_PENDING,   /* queued behind others */
    HFS_JOB_RUNNING,   /* on the worker thread now */
    HFS_JOB_DONE,      /* finished successfully */
    HFS_JOB_FAILED,    /* finished with an error */
    HFS_JOB_CANCELLED, /* cancelled before it started, or stopped by hfs_job_cancel */
} hfs_job_state;

/* "pending", "running", "done", "failed", "cancelled". */
const char *hfs_job_state_name(hfs_job_state state);

/* A queue with its worker thread (started here). HFS_ERROR when no thread can be made. */
int hfs_jobs_new(hfs_jobs **out);

/* Stops the queue: every job still queued runs, in order, and the running one finishes;
 * then the worker thread ends and the queue is freed. Work a caller asked for is never
 * dropped silently: to stop early, call hfs_jobs_cancel_all first. Job handles stay valid
 * after this (free them with hfs_job_free). Must not be called from a job's own callback.
 * NULL is fine. */
void hfs_jobs_free(hfs_jobs *jobs);

/* Cancels every job of the queue that has not finished: queued ones never run, the running
 * one is asked to stop (see hfs_job_cancel). */
void hfs_jobs_cancel_all(hfs_jobs *jobs);

/* The start calls queue a job and return its handle at once; NULL (the last error says why)
 * when `jobs`, or the plan, spec or function to run, is NULL. For applies, uploads and
 * commits, the job's own cancel flag replaces opts->cancel: stop them with hfs_job_cancel. */

/* Queues hfs_apply(plan, opts) (opts may be NULL: defaults). */
hfs_job *hfs_jobs_apply(hfs_jobs *jobs, const hfs_plan *plan, const hfs_apply_options *opts);

/* Queues hfs_upload(spec, opts); the resulting URL is hfs_job_result.url. */
hfs_job *hfs_jobs_upload(hfs_jobs *jobs, const hfs_upload_spec *spec,
                         const hfs_apply_options *opts);

/* Queues hfs_create_commit(opts, ops, summary, description, parent_commit); the commit is
 * hfs_job_result.commit. The caller leaves `ops` alone (no adds) until the job finished. */
hfs_job *hfs_jobs_commit(hfs_jobs *jobs, const hfs_commit_options *opts, hfs_commit_ops *ops,
                         const char *summary, const char *description, const char *parent_commit);

/* Queues any work: fn(ctx, cancel) runs on the worker thread and returns 0 or a negative
 * hfs_error_code (after hfs_error_set, for the message). `cancel` points at the job's flag,
 * set by hfs_job_cancel: long work should look at it and stop. */
typedef int (*hfs_job_fn)(void *ctx, volatile int *cancel);
hfs_job *hfs_jobs_call(hfs_jobs *jobs, hfs_job_fn fn, void *ctx);

/* What a finished job produced. Pointers belong to the job (valid until hfs_job_free). */
typedef struct {
    hfs_job_state state; /* DONE, FAILED or CANCELLED */
    int error;           /* 0 when done, else the hfs_error_code it ended with */
    const char *message; /* the error's message ("" when done) */
    /* apply and upload jobs: the commits made, also when a later step failed */
    const hfs_apply_result *apply;
    const char *url;               /* upload jobs: the pull request's or the commit's URL */
    const hfs_commit_info *commit; /* commit jobs, when the commit was made */
} hfs_job_result;

/* The job's state now; never blocks. */
hfs_job_state hfs_job_poll(const hfs_job *job);

/* Blocks until the job has finished; `out` (may be NULL) describes how. Returns 0 when it
 * is DONE, else its error code, and then sets this thread's last error to its message (a
 * cancelled job: HFS_ERROR). May be called again, and from several threads. */
int hfs_job_wait(hfs_job_result *out, hfs_job *job);

/* Cancels the job: a pending one never runs (CANCELLED at once); a running one is asked to
 * stop — an apply, upload or commit stops between requests and transfers and ends
 * CANCELLED (or DONE, when it finished first). Does nothing to a finished job. Returns the
 * state right after the call. */
hfs_job_state hfs_job_cancel(hfs_job *job);

/* Releases the caller's handle. The job itself is not stopped by this: a queued job still
 * runs (cancel it first to prevent that). NULL is fine. */
void hfs_job_free(hfs_job *job);

#ifdef __cplusplus
}
#endif
#endif
