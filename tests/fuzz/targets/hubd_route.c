/* Fuzz target: the local hub's URL grammar — a raw request path split into endpoint, repo and
 * percent-decoded segments — and the checks the handlers then apply to those pieces. */
#include <stdint.h>
#include <string.h>

#include "../fuzz.h"
#include "hubd/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *raw = fuzz_cstr(data, size);
    hubd_route route;
    memset(&route, 0, sizeof(route));
    if (hubd_route_parse(&route, raw) == 0) {
        char *all = hubd_route_join(&route, 0, route.n_rest);
        const char *why = NULL;
        hubd_path_valid(all, &why);
        hubd_is_pr_ref(all, NULL);
        for (size_t k = 0; k <= route.n_rest; k++)
            free(hubd_route_join(&route, k, route.n_rest));
        if (route.ns)
            hubd_repo_part_valid(route.ns);
        if (route.name)
            hubd_repo_part_valid(route.name);
        free(all);
    }
    hubd_route_clear(&route);

    /* Decoding, then encoding, then decoding again gives the same bytes. */
    for (int plus = 0; plus < 2; plus++) {
        char *dec = hubd_url_decode((const char *)data, size, plus);
        if (dec) {
            char *enc = hubd_url_encode(dec, plus);
            char *back = hubd_url_decode(enc, strlen(enc), false);
            if (!back || strcmp(back, dec) != 0)
                abort();
            free(back);
            free(enc);
        }
        free(dec);
    }
    free(raw);
    return 0;
}
