/* The upload endpoints, in the order a commit uses them: preupload (regular or LFS?),
 * the LFS batch and its transfers (PUT, multipart completion, verify), the commit itself
 * (PROTOCOL.md §4–6). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/hash.h"
#include "hub/request.h"

static const char *const lfs_headers[] = {"Accept: application/vnd.git-lfs+json",
                                          "Content-Type: application/vnd.git-lfs+json", NULL};

/* ---- preupload ------------------------------------------------------------------------ */

void hfs_hub_preupload_result_clear(hfs_hub_preupload_result *result)
{
    if (!result)
        return;
    free(result->oid);
    memset(result, 0, sizeof(*result));
}

static json_t *base64_json(const void *data, size_t len)
{
    unsigned char *b64 = hfs_malloc(4 * ((len + 2) / 3) + 1);
    int n = EVP_EncodeBlock(b64, data, (int)len);
    json_t *s = json_stringn((const char *)b64, (size_t)n);
    free(b64);
    return s;
}

int hub_parse_preupload(hfs_hub_preupload_result *results, const hfs_hub *hub,
                        const hub_request *req, const hfs_hub_preupload_file *files, size_t n,
                        const json_t *answer)
{
    int rc = 0;
    bool *answered_flags = hfs_calloc(n ? n : 1, sizeof(bool));
    json_t *answered = json_object_get(answer, "files");
    if (!json_is_array(answered)) {
        rc = hub_protocol_error(hub, req, "no \"files\" array");
        goto done;
    }
    size_t j;
    json_t *item;
    json_array_foreach(answered, j, item)
    {
        const char *path = hub_json_str(item, "path");
        const char *mode = hub_json_str(item, "uploadMode");
        json_t *ignore = json_object_get(item, "shouldIgnore");
        json_t *oid = json_object_get(item, "oid");
        if (!path) {
            rc = hub_protocol_error(hub, req, "files[%zu] has no \"path\"", j);
            goto done;
        }
        if (!mode || (strcmp(mode, "lfs") != 0 && strcmp(mode, "regular") != 0)) {
            rc = hub_protocol_error(hub, req,
                                    "%s: uploadMode is %s%s%s, expected \"lfs\" or "
                                    "\"regular\"",
                                    path, mode ? "\"" : "", mode ? mode : "missing",
                                    mode ? "\"" : "");
            goto done;
        }
        if (!json_is_boolean(ignore)) {
            rc = hub_protocol_error(hub, req, "%s: shouldIgnore is missing or not a boolean", path);
            goto done;
        }
        if (oid && !json_is_null(oid) && !json_is_string(oid)) {
            rc = hub_protocol_error(hub, req, "%s: oid is neither a string nor null", path);
            goto done;
        }
        /* Match by path: the hub may answer in any order. Batches are small (≤256). */
        bool matched = false;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(files[i].path, path) != 0)
                continue;
            matched = answered_flags[i] = true;
            hfs_hub_preupload_result_clear(&results[i]);
            /* S3 refuses empty LFS objects, so empty files are always regular (as in Py). */
            results[i].mode = strcmp(mode, "lfs") == 0 && files[i].size > 0
                                  ? HFS_HUB_UPLOAD_LFS
                                  : HFS_HUB_UPLOAD_REGULAR;
            results[i].should_ignore = json_is_true(ignore);
            results[i].oid = json_is_string(oid) ? hfs_strdup(json_string_value(oid)) : NULL;
        }
        if (!matched) {
            rc = hub_protocol_error(hub, req, "it answers for %s, which was not asked about", path);
            goto done;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!answered_flags[i]) {
            rc = hub_protocol_error(hub, req, "no answer for %s", files[i].path);
            goto done;
        }
    }
done:
    free(answered_flags);
    return rc;
}

