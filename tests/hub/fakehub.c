/* The scripted fake hub: libmicrohttpd answers each request with the next scripted
 * exchange, checking method, target, headers and body, and records what came. */
#include "fakehub.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/util.h"

typedef struct {
    char *method, *target, *body, *response;
    char **require, **forbid, **headers;
    int status;
    bool any_order, used;
    unsigned delay_ms, throttle_ms;
    size_t drop_after;
} script_item;

struct fakehub {
    struct MHD_Daemon *daemon;
    char url[64];
    pthread_mutex_t lock;
    script_item *script;
    size_t n_script, cap_script;
    size_t in_flight, max_in_flight;
    unsigned generation; /* bumped by every verify: late requests of old cases are ignored */
    fh_request *received;
    size_t n_received, cap_received;
    hfs_buf problems;
};

typedef struct {
    char *target;
    hfs_buf body;
    bool started;
    long item; /* the script item this request was matched with, or -1 */
    unsigned generation;
    /* The item's pacing and answer, copied: a verify may free the script meanwhile. */
    int status;
    char *response;
    char **headers;
    unsigned delay_ms, throttle_ms;
    size_t drop_after;
    bool counted; /* in fh->in_flight until its answer is queued or it is dropped */
} conn_state;

static char **copy_list(const char *const *list)
{
    size_t n = 0;
    while (list && list[n])
        n++;
    char **copy = hfs_calloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        copy[i] = hfs_strdup(list[i]);
    return copy;
}

static void free_list(char **list)
{
    for (char **p = list; p && *p; p++)
        free(*p);
    free(list);
}

static char *dup_or_null(const char *s)
{
    return s ? hfs_strdup(s) : NULL;
}

void fakehub_expect_paced(fakehub *fh, const fh_exchange *x, const fh_pacing *pacing)
{
    script_item it = {.method = hfs_strdup(x->method),
                      .target = hfs_strdup(x->target),
                      .body = dup_or_null(x->body),
                      .response = hfs_strdup(x->response ? x->response : ""),
                      .require = copy_list(x->require),
                      .forbid = copy_list(x->forbid),
                      .headers = copy_list(x->headers),
                      .status = x->status};
    if (pacing) {
        it.any_order = pacing->any_order;
        it.delay_ms = pacing->delay_ms;
        it.throttle_ms = pacing->throttle_ms;
        it.drop_after = pacing->drop_after;
    }
    pthread_mutex_lock(&fh->lock);
    HFS_PUSH(fh->script, fh->n_script, fh->cap_script, it);
    pthread_mutex_unlock(&fh->lock);
}

void fakehub_expect(fakehub *fh, const fh_exchange *x)
{
    fakehub_expect_paced(fh, x, NULL);
}

void fakehub_expect_all(fakehub *fh, const fh_exchange *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fakehub_expect(fh, &x[i]);
}

static void problem(fakehub *fh, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hfs_buf_vprintf(&fh->problems, fmt, ap);
    va_end(ap);
    hfs_buf_putc(&fh->problems, '\n');
}

const char *fh_request_header(const fh_request *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->n_headers; i++) {
        const char *h = r->headers[i];
        if (strncasecmp(h, name, n) == 0 && h[n] == ':')
            return h[n + 1] == ' ' ? h + n + 2 : h + n + 1;
    }
    return NULL;
}

static enum MHD_Result collect_header(void *ctx, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    fh_request *r = ctx;
    size_t cap = r->n_headers; /* grown one by one: few headers */
    r->headers = hfs_realloc(r->headers, (cap + 1) * sizeof(char *));
    r->headers[r->n_headers++] = hfs_sprintf("%s: %s", key, value ? value : "");
    return MHD_YES;
}

