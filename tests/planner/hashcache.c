/* Tests for src/planner/hashcache.c: a hit reads nothing; touch, same-size rewrite, inode
 * change and the racy-clean rule force a read; corrupt caches are discarded and rewritten. */
#include "common/error.h"
#include "fixture.h"
#include "planner/hashcache.h"
#include "planner/hashpool.h"
#include "planner/scan.h"

static char *dir, *folder, *state;

/* Scans the folder, hashes through the cache in state/, saves it; returns the stats. */
static hfs_hash_stats plan(const char *label, char **warnings)
{
    hfs_scan_options so = HFS_SCAN_OPTIONS_INIT;
    hfs_scan_result *r = NULL;
    hfs_hashcache *cache = NULL;
    hfs_hash_options ho = HFS_HASH_OPTIONS_INIT;
    hfs_hash_stats stats = {0};
    so.folder = folder;
    if (warnings)
        fx_capture_begin();
    int rc = hfs_scan_folder(&r, &so);
    if (rc == 0)
        rc = hfs_hashcache_open(&cache, state);
    ho.cache = cache;
    if (rc == 0)
        rc = hfs_hash_files(r->files, r->count, &ho, &stats);
    if (rc == 0)
        rc = hfs_hashcache_save(cache);
    if (warnings)
        *warnings = fx_capture_end();
    if (rc)
        tap_diag("%s: %s", label, hfs_error_last());
    tap_diag("%s: read %zu, hits %zu, racy %zu", label, stats.files_read, stats.cache_hits,
             stats.racy);
    hfs_hashcache_free(cache);
    hfs_scan_result_free(r);
    return stats;
}

/* One file's hashes after hashing the folder through the cache, each file asked for `want`
 * (0: both, the mode unknown); `stats` may be NULL. */
static hfs_local_file hashed(const char *rel, unsigned char want, hfs_hash_stats *stats)
{
    hfs_scan_options so = HFS_SCAN_OPTIONS_INIT;
    hfs_scan_result *r = NULL;
    hfs_hashcache *cache = NULL;
    hfs_hash_options ho = HFS_HASH_OPTIONS_INIT;
    hfs_local_file out = {0};
    so.folder = folder;
    if (hfs_scan_folder(&r, &so) == 0 && hfs_hashcache_open(&cache, state) == 0) {
        unsigned char *wants = hfs_malloc(r->count + 1);
        memset(wants, want, r->count + 1);
        ho.cache = cache;
        ho.want = want ? wants : NULL;
        if (hfs_hash_files(r->files, r->count, &ho, stats) == 0 && hfs_hashcache_save(cache) == 0)
            for (size_t i = 0; i < r->count; i++)
                if (strcmp(r->files[i].rel_path, rel) == 0) {
                    out = r->files[i];
                    out.repo_path = out.local_path = NULL;
                    out.rel_path = NULL;
                }
        free(wants);
    }
    hfs_hashcache_free(cache);
    hfs_scan_result_free(r);
    return out;
}

static struct stat cache_stat(void)
{
    struct stat st = {0};
    char *path = hfs_path_join(state, "hashcache");
    stat(path, &st);
    free(path);
    return st;
}

/* Rewrites bytes of the cache file in place. */
static void poke_cache(off_t at, const void *bytes, size_t n)
{
    char *path = hfs_path_join(state, "hashcache");
    int fd = open(path, O_WRONLY);
    if (fd < 0 || pwrite(fd, bytes, n, at) != (ssize_t)n)
        tap_diag("cannot poke %s", path);
    close(fd);
    free(path);
}

static void write_old(const char *rel, const char *text)
{
    fx_write_str(folder, rel, text);
    /* Written "a while ago": the racy-clean rule leaves such files alone. */
    fx_set_mtime(folder, rel, -100);
}

