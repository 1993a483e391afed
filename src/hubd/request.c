/* What every endpoint handler of the local hub uses: answering as the hub does (errors,
 * JSON, Range), reading queries and bodies, access control and revision lookups. */
#include "hubd/server.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "hubd/bodies.h"

static const char *expose_headers =
    "X-Repo-Commit,X-Request-Id,X-Error-Code,X-Error-Message,X-Total-Count,ETag,Link,"
    "Accept-Ranges,Content-Range,X-Linked-Size,X-Linked-Etag";

/* ------------------------------------------------------------------------------------ */
/* answering                                                                            */

void hubd_respond(hubd_request *req, unsigned status, struct MHD_Response *resp,
                  uint64_t body_bytes)
{
    if (req->resp)
        MHD_destroy_response(req->resp);
    req->resp = resp;
    req->status = status;
    req->resp_bytes = body_bytes;
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    MHD_add_response_header(resp, "Access-Control-Expose-Headers", expose_headers);
}

void hubd_add_header(hubd_request *req, const char *name, const char *value)
{
    if (req->resp)
        MHD_add_response_header(req->resp, name, value);
}

static void respond_buffer(hubd_request *req, unsigned status, char *data, size_t len,
                           const char *ctype)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", ctype);
    hubd_respond(req, status, r, len);
}

void hubd_respond_json_as(hubd_request *req, unsigned status, json_t *body, const char *ctype)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    if (!text)
        text = hfs_strdup("{}");
    respond_buffer(req, status, text, strlen(text), ctype);
}

void hubd_respond_json(hubd_request *req, unsigned status, json_t *body)
{
    hubd_respond_json_as(req, status, body, "application/json; charset=utf-8");
}

void hubd_respond_text(hubd_request *req, unsigned status, const char *text)
{
    char *copy = hfs_strdup(text);
    respond_buffer(req, status, copy, strlen(copy), "text/plain; charset=utf-8");
}

static void header_safe(char *out, size_t out_size, const char *msg)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)msg; *p && o + 1 < out_size; p++)
        out[o++] = (*p < 0x20 || *p == 0x7f || *p >= 0x80) ? ' ' : (char)*p;
    out[o] = '\0';
}

static void respond_error_v(hubd_request *req, unsigned status, const char *code,
                            const char *fmt, va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    json_t *body = json_pack("{s:s}", "error", msg);
    if (!body) /* not UTF-8: say it in ASCII */
        body = json_pack("{s:s}", "error", "request failed (the message was not valid UTF-8)");
    hubd_respond_json(req, status, body);
    char safe[1024];
    header_safe(safe, sizeof(safe), msg);
    hubd_add_header(req, "X-Error-Message", safe);
    if (code)
        hubd_add_header(req, "X-Error-Code", code);
}

void hubd_respond_error(hubd_request *req, unsigned status, const char *code, const char *fmt,
                        ...)
{
    va_list ap;
    va_start(ap, fmt);
    respond_error_v(req, status, code, fmt, ap);
    va_end(ap);
}

void hubd_respond_rc(hubd_request *req, int rc, const char *not_found_code)
{
    const char *msg = hfs_error_last();
    if (!*msg)
        msg = "internal error";
    switch (rc) {
    case HFS_ENOTFOUND:
        hubd_respond_error(req, 404, not_found_code, "%s", msg);
        break;
    case HFS_EINVALID:
    case HFS_ELIMIT:
        hubd_respond_error(req, 400, NULL, "%s", msg);
        break;
    case HFS_ESTALE:
        hubd_respond_error(req, 412, NULL, "%s", msg);
        break;
    case HFS_EEXISTS:
        hubd_respond_error(req, 409, NULL, "%s", msg);
        break;
    case HFS_EAUTH:
        hubd_respond_error(req, 403, NULL, "%s", msg);
        break;
    case HFS_ELOCKED:
        hubd_respond_error(req, 409, NULL, "%s", msg);
        break;
    default:
        hfs_warn("hub: %s %s failed: %s", req->method, req->raw_path, msg);
        hubd_respond_error(req, 500, NULL, "internal error: %s", msg);
        break;
    }
}

/* ------------------------------------------------------------------------------------ */
/* reading the request                                                                  */

const char *hubd_header(hubd_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *hubd_query(hubd_request *req, const char *key)
{
    for (size_t i = 0; i < req->n_query; i++)
        if (strcmp(req->qkeys[i], key) == 0)
            return req->qvals[i];
    return NULL;
}

static int parse_bool(const char *v)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 || strcmp(v, "1") == 0)
        return 1;
    if (strcmp(v, "false") == 0 || strcmp(v, "False") == 0 || strcmp(v, "0") == 0)
        return 0;
    return -1;
}

bool hubd_query_bool(hubd_request *req, const char *key, bool def, bool *ok)
{
    const char *v = hubd_query(req, key);
    *ok = true;
    if (!v)
        return def;
    int b = parse_bool(v);
    if (b < 0) {
        *ok = false;
        hubd_respond_error(req, 400, NULL,
                           "query parameter '%s' must be true or false, got '%.100s'", key, v);
        return false;
    }
    return b == 1;
}

