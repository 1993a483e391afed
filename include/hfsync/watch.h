/* hfsync public API: scheduled syncs. hfs_watch runs every scheduled sync of a manifest on its
 * period until asked to stop (CommitScheduler's semantics), hfs_watch_run runs them once (cron). */
#ifndef HFSYNC_WATCH_H
#define HFSYNC_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hfsync/apply.h"
#include "hfsync/manifest.h"
#include "hfsync/plan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What one scheduled run of a sync does, in order:
 * 1. takes the sync's lock (.hfsync/state/SYNC/lock, the one `hfsync apply` takes): when
 *    another hfsync holds it, the run is left to that one (HFS_WATCH_EVENT_SKIPPED);
 * 2. settles what an earlier run left pending (a packed archive whose commit may have
 *    landed: then its local files are removed or remembered);
 * 3. plans the sync; with schedule.append_only, a file the hub holds is updated only when
 *    the hub's copy is a prefix of the local file (it grew), any other change to it is left
 *    out with HFS_WATCH_EVENT_REFUSED, and nothing is deleted;
 * 4. with schedule.pack, packs the new files matching its patterns into one archive that is
 *    uploaded instead of them;
 * 5. nothing to change: no commit, nothing uploaded (HFS_WATCH_EVENT_NO_CHANGES); else
 *    applies the plan, files that grow meanwhile sent up to their size at the scan
 *    (hfs_apply_options.allow_growth), and with schedule.squash_history squashes the
 *    branch's history;
 * 6. once the commit has landed, removes the packed files (pack.remove_local). */

typedef enum {
    HFS_WATCH_EVENT_START,      /* hfs_watch: a sync is scheduled every `every` seconds */
    HFS_WATCH_EVENT_APPLY,      /* an event of a run's apply: `apply` */
    HFS_WATCH_EVENT_NO_CHANGES, /* a run found nothing to push: no commit, nothing uploaded */
    HFS_WATCH_EVENT_PUSHED,     /* a run's commits landed (commits, files: operations) */
    HFS_WATCH_EVENT_SKIPPED,    /* another hfsync holds the sync's lock (message) */
    HFS_WATCH_EVENT_REFUSED,    /* append_only: a file was changed, not grown: left out (path) */
    HFS_WATCH_EVENT_PACKED,     /* new files packed into the archive `path` (files, bytes) */
    HFS_WATCH_EVENT_UNPACKED,   /* the archive `path` landed: `files` local files removed (or
                                   remembered as packed, without remove_local) */
    HFS_WATCH_EVENT_SQUASHED,   /* the branch's history was squashed into one commit */
    HFS_WATCH_EVENT_FAILED,     /* a run failed (message, error_code, persistent); the next
                                   run tries again */
    HFS_WATCH_EVENT_STOPPING,   /* hfs_watch was asked to stop: each sync makes a last run */
} hfs_watch_event_kind;

/* "start", "apply", "no_changes", "pushed", "skipped", "refused", "packed", "unpacked",
 * "squashed", "failed", "stopping". */
const char *hfs_watch_event_name(hfs_watch_event_kind kind);

/* One thing that happened. Strings are valid during the callback only. */
typedef struct {
    hfs_watch_event_kind kind;
    const char *sync; /* NULL for stopping */
    const char *repo_id;
    hfs_repo_type repo_type;
    const char *revision;
    const char *message;          /* a sentence for people (skipped, refused, failed, …) */
    const char *path;             /* refused: the file; packed, unpacked: the archive */
    const hfs_apply_event *apply; /* HFS_WATCH_EVENT_APPLY */
    size_t commits;               /* pushed */
    uint64_t files, bytes;        /* pushed: operations; packed: files and their bytes */
    uint64_t every;               /* start: the period in seconds */
    double seconds;               /* pushed, no_changes, failed: the run's duration */
    int error_code;               /* failed */
    /* failed: an error no retry mends (401/403, a missing repo or revision, a refused
     * manifest or limit): it is logged on every run, and named when watch stops. */
    bool persistent;
    bool last; /* the run is the last one, made after a stop */
} hfs_watch_event;

typedef void (*hfs_watch_event_fn)(void *ctx, const hfs_watch_event *event);

/* The JSON form ({"event": "watch_" NAME, "time": ISO 8601 UTC, …}; an apply event is its
 * own JSON, hfs_apply_event_to_json, plus "time"), compact, no newline. Caller frees. */
char *hfs_watch_event_to_json(const hfs_watch_event *event);

/* Log lines for people, one per event that matters, "2026-01-26T03:40:00Z hfsync: SYNC: …"
 * (UTC), on `err`: runs that pushed, found nothing, failed or were skipped, commits, LFS
 * uploads, packs, squashes, refusals and warnings (QUIET: failures only); or, in JSON mode,
 * hfs_watch_event_to_json lines on `out` (progress events at most four times a second). */
