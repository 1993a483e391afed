/* The local hub's HTTP core: libmicrohttpd with a thread pool, raw-URI routing, auth,
 * request bodies (buffered, spooled or streamed), faults, request ids and the access log. */
#include "hubd/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "hubd/api_discussions.h"
#include "hubd/deadline.h"
#include "hubd/git_http.h"
#include "hubd/listing_cache.h"

#define DEFAULT_THREADS 8
/* Per-connection memory: request line and headers must fit, so this bounds header sizes;
 * it is also the buffer a request body is read into, so it sets the size of each socket
 * read: 1 MiB took a 1 GiB LFS PUT from 76-91 % to 98-109 % of a plain sink's speed
 * (128 KiB read 64 KiB at a time). Each open connection has its own (touched as used). */
#define CONNECTION_MEMORY (1024u * 1024)
#define CONNECTION_TIMEOUT_S 600
/* How long a request's line and headers may take to arrive (hub serve --header-timeout). */
#define DEFAULT_HEADER_TIMEOUT_S 60
/* The request line and headers the hub answers with its own JSON 431. Past
 * CONNECTION_MEMORY, libmicrohttpd answers 431 itself, with an HTML page. */
#define HEADERS_MAX (64u * 1024)

/* ------------------------------------------------------------------------------------ */
/* request lifecycle                                                                    */

typedef struct {
    hubd_route_kind kind;
    const char *method; /* "GET" also takes HEAD */
    void (*handler)(hubd_request *req);
    hubd_body_mode body;
    uint64_t limit;
    hubd_endpoint ep;
} route_entry;

