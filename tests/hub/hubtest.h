/* Shared pieces of the hub client's tests: a session pointed at a fake hub whose waits are
 * recorded instead of slept, and the TAP check that the fake hub saw exactly its script. */
#ifndef HFS_TEST_HUBTEST_H
#define HFS_TEST_HUBTEST_H

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/util.h"
#include "fakehub.h"
#include "hub/hub.h"
#include "tap.h"

#define TEST_TOKEN "hf_testtoken0123456789"
#define AUTH_HEADER "Authorization: Bearer " TEST_TOKEN

/* The waits the client asked for, in order, instead of sleeping through them. */
typedef struct {
    long ms[64];
    int n;
} sleep_log;

static inline void record_sleep(void *ctx, long ms)
{
    sleep_log *s = ctx;
    if (s->n < (int)HFS_ARRAY_LEN(s->ms))
        s->ms[s->n++] = ms;
}

/* Log lines (verbose output, retry notices) gathered for assertions. */
static inline void record_log(void *ctx, const char *line)
{
    hfs_buf *b = ctx;
    hfs_buf_puts(b, line);
    hfs_buf_putc(b, '\n');
}

static inline void drop_log(void *ctx, const char *line)
{
    (void)ctx;
    (void)line;
}

/* A session for `endpoint` with `token` ("" = none) and the default retry policy, whose
 * sleeps go to `sleeps` and log lines to `log` (either may be NULL: then dropped). */
static inline hfs_hub *test_hub(const char *endpoint, const char *token, sleep_log *sleeps,
                                hfs_buf *log)
{
    static sleep_log ignored_sleeps;
    hfs_hub_options o = HFS_HUB_OPTIONS_INIT;
    hfs_hub *hub = NULL;
    o.endpoint = endpoint;
    o.token = token;
    o.sleep_ms = record_sleep;
    o.sleep_ctx = sleeps ? sleeps : &ignored_sleeps;
    o.log = log ? record_log : drop_log;
    o.log_ctx = log;
    if (hfs_hub_new(&hub, &o) != 0) {
        printf("Bail out! cannot open a hub session: %s\n", hfs_error_last());
        exit(1);
    }
    return hub;
}

/* One TAP line: the fake hub received exactly the scripted requests. */
static inline bool fh_check(fakehub *fh, const char *name)
{
    char *problems = NULL;
    bool ok = fakehub_verify(fh, &problems);
    if (!tap_ok(ok, "%s: the client sent exactly the scripted requests", name)) {
        for (char *line = strtok(problems, "\n"); line; line = strtok(NULL, "\n"))
            tap_diag("  %s", line);
    }
    free(problems);
    return ok;
}

/* Forgets what the fake hub saw, for cases where the exchange is not deterministic
 * (a body that fails mid-send may or may not reach the server). */
static inline void fh_forget(fakehub *fh)
{
    char *problems = NULL;
    fakehub_verify(fh, &problems);
    free(problems);
}

/* One TAP line: the last error contains `want`. */
static inline bool error_has(const char *want, const char *name)
{
    const char *msg = hfs_error_last();
    bool ok = strstr(msg, want) != NULL;
    if (!tap_ok(ok, "%s", name)) {
        tap_diag("  error: %s", msg);
        tap_diag("  lacks: %s", want);
    }
    return ok;
}

#endif
