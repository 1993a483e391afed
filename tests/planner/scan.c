/* Tests for src/planner/scan.c: skip rules, .gitignore (local and remote), patterns relative
 * to the folder, path_in_repo, special files, symlinks (inside, escaping, loops), UTF-8. */
#include <sys/socket.h>
#include <sys/un.h>

#include "common/error.h"
#include "fixture.h"
#include "planner/scan.h"

/* The repo paths of a scan, joined with '\n', for one readable comparison. */
static char *paths_of(const hfs_scan_result *r)
{
    hfs_buf b = HFS_BUF_INIT;
    for (size_t i = 0; r && i < r->count; i++)
        hfs_buf_printf(&b, "%s%s", i ? "\n" : "", r->files[i].repo_path);
    return hfs_buf_detach(&b);
}

static hfs_pattern_set *patterns(const char *a, const char *b)
{
    const char *list[2] = {a, b};
    hfs_pattern_set *set = NULL;
    hfs_pattern_set_compile(&set, list, b ? 2 : 1, NULL);
    return set;
}

/* Scans and compares the listing; returns the scan's rc. */
static int expect_scan(const hfs_scan_options *opts, const char *want, const char *name)
{
    hfs_scan_result *r = NULL;
    int rc = hfs_scan_folder(&r, opts);
    if (rc)
        tap_diag("scan failed: %s", hfs_error_last());
    char *got = paths_of(r);
    tap_is_str(got, want, name);
    free(got);
    hfs_scan_result_free(r);
    return rc;
}