/* One preupload request for files[0..n) into results[0..n). */
static int preupload_batch(hfs_hub_preupload_result *results, hfs_hub *hub, const char *url,
                           const char *what, const hfs_hub_preupload_file *files, size_t n,
                           const char *gitignore, const char *gitattributes)
{
    json_t *answer = NULL, *body = json_object(), *list = json_array();
    hub_request req = hub_api_request(what, "POST", url, true);

    for (size_t i = 0; i < n; i++) {
        size_t sample_len = files[i].sample_len;
        if (sample_len > HFS_HUB_SAMPLE_MAX)
            sample_len = HFS_HUB_SAMPLE_MAX;
        json_t *f = json_object();
        json_object_set_new(f, "path", json_string(files[i].path));
        json_object_set_new(f, "sample", base64_json(files[i].sample, sample_len));
        json_object_set_new(f, "size", json_integer((json_int_t)files[i].size));
        json_array_append_new(list, f);
    }
    json_object_set_new(body, "files", list);
    if (gitignore)
        json_object_set_new(body, "gitIgnore", json_string(gitignore));
    if (gitattributes)
        json_object_set_new(body, "gitAttributes", json_string(gitattributes));
    int rc = hub_call_json(&answer, hub, &req, body, JSON_OBJECT);
    if (rc == 0)
        rc = hub_parse_preupload(results, hub, &req, files, n, answer);
    json_decref(answer);
    return rc;
}

int hfs_hub_preupload(hfs_hub_preupload_result *results, hfs_hub *hub, const hfs_hub_repo *repo,
                      const char *revision, const hfs_hub_preupload_file *files, size_t n,
                      const char *gitignore, const char *gitattributes, bool create_pr)
{
    char *url = hub_ref_url(hub, repo, "preupload", revision, create_pr ? "?create_pr=1" : NULL);
    char *what = hfs_sprintf("ask " HUB_REPO_FMT " at %s how to upload %zu file(s)",
                             HUB_REPO_ARGS(repo), revision ? revision : "main", n);
    int rc = 0;

    memset(results, 0, n * sizeof(*results));
    for (size_t start = 0; start < n && rc == 0; start += HFS_HUB_PREUPLOAD_BATCH) {
        size_t count = n - start > HFS_HUB_PREUPLOAD_BATCH ? HFS_HUB_PREUPLOAD_BATCH : n - start;
        rc = preupload_batch(results + start, hub, url, what, files + start, count, gitignore,
                             gitattributes);
    }
    if (rc < 0)
        for (size_t i = 0; i < n; i++)
            hfs_hub_preupload_result_clear(&results[i]);
    free(what);
    free(url);
    return rc;
}

int hfs_hub_preupload_each(hfs_hub_preupload_counts *out, hfs_hub *hub, const hfs_hub_repo *repo,
                           const char *revision, size_t n, const char *gitignore,
                           const char *gitattributes, bool create_pr,
                           const hfs_hub_preupload_fns *fns)
{
    hfs_hub_preupload_file *files = hfs_calloc(HFS_HUB_PREUPLOAD_BATCH, sizeof(*files));
    hfs_hub_preupload_result *results = hfs_calloc(HFS_HUB_PREUPLOAD_BATCH, sizeof(*results));
    unsigned char *samples = hfs_malloc((size_t)HFS_HUB_PREUPLOAD_BATCH * HFS_HUB_SAMPLE_MAX);
    size_t *which = hfs_calloc(HFS_HUB_PREUPLOAD_BATCH, sizeof(*which));
    int rc = 0;

    memset(out, 0, sizeof(*out));
    for (size_t start = 0; start < n && rc == 0;) {
        size_t count = 0;
        for (; start < n && count < HFS_HUB_PREUPLOAD_BATCH; start++) {
            if (!fns->wanted(fns->ctx, start))
                continue;
            if ((rc = fns->sample(fns->ctx, start, &files[count],
                                  samples + count * HFS_HUB_SAMPLE_MAX)) < 0)
                break;
            which[count++] = start;
        }
        if (rc < 0 || count == 0)
            break;
        if (fns->before_request && (rc = fns->before_request(fns->ctx)) < 0)
            break;
        rc = hfs_hub_preupload(results, hub, repo, revision, files, count, gitignore, gitattributes,
                               create_pr);
        if (rc < 0)
            break;
        out->asked += count;
        for (size_t k = 0; k < count; k++) {
            if (results[k].should_ignore)
                out->ignored++;
            else if (results[k].mode == HFS_HUB_UPLOAD_LFS)
                out->lfs++;
            else
                out->regular++;
            fns->answer(fns->ctx, which[k], &results[k]);
            hfs_hub_preupload_result_clear(&results[k]);
        }
    }
    free(which);
    free(samples);
    free(results);
    free(files);
    return rc;
}

