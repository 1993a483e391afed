/* The local hub's header deadline: a connection gets a fixed time to send each request's
 * line and headers, however slowly it dribbles them (slow-loris), then it is cut off. */
#ifndef HUBD_DEADLINE_H
#define HUBD_DEADLINE_H

#include <microhttpd.h>

typedef struct hubd_deadlines hubd_deadlines;

/* Starts the watcher thread. timeout_s 0 turns the deadline off: *out is NULL, and every
 * function below accepts NULL and does nothing. */
int hubd_deadlines_start(hubd_deadlines **out, unsigned timeout_s);
/* Stops the watcher; call after MHD_stop_daemon (every connection is closed by then). */
void hubd_deadlines_stop(hubd_deadlines *d);

/* The MHD_OPTION_NOTIFY_CONNECTION callback (cls: the hubd_deadlines, which may be NULL). */
void hubd_deadlines_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                                  enum MHD_ConnectionNotificationCode code);
/* A request's headers are all in (the access handler's first call): its clock stops. */
void hubd_deadlines_request_started(hubd_deadlines *d, struct MHD_Connection *conn);
/* A request was answered: the clock restarts for the next one on the connection. */
void hubd_deadlines_request_done(hubd_deadlines *d, struct MHD_Connection *conn);

#endif
