/* Helpers for the planner's unit tests: a temp folder to build trees in, files written
 * with given bytes, and stderr captured so a test can check what was warned. */
#ifndef HFS_TEST_PLANNER_FIXTURE_H
#define HFS_TEST_PLANNER_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "tap.h"

/* A fresh directory under $TMPDIR (or /tmp); the caller frees it after fx_rmrf. */
static inline char *fx_tempdir(const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = hfs_sprintf("%s/hfs-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
    if (!mkdtemp(dir)) {
        tap_diag("mkdtemp %s: %s", dir, strerror(errno));
        abort();
    }
    return dir;
}

static inline void fx_rmrf(const char *dir)
{
    char *cmd = hfs_sprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", dir);
    free(cmd);
}

/* Writes `len` bytes to root/rel, creating the parent directories. */
static inline void fx_write(const char *root, const char *rel, const void *data, size_t len)
{
    char *full = hfs_path_join(root, rel);
    char *slash = strrchr(full, '/');
    *slash = '\0';
    hfs_mkdir_p(full);
    *slash = '/';
    int fd = open(full, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
        tap_diag("cannot write %s: %s", full, strerror(errno));
        abort();
    }
    close(fd);
    free(full);
}

static inline void fx_write_str(const char *root, const char *rel, const char *text)
{
    fx_write(root, rel, text, strlen(text));
}

static inline void fx_mkdir(const char *root, const char *rel)
{
    char *full = hfs_path_join(root, rel);
    hfs_mkdir_p(full);
    free(full);
}

static inline void fx_symlink(const char *root, const char *rel, const char *target)
{
    char *full = hfs_path_join(root, rel);
    if (symlink(target, full) != 0)
        tap_diag("symlink %s -> %s: %s", full, target, strerror(errno));
    free(full);
}

/* Sets a file's mtime to now + delta seconds (negative: the past). */
static inline void fx_set_mtime(const char *root, const char *rel, long delta)
{
    char *full = hfs_path_join(root, rel);
    struct timespec now, times[2];
    clock_gettime(CLOCK_REALTIME, &now);
    times[0] = now;
    times[1] = now;
    times[1].tv_sec += delta;
    if (utimensat(AT_FDCWD, full, times, 0) != 0)
        tap_diag("utimensat %s: %s", full, strerror(errno));
    free(full);
}

/* stderr captured into a temp file between begin and end (which returns the text). */
static int fx_saved_stderr = -1;
static char fx_capture_path[64];

static inline void fx_capture_begin(void)
{
    fflush(stderr);
    snprintf(fx_capture_path, sizeof(fx_capture_path), "/tmp/hfs-stderr-XXXXXX");
    int fd = mkstemp(fx_capture_path);
    fx_saved_stderr = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
}

static inline char *fx_capture_end(void)
{
    char *raw = NULL, *text;
    size_t len = 0;
    fflush(stderr);
    dup2(fx_saved_stderr, STDERR_FILENO);
    close(fx_saved_stderr);
    /* Copied by length: hfs_read_file leaves an empty file's buffer unterminated. */
    text = hfs_read_file(&raw, &len, fx_capture_path, 1 << 20) == 0 ? hfs_strndup(raw, len)
                                                                    : hfs_strdup("");
    free(raw);
    unlink(fx_capture_path);
    fputs(text, stderr); /* still shown in the test log */
    return text;
}

#endif