/* Compares a request with its script item; every difference becomes a problem line. */
static void check(fakehub *fh, size_t index, const fh_request *r, const script_item *it)
{
    if (strcmp(r->method, it->method) != 0 || strcmp(r->target, it->target) != 0)
        problem(fh, "request %zu: expected %s %s, got %s %s", index + 1, it->method, it->target,
                r->method, r->target);
    for (char **req = it->require; *req; req++) {
        const char *colon = strchr(*req, ':');
        char *name = hfs_strndup(*req, (size_t)(colon - *req));
        const char *want = colon + 1 + (colon[1] == ' ');
        const char *got = fh_request_header(r, name);
        if (!got || strcmp(got, want) != 0)
            problem(fh, "request %zu (%s %s): header %s is %s%s%s, expected \"%s\"", index + 1,
                    r->method, r->target, name, got ? "\"" : "", got ? got : "missing",
                    got ? "\"" : "", want);
        free(name);
    }
    for (char **f = it->forbid; *f; f++)
        if (fh_request_header(r, *f))
            problem(fh, "request %zu (%s %s): header %s must not be sent, got \"%s\"", index + 1,
                    r->method, r->target, *f, fh_request_header(r, *f));
    if (it->body && (strlen(it->body) != r->body_len || memcmp(it->body, r->body, r->body_len)))
        problem(fh, "request %zu (%s %s): body differs\n  got:  %.400s\n  want: %.400s", index + 1,
                r->method, r->target, r->body, it->body);
}

/* The script item a request answers to: an unused any-order item with its method and
 * target, else the first unused item. Called with the lock held. */
static long pick(fakehub *fh, const char *method, const char *target, bool consume)
{
    long found = -1;
    for (size_t i = 0; i < fh->n_script && found < 0; i++) {
        script_item *it = &fh->script[i];
        if (!it->used && it->any_order && strcmp(it->method, method) == 0 &&
            strcmp(it->target, target) == 0)
            found = (long)i;
    }
    for (size_t i = 0; i < fh->n_script && found < 0; i++)
        if (!fh->script[i].used)
            found = (long)i;
    if (found >= 0 && consume)
        fh->script[found].used = true;
    return found;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Records a request, takes its script item (only now: a request the client abandons
 * half-way must not use up an exchange meant for a later one) and compares the two (the
 * body only when it is complete). */
static void record(fakehub *fh, struct MHD_Connection *c, const char *method, conn_state *st,
                   bool complete)
{
    st->status = 418;
    st->response = hfs_strdup("no more requests were scripted");
    fh_request r = {hfs_strdup(method), hfs_strdup(st->target), NULL, 0, NULL, st->body.len};
    MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &r);
    r.body = hfs_buf_detach(&st->body);
    pthread_mutex_lock(&fh->lock);
    if (st->generation != fh->generation) { /* a late request of a case already verified */
        pthread_mutex_unlock(&fh->lock);
        free(r.method);
        free(r.target);
        for (size_t h = 0; h < r.n_headers; h++)
            free(r.headers[h]);
        free(r.headers);
        free(r.body);
        return;
    }
    size_t index = fh->n_received;
    HFS_PUSH(fh->received, fh->n_received, fh->cap_received, r);
    st->item = pick(fh, method, st->target, true);
    if (st->item >= 0) {
        script_item it = fh->script[st->item];
        st->status = it.status;
        free(st->response);
        st->response = hfs_strdup(it.response);
        st->headers = copy_list((const char *const *)it.headers);
        st->delay_ms = it.delay_ms;
        if (!complete)
            it.body = NULL;
        check(fh, index, &r, &it);
    } else {
        problem(fh, "request %zu: unexpected %s %s", index + 1, r.method, r.target);
    }
    pthread_mutex_unlock(&fh->lock);
}

