/* Fuzz target: the preupload answer ({"files": [{path, uploadMode, shouldIgnore, oid}]}) as
 * the hub client checks it against the files it asked about. The files asked about are the
 * paths the answer names, so most answers are complete and reach the checks below. */
#include <stdint.h>
#include <string.h>

#include "../fuzz_hub.h"

#define MAX_ASKED 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hub_request req = {.what = "ask model fuzz/repo at main how to upload files",
                       .method = "POST",
                       .url = FUZZ_ENDPOINT "/api/models/fuzz/repo/preupload/main"};
    hub_response r;
    json_t *answer = NULL;
    hfs_hub_preupload_file asked[MAX_ASKED];
    hfs_hub_preupload_result results[MAX_ASKED];
    size_t n = 0;

    memset(results, 0, sizeof(results));
    fuzz_response(&r, 200, data, size);
    if (hub_json_parse(&answer, fuzz_hub(), &r, &req, JSON_OBJECT) < 0)
        goto done;
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(answer, "files"), i, item)
    {
        const char *path = hub_json_str(item, "path");
        if (path && n < MAX_ASKED) {
            /* README.md and paths starting with "empty" are empty files. */
            bool empty = strcmp(path, "README.md") == 0 || strncmp(path, "empty", 5) == 0;
            asked[n++] = (hfs_hub_preupload_file){path, empty ? 0 : strlen(path) + 1, path,
                                                  empty ? 0 : strlen(path)};
        }
    }
    if (hub_parse_preupload(results, fuzz_hub(), &req, asked, n, answer) == 0) {
        for (size_t k = 0; k < n; k++) {
            /* S3 refuses empty LFS objects: an empty file is always regular. */
            if (asked[k].size == 0 && results[k].mode != HFS_HUB_UPLOAD_REGULAR)
                abort();
        }
    }
done:
    for (size_t k = 0; k < MAX_ASKED; k++)
        hfs_hub_preupload_result_clear(&results[k]);
    json_decref(answer);
    hub_response_clear(&r);
    return 0;
}
