/* Fuzz target: the commit answer ({"commitOid", "commitUrl", "pullRequestUrl"}) as the hub
 * client reads it, with and without create_pr. */
#include <stdint.h>
#include <string.h>

#include "../fuzz_hub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hub_request req = {.what = "commit to model fuzz/repo at main",
                       .method = "POST",
                       .url = FUZZ_ENDPOINT "/api/models/fuzz/repo/commit/main"};
    hub_response r;
    json_t *answer = NULL;

    fuzz_response(&r, 200, data, size);
    if (hub_json_parse(&answer, fuzz_hub(), &r, &req, JSON_OBJECT) == 0) {
        for (int create_pr = 0; create_pr < 2; create_pr++) {
            hfs_hub_commit_result res;
            if (hub_parse_commit(&res, fuzz_hub(), &req, answer, create_pr) == 0 &&
                (strlen(res.commit_oid) != 40 || !res.commit_url || (create_pr && res.pr_num <= 0)))
                abort();
            hfs_hub_commit_result_clear(&res);
        }
    }
    json_decref(answer);
    hub_response_clear(&r);
    return 0;
}
