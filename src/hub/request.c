/* The HTTP engine of the hub client: sends one logical request with curl, following
 * redirects itself (so the token never leaves the endpoint's origin), retrying with
 * backoff as huggingface_hub does, and turning failures into messages a user can act on. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/error.h"
#include "hub/request.h"

#define HUB_MAX_REDIRECTS 10
#define HUB_ERROR_BODY_MAX (64u * 1024u)
#define HUB_DEFAULT_MAX_BODY (64u * 1024u * 1024u)
#define HUB_SERVER_MESSAGE_MAX 500
/* Below curl's own cap (300 KB), so a hub sending endless headers gets a message of ours
 * and no retry: resending a request to a server that answers like that is pointless. */
#define HUB_HEADERS_MAX (256u * 1024u)
/* An answer still arriving after the stall timeout must average at least this much since
 * its first byte: a hub dribbling headers or a body a byte at a time never stalls, and
 * would otherwise hold hfsync forever. */
#define HUB_MIN_ANSWER_RATE 1024.0
/* The longest wait a RateLimit or Retry-After header can ask for: quota windows are five
 * minutes, so a larger value is a garbled header (and would overflow in milliseconds). */
#define HUB_RETRY_WAIT_MAX_S 3600L

static _Thread_local long last_status;
static _Thread_local long last_wait_ms;

long hfs_hub_last_status(void)
{
    return last_status;
}

long hfs_hub_last_retry_wait_ms(void)
{
    return last_wait_ms;
}

/* ---- responses ---------------------------------------------------------------------- */

static void headers_clear(hub_response *r)
{
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    r->n_headers = 0;
}

void hub_response_clear(hub_response *r)
{
    if (!r)
        return;
    headers_clear(r);
    free(r->headers);
    hfs_buf_free(&r->body);
    free(r->url);
    memset(r, 0, sizeof(*r));
}

/* Forgets one response so the next hop or attempt starts clean. */
static void response_reset(hub_response *r)
{
    headers_clear(r);
    hfs_buf_clear(&r->body);
    r->status = 0;
}

