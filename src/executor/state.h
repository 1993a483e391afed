/* Per-sync state under .hfsync/state/SYNC/: the lock that keeps two applies (or a cron run
 * and `hfsync watch`) of one sync from overlapping, and the apply journal that lets an
 * interrupted apply resume (plan id, PR number, uploaded objects, commits made). The journal
 * is rewritten atomically (write, fsync, rename) after each step. */
#ifndef HFS_EXECUTOR_STATE_H
#define HFS_EXECUTOR_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/hash.h"
#include "hfsync/manifest.h"

/* The .hfsync folder of a manifest: beside it; in the current directory for a manifest
 * built in memory (named "<upload>" and the like) or a bare file name. Caller frees. */
char *hfs_state_dir_for(const char *manifest_path);

/* The name of a sync's folder under .hfsync/state/ (its lock and journal): the sync's own name
 * for a manifest's sync. A manifest built in memory ("<upload>": `hfsync upload`,
 * `upload-large-folder`) always names its one sync alike, so there the name also says where
 * the sync goes — "upload--models--alice--x--<12 hex>", the digest over repo type, repo id,
 * revision and path_in_repo — so uploads from one directory to different targets share
 * neither a lock nor a journal, while two to the same target still do. Caller frees. */
char *hfs_state_name(const char *manifest_path, const char *sync_name, hfs_repo_type repo_type,
                     const char *repo_id, const char *revision, const char *path_in_repo);

/* ---- the lock ---------------------------------------------------------------------- */

typedef struct hfs_sync_lock hfs_sync_lock;

/* Takes the flock of .hfsync/state/SYNC/lock (state_dir is the .hfsync folder), writing the
 * holder's pid (and start time, command) into it. When another process holds it: with
 * `wait` blocks until it is free; without, returns HFS_ELOCKED with a message naming the
 * holder's pid, e.g. "sync ckpt is being applied by another hfsync (pid 1234, since …)". */
int hfs_sync_lock_acquire(hfs_sync_lock **out, const char *state_dir, const char *sync_name,
                          bool wait);
/* The same; while it waits, a set *cancel (may be NULL) stops it with HFS_ERROR. */
int hfs_sync_lock_acquire_until(hfs_sync_lock **out, const char *state_dir, const char *sync_name,
                                bool wait, volatile int *cancel);
void hfs_sync_lock_release(hfs_sync_lock *lock); /* NULL is fine */

/* ---- the journal ------------------------------------------------------------------- */

typedef struct {
    char *step_id; /* the commit group's id (stable for a plan) */
    char commit_oid[HFS_SHA1_HEX];
} hfs_journal_commit;

typedef struct {
    char plan_id[HFS_SHA256_HEX]; /* the plan this journal belongs to */
    long pr_num;                  /* multi: the pull request, 0 before it is opened */
    char **uploaded;              /* sha256 of LFS objects known to be on the hub */
    size_t n_uploaded, cap_uploaded;
    hfs_journal_commit *commits; /* commits made, in order */
    size_t n_commits, cap_commits;
    /* Internal: a hash index over `uploaded`, kept by hfs_journal_add_uploaded, so a large
     * upload's lookups stay O(1). Add objects through that function, not by hand. */
    struct hfs_journal_index *index;
} hfs_journal;

/* Loads .hfsync/state/SYNC/journal.json (call it holding the sync's lock: it also removes
 * the temp files of saves a kill interrupted). A missing journal, or one of another plan,
 * gives an empty journal for plan_id (*out->plan_id set). A corrupt one is discarded with a
 * warning (the hub's state — LFS batch "exists", commit trailers — is the truth anyway). */
int hfs_journal_load(hfs_journal *out, const char *state_dir, const char *sync_name,
                     const char *plan_id);
/* Writes it atomically (write, fsync, rename). */
int hfs_journal_save(const hfs_journal *j, const char *state_dir, const char *sync_name);
void hfs_journal_add_uploaded(hfs_journal *j, const char *sha256);
bool hfs_journal_has_uploaded(const hfs_journal *j, const char *sha256);
void hfs_journal_add_commit(hfs_journal *j, const char *step_id, const char *commit_oid);
const hfs_journal_commit *hfs_journal_find_commit(const hfs_journal *j, const char *step_id);
/* Removes the journal file (an apply that finished). */
int hfs_journal_remove(const char *state_dir, const char *sync_name);
void hfs_journal_clear(hfs_journal *j);

#endif
