/* Tests for src/planner/group.c: single is one commit; multi and large are bounded by files,
 * bytes and inline content; deletes go first; the grouping is deterministic. */
#include "planner/group.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/util.h"

#define MIB (1024ull * 1024)

/* Ops built by hand: kind, path, size, lfs, upload. */
static hfs_op op(hfs_op_kind kind, const char *path, uint64_t size, bool lfs, bool upload)
{
    hfs_op o = {.kind = kind, .path = path, .size = size, .lfs = lfs, .upload = upload};
    return o;
}

/* "a b | c d" : each group's op paths, groups separated by " | ". */
static char *groups_string(const hfs_group_result *g, const hfs_op *ops)
{
    hfs_buf b = HFS_BUF_INIT;
    for (size_t i = 0; i < g->n_groups; i++) {
        if (i)
            hfs_buf_puts(&b, " |");
        for (size_t k = 0; k < g->groups[i].n_ops; k++)
            hfs_buf_printf(&b, "%s%s", i || k ? " " : "", ops[g->groups[i].ops[k]].path);
    }
    return hfs_buf_detach(&b);
}

static void expect_groups(const hfs_op *ops, size_t n, const hfs_group_settings *s,
                          const char *want, const char *name)
{
    hfs_group_result g;
    tap_is_int(hfs_group(&g, ops, n, s), 0, "hfs_group runs");
    char *got = groups_string(&g, ops);
    tap_is_str(got, want, name);
    free(got);
    hfs_group_result_clear(&g);
}

int main(void)
{
    hfs_op ops[] = {
        op(HFS_OP_ADD, "a", 10, false, true),    op(HFS_OP_DELETE, "b-gone", 5, false, false),
        op(HFS_OP_ADD, "c", 10, true, true),     op(HFS_OP_UPDATE, "d", 10, false, true),
        op(HFS_OP_COPY, "e", 1000, true, false), op(HFS_OP_DELETE, "f-gone", 5, true, false),
        op(HFS_OP_ADD, "g", 10, true, false),
    };
    size_t n = HFS_ARRAY_LEN(ops);
    hfs_group_settings single = {HFS_STRATEGY_SINGLE, 2, 15, 0};
    expect_groups(ops, n, &single, "a b-gone c d e f-gone g",
                  "single: one commit with every op, whatever the bounds");

    hfs_group_settings files2 = {HFS_STRATEGY_MULTI, 2, 0, 0};
    expect_groups(ops, n, &files2, "a b-gone c f-gone | d e | g",
                  "multi, max_files 2: deletes go with the first group and do not count");

    hfs_group_settings bytes15 = {HFS_STRATEGY_LARGE, 100, 15, 0};
    expect_groups(ops, n, &bytes15, "a b-gone f-gone | c | d e g",
                  "large, max_bytes 15: bounded by bytes uploaded (copies and repeats are free)");

    hfs_group_settings inline15 = {HFS_STRATEGY_MULTI, 100, 0, 15};
    expect_groups(ops, n, &inline15, "a b-gone c f-gone | d e g",
                  "the inline cap counts regular content only");

    hfs_op big[] = {op(HFS_OP_ADD, "huge-1", 50 * MIB, true, true),
                    op(HFS_OP_ADD, "huge-2", 50 * MIB, true, true),
                    op(HFS_OP_ADD, "small", 1, false, true)};
    hfs_group_settings bytes10m = {HFS_STRATEGY_LARGE, 100, 10 * MIB, 0};
    expect_groups(big, 3, &bytes10m, "huge-1 | huge-2 | small",
                  "an op bigger than max_bytes gets a commit of its own");

    /* The default inline cap is 100 MiB: eleven 10 MiB regular files need two commits. */
    hfs_op inl[11];
    char names[11][8];
    for (int i = 0; i < 11; i++) {
        snprintf(names[i], sizeof(names[i]), "r%02d", i);
        inl[i] = op(HFS_OP_ADD, names[i], 10 * MIB, false, true);
    }
    hfs_group_settings defaults = {HFS_STRATEGY_MULTI, 1000, 20ull << 30, 0};
    hfs_group_result g;
    hfs_group(&g, inl, 11, &defaults);
    tap_ok(g.n_groups == 2 && g.groups[0].n_ops == 10 && g.groups[0].inline_bytes == 100 * MIB &&
               g.groups[1].n_ops == 1,
           "100 MiB of inline content per commit by default");
    tap_is_int(hfs_group_check_inline(&g, "s", false), 0, "... which the commit endpoint takes");
    hfs_group_result_clear(&g);

    /* `single` puts the 110 MiB in one commit: the plan refuses it over HTTP, not over git. */
    hfs_group(&g, inl, 11, &single);
    tap_ok(g.n_groups == 1 && g.groups[0].inline_bytes == 110 * MIB, "single: one commit");
    tap_is_int(hfs_group_check_inline(&g, "models", false), HFS_ELIMIT,
               "... over 100 MiB inline: HFS_ELIMIT");
    tap_ok(strstr(hfs_error_last(), "sync models: commit 1 of 1 carries 115.3 MB of regular "
                                    "files inline, more than the 104.9 MB (100 MiB)") &&
               strstr(hfs_error_last(), "`commit: {strategy: large}`"),
           "... naming the sync, the commit, the bytes and what to set: %s", hfs_error_last());
    tap_is_int(hfs_group_check_inline(&g, "models", true), 0, "... over git a push carries it");
    hfs_group_result_clear(&g);

    hfs_group(&g, ops, n, &files2);
    tap_ok(g.groups[0].files == 2 && g.groups[0].upload_bytes == 20 &&
               g.groups[0].inline_bytes == 10 && g.groups[1].upload_bytes == 10,
           "each group knows its files, upload bytes and inline bytes");
    hfs_group_result again;
    hfs_group(&again, ops, n, &files2);
    bool same = again.n_groups == g.n_groups;
    for (size_t i = 0; same && i < g.n_groups; i++)
        same =
            g.groups[i].n_ops == again.groups[i].n_ops &&
            memcmp(g.groups[i].ops, again.groups[i].ops, g.groups[i].n_ops * sizeof(size_t)) == 0;
    tap_ok(same, "deterministic: the same ops give the same groups");
    hfs_group_result_clear(&again);
    hfs_group_result_clear(&g);

    hfs_group(&g, ops, 0, &files2);
    tap_is_int((long long)g.n_groups, 0, "no ops, no commit");
    hfs_group_result_clear(&g);
    hfs_op deletes[] = {op(HFS_OP_DELETE, "x", 1, false, false),
                        op(HFS_OP_DELETE, "y", 1, false, false),
                        op(HFS_OP_DELETE, "z", 1, false, false)};
    hfs_group_settings one = {HFS_STRATEGY_MULTI, 1, 1, 1};
    expect_groups(deletes, 3, &one, "x y z", "only deletes: one commit, bounds do not apply");
    hfs_group_result_clear(NULL);
    return tap_done();
}