const char *hub_response_header(const hub_response *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

/* ---- one transfer and its curl callbacks -------------------------------------------- */

typedef struct {
    hfs_hub *hub;
    const hub_request *req;
    hub_response *resp;
    const hfs_hub_body *body;
    uint64_t sent;
    bool body_failed, sink_failed, too_large, delivered;
    bool headers_too_large, too_slow;
    size_t header_bytes;
    uint64_t answer_bytes; /* headers and body received, for the rate check */
    double answer_started; /* hfs_now() at the answer's first byte; 0 before */
} xfer;

void hub_response_header_line(hub_response *r, const char *data, size_t len)
{
    size_t l = len;
    while (l > 0 && (data[l - 1] == '\r' || data[l - 1] == '\n'))
        l--;
    if (l >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* A new response starts (after a 100 Continue, for instance): forget the old one. */
        response_reset(r);
        /* The three digits after the first space. curl's header data is not NUL-terminated,
         * so the digits are read within the line (strtol would read on past its end). */
        const char *sp = memchr(data, ' ', l);
        size_t at = sp ? (size_t)(sp - data) + 1 : l;
        for (size_t i = at; i < l && i < at + 3 && isdigit((unsigned char)data[i]); i++)
            r->status = r->status * 10 + (data[i] - '0');
        return;
    }
    const char *colon = memchr(data, ':', l);
    if (!colon || colon == data)
        return;
    const char *v = colon + 1, *end = data + l;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    hfs_hub_header h = {hfs_strndup(data, (size_t)(colon - data)),
                        hfs_strndup(v, (size_t)(end - v))};
    HFS_PUSH(r->headers, r->n_headers, r->cap_headers, h);
}

static void answer_progress(xfer *x, size_t len)
{
    if (x->answer_started == 0)
        x->answer_started = hfs_now();
    x->answer_bytes += len;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ctx)
{
    xfer *x = ctx;
    size_t len = size * nmemb;
    answer_progress(x, len);
    x->header_bytes += len;
    if (x->header_bytes > HUB_HEADERS_MAX) {
        x->headers_too_large = true;
        return 0;
    }
    hub_response_header_line(x->resp, data, len);
    return len;
}

/* Aborts an answer that trickles in (see HUB_MIN_ANSWER_RATE); a silent server is curl's
 * low-speed limit's job. */
static int on_xferinfo(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    xfer *x = ctx;
    long stall_ms = x->hub->opts.stall_timeout_ms;
    if (stall_ms <= 0 || x->answer_started == 0)
        return 0;
    double took = hfs_now() - x->answer_started;
    if (took * 1000.0 < (double)stall_ms || (double)x->answer_bytes / took >= HUB_MIN_ANSWER_RATE)
        return 0;
    x->too_slow = true;
    return 1;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    xfer *x = ctx;
    size_t len = size * nmemb;
    answer_progress(x, len);
    bool ok = x->resp->status >= 200 && x->resp->status < 300;
    if (ok && x->req->write) {
        if (x->req->write(x->req->write_ctx, data, len) < 0) {
            x->sink_failed = true;
            return 0;
        }
        x->delivered = true;
        return len;
    }
    size_t cap =
        ok ? (x->req->max_body ? x->req->max_body : HUB_DEFAULT_MAX_BODY) : HUB_ERROR_BODY_MAX;
    if (x->resp->body.len + len > cap) {
        if (ok) {
            x->too_large = true;
            return 0;
        }
        /* Of an error page the start is enough to explain it. */
        hfs_buf_add(&x->resp->body, data, cap - x->resp->body.len);
        return len;
    }
    hfs_buf_add(&x->resp->body, data, len);
    return len;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *ctx)
{
    xfer *x = ctx;
    ssize_t n = x->body->read(x->body->ctx, buf, size * nmemb);
    if (n < 0) {
        x->body_failed = true;
        return CURL_READFUNC_ABORT;
    }
    if (n == 0 && x->body->length >= 0 && x->sent < (uint64_t)x->body->length) {
        /* The server would wait for the missing bytes until it times out. */
        hfs_error_set(HFS_ERROR,
                      "cannot %s: the request body ended after %llu of the %lld bytes "
                      "it announced",
                      x->req->what, (unsigned long long)x->sent, (long long)x->body->length);
        x->body_failed = true;
        return CURL_READFUNC_ABORT;
    }
    x->sent += (uint64_t)n;
    if (x->req->progress)
        x->req->progress(x->req->progress_ctx, x->sent,
                         x->body->length >= 0 ? (uint64_t)x->body->length : x->sent);
    return (size_t)n;
}

/* curl rewinds on its own when a reused connection turns out dead mid-send. */
static int on_seek(void *ctx, curl_off_t offset, int origin)
{
    xfer *x = ctx;
    if (offset != 0 || origin != SEEK_SET || !x->body->rewind)
        return CURL_SEEKFUNC_CANTSEEK;
    if (x->body->rewind(x->body->ctx) < 0)
        return CURL_SEEKFUNC_FAIL;
    x->sent = 0;
    return CURL_SEEKFUNC_OK;
}

int hub_curl_debug(CURL *h, curl_infotype type, char *data, size_t size, void *ctx)
{
    (void)h;
    const hfs_hub *hub = ctx;
    if (type != CURLINFO_HEADER_OUT && type != CURLINFO_HEADER_IN)
        return 0;
    const char *mark = type == CURLINFO_HEADER_OUT ? ">" : "<";
    const char *p = data, *end = data + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        size_t l = (size_t)(line_end - p);
        while (l > 0 && p[l - 1] == '\r')
            l--;
        if (l > 0) {
            if (l >= 14 && strncasecmp(p, "authorization:", 14) == 0)
                hub_log(hub, HFS_LOG_INFO, "%s Authorization: <redacted>", mark);
            else
                hub_log(hub, HFS_LOG_INFO, "%s %.*s", mark, (int)l, p);
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

bool hub_token_goes_to(const hfs_hub *hub, const char *url)
{
    if (!hub->auth_header)
        return false;
    char *origin = hub_url_origin(url);
    bool same = origin && strcmp(origin, hub->origin) == 0;
    free(origin);
    return same;
}

static bool has_token_for(const hfs_hub *hub, const hub_request *req, const char *url)
{
    return req->auth && hub_token_goes_to(hub, url);
}

void hub_easy_setup(CURL *h, const hfs_hub *hub, const char *url, char errbuf[CURL_ERROR_SIZE])
{
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_SHARE, hub->share);
    curl_easy_setopt(h, CURLOPT_MAXCONNECTS, HUB_CONNECTIONS_KEPT);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, hub->user_agent);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, hub->opts.connect_timeout_ms);
    if (hub->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, hub->ca_file);
    if (hub->ca_dir)
        curl_easy_setopt(h, CURLOPT_CAPATH, hub->ca_dir);
    if (hub->opts.stall_timeout_ms > 0) {
        long secs = hub->opts.stall_timeout_ms / 1000;
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, secs > 0 ? secs : 1L);
    }
    if (hub->opts.verbose) {
        curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
        curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, hub_curl_debug);
        curl_easy_setopt(h, CURLOPT_DEBUGDATA, (void *)hub);
    }
}

