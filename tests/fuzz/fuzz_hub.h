/* The hub client session of the response-parser targets: one per process, on a loopback
 * endpoint that is never contacted (the parsers only name it in their messages and rewrite
 * https://huggingface.co links to it), with no token so no token file is read. */
#ifndef HFS_FUZZ_HUB_H
#define HFS_FUZZ_HUB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "hub/request.h"

#define FUZZ_ENDPOINT "http://127.0.0.1:9"

static hfs_hub *fuzz_hub_session;

static void fuzz_hub_free(void)
{
    hfs_hub_free(fuzz_hub_session);
    fuzz_hub_session = NULL;
}

static inline hfs_hub *fuzz_hub(void)
{
    if (!fuzz_hub_session) {
        hfs_hub_options opts = HFS_HUB_OPTIONS_INIT;
        opts.endpoint = FUZZ_ENDPOINT;
        opts.token = "";
        if (hfs_hub_new(&fuzz_hub_session, &opts) < 0) {
            fprintf(stderr, "fuzz: cannot open a hub session: %s\n", hfs_error_last());
            abort();
        }
        atexit(fuzz_hub_free);
    }
    return fuzz_hub_session;
}

/* A response as hub_send leaves it: status, headers (raw lines), body. Clear it with
 * hub_response_clear. */
static inline void fuzz_response(hub_response *r, long status, const void *body, size_t len)
{
    memset(r, 0, sizeof(*r));
    r->status = status;
    hfs_buf_add(&r->body, body, len);
}

#endif
