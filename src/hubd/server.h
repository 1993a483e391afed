/* The local hub's HTTP core, shared by the endpoint handlers: the server state, one request
 * (route, query, auth, body) and the helpers that answer it the way the hub does. */
#ifndef HUBD_SERVER_H
#define HUBD_SERVER_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/util.h"
#include "hfsync/hubd.h"
#include "hubd/fault.h"
#include "hubd/lfs_store.h"
#include "hubd/repo.h"
#include "hubd/route.h"
#include "hubd/sign.h"
#include "hubd/tokens.h"

/* Bodies the server reads into memory (JSON, forms) may not exceed this. */
#define HUBD_JSON_BODY_MAX (16u * 1024 * 1024)
/* Commit bodies larger than this are spooled to a temp file instead of memory. */
#define HUBD_SPOOL_ABOVE (4u * 1024 * 1024)
/* The largest commit body accepted (inline content is capped at 100 MiB by clients). */
#define HUBD_COMMIT_BODY_MAX (1024ull * 1024 * 1024)
/* Signed transfer URLs stay valid this long (seconds), like the hub's presigned URLs. */
#define HUBD_URL_TTL (24 * 3600)
/* The hub's largest LFS object (storage-limits.md: 500 GB hard maximum). */
#define HUBD_LFS_MAX_SIZE (500ull * 1000 * 1000 * 1000)
/* S3's single-PUT limit: above it a client that cannot do multipart is refused. */
#define HUBD_SINGLE_PUT_MAX (5ull * 1000 * 1000 * 1000)

typedef struct hfs_hubd hubd_server;
typedef struct hubd_request hubd_request;

struct hfs_hubd {
    char *root;
    hubd_repos *repos;
    hubd_lfs_store *lfs;
    hubd_tokens *tokens;
    hubd_signer *signer;
    hubd_faults *faults;
    struct hubd_listings *listings; /* recent tree listings, for paginated pages */
    uint64_t multipart_threshold;
    bool strict_upload_auth;
    struct MHD_Daemon *daemon;
    struct hubd_deadlines *deadlines; /* cuts connections slow to send a request (slow-loris) */
    char *listen_host;
    uint16_t port;
    char *url;
    char *spool_dir; /* ROOT/tmp: commit bodies and large inline files */
    FILE *access_log;
    bool own_access_log;
    pthread_mutex_t log_lock;
    /* Each connection's serial number (1, 2, … in the order they came), by socket: the
     * access log names the connection a request came on (conn=N), so a client's
     * connection reuse can be read off it. Guarded by log_lock. */
    uint64_t *conn_serial;
    size_t conn_serial_cap;
    uint64_t connections;
};

typedef enum {
    HUBD_BODY_NONE,   /* a body is read and dropped */
    HUBD_BODY_BUFFER, /* kept in memory up to body_limit (JSON, forms) */
    HUBD_BODY_SPOOL,  /* memory, then a temp file past HUBD_SPOOL_ABOVE (commits) */
    HUBD_BODY_SINK,   /* handed to sink() as it arrives (LFS uploads) */
} hubd_body_mode;

struct hubd_request {
    hubd_server *srv;
    struct MHD_Connection *conn;
    const char *method;
    char *raw_uri;
    char *raw_path;
    char *raw_query; /* without '?', "" when none */
    char request_id[160];
    double started;
    bool setup_done;

    hubd_route route;
    hubd_endpoint ep;
    hubd_fault_action fault;
    hubd_disk disk; /* what the stores may still write for it (--fault enospc) */

    char **qkeys, **qvals; /* decoded query parameters, in order */
    size_t n_query, cap_query;

    hubd_grant grant;      /* valid when a known token was presented */
    bool auth_present;     /* an Authorization header was sent */

    hubd_body_mode body_mode;
    uint64_t body_limit;
    bool body_too_large;
    hfs_buf body;
    int spool_fd;          /* -1 until the body moves to a file */
    uint64_t body_bytes;
    int (*sink)(hubd_request *req, const char *data, size_t len);
    void (*handler)(hubd_request *req);

    struct MHD_Response *resp;
    unsigned status;
    uint64_t resp_bytes;

    /* LFS upload state (HUBD_R_LFS_UPLOAD) */
    hubd_lfs_writer *writer;
    uint64_t upload_size;
    uint64_t upload_part;
    uint64_t upload_chunk;
    int upload_rc;
    char *upload_error;

    /* git smart HTTP (git_http.c): the backend a POST body streams into, until its handler */
    struct hubd_git_cgi *git;
};

/* ---- answering ---- */

/* Queues `resp` with `status`; adds X-Request-Id and the hub's exposed-header list. Takes
 * ownership of resp. A second answer to one request replaces the first. */
void hubd_respond(hubd_request *req, unsigned status, struct MHD_Response *resp,
                  uint64_t body_bytes);