ssize_t hfs_hub_sample_read(unsigned char *buf, const char *path, uint64_t size)
{
    size_t want = size < HFS_HUB_SAMPLE_MAX ? (size_t)size : HFS_HUB_SAMPLE_MAX;
    if (want == 0)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t got = 0;
    while (got < want) {
        ssize_t r = pread(fd, buf + got, want - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    return (ssize_t)got;
}

/* ---- LFS batch ------------------------------------------------------------------------ */

static void headers_free(hfs_hub_header *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
}

void hfs_hub_lfs_action_clear(hfs_hub_lfs_action *action)
{
    if (!action)
        return;
    free(action->upload_href);
    headers_free(action->upload_headers, action->n_upload_headers);
    for (size_t i = 0; i < action->n_parts; i++)
        free(action->part_urls[i]);
    free(action->part_urls);
    free(action->verify_href);
    headers_free(action->verify_headers, action->n_verify_headers);
    free(action->error_message);
    memset(action, 0, sizeof(*action));
}

/* An action's `header` map: every value must be a string. */
static int copy_header_map(hfs_hub_header **out, size_t *n, const hfs_hub *hub,
                           const hub_request *req, const json_t *map, const char *where)
{
    *out = NULL;
    *n = 0;
    if (!map || json_is_null(map))
        return 0;
    if (!json_is_object(map))
        return hub_protocol_error(hub, req, "%s.header is not an object", where);
    *out = hfs_calloc(json_object_size(map), sizeof(**out));
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)map, key, value)
    {
        if (!json_is_string(value))
            return hub_protocol_error(hub, req, "%s.header.%s is not a string", where, key);
        (*out)[*n].name = hfs_strdup(key);
        (*out)[*n].value = hfs_strdup(json_string_value(value));
        (*n)++;
    }
    return 0;
}

typedef struct {
    unsigned long number;
    const char *url;
} part_ref;

static int part_cmp(const void *a, const void *b)
{
    unsigned long x = ((const part_ref *)a)->number, y = ((const part_ref *)b)->number;
    return x < y ? -1 : x > y;
}

/* Multipart: `chunk_size` plus one digit-only key per part, whose value is the part's URL.
 * The keys are sorted as numbers; their count must be ceil(size / chunk_size). */