static const route_entry routes[] = {
    {HUBD_R_WHOAMI, "GET", hubd_handle_whoami, HUBD_BODY_NONE, 0, HUBD_EP_WHOAMI},
    {HUBD_R_REPO_CREATE, "POST", hubd_handle_repo_create, HUBD_BODY_BUFFER, HUBD_JSON_BODY_MAX,
     HUBD_EP_REPO_CREATE},
    {HUBD_R_REPO_DELETE, "DELETE", hubd_handle_repo_delete, HUBD_BODY_BUFFER, HUBD_JSON_BODY_MAX,
     HUBD_EP_OTHER},
    {HUBD_R_VALIDATE_YAML, "POST", hubd_handle_validate_yaml, HUBD_BODY_BUFFER,
     HUBD_JSON_BODY_MAX, HUBD_EP_OTHER},
    {HUBD_R_REPO_INFO, "GET", hubd_handle_repo_info, HUBD_BODY_NONE, 0, HUBD_EP_REPO_INFO},
    {HUBD_R_REFS, "GET", hubd_handle_refs, HUBD_BODY_NONE, 0, HUBD_EP_OTHER},
    {HUBD_R_COMMITS, "GET", hubd_handle_commits, HUBD_BODY_NONE, 0, HUBD_EP_OTHER},
    {HUBD_R_BRANCH, "POST", hubd_handle_branch, HUBD_BODY_BUFFER, HUBD_JSON_BODY_MAX,
     HUBD_EP_OTHER},
    {HUBD_R_BRANCH, "DELETE", hubd_handle_branch, HUBD_BODY_BUFFER, HUBD_JSON_BODY_MAX,
     HUBD_EP_OTHER},
    {HUBD_R_TREE, "GET", hubd_handle_tree, HUBD_BODY_NONE, 0, HUBD_EP_TREE},
    {HUBD_R_PATHS_INFO, "POST", hubd_handle_paths_info, HUBD_BODY_BUFFER, HUBD_JSON_BODY_MAX,
     HUBD_EP_PATHS_INFO},
    {HUBD_R_PREUPLOAD, "POST", hubd_handle_preupload, HUBD_BODY_BUFFER, HUBD_JSON_BODY_MAX,
     HUBD_EP_PREUPLOAD},
    {HUBD_R_COMMIT, "POST", hubd_handle_commit, HUBD_BODY_SPOOL, HUBD_COMMIT_BODY_MAX,
     HUBD_EP_COMMIT},
    {HUBD_R_LFS_BATCH, "POST", hubd_handle_lfs_batch, HUBD_BODY_BUFFER, HUBD_JSON_BODY_MAX,
     HUBD_EP_LFS_BATCH},
    {HUBD_R_LFS_VERIFY, "POST", hubd_handle_lfs_verify, HUBD_BODY_BUFFER, HUBD_JSON_BODY_MAX,
     HUBD_EP_LFS_VERIFY},
    {HUBD_R_LFS_LOCKS, "GET", hubd_handle_lfs_locks, HUBD_BODY_NONE, 0, HUBD_EP_OTHER},
    {HUBD_R_LFS_LOCKS, "POST", hubd_handle_lfs_locks, HUBD_BODY_NONE, 0, HUBD_EP_OTHER},
    {HUBD_R_LFS_UPLOAD, "PUT", hubd_handle_lfs_upload, HUBD_BODY_SINK, 0, HUBD_EP_LFS_PUT},
    {HUBD_R_LFS_UPLOAD, "POST", hubd_handle_lfs_upload, HUBD_BODY_BUFFER, HUBD_JSON_BODY_MAX,
     HUBD_EP_LFS_COMPLETE},
    {HUBD_R_LFS_DOWNLOAD, "GET", hubd_handle_lfs_download, HUBD_BODY_NONE, 0, HUBD_EP_RESOLVE},
    {HUBD_R_RESOLVE, "GET", hubd_handle_resolve, HUBD_BODY_NONE, 0, HUBD_EP_RESOLVE},
    {HUBD_R_RAW, "GET", hubd_handle_resolve, HUBD_BODY_NONE, 0, HUBD_EP_RESOLVE},
    {HUBD_R_DISCUSSIONS, "GET", hubd_handle_discussions, HUBD_BODY_NONE, 0, HUBD_EP_DISCUSSIONS},
    {HUBD_R_DISCUSSIONS, "POST", hubd_handle_discussions, HUBD_BODY_BUFFER, HUBD_JSON_BODY_MAX,
     HUBD_EP_DISCUSSIONS},
    {HUBD_R_SUPER_SQUASH, "POST", hubd_handle_super_squash, HUBD_BODY_BUFFER, HUBD_JSON_BODY_MAX,
     HUBD_EP_OTHER},
    {HUBD_R_TAG, "POST", hubd_handle_tag, HUBD_BODY_BUFFER, HUBD_JSON_BODY_MAX, HUBD_EP_OTHER},
    {HUBD_R_TAG, "DELETE", hubd_handle_tag, HUBD_BODY_NONE, 0, HUBD_EP_OTHER},
    {HUBD_R_GIT_REFS, "GET", hubd_handle_git_refs, HUBD_BODY_NONE, 0, HUBD_EP_GIT},
    {HUBD_R_GIT_RPC, "POST", hubd_handle_git_rpc, HUBD_BODY_SINK, 0, HUBD_EP_GIT},
};

static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *conn)
{
    hubd_request *req = hfs_calloc(1, sizeof(*req));
    req->srv = cls;
    req->conn = conn;
    req->raw_uri = hfs_strdup(uri ? uri : "/");
    req->started = hfs_now();
    req->spool_fd = -1;
    req->disk = hubd_disk_for(NULL);
    return req;
}

static void make_request_id(hubd_request *req)
{
    unsigned char rnd[12];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        memset(rnd, 0, sizeof(rnd));
    char hex[25];
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    int n = snprintf(req->request_id, sizeof(req->request_id), "Root=1-%08lx-%s",
                     (unsigned long)time(NULL), hex);
    /* the hub echoes a client's trace id after the root, as in its cassettes */
    const char *trace = hubd_header(req, "X-Amzn-Trace-Id");
    if (trace && strlen(trace) <= 100 &&
        strspn(trace, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-=;._") ==
            strlen(trace))
        snprintf(req->request_id + n, sizeof(req->request_id) - (size_t)n, ";%s", trace);
}

static bool parse_query(hubd_request *req)
{
    const char *q = req->raw_query;
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len > 0) {
            const char *eq = memchr(q, '=', len);
            size_t klen = eq ? (size_t)(eq - q) : len;
            char *k = hubd_url_decode(q, klen, true);
            char *v = eq ? hubd_url_decode(eq + 1, len - klen - 1, true) : hfs_strdup("");
            if (!k || !v) {
                free(k);
                free(v);
                hubd_respond_error(req, 400, NULL,
                                   "the query string has a malformed %%-escape near '%.*s'",
                                   (int)(len > 80 ? 80 : len), q);
                return false;
            }
            if (req->n_query == req->cap_query) {
                req->cap_query = req->cap_query ? 2 * req->cap_query : 8;
                req->qkeys = hfs_realloc(req->qkeys, req->cap_query * sizeof(char *));
                req->qvals = hfs_realloc(req->qvals, req->cap_query * sizeof(char *));
            }
            req->qkeys[req->n_query] = k;
            req->qvals[req->n_query] = v;
            req->n_query++;
        }
        if (!amp)
            break;
        q = amp + 1;
    }
    return true;
}

