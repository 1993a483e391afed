/* The hash cache in <state_dir>/hashcache: hashes of local files keyed by path, size, mtime,
 * ctime and inode, so re-planning an unchanged tree reads no file. Never trusted blindly. */
#ifndef HFS_HASHCACHE_H
#define HFS_HASHCACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "planner/scan.h"

typedef struct hfs_hashcache hfs_hashcache;

typedef enum {
    HFS_HASHCACHE_MISS, /* no entry, or the file's size/mtime/ctime/inode changed */
    HFS_HASHCACHE_RACY, /* the entry matches but the file's mtime is not older than the
                           cache's own write time: it may have changed unseen (git's
                           racy-clean rule), so it is hashed again */
    HFS_HASHCACHE_HIT,  /* the wanted hashes were filled in from the cache */
} hfs_hashcache_result;

/* Loads <state_dir>/hashcache in one read. A missing file gives an empty cache; a corrupt,
 * truncated or unknown-version one is discarded with a warning (hfs_warn) and never
 * trusted. Fails only when the cache exists but cannot be read at all. */
int hfs_hashcache_open(hfs_hashcache **out, const char *state_dir);

/* The same, for a reader that only looks up (an apply taking a plan file's send checks): a
 * cache that is not sound is an empty one, without a warning (the next plan gives it). */
int hfs_hashcache_open_quiet(hfs_hashcache **out, const char *state_dir);

/* Looks the file up by local_path; on a hit sets f's hashes (every hash the entry holds,
 * at least those in `want`). A partial match (the file is unchanged but a wanted hash was
 * never computed) fills what it has and returns MISS, so only the missing hash is read. */
hfs_hashcache_result hfs_hashcache_lookup(hfs_hashcache *c, hfs_local_file *f, unsigned want);

/* Records the file's stat data and hashes after it was hashed. */
void hfs_hashcache_record(hfs_hashcache *c, const hfs_local_file *f);

/* Writes the cache atomically, only when something changed since it was loaded. Entries
 * neither looked up nor recorded are kept while their file exists and dropped once it is
 * gone, so syncs that share the cache do not evict each other. */
int hfs_hashcache_save(hfs_hashcache *c);

/* Entries the cache holds now (loaded and kept, plus recorded). */
size_t hfs_hashcache_size(const hfs_hashcache *c);

void hfs_hashcache_free(hfs_hashcache *c);

#endif
