/* Benchmark of the planning core alone (no I/O), for bench/run: diff, limits and commit grouping
 * of N local files against a remote snapshot of N entries, then the plan built and serialized. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/hash.h"
#include "common/util.h"
#include "manifest/pattern.h"
#include "planner/diff.h"
#include "planner/group.h"
#include "planner/lfsdecide.h"
#include "planner/plan.h"
#include "planner/remote.h"

static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static void fill_hashes(hfs_local_file *f, const char *content)
{
    hfs_git_blob_sha1_hex(f->sha1, content, strlen(content));
    hfs_sha256_hex(f->sha256, content, strlen(content));
    f->has_sha1 = f->has_sha256 = true;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    /* The mix: 80% unchanged, 10% updated, 10% new locally (a tenth of them moved LFS
     * files), and the remote holds 10% that are gone locally and deleted by pattern. */
    hfs_local_file *files = hfs_calloc(n, sizeof(*files));
    unsigned char *modes = hfs_malloc(n);
    hfs_remote_snapshot *remote =
        hfs_remote_snapshot_new("0123456789abcdef0123456789abcdef01234567");
    char path[96], content[64], pointer[256], sha1[HFS_SHA1_HEX], sha256[HFS_SHA256_HEX];

    for (size_t i = 0; i < n; i++) {
        bool lfs = i % 4 == 0 || i % 10 == 9;
        snprintf(path, sizeof(path), "shard-%03zu/file-%07zu.%s", i % 100, i, lfs ? "bin" : "json");
        snprintf(content, sizeof(content), "content %zu", i);
        hfs_local_file *f = &files[i];
        f->repo_path = hfs_strdup(path);
        f->local_path = hfs_sprintf("/data/%s", path);
        f->rel_path = f->local_path + 6;
        f->size = lfs ? 50000000ull + i : 2000 + i % 1000;
        f->mtime_ns = 1700000000000000000LL + (int64_t)i;
        fill_hashes(f, content);
        modes[i] = lfs ? HFS_MODE_LFS : HFS_MODE_REGULAR;

        size_t kind = i % 10;
        if (kind == 9)
            continue; /* new locally */
        if (kind == 8)
            snprintf(content, sizeof(content), "old content %zu", i); /* updated */
        if (lfs) {
            hfs_sha256_hex(sha256, content, strlen(content));
            snprintf(pointer, sizeof(pointer),
                     "version https://git-lfs.github.com/spec/v1\noid "
                     "sha256:%s\nsize %llu\n",
                     sha256, (unsigned long long)f->size);
            hfs_git_blob_sha1_hex(sha1, pointer, strlen(pointer));
            hfs_remote_snapshot_add(remote, path, sha1, f->size, sha256);
        } else {
            hfs_git_blob_sha1_hex(sha1, content, strlen(content));
            hfs_remote_snapshot_add(remote, path, sha1, f->size, NULL);
        }
    }
    for (size_t i = 0; i < n / 10; i++) {
        /* Remote-only files; every tenth holds the content of a new local LFS file: a move. */
        snprintf(path, sizeof(path), "gone/old-%07zu.bin", i);
        size_t twin = i * 10 + 9;
        bool moved = twin < n && i % 10 == 0;
        snprintf(content, sizeof(content), moved ? "content %zu" : "gone %zu", twin);
        hfs_sha256_hex(sha256, content, strlen(content));
        hfs_git_blob_sha1_hex(sha1, content, strlen(content));
        hfs_remote_snapshot_add(remote, path, sha1, 50000000ull, sha256);
    }
    /* The scan hands over files sorted by repo path. */
    hfs_local_file *sorted = hfs_malloc(n * sizeof(*sorted));
    unsigned char *sorted_modes = hfs_malloc(n);
    {
        size_t *idx = hfs_malloc(n * sizeof(*idx));
        for (size_t i = 0; i < n; i++)
            idx[i] = i;
        /* Paths are "shard-SSS/file-IIIIIII": sort by shard, then index. */
        size_t k = 0;
        for (size_t s = 0; s < 100; s++)
            for (size_t i = s; i < n; i += 100) {
                sorted[k] = files[i];
                sorted_modes[k++] = modes[i];
            }
        free(idx);
    }
    hfs_remote_snapshot_finish(remote);
    double rss_inputs = peak_rss_mib();

    const char *patterns[] = {"gone/*"};
    hfs_pattern_set *del = NULL;
    hfs_pattern_set_compile(&del, patterns, 1, NULL);

    double t0 = hfs_now();
    hfs_diff_result d;
    hfs_diff_settings ds = {"", del};
    if (hfs_diff(&d, sorted, sorted_modes, n, remote, &ds) < 0)
        return 1;
    double t1 = hfs_now();
    hfs_limit_report rep;
    hfs_limit_settings ls = {n, NULL, 0};
    hfs_diff_check_limits(&rep, &d, sorted, n, remote, &ls);
    double t2 = hfs_now();
    hfs_group_result g;
    hfs_group_settings gs = {HFS_STRATEGY_LARGE, 1000, 20ull << 30, 0};
    hfs_group(&g, d.ops, d.n_ops, &gs);
    double t3 = hfs_now();

    hfs_sync s = {0};
    s.name = "bench";
    s.repo_id = "bench/core";
    s.revision = "main";
    s.folder_path = "./data";
    s.folder_abs = "/data";
    s.path_in_repo = "";
    s.commit.message = "bench";
    s.commit.description = "";
    s.commit.strategy = HFS_STRATEGY_LARGE;
    hfs_plan *plan = hfs_plan_new(
        "bench.yaml", "0000000000000000000000000000000000000000000000000000000000000000",
        "http://127.0.0.1:1");
    hfs_plan_sync_input in = {&s, remote, &d, &g, NULL, 0};
    hfs_plan_add_sync(plan, &in);
    hfs_plan_seal(plan);
    char *json = hfs_plan_to_json(plan);
    double t4 = hfs_now();

    printf("files\t%zu\n", n);
    printf("ops\t%zu (add %zu, update %zu, delete %zu, copy %zu, unchanged %zu)\n", d.n_ops,
           d.n_add, d.n_update, d.n_delete, d.n_copy, d.n_unchanged);
    printf("commits\t%zu\n", g.n_groups);
    printf("diff_s\t%.3f\n", t1 - t0);
    printf("limits_s\t%.3f\n", t2 - t1);
    printf("group_s\t%.3f\n", t3 - t2);
    printf("core_s\t%.3f\n", t3 - t0);
    printf("plan_json_s\t%.3f\n", t4 - t3);
    printf("plan_json_mib\t%.1f\n", (double)strlen(json) / 1048576.0);
    printf("rss_inputs_mib\t%.1f\n", rss_inputs);
    printf("rss_peak_mib\t%.1f\n", peak_rss_mib());

    free(json);
    hfs_plan_free(plan);
    hfs_group_result_clear(&g);
    hfs_limit_report_clear(&rep);
    hfs_diff_result_clear(&d);
    hfs_pattern_set_free(del);
    hfs_remote_snapshot_free(remote);
    for (size_t i = 0; i < n; i++) {
        free(files[i].repo_path);
        free(files[i].local_path);
    }
    free(sorted);
    free(sorted_modes);
    free(files);
    free(modes);
    return 0;
}
