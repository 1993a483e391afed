/* Streaming hashes through OpenSSL EVP: SHA-256 (LFS oids), the git blob SHA-1
 * ("blob <size>\0" + content) and the send check, fed in fixed-size chunks so no file is
 * read whole. */
#ifndef HFS_HASH_H
#define HFS_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HFS_SHA256_HEX 65 /* 64 hex digits + NUL */
#define HFS_SHA1_HEX 41
#define HFS_CHECK_HEX 33 /* 32 hex digits + NUL */

/* Which hashes a file needs or has: the git blob SHA-1 (regular files), the SHA-256 (LFS
 * files), the send check (taken with the SHA-256; see hfs_hasher_add_check). */
enum {
    HFS_HASH_SHA1 = 1,
    HFS_HASH_SHA256 = 2,
    HFS_HASH_BOTH = HFS_HASH_SHA1 | HFS_HASH_SHA256, /* the mode is not known yet */
    HFS_HASH_CHECK = 4,
};

typedef struct hfs_hasher hfs_hasher;

/* A hasher computing SHA-256 and/or the git blob SHA-1 of a `size`-byte content. */
hfs_hasher *hfs_hasher_new(bool sha256, bool git_sha1, uint64_t size);
void hfs_hasher_update(hfs_hasher *h, const void *data, size_t len);
/* Writes lowercase hex digests into the given buffers (either may be NULL). */
void hfs_hasher_final(hfs_hasher *h, char sha256_hex[HFS_SHA256_HEX], char sha1_hex[HFS_SHA1_HEX]);
void hfs_hasher_free(hfs_hasher *h);

/* The send check: Poly1305 under a fixed key that is no secret, a checksum that runs at
 * ~15 GB/s where SHA-256 runs at ~2 (SHA-NI). A plan takes it with a file's SHA-256, and an
 * upload takes it again as it sends the file, to tell that the bytes sent are the bytes the
 * pinned oid was hashed from without a second SHA-256 of them. It guards against a file that
 * changed (an accidental change collides with chance below 2^-70 for any file size here),
 * not against someone choosing bytes to collide: the hub checks the oid itself.
 * Call before the first update; false when this OpenSSL has no Poly1305 (FIPS), and then
 * hfs_hasher_check has nothing to give. */
bool hfs_hasher_add_check(hfs_hasher *h);
/* Writes the check in lowercase hex; false when the hasher does not take one. */
bool hfs_hasher_check(hfs_hasher *h, char check_hex[HFS_CHECK_HEX]);

/* One-shot helpers for in-memory data. */
void hfs_sha256_hex(char out[HFS_SHA256_HEX], const void *data, size_t len);
void hfs_git_blob_sha1_hex(char out[HFS_SHA1_HEX], const void *data, size_t len);

/* Hashes a file with one streaming read (fixed 1 MiB buffer). Either output may be NULL. */
int hfs_hash_file(const char *path, char sha256_hex[HFS_SHA256_HEX], char sha1_hex[HFS_SHA1_HEX],
                  uint64_t *size_out);

bool hfs_is_hex(const char *s, size_t len);

#endif
