/* Scheduled runs' internals: the edits a run makes to its freshly computed plan before it is
 * applied (append-only refusals, packing), kept consistent so the plan still reads as one. */
#ifndef HFS_EXECUTOR_WATCH_H
#define HFS_EXECUTOR_WATCH_H

#include <stddef.h>

#include "hfsync/manifest.h"
#include "planner/plan.h"

/* Removes operation `index` of commit `commit` (its strings freed). */
void exec_plan_drop_op(hfs_plan_sync *s, size_t commit, size_t index);
/* Adds an operation (the plan takes its strings) to the first commit, in path order; a
 * sync without commits gets one. */
void exec_plan_add_op(hfs_plan_sync *s, const hfs_plan_op *op);
/* After edits: drops empty commits, numbers the messages "(part i/N)" again from the
 * sync's commit message, recounts the summary from the operations, and seals the plan
 * anew (its id covers what will really be committed). */
void exec_plan_settle(hfs_plan *plan, hfs_plan_sync *s, const hfs_sync *sync);

#endif
