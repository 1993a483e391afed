/* hfsync public API: the executor. Carry out a plan over HTTP (stale checks, repo creation,
 * preupload, LFS uploads, the commit), report what happens as events, and the one-shot upload. */
#ifndef HFSYNC_APPLY_H
#define HFSYNC_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hfsync/manifest.h"
#include "hfsync/plan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The line added to every commit description, followed by the plan's id. After a commit
 * POST fails (5xx, timeout, network) the executor looks for it on the branch to learn
 * whether the commit landed anyway, so a retry never makes a second commit. */
#define HFS_APPLY_PLAN_TRAILER "hfsync-plan:"
/* Added below it when a sync's plan has several commits: "hfsync-step: 2/5". */
#define HFS_APPLY_STEP_TRAILER "hfsync-step:"

/* Parallel LFS transfers when the caller does not say (parts count one each). */
#define HFS_APPLY_DEFAULT_JOBS 8

typedef enum {
    HFS_APPLY_EVENT_STALE,           /* a pin did not hold: nothing was changed (message, path) */
    HFS_APPLY_EVENT_CREATE_REPO,     /* the repo was created, or found to exist (existed) */
    HFS_APPLY_EVENT_PREUPLOAD,       /* the hub confirmed the modes (n_lfs, n_regular, n_ignored) */
    HFS_APPLY_EVENT_IGNORED,         /* the hub's .gitignore excludes `path`: not committed */
    HFS_APPLY_EVENT_HASH_PROGRESS,   /* files whose mtime moved are hashed again */
    HFS_APPLY_EVENT_UPLOAD_START,    /* LFS uploads begin (files_total, bytes_total) */
    HFS_APPLY_EVENT_UPLOAD_PROGRESS, /* at most ~10 a second */
    HFS_APPLY_EVENT_UPLOAD_DONE,     /* every LFS object is on the hub */
    HFS_APPLY_EVENT_COMMIT_PROGRESS, /* the commit body is being sent (inline bytes) */
    HFS_APPLY_EVENT_COMMIT,          /* a commit landed (commit_oid, url, pr_url, recovered) */
    HFS_APPLY_EVENT_DONE,            /* the end of a successful apply (counts, seconds) */
    HFS_APPLY_EVENT_ERROR,           /* the apply stops (message, error_code) */
    HFS_APPLY_EVENT_WARNING,         /* worth telling (message) */
    HFS_APPLY_EVENT_LARGE_STATUS,    /* strategy large, every few seconds: `large` */
    HFS_APPLY_EVENT_PULL_REQUEST,    /* a pull request was opened or found, or changed state:
                                        pr_num, url, pr_state */
    HFS_APPLY_EVENT_ALREADY_APPLIED, /* an earlier apply of this plan got the sync's changes
                                        onto the revision (its head is, or descends from,
                                        commit_oid; pr_url for multi): nothing is done */
} hfs_apply_event_kind;

/* "stale", "create_repo", "preupload", "ignored", "hash_progress", "upload_start",
 * "upload_progress", "upload_done", "commit_progress", "commit", "done", "error", "warning",
 * "large_status", "pull_request", "already_applied". */
const char *hfs_apply_event_name(hfs_apply_event_kind kind);

/* Where a `strategy: large` sync stands: its pipeline hashes (planning did that), asks the
 * hub how files upload, uploads LFS objects and commits in adaptive groups, all at once. */
typedef struct {
    uint64_t files_total, bytes_total;       /* files the plan adds or updates */
    uint64_t files_hashed, bytes_hashed;     /* hashed (by the plan, or from the hash cache) */
    uint64_t files_skipped, bytes_skipped;   /* already committed by an earlier, interrupted
                                                apply of this plan: left out */
    uint64_t files_uploaded, bytes_uploaded; /* content on the hub or ready to go inline */
    uint64_t files_committed, bytes_committed;
    size_t commits;       /* made by this apply */
    size_t commit_target; /* files the next commit aims at (50, growing after fast commits) */
    /* Workers busy in each phase right now. */
    unsigned workers_hash, workers_preupload, workers_upload, workers_commit;
} hfs_apply_large_status;

/* One thing that happened. Strings are valid during the callback only; fields that do not
 * apply to the kind are zero / NULL. */
