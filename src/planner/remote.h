/* The remote half of a plan: what the repo holds at the revision's head commit, from one
 * recursive tree listing, kept as a compact array sorted by path (path, oid, size, LFS sha256). */
#ifndef HFS_REMOTE_H
#define HFS_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/hash.h"
#include "hfsync/manifest.h"

typedef struct hfs_hub hfs_hub;

/* One file of the remote tree. Directories are not kept: the diff only needs files, and the
 * folders of the resulting tree follow from the file paths. */
typedef struct {
    const char *path;         /* relative to the repo root; owned by the snapshot */
    uint64_t size;            /* the content size (the object's size for LFS files) */
    unsigned char oid[20];    /* git blob sha1 (of the pointer file, for LFS files) */
    unsigned char sha256[32]; /* the LFS object's sha256; zero for regular files */
    bool is_lfs;
} hfs_remote_entry;

typedef struct hfs_path_arena hfs_path_arena;

/* hfs_remote_snapshot in DESIGN.md's data model. */
typedef struct {
    bool exists;   /* false: the repo does not exist (yet) and the snapshot is empty */
    char head[41]; /* the commit the listing was taken at; "" when the repo does not exist */
    hfs_remote_entry *entries; /* sorted by path, bytewise, once hfs_remote_snapshot_finish ran */
    size_t count, cap;
    hfs_path_arena *arena; /* the paths, in large blocks (no allocation per entry) */
} hfs_remote_snapshot;

/* An empty snapshot of an existing repo whose head is `head` (NULL: the repo is missing). */
hfs_remote_snapshot *hfs_remote_snapshot_new(const char *head);
void hfs_remote_snapshot_free(hfs_remote_snapshot *snap);

/* Adds a file: its path, blob oid (40 hex), size, and the LFS sha256 (64 hex) or NULL for a
 * regular file. HFS_EINVALID naming the path when an oid is not hex of the right length. */
int hfs_remote_snapshot_add(hfs_remote_snapshot *snap, const char *path, const char *oid_hex,
                            uint64_t size, const char *lfs_sha256_hex);
/* Sorts the entries by path; HFS_ERROR naming the path when one appears twice (a listing
 * that repeats itself cannot be trusted). Call once after the last add. */
int hfs_remote_snapshot_finish(hfs_remote_snapshot *snap);

/* The entry at this path, or NULL (binary search; after finish). */
const hfs_remote_entry *hfs_remote_snapshot_find(const hfs_remote_snapshot *snap, const char *path);

/* The same, for lookups made in increasing path order (a pass over sorted local files):
 * *hint, 0 before the first, keeps where the last lookup ended, so a whole pass costs about
 * one comparison per path instead of a binary search each. Any order stays correct. */
const hfs_remote_entry *hfs_remote_snapshot_seek(const hfs_remote_snapshot *snap, size_t *hint,
                                                 const char *path);

/* Hex forms of an entry's hashes. */
void hfs_remote_entry_oid_hex(const hfs_remote_entry *e, char out[HFS_SHA1_HEX]);
void hfs_remote_entry_sha256_hex(const hfs_remote_entry *e, char out[HFS_SHA256_HEX]);

/* Does the entry hold this content? `hex` is a git blob sha1 (compared with the oid of a
 * regular file) or a sha256 (compared with the object of an LFS file); NULL or "" never. */
bool hfs_remote_entry_same_sha1(const hfs_remote_entry *e, const char *sha1_hex);
bool hfs_remote_entry_same_sha256(const hfs_remote_entry *e, const char *sha256_hex);

/* Hex <-> bytes for the fixed-size hashes kept here. Decoding returns false when `hex` is not
 * exactly 2*n hex digits. Encoding writes 2*n lowercase digits and a NUL. */
bool hfs_remote_hex_decode(unsigned char *out, size_t n, const char *hex);
void hfs_remote_hex_encode(char *out, const unsigned char *bytes, size_t n);

/* Takes the snapshot of `repo_id` at `revision`: the revision's head commit, then one
 * recursive listing of the whole tree at that commit (every page). A repo that does not
 * exist gives a snapshot with exists == false (not an error: the caller decides whether
 * `create:` allows it). A missing revision is HFS_ENOTFOUND naming it and the repo.
 * With a cache_dir (the state folder), the last listing of the repo is kept there and used
 * again while the head has not moved (a tree at a commit never changes). */
int hfs_remote_fetch(hfs_remote_snapshot **out, hfs_hub *hub, hfs_repo_type kind,
                     const char *repo_id, const char *revision, const char *cache_dir);

/* Downloads a small text file of the snapshot (the root .gitignore or .gitattributes) at
 * the snapshot's head; at most max_bytes (HFS_ELIMIT naming the file beyond that).
 * *out is NULL when the snapshot has no such file. */
int hfs_remote_read_small(char **out, hfs_hub *hub, const hfs_remote_snapshot *snap,
                          hfs_repo_type kind, const char *repo_id, const char *path,
                          size_t max_bytes);

#endif
