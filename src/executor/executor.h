/* The HTTP executor's internals, shared by its files in the order an apply runs them:
 * pins (stale checks), preupload and LFS uploads, the NDJSON commit body, the commit. */
#ifndef HFS_EXECUTOR_H
#define HFS_EXECUTOR_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/hash.h"
#include "hfsync/apply.h"
#include "hub/hub.h"
#include "hub/transfer.h"
#include "executor/state.h"
#include "planner/plan.h"

/* One apply: the session, the caller's options and what has been done so far. */
typedef struct {
    hfs_hub *hub;
    const hfs_plan *plan;
    const hfs_apply_options *opts;
    hfs_apply_result *result;
    double started;
    char *stale_path; /* the file a stale error is about, for the event; else NULL */
    char *state_dir;  /* the .hfsync folder: each sync's lock and journal (state.h) */
    /* Send checks for ops of a plan read from a file (which has none): found by the pin
     * check, from the hash cache or from hashing a file again; sorted by op. */
    struct exec_send_check *checks;
    size_t n_checks;
} exec_ctx;

/* What the pin check learnt about a sync's remote. */
typedef struct {
    char head[HFS_SHA1_HEX]; /* the commit the first commit builds on; "" when the repo is
                                still to be created */
    bool exists;             /* the repo is there (for a sync that creates it: already) */
} exec_pin;

/* One sync being applied. */
typedef struct {
    exec_ctx *x;
    const hfs_plan_sync *sync;
    hfs_hub_repo repo;
    char *revision;            /* where commits go: the sync's, then refs/pr/N */
    bool create_pr;            /* the next commit opens the pull request */
    char parent[HFS_SHA1_HEX]; /* the next commit's parentCommit */
    char *pr_url;              /* the pull request the commits go to, once open */
    const char *step_id;       /* multi: the commit's "hfsync-step:" is this id, not "i/n" */
    struct lgit_session *git;  /* transport git: the cache and remote (src/legacy-git/lgit.h) */
    /* What earlier applies of this plan did (loaded by apply_sync, removed once the sync
     * is done); a strategy saves it with hfs_journal_save(j, x->state_dir, state_name)
     * after each step. */
    hfs_journal *journal;
    const char *state_name; /* the sync's folder under .hfsync/state/ (hfs_state_name) */
    /* The root .gitattributes the plan uploads, read once (exec_plan_gitattributes); NULL
     * when it uploads none. Every preupload of the sync sends it. */
    char *gitattributes;
} exec_sync;

/* One operation of the commit being made. */
typedef struct {
    const hfs_plan_op *op;
    bool ignored; /* the hub's .gitignore excludes it: neither uploaded nor committed */
    int fd;       /* a regular-file copy: its content, downloaded; else -1 (read op->local) */
} exec_entry;

/* Emits an event, filling in the sync's names when s is not NULL. */
void exec_emit(exec_ctx *x, const hfs_plan_sync *s, hfs_apply_event *ev);
/* Emits the pull_request event of pull request `num` ("draft", "open", "merged"). */
void exec_emit_pr(exec_sync *s, long num, const char *url, const char *state);
/* HFS_ERROR "interrupted" when the caller asked to stop. */
int exec_check_cancel(const exec_ctx *x);
/* {folder}/{local}. Caller frees. */
char *exec_local_path(const hfs_plan_sync *s, const hfs_plan_op *op);

/* ---- pins.c ---------------------------------------------------------------------------- */

/* Checks the remote head of every sync, then every local file the plan reads (size; hash
 * when the mtime moved), before anything changes. HFS_ESTALE naming what moved. */
int exec_check_pins(exec_ctx *x, const hfs_plan_sync *const *syncs, size_t n, exec_pin *pins);

/* The send check to upload an LFS op with (the plan's, or the one the pin check found), or
 * NULL: its bytes are then checked against its sha256 as they are sent. */