static void test_skips_and_order(void)
{
    char *dir = fx_tempdir("scan");
    fx_write_str(dir, ".git/config", "x");
    fx_write_str(dir, ".hfsync/hashcache", "x");
    fx_write_str(dir, ".cache/huggingface/upload/a.metadata", "x");
    fx_write_str(dir, ".cache/other.txt", "kept: only .cache/huggingface is skipped");
    fx_write_str(dir, "sub/.git", "gitdir: ../.git/modules/sub");
    fx_write_str(dir, "sub/.cache/huggingface/x", "x");
    fx_write_str(dir, "sub/deep/.git/HEAD", "x");
    fx_write_str(dir, "a/b", "1");
    fx_write_str(dir, "a.txt", "12");
    fx_write_str(dir, "a-c", "123");
    fx_write_str(dir, "caf\xc3\xa9.txt", "utf-8 is fine");
    fx_mkdir(dir, "empty/dir");
    hfs_scan_options opts = HFS_SCAN_OPTIONS_INIT;
    opts.folder = dir;
    expect_scan(&opts, ".cache/other.txt\na-c\na.txt\na/b\ncaf\xc3\xa9.txt",
                "skips .git, .hfsync, .cache/huggingface at any depth; sorted bytewise");

    hfs_scan_result *r = NULL;
    hfs_scan_folder(&r, &opts);
    if (tap_ok(r && r->count == 5, "five files")) {
        const hfs_local_file *f = &r->files[2]; /* a.txt */
        struct stat st;
        char *full = hfs_path_join(dir, "a.txt");
        stat(full, &st);
        tap_is_str(f->local_path, full, "local_path is absolute");
        tap_is_str(f->rel_path, "a.txt", "rel_path is relative to the folder");
        tap_ok(f->size == 2 && f->inode == (uint64_t)st.st_ino && f->dev == (uint64_t)st.st_dev &&
                   f->mtime_ns == (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec &&
                   S_ISREG(f->mode) && !f->via_symlink && !f->has_sha1 && !f->has_sha256,
               "stat data recorded, no hashes yet");
        free(full);
    }
    hfs_scan_result_free(r);

    char *slashed = hfs_sprintf("%s/", dir);
    opts.folder = slashed;
    opts.path_in_repo = "/exp/ckpt/";
    expect_scan(&opts,
                "exp/ckpt/.cache/other.txt\nexp/ckpt/a-c\nexp/ckpt/a.txt\nexp/ckpt/a/b\n"
                "exp/ckpt/caf\xc3\xa9.txt",
                "path_in_repo prefixes repo paths (surrounding slashes dropped)");
    free(slashed);
    fx_rmrf(dir);
    free(dir);
}

static void test_patterns(void)
{
    char *dir = fx_tempdir("scan");
    fx_write_str(dir, "config.json", "{}");
    fx_write_str(dir, "model.safetensors", "x");
    fx_write_str(dir, "logs/run.txt", "x");
    fx_write_str(dir, "sub/config.json", "{}");
    fx_write_str(dir, "sub/logs/deep.txt", "x");
    hfs_scan_options opts = HFS_SCAN_OPTIONS_INIT;
    opts.folder = dir;
    opts.path_in_repo = "prefix";

    hfs_pattern_set *allow = patterns("*.json", "*.txt");
    hfs_pattern_set *ignore = patterns("logs/", NULL);
    opts.allow = allow;
    opts.ignore = ignore;
    expect_scan(&opts, "prefix/config.json\nprefix/sub/config.json\nprefix/sub/logs/deep.txt",
                "allow then ignore, matched relative to the folder, before the prefix");
    hfs_pattern_set_free(allow);
    hfs_pattern_set_free(ignore);

    allow = patterns("config.json", NULL);
    opts.allow = allow;
    opts.ignore = NULL;
    expect_scan(&opts, "prefix/config.json",
                "an allow pattern without '/' matches only at the folder's top, as fnmatch does");
    hfs_pattern_set_free(allow);

    ignore = patterns("*/logs/*", NULL);
    opts.allow = NULL;
    opts.ignore = ignore;
    expect_scan(&opts,
                "prefix/config.json\nprefix/logs/run.txt\nprefix/model.safetensors\n"
                "prefix/sub/config.json",
                "an ignore pattern with `*` crossing '/'");
    hfs_pattern_set_free(ignore);

    hfs_scan_result *r = NULL;
    ignore = patterns("*.txt", NULL);
    opts.ignore = ignore;
    hfs_scan_folder(&r, &opts);
    tap_ok(r && r->count == 3 && r->ignored == 2, "ignored files are counted");
    hfs_scan_result_free(r);
    hfs_pattern_set_free(ignore);
    fx_rmrf(dir);
    free(dir);
}

static void test_gitignore(void)
{
    char *dir = fx_tempdir("scan");
    fx_write_str(dir, ".gitignore", "*.tmp\nbuild/\n");
    fx_write_str(dir, "a.tmp", "x");
    fx_write_str(dir, "a.bin", "x");
    fx_write_str(dir, "build/out", "x");
    fx_write_str(dir, "sub/.gitignore", "!keep.tmp\n/local.txt\n");
    fx_write_str(dir, "sub/keep.tmp", "x");
    fx_write_str(dir, "sub/drop.tmp", "x");
    fx_write_str(dir, "sub/local.txt", "x");
    fx_write_str(dir, "sub/x/local.txt", "x");
    hfs_scan_options opts = HFS_SCAN_OPTIONS_INIT;
    opts.folder = dir;
    opts.remote_root_gitignore = "*.bin\n";
    expect_scan(&opts, ".gitignore\na.bin\nsub/.gitignore\nsub/keep.tmp\nsub/x/local.txt",
                "nested .gitignore files; the remote one is unused beside a local root one");
    opts.use_gitignore = false;
    expect_scan(&opts,
                ".gitignore\na.bin\na.tmp\nbuild/out\nsub/.gitignore\nsub/drop.tmp\n"
                "sub/keep.tmp\nsub/local.txt\nsub/x/local.txt",
                "use_gitignore = false lists everything");

    char *root_rules = hfs_path_join(dir, ".gitignore");
    unlink(root_rules);
    free(root_rules);
    opts.use_gitignore = true;
    hfs_scan_result *r = NULL;
    hfs_scan_folder(&r, &opts);
    char *got = paths_of(r);
    tap_is_str(got, "a.tmp\nbuild/out\nsub/.gitignore\nsub/drop.tmp\nsub/keep.tmp\nsub/x/local.txt",
               "without a local root .gitignore the remote one applies (nested ones still do)");
    tap_ok(r && r->used_remote_gitignore, "the scan says it used the remote .gitignore");
    free(got);
    hfs_scan_result_free(r);
    fx_rmrf(dir);
    free(dir);
}

/* The hub's shouldIgnore matches the root .gitignore against repo paths: with a
 * path_in_repo, the remote copy must see "<prefix>/<path>", while the folder's own
 * .gitignore keeps seeing paths relative to the folder. */
static void test_remote_gitignore_sees_repo_paths(void)
{
    char *dir = fx_tempdir("scan");
    fx_write_str(dir, "a.log", "x");
    fx_write_str(dir, "b.txt", "x");
    fx_write_str(dir, "d/x.log", "x");
    fx_write_str(dir, "d/y.log", "x");
    hfs_scan_options opts = HFS_SCAN_OPTIONS_INIT;
    opts.folder = dir;
    opts.path_in_repo = "sub";

    opts.remote_root_gitignore = "/sub/a.log\n";
    hfs_scan_result *r = NULL;
    tap_is_int(hfs_scan_folder(&r, &opts), 0, "scan with a remote .gitignore and a prefix");
    char *got = paths_of(r);
    tap_is_str(got, "sub/b.txt\nsub/d/x.log\nsub/d/y.log",
               "remote `/sub/a.log` with path_in_repo sub ignores a.log");
    tap_ok(r && r->ignored == 1 && r->used_remote_gitignore, "one file ignored, by the remote rules");
    free(got);
    hfs_scan_result_free(r);

    opts.remote_root_gitignore = "/a.log\n";
    expect_scan(&opts, "sub/a.log\nsub/b.txt\nsub/d/x.log\nsub/d/y.log",
                "remote `/a.log` does not ignore sub/a.log");
    opts.remote_root_gitignore = "*.log\n!/sub/d/y.log\n";
    expect_scan(&opts, "sub/b.txt\nsub/d/y.log",
                "unanchored remote rules and negations see the repo path");
    opts.remote_root_gitignore = "/sub/d/\n";
    expect_scan(&opts, "sub/a.log\nsub/b.txt", "a remote rule naming a folder below the prefix");

    opts.remote_root_gitignore = "/sub\n";
    expect_scan(&opts, "", "a remote rule ignoring path_in_repo itself ignores everything");
    opts.path_in_repo = "/sub/deeper/";
    opts.remote_root_gitignore = "sub/\n";
    expect_scan(&opts, "", "... and so does one ignoring a directory above it");
    opts.remote_root_gitignore = "/sub/deeper/b.txt\n/deeper\n";
    expect_scan(&opts, "sub/deeper/a.log\nsub/deeper/d/x.log\nsub/deeper/d/y.log",
                "a deeper prefix: the full repo path is matched, not a suffix of it");

    /* The hub applies the root rules alone: a nested local .gitignore cannot re-include
     * what they ignore. */
    opts.path_in_repo = "sub";
    opts.remote_root_gitignore = "*.log\n";
    fx_write_str(dir, "d/.gitignore", "!x.log\n");
    expect_scan(&opts, "sub/b.txt\nsub/d/.gitignore",
                "a nested local negation does not undo a remote rule");

    /* The folder's own root .gitignore: relative to the folder, as before. */
    fx_write_str(dir, ".gitignore", "/a.log\n");
    expect_scan(&opts, "sub/.gitignore\nsub/b.txt\nsub/d/.gitignore\nsub/d/x.log\nsub/d/y.log",
                "a local root `/a.log` with path_in_repo sub ignores a.log (remote one unused)");
    fx_write_str(dir, ".gitignore", "/sub/a.log\n");
    expect_scan(&opts,
                "sub/.gitignore\nsub/a.log\nsub/b.txt\nsub/d/.gitignore\nsub/d/x.log\nsub/d/y.log",
                "a local root `/sub/a.log` does not see the prefix");
    fx_rmrf(dir);
    free(dir);
}

static void test_special_files(void)
{
    char *dir = fx_tempdir("scan");
    fx_write_str(dir, "regular.txt", "x");
    char *fifo = hfs_path_join(dir, "pipe");
    tap_ok(mkfifo(fifo, 0644) == 0, "mkfifo");
    char *sock_path = hfs_path_join(dir, "sock");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path);
    bool have_sock = strlen(sock_path) < sizeof(addr.sun_path) &&
                     bind(s, (struct sockaddr *)&addr, sizeof(addr)) == 0;
    hfs_scan_options opts = HFS_SCAN_OPTIONS_INIT;
    opts.folder = dir;
    hfs_scan_result *r = NULL;
    fx_capture_begin();
    int rc = hfs_scan_folder(&r, &opts);
    char *err = fx_capture_end();
    tap_ok(rc == 0 && r->count == 1 && r->skipped == (have_sock ? 2u : 1u),
           "fifo and socket are skipped, not errors");
    tap_ok(strstr(err, fifo) && strstr(err, "fifo"), "the warning names the fifo");
    if (have_sock)
        tap_ok(strstr(err, sock_path) && strstr(err, "socket"), "the warning names the socket");
    else
        tap_skip("cannot bind a unix socket here");
    free(err);
    hfs_scan_result_free(r);
    close(s);
    free(sock_path);
    free(fifo);
    fx_rmrf(dir);
    free(dir);
}

