/* Tests for src/hub/download.c: the resolve HEAD (regular file, LFS file redirected to a
 * CDN, renamed repo) and streamed downloads into a file, with awkward paths and revisions. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hubtest.h"

static const char *const auth[] = {AUTH_HEADER, NULL};
static const char *const no_auth[] = {"Authorization", NULL};
static const hfs_hub_repo model = {HFS_REPO_MODEL, "alice/x"};

#define OID(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define SHA(c) OID(c) c c c c c c c c c c c c c c c c c c c c c c c c

static void test_head(fakehub *fh, fakehub *cdn, hfs_hub *hub)
{
    hfs_hub_file_meta meta;
    const char *const regular[] = {"X-Repo-Commit: " OID("5"), "ETag: \"" OID("7") "\"", NULL};
    fakehub_expect(fh, &(fh_exchange){"HEAD", "/alice/x/resolve/main/small.txt", auth, NULL, NULL,
                                      200, regular, "hello from python\n"});
    tap_is_int(hfs_hub_file_head(&meta, hub, &model, NULL, "small.txt"), 0, "HEAD a regular file");
    tap_is_str(meta.commit, OID("5"), "X-Repo-Commit");
    tap_is_str(meta.etag, OID("7"), "ETag without quotes: the blob sha1");
    tap_is_int(meta.size, 18, "size from Content-Length");
    tap_ok(meta.location == NULL, "served by the hub itself");
    hfs_hub_file_meta_clear(&meta);
    fh_check(fh, "HEAD regular file");

    char *loc = hfs_sprintf("Location: %s/lfs-files/%s", fakehub_url(cdn), SHA("c"));
    const char *const lfs[] = {"X-Repo-Commit: " OID("5"),
                               "ETag: W/\"" OID("8") "\"",
                               "X-Linked-Etag: \"" SHA("c") "\"",
                               "X-Linked-Size: 12582912",
                               loc,
                               NULL};
    fakehub_expect(
        fh, &(fh_exchange){"HEAD", "/datasets/alice/d/resolve/refs%2Fpr%2F2/data/big%20%23one.bin",
                           auth, NULL, NULL, 302, lfs, ""});
    hfs_hub_repo ds = {HFS_REPO_DATASET, "alice/d"};
    tap_is_int(hfs_hub_file_head(&meta, hub, &ds, "refs/pr/2", "data/big #one.bin"), 0,
               "HEAD an LFS file that redirects to the CDN");
    tap_is_str(meta.etag, SHA("c"), "X-Linked-Etag wins: the sha256");
    tap_is_int(meta.size, 12582912, "X-Linked-Size");
    tap_is_str(meta.location, loc + strlen("Location: "), "where the content lives");
    hfs_hub_file_meta_clear(&meta);
    fh_check(fh, "HEAD LFS file: revision one segment, path quoted keeping /, the CDN not asked");
    fh_check(cdn, "HEAD LFS file: nothing sent to the CDN");
    free(loc);

    const char *const moved[] = {"Location: /alice/renamed/resolve/main/a.txt", NULL};
    fakehub_expect(fh, &(fh_exchange){"HEAD", "/alice/x/resolve/main/a.txt", auth, NULL, NULL, 307,
                                      moved, ""});
    fakehub_expect(fh, &(fh_exchange){"HEAD", "/alice/renamed/resolve/main/a.txt", auth, NULL, NULL,
                                      200,
                                      (const char *const[]){"X-Repo-Commit: " OID("9"),
                                                            "ETag: \"" OID("1") "\"", NULL},
                                      "abc"});
    tap_is_int(hfs_hub_file_head(&meta, hub, &model, "main", "a.txt"), 0,
               "HEAD through a renamed repo");
    tap_is_str(meta.commit, OID("9"), "the answer of the new place");
    hfs_hub_file_meta_clear(&meta);
    fh_check(fh, "HEAD follows redirects within the hub");

    fakehub_expect(fh,
                   &(fh_exchange){"HEAD", "/alice/x/resolve/main/none.txt", auth, NULL, NULL, 404,
                                  (const char *const[]){"X-Error-Code: EntryNotFound", NULL}, ""});
    tap_is_int(hfs_hub_file_head(&meta, hub, &model, NULL, "none.txt"), HFS_ENOTFOUND,
               "HEAD a missing file");
    error_has("cannot look up none.txt in model alice/x at main: no such file",
              "the message names the file");
    hfs_hub_file_meta_clear(&meta);
    fh_check(fh, "HEAD missing file");
}

static char *read_back(int fd)
{
    char buf[256];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    return hfs_strdup(buf);
}

static void test_download(fakehub *fh, fakehub *cdn, hfs_hub *hub)
{
    char path[] = "/tmp/hfsync-test-download-XXXXXX";
    int fd = mkstemp(path);

    char *loc = hfs_sprintf("Location: %s/lfs-files/blob?X-Amz-Signature=s", fakehub_url(cdn));
    const char *const redirect[] = {loc, NULL};
    fakehub_expect(fh, &(fh_exchange){"GET", "/spaces/alice/s/resolve/main/%C3%BC/a%2Bb.bin", auth,
                                      NULL, NULL, 302, redirect, ""});
    fakehub_expect(cdn, &(fh_exchange){"GET", "/lfs-files/blob?X-Amz-Signature=s", NULL, no_auth,
                                       NULL, 200, NULL, "binary content"});
    hfs_hub_repo sp = {HFS_REPO_SPACE, "alice/s"};
    tap_is_int(hfs_hub_download_fd(hub, &sp, "main", "\xc3\xbc/a+b.bin", fd, UINT64_MAX), 0,
               "download through the CDN");
    char *got = read_back(fd);
    tap_is_str(got, "binary content", "the content lands in the file");
    free(got);
    fh_check(fh, "download: first hop with the token");
    fh_check(cdn, "download: the CDN gets no token");
    free(loc);

    /* 503 then 200: the file holds the content once. */
    if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0)
        tap_diag("cannot reset %s", path);
    fakehub_expect(fh, &(fh_exchange){"GET", "/alice/x/resolve/v1.0/a.txt", auth, NULL, NULL, 503,
                                      NULL, "busy"});
    fakehub_expect(fh, &(fh_exchange){"GET", "/alice/x/resolve/v1.0/a.txt", auth, NULL, NULL, 200,
                                      NULL, "abc"});
    tap_is_int(hfs_hub_download_fd(hub, &model, "v1.0", "a.txt", fd, 3), 0,
               "download retried after 503");
    got = read_back(fd);
    tap_is_str(got, "abc", "an error page never lands in the file");
    free(got);
    fh_check(fh, "download retry");

    /* A hub sending more than the file can hold is stopped there (bounded disk use). */
    if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0)
        tap_diag("cannot reset %s", path);
    fakehub_expect(fh, &(fh_exchange){"GET", "/alice/x/resolve/v1.0/b.txt", auth, NULL, NULL, 200,
                                      NULL, "far more than expected"});
    tap_is_int(hfs_hub_download_fd(hub, &model, "v1.0", "b.txt", fd, 4), HFS_ELIMIT,
               "a download longer than its expected size is stopped");
    tap_ok(strstr(hfs_error_last(), "more than the 4 bytes b.txt can hold") != NULL,
           "... saying so (%s)", hfs_error_last());
    struct stat st;
    tap_ok(fstat(fd, &st) == 0 && st.st_size <= 4, "... with at most that much written");
    fh_check(fh, "download over its size");

    close(fd);
    unlink(path);
}

static int refuse(void *ctx, const void *data, size_t len)
{
    (void)ctx;
    (void)data;
    (void)len;
    return hfs_error_set(HFS_ERROR, "disk full while saving a.txt");
}

static void test_sink_error(fakehub *fh, hfs_hub *hub)
{
    fakehub_expect(fh, &(fh_exchange){"GET", "/alice/x/resolve/main/a.txt", auth, NULL, NULL, 200,
                                      NULL, "abc"});
    tap_is_int(hfs_hub_download(hub, &model, NULL, "a.txt", refuse, NULL, NULL), HFS_ERROR,
               "a failing writer stops the download");
    error_has("disk full while saving a.txt", "with the writer's own message");
    fh_check(fh, "writer error: no retry");
}

int main(void)
{
    fakehub *fh = fakehub_start(), *cdn = fakehub_start();
    hfs_hub *hub = test_hub(fakehub_url(fh), TEST_TOKEN, NULL, NULL);
    test_head(fh, cdn, hub);
    test_download(fh, cdn, hub);
    test_sink_error(fh, hub);
    hfs_hub_free(hub);
    fakehub_stop(fh);
    fakehub_stop(cdn);
    return tap_done();
}