bool hubd_query_uint(hubd_request *req, const char *key, uint64_t def, uint64_t max,
                     uint64_t *out)
{
    const char *v = hubd_query(req, key);
    *out = def;
    if (!v)
        return true;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (!*v || *v == '-' || errno || *end || n > max) {
        hubd_respond_error(req, 400, NULL,
                           "query parameter '%s' must be a whole number from 0 to %" PRIu64
                           ", got '%.100s'",
                           key, max, v);
        return false;
    }
    *out = n;
    return true;
}

size_t hubd_query_all(hubd_request *req, const char *key, const char **out, size_t max)
{
    size_t n = 0, klen = strlen(key);
    for (size_t i = 0; i < req->n_query && n < max; i++) {
        const char *k = req->qkeys[i];
        if (strcmp(k, key) == 0 || (strncmp(k, key, klen) == 0 && strcmp(k + klen, "[]") == 0))
            out[n++] = req->qvals[i];
    }
    return n;
}

json_t *hubd_body_json(hubd_request *req)
{
    json_t *v = NULL;
    if (hubd_parse_json_object(&v, req->body.ptr, req->body.len) < 0)
        hubd_respond_error(req, 400, NULL, "%s", hfs_error_last());
    return v;
}

char *hubd_base_url(hubd_request *req)
{
    const char *host = hubd_header(req, "Host");
    if (host && *host && strlen(host) < 256 &&
        strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") ==
            strlen(host))
        return hfs_sprintf("http://%s", host);
    return hfs_strdup(req->srv->url);
}

/* ------------------------------------------------------------------------------------ */
/* access control and revisions                                                         */

bool hubd_repo_visible(hubd_request *req, hubd_repo_meta *meta)
{
    const hubd_route *r = &req->route;
    memset(meta, 0, sizeof(*meta));
    int rc = HFS_ENOTFOUND;
    if (hubd_repo_part_valid(r->ns) && hubd_repo_part_valid(r->name))
        rc = hubd_repo_get_meta(meta, req->srv->repos, r->repo_kind, r->repo_id);
    if (rc == 0 && (!meta->private || hubd_grant_has_namespace(&req->grant, r->ns)))
        return true;
    if (rc == 0)
        hubd_repo_meta_clear(meta);
    else if (rc != HFS_ENOTFOUND) {
        hubd_respond_rc(req, rc, NULL);
        return false;
    }
    /* the hub answers 401 to anonymous callers for missing and private repos alike */
    hubd_respond_error(req, req->grant.valid ? 404 : 401, "RepoNotFound",
                       "Repository not found: %s repo '%s' does not exist%s", hubd_kind_name(r->repo_kind),
                       r->repo_id,
                       req->grant.valid ? ", or it is private and your token cannot see it"
                                        : ", or it is private and the request carried no token");
    return false;
}

bool hubd_can_write(hubd_request *req, const char *ns, const char *what)
{
    if (!req->grant.valid) {
        hubd_respond_error(req, 401, NULL,
                           "You must be authenticated to %s: send a token with the write role "
                           "(Authorization: Bearer hf_...)",
                           what);
        return false;
    }
    if (!req->grant.write) {
        hubd_respond_error(req, 403, NULL,
                           "The token of user '%s' is read-only: to %s you need a token with the "
                           "write role",
                           req->grant.user, what);
        return false;
    }
    if (!hubd_grant_has_namespace(&req->grant, ns)) {
        hubd_respond_error(req, 403, NULL,
                           "You don't have the rights to %s: namespace '%s' is not among the "
                           "namespaces of user '%s''s token",
                           what, ns, req->grant.user);
        return false;
    }
    return true;
}

bool hubd_is_pr_ref(const char *revision, unsigned *number)
{
    if (!revision || !hfs_str_starts_with(revision, "refs/pr/"))
        return false;
    const char *n = revision + 8;
    if (!*n || strlen(n) > 9 || strspn(n, "0123456789") != strlen(n) || n[0] == '0')
        return false;
    if (number)
        *number = (unsigned)strtoul(n, NULL, 10);
    return true;
}

static int resolve_quiet(hubd_request *req, const char *revision, char out[41])
{
    if (strcmp(revision, "HEAD") == 0)
        revision = "main";
    if (!*revision)
        return hfs_error_set(HFS_ENOTFOUND, "Invalid rev id: (empty)");
    return hubd_repo_resolve(out, req->srv->repos, req->route.repo_kind, req->route.repo_id,
                             revision);
}

bool hubd_resolve_rev(hubd_request *req, const char *revision, char out_oid[41])
{
    int rc = resolve_quiet(req, revision, out_oid);
    if (rc == HFS_ENOTFOUND) {
        hubd_respond_error(req, 404, "RevisionNotFound",
                           "Invalid rev id: %s (no such branch, tag, pull request or commit in "
                           "%s)",
                           revision, req->route.repo_id);
        return false;
    }
    if (rc < 0) {
        hubd_respond_rc(req, rc, "RevisionNotFound");
        return false;
    }
    return true;
}

