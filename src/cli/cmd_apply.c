/* `hfsync apply`: carry out a saved plan exactly, or plan the manifest and apply it after the
 * user confirmed (on a terminal) or said --yes; progress on stderr, results on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"

static void show_hashing(void *ctx, const hfs_plan_progress *p)
{
    bool *shown = ctx;
    char line[256];
    hfs_plan_progress_format(line, sizeof(line), p);
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
    *shown = true;
}

/* The locks of the syncs `apply -f` applies, taken before it plans them: a plan made while
 * another apply still runs would be made against the head that apply is about to move.
 * Ctrl-C stops a --wait. *exit_code is set when the apply must not go on: another hfsync
 * holds a sync without --wait (exit 0, the cron contract, as a saved plan's apply does). */
static hfs_apply_lock *lock_for_apply(const hfs_manifest *m, hfs_cli_args *args, bool json,
                                      int *exit_code)
{
    size_t n_syncs;
    const char *const *syncs = hfs_cli_values(args, "sync", &n_syncs);
    hfs_apply_lock *lock = NULL;
    hfs_cli_signals signals;
    hfs_cli_signals_catch(&signals);
    int rc = hfs_apply_lock_acquire(&lock, m, syncs, n_syncs, NULL, hfs_cli_flag(args, "wait"),
                                    &hfs_cli_stop);
    hfs_cli_signals_restore(&signals);
    if (rc == HFS_ELOCKED) {
        if (json) {
            hfs_apply_event ev = {
                .kind = HFS_APPLY_EVENT_ERROR, .message = hfs_error_last(), .error_code = rc};
            char *line = hfs_apply_event_to_json(&ev);
            printf("%s\n", line);
            free(line);
        }
        fprintf(stderr, "hfsync: %s\n", hfs_error_last());
        *exit_code = HFS_EXIT_OK;
    } else if (rc < 0) {
        *exit_code = hfs_cli_fail(rc);
    }
    return lock;
}

/* Plans the manifest for `apply -f` (holding the syncs' locks, which *lock gets), shows the
 * plan, and asks unless --yes. *exit_code is set when the apply must not go on (an error,
 * a sync locked by another hfsync, no changes, or the user said no). */
static hfs_plan *plan_for_apply(const hfs_cli_cmd *cmd, hfs_cli_args *args, bool json,
                                hfs_apply_lock **lock, int *exit_code)
{
    const char *path = hfs_cli_value(args, "file");
    bool yes = hfs_cli_flag(args, "yes");
    bool terminal = isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
    hfs_manifest *m = NULL;
    hfs_plan *plan = NULL;
    bool shown = false;

    *exit_code = -1;
    if (!yes && !terminal) {
        *exit_code = hfs_cli_usage_error(
            cmd, "not on a terminal, so there is no one to confirm the plan: pass --yes, or "
                 "save a plan with `hfsync plan -o plan.json`, review it, and `hfsync apply "
                 "plan.json`");
        return NULL;
    }
    if ((*exit_code = hfs_cli_load_manifest(&m, path)) != HFS_EXIT_OK)
        return NULL;
    *exit_code = -1;
    if (!(*lock = lock_for_apply(m, args, json, exit_code))) {
        hfs_manifest_free(m);
        return NULL;
    }
    size_t n_syncs;
    const char *const *syncs = hfs_cli_values(args, "sync", &n_syncs);
    hfs_plan_options opts = HFS_PLAN_OPTIONS_INIT;
    opts.syncs = syncs;
    opts.n_syncs = n_syncs;
    if (isatty(STDERR_FILENO) && !hfs_cli_flag(args, "quiet")) {
        opts.progress = show_hashing;
        opts.progress_ctx = &shown;
    }
    int rc = hfs_plan_compute(&plan, m, &opts);
    if (shown)
        fputs("\r\033[K", stderr);
    hfs_manifest_free(m);
    if (rc < 0) {
        *exit_code = hfs_cli_fail(rc);
        return NULL;
    }
    if (!hfs_plan_has_changes(plan)) {
        if (json)
            printf("{\"event\":\"done\",\"commits\":0,\"lfs_files\":0,\"lfs_bytes\":0,"
                   "\"seconds\":0,\"changes\":false}\n");
        else if (!hfs_cli_flag(args, "quiet"))
            printf("No changes.\n");
        hfs_plan_free(plan);
        *exit_code = HFS_EXIT_OK;
        return NULL;
    }
    if (!yes) {
        /* stdout may carry --json events: the plan to read goes where the question is. */
        hfs_plan_print(json ? stderr : stdout, plan, HFS_PLAN_TEXT);
        fflush(stdout);
        if (!hfs_cli_confirm()) {
            fprintf(stderr, "Nothing was changed.\n");
            hfs_plan_free(plan);
            *exit_code = HFS_EXIT_ERROR;
            return NULL;
        }
    }
    return plan;
}

/* cmd_watch.c: the exit code of `apply -f` run as scheduled runs, or -1 when the syncs it
 * applies are not all scheduled. */
int hfs_cli_apply_scheduled(const hfs_cli_cmd *cmd, hfs_cli_args *args);

