/* The local hub's repository storage: libgit2 bare repositories under
 * ROOT/repos/{models,datasets,spaces}/NS/NAME.git, with the hub's rules (default
 * .gitattributes, LFS pointers, path and size limits, atomic ref updates, PR refs).
 * No HTTP here: the server's handlers call these functions. All are thread-safe. */
#ifndef HUBD_REPO_H
#define HUBD_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/lfsrules.h" /* hfs_repo_kind */

typedef struct hubd_repos hubd_repos;

/* Opens the storage under `root` (creates ROOT/repos; each repo's metadata is the JSON file
 * beside it, ROOT/repos/{models,...}/NS/NAME.json). Repo ids are case-insensitive, as on the
 * hub: a repo lives under its lowercased id, its metadata keeps the spelling it was created
 * with, and hubd_repo_meta.id answers with that spelling. Leftovers of a crashed process (a repo
 * half created or half deleted under ROOT/repos/.tmp) are removed. */
int hubd_repos_open(hubd_repos **out, const char *root);
void hubd_repos_free(hubd_repos *repos);
/* For the hub's start, before any request: removes the ref lock files (NAME.lock under refs/,
 * packed-refs.lock, HEAD.lock) left in repos by a crash — only the hub writes refs, so at
 * start they are all stale, and each would otherwise block its ref for good (commits give
 * up after 10 s with HFS_ELOCKED). Also moves repos and discussions stored under a
 * mixed-case id (before ids became case-insensitive) to their lowercased paths. Each
 * removal or problem is logged. */
void hubd_repos_recover(hubd_repos *repos);

typedef struct {
    char *id;          /* "ns/name" */
    hfs_repo_kind kind;
    bool private;
    char object_id[25]; /* 24 hex, stable per repo (the hub's "_id") */
    char *created_at;   /* ISO 8601 UTC */
    uint64_t lfs_multipart_threshold; /* 0 = the hub's default */
} hubd_repo_meta;

void hubd_repo_meta_clear(hubd_repo_meta *meta);

/* Creates a repo with an initial commit holding the default .gitattributes for its kind
 * (and nothing else), on branch main. HFS_EEXISTS when it exists. */
int hubd_repo_create(hubd_repos *repos, hfs_repo_kind kind, const char *id, bool private,
                     uint64_t lfs_multipart_threshold, const char *author);
/* Deletes the repo and its refs. HFS_ENOTFOUND when missing. */
int hubd_repo_delete(hubd_repos *repos, hfs_repo_kind kind, const char *id);
/* HFS_ENOTFOUND when missing. */
int hubd_repo_get_meta(hubd_repo_meta *out, hubd_repos *repos, hfs_repo_kind kind, const char *id);

/* Resolves a revision — a branch name ("main", "feat/x"), "refs/heads/x", "refs/pr/N",
 * a tag, or a full or abbreviated (>= 7) commit oid — to a 40-hex commit oid.
 * HFS_ENOTFOUND (with a message saying "revision") when it does not exist. */
int hubd_repo_resolve(char out_oid[41], hubd_repos *repos, hfs_repo_kind kind, const char *id,
                      const char *revision);

typedef struct {
    char *path;          /* relative to the repo root, no leading '/' */
    bool is_dir;
    char oid[41];        /* blob sha1 (of the pointer for LFS files) or tree sha1 */
    uint64_t size;       /* real content size (LFS: the object's size); 0 for directories */
    bool is_lfs;
    char lfs_oid[65];    /* sha256 of the LFS object */
    uint64_t pointer_size;
    /* last commit that touched the path, when requested (expand) */
    char last_commit_oid[41];
    char *last_commit_title;
    char *last_commit_date;
} hubd_entry;

void hubd_entries_free(hubd_entry *entries, size_t count);

/* Lists the tree at `commit_oid` under `path` ("" = root). recursive lists every file and
 * directory below; otherwise the direct children. Sorted as the hub sorts them (git tree
 * order: directories and files by name). expand fills the last_commit fields.
 * HFS_ENOTFOUND (message "entry") when `path` is not a directory. */
int hubd_repo_list_tree(hubd_entry **out, size_t *count, hubd_repos *repos, hfs_repo_kind kind,
                        const char *id, const char *commit_oid, const char *path, bool recursive,
                        bool expand);
