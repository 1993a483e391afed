/* The command-line tool's framework: one static table per command drives both argument
 * parsing and --help. Each command lives in its own cmd_*.c and is listed in commands.c. */
#ifndef HFS_CLI_H
#define HFS_CLI_H

#include <stdbool.h>
#include <stddef.h>

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

/* The table of top-level commands (commands.c). */
extern const hfs_cli_cmd *const hfs_cli_commands[];

#endif
