/* The hub client's HTTP engine, private to src/hub: one logical request with the token sent
 * by origin only, redirects followed hop by hop, retries with backoff, failures mapped. */
#ifndef HFS_HUB_REQUEST_H
#define HFS_HUB_REQUEST_H

#include <curl/curl.h>
#include <pthread.h>

#include "common/log.h"
#include "common/util.h"
#include "hub/hub.h"

struct hfs_hub {
    char *endpoint;     /* no trailing `/` */
    char *origin;       /* "scheme://host:port" of the endpoint, lowercase */
    char *token;        /* NULL: anonymous */
    char *token_source; /* hfs_hub_token_describe() of where it came from */
    char *auth_header;  /* "Authorization: Bearer …", or NULL */
    char *user_agent;
    char *ca_file, *ca_dir; /* CA certificates named by the environment (see session.c) */
    hfs_hub_options opts; /* the string fields above are the owned copies; these are NULL */
    CURLSH *share;        /* connections, DNS and TLS sessions shared by every call */
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

typedef enum {
    HUB_REDIRECT_FOLLOW,      /* follow wherever it goes (the token stays home) */
    HUB_REDIRECT_SAME_ORIGIN, /* follow only within the origin; else the 3xx is the answer */
    HUB_REDIRECT_NONE,
} hub_redirects;

typedef struct {
    const char *what; /* for messages: "list the files of model a/b at main" */
    const char *method;
    const char *url;            /* absolute */
    const char *const *headers; /* extra "Name: value" lines, NULL-terminated, or NULL */
    const hfs_hub_body *body;   /* NULL: none */
    /* Where a 2xx body goes; NULL: into hub_response.body (at most max_body bytes). */
    hfs_hub_write_fn write;
    int (*restart)(void *ctx);
    void *write_ctx;
    size_t max_body; /* 0: 64 MiB */
    bool auth;       /* send the token (only ever to the endpoint's origin) */
    bool retry;
    hub_redirects redirects;
    hfs_hub_progress_fn progress; /* upload progress, may be NULL */
    void *progress_ctx;
} hub_request;

typedef struct {
    long status;             /* of the final response; 0 when none came */
    hfs_buf body;            /* 2xx without a `write`, or the error body (capped) */
    hfs_hub_header *headers; /* of the final response */
    size_t n_headers, cap_headers;
    char *url; /* the URL that gave the final response */
} hub_response;

/* Sends the request. 0 for a 2xx/3xx final response; else the mapped error (the message
 * says what, why, METHOD URL, status and request id). *out is filled either way (an error
 * response's headers and body too) and must be cleared with hub_response_clear. */
int hub_send(hub_response *out, hfs_hub *hub, const hub_request *req);
void hub_response_clear(hub_response *r);
/* The value of a response header (case-insensitive name), or NULL. */
const char *hub_response_header(const hub_response *r, const char *name);

/* ---- one API call, for the endpoint functions ------------------------------------------ */

/* The request of an ordinary API call: token sent, redirects followed, retried only when
 * `retry` (a call that creates something is sent once). Callers adjust the rest after. */
hub_request hub_api_request(const char *what, const char *method, const char *url, bool retry);
/* hub_send with body, encoded, as the request body: Content-Type: application/json unless
 * req->headers names headers of its own. body stays the caller's. */
int hub_send_json(hub_response *out, hfs_hub *hub, const hub_request *req, const json_t *body);
/* A whole API call: sends req (with body as its JSON body when not NULL, else req's own
 * body, if any) and parses the answer, which must be a JSON `expect`, into *answer (the
 * caller's; NULL after an error). body is stolen, as by jansson's *_new functions, so it
 * may be built in the argument list. */
int hub_call_json(json_t **answer, hfs_hub *hub, const hub_request *req, json_t *body,
                  json_type expect);
/* hub_call_json for a call whose answer is not kept: its 2xx status says all, or req->write
 * took the body. */
int hub_call(hfs_hub *hub, const hub_request *req, json_t *body);

/* ---- pieces of hub_send shared with the parallel transfers (transfer.c) ---------------- */

/* How many idle connections the session's shared cache keeps for reuse. libcurl trims it,
 * whenever a connection goes back, to the limit of the handle returning it (5 unless set)
 * or of its multi handle (4 per transfer in it), so without this every request between two
 * rounds of parallel uploads closed all but a few connections and the next round opened
 * new ones (155 connections for one upload of the 4 GiB bench tree; over HTTPS, each one a
 * TLS handshake). Room for the most parallel transfers (64) and the session's own calls. */
#define HUB_CONNECTIONS_KEPT 72L

/* The options every request's easy handle gets: URL, the session's share handle (and its
 * connection cache size), user agent, http(s) only, no automatic redirects (they are
 * followed hop by hop), timeouts, and the verbose log with Authorization redacted. */
void hub_easy_setup(CURL *h, const hfs_hub *hub, const char *url, char errbuf[CURL_ERROR_SIZE]);
/* CURLOPT_DEBUGFUNCTION for verbose sessions; the debug data is the hfs_hub. */
int hub_curl_debug(CURL *h, curl_infotype type, char *data, size_t size, void *hub);
/* Feeds one header line as curl hands it over (a status line starts a new response). */
void hub_response_header_line(hub_response *r, const char *data, size_t len);
/* Whether the token may go to url: the session has one and url is on the endpoint's origin. */
bool hub_token_goes_to(const hfs_hub *hub, const char *url);
bool hub_is_redirect(long status);
/* The retry policy: which answers and network errors are worth another attempt, and how
 * long to wait first (the server's RateLimit / Retry-After, else backoff_ms). */
bool hub_retryable_status(long status);
bool hub_retryable_curl(CURLcode cc);
long hub_retry_wait_ms(const hub_response *r, long backoff_ms);
/* The mapped error for a final response r (status, server message, request id) or for a
 * network failure; both return the negative code after hfs_error_set. */
int hub_fail_response(const hfs_hub *hub, const hub_request *req, const char *method,
                      const hub_response *r, int attempts, bool token_sent);
int hub_fail_transport(const hfs_hub *hub, const hub_request *req, const char *method,
                       const char *url, CURLcode cc, const char *errbuf, int attempts);

/* Parses a JSON answer, expecting an object or an array; HFS_ERROR naming the request when
 * it is not. The caller owns *out. */
int hub_json_parse(json_t **out, const hfs_hub *hub, const hub_response *r, const hub_request *req,
                   json_type expect);
/* HFS_ERROR: "cannot WHAT: the answer to METHOD URL is not as expected: DETAIL". */
int hub_protocol_error(const hfs_hub *hub, const hub_request *req, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- the answer parsers: JSON in, results out, no I/O (the fuzz targets call them) ------ */

/* One tree or paths-info page (a JSON array) into entries pointing into the JSON. *out is
 * allocated even on failure; the caller frees it. */
int hub_parse_entries(hfs_hub_entry **out, size_t *n, const hfs_hub *hub, const hub_request *req,
                      const json_t *page);
/* A preupload answer {"files": [...]} for files[0..n) into results[0..n). On failure the
 * results may hold some answers already: clear each one. */
int hub_parse_preupload(hfs_hub_preupload_result *results, const hfs_hub *hub,
                        const hub_request *req, const hfs_hub_preupload_file *files, size_t n,
                        const json_t *answer);
/* An LFS batch answer {"objects": [...]} for objects[0..n) into actions[0..n). On failure
 * the actions may hold some answers already: clear each one. */
int hub_parse_lfs_batch(hfs_hub_lfs_action *actions, const hfs_hub *hub, const hub_request *req,
                        const hfs_hub_lfs_object *objects, size_t n, const json_t *answer);
/* A commit answer {"commitOid", "commitUrl", "pullRequestUrl"?}; *out is zeroed first. */
int hub_parse_commit(hfs_hub_commit_result *out, const hfs_hub *hub, const hub_request *req,
                     const json_t *answer, bool create_pr);

/* Called with each page of a paginated JSON-array answer; non-zero stops the walk. */
typedef int (*hub_page_fn)(void *ctx, json_t *page, const hub_request *req);
/* GETs first_url and every `Link: <…>; rel="next"` page after it (retried, with token). */
int hub_get_pages(hfs_hub *hub, const char *what, const char *first_url, hub_page_fn fn, void *ctx);

/* `Link: <url>; rel="next"` → the next page's URL (caller frees), or NULL. */
char *hub_link_next(const char *link);
/* "scheme://host:port" (lowercase, default port filled in), or NULL when not a URL. */
char *hub_url_origin(const char *url);
/* The URL for messages: no user:password, and no query when it is not on the endpoint's
 * origin (presigned URLs carry their signature there). */
char *hub_url_display(const hfs_hub *hub, const char *url);
/* https://huggingface.co/… returned by the hub → {endpoint}/… (as huggingface_hub does). */
char *hub_url_fix_endpoint(const hfs_hub *hub, const char *url);
/* "model alice/x" for messages. Caller frees. */
char *hub_repo_label(const hfs_hub_repo *repo);
/* The same label inside a message being formatted:
 * hfs_sprintf("read " HUB_REPO_FMT " at %s", HUB_REPO_ARGS(repo), revision). */
#define HUB_REPO_FMT "%s %s"
#define HUB_REPO_ARGS(repo) hfs_repo_type_name((repo)->type), (repo)->id
/* {api}TAIL: an API URL of the repo (hfs_hub_api_url) with a printf-formatted tail. */
char *hub_api_urlf(const hfs_hub *hub, const hfs_hub_repo *repo, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* {api}/ROUTE/REF{tail}, the ref (a revision or branch; NULL: main) as ONE quoted segment:
 * …/commit/refs%2Fpr%2F3?create_pr=1. tail may be NULL. Caller frees. */
char *hub_ref_url(const hfs_hub *hub, const hfs_hub_repo *repo, const char *route, const char *ref,
                  const char *tail);

/* Logs a line through the session's log hook (else hfs_log at `level`), with the token
 * masked should it ever show. */
void hub_log(const hfs_hub *hub, hfs_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Waits ms milliseconds (through the session's sleep hook when it has one). */
void hub_sleep(const hfs_hub *hub, long ms);

/* JSON field readers: NULL / -1 / false when absent or of another type. */
const char *hub_json_str(const json_t *obj, const char *key);
bool hub_json_bool(const json_t *obj, const char *key);
/* A JSON body as a compact string, for request bodies. Caller frees. */
char *hub_json_dump(const json_t *value);

/* A request body over one in-memory string (rewindable). */
typedef struct {
    const char *data;
    size_t len, pos;
} hub_mem_body;
hfs_hub_body hub_body_from_mem(hub_mem_body *state, const char *data, size_t len);

#endif