/* JSON body (steals the reference), Content-Type application/json; charset=utf-8. */
void hubd_respond_json(hubd_request *req, unsigned status, json_t *body);
/* Same, with another content type (the LFS API's application/vnd.git-lfs+json). */
void hubd_respond_json_as(hubd_request *req, unsigned status, json_t *body, const char *ctype);
/* A hub error: X-Error-Code (when code is not NULL), X-Error-Message and {"error": msg}. */
void hubd_respond_error(hubd_request *req, unsigned status, const char *code, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));
/* Maps a library error (rc < 0, message in hfs_error_last()) to the hub's status:
 * ENOTFOUND 404 (X-Error-Code not_found_code), EINVALID 400, ELIMIT 400, ESTALE 412,
 * EEXISTS 409, EAUTH 403, anything else 500. */
void hubd_respond_rc(hubd_request *req, int rc, const char *not_found_code);
/* Plain text ("OK" for repos/delete). */
void hubd_respond_text(hubd_request *req, unsigned status, const char *text);
/* Adds a header to the queued answer (after hubd_respond*). */
void hubd_add_header(hubd_request *req, const char *name, const char *value);

/* ---- reading the request ---- */

const char *hubd_header(hubd_request *req, const char *name);
/* First value of a query parameter, NULL when absent. */
const char *hubd_query(hubd_request *req, const char *key);
/* A boolean query parameter: true/True/1 or false/False/0 (absent: def). Anything else
 * answers 400 and returns false with *ok false. */
bool hubd_query_bool(hubd_request *req, const char *key, bool def, bool *ok);
/* Parses a non-negative integer parameter (absent: def); a bad one answers 400. */
bool hubd_query_uint(hubd_request *req, const char *key, uint64_t def, uint64_t max,
                     uint64_t *out);
/* Every value of `key` and of `key[]` (e.g. expand, expand[]), in order. */
size_t hubd_query_all(hubd_request *req, const char *key, const char **out, size_t max);
/* The body parsed as a JSON object; answers 400 (with where it failed) and returns NULL when
 * it is not one. */
json_t *hubd_body_json(hubd_request *req);
/* The URL the client reached us at: "http://" + Host, or the listening address. */
char *hubd_base_url(hubd_request *req);

/* ---- access control ---- */

/* Looks the repo of the route up and checks that the caller may see it; when it is missing
 * or hidden, answers as the hub does (401 to anonymous callers, 404 otherwise, X-Error-Code
 * RepoNotFound) and returns false. meta is filled on success (clear it). */
bool hubd_repo_visible(hubd_request *req, hubd_repo_meta *meta);
/* Checks that the caller may write to namespace `ns` (401 anonymous, 403 read-only token or
 * another namespace); answers and returns false when not. `what` names the action. */
bool hubd_can_write(hubd_request *req, const char *ns, const char *what);
/* Resolves a revision of the route's repo ("HEAD" means main); answers 404
 * RevisionNotFound and returns false when it does not exist. */
bool hubd_resolve_rev(hubd_request *req, const char *revision, char out_oid[41]);
/* Splits rest[] into a revision and a path: "refs/<x>/<y>" raw takes three segments,
 * otherwise the shortest prefix that names an existing revision. Answers 404 and returns
 * false when none does. */
bool hubd_split_rev_path(hubd_request *req, char **rev_out, char **path_out, char oid_out[41]);
/* Is this revision a pull-request ref (refs/pr/N)? */
bool hubd_is_pr_ref(const char *revision, unsigned *number);
/* The hub's rules for a path inside a repo: not empty, not absolute, no "."/".." or ".git"
 * segment, no backslash or control character. Fills why when not valid. */
bool hubd_path_valid(const char *path, const char **why);

/* ---- endpoint handlers (api_*.c) ---- */

void hubd_handle_whoami(hubd_request *req);
void hubd_handle_repo_create(hubd_request *req);
void hubd_handle_repo_delete(hubd_request *req);
void hubd_handle_validate_yaml(hubd_request *req);
void hubd_handle_repo_info(hubd_request *req);
void hubd_handle_refs(hubd_request *req);
void hubd_handle_commits(hubd_request *req);
void hubd_handle_branch(hubd_request *req);
void hubd_handle_tree(hubd_request *req);
void hubd_handle_paths_info(hubd_request *req);
void hubd_handle_preupload(hubd_request *req);
void hubd_handle_commit(hubd_request *req);
void hubd_handle_resolve(hubd_request *req); /* also raw/ */
void hubd_handle_lfs_batch(hubd_request *req);
void hubd_handle_lfs_verify(hubd_request *req);
void hubd_handle_lfs_locks(hubd_request *req);
void hubd_handle_lfs_download(hubd_request *req);
/* LFS uploads are checked before their body arrives: returns false after answering. */
bool hubd_lfs_upload_begin(hubd_request *req);
int hubd_lfs_upload_sink(hubd_request *req, const char *data, size_t len);
void hubd_handle_lfs_upload(hubd_request *req);

/* Builds an entry of a tree / paths-info listing. */
json_t *hubd_entry_json(const hubd_entry *e, bool expand);
/* Streams a file descriptor (regular blob or LFS object) with Range support. Takes fd. */
void hubd_serve_fd(hubd_request *req, int fd, uint64_t size, const char *etag);

#endif