static int parse_parts(hfs_hub_lfs_action *a, const hfs_hub *hub, const hub_request *req)
{
    const char *chunk = NULL;
    part_ref *parts = hfs_calloc(a->n_upload_headers, sizeof(*parts));
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < a->n_upload_headers; i++) {
        const char *k = a->upload_headers[i].name;
        if (strcmp(k, "chunk_size") == 0) {
            chunk = a->upload_headers[i].value;
        } else if (*k && strspn(k, "0123456789") == strlen(k)) {
            parts[n].number = strtoul(k, NULL, 10);
            parts[n++].url = a->upload_headers[i].value;
        }
    }
    char *end = NULL;
    errno = 0;
    unsigned long long cs = chunk ? strtoull(chunk, &end, 10) : 0;
    if (!chunk || end == chunk || *end || cs == 0 || errno) {
        rc = hub_protocol_error(hub, req, "object %s: chunk_size \"%s\" is not a positive number",
                                a->oid, chunk ? chunk : "");
        goto done;
    }
    a->chunk_size = cs;
    /* ceil(size / cs) without the overflow of size + cs - 1, which a chunk_size near
     * 2^64 would turn into "no parts needed" for a non-empty object. */
    uint64_t expected = a->size / cs + (a->size % cs != 0);
    if (n != expected) {
        rc = hub_protocol_error(hub, req,
                                "object %s of %" PRIu64 " bytes in chunks of %llu needs "
                                "%" PRIu64 " part URLs, got %zu",
                                a->oid, a->size, cs, expected, n);
        goto done;
    }
    qsort(parts, n, sizeof(*parts), part_cmp);
    a->part_urls = hfs_calloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        a->part_urls[i] = hfs_strdup(parts[i].url);
    a->n_parts = n;
done:
    free(parts);
    return rc;
}

static int parse_lfs_object(hfs_hub_lfs_action *a, const hfs_hub *hub, const hub_request *req,
                            const json_t *obj)
{
    json_t *error = json_object_get(obj, "error");
    if (json_is_object(error)) {
        json_t *code = json_object_get(error, "code");
        a->kind = HFS_HUB_LFS_ERROR;
        a->error_code = json_is_integer(code) ? (int)json_integer_value(code) : 0;
        const char *msg = hub_json_str(error, "message");
        a->error_message = hfs_strdup(msg ? msg : "(no message)");
        return 0;
    }
    json_t *actions = json_object_get(obj, "actions");
    json_t *upload = json_object_get(actions, "upload");
    json_t *verify = json_object_get(actions, "verify");
    int rc;
    if (!json_is_object(upload)) {
        a->kind = HFS_HUB_LFS_PRESENT;
        return 0;
    }
    const char *href = hub_json_str(upload, "href");
    if (!href)
        return hub_protocol_error(hub, req, "object %s: actions.upload has no href", a->oid);
    a->upload_href = hub_url_fix_endpoint(hub, href);
    if ((rc = copy_header_map(&a->upload_headers, &a->n_upload_headers, hub, req,
                              json_object_get(upload, "header"), "actions.upload")) < 0)
        return rc;
    a->kind = HFS_HUB_LFS_BASIC;
    for (size_t i = 0; i < a->n_upload_headers; i++)
        if (strcmp(a->upload_headers[i].name, "chunk_size") == 0)
            a->kind = HFS_HUB_LFS_MULTIPART;
    if (a->kind == HFS_HUB_LFS_MULTIPART && (rc = parse_parts(a, hub, req)) < 0)
        return rc;
    if (json_is_object(verify)) {
        const char *vhref = hub_json_str(verify, "href");
        if (!vhref)
            return hub_protocol_error(hub, req, "object %s: actions.verify has no href", a->oid);
        a->verify_href = hub_url_fix_endpoint(hub, vhref);
        if ((rc = copy_header_map(&a->verify_headers, &a->n_verify_headers, hub, req,
                                  json_object_get(verify, "header"), "actions.verify")) < 0)
            return rc;
    }
    return 0;
}

