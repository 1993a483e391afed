/* Tests for src/common/hash.c against known digests (git hash-object, sha256sum, and
 * `openssl mac -macopt hexkey:<the check's key> POLY1305` for the send check). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/hash.h"
#include "common/util.h"
#include "tap.h"

int main(void)
{
    char sha256[HFS_SHA256_HEX], sha1[HFS_SHA1_HEX];
    hfs_sha256_hex(sha256, "", 0);
    tap_is_str(sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
               "sha256 of empty");
    hfs_git_blob_sha1_hex(sha1, "", 0);
    tap_is_str(sha1, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391", "git blob sha1 of empty");
    hfs_git_blob_sha1_hex(sha1, "hello\n", 6);
    tap_is_str(sha1, "ce013625030ba8dba906f756967f9e9ca394464a", "git blob sha1 of hello\\n");

    /* The send check, under its fixed key: these values are what hash caches hold, so a
     * change here must come with a new cache version. */
    char check[HFS_CHECK_HEX];
    hfs_hasher *h = hfs_hasher_new(false, false, 0);
    tap_ok(hfs_hasher_add_check(h), "the send check is available");
    tap_ok(hfs_hasher_check(h, check) && strcmp(check, "de85d2a465783c3d4890986e7ba53f27") == 0,
           "send check of empty: %s", check);
    hfs_hasher_free(h);
    h = hfs_hasher_new(true, true, 6);
    tap_ok(hfs_hasher_add_check(h), "... taken beside the sha256 and the git sha1");
    hfs_hasher_update(h, "hel", 3);
    hfs_hasher_update(h, "lo\n", 3);
    hfs_hasher_final(h, sha256, sha1);
    tap_ok(hfs_hasher_check(h, check) && strcmp(check, "4e9754f78694a24bb86ce264057726ab") == 0,
           "send check of hello\\n, fed in two pieces: %s", check);
    tap_is_str(sha1, "ce013625030ba8dba906f756967f9e9ca394464a", "... the git sha1 beside it");
    hfs_hasher_free(h);
    h = hfs_hasher_new(true, false, 0);
    tap_ok(!hfs_hasher_check(h, check), "a hasher not asked for the check has none");
    hfs_hasher_free(h);

    /* A file larger than one read chunk, hashed in one pass, matches the one-shot hashes. */
    size_t n = (3u << 20) + 17;
    char *data = hfs_malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i * 31 + 7);
    char path[] = "/tmp/hfs-hash-XXXXXX";
    int fd = mkstemp(path);
    tap_ok(fd >= 0 && write(fd, data, n) == (ssize_t)n, "write test file");
    close(fd);
    char want256[HFS_SHA256_HEX], want1[HFS_SHA1_HEX];
    hfs_sha256_hex(want256, data, n);
    hfs_git_blob_sha1_hex(want1, data, n);
    uint64_t size = 0;
    tap_is_int(hfs_hash_file(path, sha256, sha1, &size), 0, "hash_file");
    tap_is_str(sha256, want256, "streamed sha256 equals one-shot");
    tap_is_str(sha1, want1, "streamed git sha1 equals one-shot");
    tap_is_int((long long)size, (long long)n, "size reported");
    tap_ok(hfs_is_hex(sha256, 64) && !hfs_is_hex("xyz", 3), "is_hex");
    unlink(path);
    free(data);
    return tap_done();
}
