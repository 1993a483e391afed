/* A scripted fake hub for the hub client's tests (libmicrohttpd on 127.0.0.1, a test
 * helper, not part of libhfsync): it is loaded with the exact requests the client must
 * send and the canned answers to give, and it records everything it received. */
#ifndef HFS_TEST_FAKEHUB_H
#define HFS_TEST_FAKEHUB_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *method;
    const char *target;         /* path and query exactly as sent (percent-encoding kept) */
    const char *const *require; /* "Name: value" request headers that must be present, with
                                 * exactly that value; NULL-terminated, or NULL */
    const char *const *forbid;  /* header names that must be absent; NULL-terminated */
    const char *body;           /* the exact request body, or NULL to leave it unchecked */
    int status;                 /* 0: close the connection without answering */
    const char *const *headers; /* response headers "Name: value"; NULL-terminated */
    const char *response;       /* response body (NULL: empty) */
} fh_exchange;

typedef struct {
    char *method;
    char *target;
    char **headers; /* "Name: value" as received */
    size_t n_headers;
    char *body; /* NUL-terminated copy */
    size_t body_len;
} fh_request;

typedef struct fakehub fakehub;

/* Listens on 127.0.0.1, on a free port. Every answer says "Connection: close", so a dropped
 * connection in a script is always a fresh one (curl silently resends on reused ones). */
fakehub *fakehub_start(void);
void fakehub_stop(fakehub *fh);
/* "http://127.0.0.1:PORT" */
const char *fakehub_url(const fakehub *fh);

/* Appends exchanges to the script (everything is copied). Requests are matched in order. */
void fakehub_expect(fakehub *fh, const fh_exchange *x);
void fakehub_expect_all(fakehub *fh, const fh_exchange *x, size_t n);

/* How a scripted exchange is matched and paced, for clients that send in parallel. */
typedef struct {
    /* Matched by method and target against every exchange not yet used, instead of being
     * strictly next in line. */
    bool any_order;
    unsigned delay_ms;    /* wait this long before answering (keeps requests overlapping) */
    unsigned throttle_ms; /* wait this long after each piece of body received (slow reader) */
    size_t drop_after;    /* close the connection once this many body bytes came (0: never) */
} fh_pacing;

/* fakehub_expect with matching and pacing (pacing NULL: as fakehub_expect). */
void fakehub_expect_paced(fakehub *fh, const fh_exchange *x, const fh_pacing *pacing);

/* What was received since the last verify. */
size_t fakehub_count(const fakehub *fh);
const fh_request *fakehub_request(const fakehub *fh, size_t i);
const char *fh_request_header(const fh_request *r, const char *name);

/* The most requests that were in progress at the same time, since the last verify. */
size_t fakehub_max_concurrent(const fakehub *fh);

/* true when every scripted exchange arrived in order exactly as described and nothing
 * else came; else false and *problems (caller frees) lists each difference. Then the
 * script and the records are cleared for the next case. */
bool fakehub_verify(fakehub *fh, char **problems);

#endif
