/* Streaming SHA-256, git blob SHA-1 and the send check (Poly1305) through OpenSSL EVP. */
#include "common/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"

struct hfs_hasher {
    EVP_MD_CTX *sha256;
    EVP_MD_CTX *sha1;
    EVP_MAC_CTX *check;
};

/* The send check's key: the SHA-256 of "hfsync send check, version 1". Changing it changes
 * every check, so checks kept in hash caches written before must not be trusted (the cache's
 * version says which key). */
static const unsigned char check_key[32] = {
    0xa4, 0xa3, 0x3e, 0x4d, 0x88, 0x27, 0xfa, 0x9a, 0x16, 0xc8, 0x21, 0x35, 0x78, 0x4d, 0x0c, 0x40,
    0xde, 0x85, 0xd2, 0xa4, 0x65, 0x78, 0x3c, 0x3d, 0x48, 0x90, 0x98, 0x6e, 0x7b, 0xa5, 0x3f, 0x27,
};

static pthread_once_t check_once = PTHREAD_ONCE_INIT;
static EVP_MAC *check_mac; /* NULL when this OpenSSL has no Poly1305 */

static void fetch_check_mac(void)
{
    check_mac = EVP_MAC_fetch(NULL, "POLY1305", NULL);
}

hfs_hasher *hfs_hasher_new(bool sha256, bool git_sha1, uint64_t size)
{
    hfs_hasher *h = hfs_calloc(1, sizeof(*h));
    if (sha256) {
        h->sha256 = EVP_MD_CTX_new();
        EVP_DigestInit_ex(h->sha256, EVP_sha256(), NULL);
    }
    if (git_sha1) {
        char header[64];
        int n = snprintf(header, sizeof(header), "blob %" PRIu64, size);
        h->sha1 = EVP_MD_CTX_new();
        EVP_DigestInit_ex(h->sha1, EVP_sha1(), NULL);
        EVP_DigestUpdate(h->sha1, header, (size_t)n + 1); /* the NUL is part of the header */
    }
    return h;
}

bool hfs_hasher_add_check(hfs_hasher *h)
{
    pthread_once(&check_once, fetch_check_mac);
    if (!check_mac)
        return false;
    if (!h->check) {
        h->check = EVP_MAC_CTX_new(check_mac);
        if (!h->check || !EVP_MAC_init(h->check, check_key, sizeof(check_key), NULL)) {
            EVP_MAC_CTX_free(h->check);
            h->check = NULL;
            return false;
        }
    }
    return true;
}

void hfs_hasher_update(hfs_hasher *h, const void *data, size_t len)
{
    if (h->sha256)
        EVP_DigestUpdate(h->sha256, data, len);
    if (h->sha1)
        EVP_DigestUpdate(h->sha1, data, len);
    if (h->check)
        EVP_MAC_update(h->check, data, len);
}

static void to_hex(char *out, const unsigned char *md, unsigned len)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < len; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[2 * len] = '\0';
}

void hfs_hasher_final(hfs_hasher *h, char sha256_hex[HFS_SHA256_HEX], char sha1_hex[HFS_SHA1_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (h->sha256) {
        EVP_DigestFinal_ex(h->sha256, md, &len);
        if (sha256_hex)
            to_hex(sha256_hex, md, len);
    }
    if (h->sha1) {
        EVP_DigestFinal_ex(h->sha1, md, &len);
        if (sha1_hex)
            to_hex(sha1_hex, md, len);
    }
}

bool hfs_hasher_check(hfs_hasher *h, char check_hex[HFS_CHECK_HEX])
{
    unsigned char tag[16];
    size_t len = 0;
    if (!h->check || !EVP_MAC_final(h->check, tag, &len, sizeof(tag)) || len != sizeof(tag))
        return false;
    to_hex(check_hex, tag, sizeof(tag));
    return true;
}

void hfs_hasher_free(hfs_hasher *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->sha256);
    EVP_MD_CTX_free(h->sha1);
    EVP_MAC_CTX_free(h->check);
    free(h);
}

void hfs_sha256_hex(char out[HFS_SHA256_HEX], const void *data, size_t len)
{
    hfs_hasher *h = hfs_hasher_new(true, false, len);
    hfs_hasher_update(h, data, len);
    hfs_hasher_final(h, out, NULL);
    hfs_hasher_free(h);
}

void hfs_git_blob_sha1_hex(char out[HFS_SHA1_HEX], const void *data, size_t len)
{
    hfs_hasher *h = hfs_hasher_new(false, true, len);
    hfs_hasher_update(h, data, len);
    hfs_hasher_final(h, NULL, out);
    hfs_hasher_free(h);
}

int hfs_hash_file(const char *path, char sha256_hex[HFS_SHA256_HEX], char sha1_hex[HFS_SHA1_HEX],
                  uint64_t *size_out)
{
    enum { CHUNK = 1 << 20 };
    int rc = 0;
    struct stat st;
    char *buf = NULL;
    hfs_hasher *h = NULL;
    uint64_t seen = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hfs_error_set(errno == ENOENT ? HFS_ENOTFOUND : HFS_ERROR, "cannot open %s: %s",
                             path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot stat %s: %s", path, strerror(errno));
        goto done;
    }
    h = hfs_hasher_new(sha256_hex != NULL, sha1_hex != NULL, (uint64_t)st.st_size);
    buf = hfs_malloc(CHUNK);
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = hfs_error_set(HFS_ERROR, "cannot read %s: %s", path, strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        hfs_hasher_update(h, buf, (size_t)n);
        seen += (uint64_t)n;
    }
    if (seen != (uint64_t)st.st_size) {
        /* The git header carries the size, so a file that changed size mid-read hashes wrong. */
        rc = hfs_error_set(HFS_ESTALE, "%s changed while it was being hashed", path);
        goto done;
    }
    hfs_hasher_final(h, sha256_hex, sha1_hex);
    if (size_out)
        *size_out = seen;
done:
    hfs_hasher_free(h);
    free(buf);
    close(fd);
    return rc;
}

bool hfs_is_hex(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}