static void test_hits_and_invalidation(void)
{
    write_old("a.txt", "alpha\n");
    write_old("b.txt", "bravo\n");
    write_old("sub/c.txt", "charlie\n");
    hfs_hash_stats s = plan("cold", NULL);
    tap_ok(s.files_read == 3 && s.cache_hits == 0, "cold: every file is read");
    struct stat first = cache_stat();
    tap_ok(first.st_size > 64, "the cache file is written");

    s = plan("warm", NULL);
    tap_ok(s.files_read == 0 && s.cache_hits == 3, "warm: a hit avoids reading any file");
    struct stat second = cache_stat();
    tap_ok(second.st_ino == first.st_ino && second.st_mtim.tv_nsec == first.st_mtim.tv_nsec &&
               second.st_mtim.tv_sec == first.st_mtim.tv_sec,
           "nothing changed: the cache is not rewritten");

    fx_set_mtime(folder, "a.txt", -50); /* touch: same bytes, new mtime */
    s = plan("touch", NULL);
    tap_ok(s.files_read == 1 && s.cache_hits == 2, "touch invalidates that one entry");

    /* Same size, mtime put back as it was: ctime and (if need be) racy-clean catch it. */
    char *path = hfs_path_join(folder, "b.txt");
    struct stat before;
    stat(path, &before);
    fx_write_str(folder, "b.txt", "BRAVO\n");
    struct timespec times[2] = {before.st_atim, before.st_mtim};
    utimensat(AT_FDCWD, path, times, 0);
    tap_is_str(hashed("b.txt", 0, NULL).sha1,
               "13ab110f1f93ff4b986f6572c88fdfa8d673540e" /* git hash-object of BRAVO\n */,
               "a same-size rewrite with the old mtime is hashed again");

    /* A new inode with the same bytes and mtime: the cache cannot vouch for it. */
    char *copy = hfs_path_join(folder, "c.tmp");
    char *c_path = hfs_path_join(folder, "sub/c.txt");
    stat(c_path, &before);
    fx_write_str(folder, "c.tmp", "charlie\n");
    struct timespec ctimes[2] = {before.st_atim, before.st_mtim};
    utimensat(AT_FDCWD, copy, ctimes, 0);
    rename(copy, c_path);
    s = plan("inode", NULL);
    tap_ok(s.files_read == 1 && s.cache_hits == 2, "an inode change invalidates the entry");
    free(copy);
    free(c_path);
    free(path);
}

static void test_racy_clean(void)
{
    /* An entry whose mtime is not older than the cache's own write time could hide a
     * rewrite in the same clock tick. A future mtime makes that deterministic. */
    write_old("racy.txt", "same size\n");
    fx_set_mtime(folder, "racy.txt", 3600);
    hfs_hash_stats s = plan("racy 1", NULL);
    tap_ok(s.files_read == 1, "a new racy file is read");
    s = plan("racy 2", NULL);
    tap_ok(s.files_read == 1 && s.racy == 1,
           "unchanged but racy: read again, never trusted from the cache");
    fx_set_mtime(folder, "racy.txt", -10);
    plan("racy 3", NULL);
    s = plan("racy 4", NULL);
    tap_ok(s.files_read == 0 && s.racy == 0, "once older than the cache, it is trusted");
}

static void test_corrupt_caches(void)
{
    char *warn = NULL;
    hfs_hash_stats s;
    struct stat st = cache_stat();
    unsigned char junk = 0xA5;
    poke_cache(st.st_size / 2, &junk, 1);
    s = plan("flipped byte", &warn);
    tap_ok(strstr(warn, "discarding the hash cache") && strstr(warn, "checksum"),
           "a flipped byte is detected and the cache discarded with a warning");
    tap_ok(s.files_read >= 4 && s.cache_hits == 0, "nothing from a corrupt cache is trusted");
    free(warn);
    s = plan("after rewrite", &warn);
    if (!tap_ok(s.cache_hits >= 4 && strlen(warn) == 0, "a fresh, sound cache was written"))
        tap_diag("warned (%zu bytes): [%s]", strlen(warn), warn);
    free(warn);

    char *path = hfs_path_join(state, "hashcache");
    st = cache_stat();
    if (truncate(path, st.st_size - 7) != 0)
        tap_diag("truncate failed");
    s = plan("truncated", &warn);
    tap_ok(strstr(warn, "truncated") && s.cache_hits == 0, "a truncated cache is discarded");
    free(warn);

    unsigned char version = 99;
    poke_cache(8, &version, 1);
    s = plan("version", &warn);
    tap_ok(strstr(warn, "unknown version") && s.cache_hits == 0, "an unknown version is discarded");
    free(warn);

    /* A cache of hfsync before the send check (version 1) is replaced without a word. */
    plan("before version 1", NULL);
    version = 1;
    poke_cache(8, &version, 1);
    s = plan("version 1", &warn);
    tap_ok(strlen(warn) == 0 && s.cache_hits == 0 && s.files_read >= 4,
           "a version 1 cache is replaced quietly: every file read once more");
    free(warn);
    s = plan("after version 1", &warn);
    tap_ok(s.files_read == 0 && strlen(warn) == 0, "... and the new one serves the next plan");
    free(warn);

    fx_write_str(state, "hashcache", "not a cache at all");
    s = plan("garbage", &warn);
    tap_ok(strstr(warn, "discarding") && s.cache_hits == 0, "garbage is discarded");
    free(warn);
    s = plan("recovered", &warn);
    tap_ok(s.files_read == 0 && strlen(warn) == 0, "and replaced by a sound cache");
    free(warn);
    free(path);
}

