/* Streaming SHA-256 and git blob SHA-1 through OpenSSL EVP. */
#include "common/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
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
};

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

void hfs_hasher_update(hfs_hasher *h, const void *data, size_t len)
{
    if (h->sha256)
        EVP_DigestUpdate(h->sha256, data, len);
    if (h->sha1)
        EVP_DigestUpdate(h->sha1, data, len);
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

void hfs_hasher_free(hfs_hasher *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->sha256);
    EVP_MD_CTX_free(h->sha1);
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
