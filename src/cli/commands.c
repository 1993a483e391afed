/* The table of top-level commands: it drives dispatch and `hfsync --help`. */
#include "cli.h"

/* Add a command here when it works: one extern and one table entry. */
extern const hfs_cli_cmd hfs_cmd_validate;
extern const hfs_cli_cmd hfs_cmd_hub;
extern const hfs_cli_cmd hfs_cmd_plan;
extern const hfs_cli_cmd hfs_cmd_show;
extern const hfs_cli_cmd hfs_cmd_apply;
extern const hfs_cli_cmd hfs_cmd_upload;
extern const hfs_cli_cmd hfs_cmd_upload_large_folder;
extern const hfs_cli_cmd hfs_cmd_watch;

const hfs_cli_cmd *const hfs_cli_commands[] = {
    &hfs_cmd_validate,
    &hfs_cmd_hub,
    &hfs_cmd_plan,
    &hfs_cmd_show,
    &hfs_cmd_apply,
    &hfs_cmd_upload,
    &hfs_cmd_upload_large_folder,
    &hfs_cmd_watch,
    NULL,
};
