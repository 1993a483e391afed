/* The parallel LFS upload engine of the hub client: every object's basic PUT or multipart
 * parts, completion and verify, many at once through one libcurl multi handle.
 *
 * How an object travels
 * - Bodies are read from disk with pread into libcurl's fixed upload buffer: a 5 GiB file is
 *   never in memory. A part is read from its own offset; a retry resends that PUT or part
 *   from its first byte. PUTs and the multipart completion carry no Authorization header
 *   (their URLs hold their own credentials, and may be on another host); verify gets the
 *   token only when its href is on the endpoint's origin. Redirects are followed hop by hop.
 * - Items start biggest first (a multipart object's completion then overlaps the small
 *   PUTs instead of trailing them), each object's parts in file order, `jobs` requests at a
 *   time; a verify or completion that is due goes before the next part.
 * - Hashed as sent: the SHA-256 is computed in file order, from the very buffers handed to
 *   libcurl whenever a read continues where the hash stands. Parts sent out of order are
 *   read again, from the page cache, once every byte before them is hashed; as the bytes
 *   sent and the bytes hashed could then differ only if the file was written in between, the
 *   file's identity (size, mtime, ctime, inode) is checked again after every last byte read
 *   (retries included). A basic PUT is judged before its last bytes go out, so a changed
 *   file aborts it and the object never lands; a multipart object is judged before its
 *   completion POST.
 * - Retries follow the hub client's policy (408, 429, 5xx and network errors; backoff from
 *   retry_base_ms doubling to retry_max_ms; RateLimit and Retry-After honoured). A wait
 *   never blocks the other transfers: the request is rescheduled. (A session with a
 *   sleep_ms hook, as in tests, has the hook called with the wait and retries at once.) */
#ifndef HFS_HUB_TRANSFER_H
#define HFS_HUB_TRANSFER_H

#include <stddef.h>
#include <stdint.h>

#include "hub/hub.h"

typedef struct {
    const char *local_path; /* the file to send */
    uint64_t size;          /* pinned size */
    /* Pinned sha256 hex: the content is hashed as it is sent; a mismatch (the file changed)
     * fails this item with HFS_ESTALE naming the file. */
    const char *sha256;
    /* From hfs_hub_lfs_batch: BASIC or MULTIPART. (PRESENT needs nothing and succeeds;
     * ERROR fails the item with the hub's message.) */
    const hfs_hub_lfs_action *action;
} hfs_lfs_upload_item;

typedef struct {
    uint64_t bytes_done, bytes_total; /* over all items, this call; a resent byte counts once */
    size_t items_done, items_total;   /* items finished, successfully or not */
} hfs_lfs_upload_progress;

typedef struct {
    int version;
    unsigned jobs; /* concurrent transfers (parts count individually); 0: 8 */
    /* Called from the calling thread, at most ~10 times a second, and once at the end. */
    void (*progress)(void *ctx, const hfs_lfs_upload_progress *p);
    void *progress_ctx;
    volatile int *cancel; /* non-NULL and set → stop soon: HFS_ERROR "interrupted" */
} hfs_lfs_upload_options;

#define HFS_LFS_UPLOAD_OPTIONS_VERSION 1
#define HFS_LFS_UPLOAD_OPTIONS_INIT                                                                \
    {                                                                                              \
        HFS_LFS_UPLOAD_OPTIONS_VERSION, 8, NULL, NULL, NULL                                        \
    }

/* Uploads every item (basic PUT or multipart parts + completion POST; verify when offered),
 * in parallel through one curl multi handle, retrying each request per the hub client's
 * policy. results[i] (results may be NULL) gets 0 or a negative hfs error code for item i,
 * and the call returns 0 only when every item succeeded, else the first error, with
 * hfs_error_last() naming the file. An item whose file changed (HFS_ESTALE) does not stop
 * the others; any other failure stops the call: transfers in flight are abandoned and the
 * items not finished get HFS_ERROR. opts may be NULL (defaults). */
int hfs_lfs_upload_all(int *results, hfs_hub *hub, const hfs_lfs_upload_item *items, size_t n,
                       const hfs_lfs_upload_options *opts);

#endif
