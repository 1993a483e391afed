/* hfsync public API: the local hub (`hfsync hub serve`), a hub-compatible HTTP server on
 * loopback with git repositories and an LFS store under one root directory, and its tokens. */
#ifndef HFSYNC_HUBD_H
#define HFSYNC_HUBD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HFS_HUBD_DEFAULT_ROOT ".hfsync/hub"
#define HFS_HUBD_DEFAULT_LISTEN "127.0.0.1:8765"
/* Objects above this size get multipart upload actions unless the repo or --multipart-threshold
 * says otherwise: large enough that ordinary checkpoints use one PUT, small enough that the
 * multipart path is exercised well below S3's 5 GB single-PUT limit. */
#define HFS_HUBD_DEFAULT_MULTIPART_THRESHOLD (500ull * 1024 * 1024)

typedef struct {
    int version;
    const char *root;            /* NULL: HFS_HUBD_DEFAULT_ROOT */
    const char *listen;          /* "HOST:PORT"; port 0 picks a free one. NULL: the default */
    const char *port_file;       /* when set, the bound port is written there (atomically) */
    const char *const *tokens;   /* hf_… tokens added at start as write tokens for user "user",
                                    allowed in every namespace */
    size_t n_tokens;
    uint64_t multipart_threshold; /* 0: HFS_HUBD_DEFAULT_MULTIPART_THRESHOLD */
    const char *const *faults;   /* fault specs (see hfsync hub serve --help) */
    size_t n_faults;
    const char *access_log;      /* file to append the access log to; NULL or "-": stderr */
    unsigned threads;            /* worker threads; 0: 8 */
    /* Refuse (400) an Authorization header on signed upload URLs, as S3 does for
     * presigned URLs: proves a client never sends its token there. */
    bool strict_upload_auth;
    /* Seconds a connection may take to send a request's line and headers, however slowly
     * they trickle in (slow-loris); then it is closed. 0: 60. */
    unsigned header_timeout_s;
} hfs_hubd_options;

#define HFS_HUBD_OPTIONS_VERSION 1
#define HFS_HUBD_OPTIONS_INIT {HFS_HUBD_OPTIONS_VERSION, NULL, NULL, NULL, NULL, 0, 0, NULL, 0, NULL, 0, false, 0}

typedef struct hfs_hubd hfs_hubd;

/* Starts the hub in background threads; it serves until hfs_hubd_stop. */
int hfs_hubd_start(hfs_hubd **out, const hfs_hubd_options *opts);
/* The port it listens on (the real one when 0 was asked for). */
uint16_t hfs_hubd_port(const hfs_hubd *hub);
/* Its base URL, e.g. "http://127.0.0.1:8765" (owned by hub). */
const char *hfs_hubd_url(const hfs_hubd *hub);
/* Stops serving (in-flight requests finish) and frees everything; NULL is fine. */
void hfs_hubd_stop(hfs_hubd *hub);

/* Starts the hub, prints "hub listening on URL" to stdout, and serves until SIGINT or SIGTERM. */
int hfs_hubd_serve(const hfs_hubd_options *opts);

/* Creates a new hf_… token in ROOT/tokens.json for user `name`, role "read" or "write",
 * allowed in `namespaces` (none given: the user's own name; "*": every namespace).
 * A running hub picks it up on its next request. *out is the token (caller frees). */
int hfs_hubd_token_create(char **out, const char *root, const char *name, const char *role,
                          const char *const *namespaces, size_t n_namespaces);

#ifdef __cplusplus
}
#endif
#endif
