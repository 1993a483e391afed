/* Tests for src/planner/diff.c with in-memory lists: add, update, unchanged (per mode), delete
 * (patterns, path_in_repo, .gitattributes), copy, move, upload-once, and every limit. */
#include "common/error.h"
#include "corefixture.h"
#include "planner/diff.h"
#include "tap.h"

static hfs_pattern_set *patterns(const char *a, const char *b)
{
    const char *list[2] = {a, b};
    hfs_pattern_set *set = NULL;
    if (hfs_pattern_set_compile(&set, list, b ? 2 : 1, NULL) < 0)
        abort();
    return set;
}

/* "+a ~b -c >d<e" for the ops: one readable string to compare. */
static char *ops_string(const hfs_diff_result *d)
{
    hfs_buf b = HFS_BUF_INIT;
    for (size_t i = 0; i < d->n_ops; i++) {
        const hfs_op *op = &d->ops[i];
        char sign = op->kind == HFS_OP_ADD      ? '+'
                    : op->kind == HFS_OP_UPDATE ? '~'
                    : op->kind == HFS_OP_DELETE ? '-'
                                                : '>';
        hfs_buf_printf(&b, "%s%c%s", i ? " " : "", sign, op->path);
        if (op->kind == HFS_OP_COPY)
            hfs_buf_printf(&b, "<%s", op->from->path);
        if ((op->kind == HFS_OP_ADD || op->kind == HFS_OP_UPDATE) && !op->upload)
            hfs_buf_puts(&b, "(once)");
    }
    return hfs_buf_detach(&b);
}

static void expect_ops(const hfs_diff_result *d, const char *want, const char *name)
{
    char *got = ops_string(d);
    tap_is_str(got, want, name);
    free(got);
}

static void test_basic_kinds(void)
{
    local_list l = {0};
    hfs_remote_snapshot *r = hfs_remote_snapshot_new(TEST_HEAD);
    local_add(&l, "a-new.txt", "new file\n", false);
    local_add(&l, "b-same.txt", "same\n", false);
    local_add(&l, "c-changed.txt", "changed locally\n", false);
    local_add(&l, "d-same.bin", "lfs content\n", true);
    local_add(&l, "e-changed.bin", "new lfs content\n", true);
    local_add(&l, "f-mode.txt", "stored as lfs remotely\n", false);
    remote_add(r, ".gitattributes", "*.bin filter=lfs diff=lfs merge=lfs -text\n", false);
    remote_add(r, "b-same.txt", "same\n", false);
    remote_add(r, "c-changed.txt", "as on the hub\n", false);
    remote_add(r, "d-same.bin", "lfs content\n", true);
    remote_add(r, "e-changed.bin", "old lfs content\n", true);
    remote_add(r, "f-mode.txt", "stored as lfs remotely\n", true);
    remote_add(r, "g-remote-only.txt", "kept: no delete_patterns\n", false);
    tap_is_int(hfs_remote_snapshot_finish(r), 0, "snapshot sorts");

    hfs_diff_result d;
    tap_is_int(hfs_diff(&d, l.files, l.modes, l.n, r, NULL), 0, "diff runs");
    expect_ops(&d, "+a-new.txt ~c-changed.txt ~e-changed.bin",
               "add when absent, update when the oid differs, nothing for the rest");
    tap_ok(d.n_add == 1 && d.n_update == 2 && d.n_delete == 0 && d.n_copy == 0 &&
               d.n_unchanged == 3,
           "counts: 1 add, 2 updates, 3 unchanged (sha1, sha256, and content equal across "
           "modes)");
    tap_ok(d.ops[1].remote && strcmp(d.ops[1].remote->path, "c-changed.txt") == 0 && d.ops[2].lfs &&
               d.ops[2].upload,
           "an update points at the remote file it replaces; LFS mode kept");
    tap_is_int((long long)d.upload_bytes,
               strlen("new file\n") + strlen("changed locally\n") + strlen("new lfs content\n"),
               "upload_bytes sums the uploads");
    hfs_diff_result_clear(&d);

    /* A same-size rewrite that keeps neither hash is not unchanged. */
    local_list l2 = {0};
    local_add(&l2, "b-same.txt", "SAME\n", false);
    tap_is_int(hfs_diff(&d, l2.files, l2.modes, l2.n, r, NULL), 0, "diff runs");
    expect_ops(&d, "~b-same.txt", "same size, other content: update");
    hfs_diff_result_clear(&d);

    hfs_remote_snapshot_free(r);
    local_free(&l);
    local_free(&l2);
}

