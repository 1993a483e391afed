/* schedule.pack: the new files of a scheduled run that match the pack patterns go to the hub
 * as one archive (zip, through libarchive) instead of one by one; see pack.c for the states. */
#ifndef HFS_EXECUTOR_PACK_H
#define HFS_EXECUTOR_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hub/hub.h"
#include "planner/plan.h"

/* What a pack did, for the run's events. */
typedef struct {
    char *archive;  /* the archive's repo path */
    size_t files;   /* files packed into it (prepare) or settled after it landed (finish) */
    uint64_t bytes; /* their bytes (prepare) */
    bool removed;   /* finish: the files were removed (remove_local), not just remembered */
    bool pending;   /* prepare: the archive waits for its commit */
} exec_pack_info;

void exec_pack_info_clear(exec_pack_info *info);

/* Settles what an earlier run left pending: an archive that was to be committed. When the
 * hub holds it at `revision` (the commit landed, maybe after the run died), its files are
 * removed (remove_local) or remembered as packed; when it does not, the staged archive is
 * dropped and its files will be packed again. *out (may be NULL) says what was settled;
 * out->archive is NULL when nothing was pending. */
int exec_pack_recover(exec_pack_info *out, hfs_hub *hub, const hfs_sync *sync,
                      const char *state_dir);

/* Packs the sync's new files (add and copy operations of `ps`, the sync's plan) that match
 * schedule.pack.patterns into one archive named after the run's UTC time `stamp`, staged
 * under .hfsync/state/SYNC/pack/, and puts one operation adding the archive in their place
 * (in the first commit). Files packed earlier and kept (no remove_local) leave the plan.
 * The files are read up to their planned size and must hash as planned (HFS_ESTALE when
 * one was rewritten meanwhile). The pending archive is recorded before anything is sent.
 * out->archive is NULL when there was nothing to pack. The caller settles the plan
 * (exec_plan_settle) afterwards. */
int exec_pack_prepare(exec_pack_info *out, hfs_plan_sync *ps, const hfs_sync *sync,
                      const char *state_dir, hfs_hub *hub, const char *stamp);

/* The commit holding the pending archive landed: its files are removed (remove_local,
 * each only if unchanged since it was packed) or remembered as packed, and the staged
 * archive goes. */
int exec_pack_finish(exec_pack_info *out, const hfs_sync *sync, const char *state_dir);

#endif
