/* hfsync public API: commits of operations the caller builds — add (a file or a memory buffer),
 * delete a file or a folder, copy — with a separate LFS pre-upload; no manifest, no plan.
 *
 * This is the C counterpart of huggingface_hub's create_commit and preupload_lfs_files:
 *
 *     hfs_commit_options o = HFS_COMMIT_OPTIONS_INIT;
 *     o.repo_id = "alice/corpus";
 *     o.repo_type = HFS_REPO_DATASET;
 *     hfs_commit_ops *ops = hfs_commit_ops_new();
 *     for (int i = 0; i < n; i++) {
 *         size_t len;
 *         void *shard = make_shard(i, &len);          // generated in memory
 *         hfs_commit_ops_add_buffer(ops, name_of(i), shard, len, free);
 *         hfs_preupload_lfs(&o, ops);                  // sent now; `shard` is freed
 *     }
 *     hfs_commit_info info;
 *     hfs_create_commit(&info, &o, ops, "Add shards", NULL, NULL);   // one commit
 *     hfs_commit_info_clear(&info);
 *     hfs_commit_ops_free(ops);
 *
 * Memory: a buffer is held only until its content is on the hub. After hfs_preupload_lfs
 * sends an LFS buffer (or finds the hub already has it) it is released at once; a buffer the
 * hub stores as a regular file is sent inline in the commit body and released after the
 * commit; a buffer the hub's .gitignore excludes is released when the hub says so. Whatever
 * is left is released by hfs_commit_ops_free. "Released" means free_fn(data) is called (when
 * free_fn is not NULL), exactly once, on the thread that runs the call.
 *
 * Files are never read whole: they are hashed in one streaming pass, sent to LFS straight
 * from disk, and inlined into the commit body chunk by chunk. A file (or buffer) whose content
 * changes between its hashing and its sending fails the call with HFS_ESTALE. */
#ifndef HFSYNC_COMMIT_H
#define HFSYNC_COMMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hfsync/apply.h"
#include "hfsync/manifest.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- where the commit goes ------------------------------------------------------------ */

typedef struct {
    int version;
    const char *repo_id; /* required: "namespace/name" */
    hfs_repo_type repo_type;
    const char *revision; /* the branch (or refs/pr/N) to commit to; NULL: "main" */
    /* Open a pull request against `revision` instead of committing to it. The pre-upload
     * then asks the hub with create_pr and names no branch in the LFS batch, so an account
     * that may only read the repo can still open a PR. */
    bool create_pr;
    /* The hub. NULL: env HF_ENDPOINT when set, else https://huggingface.co. A value given
     * here wins over HF_ENDPOINT (as HfApi(endpoint=...) does). */
    const char *endpoint;
    /* NULL: env HF_TOKEN, then HUGGING_FACE_HUB_TOKEN, then the token file (HF_TOKEN_PATH,
     * default $HF_HOME/token), exactly as the command line finds it. "": no token at all. */
    const char *token;
    unsigned jobs; /* parallel LFS transfers; 0: HFS_APPLY_DEFAULT_JOBS */
    bool verbose;  /* log every request and response status to stderr (token redacted) */
    /* Progress, with the apply's event kinds: PREUPLOAD, IGNORED, UPLOAD_START,
     * UPLOAD_PROGRESS, UPLOAD_DONE, COMMIT_PROGRESS, COMMIT and WARNING (`sync` is the repo id).
     * hfs_apply_printer_event can print them. Called on the thread that runs the call. */
    hfs_apply_event_fn event;
    void *event_ctx;
    volatile int *cancel; /* non-NULL and set: stop soon with HFS_ERROR "interrupted" */
} hfs_commit_options;

#define HFS_COMMIT_OPTIONS_VERSION 1
#define HFS_COMMIT_OPTIONS_INIT                                                                    \
    {                                                                                              \
        .version = HFS_COMMIT_OPTIONS_VERSION                                                      \
    }

