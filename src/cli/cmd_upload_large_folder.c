/* `hfsync upload-large-folder REPO_ID LOCAL_PATH --repo-type TYPE`: huggingface_hub's resumable
 * many-commit upload of a huge folder, as a `strategy: large` sync planned and applied at once. */
#include "cli.h"

static int run_upload_large_folder(const hfs_cli_cmd *cmd, hfs_cli_args *args)
{
    hfs_upload_large_spec spec = HFS_UPLOAD_LARGE_SPEC_INIT;
    const char *token = hfs_cli_value(args, "token");
    long workers = 0;
    int exit_code = HFS_EXIT_OK;

    /* As in huggingface_hub: a huge upload to the wrong kind of repo is too costly to
     * default. */
    if (!hfs_cli_value(args, "repo-type"))
        return hfs_cli_usage_error(cmd, "--repo-type is required (model, dataset or space), as "
                                        "for huggingface-cli upload-large-folder");
    if (!hfs_cli_repo_type(cmd, args, &spec.repo_type, &exit_code))
        return exit_code;
    if (!hfs_cli_int(cmd, args, "num-workers", 1, 256, &workers, &exit_code))
        return exit_code;
    spec.repo_id = hfs_cli_pos(args, 0);
    spec.local_path = hfs_cli_pos(args, 1);
    spec.revision = hfs_cli_value(args, "revision");
    spec.include = hfs_cli_values(args, "include", &spec.n_include);
    spec.exclude = hfs_cli_values(args, "exclude", &spec.n_exclude);
    spec.create_private = hfs_cli_flag(args, "private");
    spec.num_workers = (unsigned)workers;
    hfs_cli_use_token(token);

    hfs_apply_options opts = HFS_APPLY_OPTIONS_INIT;
    /* No --jobs: --num-workers sets the transfers through the spec. */
    hfs_apply_printer *printer = hfs_cli_apply_printer_new(&opts, args, stdout, 0);
    opts.token = token;
    opts.wait_lock = hfs_cli_flag(args, "wait");

    hfs_cli_signals signals;
    hfs_cli_signals_catch(&signals);
    int rc = hfs_upload_large_folder(NULL, &spec, &opts);
    hfs_cli_signals_restore(&signals);
    hfs_apply_printer_finish(printer);
    exit_code = hfs_cli_apply_exit(rc);
    hfs_apply_printer_free(printer);
    return exit_code;
}

static const hfs_cli_opt upload_large_folder_opts[] = {
    {"repo-type", 0, HFS_OPT_VALUE, "TYPE", "model, dataset or space (required)"},
    HFS_CLI_OPT_REVISION,
    HFS_CLI_OPT_PRIVATE,
    {"include", 0, HFS_OPT_LIST, "PATTERN", "upload only files matching"},
    {"exclude", 0, HFS_OPT_LIST, "PATTERN", "leave out files matching"},
    {"num-workers", 0, HFS_OPT_VALUE, "N",
     "hashing threads and parallel LFS transfers (default: one hashing thread per core, 8 "
     "transfers)"},
    HFS_CLI_OPT_TOKEN,
    {"wait", 0, HFS_OPT_FLAG, NULL,
     "when another upload of this folder to this repo runs, wait for it (default: exit 0)"},
    HFS_CLI_OPT_JSON,
    HFS_CLI_OPT_VERBOSE,
    {"quiet", 'q', HFS_OPT_FLAG, NULL, "print nothing but errors"},
    {NULL, 0, 0, NULL, NULL},
};

const hfs_cli_cmd hfs_cmd_upload_large_folder = {
    .name = "upload-large-folder",
    .summary = "upload a huge folder in many resumable commits (like huggingface-cli "
               "upload-large-folder)",
    .usage = "REPO_ID LOCAL_PATH --repo-type TYPE [--revision REV] [--include P]... "
             "[--exclude P]... [--num-workers N] [--private]",
    .description =
        "Uploads every file of LOCAL_PATH to the root of REPO_ID, creating the repo when it is\n"
        "missing, in many commits straight to the revision (a manifest sync with\n"
        "`commit: {strategy: large}`): commits start at 50 files and grow while they are fast,\n"
        "shrink after a failure; the hub's preupload check, LFS uploads and commits run at the\n"
        "same time; a status line (files hashed, uploaded, committed; workers per phase)\n"
        "comes every few seconds (every 30 s in logs; a large_status event with --json).\n"
        "Nothing is deleted from the repo. Stopped in any way (Ctrl-C, kill, network loss), run\n"
        "the same command again: hashes come from LOCAL_PATH/.hfsync (the hash cache), LFS\n"
        "objects already sent are not sent again, and no file is committed twice. A second\n"
        "upload of the folder to the repo while one runs exits 0 saying so (or --wait).\n"
        "Exit codes: 0 done, nothing to do, or another upload holds the lock; 1 error;\n"
        "64 usage error.",
    .opts = upload_large_folder_opts,
    .min_args = 2,
    .max_args = 2,
    .run = run_upload_large_folder,
};
