/* Commit grouping: the diff's operations cut into commits — one for `single`; for `multi` and
 * `large`, groups bounded by files, bytes and inline content. Pure and deterministic. */
#ifndef HFS_GROUP_H
#define HFS_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include "hfsync/manifest.h"
#include "planner/diff.h"

/* The most regular (inline, base64) content one commit carries, as huggingface_hub's
 * upload pipeline caps it: bigger commits run into the hub's 60 s request timeout. */
#define HFS_GROUP_MAX_INLINE_BYTES (100ull * 1024 * 1024)

/* hfs_commit_group in DESIGN.md's data model (the message is the plan's business). */
typedef struct {
    size_t *ops; /* indices into the diff's ops, ascending, so sorted by path */
    size_t n_ops;
    size_t files;          /* non-delete operations */
    uint64_t upload_bytes; /* sizes of the operations that upload */
    uint64_t inline_bytes; /* sizes of the regular files that upload (inline in the commit) */
} hfs_commit_group;

typedef struct {
    hfs_commit_strategy strategy;
    uint64_t max_files;        /* per commit, multi and large; 0: no bound */
    uint64_t max_bytes;        /* upload bytes per commit, multi and large; 0: no bound */
    uint64_t max_inline_bytes; /* 0: HFS_GROUP_MAX_INLINE_BYTES */
} hfs_group_settings;

typedef struct {
    hfs_commit_group *groups;
    size_t n_groups; /* 0 when there is nothing to commit */
} hfs_group_result;

/* Groups the ops (in the diff's path order). `single` gives one group with every op. `multi`
 * and `large` fill groups in path order and start a new one before an op would pass
 * max_files, max_bytes or the inline cap (an op bigger than a bound alone gets a group of its
 * own); deletes do not count against the bounds and all go with the first group, as
 * huggingface_hub's pipeline does. */
int hfs_group(hfs_group_result *out, const hfs_op *ops, size_t n_ops, const hfs_group_settings *s);
void hfs_group_result_clear(hfs_group_result *g);

/* The refusal of commit `commit` (1-based) of `n_commits` of sync `sync`, which carries `bytes`
 * of regular files inline, more than HFS_GROUP_MAX_INLINE_BYTES: HFS_ELIMIT, saying what to
 * do instead. The planner says it before anything is uploaded; apply again for a saved plan. */
int hfs_group_inline_refusal(const char *sync, size_t commit, size_t n_commits, uint64_t bytes);

/* Over the commit endpoint (not git, where a commit is a push), the first group that carries
 * more than HFS_GROUP_MAX_INLINE_BYTES inline (only `single` makes one) is refused as above. */
int hfs_group_check_inline(const hfs_group_result *g, const char *sync, bool over_git);

#endif