typedef struct {
    hfs_apply_event_kind kind;
    const char *sync; /* the sync's name; NULL for events about the whole apply */
    const char *repo_id;
    hfs_repo_type repo_type;
    const char *revision;
    const char *message; /* a sentence for people (stale, error, warning, ignored) */
    const char *path;    /* the file concerned (stale, ignored), else NULL */
    uint64_t files_done, files_total;
    uint64_t bytes_done, bytes_total;
    double seconds; /* since the phase (or, for done, the apply) began */
    size_t n_lfs, n_regular, n_ignored, n_deleted; /* preupload; commit */
    bool is_private, existed;                      /* create_repo */
    const char *url;        /* create_repo: the repo's URL; commit: the commit's URL */
    const char *pr_url;     /* commit with create_pr: the pull request's URL */
    const char *commit_oid; /* commit */
    size_t step, steps;     /* commit: i of n for the sync */
    bool recovered;         /* commit: it landed although the POST failed; found by plan id */
    size_t commits;         /* done: commits made */
    int error_code;         /* error, stale: the hfs_error_code */
    const hfs_apply_large_status *large; /* large_status */
    long pr_num;                         /* pull_request: the pull request's number */
    const char *pr_state;                /* pull_request: "draft", "open" or "merged" */
} hfs_apply_event;

typedef void (*hfs_apply_event_fn)(void *ctx, const hfs_apply_event *event);

typedef struct {
    int version;
    unsigned jobs;            /* parallel LFS transfers; 0: HFS_APPLY_DEFAULT_JOBS */
    const char *const *syncs; /* apply only these syncs of the plan (names); n_syncs 0: all */
    size_t n_syncs;
    const char *token;        /* NULL: HF_TOKEN, else the token file under HF_HOME */
    bool verbose;             /* log every request and response status (token redacted) */
    hfs_apply_event_fn event; /* may be NULL */
    void *event_ctx;
    volatile int *cancel; /* non-NULL and set (e.g. from SIGINT): stop soon, HFS_ERROR */
    /* The .hfsync folder holding each sync's lock and apply journal (state/SYNC/); NULL:
     * .hfsync beside the plan's manifest (the current directory for an in-memory one). */
    const char *state_dir;
    /* Another apply of a sync holds its lock: wait for it (true) or fail with HFS_ELOCKED
     * naming the holder's pid (false). */
    bool wait_lock;
    /* Files may grow while they are applied (scheduled syncs: logs being appended to, as
     * CommitScheduler's PartialFileIO): a file longer than planned is sent up to its planned
     * size, its first `size` bytes checked against the pinned hash as they are sent, instead
     * of being refused as stale. A shorter or rewritten file is still stale. */
    bool allow_growth;
    /* The caller holds the selected syncs' locks already (a scheduled run takes its sync's
     * lock before planning, so cron runs and `hfsync watch` never plan it at once; any
     * caller can with hfs_apply_lock_acquire, hfsync/lock.h): the apply does not take them
     * again. */
    bool lock_held;
} hfs_apply_options;

#define HFS_APPLY_OPTIONS_VERSION 1
#define HFS_APPLY_OPTIONS_INIT                                                                     \
    {                                                                                              \
        HFS_APPLY_OPTIONS_VERSION, 0, NULL, 0, NULL, false, NULL, NULL, NULL, NULL, false, false,  \
            false                                                                                  \
    }

/* One commit an apply made. */
typedef struct {
    char *sync;
    char *repo_id;
    hfs_repo_type repo_type;
    char *revision;
    char commit_oid[41];
    char *commit_url;
    char *pr_url;   /* with create_pr, else NULL */
    bool recovered; /* the POST failed but the commit landed (found by its plan id) */
} hfs_apply_commit;

typedef struct {
    hfs_apply_commit *commits;
    size_t n_commits;
    size_t repos_created;
    size_t lfs_files_uploaded; /* objects sent (objects the hub already had are not counted) */
    uint64_t lfs_bytes_uploaded;
    size_t inline_files;
    uint64_t inline_bytes;
    double seconds;
} hfs_apply_result;