/* Bearer TOKEN, or Basic base64(user:TOKEN) as git and git-lfs send it. */
static char *token_from_header(const char *auth)
{
    while (*auth == ' ')
        auth++;
    if (strncasecmp(auth, "Bearer ", 7) == 0) {
        const char *t = auth + 7;
        while (*t == ' ')
            t++;
        return hfs_strdup(t);
    }
    if (strncasecmp(auth, "Basic ", 6) == 0) {
        const char *b64 = auth + 6;
        while (*b64 == ' ')
            b64++;
        size_t len = strlen(b64);
        if (len == 0 || len % 4 != 0 || len > 4096)
            return NULL;
        unsigned char *raw = hfs_malloc(len);
        int n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len);
        char *token = NULL;
        if (n >= 0) {
            /* EVP_DecodeBlock counts the padding as decoded zero bytes */
            if (len >= 1 && b64[len - 1] == '=')
                n--;
            if (len >= 2 && b64[len - 2] == '=')
                n--;
            char *text = hfs_strndup((const char *)raw, (size_t)n);
            char *colon = strchr(text, ':');
            if (colon)
                token = hfs_strdup(colon + 1);
            free(text);
        }
        free(raw);
        return token;
    }
    return NULL;
}

static void authenticate(hubd_request *req)
{
    const char *auth = hubd_header(req, "Authorization");
    if (!auth)
        return;
    req->auth_present = true;
    char *token = token_from_header(auth);
    if (token && *token)
        hubd_tokens_lookup(&req->grant, req->srv->tokens, token);
    if (token)
        memset(token, 0, strlen(token));
    free(token);
}

/* Routes with their own credential in the URL ignore the Authorization header. */
static bool signed_route(const hubd_request *req)
{
    return req->route.kind == HUBD_R_LFS_UPLOAD || req->route.kind == HUBD_R_LFS_DOWNLOAD ||
           (req->route.kind == HUBD_R_LFS_VERIFY && hubd_query((hubd_request *)req, "sig"));
}

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    (void)kind;
    *(size_t *)cls += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " and CRLF */
    return MHD_YES;
}

/* First call for a request: headers are in; decide everything that does not need the body.
 * Returns false when the connection must be dropped. */
