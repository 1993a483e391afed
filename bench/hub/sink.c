/* A plain HTTP file sink for bench/run (hub): each PUT body is streamed into one file, fsynced
 * and answered 200, so the machine's loopback + disk speed is the baseline the hub is held to. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Larger than the hub's per-connection buffer on purpose: the baseline should be the best a
 * simple receiver does on this machine, not one held back by small reads. */
#define SINK_CONNECTION_MEMORY (1024u * 1024)
/* And it keeps the page cache small the way the hub does (src/hubd/lfs_store.c): writeback
 * starts every this many bytes and the window before leaves the cache, so neither is held
 * back by filling fresh memory. */
#define SINK_WINDOW (64ull << 20)

typedef struct {
    const char *path; /* where every PUT body goes (overwritten each time) */
} sink_config;

typedef struct {
    int fd;
    int failed_errno; /* first write error, answered as 500 once the body is in */
    unsigned long long written, synced, dropped;
} sink_upload;

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **state)
{
    const sink_config *cfg = cls;
    sink_upload *up = *state;
    (void)url;
    (void)version;
    if (strcmp(method, "PUT") != 0)
        return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "the sink takes PUT only\n");
    if (!up) {
        if (!(up = calloc(1, sizeof(*up))))
            return MHD_NO;
        up->fd = open(cfg->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (up->fd < 0)
            up->failed_errno = errno;
        *state = up;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!up->failed_errno && write_all(up->fd, upload_data, *upload_data_size) < 0)
            up->failed_errno = errno;
        up->written += *upload_data_size;
        if (!up->failed_errno && up->written - up->synced >= SINK_WINDOW) {
            if (up->synced > up->dropped) {
                sync_file_range(up->fd, (off_t)up->dropped, (off_t)(up->synced - up->dropped),
                                SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                    SYNC_FILE_RANGE_WAIT_AFTER);
                posix_fadvise(up->fd, (off_t)up->dropped, (off_t)(up->synced - up->dropped),
                              POSIX_FADV_DONTNEED);
                up->dropped = up->synced;
            }
            sync_file_range(up->fd, (off_t)up->synced, (off_t)(up->written - up->synced),
                            SYNC_FILE_RANGE_WRITE);
            up->synced = up->written;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    /* the whole body is in: make it durable, as the hub does before it answers */
    if (!up->failed_errno && fsync(up->fd) != 0)
        up->failed_errno = errno;
    if (!up->failed_errno)
        posix_fadvise(up->fd, 0, 0, POSIX_FADV_DONTNEED);
    if (up->failed_errno) {
        fprintf(stderr, "sink: writing %s failed: %s\n", cfg->path, strerror(up->failed_errno));
        return respond(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "write failed\n");
    }
    return respond(conn, MHD_HTTP_OK, "");
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state,
                         enum MHD_RequestTerminationCode code)
{
    sink_upload *up = *state;
    (void)cls;
    (void)conn;
    (void)code;
    if (!up)
        return;
    if (up->fd >= 0)
        close(up->fd);
    free(up);
    *state = NULL;
}

/* The port goes to a temp file renamed into place, so a script polling for it never reads
 * half a number. */
static int write_port_file(const char *path, unsigned port)
{
    char tmp[4096];
    int rc = -1;
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        fprintf(stderr, "sink: port file path %s is too long\n", path);
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "sink: cannot write %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    int printed = fprintf(f, "%u\n", port);
    if (fclose(f) != 0 || printed < 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "sink: cannot write the port file %s: %s\n", path, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    if (rc < 0)
        unlink(tmp);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s OUTPUT_FILE PORT_FILE\n"
                        "Listens on 127.0.0.1 (a free port, written to PORT_FILE), writes each PUT "
                        "body to OUTPUT_FILE,\nfsyncs it and answers 200; stops on SIGINT or "
                        "SIGTERM.\n", argv[0]);
        return 64;
    }
    sink_config cfg = {.path = argv[1]};
    struct MHD_Daemon *d = NULL;
    int status = 1;

    /* block the stop signals before MHD starts its thread, so only sigwait below sees them */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                         on_request, &cfg, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SINK_CONNECTION_MEMORY,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "sink: cannot listen on 127.0.0.1 (libmicrohttpd refused to start)\n");
        goto done;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    if (!info || write_port_file(argv[2], info->port) < 0)
        goto done;
    int sig;
    sigwait(&stop, &sig);
    status = 0;
done:
    if (d)
        MHD_stop_daemon(d);
    return status;
}
