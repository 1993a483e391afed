/* `hfsync watch`: run the manifest's scheduled syncs until SIGINT or SIGTERM, then a last run
 * of each (CommitScheduler's semantics); timestamped log lines on stderr, or --json events. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* The final error as a log line like the others (UTC timestamp); returns the exit code. */
static int fail_logged(int rc)
{
    char stamp[32];
    struct tm tm;
    time_t now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s hfsync: error: %s\n", stamp, hfs_error_last());
    return hfs_exit_code_for(rc);
}

static int run_watch(const hfs_cli_cmd *cmd, hfs_cli_args *args)
{
    const char *path = hfs_cli_value(args, "file");
    hfs_manifest *m = NULL;
    long jobs = 0;
    int exit_code = HFS_EXIT_OK;

    if (!hfs_cli_int(cmd, args, "jobs", 1, 256, &jobs, &exit_code))
        return exit_code;
    if ((exit_code = hfs_cli_load_manifest(&m, path)) != HFS_EXIT_OK)
        return exit_code;

    hfs_watch_options opts = HFS_WATCH_OPTIONS_INIT;
    hfs_watch_printer *printer = hfs_cli_watch_printer_new(&opts, args, (unsigned)jobs);
    opts.syncs = hfs_cli_values(args, "sync", &opts.n_syncs);
    /* The first signal asks for a last run of each sync; a second one cancels the runs in
     * flight (what they uploaded is found again by the next run). */
    opts.stop = &hfs_cli_stop;
    opts.cancel = &hfs_cli_cancel;

    hfs_cli_signals signals;
    hfs_cli_signals_catch(&signals);
    hfs_watch_result res;
    int rc = hfs_watch(&res, m, &opts);
    hfs_cli_signals_restore(&signals);
    if (rc < 0)
        exit_code = res.n_syncs ? fail_logged(rc) : hfs_cli_fail(rc);
    hfs_watch_result_clear(&res);
    hfs_watch_printer_free(printer);
    hfs_manifest_free(m);
    return exit_code;
}

/* ---- `hfsync apply -f M` of scheduled syncs: the cron form of a watch run ---------------- */

static bool ask(void *ctx, const hfs_plan *plan)
{
    (void)ctx;
    hfs_plan_print(stderr, plan, HFS_PLAN_TEXT);
    bool yes = hfs_cli_confirm();
    if (!yes)
        fprintf(stderr, "Nothing was changed.\n");
    return yes;
}

/* Does the apply name only scheduled syncs (every sync of the manifest, or the --sync ones)? */
static bool all_scheduled(const hfs_manifest *m, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const hfs_sync *s = hfs_manifest_find_sync(m, names[i]);
        if (!s || !s->scheduled)
            return false;
    }
    for (size_t i = 0; n == 0 && i < m->n_syncs; i++)
        if (!m->syncs[i].scheduled)
            return false;
    return m->n_syncs > 0;
}

/* `hfsync apply -f M [--sync NAME]` when every sync it applies has a schedule (a cron job
 * running them): each makes one scheduled run, as `hfsync watch` would (its lock taken
 * before planning, append_only, pack, squash_history, files growing meanwhile sent up to
 * their scanned size), with timestamped log lines. A sync another hfsync is running is left
 * to it (exit 0), or waited for with --wait. Returns the exit code, or -1 when the apply is
 * not of scheduled syncs only (it then goes on as usual). */
int hfs_cli_apply_scheduled(const hfs_cli_cmd *cmd, hfs_cli_args *args);
int hfs_cli_apply_scheduled(const hfs_cli_cmd *cmd, hfs_cli_args *args)
{
    const char *path = hfs_cli_value(args, "file");
    bool yes = hfs_cli_flag(args, "yes");
    bool terminal = isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
    hfs_manifest *m = NULL;
    long jobs = 0;
    int exit_code = HFS_EXIT_OK;

    if (hfs_cli_pos(args, 0))
        return -1;
    if (!hfs_cli_int(cmd, args, "jobs", 1, 256, &jobs, &exit_code))
        return exit_code;
    if ((exit_code = hfs_cli_load_manifest(&m, path)) != HFS_EXIT_OK)
        return exit_code;
    size_t n_syncs;
    const char *const *syncs = hfs_cli_values(args, "sync", &n_syncs);
    if (!all_scheduled(m, syncs, n_syncs)) {
        hfs_manifest_free(m);
        return -1;
    }
    if (!yes && !terminal) {
        hfs_manifest_free(m);
        return hfs_cli_usage_error(
            cmd, "not on a terminal, so there is no one to confirm the plan: pass --yes (as a "
                 "cron job does)");
    }

    hfs_watch_options opts = HFS_WATCH_OPTIONS_INIT;
    hfs_watch_printer *printer = hfs_cli_watch_printer_new(&opts, args, (unsigned)jobs);
    opts.syncs = syncs;
    opts.n_syncs = n_syncs;
    opts.cancel = &hfs_cli_stop;
    opts.wait_lock = hfs_cli_flag(args, "wait");
    if (!yes)
        opts.review = ask;

    hfs_cli_signals signals;
    hfs_cli_signals_catch(&signals);
    hfs_watch_result res;
    int rc = hfs_watch_run(&res, m, &opts);
    hfs_cli_signals_restore(&signals);
    /* A run that failed said why in its own log line already. */
    bool said = false;
    for (size_t i = 0; i < res.n_syncs; i++)
        said |= res.syncs[i].failures > 0;
    exit_code = rc == 0 ? HFS_EXIT_OK : said ? hfs_exit_code_for(rc) : hfs_cli_fail(rc);
    hfs_watch_result_clear(&res);
    hfs_watch_printer_free(printer);
    hfs_manifest_free(m);
    return exit_code;
}

static const hfs_cli_opt watch_opts[] = {
    {"file", 'f', HFS_OPT_VALUE, "FILE", "the manifest (default ./hfsync.yaml)"},
    {"sync", 's', HFS_OPT_LIST, "NAME", "watch only this scheduled sync"},
    HFS_CLI_OPT_JOBS,
    HFS_CLI_OPT_JSON,
    HFS_CLI_OPT_VERBOSE,
    {"quiet", 'q', HFS_OPT_FLAG, NULL, "log errors only"},
    {NULL, 0, 0, NULL, NULL},
};

const hfs_cli_cmd hfs_cmd_watch = {
    .name = "watch",
    .summary = "run the manifest's scheduled syncs until stopped (like CommitScheduler)",
    .usage = "[-f FILE] [--sync NAME]... [--json]",
    .description =
        "Runs every sync that has a `schedule:` on its own period (each on its own thread, so\n"
        "a slow one never delays another): a run at once, then one every `schedule.every`.\n"
        "Each run takes the sync's lock (the one `hfsync apply` takes, so cron runs and watch\n"
        "never overlap), plans, and pushes only when something changed: no empty commits.\n"
        "Files that grow while they are sent go up to their size at the scan; with\n"
        "append_only the hub's files only ever grow; with pack, new files matching its\n"
        "patterns go up as one zip; with squash_history the branch is squashed after a push.\n"
        "Failures (network, 5xx, 429) are logged and retried at the next run; errors that\n"
        "need you (401, 403, a missing repo) are logged on every run.\n"
        "SIGINT or SIGTERM: each sync finishes its run, makes a last one, and watch exits 0\n"
        "when those succeeded, else 1 naming the syncs that failed. A second signal stops at\n"
        "once. Log lines go to stderr with UTC timestamps.",
    .opts = watch_opts,
    .min_args = 0,
    .max_args = 0,
    .run = run_watch,
};