static bool setup_request(hubd_request *req, const char *method)
{
    req->method = method;
    char *q = strchr(req->raw_uri, '?');
    req->raw_path = q ? hfs_strndup(req->raw_uri, (size_t)(q - req->raw_uri))
                      : hfs_strdup(req->raw_uri);
    req->raw_query = hfs_strdup(q ? q + 1 : "");
    make_request_id(req);
    size_t header_bytes = strlen(req->raw_uri);
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, add_header_size, &header_bytes);
    if (header_bytes > HEADERS_MAX) {
        hubd_respond_error(req, 431, NULL,
                           "Request Header Fields Too Large: the request line and headers take "
                           "%zu bytes, more than the %u this hub accepts",
                           header_bytes, HEADERS_MAX);
        return true;
    }
    if (!parse_query(req))
        return true;
    if (hubd_route_parse(&req->route, req->raw_path) < 0) {
        hubd_respond_error(req, 400, NULL, "%s", hfs_error_last());
        return true;
    }
    const route_entry *entry = NULL;
    bool path_known = false;
    bool is_head = strcmp(method, "HEAD") == 0;
    for (size_t i = 0; i < HFS_ARRAY_LEN(routes); i++) {
        if (routes[i].kind != req->route.kind)
            continue;
        path_known = true;
        if (strcmp(routes[i].method, method) == 0 ||
            (is_head && strcmp(routes[i].method, "GET") == 0))
            entry = &routes[i];
    }
    req->ep = entry ? entry->ep : HUBD_EP_OTHER;
    if (entry && entry->kind == HUBD_R_LFS_UPLOAD && strcmp(method, "PUT") == 0 &&
        hubd_query(req, "part"))
        req->ep = HUBD_EP_LFS_PART;
    req->fault = hubd_faults_next(req->srv->faults, req->ep);
    req->disk = hubd_disk_for(&req->fault);
    if (req->fault.kind == HUBD_FAULT_DELAY)
        usleep((useconds_t)req->fault.delay_ms * 1000);
    if (req->fault.kind == HUBD_FAULT_STATUS) {
        hubd_respond_error(req, (unsigned)req->fault.status, NULL,
                           "fault injected by --fault: status %d for this %s request",
                           req->fault.status, method);
        if (req->fault.retry_after) {
            char ra[32];
            snprintf(ra, sizeof(ra), "%d", req->fault.retry_after);
            hubd_add_header(req, "Retry-After", ra);
        }
        return true;
    }
    if (req->fault.kind == HUBD_FAULT_DROP && req->fault.bytes == 0)
        return false;
    if (!path_known) {
        hubd_respond_error(req, 404, NULL, "Not Found: no hub endpoint at %s %.300s", method,
                           req->raw_path);
        return true;
    }
    if (!entry) {
        hubd_respond_error(req, 405, NULL, "Method %s is not allowed on %.300s", method,
                           req->raw_path);
        return true;
    }
    authenticate(req);
    if (req->auth_present && req->srv->strict_upload_auth &&
        req->route.kind == HUBD_R_LFS_UPLOAD) {
        hubd_respond_error(req, 400, NULL,
                           "an Authorization header was sent to a signed upload URL: these URLs "
                           "carry their own credentials and may be on another host, so a client "
                           "must never send its token there");
        return true;
    }
    if (req->auth_present && !req->grant.valid && !signed_route(req)) {
        hubd_respond_error(req, 401, NULL, "Invalid credentials in Authorization header");
        if (req->route.kind == HUBD_R_GIT_REFS || req->route.kind == HUBD_R_GIT_RPC)
            hubd_add_header(req, "WWW-Authenticate", HUBD_GIT_CHALLENGE);
        return true;
    }
    req->handler = entry->handler;
    req->body_mode = entry->body;
    req->body_limit = entry->limit;
    if (entry->body == HUBD_BODY_SINK) {
        bool git = entry->kind == HUBD_R_GIT_RPC; /* else an LFS upload */
        req->sink = git ? hubd_git_rpc_sink : hubd_lfs_upload_sink;
        if (!(git ? hubd_git_rpc_begin(req) : hubd_lfs_upload_begin(req)))
            req->body_mode = HUBD_BODY_NONE;
    }
    return true;
}

static int spool_open(hubd_request *req)
{
    int fd = open(req->srv->spool_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        /* file systems without O_TMPFILE: an unlinked named temp file does the same */
        char *path = hfs_path_join(req->srv->spool_dir, "body.XXXXXX");
        fd = mkostemp(path, O_CLOEXEC);
        if (fd >= 0)
            unlink(path);
        free(path);
    }
    if (fd < 0)
        return hfs_error_set(HFS_ERROR, "cannot create a temp file in %s: %s",
                             req->srv->spool_dir, strerror(errno));
    return fd;
}