static void test_symlinks(void)
{
    char *dir = fx_tempdir("scan");
    char *folder = hfs_path_join(dir, "folder");
    fx_write_str(dir, "outside.txt", "secret");
    fx_write_str(folder, "real/data.bin", "data");
    fx_symlink(folder, "link.bin", "real/data.bin");
    fx_symlink(folder, "linkdir", "real");
    fx_symlink(folder, "dangling", "nowhere");
    hfs_scan_options opts = HFS_SCAN_OPTIONS_INIT;
    opts.folder = folder;
    hfs_scan_result *r = NULL;
    fx_capture_begin();
    int rc = hfs_scan_folder(&r, &opts);
    char *err = fx_capture_end();
    char *got = paths_of(r);
    tap_is_str(got, "link.bin\nlinkdir/data.bin\nreal/data.bin",
               "symlinks inside the folder are followed (files and directories)");
    tap_ok(rc == 0 && r->files[0].via_symlink && r->files[0].size == 4 &&
               r->files[0].inode == r->files[2].inode && !r->files[2].via_symlink,
           "a followed link carries its target's stat data");
    tap_ok(strstr(err, "dangling") != NULL, "a dangling symlink is skipped with a warning");
    free(err);
    free(got);
    hfs_scan_result_free(r);

    opts.follow_symlinks = false;
    fx_capture_begin();
    rc = hfs_scan_folder(&r, &opts);
    free(fx_capture_end());
    got = paths_of(r);
    tap_is_str(got, "real/data.bin", "follow_symlinks = false skips every symlink");
    free(got);
    hfs_scan_result_free(r);
    opts.follow_symlinks = true;

    /* Escaping the folder: an error naming the link and its target. */
    fx_symlink(folder, "escape.txt", "../outside.txt");
    rc = hfs_scan_folder(&r, &opts);
    char *link = hfs_path_join(folder, "escape.txt");
    tap_is_int(rc, HFS_EINVALID, "a symlink escaping the folder is an error");
    tap_ok(strstr(hfs_error_last(), link) && strstr(hfs_error_last(), "../outside.txt"),
           "the error names the link and its target");
    tap_diag("%s", hfs_error_last());
    hfs_scan_result_free(r);

    /* ... unless it is excluded anyway. */
    fx_write_str(folder, ".gitignore", "escape.txt\n");
    rc = hfs_scan_folder(&r, &opts);
    tap_is_int(rc, 0, "an escaping symlink that .gitignore excludes is no error");
    hfs_scan_result_free(r);
    unlink(link);
    char *rules = hfs_path_join(folder, ".gitignore");
    unlink(rules);
    free(rules);
    free(link);

    /* Loops: two links pointing at each other, and a directory link to an ancestor. */
    fx_symlink(folder, "loop-a", "loop-b");
    fx_symlink(folder, "loop-b", "loop-a");
    rc = hfs_scan_folder(&r, &opts);
    tap_is_int(rc, HFS_EINVALID, "a symlink loop is an error, not a hang");
    tap_ok(strstr(hfs_error_last(), "loop") && strstr(hfs_error_last(), "loop-"),
           "the error names the loop");
    tap_diag("%s", hfs_error_last());
    hfs_scan_result_free(r);
    char *a = hfs_path_join(folder, "loop-a"), *b = hfs_path_join(folder, "loop-b");
    unlink(a);
    unlink(b);
    free(a);
    free(b);

    /* real/up loops, and so does linkdir/up (linkdir -> real): whatever the threads do,
     * the error reported is the first in path order. */
    fx_symlink(folder, "real/up", "..");
    for (unsigned threads = 1; threads <= 4; threads += 3) {
        opts.threads = threads;
        rc = hfs_scan_folder(&r, &opts);
        tap_is_int(rc, HFS_EINVALID, "a directory link back to an ancestor is an error");
        tap_ok(strstr(hfs_error_last(), "folder/linkdir/up points to") != NULL,
               "the error names the first looping link in path order (%u threads)", threads);
        tap_diag("%s", hfs_error_last());
        hfs_scan_result_free(r);
    }

    fx_rmrf(dir);
    free(folder);
    free(dir);
}

