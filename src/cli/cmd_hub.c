/* `hfsync hub serve` runs the local hub; `hfsync hub token create` makes a token for it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const hfs_cli_opt serve_opts[] = {
    {"root", 0, HFS_OPT_VALUE, "DIR", "where repos, LFS objects and tokens live (default "
                                      HFS_HUBD_DEFAULT_ROOT ")"},
    {"listen", 0, HFS_OPT_VALUE, "HOST:PORT",
     "address to listen on (default " HFS_HUBD_DEFAULT_LISTEN "; port 0 picks a free one)"},
    {"port-file", 0, HFS_OPT_VALUE, "FILE", "write the port listened on to FILE (for scripts)"},
    {"token", 0, HFS_OPT_LIST, "TOKEN",
     "accept TOKEN (hf_...) as a write token of user 'user' in every namespace"},
    {"multipart-threshold", 0, HFS_OPT_VALUE, "SIZE",
     "LFS objects above SIZE upload in parts (default 500MiB; e.g. 6MB, 10MiB, 6000000)"},
    {"fault", 0, HFS_OPT_LIST, "SPEC", "inject a fault (see below)"},
    {"access-log", 0, HFS_OPT_VALUE, "FILE", "append the access log to FILE (default stderr)"},
    {"threads", 0, HFS_OPT_VALUE, "N", "worker threads (default 8)"},
    {"header-timeout", 0, HFS_OPT_VALUE, "SECONDS",
     "close a connection whose request line and headers are not all in after SECONDS, however "
     "slowly they trickle (default 60)"},
    {"strict-upload-auth", 0, HFS_OPT_FLAG, NULL,
     "refuse (400) an Authorization header sent to a signed upload URL, as S3 does for "
     "presigned URLs: tests use it to prove a client never leaks its token there"},
    {NULL, 0, 0, NULL, NULL},
};

static int run_serve(const hfs_cli_cmd *cmd, hfs_cli_args *args)
{
    hfs_hubd_options opts = HFS_HUBD_OPTIONS_INIT;
    int code = HFS_EXIT_OK;
    opts.root = hfs_cli_value(args, "root");
    opts.listen = hfs_cli_value(args, "listen");
    opts.port_file = hfs_cli_value(args, "port-file");
    opts.tokens = hfs_cli_values(args, "token", &opts.n_tokens);
    opts.faults = hfs_cli_values(args, "fault", &opts.n_faults);
    opts.access_log = hfs_cli_value(args, "access-log");
    opts.strict_upload_auth = hfs_cli_flag(args, "strict-upload-auth");
    const char *threshold = hfs_cli_value(args, "multipart-threshold");
    if (threshold) {
        uint64_t bytes;
        if (hfs_size_parse(&bytes, threshold) < 0)
            return hfs_cli_usage_error(cmd,
                                       "--multipart-threshold expects a size such as 6MB, 10MiB "
                                       "or 6000000, got '%s'",
                                       threshold);
        opts.multipart_threshold = bytes;
    }
    long threads = 0;
    if (!hfs_cli_int(cmd, args, "threads", 1, 256, &threads, &code))
        return code;
    opts.threads = (unsigned)threads;
    long header_timeout = 0;
    if (!hfs_cli_int(cmd, args, "header-timeout", 1, 3600, &header_timeout, &code))
        return code;
    opts.header_timeout_s = (unsigned)header_timeout;
    int rc = hfs_hubd_serve(&opts);
    return rc < 0 ? hfs_cli_fail(rc) : HFS_EXIT_OK;
}

static const hfs_cli_cmd hub_serve = {
    .name = "serve",
    .summary = "run the local hub (a Hugging Face Hub compatible server) until stopped",
    .usage = "[--root DIR] [--listen HOST:PORT] [--port-file F] [--token TOKEN]... "
             "[--multipart-threshold SIZE] [--fault SPEC]...",
    .description =
        "Serves the hub's HTTP API (repos, tree, paths-info, preupload, commit, LFS batch with "
        "basic and\nmultipart transfers, resolve, refs, branches, pull requests and "
        "discussions, super-squash)\nand git smart HTTP (clone, fetch and push at /ID or "
        "/ID.git, the token as password) from\ngit repositories and an LFS store under --root. "
        "Stops on SIGINT or SIGTERM.\nTokens: ROOT/tokens.json (see 'hfsync hub token "
        "create').\n\n"
        "Fault specs (deterministic, for reliability tests; separate several with ';'):\n"
        "  ENDPOINT:status=CODE[,nth=N][,times=K][,retry_after=S]  answer CODE instead\n"
        "  ENDPOINT:drop=BYTES[,nth=N][,times=K]        close the connection after BYTES of "
        "body\n"
        "  ENDPOINT:land_then_status=CODE[,nth=N]       carry the request out, then answer "
        "CODE\n"
        "  ENDPOINT:delay=MS[,nth=N][,times=K]          wait MS milliseconds first\n"
        "  ENDPOINT:enospc=BYTES[,nth=N][,times=K]      the disk is full after BYTES more bytes "
        "of\n"
        "      the request's store writes: that write fails with ENOSPC, the answer is 507\n"
        "      (lfs-put, lfs-part, commit)\n"
        "ENDPOINT: any whoami create info tree paths-info preupload lfs-batch lfs-put lfs-part\n"
        "lfs-complete lfs-verify commit resolve (also /lfs-files downloads) discussions git other.\n"
        "nth: the 1-based count of requests to ENDPOINT where the fault starts (default 1);\n"
        "times: how many requests it affects (default 1, 0 = all from nth on).\n"
        "Example: --fault 'lfs-put:drop=1048576' --fault 'commit:status=503,nth=2,retry_after=1'",
    .opts = serve_opts,
    .min_args = 0,
    .max_args = 0,
    .run = run_serve,
};

static const hfs_cli_opt token_create_opts[] = {
    {"role", 0, HFS_OPT_VALUE, "ROLE", "read or write (default read)"},
    {"namespace", 0, HFS_OPT_LIST, "NS",
     "a namespace the token may write to and see private repos of (default: NAME; '*' = all)"},
    {"root", 0, HFS_OPT_VALUE, "DIR", "the hub's root (default " HFS_HUBD_DEFAULT_ROOT ")"},
    {NULL, 0, 0, NULL, NULL},
};

static int run_token_create(const hfs_cli_cmd *cmd, hfs_cli_args *args)
{
    const char *role = hfs_cli_value(args, "role");
    if (role && strcmp(role, "read") != 0 && strcmp(role, "write") != 0)
        return hfs_cli_usage_error(cmd, "--role must be 'read' or 'write', got '%s'", role);
    size_t n_ns = 0;
    const char *const *ns = hfs_cli_values(args, "namespace", &n_ns);
    char *token = NULL;
    int rc = hfs_hubd_token_create(&token, hfs_cli_value(args, "root"), hfs_cli_pos(args, 0),
                                   role ? role : "read", ns, n_ns);
    if (rc < 0)
        return hfs_cli_fail(rc);
    printf("%s\n", token);
    free(token);
    return HFS_EXIT_OK;
}

static const hfs_cli_cmd hub_token_create = {
    .name = "create",
    .summary = "create an access token for the local hub and print it",
    .usage = "NAME [--role read|write] [--namespace NS]... [--root DIR]",
    .description = "NAME is the user the token belongs to (whoami's name). A running hub "
                   "accepts the new token\nright away.",
    .opts = token_create_opts,
    .min_args = 1,
    .max_args = 1,
    .run = run_token_create,
};

static const hfs_cli_cmd *const token_subcommands[] = {&hub_token_create, NULL};

static const hfs_cli_opt no_opts[] = {{NULL, 0, 0, NULL, NULL}};

static const hfs_cli_cmd hub_token = {
    .name = "token",
    .summary = "manage the local hub's access tokens",
    .usage = "COMMAND",
    .opts = no_opts,
    .subcommands = token_subcommands,
};

static const hfs_cli_cmd *const hub_subcommands[] = {&hub_serve, &hub_token, NULL};

const hfs_cli_cmd hfs_cmd_hub = {
    .name = "hub",
    .summary = "run the local hub and manage its tokens",
    .usage = "COMMAND",
    .opts = no_opts,
    .subcommands = hub_subcommands,
};