static int run_apply(const hfs_cli_cmd *cmd, hfs_cli_args *args)
{
    const char *plan_path = hfs_cli_pos(args, 0);
    bool json = hfs_cli_flag(args, "json");
    hfs_plan *plan = NULL;
    hfs_apply_printer *printer = NULL;
    hfs_apply_lock *lock = NULL;
    long jobs = 0;
    int exit_code = HFS_EXIT_OK, rc;

    if (plan_path && hfs_cli_value(args, "file"))
        return hfs_cli_usage_error(cmd, "give either a saved plan or -f MANIFEST, not both");
    if (!hfs_cli_int(cmd, args, "jobs", 1, 256, &jobs, &exit_code))
        return exit_code;

    size_t n_syncs;
    const char *const *syncs = hfs_cli_values(args, "sync", &n_syncs);
    if (plan_path) {
        rc = hfs_plan_read(&plan, plan_path);
        if (rc < 0)
            return hfs_cli_fail(rc);
    } else {
        /* Scheduled syncs (a cron job) make a scheduled run each: cmd_watch.c. */
        if ((exit_code = hfs_cli_apply_scheduled(cmd, args)) >= 0)
            return exit_code;
        plan = plan_for_apply(cmd, args, json, &lock, &exit_code);
        if (!plan) {
            hfs_apply_lock_release(lock);
            return exit_code;
        }
        exit_code = HFS_EXIT_OK;
        /* The plan holds the selected syncs only. */
        n_syncs = 0;
        syncs = NULL;
    }

    hfs_apply_options opts = HFS_APPLY_OPTIONS_INIT;
    printer = hfs_cli_apply_printer_new(&opts, args, stdout, (unsigned)jobs);
    opts.syncs = syncs;
    opts.n_syncs = n_syncs;
    opts.wait_lock = hfs_cli_flag(args, "wait");
    opts.lock_held = lock != NULL;
    hfs_cli_signals signals;
    hfs_cli_signals_catch(&signals);
    rc = hfs_apply(NULL, plan, &opts);
    hfs_cli_signals_restore(&signals);
    hfs_apply_printer_finish(printer);
    exit_code = hfs_cli_apply_exit(rc);
    hfs_apply_printer_free(printer);
    hfs_plan_free(plan);
    hfs_apply_lock_release(lock);
    return exit_code;
}

static const hfs_cli_opt apply_opts[] = {
    {"file", 'f', HFS_OPT_VALUE, "FILE", "plan this manifest and apply it (default ./hfsync.yaml)"},
    {"sync", 's', HFS_OPT_LIST, "NAME", "apply only this sync"},
    {"yes", 'y', HFS_OPT_FLAG, NULL, "apply without asking (needed when not on a terminal)"},
    HFS_CLI_OPT_JOBS,
    HFS_CLI_OPT_JSON,
    HFS_CLI_OPT_VERBOSE,
    {"quiet", 'q', HFS_OPT_FLAG, NULL, "print nothing but errors"},
    {"wait", 0, HFS_OPT_FLAG, NULL,
     "when another hfsync is applying a sync, wait for it (default: say so, exit 0)"},
    {NULL, 0, 0, NULL, NULL},
};

const hfs_cli_cmd hfs_cmd_apply = {
    .name = "apply",
    .summary = "carry out a saved plan, or plan the manifest and apply it",
    .usage = "[PLAN.json | -f FILE] [--sync NAME]... [--yes] [--jobs N] [--json]",
    .description =
        "With PLAN.json (from `hfsync plan -o`), carries out exactly that plan. First every pin\n"
        "is checked: a remote head that moved, or a local file whose size or content changed,\n"
        "stops the apply with exit 3 before anything is uploaded. Then per sync: the repo is\n"
        "created if the plan says so, the hub confirms each file's mode (preupload), LFS files\n"
        "upload in parallel, and the commit goes out with the planned head as its parent and\n"
        "the plan's id in its description (hfsync-plan: ID), so a commit that landed despite\n"
        "an error is recognised instead of being made twice.\n"
        "Without PLAN.json, plans the manifest first; on a terminal it shows the plan and asks,\n"
        "elsewhere it needs --yes. Progress goes to stderr (a bar on a terminal), commit URLs\n"
        "to stdout. Exit codes: 0 done or no changes, 1 error, 3 the plan is stale, 4 refused\n"
        "by a safety limit, 64 usage error.\n"
        "Each sync is locked while it is applied (.hfsync/state/SYNC/lock; with -f from before\n"
        "it is planned): a second apply of it says which process holds it and exits 0 (safe\n"
        "from cron), or waits with --wait (and then plans against what the holder left).\n"
        "An interrupted apply of the same plan resumes (.hfsync/state/SYNC/journal.json);\n"
        "`strategy: large` commits as it goes, and a re-run skips what landed.\n"
        "When every sync it applies has a `schedule:` (a cron job), each makes one scheduled\n"
        "run as `hfsync watch` does: the lock is taken before planning, append_only, pack and\n"
        "squash_history apply, and log lines carry UTC timestamps.",
    .opts = apply_opts,
    .min_args = 0,
    .max_args = 1,
    .run = run_apply,
};