/* One HTTP exchange, no redirect following. *location gets the Location of a 3xx. */
static CURLcode perform(xfer *x, const char *method, const char *url, bool with_token,
                        char **location, char errbuf[CURL_ERROR_SIZE])
{
    const hub_request *req = x->req;
    const hfs_hub *hub = x->hub;
    struct curl_slist *headers = NULL;
    CURLcode cc;
    CURL *h = curl_easy_init();

    *location = NULL;
    errbuf[0] = '\0';
    if (!h)
        return CURLE_OUT_OF_MEMORY;
    hub_easy_setup(h, hub, url, errbuf);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    x->header_bytes = 0;
    x->answer_bytes = 0;
    x->answer_started = 0;
    for (const char *const *hd = req->headers; hd && *hd; hd++)
        headers = curl_slist_append(headers, *hd);
    if (with_token)
        headers = curl_slist_append(headers, hub->auth_header);
    /* No 100-continue round trip before bodies. */
    headers = curl_slist_append(headers, "Expect:");

    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else {
        /* HEAD must report the stored size, so only the others accept compression. */
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
        if (x->body) {
            x->sent = 0;
            curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(h, CURLOPT_READDATA, x);
            curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
            curl_easy_setopt(h, CURLOPT_SEEKDATA, x);
            if (strcmp(method, "PUT") == 0) {
                curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
                if (x->body->length >= 0)
                    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->body->length);
            } else {
                curl_easy_setopt(h, CURLOPT_POST, 1L);
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body->length);
                if (strcmp(method, "POST") != 0)
                    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
            }
            if (x->body->length < 0)
                headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
        } else if (strcmp(method, "POST") == 0) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
        } else if (strcmp(method, "GET") != 0) {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        }
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);

    if (hub->opts.verbose) {
        char *shown = hub_url_display(hub, url);
        hub_log(hub, HFS_LOG_INFO, "%s %s%s", method, shown, with_token ? " (with token)" : "");
        free(shown);
    }
    cc = curl_easy_perform(h);
    if (cc == CURLE_OK) {
        long status = 0;
        char *loc = NULL;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        x->resp->status = status;
        if (curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
            *location = hfs_strdup(loc);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    return cc;
}

/* ---- failures ------------------------------------------------------------------------ */

static const char *reason_phrase(long status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Payload Too Large";
    case 416:
        return "Range Not Satisfiable";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "";
    }
}

/* Appends one server message, skipping repeats (the header and the body often agree). */
static void add_message(char ***msgs, size_t *n, size_t *cap, const char *m, size_t len)
{
    while (len > 0 && isspace((unsigned char)*m)) {
        m++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)m[len - 1]))
        len--;
    if (len == 0)
        return;
    char *s = hfs_strndup(m, len);
    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*msgs)[i], s) == 0) {
            free(s);
            return;
        }
    }
    HFS_PUSH(*msgs, *n, *cap, s);
}

/* What the server said: X-Error-Message, then the JSON body in any of its shapes
 * ({"error":"…"}, {"error":["…"]}, {"error":"code","error_description":"…"},
 * {"errors":[{"message":"…"}]}, {"message":"…"}), else a plain-text body. "" if nothing. */
static char *server_message(const hub_response *r)
{
    char **msgs = NULL;
    size_t n = 0, cap = 0;
    const char *hdr = hub_response_header(r, "X-Error-Message");
    if (hdr)
        add_message(&msgs, &n, &cap, hdr, strlen(hdr));
    json_t *j = r->body.len ? json_loadb(r->body.ptr, r->body.len, 0, NULL) : NULL;
    if (json_is_object(j)) {
        json_t *err = json_object_get(j, "error"), *errs = json_object_get(j, "errors");
        const char *desc = hub_json_str(j, "error_description");
        if (json_is_string(err) && desc) {
            char *both = hfs_sprintf("%s: %s", json_string_value(err), desc);
            add_message(&msgs, &n, &cap, both, strlen(both));
            free(both);
        } else if (json_is_string(err)) {
            add_message(&msgs, &n, &cap, json_string_value(err), json_string_length(err));
        } else if (json_is_array(err)) {
            size_t i;
            json_t *e;
            json_array_foreach(err, i, e)
            {
                if (json_is_string(e))
                    add_message(&msgs, &n, &cap, json_string_value(e), json_string_length(e));
            }
        }
        if (json_is_array(errs)) {
            size_t i;
            json_t *e;
            json_array_foreach(errs, i, e)
            {
                const char *m =
                    json_is_string(e) ? json_string_value(e) : hub_json_str(e, "message");
                if (m)
                    add_message(&msgs, &n, &cap, m, strlen(m));
            }
        }
        const char *m = hub_json_str(j, "message");
        if (m)
            add_message(&msgs, &n, &cap, m, strlen(m));
    } else if (!j && r->body.len) {
        const char *b = r->body.ptr;
        while (isspace((unsigned char)*b))
            b++;
        /* An HTML error page says nothing a terminal can show. */
        if (strncasecmp(b, "<!doctype", 9) != 0 && strncasecmp(b, "<html", 5) != 0 &&
            hfs_utf8_valid(r->body.ptr, r->body.len)) {
            size_t len = strlen(b);
            add_message(&msgs, &n, &cap, b,
                        len > HUB_SERVER_MESSAGE_MAX ? HUB_SERVER_MESSAGE_MAX : len);
        }
    }
    json_decref(j);
    hfs_buf out = HFS_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (i)
            hfs_buf_puts(&out, "; ");
        /* One line: newlines in server messages would break log lines. */
        for (const char *p = msgs[i]; *p; p++)
            hfs_buf_putc(&out, (*p == '\n' || *p == '\r') ? ' ' : *p);
        free(msgs[i]);
    }
    free(msgs);
    return hfs_buf_detach(&out);
}

