/* Self-authenticating URLs for the local hub's LFS transfers: an HMAC-SHA256 over what a URL
 * allows (action, object, size, part, expiry) with a per-hub secret kept in ROOT/secret, so
 * upload, part, completion and download URLs need no Authorization header, like presigned S3. */
#ifndef HUBD_SIGN_H
#define HUBD_SIGN_H

#include <stdbool.h>
#include <stdint.h>

#define HUBD_SIG_HEX 65

typedef struct hubd_signer hubd_signer;

/* Loads ROOT/secret, creating it (32 random bytes, mode 0600) on first use, so URLs handed
 * out before a restart stay valid after it. */
int hubd_signer_open(hubd_signer **out, const char *root);
void hubd_signer_free(hubd_signer *signer);

/* The hex signature of one grant: `action` (e.g. "put", "part", "complete", "get"), the
 * object's oid and size, an action-specific number (part number, chunk size; 0 when none)
 * and the expiry (unix seconds). */
void hubd_sign(char out[HUBD_SIG_HEX], const hubd_signer *signer, const char *action,
               const char *oid, uint64_t size, uint64_t extra, int64_t expires);
/* Checks a signature from a URL (constant time) and that it has not expired. */
bool hubd_sign_check(const hubd_signer *signer, const char *sig, const char *action,
                     const char *oid, uint64_t size, uint64_t extra, int64_t expires);

#endif
