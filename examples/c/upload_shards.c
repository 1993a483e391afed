/* upload_shards: a dataset written straight from memory to the hub — N shards generated in
 * memory, each sent to LFS as soon as it exists (and freed), then one commit for all of them.
 *
 * Build against the installed library, and run against a hub:
 *
 *     cc -o upload_shards upload_shards.c $(pkg-config --cflags --libs hfsync)
 *     HF_ENDPOINT=http://127.0.0.1:8765 HF_TOKEN=hf_... ./upload_shards alice/corpus 8
 *
 * (`hfsync hub serve --token hf_...` runs a local hub to try it on.) Memory stays at about
 * one shard: hfs_preupload_lfs releases each buffer once its object is on the hub. Prints
 * one line per shard, "PATH SHA256", then the commit's URL; progress goes to stderr. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <hfsync.h>

#define SHARD_BYTES (256u * 1024u)

/* Shard i: deterministic bytes, the kind a data pipeline would produce (binary: LFS). */
static unsigned char *make_shard(unsigned i, size_t len)
{
    unsigned char *p = malloc(len);
    if (!p)
        return NULL;
    uint64_t x = 0x9e3779b97f4a7c15ull * (i + 1);
    for (size_t k = 0; k < len; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[k] = (unsigned char)(x >> 24);
    }
    return p;
}

static int fail(const char *what)
{
    fprintf(stderr, "upload_shards: %s: %s\n", what, hfs_error_last());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: upload_shards NAMESPACE/NAME [N_SHARDS]\n");
        return 64;
    }
    unsigned n = argc == 3 ? (unsigned)strtoul(argv[2], NULL, 10) : 4;

    /* Endpoint and token: HF_ENDPOINT and HF_TOKEN (or the token file), as for hfsync. */
    hfs_commit_options o = HFS_COMMIT_OPTIONS_INIT;
    o.repo_id = argv[1];
    o.repo_type = HFS_REPO_DATASET;
    /* Progress as `hfsync apply` prints it, all on stderr. */
    hfs_apply_printer *printer = hfs_apply_printer_new(HFS_APPLY_PRINT_PLAIN, stderr, stderr);
    o.event = hfs_apply_printer_event;
    o.event_ctx = printer;
    if (hfs_create_repo(NULL, &o, false, true) < 0) {
        hfs_apply_printer_free(printer);
        return fail("create the repo");
    }

    hfs_commit_ops *ops = hfs_commit_ops_new();
    int status = 0;
    for (unsigned i = 0; i < n && status == 0; i++) {
        unsigned char *shard = make_shard(i, SHARD_BYTES);
        char path[64];
        snprintf(path, sizeof(path), "data/shard-%05u.bin", i);
        if (!shard || hfs_commit_ops_add_buffer(ops, path, shard, SHARD_BYTES, free) < 0) {
            free(shard); /* not taken on error */
            status = fail(path);
            break;
        }
        /* Sent now; `shard` is freed by the library as soon as the hub has it. */
        if (hfs_preupload_lfs(&o, ops) < 0) {
            status = fail(path);
            break;
        }
        hfs_commit_op_info info;
        hfs_commit_ops_get(&info, ops, i);
        printf("%s %s\n", info.path, info.sha256);
    }
    if (status == 0) {
        hfs_commit_info ci;
        char summary[64];
        snprintf(summary, sizeof(summary), "Add %u shards", n);
        if (hfs_create_commit(&ci, &o, ops, summary, "Generated in memory by upload_shards.",
                              NULL) < 0) {
            status = fail("commit");
        } else {
            printf("%s\n", ci.commit_url);
            hfs_commit_info_clear(&ci);
        }
    }
    hfs_commit_ops_free(ops);
    hfs_apply_printer_free(printer);
    return status;
}
