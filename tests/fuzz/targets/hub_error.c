/* Fuzz target: an error response as the hub client explains it — the status line and headers
 * (X-Error-Code, X-Error-Message, X-Request-Id, RateLimit, Retry-After) parsed line by line
 * as curl hands them over, then the body in any of the hub's error shapes. The input is a raw
 * HTTP response: header lines, an empty line, the body. */
#include <stdint.h>
#include <string.h>

#include "../fuzz_hub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    hub_response r;
    memset(&r, 0, sizeof(r));
    /* Header lines, each with its line ending, as curl's header callback receives them. */
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        size_t bare = len - (nl ? 1 : 0);
        if (bare > 0 && p[bare - 1] == '\r')
            bare--;
        if (bare == 0) {
            p += len;
            break;
        }
        hub_response_header_line(&r, p, len);
        p += len;
    }
    hfs_buf_add(&r.body, p, (size_t)(end - p));

    static const char *const urls[] = {
        FUZZ_ENDPOINT "/api/models/fuzz/repo/tree/main",
        FUZZ_ENDPOINT "/fuzz/repo/resolve/main/a.txt",
        "https://s3.example.com/bucket/object?X-Amz-Signature=secret",
    };
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        hub_request req = {.what = "read the fuzz input",
                           .method = "GET",
                           .url = urls[i],
                           .auth = i < 2,
                           .retry = true};
        int rc = hub_fail_response(fuzz_hub(), &req, "GET", &r, (int)i + 1, false);
        /* Every failure maps to an error code, with a message naming the request. */
        if (rc >= 0 || !strstr(hfs_error_last(), "read the fuzz input"))
            abort();
    }
    long wait = hub_retry_wait_ms(&r, 1000);
    if (wait < 0)
        abort();
    hub_response_clear(&r);
    return 0;
}
