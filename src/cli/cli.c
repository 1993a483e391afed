/* Argument parsing and --help, both driven by each command's static option table. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int count;
    const char **values;
    size_t n_values;
} opt_value;

struct hfs_cli_args {
    const hfs_cli_cmd *cmd;
    opt_value *values; /* one per entry of cmd->opts */
    const char **pos;
    size_t n_pos;
};

static const hfs_cli_opt help_opt = {"help", 'h', HFS_OPT_FLAG, NULL, "show this help and exit"};

static const char *cmd_path_of[16][2]; /* cmd -> "a b" names, filled as commands are entered */
static size_t n_cmd_paths;
static char cmd_path_store[16][96];

const char *hfs_cli_cmd_path(const hfs_cli_cmd *cmd)
{
    for (size_t i = 0; i < n_cmd_paths; i++)
        if (cmd_path_of[i][0] == (const char *)cmd)
            return cmd_path_of[i][1];
    return cmd->name;
}

static void remember_path(const hfs_cli_cmd *cmd, const char *parent)
{
    if (n_cmd_paths >= 16)
        return;
    if (parent)
        snprintf(cmd_path_store[n_cmd_paths], sizeof(cmd_path_store[0]), "%s %s", parent,
                 cmd->name);
    else
        snprintf(cmd_path_store[n_cmd_paths], sizeof(cmd_path_store[0]), "%s", cmd->name);
    cmd_path_of[n_cmd_paths][0] = (const char *)cmd;
    cmd_path_of[n_cmd_paths][1] = cmd_path_store[n_cmd_paths];
    n_cmd_paths++;
}

static size_t n_opts(const hfs_cli_cmd *cmd)
{
    size_t n = 0;
    while (cmd->opts && cmd->opts[n].name)
        n++;
    return n;
}

static int find_opt(const hfs_cli_cmd *cmd, const char *name)
{
    for (size_t i = 0; i < n_opts(cmd); i++)
        if (strcmp(cmd->opts[i].name, name) == 0)
            return (int)i;
    return -1;
}

bool hfs_cli_flag(const hfs_cli_args *a, const char *name)
{
    int i = find_opt(a->cmd, name);
    return i >= 0 && a->values[i].count > 0;
}

const char *hfs_cli_value(const hfs_cli_args *a, const char *name)
{
    int i = find_opt(a->cmd, name);
    if (i < 0 || a->values[i].n_values == 0)
        return NULL;
    return a->values[i].values[a->values[i].n_values - 1];
}

const char *const *hfs_cli_values(const hfs_cli_args *a, const char *name, size_t *count)
{
    int i = find_opt(a->cmd, name);
    if (i < 0) {
        *count = 0;
        return NULL;
    }
    *count = a->values[i].n_values;
    return a->values[i].values;
}

size_t hfs_cli_npos(const hfs_cli_args *a)
{
    return a->n_pos;
}

const char *hfs_cli_pos(const hfs_cli_args *a, size_t i)
{
    return i < a->n_pos ? a->pos[i] : NULL;
}

int hfs_cli_usage_error(const hfs_cli_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hfsync: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (cmd)
        fprintf(stderr, " (see 'hfsync %s --help')\n", hfs_cli_cmd_path(cmd));
    else
        fputs(" (see 'hfsync --help')\n", stderr);
    return HFS_EXIT_USAGE;
}

int hfs_cli_fail(int error)
{
    const char *msg = hfs_error_last();
    fprintf(stderr, "hfsync: error: %s\n", *msg ? msg : "unknown error");
    return hfs_exit_code_for(error);
}

bool hfs_cli_int(const hfs_cli_cmd *cmd, const hfs_cli_args *a, const char *name, long min,
                 long max, long *out, int *exit_code)
{
    const char *v = hfs_cli_value(a, name);
    if (!v)
        return true;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < min || n > max) {
        *exit_code = hfs_cli_usage_error(cmd, "--%s expects a whole number from %ld to %ld, got '%s'",
                                         name, min, max, v);
        return false;
    }
    *out = n;
    return true;
}

