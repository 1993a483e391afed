/* The plan as the executors read it: per sync the pins (remote head, manifest digest, every
 * file's size, hash and mtime) and the commits with their operations, in plain structs. */
#ifndef HFS_PLAN_INTERNAL_H
#define HFS_PLAN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/hash.h"
#include "hfsync/plan.h"
#include "planner/diff.h"
#include "planner/group.h"
#include "planner/remote.h"

/* One operation of a commit. */
typedef struct {
    hfs_op_kind kind;
    bool lfs;         /* "mode": "lfs" or "regular" */
    bool upload;      /* the content must be sent (inline for regular files, LFS upload for LFS
                         ones); false for deletes, copies, and repeated LFS content */
    char *path;       /* repo path */
    char *local;      /* add, update, copy: the file, relative to the sync's folder; else NULL */
    char *from;       /* copy: the remote path whose LFS object is reused; else NULL */
    uint64_t size;    /* add, update, copy: content size (pinned); deletes: 0 */
    bool has_mtime;   /* add, update, copy */
    int64_t mtime_ns; /* pinned: the file's mtime when it was planned */
    char sha1[HFS_SHA1_HEX];       /* git blob sha1, "" when unknown (always set for regular) */
    char sha256[HFS_SHA256_HEX];   /* "" when unknown (always set for LFS) */
    /* The send check taken with sha256 (hfs_hasher_add_check), "" when none was: an upload
     * checks the bytes it sends against it rather than hash them with SHA-256 again. Not
     * in the plan file: a plan read from one gets it from the hash cache, if at all. */
    char check[HFS_CHECK_HEX];
    char remote_oid[HFS_SHA1_HEX]; /* update, delete, copy onto an existing path: the remote
                                      blob oid it replaces; else "" */
} hfs_plan_op;

typedef struct {
    char *message; /* "<message> (part i/N)" when a sync has N > 1 commits */
    char *description;
    hfs_plan_op *ops; /* sorted by path */
    size_t n_ops;
} hfs_plan_commit;

typedef struct {
    char *name;
    char *repo_id;
    hfs_repo_type repo_type;
    char *revision;
    char *path_in_repo; /* "" for the root */
    char *folder;       /* absolute */
    char *folder_path;  /* as written in the manifest, for messages */
    hfs_transport transport;
    hfs_commit_strategy strategy;
    bool create_pr;
    bool create; /* the repo is missing and apply creates it */
    bool create_private;
    char *create_sdk;               /* spaces to create: the SDK; else NULL */
    char remote_head[HFS_SHA1_HEX]; /* the commit planned against; "" when create */
    /* multi and large: the bounds the commits were cut with (commit.max_files, max_bytes;
     * 0: none); has_limits false for a plan written before they were recorded. */
    bool has_limits;
    uint64_t max_files, max_bytes;
    hfs_plan_summary summary; /* n_syncs and n_create unused per sync */
    char **warnings;
    size_t n_warnings;
    hfs_plan_commit *commits;
    size_t n_commits;
} hfs_plan_sync;

struct hfs_plan {
    int format_version;
    char plan_id[HFS_SHA256_HEX];
    char *tool;          /* "hfsync <version>" */
    char *manifest_path; /* as given */
    char manifest_digest[HFS_SHA256_HEX];
    char *endpoint;
    hfs_plan_sync *syncs; /* in manifest order */
    size_t n_syncs;
};

/* An empty plan for a manifest (syncs are appended with hfs_plan_add_sync). */
hfs_plan *hfs_plan_new(const char *manifest_path, const char *manifest_digest,
                       const char *endpoint);

/* Everything one sync's plan is made from: its settings, the snapshot it was planned against
 * (NULL or !exists: the repo will be created), the local files, the diff and the groups. */
typedef struct {
    const hfs_sync *sync;
    const hfs_remote_snapshot *remote;
    const hfs_diff_result *diff;
    const hfs_group_result *groups;
    const char *const *warnings;
    size_t n_warnings;
} hfs_plan_sync_input;

/* Appends one sync built from the input (strings are copied: the plan owns its memory). */
void hfs_plan_add_sync(hfs_plan *plan, const hfs_plan_sync_input *in);

/* Computes plan_id from the content (call after the last sync is added). */
void hfs_plan_seal(hfs_plan *plan);

/* The plan_id of a plan file's JSON without its "plan_id" member: the sha256 of its compact,
 * key-sorted form (what hfs_plan_parse checks; the fuzz target re-seals edited plans). */
void hfs_plan_canonical_id(char out[HFS_SHA256_HEX], const json_t *body);

/* "regular" / "lfs". */
const char *hfs_plan_mode_name(bool lfs);

#endif
