/* hfsync public API: the per-sync locks an apply holds (.hfsync/state/SYNC/lock), for a caller
 * that must hold them across more than hfs_apply — planning too, as `hfsync apply -f` does. */
#ifndef HFSYNC_LOCK_H
#define HFSYNC_LOCK_H

#include <stdbool.h>
#include <stddef.h>

#include "hfsync/manifest.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hfs_apply_lock hfs_apply_lock;

/* Takes the locks of the manifest's syncs named in `syncs` (n_syncs 0: every sync), in
 * manifest order — the order hfs_apply takes them in, so two callers waiting for each other
 * cannot deadlock. `state_dir` NULL: the .hfsync folder beside the manifest (where hfs_apply
 * looks). When another process holds one: with `wait`, blocks until it is free (a set
 * *cancel, which may be NULL, stops the wait with HFS_ERROR); without, HFS_ELOCKED naming
 * the holder's pid. A name the manifest does not have is HFS_EINVALID. Plan while holding
 * them, so the plan is made against what the previous holder left, then pass
 * `lock_held = true` to hfs_apply. */
int hfs_apply_lock_acquire(hfs_apply_lock **out, const hfs_manifest *m, const char *const *syncs,
                           size_t n_syncs, const char *state_dir, bool wait, volatile int *cancel);
/* Releases them, in the reverse order; NULL is fine. */
void hfs_apply_lock_release(hfs_apply_lock *lock);

#ifdef __cplusplus
}
#endif
#endif
