/* The manifest module's internal side: what library code (the planner, the executors) reaches
 * beyond the public hfsync/manifest.h, namely the compiled pattern sets of a sync. */
#ifndef HFS_MANIFEST_INTERNAL_H
#define HFS_MANIFEST_INTERNAL_H

#include "hfsync/manifest.h"
#include "manifest/pattern.h"

/* The sync's allow_patterns, ignore_patterns and delete_patterns, compiled once at load.
 * An empty list gives an empty set (hfs_pattern_set_empty), never NULL for a loaded sync.
 * Patterns match paths relative to folder_path (allow, ignore) or to path_in_repo (delete). */
const hfs_pattern_set *hfs_sync_allow_set(const hfs_sync *s);
const hfs_pattern_set *hfs_sync_ignore_set(const hfs_sync *s);
const hfs_pattern_set *hfs_sync_delete_set(const hfs_sync *s);

#endif