typedef struct hfs_watch_printer hfs_watch_printer;

hfs_watch_printer *hfs_watch_printer_new(hfs_apply_print_mode mode, FILE *out, FILE *err);
/* An hfs_watch_event_fn: pass it with the printer as ctx. */
void hfs_watch_printer_event(void *printer, const hfs_watch_event *event);
void hfs_watch_printer_free(hfs_watch_printer *printer);

typedef struct {
    int version;
    const char *const *syncs; /* these scheduled syncs (names); n_syncs 0: every scheduled one */
    size_t n_syncs;
    unsigned jobs;         /* parallel LFS transfers and hashing threads; 0: defaults */
    bool verbose;          /* log every request and response status (token redacted) */
    const char *state_dir; /* the .hfsync folder (locks, hash cache, pack state); NULL: beside
                              the manifest */
    /* Called one event at a time (never concurrently), from the syncs' own threads. */
    hfs_watch_event_fn event;
    void *event_ctx;
    /* hfs_watch: set (e.g. by SIGTERM) → each sync finishes the run it is in, makes a last
     * run, and hfs_watch returns. NULL: it runs until the process ends. */
    volatile int *stop;
    /* Set (e.g. by a second SIGINT) → runs in flight stop as soon as they can; what they
     * uploaded is found again by the next run (the LFS batch answers "exists"). */
    volatile int *cancel;
    /* Another hfsync holds a sync's lock: wait for it instead of leaving the run to it. */
    bool wait_lock;
    /* hfs_watch_run: called with the final plan of a run that has changes, before anything
     * is uploaded; returning false leaves the sync alone (not an error). NULL: no review. */
    bool (*review)(void *ctx, const hfs_plan *plan);
    void *review_ctx;
} hfs_watch_options;

#define HFS_WATCH_OPTIONS_VERSION 1
#define HFS_WATCH_OPTIONS_INIT                                                                     \
    {                                                                                              \
        .version = HFS_WATCH_OPTIONS_VERSION                                                       \
    }

/* What the runs of one sync came to. */
typedef struct {
    char *sync;
    size_t runs, pushes, commits, failures, skipped;
    int last_error;       /* of the last run: 0 when it succeeded (or was skipped) */
    char *last_message;   /* its message, else NULL */
    int persistent_error; /* the last persistent error of any run, 0 when none */
    char *persistent_message;
} hfs_watch_sync_result;

typedef struct {
    hfs_watch_sync_result *syncs; /* in manifest order */
    size_t n_syncs;
} hfs_watch_result;

void hfs_watch_result_clear(hfs_watch_result *result);

/* Runs every selected scheduled sync of the manifest, each on its own thread: a run at once,
 * then one every `schedule.every` seconds (start to start; a run longer than the period is
 * followed by the next at once, never overlapped), so one slow sync never delays another.
 * Failures never stop it: network errors, 5xx and 429 are retried at the next run, and a
 * persistent error is reported on every run. When *opts->stop is set, each sync makes a
 * last run and hfs_watch returns: 0 when every sync's last run succeeded and no persistent
 * error happened; else HFS_ERROR naming each sync that failed and why. HFS_EINVALID when a
 * selected sync has no schedule, or none has (nothing to watch). `out` may be NULL. */
int hfs_watch(hfs_watch_result *out, const hfs_manifest *m, const hfs_watch_options *opts);

/* One run of each selected scheduled sync, now, one after the other (a cron job's
 * `hfsync apply -f M --sync NAME`). Returns 0 when each run pushed, found nothing to push,
 * or was left to the holder of the lock; else the first failed run's error (HFS_ESTALE,
 * HFS_EAUTH, …, its message naming the sync). */
int hfs_watch_run(hfs_watch_result *out, const hfs_manifest *m, const hfs_watch_options *opts);

/* `hfsync upload … --every MINUTES`: the one-shot upload on a schedule, as huggingface-cli
 * upload --every does (a CommitScheduler): a folder is watched with the spec's include and
 * exclude patterns; a single file is watched in its folder, alone, under PATH_IN_REPO's
 * folder. Nothing is deleted (delete patterns are refused), changed files are pushed as
 * they are at each run (growing ones up to their size at the scan), commits say "Scheduled
 * commit" unless the spec has a message, and a pull request cannot be asked for. Runs like
 * hfs_watch, every `minutes` (> 0, fractions allowed, at least one second). */
int hfs_upload_every(hfs_watch_result *out, const hfs_upload_spec *spec, double minutes,
                     const hfs_watch_options *opts);

#ifdef __cplusplus
}
#endif
#endif