/* The send check is taken with every SHA-256 and kept beside it; a file hashed for its git
 * sha1 alone has none. */
static void test_send_check(void)
{
    write_old("model.bin", "weights, not really\n");
    write_old("notes.txt", "notes\n");
    char want[HFS_CHECK_HEX] = "";
    hfs_hasher *h = hfs_hasher_new(false, false, 0);
    hfs_hasher_add_check(h);
    hfs_hasher_update(h, "weights, not really\n", 20);
    hfs_hasher_check(h, want);
    hfs_hasher_free(h);

    hfs_hash_stats s = {0};
    hfs_local_file f = hashed("model.bin", 0, &s);
    tap_ok(f.has_sha256 && f.has_check && strcmp(f.check, want) == 0,
           "the check is taken with the sha256: %s", f.check);
    f = hashed("model.bin", HFS_HASH_SHA256, &s);
    tap_ok(s.files_read == 0 && f.has_check && strcmp(f.check, want) == 0,
           "... and comes back from the cache, nothing read");
    write_old("model.bin", "weights, not REALLY\n");
    f = hashed("model.bin", HFS_HASH_SHA256, &s);
    tap_ok(s.files_read == 1 && f.has_check && strcmp(f.check, want) != 0,
           "a rewrite (same size) has another check");

    write_old("sha1-only.txt", "only the git sha1\n");
    f = hashed("sha1-only.txt", HFS_HASH_SHA1, &s);
    tap_ok(f.has_sha1 && !f.has_sha256 && !f.has_check,
           "a file hashed for its git sha1 alone has no check");
}

static void test_drops_and_sharing(void)
{
    hfs_hashcache *cache = NULL;
    hfs_hashcache_open(&cache, state);
    size_t before = hfs_hashcache_size(cache);
    hfs_hashcache_free(cache);

    char *gone = hfs_path_join(folder, "a.txt");
    unlink(gone);
    free(gone);
    plan("after delete", NULL);
    hfs_hashcache_open(&cache, state);
    tap_is_int((long long)hfs_hashcache_size(cache), (long long)before - 1,
               "the entry of a deleted file is dropped");
    hfs_hashcache_free(cache);

    /* Another sync's files (not looked up in this run) stay while they exist. */
    char *other = hfs_path_join(dir, "other");
    write_old("../other/x.bin", "x");
    hfs_scan_options so = HFS_SCAN_OPTIONS_INIT;
    hfs_scan_result *r = NULL;
    hfs_hash_options ho = HFS_HASH_OPTIONS_INIT;
    so.folder = other;
    hfs_scan_folder(&r, &so);
    hfs_hashcache_open(&cache, state);
    ho.cache = cache;
    hfs_hash_files(r->files, r->count, &ho, NULL);
    hfs_hashcache_save(cache);
    size_t with_other = hfs_hashcache_size(cache);
    hfs_hashcache_free(cache);
    hfs_scan_result_free(r);
    plan("only the first sync", NULL);
    hfs_hashcache_open(&cache, state);
    tap_is_int((long long)hfs_hashcache_size(cache), (long long)with_other,
               "entries of another sync's existing files are kept");
    hfs_hashcache_free(cache);
    free(other);

    /* A state dir that does not exist yet is created on save. */
    char *fresh_state = hfs_path_join(dir, "new/.hfsync");
    tap_is_int(hfs_hashcache_open(&cache, fresh_state), 0, "open a cache that does not exist");
    tap_is_int((long long)hfs_hashcache_size(cache), 0, "it is empty");
    hfs_local_file f = {0};
    f.local_path = "/nonexistent/file";
    f.has_sha1 = true;
    memset(f.sha1, 'a', 40);
    hfs_hashcache_record(cache, &f);
    tap_is_int(hfs_hashcache_save(cache), 0, "save creates the state directory");
    hfs_hashcache_free(cache);
    hfs_hashcache_free(NULL);
    free(fresh_state);
}

int main(void)
{
    dir = fx_tempdir("cache");
    folder = hfs_path_join(dir, "folder");
    state = hfs_path_join(dir, ".hfsync");
    test_hits_and_invalidation();
    test_racy_clean();
    test_corrupt_caches();
    test_send_check();
    test_drops_and_sharing();
    fx_rmrf(dir);
    free(state);
    free(folder);
    free(dir);
    return tap_done();
}
