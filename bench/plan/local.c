/* The planner's local half of a warm re-plan, timed without the hub: hash cache load, scan,
 * lookups, for bench/run's re-plan benchmark (the rest of `hfsync plan` is the hub's answer for
 * the head, which the planner awaits while it scans, and the listing cache read beside it). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/error.h"
#include "common/lfsrules.h"
#include "common/util.h"
#include "planner/hashcache.h"
#include "planner/hashpool.h"
#include "planner/lfsdecide.h"
#include "planner/scan.h"

static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static int fail(const char *what)
{
    fprintf(stderr, "bench-local: %s: %s\n", what, hfs_error_last());
    return 1;
}

static int scan(hfs_scan_result **out, const char *dir, unsigned threads)
{
    hfs_scan_options so = HFS_SCAN_OPTIONS_INIT;
    so.folder = dir;
    so.threads = threads;
    return hfs_scan_folder(out, &so);
}

typedef struct {
    const char *state_dir;
    hfs_hashcache *cache;
    int rc;
    char error[1024]; /* the last error is per thread */
} cache_load;

static void *load_cache(void *arg)
{
    cache_load *l = arg;
    l->rc = hfs_hashcache_open(&l->cache, l->state_dir);
    if (l->rc < 0)
        snprintf(l->error, sizeof(l->error), "%s", hfs_error_last());
    return NULL;
}

/* What a warm re-plan does locally: load the cache while the folder is scanned (planner.c
 * does the same, and takes the remote snapshot beside them), ask for the hashes the plan wants,
 * find them all in the cache, save (nothing changed: no write). The remote holds every file
 * at the same path and size, so a file only its content can classify is asked for the hash
 * of the remote's mode (regular: the git SHA-1, as run.sh's tree is text), as planner.c
 * does. A cache that lacks them is filled (files_read says how many were read). */
static int bench_replan(const char *dir, const char *state_dir, unsigned threads)
{
    int rc = 1;
    hfs_hashcache *cache = NULL;
    hfs_scan_result *res = NULL;
    hfs_lfsrules *rules = NULL;
    unsigned char *modes = NULL, *want = NULL;
    const char *attrs = hfs_lfsrules_default_gitattributes(HFS_REPO_MODEL);
    double t0 = hfs_now();
    cache_load load = {state_dir, NULL, 0, ""};
    pthread_t loader;
    bool threaded = pthread_create(&loader, NULL, load_cache, &load) == 0;
    if (!threaded)
        load_cache(&load);
    int scan_rc = scan(&res, dir, threads);
    if (threaded)
        pthread_join(loader, NULL);
    cache = load.cache;
    if (load.rc < 0) {
        hfs_error_set(load.rc, "%s", load.error);
        fail("cache");
        goto done;
    }
    if (scan_rc < 0) {
        fail("scan");
        goto done;
    }
    hfs_lfsrules_parse(&rules, attrs, strlen(attrs));
    modes = hfs_malloc(res->count ? res->count : 1);
    want = hfs_malloc(res->count ? res->count : 1);
    hfs_lfsdecide_prepare(modes, want, res->files, res->count, rules, NULL);
    for (size_t i = 0; i < res->count; i++)
        if (modes[i] == HFS_MODE_UNDECIDED)
            want[i] = HFS_HASH_SHA1;
    hfs_hash_options ho = HFS_HASH_OPTIONS_INIT;
    ho.want = want;
    ho.cache = cache;
    ho.threads = threads;
    hfs_hash_stats st;
    if (hfs_hash_files(res->files, res->count, &ho, &st) < 0) {
        fail("hash");
        goto done;
    }
    if (hfs_hashcache_save(cache) < 0) {
        fail("cache save");
        goto done;
    }
    double t1 = hfs_now();
    printf("files\t%zu\nfiles_read\t%zu\ncache_hits\t%zu\nracy\t%zu\nsecs\t%.3f\nrss_mib\t%.1f\n",
           res->count, st.files_read, st.cache_hits, st.racy, t1 - t0, peak_rss_mib());
    rc = 0;
done:
    free(want);
    free(modes);
    hfs_lfsrules_free(rules);
    hfs_scan_result_free(res);
    hfs_hashcache_free(cache);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "replan") == 0)
        return bench_replan(argv[2], argv[3], (unsigned)strtoul(argv[4], NULL, 10));
    fprintf(stderr, "usage: bench-local replan DIR STATE_DIR THREADS\n");
    return 64;
}
