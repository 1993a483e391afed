/* Tests for src/common/util.c: buffers, paths, sizes, UTF-8, atomic writes, whole writes. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"
#include "tap.h"

static void test_buf(void)
{
    hfs_buf b = HFS_BUF_INIT;
    tap_is_str(hfs_buf_cstr(&b), "", "empty buffer reads as \"\"");
    hfs_buf_puts(&b, "abc");
    hfs_buf_printf(&b, "-%d-", 42);
    hfs_buf_putc(&b, 'z');
    tap_is_str(b.ptr, "abc-42-z", "buffer appends");
    for (int i = 0; i < 10000; i++)
        hfs_buf_putc(&b, 'x');
    tap_is_int((long long)b.len, 10008, "buffer grows");
    char *s = hfs_buf_detach(&b);
    tap_ok(b.ptr == NULL && b.len == 0, "detach resets the buffer");
    free(s);
    hfs_buf_free(&b);
}

static void test_paths(void)
{
    const struct {
        const char *a, *b, *want;
    } cases[] = {
        {"a", "b", "a/b"},       {"a/", "b", "a/b"}, {"a//", "/b", "a/b"},
        {"", "b", "b"},          {"a", "", "a"},     {"/", "etc", "/etc"},
    };
    for (size_t i = 0; i < HFS_ARRAY_LEN(cases); i++) {
        char *got = hfs_path_join(cases[i].a, cases[i].b);
        char name[64];
        snprintf(name, sizeof(name), "path_join(\"%s\", \"%s\")", cases[i].a, cases[i].b);
        tap_is_str(got, cases[i].want, name);
        free(got);
    }
}

static void test_human_size(void)
{
    const struct {
        unsigned long long n;
        const char *want;
    } cases[] = {{0, "0 B"}, {999, "999 B"}, {1000, "1.0 KB"}, {1500, "1.5 KB"},
                 {4200000000ULL, "4.2 GB"}};
    for (size_t i = 0; i < HFS_ARRAY_LEN(cases); i++) {
        char got[32], name[64];
        hfs_human_size(got, sizeof(got), cases[i].n);
        snprintf(name, sizeof(name), "human_size(%llu)", cases[i].n);
        tap_is_str(got, cases[i].want, name);
    }
}

static void test_utf8(void)
{
    tap_ok(hfs_utf8_valid("plain", 5), "ASCII is UTF-8");
    tap_ok(hfs_utf8_valid("caf\xc3\xa9", 5), "two-byte sequence");
    tap_ok(hfs_utf8_valid("\xf0\x9f\x98\x80", 4), "four-byte sequence");
    tap_ok(!hfs_utf8_valid("\xff", 1), "0xFF is not UTF-8");
    tap_ok(!hfs_utf8_valid("\xc3", 1), "truncated sequence");
    tap_ok(!hfs_utf8_valid("\xc0\xaf", 2), "overlong '/'");
    tap_ok(!hfs_utf8_valid("\xed\xa0\x80", 3), "surrogate");
}

static void test_files(void)
{
    char dir[] = "/tmp/hfs-util-XXXXXX";
    tap_ok(mkdtemp(dir) != NULL, "temp dir");
    char *deep = hfs_sprintf("%s/a/b/c", dir);
    tap_is_int(hfs_mkdir_p(deep), 0, "mkdir -p creates parents");
    tap_is_int(hfs_mkdir_p(deep), 0, "mkdir -p accepts an existing dir");
    char *file = hfs_path_join(deep, "f.txt");
    tap_is_int(hfs_write_file_atomic(file, "hello", 5, 0644), 0, "atomic write");
    char *data = NULL;
    size_t len = 0;
    tap_is_int(hfs_read_file(&data, &len, file, 100), 0, "read back");
    tap_is_str(data, "hello", "same content");
    free(data);
    tap_ok(hfs_read_file(&data, &len, file, 3) == HFS_ELIMIT, "size limit enforced");
    tap_ok(hfs_read_file(&data, &len, "/nonexistent/x", 3) == HFS_ENOTFOUND, "missing file");
    unlink(file);

    /* hfs_write_all: 3 MiB through a pipe, whose writes are short (64 KiB at a time) */
    int fds[2];
    tap_ok(pipe(fds) == 0, "a pipe");
    size_t big = 3u << 20;
    char *out = malloc(big), *in = malloc(big);
    for (size_t i = 0; i < big; i++)
        out[i] = (char)(i * 7 + 1);
    pid_t reader = fork();
    if (reader == 0) {
        close(fds[1]);
        size_t got = 0;
        ssize_t n;
        while (got < big && (n = read(fds[0], in + got, big - got)) > 0)
            got += (size_t)n;
        _exit(got == big && memcmp(in, out, big) == 0 ? 0 : 1);
    }
    close(fds[0]);
    tap_is_int(hfs_write_all(fds[1], out, big), 0, "write_all writes past short writes");
    close(fds[1]);
    int status = -1;
    waitpid(reader, &status, 0);
    tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "... every byte, in order");
    tap_ok(hfs_write_all(-1, "x", 1) == -1 && errno == EBADF, "a failed write: -1, errno set");
    free(out);
    free(in);
    free(file);
    free(deep);
    char *cmd = hfs_sprintf("rm -rf %s", dir);
    tap_is_int(system(cmd), 0, "cleanup");
    free(cmd);
}

int main(void)
{
    test_buf();
    test_paths();
    test_human_size();
    test_utf8();
    test_files();
    return tap_done();
}