static void test_deletes(void)
{
    local_list l = {0};
    hfs_remote_snapshot *r = hfs_remote_snapshot_new(TEST_HEAD);
    local_add(&l, "ckpt/keep.safetensors", "keep\n", true);
    remote_add(r, ".gitattributes", "x\n", false);
    remote_add(r, "README.md", "readme\n", false);
    remote_add(r, "ckpt/.gitattributes", "nested\n", false);
    remote_add(r, "ckpt/keep.safetensors", "keep\n", true);
    remote_add(r, "ckpt/old.safetensors", "old\n", true);
    remote_add(r, "ckpt/sub/older.safetensors", "older\n", true);
    remote_add(r, "ckpt/notes.txt", "notes\n", false);
    remote_add(r, "ckptx/other.safetensors", "outside the prefix\n", true);
    remote_add(r, "other/x.safetensors", "outside the prefix\n", true);
    hfs_remote_snapshot_finish(r);

    hfs_pattern_set *del = patterns("*.safetensors", NULL);
    hfs_diff_settings s = {"ckpt", del};
    hfs_diff_result d;
    tap_is_int(hfs_diff(&d, l.files, l.modes, l.n, r, &s), 0, "diff runs");
    expect_ops(&d, "-ckpt/old.safetensors -ckpt/sub/older.safetensors",
               "deletes: under path_in_repo, matching delete_patterns, absent locally");
    tap_ok(d.ops[0].lfs && d.ops[0].remote && d.ops[0].size == 4,
           "a delete carries the remote file's mode and size");
    hfs_diff_result_clear(&d);
    hfs_pattern_set_free(del);

    del = patterns("*", NULL);
    s.delete_set = del;
    hfs_diff(&d, l.files, l.modes, l.n, r, &s);
    expect_ops(&d, "-ckpt/notes.txt -ckpt/old.safetensors -ckpt/sub/older.safetensors",
               "'*' deletes everything absent under the prefix but never a .gitattributes");
    hfs_diff_result_clear(&d);

    s.path_in_repo = "";
    hfs_diff(&d, l.files, l.modes, l.n, r, &s);
    tap_ok(d.n_delete == 6 && !hfs_remote_snapshot_find(r, "x") &&
               strcmp(d.ops[0].path, "README.md") == 0,
           "at the root the patterns see whole repo paths (root .gitattributes kept)");
    hfs_diff_result_clear(&d);
    hfs_pattern_set_free(del);

    s.delete_set = NULL;
    hfs_diff(&d, l.files, l.modes, l.n, r, &s);
    tap_is_int((long long)d.n_ops, 0, "no delete_patterns: nothing is deleted");
    hfs_diff_result_clear(&d);
    hfs_remote_snapshot_free(r);
    local_free(&l);
}