/* ---- the operations -------------------------------------------------------------------- */

typedef struct hfs_commit_ops hfs_commit_ops;

typedef enum {
    HFS_COMMIT_ADD,           /* add or replace a file: content from a path or a buffer */
    HFS_COMMIT_DELETE_FILE,   /* delete one file */
    HFS_COMMIT_DELETE_FOLDER, /* delete a folder and everything in it */
    HFS_COMMIT_COPY,          /* copy a file of the repo (at some revision) to another path */
} hfs_commit_op_kind;

typedef enum {
    HFS_UPLOAD_MODE_UNKNOWN, /* the hub has not been asked yet */
    HFS_UPLOAD_MODE_REGULAR, /* inline, base64 in the commit body */
    HFS_UPLOAD_MODE_LFS,     /* an LFS object, sent before the commit */
} hfs_upload_mode;

/* Called once with a buffer given to hfs_commit_ops_add_buffer when hfsync is done with it
 * (`free` itself fits). */
typedef void (*hfs_buffer_free_fn)(void *data);

/* An empty list of operations. It is used for one commit: after hfs_create_commit succeeded,
 * adding to it or committing it again is HFS_EINVALID. */
hfs_commit_ops *hfs_commit_ops_new(void);
/* Releases every buffer not released yet, then the list. NULL is fine. */
void hfs_commit_ops_free(hfs_commit_ops *ops);

/* Paths in the repo are checked as huggingface_hub checks them: a leading "/" or "./" is
 * dropped; "", ".", "..", empty segments and ".git" or ".cache" segments are HFS_EINVALID.
 * The operations are committed in the order they were added (later ones win). */

/* Adds (or replaces) path_in_repo with the content of the file at local_path. The file must
 * exist and be a regular file now (HFS_ENOTFOUND / HFS_EINVALID naming it); it is hashed by
 * the first pre-upload, and must keep that content until it is sent. */
int hfs_commit_ops_add_file(hfs_commit_ops *ops, const char *path_in_repo, const char *local_path);

/* Adds (or replaces) path_in_repo with `len` bytes at `data`, which must stay valid and
 * unchanged until released (see the top of this header); then free_fn(data) is called
 * (free_fn NULL: nothing is called, and the caller may reuse the buffer once
 * hfs_commit_ops_get says it is released). On error the buffer is NOT taken: the caller
 * still owns it. */
int hfs_commit_ops_add_buffer(hfs_commit_ops *ops, const char *path_in_repo, const void *data,
                              size_t len, hfs_buffer_free_fn free_fn);

/* Deletes the file at path_in_repo; the commit fails (HFS_ENOTFOUND) if there is none. */
int hfs_commit_ops_delete_file(hfs_commit_ops *ops, const char *path_in_repo);
/* Deletes the folder at path_in_repo (a trailing '/' is fine) and everything under it; the
 * commit fails (HFS_ENOTFOUND) if there is none. */
int hfs_commit_ops_delete_folder(hfs_commit_ops *ops, const char *path_in_repo);

/* Copies the file src_path, as it is at src_revision (NULL: the revision committed to), to
 * dst_path, within the repo. The hub has no copy operation, so hfsync does what
 * huggingface_hub does: an LFS file becomes an lfsFile line naming the same object (nothing
 * is transferred); a regular file is downloaded and committed inline. A copy onto a file
 * that already has that content is left out. A missing source is HFS_ENOTFOUND and a folder
 * HFS_EINVALID, when the commit is made. */
int hfs_commit_ops_copy(hfs_commit_ops *ops, const char *src_path, const char *src_revision,
                        const char *dst_path);

/* How many operations there are. */
size_t hfs_commit_ops_count(const hfs_commit_ops *ops);

