/* Fuzz target: the LFS batch answer (basic and multipart upload actions, verify, per-object
 * errors) as the hub client turns it into transfer actions. The objects asked about are the
 * oids the answer names, so most answers are complete and reach the checks below. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz_hub.h"

#define MAX_ASKED 16

/* The size asked for an oid: the traces' objects keep their sizes; any other oid spells
 * its size in its first (up to 16) hex digits, so the fuzzer can pick any size. */
static uint64_t size_for(const char *oid)
{
    static const struct {
        const char *oid;
        uint64_t size;
    } known[] = {
        {"c8b4861a4e99879f1dff33697ca49db2937e2e7b272f5760bfb0aa41e974a410", 12582912},
        {"e888f9197c3bfa3e7e982d6c0a563eecb5e66b168b3fde51f172ec4bf011c158", 12582912},
        {"97f354a9fdb9cdc171b47b1dd0c4f3b2358497c37043d8b52e74e65627248972", 12582912},
        {"4a29698507c3da7e7c49d3c7977fc748c0a467348c6037f24d5fc5f85a2f9b91", 12582912},
        {"309500ef2a7490ead613c6c3e89250e03f8dfe9138b5c4e32b1fa7a72324df39", 12582912},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(known[i].oid, oid) == 0)
            return known[i].size;
    char digits[17] = {0};
    size_t n = strspn(oid, "0123456789abcdefABCDEF");
    memcpy(digits, oid, n < 16 ? n : 16);
    return n ? strtoull(digits, NULL, 16) : 12582912;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hub_request req = {.what = "ask model fuzz/repo where to upload LFS objects",
                       .method = "POST",
                       .url = FUZZ_ENDPOINT "/fuzz/repo.git/info/lfs/objects/batch"};
    hub_response r;
    json_t *answer = NULL;
    hfs_hub_lfs_object asked[MAX_ASKED];
    hfs_hub_lfs_action actions[MAX_ASKED];
    size_t n = 0;

    memset(actions, 0, sizeof(actions));
    fuzz_response(&r, 200, data, size);
    if (hub_json_parse(&answer, fuzz_hub(), &r, &req, JSON_OBJECT) < 0)
        goto done;
    size_t i;
    json_t *obj;
    json_array_foreach(json_object_get(answer, "objects"), i, obj)
    {
        const char *oid = hub_json_str(obj, "oid");
        bool seen = false;
        for (size_t k = 0; oid && k < n; k++)
            seen |= strcmp(asked[k].oid, oid) == 0;
        if (oid && !seen && n < MAX_ASKED) {
            asked[n].oid = oid;
            asked[n].size = size_for(oid);
            n++;
        }
    }
    if (hub_parse_lfs_batch(actions, fuzz_hub(), &req, asked, n, answer) == 0) {
        for (size_t k = 0; k < n; k++) {
            const hfs_hub_lfs_action *a = &actions[k];
            /* What the transfers rely on: an href to send to, and for multipart exactly one
             * URL per chunk of the object. */
            if (a->kind == HFS_HUB_LFS_BASIC && !a->upload_href)
                abort();
            if (a->kind == HFS_HUB_LFS_MULTIPART &&
                (a->chunk_size == 0 || !a->upload_href ||
                 a->n_parts != a->size / a->chunk_size + (a->size % a->chunk_size != 0)))
                abort();
            for (size_t p = 0; p < a->n_parts; p++)
                if (!a->part_urls[p])
                    abort();
        }
    }
done:
    for (size_t k = 0; k < MAX_ASKED; k++)
        hfs_hub_lfs_action_clear(&actions[k]);
    json_decref(answer);
    hub_response_clear(&r);
    return 0;
}
