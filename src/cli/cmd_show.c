/* `hfsync show`: render a saved plan file (text, JSON or Markdown) after checking that it is
 * exactly what `hfsync plan` wrote (its plan_id matches its content). */
#include <stdio.h>

#include "cli.h"

static int run_show(const hfs_cli_cmd *cmd, hfs_cli_args *args)
{
    const char *format_name = hfs_cli_value(args, "format");
    hfs_plan_format format = HFS_PLAN_TEXT;
    hfs_plan *plan = NULL;
    int exit_code = HFS_EXIT_OK;

    if (format_name && hfs_plan_format_parse(&format, format_name) < 0)
        return hfs_cli_usage_error(cmd, "%s", hfs_error_last());
    int rc = hfs_plan_read(&plan, hfs_cli_pos(args, 0));
    if (rc == 0)
        rc = hfs_plan_print(stdout, plan, format);
    if (rc < 0)
        exit_code = hfs_cli_fail(rc);
    else if (hfs_cli_flag(args, "detailed-exitcode") && hfs_plan_has_changes(plan))
        exit_code = HFS_EXIT_CHANGES;
    hfs_plan_free(plan);
    return exit_code;
}

static const hfs_cli_opt show_opts[] = {
    {"format", 0, HFS_OPT_VALUE, "FORMAT", "text (default), json or markdown"},
    {"detailed-exitcode", 0, HFS_OPT_FLAG, NULL,
     "exit 2 when the plan changes something, 0 when not"},
    {NULL, 0, 0, NULL, NULL},
};

const hfs_cli_cmd hfs_cmd_show = {
    .name = "show",
    .summary = "render a saved plan (text, JSON, or Markdown for a pull request)",
    .usage = "PLAN [--format text|json|markdown]",
    .description =
        "Reads a plan written by 'hfsync plan -o PLAN' and prints it. The plan's plan_id must\n"
        "match its content: a plan edited by hand is refused. --format markdown gives a\n"
        "pull-request comment with one collapsible section per sync.",
    .opts = show_opts,
    .min_args = 1,
    .max_args = 1,
    .run = run_show,
};
