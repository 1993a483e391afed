/* HMAC-signed LFS transfer URLs (OpenSSL EVP_Q_mac) with a persistent per-hub secret. */
#include "hubd/sign.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"

#define SECRET_BYTES 32

struct hubd_signer {
    unsigned char secret[SECRET_BYTES];
};

int hubd_signer_open(hubd_signer **out, const char *root)
{
    int rc = 0;
    char *path = hfs_path_join(root, "secret");
    char *text = NULL;
    size_t len = 0;
    hubd_signer *s = hfs_calloc(1, sizeof(*s));
    *out = NULL;
    if ((rc = hfs_mkdir_p(root)) < 0)
        goto done;
    if (access(path, F_OK) == 0) {
        if ((rc = hfs_read_file(&text, &len, path, 4096)) < 0)
            goto done;
        if (len != SECRET_BYTES) {
            rc = hfs_error_set(HFS_EINVALID,
                               "%s holds %zu bytes, not the %d of a hub secret: delete it to "
                               "make a new one (URLs handed out before become invalid)",
                               path, len, SECRET_BYTES);
            goto done;
        }
        memcpy(s->secret, text, SECRET_BYTES);
    } else {
        if (RAND_bytes(s->secret, SECRET_BYTES) != 1) {
            rc = hfs_error_set(HFS_ERROR, "cannot make the hub secret: OpenSSL's random "
                                          "generator failed");
            goto done;
        }
        if ((rc = hfs_write_file_atomic(path, s->secret, SECRET_BYTES, 0600)) < 0)
            goto done;
    }
    *out = s;
    s = NULL;
done:
    if (text)
        OPENSSL_cleanse(text, len);
    free(text);
    free(path);
    hubd_signer_free(s);
    return rc;
}

void hubd_signer_free(hubd_signer *s)
{
    if (!s)
        return;
    OPENSSL_cleanse(s->secret, sizeof(s->secret));
    free(s);
}

void hubd_sign(char out[HUBD_SIG_HEX], const hubd_signer *s, const char *action, const char *oid,
               uint64_t size, uint64_t extra, int64_t expires)
{
    char msg[256];
    int n = snprintf(msg, sizeof(msg), "%s\n%s\n%llu\n%llu\n%lld", action, oid,
                     (unsigned long long)size, (unsigned long long)extra, (long long)expires);
    unsigned char mac[32];
    size_t mac_len = 0;
    if (n < 0 || (size_t)n >= sizeof(msg) ||
        !EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, s->secret, SECRET_BYTES,
                   (const unsigned char *)msg, (size_t)n, mac, sizeof(mac), &mac_len) ||
        mac_len != sizeof(mac)) {
        /* cannot sign: hand out a signature nothing will ever match */
        memset(out, '0', HUBD_SIG_HEX - 1);
        out[HUBD_SIG_HEX - 1] = '\0';
        return;
    }
    for (size_t i = 0; i < sizeof(mac); i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

bool hubd_sign_check(const hubd_signer *s, const char *sig, const char *action, const char *oid,
                     uint64_t size, uint64_t extra, int64_t expires)
{
    if (!sig || strlen(sig) != HUBD_SIG_HEX - 1)
        return false;
    if (expires < (int64_t)time(NULL))
        return false;
    char want[HUBD_SIG_HEX];
    hubd_sign(want, s, action, oid, size, extra, expires);
    if (strspn(want, "0") == HUBD_SIG_HEX - 1)
        return false;
    return CRYPTO_memcmp(want, sig, HUBD_SIG_HEX - 1) == 0;
}
