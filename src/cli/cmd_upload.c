/* `hfsync upload REPO_ID [LOCAL_PATH] [PATH_IN_REPO]`: the one-shot upload, argument for
 * argument like `huggingface-cli upload`, planned and applied at once; prints the URL. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

/* `--every MINUTES`: the same upload as a CommitScheduler, until SIGINT or SIGTERM. */
static int run_every(const hfs_cli_cmd *cmd, hfs_cli_args *args, const hfs_upload_spec *spec,
                     unsigned jobs)
{
    const char *text = hfs_cli_value(args, "every");
    char *end = NULL;
    double minutes = strtod(text, &end);
    if (end == text || *end != '\0' || !(minutes > 0))
        return hfs_cli_usage_error(cmd, "--every takes a number of minutes above 0 (e.g. 5 or "
                                        "0.5), not '%s'",
                                   text);
    if (spec->n_delete)
        return hfs_cli_usage_error(cmd, "--delete cannot be used with --every: scheduled "
                                        "uploads never delete remote files");
    if (spec->create_pr)
        return hfs_cli_usage_error(cmd, "--create-pr cannot be used with --every: scheduled "
                                        "uploads commit to the branch (choose it with "
                                        "--revision)");
    hfs_watch_options opts = HFS_WATCH_OPTIONS_INIT;
    hfs_watch_printer *printer = hfs_cli_watch_printer_new(&opts, args, jobs);
    /* A second signal stops the run in flight too. */
    opts.stop = &hfs_cli_stop;
    opts.cancel = &hfs_cli_cancel;
    hfs_cli_signals signals;
    hfs_cli_signals_catch(&signals);
    int rc = hfs_upload_every(NULL, spec, minutes, &opts);
    hfs_cli_signals_restore(&signals);
    int exit_code = rc < 0 ? hfs_cli_fail(rc) : HFS_EXIT_OK;
    hfs_watch_printer_free(printer);
    return exit_code;
}

static int run_upload(const hfs_cli_cmd *cmd, hfs_cli_args *args)
{
    hfs_upload_spec spec = HFS_UPLOAD_SPEC_INIT;
    const char *token = hfs_cli_value(args, "token");
    bool json = hfs_cli_flag(args, "json");
    long jobs = 0;
    int exit_code = HFS_EXIT_OK;

    if (!hfs_cli_repo_type(cmd, args, &spec.repo_type, &exit_code))
        return exit_code;
    if (!hfs_cli_int(cmd, args, "jobs", 1, 256, &jobs, &exit_code))
        return exit_code;
    spec.repo_id = hfs_cli_pos(args, 0);
    spec.local_path = hfs_cli_pos(args, 1);
    spec.path_in_repo = hfs_cli_pos(args, 2);
    spec.revision = hfs_cli_value(args, "revision");
    spec.include = hfs_cli_values(args, "include", &spec.n_include);
    spec.exclude = hfs_cli_values(args, "exclude", &spec.n_exclude);
    spec.delete_patterns = hfs_cli_values(args, "delete", &spec.n_delete);
    spec.commit_message = hfs_cli_value(args, "commit-message");
    spec.commit_description = hfs_cli_value(args, "commit-description");
    spec.create_pr = hfs_cli_flag(args, "create-pr");
    spec.create_private = hfs_cli_flag(args, "private");
    hfs_cli_use_token(token);

    if (hfs_cli_value(args, "every"))
        return run_every(cmd, args, &spec, (unsigned)jobs);

    /* Human lines go to stderr: stdout carries the URL alone (or the --json events). */
    hfs_apply_options opts = HFS_APPLY_OPTIONS_INIT;
    hfs_apply_printer *printer =
        hfs_cli_apply_printer_new(&opts, args, json ? stdout : stderr, (unsigned)jobs);
    opts.token = token;
    opts.wait_lock = hfs_cli_flag(args, "wait");

    hfs_cli_signals signals;
    hfs_cli_signals_catch(&signals);
    char *url = NULL;
    int rc = hfs_upload(&url, NULL, &spec, &opts);
    hfs_cli_signals_restore(&signals);
    hfs_apply_printer_finish(printer);
    if (rc < 0)
        exit_code = hfs_cli_fail(rc);
    else if (!json && url)
        printf("%s\n", url);
    free(url);
    hfs_apply_printer_free(printer);
    return exit_code;
}