static void feed_body(hubd_request *req, const char *data, size_t len)
{
    req->body_bytes += len;
    switch (req->body_mode) {
    case HUBD_BODY_NONE:
        return;
    case HUBD_BODY_BUFFER:
        if (req->body_too_large || req->body.len + len > req->body_limit) {
            req->body_too_large = true;
            hfs_buf_free(&req->body);
            return;
        }
        hfs_buf_add(&req->body, data, len);
        return;
    case HUBD_BODY_SPOOL:
        if (req->body_too_large || req->body_bytes > req->body_limit) {
            req->body_too_large = true;
            return;
        }
        if (req->spool_fd < 0 && req->body.len + len > HUBD_SPOOL_ABOVE) {
            int fd = spool_open(req);
            if (fd < 0 || hfs_write_all(fd, req->body.ptr, req->body.len) < 0) {
                if (fd >= 0)
                    close(fd);
                req->upload_rc = HFS_ERROR;
                req->body_too_large = true;
                return;
            }
            req->spool_fd = fd;
            hfs_buf_free(&req->body);
        }
        if (req->spool_fd >= 0) {
            if (hfs_write_all(req->spool_fd, data, len) < 0) {
                req->upload_rc = HFS_ERROR;
                req->body_too_large = true;
            }
        } else {
            hfs_buf_add(&req->body, data, len);
        }
        return;
    case HUBD_BODY_SINK:
        if (req->upload_rc == 0) {
            hubd_disk_enter(&req->disk);
            int rc = req->sink(req, data, len);
            hubd_disk_leave();
            if (rc < 0) {
                req->upload_rc = rc;
                req->upload_error = hfs_strdup(hfs_error_last());
            }
        }
        return;
    }
}

static bool body_follows(hubd_request *req)
{
    const char *expect = hubd_header(req, "Expect");
    if (expect && strcasecmp(expect, "100-continue") == 0)
        return false;
    const char *cl = hubd_header(req, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > 0)
        return true;
    return hubd_header(req, "Transfer-Encoding") != NULL;
}

static enum MHD_Result queue(hubd_request *req)
{
    if (!req->resp)
        hubd_respond_error(req, 500, NULL, "internal error: %s %s produced no answer",
                           req->method, req->raw_path);
    enum MHD_Result r = MHD_queue_response(req->conn, req->status, req->resp);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)url;
    (void)version;
    hubd_request *req = *con_cls;
    if (!req) { /* no URI callback ran (should not happen): make the request now */
        req = uri_logger(cls, url, conn);
        *con_cls = req;
    }
    if (!req->setup_done) {
        req->setup_done = true;
        hubd_deadlines_request_started(req->srv->deadlines, conn);
        if (!setup_request(req, method))
            return MHD_NO;
        /* answered from the headers alone: right away when no body follows (or the client
         * waits for 100-continue); otherwise after draining the body, so the client reads
         * the answer instead of a reset connection */
        if (req->resp && !body_follows(req))
            return queue(req);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t len = *upload_data_size;
        *upload_data_size = 0;
        if (req->resp)
            return MHD_YES;
        if (req->fault.kind == HUBD_FAULT_DROP && req->body_bytes + len >= req->fault.bytes) {
            feed_body(req, upload_data, (size_t)(req->fault.bytes - req->body_bytes));
            return MHD_NO; /* the connection drops mid-body, as the fault asks */
        }
        feed_body(req, upload_data, len);
        return MHD_YES;
    }
    if (req->resp)
        return queue(req);
    if (req->body_too_large) {
        if (req->upload_rc < 0)
            hubd_respond_error(req, 500, NULL, "cannot spool the request body: %s",
                               hfs_error_last());
        else
            hubd_respond_error(req, 413, NULL,
                               "the request body is larger than this endpoint accepts (%" PRIu64
                               " bytes)",
                               req->body_limit);
        return queue(req);
    }
    if (req->fault.kind == HUBD_FAULT_DROP)
        return MHD_NO; /* a body shorter than the drop point: drop before answering */
    hfs_error_clear();
    hubd_disk_enter(&req->disk);
    req->handler(req);
    hubd_disk_leave();
    /* a store write met a full disk: 507 Insufficient Storage (RFC 4918) says so; a 500
     * would read as a bug of the hub */
    if (req->disk.full && req->status >= 500)
        hubd_respond_error(req, 507, NULL,
                           "Insufficient Storage: the hub's disk is full (No space left on "
                           "device), so nothing of this %s request was stored; it can be sent "
                           "again once space is freed",
                           req->method);
    if (req->fault.kind == HUBD_FAULT_LAND_THEN_STATUS && req->status < 400)
        hubd_respond_error(req, (unsigned)req->fault.status, NULL,
                           "fault injected by --fault: the request was carried out, then "
                           "answered %d",
                           req->fault.status);
    return queue(req);
}