static void print_opt_help(FILE *f, const hfs_cli_opt *o)
{
    char left[64];
    if (o->short_name)
        snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name, o->arg ? " " : "",
                 o->arg ? o->arg : "");
    else
        snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->arg ? " " : "",
                 o->arg ? o->arg : "");
    fprintf(f, "  %-28s %s%s\n", left, o->help, o->kind == HFS_OPT_LIST ? " (repeatable)" : "");
}

static void print_cmd_help(FILE *f, const hfs_cli_cmd *cmd)
{
    fprintf(f, "usage: hfsync %s %s\n\n%s\n", hfs_cli_cmd_path(cmd), cmd->usage ? cmd->usage : "",
            cmd->summary);
    if (cmd->description)
        fprintf(f, "\n%s\n", cmd->description);
    if (cmd->subcommands) {
        fputs("\ncommands:\n", f);
        for (size_t i = 0; cmd->subcommands[i]; i++)
            fprintf(f, "  %-16s %s\n", cmd->subcommands[i]->name, cmd->subcommands[i]->summary);
    }
    fputs("\noptions:\n", f);
    for (size_t i = 0; i < n_opts(cmd); i++)
        print_opt_help(f, &cmd->opts[i]);
    print_opt_help(f, &help_opt);
}

static void print_main_help(FILE *f)
{
    fputs("usage: hfsync [--version] [--help] COMMAND [ARGS]\n\n"
          "Keep folders on disk in sync with repositories on the Hugging Face Hub.\n\ncommands:\n",
          f);
    for (size_t i = 0; hfs_cli_commands[i]; i++)
        fprintf(f, "  %-20s %s\n", hfs_cli_commands[i]->name, hfs_cli_commands[i]->summary);
    fputs("\nRun 'hfsync COMMAND --help' for a command's options.\n"
          "Exit codes: 0 done or no changes, 1 error, 2 changes present (plan "
          "--detailed-exitcode),\n3 plan is stale, 4 refused by a safety limit, 64 usage error.\n",
          f);
}

static const hfs_cli_opt *match_long(const hfs_cli_cmd *cmd, const char *name, size_t len,
                                     int *index)
{
    for (size_t i = 0; i < n_opts(cmd); i++)
        if (strlen(cmd->opts[i].name) == len && strncmp(cmd->opts[i].name, name, len) == 0) {
            *index = (int)i;
            return &cmd->opts[i];
        }
    return NULL;
}

static const hfs_cli_opt *match_short(const hfs_cli_cmd *cmd, char c, int *index)
{
    for (size_t i = 0; i < n_opts(cmd); i++)
        if (cmd->opts[i].short_name == c) {
            *index = (int)i;
            return &cmd->opts[i];
        }
    return NULL;
}

static void add_value(opt_value *v, const char *value)
{
    v->count++;
    if (!value)
        return;
    v->values = realloc(v->values, (v->n_values + 1) * sizeof(*v->values));
    if (!v->values)
        abort();
    v->values[v->n_values++] = value;
}

