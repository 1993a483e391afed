/* Commit grouping: cuts the diff's operations into commits. Pure and deterministic: the same
 * ops and settings always give the same groups, so a reviewed plan means the same commits. */
#include "planner/group.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/util.h"

static bool would_overflow(const hfs_commit_group *g, const hfs_op *op, const hfs_group_settings *s,
                           uint64_t inline_cap)
{
    if (s->max_files && g->files + 1 > s->max_files)
        return true;
    if (op->upload && s->max_bytes && g->upload_bytes + op->size > s->max_bytes)
        return true;
    if (op->upload && !op->lfs && g->inline_bytes + op->size > inline_cap)
        return true;
    return false;
}

static void count_op(hfs_commit_group *g, const hfs_op *op)
{
    if (op->kind == HFS_OP_DELETE)
        return;
    g->files++;
    if (op->upload) {
        g->upload_bytes += op->size;
        if (!op->lfs)
            g->inline_bytes += op->size;
    }
}

int hfs_group(hfs_group_result *out, const hfs_op *ops, size_t n_ops, const hfs_group_settings *s)
{
    uint64_t inline_cap = s->max_inline_bytes ? s->max_inline_bytes : HFS_GROUP_MAX_INLINE_BYTES;
    size_t *group_of = NULL;

    memset(out, 0, sizeof(*out));
    if (n_ops == 0)
        return 0;
    group_of = hfs_malloc(n_ops * sizeof(*group_of));

    /* First decide each op's group, then fill the groups in op order so their indices come
     * out ascending (path order) with no sort. */
    hfs_commit_group current = {0};
    size_t n_groups = 1;
    for (size_t k = 0; k < n_ops; k++) {
        const hfs_op *op = &ops[k];
        if (op->kind == HFS_OP_DELETE) {
            group_of[k] = 0;
            continue;
        }
        if (s->strategy != HFS_STRATEGY_SINGLE && current.files > 0 &&
            would_overflow(&current, op, s, inline_cap)) {
            memset(&current, 0, sizeof(current));
            n_groups++;
        }
        count_op(&current, op);
        group_of[k] = n_groups - 1;
    }

    out->groups = hfs_calloc(n_groups, sizeof(*out->groups));
    out->n_groups = n_groups;
    size_t *caps = hfs_calloc(n_groups, sizeof(*caps));
    for (size_t k = 0; k < n_ops; k++) {
        hfs_commit_group *g = &out->groups[group_of[k]];
        HFS_PUSH(g->ops, g->n_ops, caps[group_of[k]], k);
        count_op(g, &ops[k]);
    }
    free(caps);
    free(group_of);
    return 0;
}

void hfs_group_result_clear(hfs_group_result *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_groups; i++)
        free(g->groups[i].ops);
    free(g->groups);
    memset(g, 0, sizeof(*g));
}

int hfs_group_inline_refusal(const char *sync, size_t commit, size_t n_commits, uint64_t bytes)
{
    char human[32], cap[32];
    hfs_human_size(human, sizeof(human), bytes);
    hfs_human_size(cap, sizeof(cap), HFS_GROUP_MAX_INLINE_BYTES);
    return hfs_error_set(HFS_ELIMIT,
                         "sync %s: commit %zu of %zu carries %s of regular files inline, more "
                         "than the %s (100 MiB) one commit may hold (the hub times out): set "
                         "`commit: {strategy: large}` (or multi) and plan again; for a one-shot "
                         "upload, `hfsync upload-large-folder` commits in groups",
                         sync, commit, n_commits, human, cap);
}

int hfs_group_check_inline(const hfs_group_result *g, const char *sync, bool over_git)
{
    if (over_git)
        return 0;
    for (size_t i = 0; i < g->n_groups; i++)
        if (g->groups[i].inline_bytes > HFS_GROUP_MAX_INLINE_BYTES)
            return hfs_group_inline_refusal(sync, i + 1, g->n_groups, g->groups[i].inline_bytes);
    return 0;
}
