/* Deterministic fault injection for the local hub (`hfsync hub serve --fault SPEC`), used by
 * the reliability tests: drop a connection after N bytes of an LFS PUT, answer an error
 * status to the Nth request of an endpoint, 429 with Retry-After, a commit that lands but
 * answers 500, a slow response, a full disk under the stores. */
#ifndef HUBD_FAULT_H
#define HUBD_FAULT_H

#include <stdbool.h>
#include <stddef.h>
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
    HUBD_FAULT_ENOSPC,       /* the disk takes `bytes` more bytes of this request, then is full */
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
 *   ENDPOINT:land_then_status=CODE[,nth=N][,times=K]   (commit, create, lfs-put, lfs-complete,
 *                                                       discussions, any)
 *   ENDPOINT:delay=MS[,nth=N][,times=K]
 *   ENDPOINT:enospc=BYTES[,nth=N][,times=K]   (lfs-put, lfs-part, commit, any)
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

/* ---- the full disk (enospc=BYTES) --------------------------------------------------- */

/* What the stores wrote for one request. A write of the LFS store or a blob write of a
 * commit asks hubd_disk_take() first, so an injected full disk fails the very write a real
 * one would, through the same error path; `full` then makes the hub answer 507. */
typedef struct {
    uint64_t left; /* bytes the disk still takes for this request; UINT64_MAX: no fault */
    bool full;     /* a write met the full disk (injected, or a real ENOSPC noted below) */
} hubd_disk;

/* The disk of a request: unlimited, or `fault`'s enospc budget. */
hubd_disk hubd_disk_for(const hubd_fault_action *fault);
/* Until hubd_disk_leave(), this thread's store writes count against `disk` (server.c
 * brackets a request's body sink and handler with these; they nest no deeper). */
void hubd_disk_enter(hubd_disk *disk);
void hubd_disk_leave(void);
/* How many of `len` bytes the disk takes now: all of them, or fewer once an enospc budget
 * runs out; then the caller writes those and fails as write(2) would, with ENOSPC. Outside
 * a request (no disk entered) always len. */
size_t hubd_disk_take(size_t len);
/* A real write failed with ENOSPC: the request's answer becomes 507 as for the fault. */
void hubd_disk_note_full(void);

#endif