static void test_copies_and_moves(void)
{
    local_list l = {0};
    hfs_remote_snapshot *r = hfs_remote_snapshot_new(TEST_HEAD);
    local_add(&l, "dup-a.bin", "fresh weights\n", true);
    local_add(&l, "dup-b.bin", "fresh weights\n", true);
    local_add(&l, "moved/new.bin", "moving weights\n", true);
    local_add(&l, "moved/text.txt", "moving text\n", false);
    local_add(&l, "reuse.bin", "shared weights\n", true);
    local_add(&l, "updated.bin", "shared weights\n", true);
    remote_add(r, "a-shared.bin", "shared weights\n", true);
    remote_add(r, "old/text.txt", "moving text\n", false);
    remote_add(r, "old/weights.bin", "moving weights\n", true);
    remote_add(r, "updated.bin", "before\n", true);
    remote_add(r, "z-shared.bin", "shared weights\n", true);
    hfs_remote_snapshot_finish(r);
    hfs_pattern_set *del = patterns("old/*", NULL);
    hfs_diff_settings s = {NULL, del};
    hfs_diff_result d;
    tap_is_int(hfs_diff(&d, l.files, l.modes, l.n, r, &s), 0, "diff runs");
    expect_ops(&d,
               "+dup-a.bin +dup-b.bin(once) >moved/new.bin<old/weights.bin +moved/text.txt "
               "-old/text.txt -old/weights.bin >reuse.bin<a-shared.bin "
               ">updated.bin<a-shared.bin",
               "copies, a move (copy + delete), a regular move (add + delete), upload once");
    tap_ok(d.n_add == 3 && d.n_copy == 3 && d.n_delete == 2 && d.n_update == 0,
           "an update whose content exists elsewhere counts as a copy");
    tap_is_int((long long)d.upload_files, 2, "only dup-a.bin and moved/text.txt upload");
    tap_is_int((long long)d.upload_bytes, strlen("fresh weights\n") + strlen("moving text\n"),
               "repeated content is counted once");
    const hfs_op *upd = &d.ops[7];
    tap_ok(upd->kind == HFS_OP_COPY && upd->remote && strcmp(upd->remote->path, "updated.bin") == 0,
           "a copy onto an existing path keeps the file it replaces");
    hfs_diff_result_clear(&d);
    hfs_pattern_set_free(del);

    /* Among several sources, the one being deleted wins; else the first path. */
    hfs_remote_snapshot *r2 = hfs_remote_snapshot_new(TEST_HEAD);
    local_list l2 = {0};
    local_add(&l2, "new.bin", "w\n", true);
    remote_add(r2, "a.bin", "w\n", true);
    remote_add(r2, "b/gone.bin", "w\n", true);
    remote_add(r2, "c.bin", "w\n", true);
    hfs_remote_snapshot_finish(r2);
    del = patterns("b/*", NULL);
    s.delete_set = del;
    hfs_diff(&d, l2.files, l2.modes, l2.n, r2, &s);
    expect_ops(&d, "-b/gone.bin >new.bin<b/gone.bin", "the deleted source is preferred (a move)");
    hfs_diff_result_clear(&d);
    s.delete_set = NULL;
    hfs_diff(&d, l2.files, l2.modes, l2.n, r2, &s);
    expect_ops(&d, ">new.bin<a.bin", "otherwise the first path");
    hfs_diff_result_clear(&d);
    hfs_pattern_set_free(del);
    hfs_remote_snapshot_free(r2);
    local_free(&l2);

    /* A regular file never becomes a copy: it travels inline anyway. */
    hfs_remote_snapshot *r3 = hfs_remote_snapshot_new(NULL);
    local_list l3 = {0};
    local_add(&l3, "a.txt", "t\n", false);
    local_add(&l3, "b.txt", "t\n", false);
    hfs_remote_snapshot_finish(r3);
    hfs_diff(&d, l3.files, l3.modes, l3.n, r3, NULL);
    expect_ops(&d, "+a.txt +b.txt", "regular duplicates are both sent inline; new repo: all adds");
    hfs_diff_result_clear(&d);
    hfs_remote_snapshot_free(r3);
    local_free(&l3);

    hfs_remote_snapshot_free(r);
    local_free(&l);
}

static void test_contract(void)
{
    local_list l = {0};
    local_add(&l, "b", "1", false);
    local_add(&l, "a", "2", false);
    hfs_diff_result d;
    tap_is_int(hfs_diff(&d, l.files, l.modes, l.n, NULL, NULL), HFS_EINVALID,
               "unsorted local files are refused");
    tap_ok(strstr(hfs_error_last(), "not sorted") != NULL, "and the error says so");
    local_free(&l);
    local_add(&l, "a", "1", false);
    l.modes[0] = HFS_MODE_UNDECIDED;
    tap_is_int(hfs_diff(&d, l.files, l.modes, l.n, NULL, NULL), HFS_EINVALID,
               "a file without a decided mode is refused");
    l.modes[0] = HFS_MODE_LFS;
    l.files[0].has_sha256 = false;
    tap_is_int(hfs_diff(&d, l.files, l.modes, l.n, NULL, NULL), HFS_EINVALID,
               "an LFS file without its sha256 is refused");
    local_free(&l);
    hfs_diff_result_clear(NULL);
}

/* ---- limits --------------------------------------------------------------------------- */

static hfs_limit_report check(const local_list *l, hfs_remote_snapshot *r,
                              const hfs_pattern_set *del, uint64_t max_delete,
                              const hfs_lfsrules *rules, uint64_t attr_bytes)
{
    hfs_diff_result d;
    hfs_limit_report rep = {0};
    hfs_diff_settings s = {NULL, del};
    if (hfs_diff(&d, l->files, l->modes, l->n, r, &s) < 0)
        tap_diag("diff failed: %s", hfs_error_last());
    hfs_limit_settings ls = {max_delete, rules, attr_bytes};
    hfs_diff_check_limits(&rep, &d, l->files, l->n, r, &ls);
    hfs_diff_result_clear(&d);
    return rep;
}

