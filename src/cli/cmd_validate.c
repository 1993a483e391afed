/* `hfsync validate`: parse and check a manifest without touching the network; one summary
 * line per sync when it is valid, every problem as FILE:LINE:COL: key.path: message when not. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static void print_sync(const hfs_sync *s)
{
    printf("%s: %s -> %s (%s@%s)", s->name, s->folder_path, s->repo_id,
           hfs_repo_type_name(s->repo_type), s->revision);
    if (*s->path_in_repo)
        printf(" under %s", s->path_in_repo);
    printf(", strategy %s", hfs_commit_strategy_name(s->commit.strategy));
    if (s->commit.create_pr)
        printf(" via a pull request");
    printf(", transport %s", hfs_transport_name(s->transport));
    if (s->scheduled)
        printf(", every %" PRIu64 "s%s", s->schedule_every,
               s->schedule_append_only ? " (append-only)" : "");
    putchar('\n');
}

static int run_validate(const hfs_cli_cmd *cmd, hfs_cli_args *args)
{
    (void)cmd;
    const char *path = hfs_cli_value(args, "file");
    hfs_manifest *m = NULL;
    hfs_diag_list diags = HFS_DIAG_LIST_INIT;
    int exit_code = HFS_EXIT_OK;
    int rc = hfs_manifest_load(&m, path ? path : "hfsync.yaml", &diags);
    if (rc != 0 && diags.count == 0) {
        exit_code = hfs_cli_fail(rc);
        goto done;
    }
    if (rc != 0) {
        for (size_t i = 0; i < diags.count; i++) {
            char *line = hfs_diag_format(&diags.items[i]);
            fprintf(stderr, "%s\n", line);
            free(line);
        }
        if (diags.dropped)
            fprintf(stderr, "%s: %zu more problems not shown\n", diags.items[0].file,
                    diags.dropped);
        exit_code = HFS_EXIT_ERROR;
        goto done;
    }
    for (size_t i = 0; i < m->n_syncs; i++)
        print_sync(&m->syncs[i]);
done:
    hfs_diag_list_free(&diags);
    hfs_manifest_free(m);
    return exit_code;
}

static const hfs_cli_opt validate_opts[] = {
    {"file", 'f', HFS_OPT_VALUE, "FILE", "the manifest to check (default ./hfsync.yaml)"},
    {NULL, 0, 0, NULL, NULL},
};

const hfs_cli_cmd hfs_cmd_validate = {
    .name = "validate",
    .summary = "check a manifest (hfsync.yaml) without touching the network",
    .usage = "[-f FILE]",
    .description =
        "Reads the manifest, applies `defaults`, and checks every setting: types, repo ids, "
        "sizes,\ndurations, patterns, paths in the repo, and that each folder_path exists. "
        "Prints one line\nper sync when the manifest is valid (exit 0); otherwise prints every "
        "problem as\nFILE:LINE:COL: key.path: message on stderr (exit 1).",
    .opts = validate_opts,
    .min_args = 0,
    .max_args = 0,
    .run = run_validate,
};