/* The entries for the given paths (files or directories); missing paths are left out. */
int hubd_repo_paths_info(hubd_entry **out, size_t *count, hubd_repos *repos, hfs_repo_kind kind,
                         const char *id, const char *commit_oid, const char *const *paths,
                         size_t n_paths, bool expand);
/* Fills the last_commit fields of entries listed at `commit_oid` (as expand does), for a
 * server that lists without expand and expands only the page it sends. */
int hubd_repo_expand_entries(hubd_entry *entries, size_t count, hubd_repos *repos,
                             hfs_repo_kind kind, const char *id, const char *commit_oid);
/* Reads a blob's raw content (an LFS file gives its pointer text) at a commit, up to
 * max_bytes. HFS_ENOTFOUND when the path is not a file there; HFS_ELIMIT when it is larger
 * than max_bytes (nothing is ever truncated). */
int hubd_repo_read_file(char **out, size_t *out_len, hubd_repos *repos, hfs_repo_kind kind,
                        const char *id, const char *commit_oid, const char *path,
                        size_t max_bytes);
/* Opens a blob for streaming a download (regular files); see hubd_entry for LFS files. */
int hubd_repo_blob_fd(int *out_fd, hubd_repos *repos, hfs_repo_kind kind, const char *id,
                      const char *blob_oid); /* a temp fd positioned at 0; caller closes */

typedef struct {
    char *name;    /* "main", "v1.0", "refs/pr/1" */
    char *ref;     /* "refs/heads/main", "refs/tags/v1.0", "refs/pr/1" */
    char target[41];
} hubd_ref;
void hubd_refs_free(hubd_ref *refs, size_t count);
/* Branches, tags and (when include_prs) PR refs, each sorted by name (PRs by number).
 * Pass NULL for a list you do not want (prs NULL = include_prs false). */
int hubd_repo_list_refs(hubd_ref **branches, size_t *n_branches, hubd_ref **tags, size_t *n_tags,
                        hubd_ref **prs, size_t *n_prs, hubd_repos *repos, hfs_repo_kind kind,
                        const char *id);

typedef struct {
    char oid[41];
    char *title;   /* first line of the message */
    char *message; /* the rest */
    char *author;
    char *date;    /* ISO 8601 UTC */
} hubd_commit_info;
void hubd_commits_free(hubd_commit_info *commits, size_t count);
/* The first-parent history of `revision`, newest first, skipping `offset`, at most `limit`.
 * *total gets the full count (for pagination). */
int hubd_repo_list_commits(hubd_commit_info **out, size_t *count, size_t *total,
                           hubd_repos *repos, hfs_repo_kind kind, const char *id,
                           const char *revision, size_t offset, size_t limit);

/* Creates branch `name` at `start` (a revision; NULL = main's head; empty_branch → an
 * orphan commit with no files). HFS_EEXISTS when it exists unless overwrite. */
int hubd_repo_branch_create(hubd_repos *repos, hfs_repo_kind kind, const char *id,
                            const char *name, const char *start, bool empty_branch,
                            bool overwrite);
int hubd_repo_branch_delete(hubd_repos *repos, hfs_repo_kind kind, const char *id,
                            const char *name);

/* Tags commit `commit_oid` (40 hex) as `tag`: annotated (tagger = author) when message is
 * not NULL, else lightweight. HFS_EEXISTS when the tag exists, HFS_EINVALID for a name git
 * refuses. */
int hubd_repo_tag_create(hubd_repos *repos, hfs_repo_kind kind, const char *id, const char *tag,
                         const char *commit_oid, const char *message, const char *author);
/* HFS_ENOTFOUND ("Invalid rev id") when there is no such tag. */
int hubd_repo_tag_delete(hubd_repos *repos, hfs_repo_kind kind, const char *id, const char *tag);
/* Super-squash: replaces the history of `branch` (a branch name, refs/heads/x, refs/pr/N or
 * refs/convert/x) by one parentless commit with the same tree and `message` (NULL: "Super-
 * squash branch '<branch>'"), moved by compare-and-swap. out_oid gets the new commit.
 * HFS_EINVALID for a tag, HFS_ENOTFOUND for a missing branch. Other refs keep the old
 * commits. */