/* A URL that names a repo (the hub answers 401 for missing and private repos alike). */
static bool is_repo_url(const hfs_hub *hub, const char *url)
{
    if (strncmp(url, hub->endpoint, strlen(hub->endpoint)) != 0)
        return false;
    const char *path = url + strlen(hub->endpoint);
    return hfs_str_starts_with(path, "/api/models/") ||
           hfs_str_starts_with(path, "/api/datasets/") ||
           hfs_str_starts_with(path, "/api/spaces/") || strstr(path, "/resolve/") ||
           strstr(path, ".git/info/lfs/");
}

static long parse_param(const char *s, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = s; (p = strstr(p, name)); p += n) {
        if ((p == s || strchr(";, \t", p[-1])) && p[n] == '=' && isdigit((unsigned char)p[n + 1]))
            return strtol(p + n + 1, NULL, 10);
    }
    return -1;
}

int hub_fail_response(const hfs_hub *hub, const hub_request *req, const char *method,
                      const hub_response *r, int attempts, bool token_sent)
{
    long status = r->status;
    const char *code_hdr = hub_response_header(r, "X-Error-Code");
    const char *msg_hdr = hub_response_header(r, "X-Error-Message");
    const char *request_id = hub_response_header(r, "X-Request-Id");
    char *server = server_message(r);
    char *shown = hub_url_display(hub, r->url ? r->url : req->url);
    char *explain = NULL;
    char *token_hint = token_sent ? hfs_sprintf("token: %s", hub->token_source)
                                  : hfs_strdup("no token was sent: set HF_TOKEN, or log in so "
                                               "the token file exists");
    int code;

    if (code_hdr && strcmp(code_hdr, "RepoNotFound") == 0) {
        code = HFS_ENOTFOUND;
        explain = hfs_sprintf("repository not found, or private and not readable (%s): check "
                              "the repo id and repo type",
                              token_hint);
    } else if (code_hdr && strcmp(code_hdr, "RevisionNotFound") == 0) {
        code = HFS_ENOTFOUND;
        explain = hfs_strdup("revision not found: check the branch, tag or commit id");
    } else if (code_hdr && strcmp(code_hdr, "EntryNotFound") == 0) {
        code = HFS_ENOTFOUND;
        explain = hfs_strdup("no such file or folder in the repository at that revision");
    } else if (code_hdr && strcmp(code_hdr, "GatedRepo") == 0) {
        code = HFS_EAUTH;
        explain = hfs_sprintf("the repository is gated: ask for access on its hub page, then "
                              "use a token of an account that was let in (%s)",
                              token_hint);
    } else if (!req->auth && (status == 401 || status == 403)) {
        /* Upload URLs carry their own credentials (never the token): a refusal means the
         * URL is no longer good, not that a token is missing. */
        code = HFS_EAUTH;
        explain = hfs_strdup("the storage refused the upload URL (it may have expired): run "
                             "the upload again to get fresh URLs from the hub");
    } else if (msg_hdr && strcmp(msg_hdr, "Access to this resource is disabled.") == 0) {
        code = HFS_EAUTH;
        explain = hfs_strdup("the repository is disabled on the hub");
    } else if (status == 401) {
        code = HFS_EAUTH;
        bool bad_token =
            msg_hdr && strcmp(msg_hdr, "Invalid credentials in Authorization header") == 0;
        if (bad_token && token_sent)
            explain = hfs_sprintf("the hub rejected the token (from %s): check it, or create a "
                                  "new one at %s/settings/tokens",
                                  hub->token_source, hub->endpoint);
        else if (is_repo_url(hub, r->url ? r->url : req->url))
            explain = hfs_sprintf("repository not found or private (the hub answers 401 for "
                                  "both): check the repo id and repo type (%s)",
                                  token_hint);
        else
            explain = hfs_sprintf("authentication required (%s)", token_hint);
    } else if (status == 403) {
        code = HFS_EAUTH;
        explain = hfs_sprintf("permission denied (%s): writing needs a token with write access "
                              "to this repo",
                              token_hint);
    } else if (status == 404) {
        code = HFS_ENOTFOUND;
        explain = hfs_strdup("not found");
    } else if (status == 409) {
        code = HFS_EEXISTS;
        explain = hfs_strdup("conflict: it already exists, or another change is in progress");
    } else if (status == 412) {
        code = HFS_ESTALE;
        explain = hfs_strdup("the branch moved since it was read (precondition failed): read "
                             "it again and retry");
    } else if (status == 413) {
        code = HFS_ELIMIT;
        explain = hfs_strdup("the request is larger than the hub accepts");
    } else if (status == 429) {
        /* Transient, not a safety refusal: the caller retries later (exit 1, not 4). */
        code = HFS_ENET;
        const char *rl = hub_response_header(r, "RateLimit");
        long reset = rl ? parse_param(rl, "t") : -1;
        explain = reset >= 0
                      ? hfs_sprintf("rate limited by the hub: the quota resets in %ld s", reset)
                      : hfs_strdup("rate limited by the hub: wait a few minutes and retry");
    } else if (status == 400 || status == 416 || status == 422) {
        code = HFS_EINVALID;
        explain = hfs_strdup("the hub refused the request");
    } else if (status >= 500) {
        code = HFS_ENET;
        explain = hfs_strdup("the hub failed with a server error");
    } else {
        code = HFS_ERROR;
        explain = hfs_strdup("unexpected answer");
    }

    hfs_buf tail = HFS_BUF_INIT;
    hfs_buf_printf(&tail, "HTTP %ld%s%s from %s %s", status, *reason_phrase(status) ? " " : "",
                   reason_phrase(status), method, shown);
    if (request_id)
        hfs_buf_printf(&tail, "; request id %s", request_id);
    if (attempts > 1)
        hfs_buf_printf(&tail, "; %d attempts", attempts);
    int rc = hfs_error_set(code, "cannot %s: %s%s%s (%s)", req->what, explain, *server ? ": " : "",
                           server, hfs_buf_cstr(&tail));
    hfs_buf_free(&tail);
    free(token_hint);
    free(explain);
    free(server);
    free(shown);
    return rc;
}