int hub_parse_lfs_batch(hfs_hub_lfs_action *actions, const hfs_hub *hub, const hub_request *req,
                        const hfs_hub_lfs_object *objects, size_t n, const json_t *answer)
{
    int rc = 0;
    bool *answered = hfs_calloc(n ? n : 1, sizeof(bool));
    json_t *objs = json_object_get(answer, "objects");
    if (!json_is_array(objs)) {
        rc = hub_protocol_error(hub, req, "no \"objects\" array");
        goto done;
    }
    size_t j;
    json_t *obj;
    json_array_foreach(objs, j, obj)
    {
        const char *oid = hub_json_str(obj, "oid");
        json_t *size = json_object_get(obj, "size");
        if (!oid || !json_is_integer(size)) {
            rc = hub_protocol_error(hub, req, "objects[%zu] lacks a string oid or an integer size",
                                    j);
            goto done;
        }
        bool matched = false;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(objects[i].oid, oid) != 0)
                continue;
            matched = answered[i] = true;
            hfs_hub_lfs_action_clear(&actions[i]);
            snprintf(actions[i].oid, sizeof(actions[i].oid), "%s", oid);
            actions[i].size = objects[i].size;
            if ((rc = parse_lfs_object(&actions[i], hub, req, obj)) < 0)
                goto done;
        }
        if (!matched) {
            rc = hub_protocol_error(hub, req, "it answers for object %s, which was not asked about",
                                    oid);
            goto done;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!answered[i]) {
            rc = hub_protocol_error(hub, req, "no answer for object %s", objects[i].oid);
            goto done;
        }
    }
done:
    free(answered);
    return rc;
}

static int lfs_batch_once(hfs_hub_lfs_action *actions, hfs_hub *hub, const char *url,
                          const char *what, const char *revision, const hfs_hub_lfs_object *objects,
                          size_t n)
{
    json_t *answer = NULL, *body = json_object(), *list = json_array();
    hub_request req = hub_api_request(what, "POST", url, true);

    req.headers = lfs_headers;
    json_object_set_new(body, "operation", json_string("upload"));
    json_object_set_new(body, "transfers", json_pack("[ss]", "basic", "multipart"));
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_pack("{s:s,s:I}", "oid", objects[i].oid, "size",
                                              (json_int_t)objects[i].size));
    json_object_set_new(body, "objects", list);
    json_object_set_new(body, "hash_algo", json_string("sha256"));
    if (revision)
        json_object_set_new(body, "ref", json_pack("{s:s}", "name", revision));
    int rc = hub_call_json(&answer, hub, &req, body, JSON_OBJECT);
    if (rc == 0)
        rc = hub_parse_lfs_batch(actions, hub, &req, objects, n, answer);
    json_decref(answer);
    return rc;
}

int hfs_hub_lfs_batch(hfs_hub_lfs_action *actions, hfs_hub *hub, const hfs_hub_repo *repo,
                      const char *revision, const hfs_hub_lfs_object *objects, size_t n)
{
    char *id = hfs_hub_quote_path(repo->id);
    char *url = hfs_sprintf("%s/%s%s.git/info/lfs/objects/batch", hub->endpoint,
                            hfs_hub_type_prefix(repo->type), id);
    char *what = hfs_sprintf("ask " HUB_REPO_FMT " where to upload %zu LFS object(s)",
                             HUB_REPO_ARGS(repo), n);
    int rc = 0;

    memset(actions, 0, n * sizeof(*actions));
    for (size_t start = 0; start < n && rc == 0; start += HFS_HUB_LFS_BATCH) {
        size_t count = n - start > HFS_HUB_LFS_BATCH ? HFS_HUB_LFS_BATCH : n - start;
        rc = lfs_batch_once(actions + start, hub, url, what, revision, objects + start, count);
    }
    if (rc < 0)
        for (size_t i = 0; i < n; i++)
            hfs_hub_lfs_action_clear(&actions[i]);
    free(what);
    free(url);
    free(id);
    return rc;
}

/* ---- LFS transfers -------------------------------------------------------------------- */

typedef struct {
    int fd;
    uint64_t offset, length, pos;
} fd_range;

