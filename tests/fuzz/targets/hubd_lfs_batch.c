/* Fuzz target: the local hub's LFS batch request (operation, transfers, hash_algo, ref,
 * objects), as sent by huggingface_hub, the JS client and git-lfs. */
#include <stdint.h>
#include <string.h>

#include "common/error.h"
#include "hubd/bodies.h"
#include "hubd/lfs_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hubd_lfs_batch_request b;
    hubd_refusal why = {0};
    if (hubd_parse_lfs_batch(&b, &why, (const char *)data, size) == 0) {
        for (size_t i = 0; i < b.n_objects; i++) {
            const hubd_lfs_batch_object *o = &b.objects[i];
            /* What the handler relies on for a valid object: an oid it can put in a path. */
            if (o->valid &&
                (!o->oid || strlen(o->oid) != 64 || o->size < 0 || !hubd_lfs_oid_valid(o->oid)))
                abort();
        }
    } else if (why.status < 400 || why.status > 499 || !*hfs_error_last()) {
        abort(); /* a refusal is a client error with a message */
    }
    hubd_lfs_batch_request_clear(&b);
    return 0;
}
