/* hfsync: keep folders on disk in sync with Hugging Face Hub repositories.
 * The public C API; the command-line tool uses only what this header offers.
 *
 * Build a program against the installed library with pkg-config:
 *
 *     cc prog.c $(pkg-config --cflags --libs hfsync)
 *
 * The data flows through these headers in this order:
 *
 *   hfsync/manifest.h  hfs_manifest_load: hfsync.yaml → typed, checked settings per sync,
 *                      every problem as a FILE:LINE:COL diagnostic.
 *   hfsync/plan.h      hfs_plan_compute: scan and hash the folders, list the remote, diff,
 *                      group into commits → a pinned, deterministic plan; hfs_plan_render /
 *                      hfs_plan_print as text, JSON or Markdown; hfs_plan_write / _read.
 *   hfsync/apply.h     hfs_apply: carry out a plan exactly (stale checks, preupload, parallel
 *                      LFS uploads, streamed commits), reporting hfs_apply_event progress to a
 *                      callback (hfs_apply_printer_event prints it); hfs_upload, the one-shot
 *                      `huggingface-cli upload`.
 *   hfsync/commit.h    hfs_create_commit / hfs_preupload_lfs: a commit of operations the
 *                      caller builds (add a file or a memory buffer, delete, copy), with the
 *                      LFS content sent ahead — e.g. shards generated in memory, uploaded one
 *                      by one and committed once; hfs_create_repo.
 *   hfsync/job.h       hfs_jobs: the non-blocking forms — applies, uploads and commits queued
 *                      on a worker thread, run in order; poll, wait for or cancel each job.
 *   hfsync/hub.h       where requests go and which token they carry (HF_ENDPOINT, HF_TOKEN,
 *                      the token file), resolved as huggingface_hub resolves them.
 *   hfsync/hubd.h      the local hub (`hfsync hub serve`): a hub-compatible server on loopback,
 *                      for trying hfsync without an account, and for tests.
 *   hfsync/common.h    error codes, the per-thread last error, exit codes.
 *
 * Conventions (as in libgit2): functions are hfs_<module>_<verb>; they return 0 or a negative
 * hfs_error_code, and hfs_error_last() says what went wrong, in words a user can act on; the
 * output parameter comes first; opaque types come in _new/_free pairs and _free(NULL) does
 * nothing; option structs start with `int version` and have an ..._INIT initialiser. */
#ifndef HFSYNC_H
#define HFSYNC_H

#include "hfsync/common.h"
#include "hfsync/plan.h"
#include "hfsync/apply.h"
#include "hfsync/hub.h"
#include "hfsync/hubd.h"
#include "hfsync/manifest.h"
#include "hfsync/watch.h"
#include "hfsync/commit.h"
#include "hfsync/job.h"
#include "hfsync/large.h"
#include "hfsync/lock.h"

#endif
