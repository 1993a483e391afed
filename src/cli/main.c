/* hfsync's entry point: hands the arguments to the command table. */
#include <curl/curl.h>
#include <signal.h>

int hfs_cli_main(int argc, char **argv);

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = hfs_cli_main(argc, argv);
    curl_global_cleanup();
    return rc;
}