static void test_max_delete(void)
{
    local_list l = {0};
    hfs_remote_snapshot *r = hfs_remote_snapshot_new(TEST_HEAD);
    for (int i = 0; i < 25; i++) {
        char path[32], content[32];
        snprintf(path, sizeof(path), "logs/%02d.txt", i);
        snprintf(content, sizeof(content), "log %d\n", i);
        remote_add(r, path, content, false);
    }
    hfs_remote_snapshot_finish(r);
    hfs_pattern_set *del = patterns("logs/", NULL);

    hfs_limit_report rep = check(&l, r, del, 25, NULL, 0);
    tap_is_int((long long)rep.n_violations, 0, "deleting exactly max_delete files is allowed");
    hfs_limit_report_clear(&rep);

    rep = check(&l, r, del, 24, NULL, 0);
    tap_is_int((long long)rep.n_violations, 1, "one more than max_delete is refused");
    tap_ok(rep.n_violations == 1 && rep.violations[0].count == 25 &&
               rep.violations[0].n_paths == HFS_LIMIT_PATHS_SHOWN &&
               strcmp(rep.violations[0].paths[0], "logs/00.txt") == 0,
           "it names the first 20 paths and counts all 25");
    char *msg = hfs_limit_report_format(&rep, "logs");
    tap_ok(strstr(msg, "sync logs: refused by a safety limit") &&
               strstr(msg, "more than max_delete (24)") && strstr(msg, "logs/19.txt") &&
               !strstr(msg, "logs/20.txt") && strstr(msg, "and 5 more (25 in all)"),
           "the message says which limit, shows 20 paths and how many more");
    tap_diag("%s", msg);
    free(msg);
    hfs_limit_report_clear(&rep);

    rep = check(&l, r, del, 0, NULL, 0);
    tap_is_int((long long)rep.n_violations, 1, "max_delete 0 refuses any delete");
    hfs_limit_report_clear(&rep);
    hfs_pattern_set_free(del);
    hfs_remote_snapshot_free(r);
}

static void test_folder_entries(void)
{
    local_list l = {0};
    hfs_remote_snapshot *r = hfs_remote_snapshot_new(TEST_HEAD);
    char path[64];
    /* 9,999 remote files plus a subfolder in big/: 10,000 entries, at the limit. */
    for (int i = 0; i < 9999; i++) {
        snprintf(path, sizeof(path), "big/f%05d", i);
        remote_add(r, path, "", false);
    }
    remote_add(r, "big/sub/x", "", false);
    hfs_remote_snapshot_finish(r);
    local_add(&l, "big/sub/y", "y", false);
    hfs_limit_report rep = check(&l, r, NULL, 100, NULL, 0);
    tap_is_int((long long)rep.n_violations, 0,
               "10,000 entries (files and folders) in one folder are allowed");
    hfs_limit_report_clear(&rep);

    local_free(&l);
    local_add(&l, "big/new-file", "z", false);
    local_add(&l, "big/new-folder/z", "z", false);
    rep = check(&l, r, NULL, 100, NULL, 0);
    tap_ok(rep.n_violations == 1 && rep.violations[0].count == 1 &&
               strcmp(rep.violations[0].paths[0], "big (10002 entries)") == 0,
           "more than 10,000 is refused, naming the folder and its count");
    hfs_limit_report_clear(&rep);

    /* A delete makes room. */
    hfs_pattern_set *del = patterns("big/f0000*", NULL);
    rep = check(&l, r, del, 100, NULL, 0);
    tap_is_int((long long)rep.n_violations, 0, "deleted files do not count");
    hfs_limit_report_clear(&rep);
    hfs_pattern_set_free(del);
    hfs_remote_snapshot_free(r);
    local_free(&l);

    /* The repo root is a folder too. */
    r = hfs_remote_snapshot_new(NULL);
    hfs_remote_snapshot_finish(r);
    for (int i = 0; i < 10001; i++) {
        snprintf(path, sizeof(path), "f%05d", i);
        local_add(&l, path, "", false);
    }
    rep = check(&l, r, NULL, 100, NULL, 0);
    tap_ok(rep.n_violations == 1 &&
               strcmp(rep.violations[0].paths[0], "(the repo root) (10001 entries)") == 0,
           "the root counts as a folder");
    hfs_limit_report_clear(&rep);
    hfs_remote_snapshot_free(r);
    local_free(&l);
}