static int run_cmd(const hfs_cli_cmd *cmd, int argc, char **argv, const char *parent)
{
    remember_path(cmd, parent);
    if (cmd->subcommands) {
        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
            print_cmd_help(argc < 2 ? stderr : stdout, cmd);
            return argc < 2 ? HFS_EXIT_USAGE : HFS_EXIT_OK;
        }
        for (size_t i = 0; cmd->subcommands[i]; i++)
            if (strcmp(cmd->subcommands[i]->name, argv[1]) == 0)
                return run_cmd(cmd->subcommands[i], argc - 1, argv + 1, hfs_cli_cmd_path(cmd));
        return hfs_cli_usage_error(cmd, "unknown command '%s %s'", hfs_cli_cmd_path(cmd),
                                   argv[1]);
    }

    int rc;
    hfs_cli_args a = {cmd, calloc(n_opts(cmd) + 1, sizeof(opt_value)), NULL, 0};
    a.pos = calloc((size_t)argc + 1, sizeof(*a.pos));
    if (!a.values || !a.pos)
        abort();
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int idx = -1;
        const hfs_cli_opt *o = NULL;
        const char *value = NULL;
        if (only_pos || arg[0] != '-' || arg[1] == '\0') {
            a.pos[a.n_pos++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_cmd_help(stdout, cmd);
            rc = HFS_EXIT_OK;
            goto done;
        }
        if (arg[1] == '-') {
            const char *name = arg + 2, *eq = strchr(name, '=');
            o = match_long(cmd, name, eq ? (size_t)(eq - name) : strlen(name), &idx);
            if (!o) {
                rc = hfs_cli_usage_error(cmd, "unknown option '%.*s'",
                                         (int)(eq ? (size_t)(eq - arg) : strlen(arg)), arg);
                goto done;
            }
            if (eq) {
                if (o->kind == HFS_OPT_FLAG) {
                    rc = hfs_cli_usage_error(cmd, "option '--%s' takes no value", o->name);
                    goto done;
                }
                value = eq + 1;
            }
        } else {
            o = match_short(cmd, arg[1], &idx);
            if (!o) {
                rc = hfs_cli_usage_error(cmd, "unknown option '-%c'", arg[1]);
                goto done;
            }
            if (arg[2]) {
                if (o->kind == HFS_OPT_FLAG) {
                    rc = hfs_cli_usage_error(cmd, "option '-%c' takes no value", arg[1]);
                    goto done;
                }
                value = arg + 2;
            }
        }
        if (o->kind != HFS_OPT_FLAG && !value) {
            if (i + 1 >= argc) {
                rc = hfs_cli_usage_error(cmd, "option '--%s' needs a value (%s)", o->name,
                                         o->arg ? o->arg : "VALUE");
                goto done;
            }
            value = argv[++i];
        }
        add_value(&a.values[idx], value);
    }
    if (a.n_pos < cmd->min_args) {
        rc = hfs_cli_usage_error(cmd, "'%s' needs more arguments: %s", hfs_cli_cmd_path(cmd),
                                 cmd->usage ? cmd->usage : "");
        goto done;
    }
    if (a.n_pos > cmd->max_args) {
        rc = hfs_cli_usage_error(cmd, "unexpected argument '%s'", a.pos[cmd->max_args]);
        goto done;
    }
    /* --verbose shows the debug notes too: what a run decided without a word otherwise. */
    if (hfs_cli_flag(&a, "verbose"))
        hfs_log_debug(true);
    rc = cmd->run(cmd, &a);
done:
    for (size_t i = 0; i < n_opts(cmd); i++)
        free(a.values[i].values);
    free(a.values);
    free(a.pos);
    return rc;
}

int hfs_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        print_main_help(stderr);
        return HFS_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        if (argc > 2 && strcmp(argv[1], "help") == 0)
            for (size_t i = 0; hfs_cli_commands[i]; i++)
                if (strcmp(hfs_cli_commands[i]->name, argv[2]) == 0) {
                    char *sub[] = {argv[2], "--help", NULL};
                    return run_cmd(hfs_cli_commands[i], 2, sub, NULL);
                }
        print_main_help(stdout);
        return HFS_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("hfsync %s\n", hfs_version());
        return HFS_EXIT_OK;
    }
    for (size_t i = 0; hfs_cli_commands[i]; i++)
        if (strcmp(hfs_cli_commands[i]->name, argv[1]) == 0)
            return run_cmd(hfs_cli_commands[i], argc - 1, argv + 1, NULL);
    if (argv[1][0] == '-')
        return hfs_cli_usage_error(NULL, "unknown option '%s'", argv[1]);
    return hfs_cli_usage_error(NULL, "unknown command '%s'", argv[1]);
}