static void test_utf8_and_errors(void)
{
    char *dir = fx_tempdir("scan");
    fx_write_str(dir, "ok.txt", "x");
    fx_write_str(dir, "sub/bad\xff\xfe.txt", "x");
    hfs_scan_options opts = HFS_SCAN_OPTIONS_INIT;
    opts.folder = dir;
    hfs_scan_result *r = NULL;
    int rc = hfs_scan_folder(&r, &opts);
    tap_is_int(rc, HFS_EINVALID, "a name that is not UTF-8 is an error");
    tap_ok(strstr(hfs_error_last(), "sub/bad\\xff\\xfe.txt") != NULL,
           "the error names it, bad bytes escaped");
    tap_diag("%s", hfs_error_last());
    hfs_scan_result_free(r);

    fx_write_str(dir, ".gitignore", "bad*\n");
    rc = hfs_scan_folder(&r, &opts);
    tap_ok(rc == 0 && r->count == 2, "a non-UTF-8 name that .gitignore excludes is fine");
    hfs_scan_result_free(r);

    char *empty = hfs_path_join(dir, "empty");
    fx_mkdir(dir, "empty");
    opts.folder = empty;
    tap_ok(hfs_scan_folder(&r, &opts) == 0 && r->count == 0, "an empty folder lists nothing");
    hfs_scan_result_free(r);
    free(empty);

    char *missing = hfs_path_join(dir, "missing");
    opts.folder = missing;
    tap_is_int(hfs_scan_folder(&r, &opts), HFS_ENOTFOUND, "a missing folder");
    tap_ok(strstr(hfs_error_last(), missing) != NULL, "the error names the folder");
    opts.folder = "relative/path";
    tap_is_int(hfs_scan_folder(&r, &opts), HFS_EINVALID, "a relative folder is refused");
    tap_ok(r == NULL, "no result on error");
    free(missing);
    hfs_scan_result_free(NULL);
    fx_rmrf(dir);
    free(dir);
}

