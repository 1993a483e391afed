/* The diff: what must change on the remote so that it holds the local files — pure functions
 * over in-memory lists (local files with hashes and modes, the remote snapshot, settings). */
#ifndef HFS_DIFF_H
#define HFS_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/lfsrules.h"
#include "manifest/pattern.h"
#include "planner/remote.h"
#include "planner/scan.h"

typedef enum {
    HFS_OP_ADD,    /* a path the remote does not have */
    HFS_OP_UPDATE, /* a path whose remote content differs */
    HFS_OP_DELETE, /* a remote path absent locally that delete_patterns name */
    HFS_OP_COPY,   /* an LFS file whose content the remote already has at another path */
} hfs_op_kind;

/* "add", "update", "delete", "copy". */
const char *hfs_op_kind_name(hfs_op_kind kind);

/* hfs_op in DESIGN.md's data model. Pointers refer to the diff's inputs. */
typedef struct {
    hfs_op_kind kind;
    bool lfs;         /* the mode of the new content; for a delete, the mode of the removed file */
    bool upload;      /* the content must be sent: inline for regular files, an LFS upload for LFS
                         files. False for deletes, copies, and LFS content another op already sends */
    const char *path; /* repo path */
    const hfs_local_file *local;    /* add, update, copy: the local file with the content */
    const hfs_remote_entry *remote; /* update, delete, a copy onto an existing path: the
                                       remote file replaced or removed */
    const hfs_remote_entry *from;   /* copy: the remote file whose object is reused */
    uint64_t size;                  /* of the new content; of the removed file for deletes */
} hfs_op;

typedef struct {
    const char *path_in_repo;          /* NULL or "" for the root */
    const hfs_pattern_set *delete_set; /* matched against paths relative to path_in_repo;
                                          NULL or empty: nothing is deleted */
} hfs_diff_settings;

typedef struct {
    hfs_op *ops; /* sorted by path, bytewise */
    size_t n_ops;
    size_t n_add, n_update, n_delete, n_copy, n_unchanged;
    size_t upload_files;   /* ops with upload set */
    uint64_t upload_bytes; /* their sizes */
} hfs_diff_result;

/* Compares the local files (sorted by repo_path, hashed; modes[i] HFS_MODE_REGULAR or
 * HFS_MODE_LFS) with the remote snapshot:
 * - unchanged when the remote file at the path holds the same content (its git blob sha1
 *   for a regular remote file, its sha256 for an LFS one), whatever mode the file would get;
 * - add / update otherwise; an LFS one whose sha256 the remote already holds at another path
 *   becomes a copy from it (preferring a path being deleted: a local move is copy + delete);
 * - delete for remote files under path_in_repo, absent locally, matching delete_set; a
 *   `.gitattributes` is never deleted;
 * - the same LFS content at several paths is uploaded once (the first path).
 * Pure: no I/O. HFS_EINVALID when the input breaks the contract (unsorted, missing hash). */
int hfs_diff(hfs_diff_result *out, const hfs_local_file *local, const unsigned char *modes,
             size_t n_local, const hfs_remote_snapshot *remote, const hfs_diff_settings *s);
void hfs_diff_result_clear(hfs_diff_result *d);

/* ---- safety and hub limits ------------------------------------------------------------ */

#define HFS_LIMIT_PATHS_SHOWN 20
#define HFS_LIMIT_FOLDER_ENTRIES 10000u      /* entries (files + folders) per folder */
#define HFS_LIMIT_FILE_BYTES 500000000000ull /* 500 GB: the hub's hard maximum */
#define HFS_LIMIT_REPO_FILES 100000u         /* files per repo the hub recommends */

typedef struct {
    uint64_t max_delete;
    /* The .gitattributes rules the commit is judged by, and the size of the .gitattributes
     * it starts from: the hub appends a line for every LFS path no rule covers, and that
     * file must stay under 10 MiB. rules NULL skips this check. */
    const hfs_lfsrules *rules;
    uint64_t gitattributes_bytes;
} hfs_limit_settings;

typedef struct {
    char *message; /* what is wrong and how to get past it */
    char **paths;  /* the first HFS_LIMIT_PATHS_SHOWN offending paths (or folders) */
    size_t n_paths;
    size_t count; /* how many offend in all */
} hfs_limit_violation;

typedef struct {
    hfs_limit_violation *violations; /* each refuses the plan */
    size_t n_violations;
    char **warnings; /* worth telling, not refusing */
    size_t n_warnings;
} hfs_limit_report;

/* Checks the diff against max_delete and the hub's limits: more than 10,000 entries in one
 * folder of the resulting tree; a regular file over 10 MiB; a file over 500 GB; path rules
 * (no `.git` or `.cache` segment, no empty, `.` or `..` segment; no path that is both a file
 * and a folder); the hub's .gitattributes upkeep passing 10 MiB. More than 100,000 files in
 * the resulting repo is a warning. Pure. */
int hfs_diff_check_limits(hfs_limit_report *out, const hfs_diff_result *d,
                          const hfs_local_file *local, size_t n_local,
                          const hfs_remote_snapshot *remote, const hfs_limit_settings *s);
/* The checks that need only the scanned files, made before any file is hashed so that a
 * file over 500 GB is refused at once: file sizes and the path rules above. Pure. */
int hfs_diff_check_local(hfs_limit_report *out, const hfs_local_file *local, size_t n_local);

/* The violations as one message: "sync NAME: …" and, per violation, its paths and count. */
char *hfs_limit_report_format(const hfs_limit_report *r, const char *sync_name);
void hfs_limit_report_clear(hfs_limit_report *r);

#endif
