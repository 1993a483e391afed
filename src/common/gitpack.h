/* Writing a git pack and its index straight into a repository's objects/pack, for callers
 * that know the ids of their objects already (the hub's commits, the git transport's blobs):
 * objects stored (zlib level 0) and without deltas, the index (version 2) made from the ids,
 * offsets and CRCs as the pack is written, so nothing is read back, inflated or hashed
 * again. Deflating content costs far more than the disk it saves on these paths (text
 * deflates at about 45 MB/s here); `git repack -adF` compresses a repository later. */
#ifndef HFS_COMMON_GITPACK_H
#define HFS_COMMON_GITPACK_H

#include <stddef.h>
#include <stdint.h>

#define HFS_GITPACK_ID_BYTES 20 /* a SHA-1 object id, raw */

/* git's object types as a pack stores them (libgit2's git_object_t has the same values). */
enum { HFS_GITPACK_COMMIT = 1, HFS_GITPACK_TREE = 2, HFS_GITPACK_BLOB = 3, HFS_GITPACK_TAG = 4 };

typedef struct hfs_gitpack hfs_gitpack;

/* Starts a pack of exactly `count` objects as a temp file in pack_dir (made when missing). */
int hfs_gitpack_begin(hfs_gitpack **out, const char *pack_dir, size_t count);
/* Appends one object under `id`, which the caller vouches for (it is the SHA-1 of the
 * object's header and data): the pack's readers trust the index. At most `count` of them,
 * each id once. */
int hfs_gitpack_add(hfs_gitpack *p, const unsigned char id[HFS_GITPACK_ID_BYTES], int type,
                    const void *data, size_t size);
/* With all `count` objects added: the pack's trailer, its index, and both renamed into
 * pack_dir as pack-<checksum>.pack and .idx (the pack first: readers find packs by their
 * index). Then the repository's readers see the objects once they refresh their pack list.
 * Frees p, whatever the outcome; a failure leaves no temp file behind (a pack whose index
 * could not be renamed stays, never read without it). */
int hfs_gitpack_finish(hfs_gitpack *p);
/* Gives up: frees p and removes its temp file. NULL is fine. */
void hfs_gitpack_abort(hfs_gitpack *p);

#endif