static ssize_t fd_range_read(void *ctx, char *buf, size_t len)
{
    fd_range *f = ctx;
    uint64_t left = f->length - f->pos;
    if (left == 0)
        return 0;
    if (len > left)
        len = (size_t)left;
    for (;;) {
        ssize_t n = pread(f->fd, buf, len, (off_t)(f->offset + f->pos));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            hfs_error_set(HFS_ERROR,
                          "cannot read the file being uploaded (fd %d at byte %" PRIu64 "): %s",
                          f->fd, f->offset + f->pos, strerror(errno));
            return -1;
        }
        if (n == 0) {
            hfs_error_set(HFS_ESTALE,
                          "the file being uploaded (fd %d) ended at byte %" PRIu64
                          ", before the %" PRIu64 " bytes planned: it changed since it was hashed",
                          f->fd, f->offset + f->pos, f->offset + f->length);
            return -1;
        }
        f->pos += (uint64_t)n;
        return n;
    }
}

static int fd_range_rewind(void *ctx)
{
    ((fd_range *)ctx)->pos = 0;
    return 0;
}

/* "Name: value" lines (NULL-terminated) for extra headers; the caller frees with free_lines. */
static char **header_lines(const hfs_hub_header *headers, size_t n, const char *const *more)
{
    size_t extra = 0;
    while (more && more[extra])
        extra++;
    char **lines = hfs_calloc(n + extra + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        lines[i] = hfs_sprintf("%s: %s", headers[i].name, headers[i].value);
    for (size_t i = 0; i < extra; i++)
        lines[n + i] = hfs_strdup(more[i]);
    return lines;
}

static void free_lines(char **lines)
{
    for (char **l = lines; l && *l; l++)
        free(*l);
    free(lines);
}

int hfs_hub_lfs_put(char **out, hfs_hub *hub, const char *url, const hfs_hub_header *headers,
                    size_t n_headers, int fd, uint64_t offset, uint64_t length, bool need_etag,
                    hfs_hub_progress_fn progress, void *progress_ctx)
{
    fd_range range = {fd, offset, length, 0};
    hfs_hub_body body = {fd_range_read, fd_range_rewind, &range, (int64_t)length};
    char **lines = header_lines(headers, n_headers, NULL);
    char *what =
        hfs_sprintf("upload bytes %" PRIu64 "-%" PRIu64 " to LFS storage", offset, offset + length);
    /* No token: upload URLs carry their own credentials (a presigned S3 URL). */
    hub_request req = {.what = what,
                       .method = "PUT",
                       .url = url,
                       .headers = (const char *const *)lines,
                       .body = &body,
                       .auth = false,
                       .retry = true,
                       .redirects = HUB_REDIRECT_FOLLOW,
                       .progress = progress,
                       .progress_ctx = progress_ctx};
    hub_response r;
    *out = NULL;
    int rc = hub_send(&r, hub, &req);
    if (rc == 0) {
        const char *etag = hub_response_header(&r, "ETag");
        if (etag && *etag)
            *out = hfs_strdup(etag);
        else if (need_etag)
            rc = hub_protocol_error(hub, &req,
                                    "no ETag header (a multipart upload needs each "
                                    "part's ETag)");
    }
    hub_response_clear(&r);
    free(what);
    free_lines(lines);
    return rc;
}

int hfs_hub_lfs_complete(hfs_hub *hub, const char *href, const char *oid, const char *const *etags,
                         size_t n_parts)
{
    json_t *parts = json_array();
    for (size_t i = 0; i < n_parts; i++)
        json_array_append_new(
            parts, json_pack("{s:I,s:s}", "partNumber", (json_int_t)(i + 1), "etag", etags[i]));
    char *what = hfs_sprintf("complete the multipart upload of LFS object %s", oid);
    hub_request req = hub_api_request(what, "POST", href, true);

    req.headers = lfs_headers;
    /* Neither official client sends the token here: the href carries its credentials. */
    req.auth = false;
    int rc = hub_call(hub, &req, json_pack("{s:s,s:o}", "oid", oid, "parts", parts));
    free(what);
    return rc;
}

int hfs_hub_lfs_verify(hfs_hub *hub, const hfs_hub_lfs_action *action)
{
    static const char *const ct[] = {"Content-Type: application/json", NULL};
    char *what = hfs_sprintf("verify LFS object %s", action->oid);
    int rc;

    if (action->verify_href) {
        char **lines = header_lines(action->verify_headers, action->n_verify_headers, ct);
        hub_request req = hub_api_request(what, "POST", action->verify_href, true);
        req.headers = (const char *const *)lines;
        rc = hub_call(hub, &req,
                      json_pack("{s:s,s:I}", "oid", action->oid, "size", (json_int_t)action->size));
        free_lines(lines);
    } else {
        rc = hfs_error_set(HFS_EINVALID, "cannot %s: the LFS batch asked for no verify call", what);
    }
    free(what);
    return rc;
}

/* ---- commit --------------------------------------------------------------------------- */

void hfs_hub_commit_result_clear(hfs_hub_commit_result *result)
{
    if (!result)
        return;
    free(result->commit_url);
    free(result->pull_request_url);
    memset(result, 0, sizeof(*result));
}

/* N of a pull request URL ending in /discussions/N; 0 when it does not. */
static long pr_number(const char *url)
{
    const char *p = strstr(url, "/discussions/");
    if (!p)
        return 0;
    p += strlen("/discussions/");
    char *end;
    long n = strtol(p, &end, 10);
    return (end != p && *end == '\0' && n > 0) ? n : 0;
}

int hub_parse_commit(hfs_hub_commit_result *out, const hfs_hub *hub, const hub_request *req,
                     const json_t *answer, bool create_pr)
{
    const char *oid = hub_json_str(answer, "commitOid");
    const char *commit_url = hub_json_str(answer, "commitUrl");
    const char *pr_url = hub_json_str(answer, "pullRequestUrl");
    memset(out, 0, sizeof(*out));
    if (!oid || strlen(oid) != 40 || !hfs_is_hex(oid, 40))
        return hub_protocol_error(hub, req, "commitOid is missing or not 40 hex digits");
    if (!commit_url)
        return hub_protocol_error(hub, req, "no commitUrl");
    if (create_pr && (!pr_url || !pr_number(pr_url)))
        return hub_protocol_error(hub, req,
                                  "pullRequestUrl is missing or does not end in "
                                  "/discussions/N");
    memcpy(out->commit_oid, oid, 41);
    out->commit_url = hub_url_fix_endpoint(hub, commit_url);
    if (pr_url) {
        out->pull_request_url = hub_url_fix_endpoint(hub, pr_url);
        out->pr_num = pr_number(pr_url);
    }
    return 0;
}

int hfs_hub_commit(hfs_hub_commit_result *out, hfs_hub *hub, const hfs_hub_repo *repo,
                   const char *revision, const hfs_hub_body *ndjson, bool create_pr)
{
    static const char *const ndjson_headers[] = {"Content-Type: application/x-ndjson", NULL};
    const char *rev_name = revision ? revision : "main";
    char *url = hub_ref_url(hub, repo, "commit", revision, create_pr ? "?create_pr=1" : NULL);
    char *what =
        create_pr ? hfs_sprintf("open a pull request on " HUB_REPO_FMT " against %s",
                                HUB_REPO_ARGS(repo), rev_name)
                  : hfs_sprintf("commit to " HUB_REPO_FMT " at %s", HUB_REPO_ARGS(repo), rev_name);
    /* Never retried: a second POST could make a second commit or PR. */
    hub_request req = hub_api_request(what, "POST", url, false);
    json_t *answer = NULL;

    req.headers = ndjson_headers;
    req.body = ndjson;
    memset(out, 0, sizeof(*out));
    int rc = hub_call_json(&answer, hub, &req, NULL, JSON_OBJECT);
    if (rc == 0)
        rc = hub_parse_commit(out, hub, &req, answer, create_pr);
    json_decref(answer);
    free(what);
    free(url);
    return rc;
}
