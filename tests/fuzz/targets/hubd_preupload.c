/* Fuzz target: the local hub's preupload request ({"files": [{path, size, sample}],
 * gitAttributes, gitIgnore}), as sent by huggingface_hub and the JS client. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "hubd/bodies.h"
#include "hubd/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hubd_preupload_request r;
    hubd_refusal why = {0};
    if (hubd_parse_preupload(&r, &why, (const char *)data, size) == 0) {
        if (r.n_files > HUBD_PREUPLOAD_MAX_FILES)
            abort();
        for (size_t i = 0; i < r.n_files; i++) {
            const char *reason = NULL;
            /* What the handler relies on: valid paths, samples within the limit. */
            if (!r.files[i].path || !hubd_path_valid(r.files[i].path, &reason) ||
                r.files[i].sample_len > HUBD_PREUPLOAD_SAMPLE_MAX)
                abort();
        }
    } else if (why.status < 400 || why.status > 499 || !*hfs_error_last()) {
        abort(); /* a refusal is a client error with a message */
    }
    hubd_preupload_request_clear(&r);
    return 0;
}