static const hfs_cli_opt upload_opts[] = {
    {"repo-type", 0, HFS_OPT_VALUE, "TYPE", "model (default), dataset or space"},
    HFS_CLI_OPT_REVISION,
    HFS_CLI_OPT_PRIVATE,
    {"include", 0, HFS_OPT_LIST, "PATTERN", "upload only files matching (repeatable)"},
    {"exclude", 0, HFS_OPT_LIST, "PATTERN", "leave out files matching (repeatable)"},
    {"delete", 0, HFS_OPT_LIST, "PATTERN",
     "delete remote files matching that are not being uploaded (repeatable)"},
    {"commit-message", 0, HFS_OPT_VALUE, "TEXT", "the commit's summary"},
    {"commit-description", 0, HFS_OPT_VALUE, "TEXT", "the commit's description"},
    {"create-pr", 0, HFS_OPT_FLAG, NULL, "open a pull request instead of committing to the branch"},
    HFS_CLI_OPT_TOKEN,
    HFS_CLI_OPT_JOBS,
    HFS_CLI_OPT_JSON,
    HFS_CLI_OPT_VERBOSE,
    {"quiet", 'q', HFS_OPT_FLAG, NULL, "print only the resulting URL"},
    {"wait", 0, HFS_OPT_FLAG, NULL,
     "when another upload to the same target runs, wait for it (default: exit 1 saying so)"},
    {"every", 0, HFS_OPT_VALUE, "MINUTES",
     "upload again every MINUTES (fractions allowed) until stopped, as a CommitScheduler"},
    {NULL, 0, 0, NULL, NULL},
};

const hfs_cli_cmd hfs_cmd_upload = {
    .name = "upload",
    .summary = "upload a file or folder to a repo in one go (like huggingface-cli upload)",
    .usage = "REPO_ID [LOCAL_PATH] [PATH_IN_REPO] [--repo-type TYPE] [--revision REV] "
             "[--include P]... [--exclude P]... [--delete P]... [--commit-message M] "
             "[--create-pr] [--private] [--wait] [--every MINUTES]",
    .description =
        "Uploads LOCAL_PATH (a file or a folder; default: the one in the current directory\n"
        "named like the repo) to PATH_IN_REPO (default: the repo root for a folder, the file's\n"
        "name for a file), creating the repo when it is missing. Only what changed is sent:\n"
        "files the repo already holds are skipped, LFS files upload in parallel, and one\n"
        "commit is made (none when nothing changed). Prints the commit's URL, or the pull\n"
        "request's with --create-pr. The endpoint is HF_ENDPOINT; the token --token, else\n"
        "HF_TOKEN, else the token file under HF_HOME. Two uploads to the same target (repo,\n"
        "revision, path in repo) do not run at once: the second exits 1 naming the first,\n"
        "or with --wait waits for it and uploads what is still missing.\n"
        "With --every MINUTES it keeps running, as `huggingface-cli upload --every` does: a\n"
        "push every MINUTES when something changed (no empty commits; growing files sent up\n"
        "to their size at the scan; nothing deleted, so no --delete; no --create-pr), commits\n"
        "saying \"Scheduled commit\" unless --commit-message; SIGINT or SIGTERM makes a last\n"
        "push and exits. A single file is watched in its folder and keeps its name.",
    .opts = upload_opts,
    .min_args = 1,
    .max_args = 3,
    .run = run_upload,
};
