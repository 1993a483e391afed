/* The command-line tool's framework: one static table per command drives both argument
 * parsing and --help. Each command lives in its own cmd_*.c and is listed in commands.c. */
#ifndef HFS_CLI_H
#define HFS_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "hfsync.h"

typedef enum {
    HFS_OPT_FLAG,  /* --yes */
    HFS_OPT_VALUE, /* --format json, --format=json, -f FILE (last one wins) */
    HFS_OPT_LIST,  /* --sync a --sync b (every one kept, in order) */
} hfs_opt_kind;

typedef struct {
    const char *name; /* long name, without "--" */
    char short_name;  /* 0 when none */
    hfs_opt_kind kind;
    const char *arg;  /* the value's placeholder in --help, e.g. "FILE" */
    const char *help;
} hfs_cli_opt;

typedef struct hfs_cli_args hfs_cli_args;
typedef struct hfs_cli_cmd hfs_cli_cmd;

struct hfs_cli_cmd {
    const char *name;
    const char *summary; /* one line, for the command list */
    const char *usage;   /* what follows "hfsync NAME", e.g. "[-f FILE]" */
    const char *description; /* a paragraph for --help; may be NULL */
    const hfs_cli_opt *opts; /* terminated by an entry with name == NULL */
    size_t min_args, max_args; /* positional arguments */
    int (*run)(const hfs_cli_cmd *cmd, hfs_cli_args *args); /* returns an exit code */
    const hfs_cli_cmd *const *subcommands; /* NULL-terminated; for groups like "hub" */
};

/* Option values after parsing. Names are the long names of the command's table. */
bool hfs_cli_flag(const hfs_cli_args *a, const char *name);
const char *hfs_cli_value(const hfs_cli_args *a, const char *name); /* NULL when not given */
const char *const *hfs_cli_values(const hfs_cli_args *a, const char *name, size_t *count);
size_t hfs_cli_npos(const hfs_cli_args *a);
const char *hfs_cli_pos(const hfs_cli_args *a, size_t i); /* NULL past the end */

/* Prints "hfsync: MESSAGE" and a hint to see --help, and returns HFS_EXIT_USAGE. */
int hfs_cli_usage_error(const hfs_cli_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints the library's last error as "hfsync: error: …" and returns the matching exit code. */
int hfs_cli_fail(int error);

/* Parses an integer option value; a bad one is a usage error (returns false). */
bool hfs_cli_int(const hfs_cli_cmd *cmd, const hfs_cli_args *a, const char *name, long min,
                 long max, long *out, int *exit_code);

/* The full command name for messages, e.g. "hub serve". */
const char *hfs_cli_cmd_path(const hfs_cli_cmd *cmd);

/* ---- cli_common.c: what several commands share ---------------------------------------- */

/* Option table entries that read the same in every command that has them. A table is a
 * static array, so they are initialisers rather than objects. */
#define HFS_CLI_OPT_REVISION                                                                       \
    {                                                                                              \
        "revision", 0, HFS_OPT_VALUE, "REV", "the branch to commit to (default main)"              \
    }
#define HFS_CLI_OPT_PRIVATE                                                                        \
    {                                                                                              \
        "private", 0, HFS_OPT_FLAG, NULL, "create the repo private when it does not exist"         \
    }
#define HFS_CLI_OPT_TOKEN                                                                          \
    {                                                                                              \
        "token", 0, HFS_OPT_VALUE, "TOKEN",                                                        \
            "the token to use (default HF_TOKEN, else the token file)"                             \
    }
#define HFS_CLI_OPT_JOBS                                                                           \
    {                                                                                              \
        "jobs", 'j', HFS_OPT_VALUE, "N", "parallel LFS transfers (default 8)"                      \
    }
#define HFS_CLI_OPT_JSON                                                                           \
    {                                                                                              \
        "json", 0, HFS_OPT_FLAG, NULL, "one JSON event per line on stdout"                         \
    }
#define HFS_CLI_OPT_VERBOSE                                                                        \
    {                                                                                              \
        "verbose", 'v', HFS_OPT_FLAG, NULL,                                                        \
            "log every request and response (the token redacted), and debug notes"                 \
    }

/* --repo-type into *out (left alone when the option is not given); a name that is not a
 * repo type is a usage error (returns false, *exit_code set). */
bool hfs_cli_repo_type(const hfs_cli_cmd *cmd, const hfs_cli_args *a, hfs_repo_type *out,
                       int *exit_code);

/* --token (NULL: not given) for the planner, which reads the token from the environment like
 * every HF tool does. */
void hfs_cli_use_token(const char *token);

/* The printer of an apply (--json, --quiet, else a bar when stderr is a terminal, else plain
 * lines), with *opts (initialised by the caller) wired to it: its events, --verbose, `jobs`,
 * and cancelled by the first signal. `out` gets the --json events and the results. */
hfs_apply_printer *hfs_cli_apply_printer_new(hfs_apply_options *opts, const hfs_cli_args *a,
                                             FILE *out, unsigned jobs);

/* The printer of scheduled runs (--json, --quiet, else timestamped log lines), with *opts
 * wired to it as above; the caller says what the signals do (stop, cancel). */
hfs_watch_printer *hfs_cli_watch_printer_new(hfs_watch_options *opts, const hfs_cli_args *a,
                                             unsigned jobs);

/* Loads the manifest at `path` (NULL: ./hfsync.yaml), printing every problem the way
 * `hfsync validate` does; returns the exit code (HFS_EXIT_OK when it loaded). */
int hfs_cli_load_manifest(hfs_manifest **out, const char *path);

/* "yes" or "y" to "Apply these changes?" on the terminal. */
bool hfs_cli_confirm(void);

/* The first SIGINT or SIGTERM sets hfs_cli_stop, a second one hfs_cli_cancel too: a command
 * that runs until stopped finishes its work on the first and drops it on the second, and a
 * one-shot command cancels on the first (it hands the library hfs_cli_stop as its cancel). */
extern volatile int hfs_cli_stop;
extern volatile int hfs_cli_cancel;

typedef struct {
    struct sigaction old_int, old_term;
} hfs_cli_signals;

/* Catches SIGINT and SIGTERM as above until hfs_cli_signals_restore puts the old handlers
 * back. */
void hfs_cli_signals_catch(hfs_cli_signals *saved);
void hfs_cli_signals_restore(const hfs_cli_signals *saved);

/* The exit code of an apply that returned rc: another hfsync holding the lock is not a
 * failure of this run (cron's contract), so it is only said. */
int hfs_cli_apply_exit(int rc);

/* The table of top-level commands (commands.c). */
extern const hfs_cli_cmd *const hfs_cli_commands[];

#endif
