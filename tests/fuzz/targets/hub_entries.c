/* Fuzz target: a tree or paths-info page as the hub client parses it (JSON array → entries)
 * and as the planner keeps it (the remote snapshot, sorted and searched). */
#include <stdint.h>
#include <string.h>

#include "../fuzz_hub.h"
#include "planner/remote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hub_request req = {.what = "list the files of model fuzz/repo at main",
                       .method = "GET",
                       .url = FUZZ_ENDPOINT "/api/models/fuzz/repo/tree/main?recursive=true"};
    hub_response r;
    json_t *page = NULL;
    hfs_hub_entry *entries = NULL;
    size_t n = 0;

    fuzz_response(&r, 200, data, size);
    if (hub_json_parse(&page, fuzz_hub(), &r, &req, JSON_ARRAY) == 0 &&
        hub_parse_entries(&entries, &n, fuzz_hub(), &req, page) == 0) {
        hfs_remote_snapshot *snap =
            hfs_remote_snapshot_new("0123456789abcdef0123456789abcdef01234567");
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++)
            if (entries[i].type == HFS_HUB_ENTRY_FILE)
                rc = hfs_remote_snapshot_add(snap, entries[i].path, entries[i].oid, entries[i].size,
                                             entries[i].is_lfs ? entries[i].lfs_sha256 : NULL);
        if (rc == 0 && hfs_remote_snapshot_finish(snap) == 0) {
            for (size_t i = 0; i < n; i++) {
                const hfs_remote_entry *e = hfs_remote_snapshot_find(snap, entries[i].path);
                const hfs_hub_entry *l = &entries[i];
                /* Every file listed is found again, holding the content it was listed with. */
                if (l->type == HFS_HUB_ENTRY_FILE &&
                    (!e || !(l->is_lfs ? hfs_remote_entry_same_sha256(e, l->lfs_sha256)
                                       : hfs_remote_entry_same_sha1(e, l->oid)))) {
                    fprintf(stderr, "fuzz: %s was listed but the snapshot lost it\n",
                            entries[i].path);
                    abort();
                }
            }
        }
        hfs_remote_snapshot_free(snap);
    }
    free(entries);
    json_decref(page);
    hub_response_clear(&r);
    return 0;
}