static void test_sizes_and_paths(void)
{
    local_list l = {0};
    hfs_remote_snapshot *r = hfs_remote_snapshot_new(TEST_HEAD);
    remote_add(r, "clash", "a file", false);
    remote_add(r, "dir/file", "x", false);
    hfs_remote_snapshot_finish(r);
    local_add(&l, ".cache/x", "x", false);
    local_add(&l, "a/.git/config", "x", false);
    local_add(&l, "clash/inside", "x", false);
    local_add_sized(&l, "huge.bin", "h", 500000000001ull, true);
    local_add_sized(&l, "ok.bin", "o", 500000000000ull, true);
    local_add_sized(&l, "regular-big.txt", "r", HFS_REGULAR_MAX_BYTES + 1ull, false);
    local_add_sized(&l, "regular-max.txt", "m", HFS_REGULAR_MAX_BYTES, false);
    hfs_limit_report rep = check(&l, r, NULL, 100, NULL, 0);
    char *msg = hfs_limit_report_format(&rep, "s");
    tap_diag("%s", msg);
    tap_is_int((long long)rep.n_violations, 4, "four limits broken");
    tap_ok(strstr(msg, "regular (non-LFS) files over 10 MiB") &&
               strstr(msg, "    regular-big.txt") && !strstr(msg, "regular-max.txt"),
           "a regular file over 10 MiB is refused (10 MiB exactly is fine)");
    tap_ok(strstr(msg, "over 500 GB") && strstr(msg, "    huge.bin") && !strstr(msg, "ok.bin"),
           "a file over 500 GB is refused (500 GB exactly is fine)");
    tap_ok(strstr(msg, "paths the hub refuses") && strstr(msg, "    .cache/x") &&
               strstr(msg, "    a/.git/config"),
           "path rules: .git and .cache folders");
    tap_ok(strstr(msg, "both a file and a folder") && strstr(msg, "\n    clash"),
           "a new path under a remote file is a clash");
    free(msg);
    hfs_limit_report_clear(&rep);

    hfs_limit_report local_rep;
    hfs_diff_check_local(&local_rep, l.files, l.n);
    tap_ok(local_rep.n_violations == 2 && local_rep.violations[0].count == 1 &&
               local_rep.violations[1].count == 2,
           "the pre-hash check sees sizes and paths from the scan alone");
    hfs_limit_report_clear(&local_rep);
    hfs_remote_snapshot_free(r);
    local_free(&l);
}

static void test_repo_size_warning(void)
{
    local_list l = {0};
    hfs_remote_snapshot *r = hfs_remote_snapshot_new(NULL);
    hfs_remote_snapshot_finish(r);
    char path[64];
    for (int i = 0; i <= 100000; i++) {
        snprintf(path, sizeof(path), "d%02d/f%05d", i / 5000, i);
        local_add(&l, path, "", false);
    }
    hfs_limit_report rep = check(&l, r, NULL, 100, NULL, 0);
    tap_ok(rep.n_violations == 0 && rep.n_warnings == 1 &&
               strstr(rep.warnings[0], "100001 files") != NULL,
           "more than 100,000 files is a warning, not a refusal");
    hfs_limit_report_clear(&rep);
    hfs_remote_snapshot_free(r);
    local_free(&l);
}

static void test_gitattributes_growth(void)
{
    hfs_lfsrules *rules = NULL;
    const char *text = "*.bin filter=lfs diff=lfs merge=lfs -text\n";
    hfs_lfsrules_parse(&rules, text, strlen(text));
    local_list l = {0};
    hfs_remote_snapshot *r = hfs_remote_snapshot_new(TEST_HEAD);
    remote_add(r, ".gitattributes", text, false);
    hfs_remote_snapshot_finish(r);
    local_add(&l, "covered.bin", "c", true);
    local_add(&l, "uncovered.dat", "u", true);
    hfs_limit_report rep = check(&l, r, NULL, 100, rules, strlen(text));
    tap_is_int((long long)rep.n_violations, 0, "one line more in a small .gitattributes is fine");
    hfs_limit_report_clear(&rep);
    rep = check(&l, r, NULL, 100, rules, HFS_REGULAR_MAX_BYTES - 10);
    tap_ok(rep.n_violations == 1 && rep.violations[0].count == 1 &&
               strcmp(rep.violations[0].paths[0], "uncovered.dat") == 0,
           "the hub's .gitattributes upkeep passing 10 MiB is refused, naming the files");
    hfs_limit_report_clear(&rep);
    hfs_remote_snapshot_free(r);
    local_free(&l);
    hfs_lfsrules_free(rules);
}

int main(void)
{
    test_basic_kinds();
    test_deletes();
    test_copies_and_moves();
    test_contract();
    test_max_delete();
    test_folder_entries();
    test_sizes_and_paths();
    test_repo_size_warning();
    test_gitattributes_growth();
    return tap_done();
}
