/* The legacy git path (`transport: git`): each commit group built as a git commit without a
 * working tree, in a bare clone cache (remote.c: fetch, push with the token in memory only;
 * tree.c: blobs, LFS pointers, .gitattributes), then pushed (step.c), after its LFS content
 * went through the executor's LFS client. */
#ifndef HFS_LEGACY_GIT_H
#define HFS_LEGACY_GIT_H

#include <git2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "executor/executor.h"

/* ---- remote.c: the bare clone cache and its hub remote -------------------------------------- */

typedef struct lgit_remote lgit_remote;

typedef struct {
    const char *cache_dir;    /* the bare repository, created when missing */
    const char *url;          /* {endpoint}/{prefix}{id}.git, never with credentials in it */
    const char *token;        /* sent as the basic-auth password when the hub asks; NULL: none */
    const char *token_source; /* for messages ("HF_TOKEN", …), never the value */
    const char *what;         /* "model alice/x", for messages */
} lgit_remote_options;

/* Opens (or initialises) the bare cache. Nothing about the remote, least of all the token,
 * is written into its config: the remote lives in memory. */
int lgit_remote_open(lgit_remote **out, const lgit_remote_options *opts);
git_repository *lgit_remote_repo(const lgit_remote *r);
/* Fetches `remote_ref` ("refs/heads/main", "refs/pr/3") into the cache's tracking ref for
 * it, negotiating with everything the cache already holds, so a second fetch transfers only
 * what changed. *out is the remote's commit. HFS_ENOTFOUND when the remote has no such ref;
 * HFS_EAUTH when the hub refuses the credentials. */
int lgit_remote_fetch(git_oid *out, lgit_remote *r, const char *remote_ref);
/* Pushes `commit` to `remote_ref` without force. A ref that moved meanwhile (non-fast-
 * forward) is HFS_ESTALE; a push the hub's rules refuse is HFS_EINVALID with the hub's
 * words; bad credentials HFS_EAUTH. On success the tracking ref follows. */
int lgit_remote_push(lgit_remote *r, const git_oid *commit, const char *remote_ref);
/* The cache's ref that mirrors `remote_ref` ("refs/hfsync/heads/main"). Caller frees. */
char *lgit_tracking_ref(const char *remote_ref);
void lgit_remote_free(lgit_remote *r);

/* ---- tree.c: a commit's tree from the plan's operations ------------------------------------- */

/* One change to the tree, in the hub's commit order. */
typedef struct {
    const char *path; /* repo path; a folder to delete may end in '/' */
    bool remove;      /* delete the file, or the folder with everything below */
    bool lfs;         /* an upsert whose blob is an LFS pointer */
    git_oid blob;     /* upserts: the blob (content, or pointer) */
} lgit_change;

/* The git-lfs v1 pointer of an object, byte for byte as the hub writes it:
 * "version https://git-lfs.github.com/spec/v1\noid sha256:<hex>\nsize <n>\n". Caller frees. */
char *lgit_pointer_text(const char *sha256, uint64_t size);
/* Writes the pointer blob of an LFS object. */
int lgit_blob_pointer(git_oid *out, git_repository *repo, const char *sha256, uint64_t size);
/* Writes a regular file (at most 10 MiB) as a loose blob. `pin_sha1` (may be NULL or "")
 * is the git blob sha1 the plan pinned: another one is HFS_ESTALE naming the file, and so is
 * a size other than `size` — except that with `allow_growth` a longer file gives the blob of
 * its first `size` bytes (a log being appended to, hfs_apply_options.allow_growth). */
int lgit_blob_from_file(git_oid *out, git_repository *repo, const char *path, uint64_t size,
                        const char *pin_sha1, bool allow_growth);
/* A regular file of a commit, for lgit_blobs_from_files: its blob id goes to *out. */
typedef struct {
    const char *path;     /* on disk */
    uint64_t size;        /* as planned */
    const char *pin_sha1; /* the plan's git blob sha1; NULL or "": none */
    git_oid *out;
} lgit_blob_file;

/* From this many files on, a commit's blobs go into the cache as one pack. */
#define LGIT_PACK_MIN_FILES 32

/* The blobs of a commit's regular files, checked as lgit_blob_from_file checks one. With
 * LGIT_PACK_MIN_FILES or more, the pinned ones are written as one pack (stored, no deltas;
 * the push's pack compresses them) and each is read whole, once; the others, and those of
 * a smaller commit, as loose objects. Regular files are at most 10 MiB (HFS_ELIMIT past
 * it). */
int lgit_blobs_from_files(git_repository *repo, lgit_blob_file *files, size_t n, bool allow_growth);
/* The blob at `path` in `tree` (a regular copy reuses it). HFS_ENOTFOUND when missing. */
int lgit_blob_at(git_oid *out, const git_tree *tree, const char *path);

/* The tree `changes` make of `base` (NULL: empty), as the hub's commit endpoint makes it:
 * every change applied in order (files as 100644 blobs; a folder left empty disappears),
 * then .gitattributes kept in step: each LFS path that no `filter=lfs` rule of the resulting
 * root .gitattributes covers gets the line hfs_lfsrules_track_line() makes, appended in the
 * order of the changes (a newline first when the file does not end in one). A .gitattributes
 * over 10 MiB is HFS_ELIMIT with the hub's message. */
int lgit_tree_build(git_oid *out, git_repository *repo, git_tree *base, const lgit_change *changes,
                    size_t n);

/* ---- step.c: one commit group over git ------------------------------------------------------ */

/* What a sync over git keeps from one commit to the next: the cache with its remote, and the
 * commits' author. Opened by the first commit, freed with the sync (exec_sync.git). */
typedef struct lgit_session lgit_session;
void lgit_session_free(lgit_session *g);

/* exec_apply_commit over git, with the same contract, so every strategy (single, multi's pull
 * request, large) runs on it unchanged: the group goes to s->revision as one commit on
 * s->parent. Preupload first (the hub confirms each file's mode and its .gitignore drops
 * files, exactly as over HTTP), then the LFS uploads through the executor's client (basic
 * and multipart), the commit built in the cache .hfsync/git/{prefix}{id}.git on the parent's
 * tree (fetched when the cache lacks it: it must be the revision's head, else HFS_ESTALE),
 * and a push without force (a non-fast-forward is HFS_ESTALE). The commit message is the
 * hub's (summary, blank line, description with the hfsync trailers); author and committer are
 * the token's user (whoami) as NAME <NAME@users.noreply.huggingface.co>. With s->create_pr
 * the pull request is opened through the discussions API and the commit pushed to its
 * refs/pr/N, which later commits follow. Records the commit, emits its event, and moves
 * s->parent to it. */
int lgit_apply_commit(exec_sync *s, const hfs_plan_commit *c, size_t step, size_t steps);

#endif