/* The access log shows the query with signatures and anything token-like blanked out. */
static void redacted_query(hfs_buf *out, const char *query)
{
    const char *q = query;
    bool first = true;
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        size_t klen = eq ? (size_t)(eq - q) : len;
        hfs_buf_putc(out, first ? '?' : '&');
        first = false;
        bool secret = (klen == 3 && strncmp(q, "sig", 3) == 0) ||
                      (klen == 5 && strncmp(q, "token", 5) == 0) ||
                      (eq && len - klen > 3 && strncmp(eq + 1, "hf_", 3) == 0);
        if (secret)
            hfs_buf_printf(out, "%.*s=REDACTED", (int)klen, q);
        else
            hfs_buf_add(out, q, len);
        if (!amp)
            break;
        q = amp + 1;
    }
}

/* The socket of a connection, or -1. */
static int connection_fd(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info ? (int)info->connect_fd : -1;
}

static void access_log(hubd_server *srv, hubd_request *req, enum MHD_RequestTerminationCode toe)
{
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    char peer[64] = "-";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, peer, sizeof(peer));
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, peer,
                      sizeof(peer));
    }
    hfs_buf line = HFS_BUF_INIT;
    char *path = req->raw_path ? req->raw_path : req->raw_uri;
    hfs_buf_printf(&line, "%s %s %s %.1000s", when, peer, req->method ? req->method : "-",
                   path ? path : "-");
    if (req->raw_query && *req->raw_query)
        redacted_query(&line, req->raw_query);
    if (req->status && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        hfs_buf_printf(&line, " %u", req->status);
    else if (req->status)
        hfs_buf_printf(&line, " %u(aborted)", req->status);
    else
        hfs_buf_puts(&line, " -(dropped)");
    hfs_buf_printf(&line, " in=%" PRIu64 " out=%" PRIu64 " %.1fms user=%s id=%s", req->body_bytes,
                   req->resp_bytes, (hfs_now() - req->started) * 1000.0,
                   req->grant.valid ? req->grant.user : "-", req->request_id);
    int fd = connection_fd(req->conn);
    pthread_mutex_lock(&srv->log_lock);
    if (fd >= 0 && (size_t)fd < srv->conn_serial_cap && srv->conn_serial[fd])
        hfs_buf_printf(&line, " conn=%" PRIu64, srv->conn_serial[fd]);
    hfs_buf_puts(&line, "\n");
    fputs(line.ptr, srv->access_log);
    fflush(srv->access_log);
    pthread_mutex_unlock(&srv->log_lock);
    hfs_buf_free(&line);
}

static void request_free(hubd_request *req)
{
    if (req->resp)
        MHD_destroy_response(req->resp);
    hubd_lfs_writer_abort(req->writer);
    hubd_git_cgi_free(req->git);
    if (req->spool_fd >= 0)
        close(req->spool_fd);
    hfs_buf_free(&req->body);
    hubd_route_clear(&req->route);
    hubd_grant_clear(&req->grant);
    for (size_t i = 0; i < req->n_query; i++) {
        free(req->qkeys[i]);
        free(req->qvals[i]);
    }
    free(req->qkeys);
    free(req->qvals);
    free(req->upload_error);
    free(req->raw_uri);
    free(req->raw_path);
    free(req->raw_query);
    free(req);
}

/* MHD_OPTION_NOTIFY_CONNECTION: numbers the connection for the access log, then the header
 * deadline watches it. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    hubd_server *srv = cls;
    int fd = code == MHD_CONNECTION_NOTIFY_STARTED ? connection_fd(conn) : -1;
    if (fd >= 0) {
        pthread_mutex_lock(&srv->log_lock);
        if ((size_t)fd >= srv->conn_serial_cap) {
            size_t cap = srv->conn_serial_cap ? srv->conn_serial_cap : 256;
            while (cap <= (size_t)fd)
                cap *= 2;
            srv->conn_serial = hfs_realloc(srv->conn_serial, cap * sizeof(uint64_t));
            memset(srv->conn_serial + srv->conn_serial_cap, 0,
                   (cap - srv->conn_serial_cap) * sizeof(uint64_t));
            srv->conn_serial_cap = cap;
        }
        srv->conn_serial[fd] = ++srv->connections;
        pthread_mutex_unlock(&srv->log_lock);
    }
    hubd_deadlines_on_connection(srv->deadlines, conn, socket_context, code);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    hubd_deadlines_request_done(((hubd_server *)cls)->deadlines, conn);
    hubd_request *req = *con_cls;
    if (!req)
        return;
    access_log(cls, req, toe); /* requests MHD refused itself (431, 413 URI) are logged too */
    request_free(req);
    *con_cls = NULL;
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    hfs_debug("hub: libmicrohttpd: %s", msg);
}