bool hubd_split_rev_path(hubd_request *req, char **rev_out, char **path_out, char oid_out[41])
{
    const hubd_route *r = &req->route;
    *rev_out = *path_out = NULL;
    if (r->n_rest == 0) {
        hubd_respond_error(req, 404, "RevisionNotFound", "the URL names no revision");
        return false;
    }
    size_t first = 1, last = r->n_rest;
    /* a raw refs/pr/N (or refs/heads/x, refs/convert/x) is one revision of three segments */
    if (strcmp(r->rest[0], "refs") == 0 && r->n_rest >= 3)
        first = last = 3;
    for (size_t k = first; k <= last; k++) {
        char *rev = hubd_route_join(r, 0, k);
        int rc = resolve_quiet(req, rev, oid_out);
        if (rc == 0) {
            *rev_out = rev;
            *path_out = hubd_route_join(r, k, r->n_rest);
            return true;
        }
        free(rev);
        if (rc != HFS_ENOTFOUND) {
            hubd_respond_rc(req, rc, "RevisionNotFound");
            return false;
        }
    }
    char *shown = hubd_route_join(r, 0, first);
    hubd_respond_error(req, 404, "RevisionNotFound",
                       "Invalid rev id: %s (no such branch, tag, pull request or commit in %s)",
                       shown, r->repo_id);
    free(shown);
    return false;
}

bool hubd_path_valid(const char *path, const char **why)
{
    if (!path || !*path) {
        *why = "the path is empty";
        return false;
    }
    if (path[0] == '/') {
        *why = "the path is absolute (starts with '/')";
        return false;
    }
    if (strlen(path) > 4096) {
        *why = "the path is longer than 4096 bytes";
        return false;
    }
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            *why = "the path contains a control character";
            return false;
        }
        if (*p == '\\') {
            *why = "the path contains a backslash";
            return false;
        }
    }
    if (!hfs_utf8_valid(path, strlen(path))) {
        *why = "the path is not valid UTF-8";
        return false;
    }
    const char *seg = path;
    for (;;) {
        const char *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        if (len == 0) {
            *why = slash ? "the path has an empty segment ('//')" : "the path ends with '/'";
            return false;
        }
        if ((len == 1 && seg[0] == '.') || (len == 2 && strncmp(seg, "..", 2) == 0)) {
            *why = "the path has a '.' or '..' segment";
            return false;
        }
        if (len == 4 && strncmp(seg, ".git", 4) == 0) {
            *why = "the path has a '.git' segment";
            return false;
        }
        if (!slash)
            break;
        seg = slash + 1;
    }
    return true;
}

/* ------------------------------------------------------------------------------------ */
/* serving files with Range                                                             */

void hubd_serve_fd(hubd_request *req, int fd, uint64_t size, const char *etag)
{
    uint64_t start = 0, end = size ? size - 1 : 0;
    bool partial = false;
    const char *range = hubd_header(req, "Range");
    /* one "bytes=a-b" range; anything else (several ranges, other units) gets the whole file,
     * which RFC 9110 allows; an empty file has no byte to point at, so it is sent whole too */
    if (range && size > 0 && hfs_str_starts_with(range, "bytes=") && !strchr(range, ',')) {
        const char *spec = range + 6;
        const char *dash = strchr(spec, '-');
        char *e1 = NULL, *e2 = NULL;
        if (dash) {
            bool ok = true;
            uint64_t a = 0, b = size - 1;
            if (dash == spec) { /* suffix: the last N bytes */
                unsigned long long n = strtoull(dash + 1, &e2, 10);
                ok = e2 != dash + 1 && *e2 == '\0' && n > 0;
                if (ok)
                    a = n >= size ? 0 : size - n;
            } else {
                a = strtoull(spec, &e1, 10);
                ok = e1 == dash;
                if (ok && dash[1]) {
                    b = strtoull(dash + 1, &e2, 10);
                    ok = *e2 == '\0' && b >= a;
                    if (b >= size)
                        b = size - 1;
                }
            }
            if (ok && a >= size) {
                close(fd);
                hubd_respond_error(req, 416, NULL,
                                   "Range '%s' starts past the end of the %" PRIu64 "-byte file",
                                   range, size);
                char cr[64];
                snprintf(cr, sizeof(cr), "bytes */%" PRIu64, size);
                hubd_add_header(req, "Content-Range", cr);
                return;
            }
            if (ok) {
                start = a;
                end = b;
                partial = true;
            }
        }
    }
    uint64_t len = size ? end - start + 1 : 0;
    struct MHD_Response *r;
    if (len == 0) {
        close(fd);
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        r = MHD_create_response_from_fd_at_offset64(len, fd, start);
    }
    MHD_add_response_header(r, "Content-Type", "application/octet-stream");
    MHD_add_response_header(r, "Accept-Ranges", "bytes");
    if (etag)
        MHD_add_response_header(r, "ETag", etag);
    if (partial) {
        char cr[96];
        snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, start, end, size);
        MHD_add_response_header(r, "Content-Range", cr);
    }
    hubd_respond(req, partial ? 206 : 200, r, len);
}