int hubd_repo_squash(char out_oid[41], hubd_repos *repos, hfs_repo_kind kind, const char *id,
                     const char *branch, const char *message, const char *author);

/* One operation of a commit, as parsed from the NDJSON body. */
typedef enum {
    HUBD_OP_FILE,           /* regular content */
    HUBD_OP_LFS_FILE,       /* pointer to an object already in the LFS store */
    HUBD_OP_DELETE_FILE,    /* a file, or a folder path (deletes everything below) */
    HUBD_OP_DELETE_FOLDER,  /* path may carry a trailing '/' */
} hubd_op_kind;

typedef struct {
    hubd_op_kind kind;
    char *path;
    /* HUBD_OP_FILE: content in memory (decoded), or in a temp file when large */
    const void *content;
    size_t content_len;
    int content_fd;       /* -1 when content is in memory */
    /* HUBD_OP_LFS_FILE */
    char lfs_oid[65];
    uint64_t lfs_size;    /* must equal the stored object's size; filled from the store when absent */
} hubd_op;

typedef struct {
    const char *summary;
    const char *description;
    const char *parent_commit; /* NULL, or 5..40 hex: must match the branch head (prefix) */
    const char *author;        /* the token's user name */
} hubd_commit_header;

/* Callback the commit uses to check LFS objects: returns true and the size when present.
 * Without one (NULL), every lfsFile is refused as missing. */
typedef bool (*hubd_lfs_lookup_fn)(void *ctx, const char *oid, uint64_t *size);

typedef struct {
    char commit_oid[41];
    int pr_number;        /* > 0 when create_pr opened refs/pr/N */
    bool changed;         /* false: nothing changed, commit_oid is the current head */
} hubd_commit_result;

/* Builds a commit on `revision` (a branch, or refs/pr/N) from the ops, with the hub's rules:
 * paths checked (no '..', no leading '/', no '.git' segment → HFS_EINVALID, "422"), a
 * regular file over 10 MiB → HFS_ELIMIT ("400", the hub's message), an lfsFile whose object
 * is missing or whose size differs → HFS_EINVALID, deleting a missing path → HFS_ENOTFOUND
 * (the hub's "A file with this name doesn't exist"), more than 10,000 entries in one folder
 * → HFS_ELIMIT, .gitattributes updated for LFS paths not covered by its rules. A stale
 * parent_commit → HFS_ESTALE ("412"). create_pr: the commit goes to a new refs/pr/N based on
 * the revision's head (or parent_commit) and result->pr_number is set; N is shared with the
 * repo's discussions, which record the PR (hubd/discussions.h). A commit that changes
 * nothing creates nothing (result->changed false). The ref moves by compare-and-swap, so
 * two concurrent commits to one branch both land (the later one is rebuilt on the new head
 * when it does not conflict — i.e. when no parent_commit was given). Operations apply in
 * order; a file below a file, or a file over a folder, is HFS_EINVALID. HFS_ELOCKED when
 * other commits keep the ref busy for 10 s. */
int hubd_repo_commit(hubd_commit_result *out, hubd_repos *repos, hfs_repo_kind kind,
                     const char *id, const char *revision, bool create_pr,
                     const hubd_commit_header *header, const hubd_op *ops, size_t n_ops,
                     hubd_lfs_lookup_fn lfs_lookup, void *lfs_ctx);

/* The preupload decision for one file at a revision (commit oid): LFS or regular as the hub
 * decides (gitattributes: `gitattributes_override` when the client sent one, else the root
 * .gitattributes at the commit), shouldIgnore from the root .gitignore (`gitignore_override`
 * when sent, else the one at the commit), and the oid of the existing path (git sha1 for
 * regular, sha256 for LFS) when it exists. */
typedef struct {
    const char *path;
    uint64_t size;
    const void *sample;
    size_t sample_len;
} hubd_preupload_file;

typedef struct {
    bool is_lfs;
    bool should_ignore;
    bool has_oid;
    char oid[65];
} hubd_preupload_result;

int hubd_repo_preupload(hubd_preupload_result *out, hubd_repos *repos, hfs_repo_kind kind,
                        const char *id, const char *commit_oid,
                        const hubd_preupload_file *files, size_t n_files,
                        const char *gitattributes_override, const char *gitignore_override);

#endif
