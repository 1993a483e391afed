/* The commit API's internals, shared by its files in the order a commit runs them: the
 * operations (ops.c), the pre-upload (preupload.c), the commit body and POST (commit.c). */
#ifndef HFS_API_H
#define HFS_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/hash.h"
#include "hfsync/commit.h"
#include "hub/hub.h"

/* One operation and what is known about it so far. */
typedef struct {
    hfs_commit_op_kind kind;
    char *path; /* normalised path in the repo */
    /* add */
    char *local_path; /* from a file, else NULL */
    const void *data; /* from a buffer, until released */
    hfs_buffer_free_fn free_fn;
    bool from_buffer;
    bool released; /* the buffer was given back */
    uint64_t size;
    bool hashed;
    char sha256[HFS_SHA256_HEX];
    char sha1[HFS_SHA1_HEX]; /* git blob sha1: how the hub names a regular file */
    hfs_upload_mode mode;
    bool ignored;
    bool uploaded;
    char *remote_oid; /* preupload: the file's oid on the hub (sha1 or sha256), else NULL */
    /* copy */
    char *src_path;
    char *src_revision;
} api_op;

struct hfs_commit_ops {
    api_op *ops;
    size_t n, cap;
    bool committed; /* a commit of these succeeded: they are spent */
};

/* One call of the API: the options with their defaults, and a session on the hub. */
typedef struct {
    const hfs_commit_options *opts;
    hfs_hub *hub;
    hfs_hub_repo repo;
    const char *revision; /* opts->revision or "main" */
    size_t n_lfs_uploaded;
    uint64_t lfs_bytes_uploaded;
} api_call;

/* Checks the options and opens the session. Close with api_call_end. */
int api_call_begin(api_call *call, const hfs_commit_options *opts);
void api_call_end(api_call *call);
/* Emits an event with the repo filled in (nothing without a callback). */
void api_emit(const api_call *call, hfs_apply_event *ev);
/* HFS_ERROR "interrupted" once the caller asked to stop. */
int api_check_cancel(const api_call *call);

/* Gives an add's buffer back (free_fn once); anything else is left alone. */
void api_op_release(api_op *op);

/* ---- preupload.c ----------------------------------------------------------------------- */

/* The pre-upload of what is new in ops: hash, ask the hub for the modes, send LFS content,
 * release the buffers that are done. */
int api_preupload(api_call *call, hfs_commit_ops *ops);

/* ---- commit.c -------------------------------------------------------------------------- */

/* Does the content of an add match the remote file the hub named (its preupload oid)? */
bool api_op_unchanged(const api_op *op);

#endif