/* ------------------------------------------------------------------------------------ */
/* start, stop, serve                                                                   */

static int parse_listen(const char *listen, char **host, uint16_t *port)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen)
        return hfs_error_set(HFS_EINVALID,
                             "--listen '%s' is not HOST:PORT (e.g. 127.0.0.1:8765, port 0 picks "
                             "a free one)",
                             listen);
    char *end;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || p > 65535)
        return hfs_error_set(HFS_EINVALID, "--listen '%s': the port must be 0 to 65535", listen);
    const char *h = listen;
    size_t hlen = (size_t)(colon - listen);
    if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    *host = hfs_strndup(h, hlen);
    *port = (uint16_t)p;
    return 0;
}

int hfs_hubd_start(hfs_hubd **out, const hfs_hubd_options *opts)
{
    int rc = 0;
    struct addrinfo *ai = NULL;
    *out = NULL;
    if (!opts || opts->version != HFS_HUBD_OPTIONS_VERSION)
        return hfs_error_set(HFS_EINVALID, "hub options: unknown version %d (expected %d)",
                             opts ? opts->version : 0, HFS_HUBD_OPTIONS_VERSION);
    hubd_server *srv = hfs_calloc(1, sizeof(*srv));
    pthread_mutex_init(&srv->log_lock, NULL);
    srv->root = hfs_strdup(opts->root ? opts->root : HFS_HUBD_DEFAULT_ROOT);
    srv->strict_upload_auth = opts->strict_upload_auth;
    srv->multipart_threshold =
        opts->multipart_threshold ? opts->multipart_threshold : HFS_HUBD_DEFAULT_MULTIPART_THRESHOLD;
    srv->access_log = stderr;
    if (opts->access_log && strcmp(opts->access_log, "-") != 0) {
        srv->access_log = fopen(opts->access_log, "ae");
        if (!srv->access_log) {
            srv->access_log = stderr;
            rc = hfs_error_set(HFS_ERROR, "cannot open the access log %s: %s", opts->access_log,
                               strerror(errno));
            goto done;
        }
        srv->own_access_log = true;
    }
    if ((rc = parse_listen(opts->listen ? opts->listen : HFS_HUBD_DEFAULT_LISTEN,
                           &srv->listen_host, &srv->port)) < 0)
        goto done;
    srv->spool_dir = hfs_path_join(srv->root, "tmp");
    if ((rc = hfs_mkdir_p(srv->spool_dir)) < 0)
        goto done;
    srv->listings = hubd_listings_new(4);
    if ((rc = hubd_faults_parse(&srv->faults, "")) < 0)
        goto done;
    for (size_t i = 0; i < opts->n_faults; i++) {
        /* each spec is checked on its own so the error quotes the right one */
        hubd_faults *one = NULL;
        if ((rc = hubd_faults_parse(&one, opts->faults[i])) < 0)
            goto done;
        hubd_faults_free(one);
    }
    if (opts->n_faults) {
        hfs_buf all = HFS_BUF_INIT;
        for (size_t i = 0; i < opts->n_faults; i++)
            hfs_buf_printf(&all, "%s;", opts->faults[i]);
        hubd_faults_free(srv->faults);
        srv->faults = NULL;
        rc = hubd_faults_parse(&srv->faults, all.ptr);
        hfs_buf_free(&all);
        if (rc < 0)
            goto done;
    }
    if ((rc = hubd_tokens_open(&srv->tokens, srv->root)) < 0)
        goto done;
    for (size_t i = 0; i < opts->n_tokens; i++) {
        const char *every[] = {"*"};
        if ((rc = hubd_tokens_add(srv->tokens, opts->tokens[i], "user", true, every, 1)) < 0)
            goto done;
    }
    if ((rc = hubd_signer_open(&srv->signer, srv->root)) < 0)
        goto done;
    if ((rc = hubd_lfs_store_open(&srv->lfs, srv->root)) < 0)
        goto done;
    if ((rc = hubd_repos_open(&srv->repos, srv->root)) < 0)
        goto done;
    hubd_repos_recover(srv->repos); /* stale ref locks of a crash, pre-lowercase repo paths */

    struct addrinfo hints = {0};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    char port_text[8];
    snprintf(port_text, sizeof(port_text), "%u", srv->port);
    int gai = getaddrinfo(srv->listen_host, port_text, &hints, &ai);
    if (gai != 0 || !ai) {
        rc = hfs_error_set(HFS_EINVALID, "--listen: cannot resolve host '%s': %s",
                           srv->listen_host, gai_strerror(gai));
        goto done;
    }
    if ((rc = hubd_deadlines_start(&srv->deadlines, opts->header_timeout_s
                                                        ? opts->header_timeout_s
                                                        : DEFAULT_HEADER_TIMEOUT_S)) < 0)
        goto done;
    unsigned threads = opts->threads ? opts->threads : DEFAULT_THREADS;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_AUTO;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)CONNECTION_MEMORY, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
        MHD_OPTION_URI_LOG_CALLBACK, uri_logger, srv, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        srv, MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_logger, NULL, MHD_OPTION_END);
    if (!srv->daemon) {
        rc = hfs_error_set(HFS_ERROR,
                           "cannot listen on %s:%u (is the port in use? port 0 picks a free one)",
                           srv->listen_host, srv->port);
        goto done;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (di && di->port)
        srv->port = di->port;
    bool v6 = strchr(srv->listen_host, ':') != NULL;
    srv->url = hfs_sprintf("http://%s%s%s:%u", v6 ? "[" : "", srv->listen_host, v6 ? "]" : "",
                           srv->port);
    *out = srv;
    srv = NULL;
done:
    if (ai)
        freeaddrinfo(ai);
    hfs_hubd_stop(srv);
    return rc;
}

