/* The local hub's header deadline. libmicrohttpd's connection timeout counts idle time, so a
 * client sending one header byte a second would hold a connection forever: a watcher thread
 * shuts down the socket of any connection whose request is not fully in after the deadline. */
#include "hubd/deadline.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "common/error.h"
#include "common/log.h"
#include "common/util.h"

/* How often the watcher looks: the deadline holds to within this. */
#define WATCH_INTERVAL_MS 200

typedef struct tracked {
    struct tracked *prev, *next;
    MHD_socket fd;
    double waiting_since; /* waiting for a request's headers since then; 0 inside a request */
    bool cut;
} tracked;

struct hubd_deadlines {
    pthread_mutex_t lock; /* guards the list and `stopping` */
    pthread_cond_t wake;
    pthread_t thread;
    bool stopping;
    double timeout_s;
    tracked list; /* sentinel of a circular list */
};

static void *watch(void *arg)
{
    hubd_deadlines *d = arg;
    pthread_mutex_lock(&d->lock);
    while (!d->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += WATCH_INTERVAL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&d->wake, &d->lock, &until);
        double now = hfs_now();
        unsigned cut = 0;
        for (tracked *t = d->list.next; t != &d->list; t = t->next) {
            if (t->cut || t->waiting_since == 0 || now - t->waiting_since < d->timeout_s)
                continue;
            /* Bytes the hub has not read yet: its worker is busy (a commit), and the client
             * is not the slow one. Judge it once they are read. */
            int unread = 0;
            if (ioctl(t->fd, FIONREAD, &unread) == 0 && unread > 0)
                continue;
            /* The socket stays open until libmicrohttpd closes it, which it does only after
             * its CLOSED notification took `t` off this list under the same lock: the fd
             * cannot have been reused for another connection here. */
            shutdown(t->fd, SHUT_RDWR);
            t->cut = true;
            cut++;
        }
        if (cut) {
            pthread_mutex_unlock(&d->lock);
            hfs_warn("hub: cut off %u connection(s) that sent no complete request within %.0f s "
                     "(--header-timeout)",
                     cut, d->timeout_s);
            pthread_mutex_lock(&d->lock);
        }
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

int hubd_deadlines_start(hubd_deadlines **out, unsigned timeout_s)
{
    *out = NULL;
    if (timeout_s == 0)
        return 0;
    hubd_deadlines *d = hfs_calloc(1, sizeof(*d));
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->wake, NULL);
    d->timeout_s = timeout_s;
    d->list.next = d->list.prev = &d->list;
    int err = pthread_create(&d->thread, NULL, watch, d);
    if (err != 0) {
        pthread_cond_destroy(&d->wake);
        pthread_mutex_destroy(&d->lock);
        free(d);
        return hfs_error_set(HFS_ERROR, "cannot start the hub's header-deadline thread: %s",
                             strerror(err));
    }
    *out = d;
    return 0;
}

void hubd_deadlines_stop(hubd_deadlines *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->lock);
    d->stopping = true;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    /* MHD_stop_daemon closed every connection, so the list is empty; free what is left
     * anyway rather than leak it. */
    for (tracked *t = d->list.next, *next; t != &d->list; t = next) {
        next = t->next;
        free(t);
    }
    pthread_cond_destroy(&d->wake);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

void hubd_deadlines_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                                  enum MHD_ConnectionNotificationCode code)
{
    hubd_deadlines *d = cls;
    if (!d)
        return;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!info)
            return; /* not watched: the idle timeout still applies */
        tracked *t = hfs_calloc(1, sizeof(*t));
        t->fd = info->connect_fd;
        t->waiting_since = hfs_now();
        pthread_mutex_lock(&d->lock);
        t->next = d->list.next;
        t->prev = &d->list;
        d->list.next->prev = t;
        d->list.next = t;
        pthread_mutex_unlock(&d->lock);
        *socket_context = t;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        tracked *t = *socket_context;
        pthread_mutex_lock(&d->lock);
        t->prev->next = t->next;
        t->next->prev = t->prev;
        pthread_mutex_unlock(&d->lock);
        free(t);
        *socket_context = NULL;
    }
}

static void set_waiting(hubd_deadlines *d, struct MHD_Connection *conn, double since)
{
    if (!d)
        return;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    tracked *t = info ? info->socket_context : NULL;
    if (!t)
        return;
    pthread_mutex_lock(&d->lock);
    t->waiting_since = since;
    pthread_mutex_unlock(&d->lock);
}

void hubd_deadlines_request_started(hubd_deadlines *d, struct MHD_Connection *conn)
{
    set_waiting(d, conn, 0);
}

void hubd_deadlines_request_done(hubd_deadlines *d, struct MHD_Connection *conn)
{
    set_waiting(d, conn, hfs_now());
}