const char *exec_send_check_of(const exec_ctx *x, const hfs_plan_op *op);

/* ---- lfs.c ----------------------------------------------------------------------------- */

/* The root .gitattributes the plan uploads, in whichever of its commits (*out NULL: none).
 * The planner decided every file's mode by it (planner.c, load_rules), so the hub is asked
 * to decide by it too (s->gitattributes), even in a commit that lands before the one
 * carrying it (strategies multi and large). Without it, the hub would judge a new repo's
 * files by the .gitattributes it made the repo with, and refuse the plan's LFS files its
 * rules do not cover. */
int exec_plan_gitattributes(char **out, const exec_sync *s);
/* Asks the hub how each added or updated file uploads. A mode other than the plan's is
 * HFS_ERROR naming the files; a file the hub's .gitignore excludes gets entry->ignored. */
int exec_preupload(exec_sync *s, exec_entry *entries, size_t n);
/* One of several exec_upload_lfs calls running at once in threads of their own (strategy
 * large's lanes): they share the transfer slots, report progress to `progress` instead of
 * as events (whose relay could not tell the calls apart), and add to the apply's result
 * under `result_mu`. */
typedef struct {
    hfs_lfs_slots *slots;
    void (*progress)(void *ctx, const hfs_lfs_upload_progress *p);
    void *progress_ctx;
    pthread_mutex_t *result_mu;
} exec_lane;

/* LFS batch for the commit's LFS content and the uploads it asks for, in parallel. lane:
 * NULL, or how this call shares the work with others running at once. */
int exec_upload_lfs(exec_sync *s, const exec_entry *entries, size_t n, const exec_lane *lane);

/* ---- ndjson.c -------------------------------------------------------------------------- */

typedef struct exec_ndjson exec_ndjson;

typedef struct {
    const char *summary;
    const char *description;
    const char *parent; /* NULL or "": no parentCommit */
    const hfs_plan_sync *sync;
    const exec_entry *entries; /* ignored ones are left out */
    size_t n;
    /* Inline bytes read so far, out of the total (may be NULL). */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
} exec_ndjson_spec;

/* The commit body, pulled line by line: the header, then per entry a `file` line (the
 * content base64-encoded straight from disk, its git sha1 checked against the pin as it
 * goes: a mismatch fails the read with HFS_ESTALE, so the hub gets a truncated body and
 * makes no commit), `lfsFile`, `deletedFile` or `deletedFolder` (a path ending in '/'). */
exec_ndjson *exec_ndjson_new(const exec_ndjson_spec *spec);
hfs_hub_body exec_ndjson_body(exec_ndjson *nd);
/* Did the body itself fail (rather than the request)? Its error was set when it did. */
bool exec_ndjson_failed(const exec_ndjson *nd);
/* The inline bytes the body carries. */
uint64_t exec_ndjson_inline_bytes(const exec_ndjson *nd);
void exec_ndjson_free(exec_ndjson *nd);

/* ---- commit.c -------------------------------------------------------------------------- */

typedef struct {
    char commit_oid[HFS_SHA1_HEX];
    char *commit_url;
    char *pr_url;
    long pr_num;
    bool recovered;
} exec_commit_result;

/* POSTs the commit of these entries to s->revision with parentCommit s->parent. Never
 * blindly resent: after a 5xx, 408, 429, a timeout or a network error the branch (or, for
 * a new pull request, the newest ones) is searched for the commit's trailer; found, it
 * counts as made; not found and the branch still at the parent, it is sent once more;
 * moved, HFS_ESTALE. A 412 is HFS_ESTALE. */
int exec_commit(exec_commit_result *out, exec_sync *s, const exec_entry *entries, size_t n,
                const char *summary, const char *description, const char *trailer);
void exec_commit_result_clear(exec_commit_result *r);

/* Does `text` hold `line` as a whole line? */
bool exec_has_line(const char *text, const char *line);

/* ---- apply.c: one commit of a sync ---------------------------------------------------- */

