/* `hfsync watch`: run the manifest's scheduled syncs until SIGINT or SIGTERM, then a last run
 * of each (CommitScheduler's semantics); timestamped log lines on stderr, or --json events. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* The first SIGINT / SIGTERM asks for a last run of each sync; a second one cancels the
 * runs in flight (what they uploaded is found again by the next run). */
static volatile int stop_requested;
static volatile int cancel_requested;

static void on_signal(int sig)
{
    (void)sig;
    if (stop_requested)
        cancel_requested = 1;
    stop_requested = 1;
}

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

/* Load the manifest, printing every problem the way `hfsync validate` does. */
static int load_manifest(hfs_manifest **out, const char *path)
{
    hfs_diag_list diags = HFS_DIAG_LIST_INIT;
    int rc = hfs_manifest_load(out, path, &diags);
    if (rc != 0 && diags.count == 0) {
        hfs_diag_list_free(&diags);
        return hfs_cli_fail(rc);
    }
    for (size_t i = 0; i < diags.count; i++) {
        char *line = hfs_diag_format(&diags.items[i]);
        fprintf(stderr, "%s\n", line);
        free(line);
    }
    hfs_diag_list_free(&diags);
    return rc != 0 ? HFS_EXIT_ERROR : HFS_EXIT_OK;
}

static int run_watch(const hfs_cli_cmd *cmd, hfs_cli_args *args)
{
    const char *path = hfs_cli_value(args, "file");
    hfs_manifest *m = NULL;
    long jobs = 0;
    int exit_code = HFS_EXIT_OK;

    if (!hfs_cli_int(cmd, args, "jobs", 1, 256, &jobs, &exit_code))
        return exit_code;
    if ((exit_code = load_manifest(&m, path ? path : "hfsync.yaml")) != HFS_EXIT_OK)
        return exit_code;

    hfs_apply_print_mode mode = hfs_cli_flag(args, "json")    ? HFS_APPLY_PRINT_JSON
                                : hfs_cli_flag(args, "quiet") ? HFS_APPLY_PRINT_QUIET
                                                              : HFS_APPLY_PRINT_PLAIN;
    hfs_watch_printer *printer = hfs_watch_printer_new(mode, stdout, stderr);
    hfs_watch_options opts = HFS_WATCH_OPTIONS_INIT;
    opts.syncs = hfs_cli_values(args, "sync", &opts.n_syncs);
    opts.jobs = (unsigned)jobs;
    opts.verbose = hfs_cli_flag(args, "verbose");
    opts.event = hfs_watch_printer_event;
    opts.event_ctx = printer;
    opts.stop = &stop_requested;
    opts.cancel = &cancel_requested;

    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    hfs_watch_result res;
    int rc = hfs_watch(&res, m, &opts);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
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
    char answer[32];
    hfs_plan_print(stderr, plan, HFS_PLAN_TEXT);
    fputs("Apply these changes? Type 'yes' to go on: ", stderr);
    fflush(stderr);
    if (!fgets(answer, sizeof(answer), stdin))
        return false;
    answer[strcspn(answer, "\r\n")] = '\0';
    bool yes = strcmp(answer, "yes") == 0 || strcmp(answer, "y") == 0;
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
    if ((exit_code = load_manifest(&m, path ? path : "hfsync.yaml")) != HFS_EXIT_OK)
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

    hfs_apply_print_mode mode = hfs_cli_flag(args, "json")    ? HFS_APPLY_PRINT_JSON
                                : hfs_cli_flag(args, "quiet") ? HFS_APPLY_PRINT_QUIET
                                                              : HFS_APPLY_PRINT_PLAIN;
    hfs_watch_printer *printer = hfs_watch_printer_new(mode, stdout, stderr);
    hfs_watch_options opts = HFS_WATCH_OPTIONS_INIT;
    opts.syncs = syncs;
    opts.n_syncs = n_syncs;
    opts.jobs = (unsigned)jobs;
    opts.verbose = hfs_cli_flag(args, "verbose");
    opts.event = hfs_watch_printer_event;
    opts.event_ctx = printer;
    opts.cancel = &stop_requested;
    opts.wait_lock = hfs_cli_flag(args, "wait");
    if (!yes)
        opts.review = ask;

    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    hfs_watch_result res;
    int rc = hfs_watch_run(&res, m, &opts);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
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
    {"jobs", 'j', HFS_OPT_VALUE, "N", "parallel LFS transfers (default 8)"},
    {"json", 0, HFS_OPT_FLAG, NULL, "one JSON event per line on stdout"},
    {"verbose", 'v', HFS_OPT_FLAG, NULL, "log every request and response (the token redacted)"},
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