/* What hfsync knows of one operation so far. Strings belong to ops. */
typedef struct {
    hfs_commit_op_kind kind;
    const char *path;         /* in the repo (the destination of a copy) */
    const char *local_path;   /* add from a file; else NULL */
    const char *src_path;     /* copy; else NULL */
    const char *src_revision; /* copy: as given (NULL: the commit's revision) */
    uint64_t size;            /* add: the content's size */
    const char *sha256;       /* add: the content's sha256 hex once hashed, else "" */
    hfs_upload_mode mode;     /* add: as the hub decided */
    bool ignored;             /* add: the hub's .gitignore excludes it; it is not committed */
    bool uploaded;            /* add: the content is on the hub as an LFS object */
    bool released;            /* add from a buffer: hfsync is done with the buffer */
} hfs_commit_op_info;

/* HFS_EINVALID when i is out of range. */
int hfs_commit_ops_get(hfs_commit_op_info *out, const hfs_commit_ops *ops, size_t i);

/* ---- pre-upload and commit ------------------------------------------------------------- */

/* Sends the LFS content of the additions not sent yet, before any commit
 * (preupload_lfs_files): hashes each new addition, asks the hub how each one uploads (the
 * preupload endpoint, 256 files per request; the content of a root .gitignore that is
 * being added is sent along), then uploads the LFS ones in parallel (jobs at a time; an
 * object the hub already has is not sent again), marks them uploaded and releases their
 * buffers. Regular additions are only classified here; their content goes in the commit.
 * Call it as often as wanted, e.g. once per generated shard: each call handles only what
 * is new. Errors: HFS_ENOTFOUND for a missing repo or revision, HFS_EAUTH, HFS_ENET,
 * HFS_ESTALE when a file changed while it was read, HFS_ERROR when the hub refused an
 * object (the message names the paths). */
int hfs_preupload_lfs(const hfs_commit_options *opts, hfs_commit_ops *ops);

/* One commit made. */
typedef struct {
    char commit_oid[41]; /* the new commit; with `empty`, the revision's head */
    char *commit_url;
    char *pr_url; /* with create_pr: the pull request opened, else NULL */
    long pr_num;  /* its number (refs/pr/N), else 0 */
    /* Nothing was left to commit (every addition already on the hub with that content, or
     * excluded by its .gitignore; no delete or copy): no commit was made, as
     * huggingface_hub does, and commit_oid is the revision's head. */
    bool empty;
    size_t n_lfs_uploaded;       /* LFS objects sent by this call (not by earlier pre-uploads) */
    uint64_t lfs_bytes_uploaded; /* their bytes */
    size_t n_inline;             /* regular files sent in the commit body */
    uint64_t inline_bytes;       /* their bytes */
    size_t n_unchanged;          /* additions left out because the hub has that content */
    size_t n_ignored;            /* additions left out because the hub's .gitignore excludes them */
} hfs_commit_info;

/* Commits the operations in one commit (create_commit): first hfs_preupload_lfs for what is
 * not on the hub yet, then the copies (paths-info at each source revision; regular sources
 * downloaded through resolve), then one NDJSON commit POST with `summary` (required, the
 * commit title), `description` (NULL: "") and parent_commit (NULL: none; else the commit the
 * revision must still be at — HFS_ESTALE when it moved). The POST is sent once, never
 * retried: a commit must not be made twice. On success every buffer is released and the
 * operations count as committed. `out` may be NULL; clear it with hfs_commit_info_clear. */
int hfs_create_commit(hfs_commit_info *out, const hfs_commit_options *opts, hfs_commit_ops *ops,
                      const char *summary, const char *description, const char *parent_commit);
void hfs_commit_info_clear(hfs_commit_info *info);

/* Creates the repo opts names (create_repo): private or public, a Space with the "static"
 * SDK. When it exists already: 0 with exist_ok, else HFS_EEXISTS. *url (may be NULL) gets
 * the repo's URL; the caller frees it. */
int hfs_create_repo(char **url, const hfs_commit_options *opts, bool private_repo, bool exist_ok);

#ifdef __cplusplus
}
#endif
#endif
