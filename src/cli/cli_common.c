/* What several commands share (declared in cli.h): apply, watch and the uploads' common
 * options, their signal handling and printers, the manifest load, the question before an apply. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

volatile int hfs_cli_stop;
volatile int hfs_cli_cancel;

bool hfs_cli_repo_type(const hfs_cli_cmd *cmd, const hfs_cli_args *a, hfs_repo_type *out,
                       int *exit_code)
{
    static const hfs_repo_type types[] = {HFS_REPO_MODEL, HFS_REPO_DATASET, HFS_REPO_SPACE};
    const char *name = hfs_cli_value(a, "repo-type");
    if (!name)
        return true;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(name, hfs_repo_type_name(types[i])) == 0) {
            *out = types[i];
            return true;
        }
    *exit_code =
        hfs_cli_usage_error(cmd, "--repo-type must be model, dataset or space, not '%s'", name);
    return false;
}

void hfs_cli_use_token(const char *token)
{
    if (!token)
        return;
    /* An explicit token is meant to be used even where implicit ones are turned off. */
    setenv("HF_TOKEN", token, 1);
    unsetenv("HF_HUB_DISABLE_IMPLICIT_TOKEN");
}

/* --json, --quiet, else a progress bar when `bar` and stderr is a terminal, else plain lines. */
static hfs_apply_print_mode print_mode(const hfs_cli_args *a, bool bar)
{
    if (hfs_cli_flag(a, "json"))
        return HFS_APPLY_PRINT_JSON;
    if (hfs_cli_flag(a, "quiet"))
        return HFS_APPLY_PRINT_QUIET;
    return bar && isatty(STDERR_FILENO) ? HFS_APPLY_PRINT_BAR : HFS_APPLY_PRINT_PLAIN;
}

hfs_apply_printer *hfs_cli_apply_printer_new(hfs_apply_options *opts, const hfs_cli_args *a,
                                             FILE *out, unsigned jobs)
{
    hfs_apply_printer *printer = hfs_apply_printer_new(print_mode(a, true), out, stderr);
    opts->jobs = jobs;
    opts->verbose = hfs_cli_flag(a, "verbose");
    opts->event = hfs_apply_printer_event;
    opts->event_ctx = printer;
    opts->cancel = &hfs_cli_stop;
    return printer;
}

hfs_watch_printer *hfs_cli_watch_printer_new(hfs_watch_options *opts, const hfs_cli_args *a,
                                             unsigned jobs)
{
    hfs_watch_printer *printer = hfs_watch_printer_new(print_mode(a, false), stdout, stderr);
    opts->jobs = jobs;
    opts->verbose = hfs_cli_flag(a, "verbose");
    opts->event = hfs_watch_printer_event;
    opts->event_ctx = printer;
    return printer;
}

int hfs_cli_load_manifest(hfs_manifest **out, const char *path)
{
    hfs_diag_list diags = HFS_DIAG_LIST_INIT;
    int rc = hfs_manifest_load(out, path ? path : "hfsync.yaml", &diags);
    if (rc != 0 && diags.count == 0) {
        hfs_diag_list_free(&diags);
        return hfs_cli_fail(rc);
    }
    for (size_t i = 0; i < diags.count; i++) {
        char *line = hfs_diag_format(&diags.items[i]);
        fprintf(stderr, "%s\n", line);
        free(line);
    }
    if (diags.dropped)
        fprintf(stderr, "%s: %zu more problems not shown\n", diags.items[0].file, diags.dropped);
    hfs_diag_list_free(&diags);
    return rc != 0 ? HFS_EXIT_ERROR : HFS_EXIT_OK;
}

bool hfs_cli_confirm(void)
{
    char answer[32];
    fputs("Apply these changes? Type 'yes' to go on: ", stderr);
    fflush(stderr);
    if (!fgets(answer, sizeof(answer), stdin))
        return false;
    answer[strcspn(answer, "\r\n")] = '\0';
    return strcmp(answer, "yes") == 0 || strcmp(answer, "y") == 0;
}

static void on_signal(int sig)
{
    (void)sig;
    if (hfs_cli_stop)
        hfs_cli_cancel = 1;
    hfs_cli_stop = 1;
}

void hfs_cli_signals_catch(hfs_cli_signals *saved)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &saved->old_int);
    sigaction(SIGTERM, &sa, &saved->old_term);
}

void hfs_cli_signals_restore(const hfs_cli_signals *saved)
{
    sigaction(SIGINT, &saved->old_int, NULL);
    sigaction(SIGTERM, &saved->old_term, NULL);
}

int hfs_cli_apply_exit(int rc)
{
    if (rc == HFS_ELOCKED) {
        fprintf(stderr, "hfsync: %s\n", hfs_error_last());
        return HFS_EXIT_OK;
    }
    return rc < 0 ? hfs_cli_fail(rc) : HFS_EXIT_OK;
}
