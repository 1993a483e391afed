/* Tests for src/planner/hashpool.c: digests equal `git hash-object` and `sha256sum` for sizes
 * around the read chunk, one thread equals many, per-file wants, progress, moved files. */
#include "common/error.h"
#include "fixture.h"
#include "planner/hashpool.h"
#include "planner/scan.h"

static const size_t sizes[] = {0, 1, 4095, 1u << 20, (1u << 20) + 1, (3u << 20) + 17};

/* First word of a command's output (a digest), or "" when the tool is missing. */
static char *run_tool(const char *fmt, const char *path)
{
    char *cmd = hfs_sprintf(fmt, path);
    char line[256] = "";
    FILE *p = popen(cmd, "r");
    if (p) {
        if (!fgets(line, sizeof(line), p))
            line[0] = '\0';
        pclose(p);
    }
    line[strcspn(line, " \n")] = '\0';
    free(cmd);
    return hfs_strdup(line);
}

static hfs_scan_result *scan(const char *dir)
{
    hfs_scan_options opts = HFS_SCAN_OPTIONS_INIT;
    hfs_scan_result *r = NULL;
    opts.folder = dir;
    if (hfs_scan_folder(&r, &opts) != 0)
        tap_diag("scan failed: %s", hfs_error_last());
    return r;
}

static char *make_tree(void)
{
    char *dir = fx_tempdir("hash");
    for (size_t i = 0; i < HFS_ARRAY_LEN(sizes); i++) {
        unsigned char *data = hfs_malloc(sizes[i]);
        uint32_t x = 2463534242u + (uint32_t)i;
        for (size_t k = 0; k < sizes[i]; k++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            data[k] = (unsigned char)x;
        }
        char name[32];
        snprintf(name, sizeof(name), "f%zu.bin", sizes[i]);
        fx_write(dir, name, data, sizes[i]);
        free(data);
    }
    return dir;
}

typedef struct {
    int calls;
    hfs_hash_progress last;
} progress_log;

static void on_progress(const hfs_hash_progress *p, void *payload)
{
    progress_log *log = payload;
    log->calls++;
    log->last = *p;
}

static void test_digests(void)
{
    char *dir = make_tree();
    hfs_scan_result *one = scan(dir), *many = scan(dir);
    hfs_hash_options opts = HFS_HASH_OPTIONS_INIT;
    hfs_hash_stats stats;
    progress_log log = {0};
    opts.threads = 1;
    tap_is_int(hfs_hash_files(one->files, one->count, &opts, &stats), 0, "hash on one thread");
    tap_is_int((long long)stats.files_read, (long long)HFS_ARRAY_LEN(sizes), "every file read");
    opts.threads = 4;
    opts.progress = on_progress;
    opts.progress_payload = &log;
    tap_is_int(hfs_hash_files(many->files, many->count, &opts, NULL), 0, "hash on four threads");
    uint64_t total = 0;
    for (size_t i = 0; i < HFS_ARRAY_LEN(sizes); i++)
        total += sizes[i];
    tap_ok(log.calls >= 1 && log.last.files_done == HFS_ARRAY_LEN(sizes) &&
               log.last.files_total == HFS_ARRAY_LEN(sizes) && log.last.bytes_done == total &&
               log.last.bytes_total == total,
           "the last progress report has every file and byte");

    char *probe = run_tool("git hash-object '%s' 2>/dev/null", "/dev/null");
    bool have_git = strlen(probe) == 40;
    free(probe);
    probe = run_tool("sha256sum '%s' 2>/dev/null", "/dev/null");
    bool have_sha256sum = strlen(probe) == 64;
    free(probe);
    for (size_t i = 0; i < one->count; i++) {
        const hfs_local_file *f = &one->files[i], *g = &many->files[i];
        char *git = run_tool("git hash-object '%s'", f->local_path);
        char *sum = run_tool("sha256sum '%s'", f->local_path);
        if (have_git)
            tap_is_str(f->sha1, git, f->repo_path);
        else
            tap_skip("git is not installed");
        if (have_sha256sum)
            tap_is_str(f->sha256, sum, f->repo_path);
        else
            tap_skip("sha256sum is not installed");
        tap_ok(f->has_sha1 && f->has_sha256 && strcmp(f->sha1, g->sha1) == 0 &&
                   strcmp(f->sha256, g->sha256) == 0,
               "%s: four threads give the same digests as one", f->repo_path);
        free(git);
        free(sum);
    }
    hfs_scan_result_free(one);
    hfs_scan_result_free(many);
    fx_rmrf(dir);
    free(dir);
}

static void test_wants_and_moves(void)
{
    char *dir = make_tree();
    hfs_scan_result *r = scan(dir);
    unsigned char want[HFS_ARRAY_LEN(sizes)] = {HFS_HASH_SHA1, HFS_HASH_SHA256, 0,
                                                HFS_HASH_BOTH, HFS_HASH_SHA1,   HFS_HASH_SHA256};
    hfs_hash_options opts = HFS_HASH_OPTIONS_INIT;
    hfs_hash_stats stats;
    opts.want = want;
    tap_is_int(hfs_hash_files(r->files, r->count, &opts, &stats), 0, "hash with per-file wants");
    bool right = true;
    for (size_t i = 0; i < r->count; i++)
        right = right && r->files[i].has_sha1 == !!(want[i] & HFS_HASH_SHA1) &&
                r->files[i].has_sha256 == !!(want[i] & HFS_HASH_SHA256);
    tap_ok(right, "each file gets exactly the hashes asked for");
    tap_is_int((long long)stats.files_read, 5, "a file that needs nothing is not read");

    /* A file rewritten between the scan and the hash: hashed as it is now. */
    hfs_scan_result_free(r);
    r = scan(dir);
    fx_write_str(dir, "f1.bin", "hello\n");
    opts.want = NULL;
    tap_is_int(hfs_hash_files(r->files, r->count, &opts, NULL), 0, "hash after a rewrite");
    const hfs_local_file *f = &r->files[1];
    tap_ok(strcmp(f->repo_path, "f1.bin") == 0 && f->size == 6 &&
               strcmp(f->sha1, "ce013625030ba8dba906f756967f9e9ca394464a") == 0,
           "the moved file's size and hash describe its current bytes");

    /* A file removed after the scan: an error naming it. */
    hfs_scan_result_free(r);
    r = scan(dir);
    char *gone = hfs_path_join(dir, "f4095.bin");
    unlink(gone);
    tap_is_int(hfs_hash_files(r->files, r->count, &opts, NULL), HFS_ENOTFOUND,
               "a file removed after the scan is an error");
    tap_ok(strstr(hfs_error_last(), gone) != NULL, "the error names it");
    free(gone);
    hfs_scan_result_free(r);

    tap_is_int(hfs_hash_files(NULL, 0, &opts, &stats), 0, "nothing to hash is fine");
    opts.version = 99;
    tap_is_int(hfs_hash_files(NULL, 0, &opts, NULL), HFS_EINVALID, "unknown options version");
    fx_rmrf(dir);
    free(dir);
}

int main(void)
{
    test_digests();
    test_wants_and_moves();
    return tap_done();
}