/* Carries out the plan, exactly, over HTTP, against the plan's endpoint (HF_ENDPOINT must
 * not name another one).
 * 1. Checks every pin of every selected sync before anything is created or uploaded: the
 *    revision's head must still be the plan's remote_head (a repo the plan creates must
 *    still be missing, or hold nothing but the hub's first commit); every local file must
 *    have its pinned size, and, when its mtime moved, its pinned hash. HFS_ESTALE otherwise,
 *    naming what moved.
 * 2. Per sync: creates the repo when the plan says so (an existing one is fine); per
 *    commit: preupload (the hub must decide each file's mode as the plan did, else
 *    HFS_ERROR naming the files; files its .gitignore excludes are left out), LFS batch
 *    and parallel uploads (a file that changes while it is sent is HFS_ESTALE), then the
 *    commit (NDJSON streamed from disk) with parentCommit = the pinned head and the plan's
 *    id in the description. A 412 is HFS_ESTALE. After a failed POST the branch is read:
 *    the commit found there counts as made; else, if the branch did not move, the commit
 *    is sent once more.
 * Each selected sync's lock (.hfsync/state/SYNC/lock) is held throughout: a sync another
 * apply holds is HFS_ELOCKED naming its pid (or waited for, with wait_lock); its journal
 * (state/SYNC/journal.json) records what is done and goes away when the sync is finished.
 * `strategy: large` commits straight to the revision in adaptive groups (50 files, growing
 * after fast commits, shrinking after failures), preupload, uploads and commits pipelined;
 * re-run on the same plan it resumes: its own earlier commits (trailer hfsync-plan: ID) do
 * not make the plan stale, and files already committed are not committed again.
 * A sync an earlier apply of the same plan finished without saying so (killed after the
 * merge or push landed) is not stale either: `strategy: multi` whose pull request (found by
 * the plan's id) is merged and whose revision is at or past the merge, or a sync over git
 * whose revision is at or past the commit carrying the plan's id, gets an already_applied
 * event and is left alone.
 * `out` (may be NULL) lists the commits made, also when a later step failed; clear it
 * with hfs_apply_result_clear. */
int hfs_apply(hfs_apply_result *out, const hfs_plan *plan, const hfs_apply_options *opts);
void hfs_apply_result_clear(hfs_apply_result *result);

/* ---- printing events ------------------------------------------------------------------ */

typedef enum {
    HFS_APPLY_PRINT_PLAIN, /* status lines on `err`, commit lines and the summary on `out` */
    HFS_APPLY_PRINT_BAR,   /* like PLAIN, with a one-line progress bar redrawn on `err` */
    HFS_APPLY_PRINT_JSON,  /* one JSON object per event on `out`, nothing on `err` */
    HFS_APPLY_PRINT_QUIET, /* errors only, on `err` */
} hfs_apply_print_mode;

typedef struct hfs_apply_printer hfs_apply_printer;

hfs_apply_printer *hfs_apply_printer_new(hfs_apply_print_mode mode, FILE *out, FILE *err);
/* An hfs_apply_event_fn: pass it with the printer as ctx. */
void hfs_apply_printer_event(void *printer, const hfs_apply_event *event);
/* Clears a progress bar left on screen. */
void hfs_apply_printer_finish(hfs_apply_printer *printer);
void hfs_apply_printer_free(hfs_apply_printer *printer);

/* The JSON form of an event ({"event": NAME, ...}), compact, no newline. Caller frees. */
char *hfs_apply_event_to_json(const hfs_apply_event *event);

/* ---- the one-shot upload (`hfsync upload`) -------------------------------------------- */

typedef struct {
    int version;
    const char *repo_id; /* required: "namespace/name" */
    hfs_repo_type repo_type;
    const char *revision; /* NULL: "main" */
    /* A file or a folder. NULL: the file or folder in `base_dir` named like the repo
     * (the part after '/'), as huggingface-cli upload does. */
    const char *local_path;
    /* NULL: the repo root for a folder, the file's name for a file. */
    const char *path_in_repo;
    const char *const *include; /* allow patterns (folders only) */
    size_t n_include;
    const char *const *exclude; /* ignore patterns (folders only) */
    size_t n_exclude;
    const char *const *delete_patterns; /* remote files to delete when absent locally */
    size_t n_delete;
    const char *commit_message; /* NULL: "Upload folder using hfsync" / "Upload NAME with hfsync" */
    const char *commit_description; /* NULL: "" */
    bool create_pr;
    bool create_private;  /* a repo that has to be created is private */
    const char *base_dir; /* NULL: the current directory; also where .hfsync/ is kept */
} hfs_upload_spec;

#define HFS_UPLOAD_SPEC_VERSION 1
#define HFS_UPLOAD_SPEC_INIT                                                                       \
    {                                                                                              \
        .version = HFS_UPLOAD_SPEC_VERSION                                                         \
    }

/* Uploads a file or folder like `huggingface-cli upload`: a one-sync manifest in memory
 * (the repo is created when missing), planned and applied at once. The plan is not shown
 * and not confirmed. When nothing changed, no commit is made and *url is the URL of the
 * revision's head commit. *url (may be NULL) gets the resulting URL: the pull request's
 * with create_pr, else the commit's. The planner's endpoint and token come from
 * HF_ENDPOINT and HF_TOKEN (or the token file); opts->token must be NULL or the same. */
int hfs_upload(char **url, hfs_apply_result *out, const hfs_upload_spec *spec,
               const hfs_apply_options *opts);

#ifdef __cplusplus
}
#endif
#endif