/* Preupload, LFS uploads and the commit of one planned commit (step of steps) to
 * s->revision on s->parent, which then moves to the new commit (it stays when the hub's
 * .gitignore leaves nothing to commit). Emits the commit event and records the commit. */
int exec_apply_commit(exec_sync *s, const hfs_plan_commit *c, size_t step, size_t steps);
/* Adds a commit to the apply's result, on s->revision. */
void exec_record_commit(exec_sync *s, const exec_commit_result *c);
/* A regular file the plan copies (e->op->from at `revision`): downloaded into an unlinked
 * temp file, e->fd, to be committed inline from there. */
int exec_fetch_copy(exec_entry *e, hfs_hub *hub, const hfs_hub_repo *repo, const char *revision);

/* ---- multi.c: strategy multi ----------------------------------------------------------- */

/* What an earlier apply of the plan left on the hub that makes a sync done already. */
typedef struct {
    bool applied;
    char commit_oid[HFS_SHA1_HEX]; /* the plan's last commit on the revision (multi: the merge) */
    char head[HFS_SHA1_HEX];       /* the revision's head: that commit, or a descendant */
    long pr_num;                   /* multi: the merged pull request */
} exec_applied;

/* HFS_EINVALID when the sync is `strategy: multi` on a revision its pull request cannot
 * merge into: over git the pull request is opened through the discussions API, which bases
 * it on main only (over http a revision other than main gets its pull request from the
 * first step's commit, opened against that revision). */
int exec_multi_check(const hfs_plan_sync *s);
/* Whether the sync's revision moved because an earlier apply of this plan (killed after the
 * merge landed, say) finished it: this plan's pull request (`pr_hint`, from the journal, or
 * found by its title and description) is merged, and the revision's head is its merge
 * commit or a descendant of it. */
int exec_multi_applied(exec_applied *out, exec_ctx *x, const hfs_plan_sync *s, long pr_hint);
/* The sync's commits on one pull request: found by the plan's id (a resumed apply) or
 * opened — as a draft through the discussions API for main, by the first step's commit for
 * another revision — one commit per step on refs/pr/N (steps already there are skipped),
 * its checklist ticked; then opened, and merged into the revision unless create_pr.
 * HFS_ESTALE when the revision moved before the merge. */
int exec_multi_apply(exec_sync *s);

/* ---- large.c: strategy large ----------------------------------------------------------- */

/* A `strategy: large` sync resumed on the same plan finds its revision moved by its own
 * earlier commits. For each such sync whose head moved only by commits carrying this
 * plan's trailer (and, for a sync that creates its repo, beyond the hub's first commit),
 * syncs[i] is pointed at a copy in copies[i] pinned to the current head, so the pin check
 * holds; any other move is left for the pin check to report. copies has n slots. */
int exec_large_repin(exec_ctx *x, const hfs_plan_sync **syncs, size_t n, hfs_plan_sync *copies);
/* The sync's operations re-cut into adaptive commits straight to s->revision on
 * s->parent: preupload, LFS uploads and commits run at once on their own threads; files
 * an earlier apply of the plan committed (the remote has them as planned) are skipped. */
int exec_large_apply(exec_sync *s);

/* ---- upload.c: the one-sync uploads ---------------------------------------------------- */

/* A plan's hashing progress as hash_progress events of the apply that follows, for
 * hfs_plan_options.progress; ctx is that apply's const hfs_apply_options *. */
void exec_plan_progress_event(void *ctx, const hfs_plan_progress *p);
/* The one sync an upload of `spec` makes (hfs_upload, hfs_upload_every): its repo, branch
 * and commit, and, when `folder` is given (a folder is uploaded), that folder with the
 * spec's PATH_IN_REPO and patterns; for a single file the caller says what to scan. */
void exec_upload_sync_spec(hfs_sync_spec *out, const hfs_upload_spec *spec, const char *folder);

#endif
