/* Streaming hashes through OpenSSL EVP: SHA-256 (LFS oids) and the git blob SHA-1
 * ("blob <size>\0" + content), fed in fixed-size chunks so no file is read whole. */
#ifndef HFS_HASH_H
#define HFS_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HFS_SHA256_HEX 65 /* 64 hex digits + NUL */
#define HFS_SHA1_HEX 41

typedef struct hfs_hasher hfs_hasher;

/* A hasher computing SHA-256 and/or the git blob SHA-1 of a `size`-byte content. */
hfs_hasher *hfs_hasher_new(bool sha256, bool git_sha1, uint64_t size);
void hfs_hasher_update(hfs_hasher *h, const void *data, size_t len);
/* Writes lowercase hex digests into the given buffers (either may be NULL). */
void hfs_hasher_final(hfs_hasher *h, char sha256_hex[HFS_SHA256_HEX], char sha1_hex[HFS_SHA1_HEX]);
void hfs_hasher_free(hfs_hasher *h);

/* One-shot helpers for in-memory data. */
void hfs_sha256_hex(char out[HFS_SHA256_HEX], const void *data, size_t len);
void hfs_git_blob_sha1_hex(char out[HFS_SHA1_HEX], const void *data, size_t len);

/* Hashes a file with one streaming read (fixed 1 MiB buffer). Either output may be NULL. */
int hfs_hash_file(const char *path, char sha256_hex[HFS_SHA256_HEX], char sha1_hex[HFS_SHA1_HEX],
                  uint64_t *size_out);

bool hfs_is_hex(const char *s, size_t len);

#endif
