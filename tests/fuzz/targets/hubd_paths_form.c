/* Fuzz target: the local hub's paths-info form body (huggingface_hub's
 * paths=a&paths=b&expand=false), and the path checks the paths then meet. */
#include <stdint.h>

#include "hubd/bodies.h"
#include "hubd/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hubd_paths_query q;
    if (hubd_parse_paths_form(&q, (const char *)data, size) == 0) {
        for (size_t i = 0; i < q.n_paths; i++) {
            const char *why = NULL;
            hubd_path_valid(q.paths[i], &why);
        }
    }
    hubd_paths_query_clear(&q);
    return 0;
}
