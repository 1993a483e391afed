/* hfsync public API: `upload-large-folder`, huggingface_hub's upload_large_folder made
 * reviewable — a one-sync manifest with `strategy: large`, planned and applied at once. */
#ifndef HFSYNC_LARGE_H
#define HFSYNC_LARGE_H

#include <stdbool.h>
#include <stddef.h>

#include "hfsync/apply.h"
#include "hfsync/manifest.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The commit message of upload-large-folder's commits. */
#define HFS_UPLOAD_LARGE_MESSAGE "Add files using hfsync upload-large-folder"

typedef struct {
    int version;
    const char *repo_id; /* required: "namespace/name" */
    hfs_repo_type repo_type;
    const char *revision;       /* NULL: "main" */
    const char *local_path;     /* required: the folder to upload (its files go to the root) */
    const char *const *include; /* allow patterns */
    size_t n_include;
    const char *const *exclude; /* ignore patterns */
    size_t n_exclude;
    bool create_private; /* a repo that has to be created is private */
    /* Hashing threads and parallel LFS transfers; 0: one hashing thread per core and
     * opts->jobs (else HFS_APPLY_DEFAULT_JOBS) transfers. */
    unsigned num_workers;
} hfs_upload_large_spec;

#define HFS_UPLOAD_LARGE_SPEC_VERSION 1
#define HFS_UPLOAD_LARGE_SPEC_INIT                                                                 \
    {                                                                                              \
        .version = HFS_UPLOAD_LARGE_SPEC_VERSION                                                   \
    }

/* Uploads a (huge) folder in many commits straight to the revision, creating the repo when
 * it is missing: the files are scanned and hashed (the hash cache makes a re-run nearly
 * free), the changes planned with `strategy: large`, and hfs_apply carries them out —
 * groups that adapt (50 files, growing after fast commits, shrinking after failures),
 * preupload, LFS uploads and commits pipelined, a large_status event every few seconds.
 * Nothing is deleted. The state (hash cache, lock, journal) is kept in LOCAL_PATH/.hfsync,
 * which is never uploaded, so an interrupted upload — Ctrl-C, a kill, a lost network —
 * resumes when run again: files already committed are not committed again and LFS objects
 * already sent are not sent again. Another upload of the same folder to the same repo
 * running at once is HFS_ELOCKED (opts->wait_lock: wait for it). The endpoint and token come
 * from HF_ENDPOINT and HF_TOKEN (or the token file); opts->token must be NULL or the same.
 * `out` (may be NULL) lists the commits made. */
int hfs_upload_large_folder(hfs_apply_result *out, const hfs_upload_large_spec *spec,
                            const hfs_apply_options *opts);

#ifdef __cplusplus
}
#endif
#endif
