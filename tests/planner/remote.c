/* Tests for src/planner/remote.c (in memory): the snapshot sorts bytewise, finds paths (one
 * at a time, or in a sorted pass with a hint), refuses bad oids and repeated paths, and
 * compares content by the right hash per mode. */
#include "common/error.h"
#include "corefixture.h"
#include "planner/remote.h"
#include "tap.h"

int main(void)
{
    hfs_remote_snapshot *r = hfs_remote_snapshot_new(TEST_HEAD);
    tap_ok(r->exists && strcmp(r->head, TEST_HEAD) == 0, "a snapshot of an existing repo");
    /* The hub lists in git tree order: "a/" sorts after "a.txt" there as here, but "a-b"
     * comes before "a" + '/' in bytewise order too; the snapshot re-sorts bytewise. */
    remote_add(r, "b/x", "bx", false);
    remote_add(r, "a/y", "ay", false);
    remote_add(r, "a.txt", "at", false);
    remote_add(r, "a-b", "ab", true);
    tap_is_int(hfs_remote_snapshot_finish(r), 0, "finish");
    tap_ok(strcmp(r->entries[0].path, "a-b") == 0 && strcmp(r->entries[1].path, "a.txt") == 0 &&
               strcmp(r->entries[2].path, "a/y") == 0 && strcmp(r->entries[3].path, "b/x") == 0,
           "entries sorted bytewise");
    const hfs_remote_entry *e = hfs_remote_snapshot_find(r, "a/y");
    tap_ok(e && e->size == 2 && !e->is_lfs, "find a regular file");
    tap_ok(hfs_remote_snapshot_find(r, "a") == NULL, "a folder is not a file");

    char sha1[HFS_SHA1_HEX], sha256[HFS_SHA256_HEX], hex[HFS_SHA256_HEX];
    hfs_git_blob_sha1_hex(sha1, "ay", 2);
    hfs_sha256_hex(sha256, "ay", 2);
    tap_ok(hfs_remote_entry_same_sha1(e, sha1) && !hfs_remote_entry_same_sha256(e, sha256),
           "a regular file is compared by git blob sha1");
    hfs_remote_entry_oid_hex(e, hex);
    tap_is_str(hex, sha1, "oid back to hex");
    const hfs_remote_entry *lfs = hfs_remote_snapshot_find(r, "a-b");
    hfs_sha256_hex(sha256, "ab", 2);
    hfs_git_blob_sha1_hex(sha1, "ab", 2);
    tap_ok(lfs && lfs->is_lfs && hfs_remote_entry_same_sha256(lfs, sha256) &&
               !hfs_remote_entry_same_sha1(lfs, sha1),
           "an LFS file is compared by sha256 (its oid is the pointer's)");
    hfs_remote_entry_sha256_hex(lfs, hex);
    tap_is_str(hex, sha256, "sha256 back to hex");
    tap_ok(!hfs_remote_entry_same_sha1(e, NULL) && !hfs_remote_entry_same_sha256(lfs, ""),
           "no hash never matches");

    tap_is_int(hfs_remote_snapshot_add(r, "bad", "xyz", 1, NULL), HFS_EINVALID,
               "an oid that is not 40 hex is refused");
    tap_ok(strstr(hfs_error_last(), "bad") != NULL, "naming the path");
    tap_is_int(hfs_remote_snapshot_add(r, "bad", sha1, 1, "00"), HFS_EINVALID,
               "an LFS oid that is not 64 hex is refused");
    tap_is_int(
        hfs_remote_snapshot_add(r, "A.TXT", "0123456789ABCDEF0123456789ABCDEF01234567", 1, NULL), 0,
        "upper-case hex is read too");
    remote_add(r, "a.txt", "again", false);
    tap_is_int(hfs_remote_snapshot_finish(r), HFS_ERROR, "a path listed twice is an error");
    tap_ok(strstr(hfs_error_last(), "a.txt") != NULL, "naming it");
    hfs_remote_snapshot_free(r);

    r = hfs_remote_snapshot_new(NULL);
    tap_ok(!r->exists && r->head[0] == '\0' && hfs_remote_snapshot_finish(r) == 0 &&
               hfs_remote_snapshot_find(r, "x") == NULL,
           "a missing repo: an empty snapshot");
    hfs_remote_snapshot_free(r);
    hfs_remote_snapshot_free(NULL);

    /* Many paths: they live in blocks, not one allocation each, and stay put. */
    r = hfs_remote_snapshot_new(TEST_HEAD);
    char path[64];
    for (int i = 0; i < 50000; i++) {
        snprintf(path, sizeof(path), "dir%03d/file-%06d.bin", i % 997, i);
        remote_add(r, path, path, i % 2 == 0);
    }
    tap_is_int(hfs_remote_snapshot_finish(r), 0, "50,000 entries");
    snprintf(path, sizeof(path), "dir%03d/file-%06d.bin", 12345 % 997, 12345);
    e = hfs_remote_snapshot_find(r, path);
    tap_ok(e && strcmp(e->path, path) == 0 && !e->is_lfs, "found among 50,000");
    tap_ok(sizeof(hfs_remote_entry) <= 80, "an entry is compact (%zu bytes)",
           sizeof(hfs_remote_entry));

    /* A pass in sorted order with a hint finds what find finds, in any mix of present and
     * absent paths, and stays right when the order is broken. */
    size_t hint = 0, found = 0, agree = 0, asked = 0;
    for (size_t k = 0; k < r->count; k += 2) { /* every other entry, and a path after each */
        char missing[80];
        snprintf(missing, sizeof(missing), "%s~", r->entries[k].path);
        const hfs_remote_entry *a = hfs_remote_snapshot_seek(r, &hint, r->entries[k].path);
        const hfs_remote_entry *b = hfs_remote_snapshot_seek(r, &hint, missing);
        asked += 2;
        found += a != NULL;
        agree += (a == &r->entries[k]) + (b == hfs_remote_snapshot_find(r, missing));
    }
    tap_ok(found == (r->count + 1) / 2 && agree == asked,
           "a sorted pass with a hint finds every other entry and none of the absent paths");
    hint = 0;
    agree = 0;
    const char *order[] = {"dir500/file-000500.bin", "dir001/file-000001.bin", "zzz", "",
                           "dir996/file-000996.bin", "dir000/file-000000.bin"};
    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
        agree +=
            hfs_remote_snapshot_seek(r, &hint, order[k]) == hfs_remote_snapshot_find(r, order[k]);
    tap_is_int((int)agree, 6, "out of order, the hint only costs time");
    hint = r->count + 10;
    tap_ok(hfs_remote_snapshot_seek(r, &hint, r->entries[0].path) == &r->entries[0],
           "a hint past the end is no harm");
    hfs_remote_snapshot_free(r);

    r = hfs_remote_snapshot_new(TEST_HEAD);
    hint = 0;
    tap_ok(hfs_remote_snapshot_seek(r, &hint, "a") == NULL && hint == 0,
           "an empty snapshot: nothing found");
    hfs_remote_snapshot_free(r);

    /* hex decoding: exact length, both cases, nothing else */
    unsigned char bytes[4];
    tap_ok(hfs_remote_hex_decode(bytes, 4, "0aFf10c9") && bytes[0] == 0x0a && bytes[1] == 0xff &&
               bytes[2] == 0x10 && bytes[3] == 0xc9,
           "hex decodes in either case");
    tap_ok(!hfs_remote_hex_decode(bytes, 4, "0aff10c") &&
               !hfs_remote_hex_decode(bytes, 4, "0aff10c9a") &&
               !hfs_remote_hex_decode(bytes, 4, "0aff10g9") &&
               !hfs_remote_hex_decode(bytes, 4, "") && !hfs_remote_hex_decode(bytes, 4, NULL),
           "short, long, non-hex and missing hex are refused");
    return tap_done();
}
