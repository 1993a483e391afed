/* Fuzz target: the RateLimit and Retry-After headers of a 429 or 503, as the hub client turns
 * them into a wait before the next attempt and into the message after the last one. The
 * input's first line is the RateLimit value, the second Retry-After, the third
 * RateLimit-Policy. */
#include <stdint.h>
#include <string.h>

#include "../fuzz.h"
#include "../fuzz_hub.h"

static void add_header(hub_response *r, const char *name, const char *value)
{
    char *line = hfs_sprintf("%s: %s\r\n", name, value);
    hub_response_header_line(r, line, strlen(line));
    free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    size_t n = 0;
    char **lines = fuzz_lines(text, &n);
    static const long statuses[] = {429, 503};

    for (size_t s = 0; s < 2; s++) {
        hub_response r;
        fuzz_response(&r, statuses[s], "", 0);
        add_header(&r, "RateLimit", lines[0]);
        if (n > 1)
            add_header(&r, "Retry-After", lines[1]);
        if (n > 2)
            add_header(&r, "RateLimit-Policy", lines[2]);
        long wait = hub_retry_wait_ms(&r, 1000);
        /* A wait is positive and bounded, however large the number the server sent. */
        if (wait <= 0 || wait > 3601 * 1000L)
            abort();
        hub_request req = {.what = "read the fuzz input",
                           .method = "GET",
                           .url = FUZZ_ENDPOINT "/api/models/fuzz/repo",
                           .auth = true,
                           .retry = true};
        if (hub_fail_response(fuzz_hub(), &req, "GET", &r, 6, false) >= 0)
            abort();
        hub_response_clear(&r);
    }
    free(lines);
    free(text);
    return 0;
}