/* Directories are listed by several threads; the result must not depend on it. */
static void test_parallel_equals_serial(void)
{
    char *dir = fx_tempdir("scan");
    for (int d = 0; d < 24; d++) {
        for (int f = 0; f < 12; f++) {
            char rel[64];
            snprintf(rel, sizeof(rel), "d%02d/%s/f%d.%s", d, d % 3 ? "x" : "x.y", f,
                     f % 4 ? "bin" : "log");
            fx_write_str(dir, rel, "x");
        }
        char rules[32];
        snprintf(rules, sizeof(rules), "d%02d/.gitignore", d);
        fx_write_str(dir, rules, d % 2 ? "*.log\n" : "!f1.log\n");
    }
    fx_write_str(dir, ".gitignore", "f0.*\n");
    hfs_scan_options opts = HFS_SCAN_OPTIONS_INIT;
    opts.folder = dir;
    hfs_scan_result *serial = NULL, *parallel = NULL;
    opts.threads = 1;
    int rc = hfs_scan_folder(&serial, &opts);
    opts.threads = 4;
    rc |= hfs_scan_folder(&parallel, &opts);
    char *a = paths_of(serial), *b = paths_of(parallel);
    tap_ok(rc == 0 && serial->count > 100, "a wide tree scans on one thread and on four");
    tap_is_str(b, a, "four threads list exactly what one thread lists");
    bool sorted = true;
    for (size_t i = 1; parallel && i < parallel->count; i++)
        sorted =
            sorted && strcmp(parallel->files[i - 1].repo_path, parallel->files[i].repo_path) < 0;
    tap_ok(sorted, "the listing is sorted bytewise");
    tap_ok(serial && parallel && serial->ignored == parallel->ignored,
           "and counts the same ignored entries");
    free(a);
    free(b);
    hfs_scan_result_free(serial);
    hfs_scan_result_free(parallel);
    fx_rmrf(dir);
    free(dir);
}

int main(void)
{
    test_skips_and_order();
    test_patterns();
    test_gitignore();
    test_remote_gitignore_sees_repo_paths();
    test_special_files();
    test_symlinks();
    test_utf8_and_errors();
    test_parallel_equals_serial();
    return tap_done();
}