bool hub_retryable_status(long status)
{
    return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
           status == 504;
}

bool hub_retryable_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        return true;
    default:
        return false;
    }
}

int hub_fail_transport(const hfs_hub *hub, const hub_request *req, const char *method,
                       const char *url, CURLcode cc, const char *errbuf, int attempts)
{
    char *shown = hub_url_display(hub, url);
    const char *detail = *errbuf ? errbuf : curl_easy_strerror(cc);
    int rc;
    if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE)
        rc = hfs_error_set(HFS_ENET,
                           "cannot %s: the TLS certificate of the server could not be "
                           "verified (%s); check the endpoint, and the CA certificates (%s%s; "
                           "CURL_CA_BUNDLE or SSL_CERT_FILE names others) (%s %s)",
                           req->what, detail, hub->ca_file ? "from " : "the system's",
                           hub->ca_file ? hub->ca_file : "", method, shown);
    else if (attempts > 1)
        rc = hfs_error_set(HFS_ENET, "cannot %s: network error: %s (%s %s; %d attempts)", req->what,
                           detail, method, shown, attempts);
    else
        rc = hfs_error_set(HFS_ENET, "cannot %s: network error: %s (%s %s)", req->what, detail,
                           method, shown);
    free(shown);
    return rc;
}

/* ---- redirects and retries ------------------------------------------------------------- */

typedef struct {
    CURLcode cc; /* CURLE_OK when a response came */
    char errbuf[CURL_ERROR_SIZE];
    char *failed_url;   /* the hop that failed, for the message */
    const char *method; /* the method of the final hop */
    bool token_sent;    /* on the final hop */
} attempt_result;

