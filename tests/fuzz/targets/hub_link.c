/* Fuzz target: the URLs the hub hands the client — the Link header of a paginated listing
 * (rel="next"), and any href or Location as the client takes its origin, shows it in a
 * message (credentials and foreign queries hidden) and moves huggingface.co to the endpoint. */
#include <stdint.h>
#include <string.h>

#include "../fuzz.h"
#include "../fuzz_hub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);

    char *next = hub_link_next(text);
    /* The target is what was between '<' and '>' of some link of the header. */
    if (next && !strstr(text, next))
        abort();
    free(next);

    free(hub_url_origin(text));
    char *shown = hub_url_display(fuzz_hub(), text);
    if (!shown)
        abort();
    free(shown);
    char *fixed = hub_url_fix_endpoint(fuzz_hub(), text);
    if (!fixed)
        abort();
    free(fixed);
    free(text);
    return 0;
}
