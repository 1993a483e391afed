/* The table of top-level commands: it drives dispatch and `hfsync --help`. */
#include "cli.h"

/* Add a command here when it works: one extern and one table entry. */
extern const hfs_cli_cmd hfs_cmd_validate;

const hfs_cli_cmd *const hfs_cli_commands[] = {
    &hfs_cmd_validate,
    NULL,
};