bool hub_is_redirect(long status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* One attempt: the request and the redirects it leads to. Returns 0 when a final response
 * (of any status) arrived or a transport error happened (see res->cc), else an hfs error. */
static int attempt_once(xfer *x, attempt_result *res)
{
    const hub_request *req = x->req;
    const char *method = req->method;
    char *url = hfs_strdup(req->url);
    char *location = NULL;
    int rc = 0;

    x->body = req->body;
    for (int hop = 0;; hop++) {
        free(location);
        location = NULL;
        response_reset(x->resp);
        res->token_sent = has_token_for(x->hub, req, url);
        res->method = method;
        res->cc = perform(x, method, url, res->token_sent, &location, res->errbuf);
        free(x->resp->url);
        x->resp->url = hfs_strdup(url);
        if (x->body_failed || x->sink_failed) {
            rc = hfs_error_last_code() ? hfs_error_last_code() : HFS_ERROR;
            break;
        }
        if (x->too_large || x->headers_too_large || x->too_slow) {
            char *shown = hub_url_display(x->hub, url);
            if (x->too_slow)
                rc = hfs_error_set(HFS_ENET,
                                   "cannot %s: the answer of %s %s trickles in (%llu bytes in "
                                   "%.0f s): hfsync gives up on an answer slower than %.0f "
                                   "bytes/s once it has taken %g s (HFSYNC_STALL_TIMEOUT)",
                                   req->what, method, shown, (unsigned long long)x->answer_bytes,
                                   hfs_now() - x->answer_started, HUB_MIN_ANSWER_RATE,
                                   (double)x->hub->opts.stall_timeout_ms / 1000.0);
            else if (x->headers_too_large)
                rc = hfs_error_set(HFS_ERROR,
                                   "cannot %s: the answer of %s %s has more than %u bytes of "
                                   "headers",
                                   req->what, method, shown, HUB_HEADERS_MAX);
            else
                rc = hfs_error_set(
                    HFS_ERROR, "cannot %s: the answer of %s %s is larger than %zu bytes", req->what,
                    method, shown, req->max_body ? req->max_body : (size_t)HUB_DEFAULT_MAX_BODY);
            free(shown);
            break;
        }
        if (res->cc != CURLE_OK) {
            res->failed_url = url;
            url = NULL;
            break;
        }
        if (!hub_is_redirect(x->resp->status) || !location || req->redirects == HUB_REDIRECT_NONE) {
            break;
        }
        char *from = hub_url_origin(url), *to = hub_url_origin(location);
        bool same = from && to && strcmp(from, to) == 0;
        bool web =
            to && (hfs_str_starts_with(to, "http://") || hfs_str_starts_with(to, "https://"));
        free(from);
        free(to);
        if (req->redirects == HUB_REDIRECT_SAME_ORIGIN && !same) {
            break; /* the 3xx itself is the answer (e.g. a HEAD pointing at the CDN) */
        }
        if (!web || hop + 1 >= HUB_MAX_REDIRECTS) {
            char *shown = hub_url_display(x->hub, url);
            rc = hfs_error_set(HFS_ENET, "cannot %s: %s %s redirects %s", req->what, method, shown,
                               web ? "too many times" : "to a URL that is not http(s)");
            free(shown);
            break;
        }
        long s = x->resp->status;
        /* As browsers and curl do: 303 turns into GET, and so do 301/302 after a POST;
         * 307/308 repeat the same method with the same body. */
        if ((s == 303 && strcmp(method, "HEAD") != 0) ||
            ((s == 301 || s == 302) && strcmp(method, "POST") == 0)) {
            method = "GET";
            x->body = NULL;
        } else if (x->body) {
            if (!x->body->rewind) {
                char *shown = hub_url_display(x->hub, url);
                rc = hfs_error_set(HFS_ERROR,
                                   "cannot %s: %s %s redirects with HTTP %ld and the "
                                   "body cannot be sent twice",
                                   req->what, method, shown, s);
                free(shown);
                break;
            }
            if ((rc = x->body->rewind(x->body->ctx)) < 0)
                break;
        }
        if (x->hub->opts.verbose) {
            char *shown = hub_url_display(x->hub, location);
            hub_log(x->hub, HFS_LOG_INFO, "redirected (HTTP %ld) to %s", s, shown);
            free(shown);
        }
        free(url);
        url = location;
        location = NULL;
    }
    free(location);
    free(url);
    return rc;
}

/* The server's wait of `s` seconds plus one, as huggingface_hub sleeps, in milliseconds. */
static long server_wait_ms(long s)
{
    return ((s < HUB_RETRY_WAIT_MAX_S ? s : HUB_RETRY_WAIT_MAX_S) + 1) * 1000;
}

/* How long to wait before the next attempt: the server's RateLimit reset (429 with r=0)
 * or numeric Retry-After, plus one second, as huggingface_hub does; else the backoff. */
long hub_retry_wait_ms(const hub_response *r, long backoff_ms)
{
    if (r->status == 429) {
        const char *rl = hub_response_header(r, "RateLimit");
        if (rl && parse_param(rl, "r") == 0) {
            long t = parse_param(rl, "t");
            if (t >= 0)
                return server_wait_ms(t);
        }
    }
    const char *ra = hub_response_header(r, "Retry-After");
    if (ra) {
        char *end;
        long v = strtol(ra, &end, 10);
        if (end != ra && *end == '\0' && v >= 0)
            return server_wait_ms(v);
    }
    return backoff_ms;
}

void hub_sleep(const hfs_hub *hub, long ms)
{
    if (hub->opts.sleep_ms) {
        hub->opts.sleep_ms(hub->opts.sleep_ctx, ms);
        return;
    }
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int hub_send(hub_response *out, hfs_hub *hub, const hub_request *req)
{
    int rc = 0, attempt;
    long backoff = hub->opts.retry_base_ms;
    int attempts = req->retry ? hub->opts.max_attempts : 1;
    xfer x = {.hub = hub, .req = req, .resp = out};
    attempt_result res;

    memset(out, 0, sizeof(*out));
    for (attempt = 1;; attempt++) {
        memset(&res, 0, sizeof(res));
        x.body_failed = x.sink_failed = x.too_large = false;
        x.headers_too_large = x.too_slow = false;
        /* Every attempt sends the body from its first byte, whoever read it before. */
        if (req->body && req->body->rewind && (rc = req->body->rewind(req->body->ctx)) < 0)
            goto done;
        rc = attempt_once(&x, &res);
        if (rc < 0)
            goto done;
        bool network = res.cc != CURLE_OK;
        bool again = network ? hub_retryable_curl(res.cc) : hub_retryable_status(out->status);
        /* A body or a sink that cannot start over makes the request single-shot. */
        bool can_resend = (!req->body || req->body->rewind) && (!x.delivered || req->restart);
        if (!again || !can_resend || attempt >= attempts) {
            if (network) {
                out->status = 0;
                rc = hub_fail_transport(hub, req, res.method, res.failed_url, res.cc, res.errbuf,
                                        attempt);
                goto done;
            }
            break;
        }
        long ms = network ? backoff : hub_retry_wait_ms(out, backoff);
        char *shown = hub_url_display(hub, network ? res.failed_url : out->url);
        if (network)
            hub_log(hub, HFS_LOG_WARN, "%s %s: %s; retrying in %.1f s (attempt %d of %d)",
                    res.method, shown, *res.errbuf ? res.errbuf : curl_easy_strerror(res.cc),
                    (double)ms / 1000.0, attempt + 1, attempts);
        else
            hub_log(hub, HFS_LOG_WARN, "%s %s: HTTP %ld; retrying in %.1f s (attempt %d of %d)",
                    res.method, shown, out->status, (double)ms / 1000.0, attempt + 1, attempts);
        free(shown);
        free(res.failed_url);
        res.failed_url = NULL;
        hub_sleep(hub, ms);
        backoff = backoff * 2 > hub->opts.retry_max_ms ? hub->opts.retry_max_ms : backoff * 2;
        if (x.delivered && (rc = req->restart(req->write_ctx)) < 0)
            goto done;
        x.delivered = false;
    }
    if (hub->opts.verbose)
        hub_log(hub, HFS_LOG_INFO, "HTTP %ld", out->status);
    if (out->status < 200 || out->status >= 400 ||
        (hub_is_redirect(out->status) && req->redirects == HUB_REDIRECT_FOLLOW))
        rc = hub_fail_response(hub, req, res.method, out, attempt, res.token_sent);
done:
    last_status = out->status;
    last_wait_ms = out->status == 429 || out->status == 503 ? hub_retry_wait_ms(out, 0) : 0;
    free(res.failed_url);
    return rc;
}

/* ---- helpers for the endpoint functions ---------------------------------------------- */

hub_request hub_api_request(const char *what, const char *method, const char *url, bool retry)
{
    return (hub_request){.what = what,
                         .method = method,
                         .url = url,
                         .auth = true,
                         .retry = retry,
                         .redirects = HUB_REDIRECT_FOLLOW};
}

int hub_send_json(hub_response *out, hfs_hub *hub, const hub_request *req, const json_t *body)
{
    static const char *const json_headers[] = {"Content-Type: application/json", NULL};
    hub_mem_body mem;
    char *text = hub_json_dump(body);
    hfs_hub_body src = hub_body_from_mem(&mem, text, strlen(text));
    hub_request with_body = *req;

    with_body.body = &src;
    if (!with_body.headers)
        with_body.headers = json_headers;
    int rc = hub_send(out, hub, &with_body);
    free(text);
    return rc;
}

int hub_call_json(json_t **answer, hfs_hub *hub, const hub_request *req, json_t *body,
                  json_type expect)
{
    hub_response r;
    if (answer)
        *answer = NULL;
    int rc = body ? hub_send_json(&r, hub, req, body) : hub_send(&r, hub, req);
    if (rc == 0 && answer)
        rc = hub_json_parse(answer, hub, &r, req, expect);
    hub_response_clear(&r);
    json_decref(body);
    return rc;
}

int hub_call(hfs_hub *hub, const hub_request *req, json_t *body)
{
    return hub_call_json(NULL, hub, req, body, JSON_OBJECT);
}

char *hub_api_urlf(const hfs_hub *hub, const hfs_hub_repo *repo, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *tail = hfs_vsprintf(fmt, ap);
    va_end(ap);
    char *base = hfs_hub_api_url(hub, repo);
    char *url = hfs_sprintf("%s%s", base, tail);
    free(base);
    free(tail);
    return url;
}

char *hub_ref_url(const hfs_hub *hub, const hfs_hub_repo *repo, const char *route, const char *ref,
                  const char *tail)
{
    char *quoted = hfs_hub_quote_segment(ref ? ref : "main");
    char *url = hub_api_urlf(hub, repo, "/%s/%s%s", route, quoted, tail ? tail : "");
    free(quoted);
    return url;
}

int hub_protocol_error(const hfs_hub *hub, const hub_request *req, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *detail = hfs_vsprintf(fmt, ap);
    va_end(ap);
    char *shown = hub_url_display(hub, req->url);
    int rc = hfs_error_set(HFS_ERROR, "cannot %s: the answer to %s %s is not as expected: %s",
                           req->what, req->method, shown, detail);
    free(shown);
    free(detail);
    return rc;
}

int hub_json_parse(json_t **out, const hfs_hub *hub, const hub_response *r, const hub_request *req,
                   json_type expect)
{
    json_error_t err;
    *out = json_loadb(r->body.ptr ? r->body.ptr : "", r->body.len, 0, &err);
    if (!*out)
        return hub_protocol_error(hub, req, "not JSON (%s at byte %d)", err.text, err.position);
    if (json_typeof(*out) != expect) {
        json_decref(*out);
        *out = NULL;
        return hub_protocol_error(hub, req, "expected a JSON %s",
                                  expect == JSON_ARRAY ? "array" : "object");
    }
    return 0;
}

const char *hub_json_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

bool hub_json_bool(const json_t *obj, const char *key)
{
    return json_is_true(json_object_get(obj, key));
}

char *hub_json_dump(const json_t *value)
{
    char *s = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) {
        fprintf(stderr, "hfsync: out of memory (encoding JSON)\n");
        abort();
    }
    char *copy = hfs_strdup(s);
    free(s);
    return copy;
}

static ssize_t mem_read(void *ctx, char *buf, size_t len)
{
    hub_mem_body *m = ctx;
    size_t n = m->len - m->pos < len ? m->len - m->pos : len;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (ssize_t)n;
}

static int mem_rewind(void *ctx)
{
    ((hub_mem_body *)ctx)->pos = 0;
    return 0;
}

hfs_hub_body hub_body_from_mem(hub_mem_body *state, const char *data, size_t len)
{
    state->data = data;
    state->len = len;
    state->pos = 0;
    return (hfs_hub_body){mem_read, mem_rewind, state, (int64_t)len};
}

/* Resolves a Link target against the page it came from (it may be relative). */
static char *resolve_url(const char *base, const char *ref)
{
    CURLU *u = curl_url();
    char *abs = NULL, *copy = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &abs, 0) == CURLUE_OK)
        copy = hfs_strdup(abs);
    curl_free(abs);
    curl_url_cleanup(u);
    return copy;
}

int hub_get_pages(hfs_hub *hub, const char *what, const char *first_url, hub_page_fn fn, void *ctx)
{
    int rc = 0;
    char *url = hfs_strdup(first_url);
    while (url) {
        hub_response r;
        json_t *page = NULL;
        hub_request req = hub_api_request(what, "GET", url, true);
        rc = hub_send(&r, hub, &req);
        if (rc == 0)
            rc = hub_json_parse(&page, hub, &r, &req, JSON_ARRAY);
        if (rc == 0)
            rc = fn(ctx, page, &req);
        json_decref(page);
        char *next = NULL;
        const char *link = rc == 0 ? hub_response_header(&r, "Link") : NULL;
        char *target = link ? hub_link_next(link) : NULL;
        if (target) {
            next = resolve_url(r.url ? r.url : url, target);
            if (!next || strcmp(next, url) == 0) {
                rc = hub_protocol_error(hub, &req, "the Link header's next page (%s) is %s", target,
                                        next ? "the same page again" : "not a URL");
                free(next);
                next = NULL;
            }
        }
        free(target);
        hub_response_clear(&r);
        free(url);
        url = next;
        if (rc != 0)
            break;
    }
    free(url);
    return rc;
}