uint16_t hfs_hubd_port(const hfs_hubd *hub)
{
    return hub->port;
}

const char *hfs_hubd_url(const hfs_hubd *hub)
{
    return hub->url;
}

void hfs_hubd_stop(hfs_hubd *srv)
{
    if (!srv)
        return;
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    hubd_deadlines_stop(srv->deadlines);
    hubd_repos_free(srv->repos);
    hubd_lfs_store_free(srv->lfs);
    hubd_signer_free(srv->signer);
    hubd_tokens_free(srv->tokens);
    hubd_faults_free(srv->faults);
    hubd_listings_free(srv->listings);
    if (srv->own_access_log)
        fclose(srv->access_log);
    pthread_mutex_destroy(&srv->log_lock);
    free(srv->conn_serial);
    free(srv->root);
    free(srv->listen_host);
    free(srv->url);
    free(srv->spool_dir);
    free(srv);
}

int hfs_hubd_serve(const hfs_hubd_options *opts)
{
    /* block the stop signals before any thread starts, so only sigwait below sees them */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    hfs_hubd *hub = NULL;
    int rc = hfs_hubd_start(&hub, opts);
    if (rc < 0)
        goto done;
    if (opts->port_file) {
        char text[16];
        int n = snprintf(text, sizeof(text), "%u\n", hub->port);
        if ((rc = hfs_write_file_atomic(opts->port_file, text, (size_t)n, 0644)) < 0)
            goto done;
    }
    printf("hub listening on %s (root %s)\n", hub->url, hub->root);
    fflush(stdout);
    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    hfs_info("hub: stopping on signal %d", sig);
done:
    hfs_hubd_stop(hub);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int hfs_hubd_token_create(char **out, const char *root, const char *name, const char *role,
                          const char *const *namespaces, size_t n_namespaces)
{
    *out = NULL;
    if (!role)
        role = "read";
    if (strcmp(role, "read") != 0 && strcmp(role, "write") != 0)
        return hfs_error_set(HFS_EINVALID, "token role '%s' is not 'read' or 'write'", role);
    hubd_tokens *tokens = NULL;
    int rc = hubd_tokens_open(&tokens, root ? root : HFS_HUBD_DEFAULT_ROOT);
    if (rc == 0)
        rc = hubd_tokens_create(out, tokens, name, strcmp(role, "write") == 0, namespaces,
                                n_namespaces);
    hubd_tokens_free(tokens);
    return rc;
}
