/* The manifest module's internal side: what library code (the planner, the executors) reaches
 * beyond the public hfsync/manifest.h: the compiled pattern sets of a sync, pack names. */
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
/* schedule.pack.patterns, compiled (matched like allow_patterns); empty when not packing. */
const hfs_pattern_set *hfs_sync_pack_set(const hfs_sync *s);

/* The placeholder of schedule.pack.name that each run replaces with its UTC time. */
#define HFS_PACK_TIMESTAMP "{timestamp}"
/* schedule.pack.name with {timestamp} replaced by `stamp` (e.g. "20260126T034000Z") and
 * normalised as a path in the repo. HFS_EINVALID when the name is not usable: no
 * {timestamp} (each run's archive needs a name of its own), another {…} placeholder, or a
 * path the hub refuses. *out is the caller's. */
int hfs_pack_name_expand(char **out, const char *name, const char *stamp);

#endif
