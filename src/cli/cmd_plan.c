/* `hfsync plan`: compute what applying the manifest would change, print it (text, JSON or
 * Markdown) on stdout and optionally save it as a plan file for review and `hfsync apply`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Progress goes to stderr, one line rewritten in place: stdout carries only the plan. */
static void show_progress(void *ctx, const hfs_plan_progress *p)
{
    bool *shown = ctx;
    char line[256];
    hfs_plan_progress_format(line, sizeof(line), p);
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
    *shown = true;
}

static int run_plan(const hfs_cli_cmd *cmd, hfs_cli_args *args)
{
    const char *manifest_path = hfs_cli_value(args, "file");
    const char *output = hfs_cli_value(args, "output");
    const char *format_name = hfs_cli_value(args, "format");
    hfs_plan_format format = HFS_PLAN_TEXT;
    hfs_manifest *m = NULL;
    hfs_plan *plan = NULL;
    bool progress_shown = false;
    long jobs = 0;
    int exit_code = HFS_EXIT_OK, rc;

    if (format_name && hfs_plan_format_parse(&format, format_name) < 0)
        return hfs_cli_usage_error(cmd, "%s", hfs_error_last());
    if (!hfs_cli_int(cmd, args, "jobs", 1, 1024, &jobs, &exit_code))
        return exit_code;

    exit_code = hfs_cli_load_manifest(&m, manifest_path);
    if (exit_code != HFS_EXIT_OK)
        goto done;
    size_t n_syncs;
    const char *const *syncs = hfs_cli_values(args, "sync", &n_syncs);
    for (size_t i = 0; i < n_syncs; i++)
        if (!hfs_manifest_find_sync(m, syncs[i])) {
            exit_code = hfs_cli_usage_error(cmd, "%s has no sync named '%s'", m->path, syncs[i]);
            goto done;
        }

    hfs_plan_options opts = HFS_PLAN_OPTIONS_INIT;
    opts.syncs = syncs;
    opts.n_syncs = n_syncs;
    opts.jobs = (unsigned)jobs;
    if (isatty(STDERR_FILENO) && !hfs_cli_flag(args, "quiet")) {
        opts.progress = show_progress;
        opts.progress_ctx = &progress_shown;
    }
    rc = hfs_plan_compute(&plan, m, &opts);
    if (progress_shown)
        fputs("\r\033[K", stderr);
    if (rc < 0) {
        exit_code = hfs_cli_fail(rc);
        goto done;
    }
    if (output) {
        rc = hfs_plan_write(plan, output);
        if (rc < 0) {
            exit_code = hfs_cli_fail(rc);
            goto done;
        }
    }
    rc = hfs_plan_print(stdout, plan, format);
    if (rc < 0) {
        exit_code = hfs_cli_fail(rc);
        goto done;
    }
    if (output && isatty(STDERR_FILENO))
        fprintf(stderr, "Saved the plan to %s: review it, then run 'hfsync apply %s'.\n", output,
                output);
    if (hfs_cli_flag(args, "detailed-exitcode") && hfs_plan_has_changes(plan))
        exit_code = HFS_EXIT_CHANGES;
done:
    hfs_plan_free(plan);
    hfs_manifest_free(m);
    return exit_code;
}

static const hfs_cli_opt plan_opts[] = {
    {"file", 'f', HFS_OPT_VALUE, "FILE", "the manifest (default ./hfsync.yaml)"},
    {"sync", 's', HFS_OPT_LIST, "NAME", "plan only this sync"},
    {"output", 'o', HFS_OPT_VALUE, "FILE", "also save the plan (JSON) for review and apply"},
    {"format", 0, HFS_OPT_VALUE, "FORMAT", "text (default), json or markdown"},
    {"detailed-exitcode", 0, HFS_OPT_FLAG, NULL,
     "exit 2 when the plan changes something, 0 when not"},
    {"jobs", 'j', HFS_OPT_VALUE, "N", "hashing threads (default: one per core)"},
    {"quiet", 'q', HFS_OPT_FLAG, NULL, "no progress on stderr"},
    {NULL, 0, 0, NULL, NULL},
};

const hfs_cli_cmd hfs_cmd_plan = {
    .name = "plan",
    .summary = "show what applying the manifest would change, and save it for review",
    .usage = "[-f FILE] [--sync NAME]... [-o PLAN] [--format text|json|markdown] "
             "[--detailed-exitcode]",
    .description =
        "Lists each sync's remote repo (one tree listing at the revision's head), scans and\n"
        "hashes its folder (with the hash cache in .hfsync/), and prints what would change:\n"
        "+ add, ~ update, - delete, > server-side copy, with LFS files marked and the commits\n"
        "they go in. Only the plan goes to stdout; progress goes to stderr on a terminal.\n"
        "The endpoint is HF_ENDPOINT, else the manifest's; the token HF_TOKEN, else the token\n"
        "file under HF_HOME. Exit codes: 0 (no changes, or without --detailed-exitcode),\n"
        "2 changes present (with --detailed-exitcode), 1 error, 4 refused by a safety limit\n"
        "(max_delete or a hub limit), 64 usage error.",
    .opts = plan_opts,
    .min_args = 0,
    .max_args = 0,
    .run = run_plan,
};