static void uncount(fakehub *fh, conn_state *st)
{
    pthread_mutex_lock(&fh->lock);
    if (st->counted)
        fh->in_flight--;
    st->counted = false;
    pthread_mutex_unlock(&fh->lock);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    (void)url;
    (void)version;
    fakehub *fh = cls;
    conn_state *st = *con_cls;
    if (!st->started) {
        st->started = true;
        pthread_mutex_lock(&fh->lock);
        /* How to read the body comes from the exchange this request will most likely
         * be matched with; it is taken for good only once the request is complete. */
        long peek = pick(fh, method, st->target, false);
        st->generation = fh->generation;
        if (peek >= 0) {
            st->throttle_ms = fh->script[peek].throttle_ms;
            st->drop_after = fh->script[peek].drop_after;
        }
        st->counted = true;
        if (++fh->in_flight > fh->max_in_flight)
            fh->max_in_flight = fh->in_flight;
        pthread_mutex_unlock(&fh->lock);
        return MHD_YES;
    }
    if (*upload_size) {
        hfs_buf_add(&st->body, upload_data, *upload_size);
        *upload_size = 0;
        if (st->throttle_ms)
            sleep_ms(st->throttle_ms);
        if (st->drop_after && st->body.len >= st->drop_after) {
            record(fh, c, method, st, false);
            uncount(fh, st);
            return MHD_NO; /* the connection drops halfway through the body */
        }
        return MHD_YES;
    }
    record(fh, c, method, st, true);
    int status = st->status;
    const char *answer = st->response;
    char **headers = st->headers;
    if (st->delay_ms)
        sleep_ms(st->delay_ms);
    /* Done before the client can see the answer, so its next request never overlaps. */
    uncount(fh, st);
    if (status == 0)
        return MHD_NO; /* drop the connection: the client sees no answer at all */

    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(answer), (void *)answer, MHD_RESPMEM_MUST_COPY);
    for (char **h = headers; h && *h; h++) {
        const char *colon = strchr(*h, ':');
        char *name = hfs_strndup(*h, (size_t)(colon - *h));
        MHD_add_response_header(resp, name, colon + 1 + (colon[1] == ' '));
        free(name);
    }
    MHD_add_response_header(resp, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Called first with the raw request target, before any unescaping. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    conn_state *st = hfs_calloc(1, sizeof(*st));
    st->target = hfs_strdup(uri);
    st->item = -1;
    return st;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
    (void)c;
    (void)code;
    fakehub *fh = cls;
    conn_state *st = *con_cls;
    if (!st)
        return;
    uncount(fh, st);
    free(st->target);
    free(st->response);
    free_list(st->headers);
    hfs_buf_free(&st->body);
    free(st);
    *con_cls = NULL;
}

fakehub *fakehub_start(void)
{
    fakehub *fh = hfs_calloc(1, sizeof(*fh));
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    pthread_mutex_init(&fh->lock, NULL);
    fh->daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                         NULL, on_request, fh, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                         MHD_OPTION_URI_LOG_CALLBACK, on_uri, fh, MHD_OPTION_NOTIFY_COMPLETED,
                         on_completed, fh, MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (!fh->daemon) {
        fprintf(stderr, "fakehub: cannot start libmicrohttpd on 127.0.0.1\n");
        abort();
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(fh->daemon, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(fh->url, sizeof(fh->url), "http://127.0.0.1:%u", (unsigned)info->port);
    return fh;
}

const char *fakehub_url(const fakehub *fh)
{
    return fh->url;
}

size_t fakehub_max_concurrent(const fakehub *fh)
{
    return fh->max_in_flight;
}

size_t fakehub_count(const fakehub *fh)
{
    return fh->n_received;
}

const fh_request *fakehub_request(const fakehub *fh, size_t i)
{
    return i < fh->n_received ? &fh->received[i] : NULL;
}

static void reset(fakehub *fh)
{
    for (size_t i = 0; i < fh->n_script; i++) {
        script_item *it = &fh->script[i];
        free(it->method);
        free(it->target);
        free(it->body);
        free(it->response);
        free_list(it->require);
        free_list(it->forbid);
        free_list(it->headers);
    }
    for (size_t i = 0; i < fh->n_received; i++) {
        fh_request *r = &fh->received[i];
        free(r->method);
        free(r->target);
        for (size_t h = 0; h < r->n_headers; h++)
            free(r->headers[h]);
        free(r->headers);
        free(r->body);
    }
    fh->n_script = fh->n_received = 0;
    fh->max_in_flight = fh->in_flight;
    fh->generation++;
    hfs_buf_clear(&fh->problems);
}

bool fakehub_verify(fakehub *fh, char **problems)
{
    pthread_mutex_lock(&fh->lock);
    for (size_t i = 0; i < fh->n_script; i++)
        if (!fh->script[i].used)
            problem(fh, "expected request %zu (%s %s) never came", i + 1, fh->script[i].method,
                    fh->script[i].target);
    bool ok = fh->problems.len == 0;
    *problems = ok ? NULL : hfs_strdup(hfs_buf_cstr(&fh->problems));
    reset(fh);
    pthread_mutex_unlock(&fh->lock);
    return ok;
}

void fakehub_stop(fakehub *fh)
{
    if (!fh)
        return;
    MHD_stop_daemon(fh->daemon);
    reset(fh);
    free(fh->script);
    free(fh->received);
    hfs_buf_free(&fh->problems);
    pthread_mutex_destroy(&fh->lock);
    free(fh);
}
