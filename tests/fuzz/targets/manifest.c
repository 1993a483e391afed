/* Fuzz target: the manifest parser — YAML through libyaml to a validated manifest, or to
 * file:line:col diagnostics. Relative folder_paths resolve in a scratch folder holding the
 * folders the seed manifests name. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hfsync.h"

static const char *const folders[] = {"data", "data/ckpt", "data/logs", "checkpoints",
                                      "logs", "ckpt",      "models",    "out"};
#define N_FOLDERS (sizeof(folders) / sizeof(folders[0]))
static char base_dir[4096];

static void remove_base(void)
{
    char path[4200];
    for (size_t i = N_FOLDERS; i-- > 0;) {
        snprintf(path, sizeof(path), "%s/%s", base_dir, folders[i]);
        rmdir(path);
    }
    rmdir(base_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(base_dir, sizeof(base_dir), "%s/hfsync-fuzz-manifest.XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(base_dir)) {
        fprintf(stderr, "fuzz: cannot create a scratch folder in %s: %s\n",
                tmp && *tmp ? tmp : "/tmp", strerror(errno));
        abort();
    }
    for (size_t i = 0; i < N_FOLDERS; i++) {
        char path[4200];
        snprintf(path, sizeof(path), "%s/%s", base_dir, folders[i]);
        mkdir(path, 0700);
    }
    atexit(remove_base);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hfs_manifest *m = NULL;
    hfs_diag_list diags = HFS_DIAG_LIST_INIT;
    int rc = hfs_manifest_load_string(&m, (const char *)data, size, "fuzz.yaml", base_dir, &diags);
    if (rc == 0) {
        /* A valid manifest: every sync can be found by its name. */
        if (!m || diags.count != 0)
            abort();
        for (size_t i = 0; i < m->n_syncs; i++)
            if (hfs_manifest_find_sync(m, m->syncs[i].name) != &m->syncs[i])
                abort();
        if (strlen(hfs_manifest_digest(m)) != 64)
            abort();
    } else {
        /* An invalid one: no manifest, and at least one problem to show. */
        if (m || (diags.count == 0 && diags.dropped == 0))
            abort();
        for (size_t i = 0; i < diags.count; i++)
            free(hfs_diag_format(&diags.items[i]));
    }
    hfs_manifest_free(m);
    hfs_diag_list_free(&diags);
    return 0;
}
