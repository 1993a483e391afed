/* Deterministic fault injection for the local hub (`hfsync hub serve --fault SPEC`), used by
 * the reliability tests: drop a connection after N bytes of an LFS PUT, answer an error
 * status to the Nth request of an endpoint, 429 with Retry-After, a commit that lands but
 * answers 500, a slow response. */
#ifndef HUBD_FAULT_H
#define HUBD_FAULT_H

#include <stdbool.h>
#include <stdint.h>

/* The endpoint classes a fault can target. */
typedef enum {
    HUBD_EP_ANY,
    HUBD_EP_WHOAMI,
    HUBD_EP_REPO_CREATE,
    HUBD_EP_REPO_INFO,
    HUBD_EP_TREE,
    HUBD_EP_PATHS_INFO,
    HUBD_EP_PREUPLOAD,
    HUBD_EP_LFS_BATCH,
    HUBD_EP_LFS_PUT,       /* basic PUT of a whole object */
    HUBD_EP_LFS_PART,      /* PUT of one multipart part */
    HUBD_EP_LFS_COMPLETE,  /* multipart completion POST */
    HUBD_EP_LFS_VERIFY,
    HUBD_EP_COMMIT,
    HUBD_EP_RESOLVE,
    HUBD_EP_DISCUSSIONS,
    HUBD_EP_GIT,           /* git smart HTTP */
    HUBD_EP_OTHER,
    HUBD_EP_COUNT
} hubd_endpoint;

typedef enum {
    HUBD_FAULT_NONE,
    HUBD_FAULT_STATUS,       /* answer `status` (with Retry-After when set) instead of handling */
    HUBD_FAULT_DROP,         /* close the connection after `bytes` bytes of the request body */
    HUBD_FAULT_LAND_THEN_STATUS, /* handle the request (e.g. the commit lands), then answer `status` */
    HUBD_FAULT_DELAY,        /* sleep `delay_ms` before handling */
} hubd_fault_kind;

typedef struct {
    hubd_fault_kind kind;
    int status;
    int retry_after;  /* seconds, 0 = no header */
    uint64_t bytes;
    unsigned delay_ms;
} hubd_fault_action;

typedef struct hubd_faults hubd_faults;

/* Parses one or more specs separated by ';'. Grammar (documented in --help):
 *   ENDPOINT:status=CODE[,nth=N][,times=K][,retry_after=S]
 *   ENDPOINT:drop=BYTES[,nth=N][,times=K]
 *   ENDPOINT:land_then_status=CODE[,nth=N][,times=K]   (commit, create, lfs-put, lfs-complete, any)
 *   ENDPOINT:delay=MS[,nth=N][,times=K]
 * ENDPOINT is one of: any whoami create info tree paths-info preupload lfs-batch lfs-put
 * lfs-part lfs-complete lfs-verify commit resolve discussions git other. nth (default 1) is
 * the 1-based count of requests to that endpoint at which the fault first fires; times
 * (default 1) how many consecutive requests it affects, 0 meaning every one from nth on.
 * The first rule that matches a request wins. A bad spec → HFS_EINVALID with a message
 * quoting it. */
int hubd_faults_parse(hubd_faults **out, const char *spec);
/* Counts a request to `ep` and says what to do with it (thread-safe). */
hubd_fault_action hubd_faults_next(hubd_faults *faults, hubd_endpoint ep);
void hubd_faults_free(hubd_faults *faults);

#endif
