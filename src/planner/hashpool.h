/* The local half of a plan, step two: hash the scanned files, one streaming read per file,
 * spread over a pool of threads that pull files from a shared index; the cache skips reads. */
#ifndef HFS_HASHPOOL_H
#define HFS_HASHPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "planner/hashcache.h"
#include "planner/scan.h"

typedef struct {
    size_t files_done, files_total;   /* files that must be read (cache misses) */
    uint64_t bytes_done, bytes_total; /* their bytes */
} hfs_hash_progress;

/* Called on the caller's thread, about ten times a second and once at the end. */
typedef void (*hfs_hash_progress_fn)(const hfs_hash_progress *progress, void *payload);

typedef struct {
    int version;
    /* Per file: HFS_HASH_SHA1 and/or HFS_HASH_SHA256 (0 = nothing needed). NULL = both
     * for every file, for when the LFS-or-regular decision is not known yet. */
    const unsigned char *want;
    hfs_hashcache *cache; /* NULL: read every file */
    unsigned threads;     /* 0: one per online core */
    hfs_hash_progress_fn progress;
    void *progress_payload;
} hfs_hash_options;

#define HFS_HASH_OPTIONS_VERSION 1
#define HFS_HASH_OPTIONS_INIT {HFS_HASH_OPTIONS_VERSION, NULL, NULL, 0, NULL, NULL}

typedef struct {
    size_t files_read; /* files actually opened and read */
    uint64_t bytes_read;
    size_t cache_hits; /* files whose hashes came from the cache */
    size_t racy;       /* cache entries distrusted by the racy-clean rule */
} hfs_hash_stats;

/* Fills has_sha1/sha1 and has_sha256/sha256 of each file. A file whose stat data moved
 * since the scan is hashed as it is now and its size/mtime/ctime/inode are updated; a file
 * that changes while it is read is HFS_ESTALE, a vanished one HFS_ENOTFOUND, both naming
 * it. Hashed files are recorded in the cache (even when another file failed); saving the
 * cache is the caller's call (hfs_hashcache_save). Hashes a file already has (from an
 * earlier call) are kept, not recomputed, unless the file moved. `stats` may be NULL. */
int hfs_hash_files(hfs_local_file *files, size_t count, const hfs_hash_options *opts,
                   hfs_hash_stats *stats);

#endif
