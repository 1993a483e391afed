/* The local hub's file endpoints: tree listing, paths-info, preupload, the NDJSON commit and
 * resolve / raw (downloads), each answering with the hub's fields, status codes and error headers. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/hash.h"
#include "hubd/listing_cache.h"
#include "hubd/server.h"

#define TREE_PAGE 1000
#define TREE_PAGE_EXPANDED 50
#define PATHS_INFO_MAX 1000
#define PREUPLOAD_MAX_FILES 256
#define PREUPLOAD_SAMPLE_MAX 1024
/* A commit line holds at most one file: 10 MiB of content is about 14 MiB of base64. */
#define COMMIT_LINE_MAX (24u * 1024 * 1024)
/* Inline files larger than this go to a temp file rather than memory. */
#define INLINE_IN_MEMORY_MAX (1u * 1024 * 1024)
/* Keeps a hostile commit from holding millions of operations in memory. */
#define COMMIT_MAX_OPS 100000

json_t *hubd_entry_json(const hubd_entry *e, bool expand)
{
    json_t *o = json_pack("{s:s, s:s, s:I, s:s}", "type", e->is_dir ? "directory" : "file", "oid",
                          e->oid, "size", (json_int_t)(e->is_dir ? 0 : e->size), "path", e->path);
    if (e->is_lfs)
        json_object_set_new(o, "lfs", json_pack("{s:s, s:I, s:I}", "oid", e->lfs_oid, "size",
                                                (json_int_t)e->size, "pointerSize",
                                                (json_int_t)e->pointer_size));
    if (expand) {
        if (e->last_commit_oid[0])
            json_object_set_new(o, "lastCommit",
                                json_pack("{s:s, s:s, s:s}", "id", e->last_commit_oid, "title",
                                          e->last_commit_title ? e->last_commit_title : "",
                                          "date", e->last_commit_date ? e->last_commit_date : ""));
        if (!e->is_dir)
            /* no scanner runs here; the hub reports scanned files like this */
            json_object_set_new(o, "securityFileStatus",
                                json_pack("{s:s, s:{s:s, s:b}, s:{s:s, s:[]}}", "status", "safe",
                                          "avScan", "status", "safe", "virusFound", 0,
                                          "pickleImportScan", "status", "unscanned", "imports"));
    }
    return o;
}

/* ---- tree ------------------------------------------------------------------------------ */

/* The next page's URL: the same path and query with the cursor moved on. */
static char *next_page_link(hubd_request *req, uint64_t cursor)
{
    char *base = hubd_base_url(req);
    hfs_buf b = HFS_BUF_INIT;
    hfs_buf_printf(&b, "<%s%s?", base, req->raw_path);
    const char *q = req->raw_query;
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len > 0 && !(len >= 6 && strncmp(q, "cursor", 6) == 0 && (len == 6 || q[6] == '=')))
            hfs_buf_printf(&b, "%.*s&", (int)len, q);
        if (!amp)
            break;
        q = amp + 1;
    }
    hfs_buf_printf(&b, "cursor=%" PRIu64 ">; rel=\"next\"", cursor);
    free(base);
    return hfs_buf_detach(&b);
}

/* A copy of one entry, for a page whose entries get their last commits filled in. */
static void entry_copy(hubd_entry *out, const hubd_entry *e)
{
    *out = *e;
    out->path = hfs_strdup(e->path);
    out->last_commit_title = e->last_commit_title ? hfs_strdup(e->last_commit_title) : NULL;
    out->last_commit_date = e->last_commit_date ? hfs_strdup(e->last_commit_date) : NULL;
}

void hubd_handle_tree(hubd_request *req)
{
    hubd_repo_meta meta;
    hubd_listing *listing = NULL;
    hubd_entry *page_copy = NULL;
    size_t n = 0, on_page = 0;
    char *rev = NULL, *path = NULL, *key = NULL;
    if (!hubd_repo_visible(req, &meta))
        return;
    bool ok1, ok2;
    bool recursive = hubd_query_bool(req, "recursive", false, &ok1);
    bool expand = ok1 ? hubd_query_bool(req, "expand", false, &ok2) : false;
    uint64_t cursor;
    if (!ok1 || !ok2 || !hubd_query_uint(req, "cursor", 0, UINT64_MAX / 2, &cursor))
        goto done;
    char oid[41];
    if (!hubd_split_rev_path(req, &rev, &path, oid))
        goto done;
    /* A commit never changes, so its listing is cached: the pages of a big repo are then
     * cut from one walk of the tree instead of one walk per page. Listed without expand:
     * only the page that is sent gets its last commits looked up. */
    key = hfs_sprintf("%s/%s@%s:%s:%d", hubd_kind_plural(meta.kind), meta.id, oid, path,
                      recursive);
    listing = hubd_listings_get(req->srv->listings, key);
    if (!listing) {
        hubd_entry *entries = NULL;
        int rc = hubd_repo_list_tree(&entries, &n, req->srv->repos, meta.kind, meta.id, oid,
                                     path, recursive, false);
        if (rc == HFS_ENOTFOUND) {
            hubd_respond_error(req, 404, "EntryNotFound",
                               "Entry not found: there is no folder '%s' at %s in %s", path, rev,
                               meta.id);
            goto done;
        }
        if (rc < 0) {
            hubd_respond_rc(req, rc, "EntryNotFound");
            goto done;
        }
        listing = hubd_listings_put(req->srv->listings, key, entries, n);
    }
    const hubd_entry *entries = hubd_listing_entries(listing, &n);
    uint64_t page = expand ? TREE_PAGE_EXPANDED : TREE_PAGE;
    size_t first = cursor < n ? (size_t)cursor : n;
    on_page = n - first < page ? n - first : (size_t)page;
    const hubd_entry *shown = entries + first;
    if (expand && on_page > 0) {
        /* the cached entries are shared: fill in a copy of the page */
        page_copy = hfs_calloc(on_page, sizeof(*page_copy));
        for (size_t i = 0; i < on_page; i++)
            entry_copy(&page_copy[i], &entries[first + i]);
        int rc = hubd_repo_expand_entries(page_copy, on_page, req->srv->repos, meta.kind,
                                          meta.id, oid);
        if (rc < 0) {
            hubd_respond_rc(req, rc, "EntryNotFound");
            goto done;
        }
        shown = page_copy;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < on_page; i++)
        json_array_append_new(list, hubd_entry_json(&shown[i], expand));
    hubd_respond_json(req, 200, list);
    if (cursor + page < n) {
        char *link = next_page_link(req, cursor + page);
        hubd_add_header(req, "Link", link);
        free(link);
    }
done:
    hubd_entries_free(page_copy, page_copy ? on_page : 0);
    hubd_listing_release(req->srv->listings, listing);
    hubd_repo_meta_clear(&meta);
    free(key);
    free(rev);
    free(path);
}

/* ---- paths-info ------------------------------------------------------------------------ */

static bool is_json_body(hubd_request *req)
{
    const char *ct = hubd_header(req, "Content-Type");
    return ct && strncasecmp(ct, "application/json", 16) == 0;
}

void hubd_handle_paths_info(hubd_request *req)
{
    hubd_repo_meta meta;
    json_t *body = NULL;
    const char **paths = NULL;
    char **owned = NULL;
    size_t n_paths = 0, cap = 0, n_owned = 0, cap_owned = 0;
    hubd_entry *entries = NULL;
    size_t n = 0;
    char *rev = NULL;
    bool expand = false;
    if (!hubd_repo_visible(req, &meta))
        return;
    if (is_json_body(req)) {
        /* the JS client: {"paths": [...], "expand": bool} */
        if (!(body = hubd_body_json(req)))
            goto done;
        json_t *jp = json_object_get(body, "paths");
        json_t *je = json_object_get(body, "expand");
        if (!json_is_array(jp) || (je && !json_is_null(je) && !json_is_boolean(je))) {
            hubd_respond_error(req, 400, NULL,
                               "paths-info body: \"paths\" must be a list of strings and "
                               "\"expand\" a boolean");
            goto done;
        }
        expand = json_is_true(je);
        size_t i;
        json_t *v;
        json_array_foreach(jp, i, v) {
            if (!json_is_string(v)) {
                hubd_respond_error(req, 400, NULL, "paths-info: paths[%zu] is not a string", i);
                goto done;
            }
            HFS_PUSH(paths, n_paths, cap, json_string_value(v));
        }
    } else {
        /* huggingface_hub: a form with repeated keys, paths=a&paths=b&expand=false */
        const char *q = req->body.ptr ? req->body.ptr : "";
        const char *end = q + req->body.len;
        while (q < end) {
            const char *amp = memchr(q, '&', (size_t)(end - q));
            size_t len = amp ? (size_t)(amp - q) : (size_t)(end - q);
            const char *eq = memchr(q, '=', len);
            if (len > 0) {
                size_t klen = eq ? (size_t)(eq - q) : len;
                char *k = hubd_url_decode(q, klen, true);
                char *v = eq ? hubd_url_decode(eq + 1, len - klen - 1, true) : hfs_strdup("");
                if (!k || !v) {
                    free(k);
                    free(v);
                    hubd_respond_error(req, 400, NULL,
                                       "paths-info: the form body has a malformed %%-escape");
                    goto done;
                }
                if (strcmp(k, "paths") == 0 || strcmp(k, "paths[]") == 0) {
                    HFS_PUSH(owned, n_owned, cap_owned, v);
                    HFS_PUSH(paths, n_paths, cap, v);
                    v = NULL;
                } else if (strcmp(k, "expand") == 0) {
                    if (strcmp(v, "true") && strcmp(v, "True") && strcmp(v, "false") &&
                        strcmp(v, "False") && strcmp(v, "1") && strcmp(v, "0")) {
                        hubd_respond_error(req, 400, NULL,
                                           "paths-info: expand must be true or false, got '%.40s'",
                                           v);
                        free(k);
                        free(v);
                        goto done;
                    }
                    expand = v[0] == 't' || v[0] == 'T' || v[0] == '1';
                }
                free(k);
                free(v);
            }
            if (!amp)
                break;
            q = amp + 1;
        }
    }
    if (n_paths > PATHS_INFO_MAX) {
        hubd_respond_error(req, 413, NULL,
                           "paths-info: too many parameters (%zu paths; at most %d per call)",
                           n_paths, PATHS_INFO_MAX);
        goto done;
    }
    rev = hubd_route_join(&req->route, 0, req->route.n_rest);
    char oid[41];
    if (!hubd_resolve_rev(req, rev, oid))
        goto done;
    int rc = hubd_repo_paths_info(&entries, &n, req->srv->repos, meta.kind, meta.id, oid, paths,
                                  n_paths, expand);
    if (rc < 0) {
        hubd_respond_rc(req, rc, "EntryNotFound");
        goto done;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, hubd_entry_json(&entries[i], expand));
    hubd_respond_json(req, 200, list);
done:
    hubd_entries_free(entries, n);
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
    free(owned);
    free(paths);
    json_decref(body);
    hubd_repo_meta_clear(&meta);
    free(rev);
}

/* ---- writes: who may, where ------------------------------------------------------------ */

/* Commits and preuploads need the write role, except for pull requests: opening one
 * (create_pr) or adding to one (refs/pr/N) needs only a token that can see the repo. */
static bool may_commit(hubd_request *req, const hubd_repo_meta *meta, const char *rev,
                       bool create_pr)
{
    if (create_pr || hubd_is_pr_ref(rev, NULL)) {
        if (!req->grant.valid) {
            hubd_respond_error(req, 401, NULL,
                               "You must be authenticated to open or update a pull request on "
                               "%s: send a token (Authorization: Bearer hf_...)",
                               meta->id);
            return false;
        }
        return true;
    }
    char *what = hfs_sprintf("commit to %s of %s", rev, meta->id);
    bool ok = hubd_can_write(req, req->route.ns, what);
    free(what);
    return ok;
}

/* Decodes base64 text into memory (up to limit bytes); false when it is not base64. */
static bool b64_decode_mem(const char *text, size_t len, unsigned char **out, size_t *out_len)
{
    unsigned char *raw = hfs_malloc(len / 4 * 3 + 4);
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    int outl = 0, tail = 0;
    EVP_DecodeInit(ctx);
    bool ok = EVP_DecodeUpdate(ctx, raw, &outl, (const unsigned char *)text, (int)len) >= 0 &&
              EVP_DecodeFinal(ctx, raw + outl, &tail) == 1;
    EVP_ENCODE_CTX_free(ctx);
    if (!ok) {
        free(raw);
        return false;
    }
    *out = raw;
    *out_len = (size_t)(outl + tail);
    return true;
}

/* ---- preupload ------------------------------------------------------------------------- */

void hubd_handle_preupload(hubd_request *req)
{
    hubd_repo_meta meta;
    json_t *body = NULL;
    char *rev = NULL;
    hubd_preupload_file *files = NULL;
    hubd_preupload_result *results = NULL;
    unsigned char **samples = NULL;
    size_t n = 0;
    if (!hubd_repo_visible(req, &meta))
        return;
    bool ok;
    bool create_pr = hubd_query_bool(req, "create_pr", false, &ok);
    if (!ok)
        goto done;
    rev = hubd_route_join(&req->route, 0, req->route.n_rest);
    if (!may_commit(req, &meta, rev, create_pr) || !(body = hubd_body_json(req)))
        goto done;
    json_t *jfiles = json_object_get(body, "files");
    json_t *jign = json_object_get(body, "gitIgnore");
    json_t *jattr = json_object_get(body, "gitAttributes");
    if (!json_is_array(jfiles)) {
        hubd_respond_error(req, 400, NULL,
                           "preupload body needs \"files\": a list of {path, size, sample}");
        goto done;
    }
    if ((jign && !json_is_null(jign) && !json_is_string(jign)) ||
        (jattr && !json_is_null(jattr) && !json_is_string(jattr))) {
        hubd_respond_error(req, 400, NULL,
                           "preupload: \"gitIgnore\" and \"gitAttributes\" must be strings");
        goto done;
    }
    n = json_array_size(jfiles);
    if (n > PREUPLOAD_MAX_FILES) {
        hubd_respond_error(req, 400, NULL,
                           "preupload: %zu files in one call; the hub takes at most %d", n,
                           PREUPLOAD_MAX_FILES);
        goto done;
    }
    char oid[41];
    if (!hubd_resolve_rev(req, rev, oid))
        goto done;
    files = hfs_calloc(n ? n : 1, sizeof(*files));
    results = hfs_calloc(n ? n : 1, sizeof(*results));
    samples = hfs_calloc(n ? n : 1, sizeof(*samples));
    for (size_t i = 0; i < n; i++) {
        json_t *f = json_array_get(jfiles, i);
        const char *path = json_string_value(json_object_get(f, "path"));
        json_t *size = json_object_get(f, "size");
        const char *sample = json_string_value(json_object_get(f, "sample"));
        const char *why = NULL;
        if (!path || !json_is_integer(size) || json_integer_value(size) < 0 ||
            (json_object_get(f, "sample") && !sample)) {
            hubd_respond_error(req, 400, NULL,
                               "preupload: files[%zu] needs \"path\" (string), \"size\" (whole "
                               "number of bytes) and \"sample\" (base64)",
                               i);
            goto done;
        }
        if (!hubd_path_valid(path, &why)) {
            hubd_respond_error(req, 422, NULL, "Invalid path '%s' in files[%zu]: %s", path, i,
                               why);
            goto done;
        }
        size_t slen = sample ? strlen(sample) : 0;
        size_t raw_len = 0;
        if (slen > PREUPLOAD_SAMPLE_MAX * 2 ||
            (sample && !b64_decode_mem(sample, slen, &samples[i], &raw_len))) {
            hubd_respond_error(req, 400, NULL,
                               "preupload: the sample of '%s' is not base64 of at most %d "
                               "bytes",
                               path, PREUPLOAD_SAMPLE_MAX);
            goto done;
        }
        files[i].path = path;
        files[i].size = (uint64_t)json_integer_value(size);
        files[i].sample = samples[i];
        files[i].sample_len = raw_len;
    }
    int rc = hubd_repo_preupload(results, req->srv->repos, meta.kind, meta.id, oid, files, n,
                                 json_string_value(jattr), json_string_value(jign));
    if (rc < 0) {
        hubd_respond_rc(req, rc, "EntryNotFound");
        goto done;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:s, s:s, s:b}", "path", files[i].path, "uploadMode",
                              results[i].is_lfs ? "lfs" : "regular", "shouldIgnore",
                              results[i].should_ignore);
        if (results[i].has_oid)
            json_object_set_new(o, "oid", json_string(results[i].oid));
        json_array_append_new(list, o);
    }
    hubd_respond_json(req, 200, json_pack("{s:o, s:s}", "files", list, "commitOid", oid));
done:
    for (size_t i = 0; samples && i < n; i++)
        free(samples[i]);
    free(samples);
    free(files);
    free(results);
    json_decref(body);
    free(rev);
    hubd_repo_meta_clear(&meta);
}

/* ---- commit ---------------------------------------------------------------------------- */

/* Reads the commit body line by line, from memory or from its spool file. */
typedef struct {
    hubd_request *req;
    size_t mem_pos;
    char *buf;
    size_t buf_len, buf_pos;
    bool eof;
    unsigned line_no;
} line_reader;

/* Next line into *line (without '\n'). 1: a line, 0: end, -1: too long (answered). */
static int next_line(line_reader *r, hfs_buf *line)
{
    hubd_request *req = r->req;
    hfs_buf_clear(line);
    if (req->spool_fd < 0) {
        if (r->mem_pos >= req->body.len)
            return 0;
        const char *start = req->body.ptr + r->mem_pos;
        const char *nl = memchr(start, '\n', req->body.len - r->mem_pos);
        size_t len = nl ? (size_t)(nl - start) : req->body.len - r->mem_pos;
        r->mem_pos += len + (nl ? 1 : 0);
        r->line_no++;
        if (len > COMMIT_LINE_MAX)
            return -1;
        hfs_buf_add(line, start, len);
        return 1;
    }
    bool any = false;
    for (;;) {
        if (r->buf_pos == r->buf_len) {
            if (r->eof)
                break;
            ssize_t got = read(req->spool_fd, r->buf, 1 << 16);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                r->eof = true;
                break;
            }
            r->buf_len = (size_t)got;
            r->buf_pos = 0;
        }
        any = true;
        const char *start = r->buf + r->buf_pos;
        const char *nl = memchr(start, '\n', r->buf_len - r->buf_pos);
        size_t len = nl ? (size_t)(nl - start) : r->buf_len - r->buf_pos;
        if (line->len + len > COMMIT_LINE_MAX) {
            r->line_no++;
            return -1;
        }
        hfs_buf_add(line, start, len);
        r->buf_pos += len + (nl ? 1 : 0);
        if (nl)
            break;
    }
    if (!any)
        return 0;
    r->line_no++;
    return 1;
}

typedef struct {
    hubd_op *ops;
    size_t n, cap;
} op_list;

static void ops_free(op_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->ops[i].path);
        free((void *)l->ops[i].content);
        if (l->ops[i].content_fd >= 0)
            close(l->ops[i].content_fd);
    }
    free(l->ops);
}

static bool lfs_lookup(void *ctx, const char *oid, uint64_t *size)
{
    return hubd_lfs_has(ctx, oid, size);
}

static int spool_tmp(hubd_request *req)
{
    int fd = open(req->srv->spool_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        char *path = hfs_path_join(req->srv->spool_dir, "inline.XXXXXX");
        fd = mkostemp(path, O_CLOEXEC);
        if (fd >= 0)
            unlink(path);
        free(path);
    }
    return fd;
}

/* Decodes a file line's content into op (memory, or a temp file when large). Answers and
 * returns false on bad input. */
static bool decode_content(hubd_request *req, hubd_op *op, const char *content, size_t len,
                           bool base64, unsigned line_no)
{
    op->content_fd = -1;
    if (!base64) {
        op->content = hfs_strndup(content, len);
        op->content_len = len;
    } else if (len / 4 * 3 <= INLINE_IN_MEMORY_MAX) {
        unsigned char *raw;
        size_t raw_len;
        if (!b64_decode_mem(content, len, &raw, &raw_len)) {
            hubd_respond_error(req, 400, NULL,
                               "commit line %u (%s): \"content\" is not valid base64", line_no,
                               op->path);
            return false;
        }
        op->content = raw;
        op->content_len = raw_len;
    } else {
        int fd = spool_tmp(req);
        if (fd < 0) {
            hubd_respond_error(req, 500, NULL, "cannot create a temp file in %s: %s",
                               req->srv->spool_dir, strerror(errno));
            return false;
        }
        op->content_fd = fd;
        EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
        EVP_DecodeInit(ctx);
        unsigned char out[49152 + 64];
        bool ok = true;
        size_t total = 0;
        for (size_t pos = 0; ok && pos < len; pos += 65536) {
            size_t chunk = len - pos < 65536 ? len - pos : 65536;
            int outl = 0;
            ok = EVP_DecodeUpdate(ctx, out, &outl, (const unsigned char *)content + pos,
                                  (int)chunk) >= 0;
            if (ok && outl > 0) {
                ok = write(fd, out, (size_t)outl) == outl;
                total += (size_t)outl;
            }
        }
        int tail = 0;
        ok = ok && EVP_DecodeFinal(ctx, out, &tail) == 1;
        if (ok && tail > 0) {
            ok = write(fd, out, (size_t)tail) == tail;
            total += (size_t)tail;
        }
        EVP_ENCODE_CTX_free(ctx);
        if (!ok || lseek(fd, 0, SEEK_SET) != 0) {
            hubd_respond_error(req, 400, NULL,
                               "commit line %u (%s): \"content\" is not valid base64", line_no,
                               op->path);
            return false;
        }
        op->content_len = total;
    }
    if (op->content_len > HFS_REGULAR_MAX_BYTES) {
        hubd_respond_error(req, 400, NULL,
                           "Your push was rejected because it contains files larger than 10 "
                           "MiB. Please use https://git-lfs.github.com/ to store large files. "
                           "Offending file(s): %s (%zu bytes, line %u)",
                           op->path, op->content_len, line_no);
        return false;
    }
    return true;
}

/* A path from a commit line, checked; answers 422 and returns NULL when invalid. */
static char *line_path(hubd_request *req, json_t *value, unsigned line_no, bool folder)
{
    const char *p = json_string_value(json_object_get(value, "path"));
    if (!p) {
        hubd_respond_error(req, 400, NULL, "commit line %u: \"value\" needs a \"path\" string",
                           line_no);
        return NULL;
    }
    char *path = hfs_strdup(p);
    size_t len = strlen(path);
    if (folder)
        while (len > 1 && path[len - 1] == '/') /* deletedFolder may carry a trailing '/' */
            path[--len] = '\0';
    const char *why = NULL;
    if (!hubd_path_valid(path, &why)) {
        hubd_respond_error(req, 422, NULL, "Invalid path '%s' (commit line %u): %s", p, line_no,
                           why);
        free(path);
        return NULL;
    }
    return path;
}

typedef struct {
    char *summary;
    char *description;
    char *parent;
} commit_header;

static bool parse_header(hubd_request *req, json_t *value, commit_header *h)
{
    json_t *s = json_object_get(value, "summary");
    json_t *d = json_object_get(value, "description");
    json_t *p = json_object_get(value, "parentCommit");
    if (!json_is_string(s) || !*json_string_value(s)) {
        hubd_respond_error(req, 400, NULL,
                           "commit header: \"summary\" (the commit title) is required and must "
                           "be a non-empty string");
        return false;
    }
    if (d && !json_is_null(d) && !json_is_string(d)) {
        hubd_respond_error(req, 400, NULL, "commit header: \"description\" must be a string");
        return false;
    }
    if (p && !json_is_null(p)) {
        const char *v = json_string_value(p);
        size_t len = v ? strlen(v) : 0;
        if (!v || len < 5 || len > 40 || !hfs_is_hex(v, len)) {
            hubd_respond_error(req, 400, NULL,
                               "commit header: \"parentCommit\" must be a commit oid (5 to 40 "
                               "lowercase hex digits)");
            return false;
        }
        h->parent = hfs_strdup(v);
    }
    h->summary = hfs_strdup(json_string_value(s));
    h->description = hfs_strdup(json_is_string(d) ? json_string_value(d) : "");
    return true;
}

/* A rename (the JS client's oldPath) without content: the old file at the head. An LFS file
 * stays an LFS file (its pointer, and the .gitattributes upkeep of an lfsFile); a regular
 * one brings its bytes. */
static bool rename_content(hubd_request *req, const hubd_repo_meta *meta, const char *head,
                           hubd_op *op, const char *old_path, unsigned line_no)
{
    hubd_entry *e = NULL;
    size_t n = 0;
    const char *paths[1] = {old_path};
    int rc =
        hubd_repo_paths_info(&e, &n, req->srv->repos, meta->kind, meta->id, head, paths, 1, false);
    if (rc == 0 && n == 1 && !e[0].is_dir && e[0].is_lfs) {
        uint64_t stored = 0;
        bool present = hubd_lfs_has(req->srv->lfs, e[0].lfs_oid, &stored) && stored == e[0].size;
        if (present) {
            op->kind = HUBD_OP_LFS_FILE;
            memcpy(op->lfs_oid, e[0].lfs_oid, sizeof(op->lfs_oid));
            op->lfs_size = e[0].size;
        } else {
            hubd_respond_error(req, 400, NULL,
                               "commit line %u: cannot rename '%s': its LFS object %s is not in "
                               "the store (upload it again, then commit an lfsFile)",
                               line_no, old_path, e[0].lfs_oid);
        }
        hubd_entries_free(e, n);
        return present;
    }
    hubd_entries_free(e, n);
    char *data = NULL;
    size_t len = 0;
    if (rc == 0)
        rc = hubd_repo_read_file(&data, &len, req->srv->repos, meta->kind, meta->id, head, old_path,
                                 HFS_REGULAR_MAX_BYTES);
    if (rc < 0) {
        hubd_respond_error(req, rc == HFS_ENOTFOUND ? 404 : 400,
                           rc == HFS_ENOTFOUND ? "EntryNotFound" : NULL,
                           "commit line %u: cannot rename '%s': %s", line_no, old_path,
                           hfs_error_last());
        return false;
    }
    op->content = data;
    op->content_len = len;
    op->content_fd = -1;
    return true;
}

/* Parses the NDJSON body into a header and operations; answers and returns false on any
 * problem, naming the line. */
static bool parse_commit(hubd_request *req, const hubd_repo_meta *meta, const char *head,
                         commit_header *hdr, op_list *ops)
{
    line_reader r = {.req = req};
    hfs_buf line = HFS_BUF_INIT;
    bool ok = false, have_header = false;
    json_t *doc = NULL;
    if (req->spool_fd >= 0) {
        lseek(req->spool_fd, 0, SEEK_SET);
        r.buf = hfs_malloc(1 << 16);
    }
    for (;;) {
        int got = next_line(&r, &line);
        if (got == 0)
            break;
        if (got < 0) {
            hubd_respond_error(req, 400, NULL,
                               "commit line %u is longer than %u MiB: regular files over 10 MiB "
                               "must be uploaded with LFS (an lfsFile line)",
                               r.line_no, COMMIT_LINE_MAX >> 20);
            goto done;
        }
        size_t start = strspn(line.ptr, " \t\r");
        if (start == line.len)
            continue; /* blank lines (and the trailing newline) carry nothing */
        json_error_t err;
        json_decref(doc);
        doc = json_loadb(line.ptr, line.len, 0, &err);
        json_t *key = doc ? json_object_get(doc, "key") : NULL;
        json_t *value = doc ? json_object_get(doc, "value") : NULL;
        if (!doc) {
            hubd_respond_error(req, 400, NULL,
                               "commit line %u is not valid JSON: %s (column %d); the body must "
                               "be NDJSON, one {\"key\": ..., \"value\": {...}} object per line",
                               r.line_no, err.text, err.column);
            goto done;
        }
        if (!json_is_string(key) || !json_is_object(value)) {
            hubd_respond_error(req, 400, NULL,
                               "commit line %u must be {\"key\": \"header\"|\"file\"|\"lfsFile\"|"
                               "\"deletedFile\"|\"deletedFolder\", \"value\": {...}}",
                               r.line_no);
            goto done;
        }
        const char *k = json_string_value(key);
        if (!have_header) {
            if (strcmp(k, "header") != 0) {
                hubd_respond_error(req, 400, NULL,
                                   "commit line %u: the first line must be the \"header\" "
                                   "(summary, description, parentCommit), not \"%s\"",
                                   r.line_no, k);
                goto done;
            }
            if (!parse_header(req, value, hdr))
                goto done;
            have_header = true;
            continue;
        }
        if (ops->n >= COMMIT_MAX_OPS) {
            hubd_respond_error(req, 400, NULL,
                               "commit line %u: more than %d operations in one commit; split it",
                               r.line_no, COMMIT_MAX_OPS);
            goto done;
        }
        hubd_op op = {0};
        op.content_fd = -1;
        bool folder = strcmp(k, "deletedFolder") == 0;
        if (strcmp(k, "header") == 0) {
            hubd_respond_error(req, 400, NULL, "commit line %u: a second \"header\"", r.line_no);
            goto done;
        } else if (strcmp(k, "file") == 0) {
            op.kind = HUBD_OP_FILE;
        } else if (strcmp(k, "lfsFile") == 0) {
            op.kind = HUBD_OP_LFS_FILE;
        } else if (strcmp(k, "deletedFile") == 0) {
            op.kind = HUBD_OP_DELETE_FILE;
        } else if (folder) {
            op.kind = HUBD_OP_DELETE_FOLDER;
        } else {
            hubd_respond_error(req, 400, NULL,
                               "commit line %u: unknown key \"%s\" (expected file, lfsFile, "
                               "deletedFile or deletedFolder)",
                               r.line_no, k);
            goto done;
        }
        if (!(op.path = line_path(req, value, r.line_no, folder)))
            goto done;
        HFS_PUSH(ops->ops, ops->n, ops->cap, op);
        hubd_op *cur = &ops->ops[ops->n - 1];
        const char *old_path = json_string_value(json_object_get(value, "oldPath"));
        const char *why = NULL;
        if (old_path && !hubd_path_valid(old_path, &why)) {
            hubd_respond_error(req, 422, NULL, "Invalid oldPath '%s' (commit line %u): %s",
                               old_path, r.line_no, why);
            goto done;
        }
        if (cur->kind == HUBD_OP_FILE) {
            json_t *content = json_object_get(value, "content");
            const char *enc = json_string_value(json_object_get(value, "encoding"));
            if (!content && old_path) {
                if (!rename_content(req, meta, head, cur, old_path, r.line_no))
                    goto done;
            } else {
                if (!json_is_string(content) ||
                    (enc && strcmp(enc, "base64") != 0 && strcmp(enc, "utf-8") != 0)) {
                    hubd_respond_error(req, 400, NULL,
                                       "commit line %u (%s): a file needs \"content\" (a string) "
                                       "and \"encoding\" base64 or utf-8",
                                       r.line_no, cur->path);
                    goto done;
                }
                bool base64 = !enc || strcmp(enc, "base64") == 0;
                if (!decode_content(req, cur, json_string_value(content),
                                    json_string_length(content), base64, r.line_no))
                    goto done;
            }
        } else if (cur->kind == HUBD_OP_LFS_FILE) {
            const char *oid = json_string_value(json_object_get(value, "oid"));
            const char *algo = json_string_value(json_object_get(value, "algo"));
            json_t *size = json_object_get(value, "size");
            if (!oid || !hubd_lfs_oid_valid(oid) || (algo && strcmp(algo, "sha256") != 0) ||
                (size && !json_is_null(size) &&
                 (!json_is_integer(size) || json_integer_value(size) < 0))) {
                hubd_respond_error(req, 400, NULL,
                                   "commit line %u (%s): an lfsFile needs \"oid\" (64 lowercase "
                                   "hex digits), \"algo\": \"sha256\" and an optional whole "
                                   "\"size\"",
                                   r.line_no, cur->path);
                goto done;
            }
            uint64_t stored = 0;
            if (!hubd_lfs_has(req->srv->lfs, oid, &stored)) {
                hubd_respond_error(req, 400, NULL,
                                   "Your push was rejected because an LFS pointer pointed to a "
                                   "file that does not exist. Upload the object (LFS batch) "
                                   "before committing. Offending file: - %s (oid %s)",
                                   cur->path, oid);
                goto done;
            }
            if (json_is_integer(size) && (uint64_t)json_integer_value(size) != stored) {
                hubd_respond_error(req, 400, NULL,
                                   "commit line %u (%s): size %" PRIu64 " does not match the "
                                   "uploaded LFS object %s, which has %" PRIu64 " bytes",
                                   r.line_no, cur->path, (uint64_t)json_integer_value(size), oid,
                                   stored);
                goto done;
            }
            memcpy(cur->lfs_oid, oid, 65);
            cur->lfs_size = stored;
        }
        if (old_path && cur->kind <= HUBD_OP_LFS_FILE && strcmp(old_path, cur->path) != 0) {
            hubd_op del = {0};
            del.kind = HUBD_OP_DELETE_FILE;
            del.path = hfs_strdup(old_path);
            del.content_fd = -1;
            HFS_PUSH(ops->ops, ops->n, ops->cap, del);
        }
    }
    if (!have_header) {
        hubd_respond_error(req, 400, NULL,
                           "the commit body is empty: send NDJSON starting with a "
                           "{\"key\": \"header\", \"value\": {\"summary\": ...}} line");
        goto done;
    }
    ok = true;
done:
    json_decref(doc);
    hfs_buf_free(&line);
    free(r.buf);
    return ok;
}

void hubd_handle_commit(hubd_request *req)
{
    hubd_repo_meta meta;
    commit_header hdr = {0};
    op_list ops = {0};
    char *rev = NULL, *base = NULL;
    if (!hubd_repo_visible(req, &meta))
        return;
    bool ok;
    bool create_pr = hubd_query_bool(req, "create_pr", false, &ok);
    if (!ok)
        goto done;
    /* hot_reload (a Spaces flag) changes nothing for storage; it is accepted and ignored */
    rev = hubd_route_join(&req->route, 0, req->route.n_rest);
    if (!may_commit(req, &meta, rev, create_pr))
        goto done;
    char head[41];
    if (!hubd_resolve_rev(req, rev, head))
        goto done;
    if (!parse_commit(req, &meta, head, &hdr, &ops))
        goto done;
    hubd_commit_header h = {hdr.summary, hdr.description, hdr.parent, req->grant.user};
    hubd_commit_result res = {0};
    int rc = hubd_repo_commit(&res, req->srv->repos, meta.kind, meta.id, rev, create_pr, &h,
                              ops.ops, ops.n, lfs_lookup, req->srv->lfs);
    if (rc == HFS_ENOTFOUND) {
        bool rev_missing = hfs_str_starts_with(hfs_error_last(), "Invalid rev id");
        hubd_respond_error(req, 404, rev_missing ? "RevisionNotFound" : "EntryNotFound", "%s",
                           hfs_error_last());
        goto done;
    }
    if (rc == HFS_EINVALID && hfs_str_starts_with(hfs_error_last(), "Invalid path")) {
        hubd_respond_error(req, 422, NULL, "%s", hfs_error_last());
        goto done;
    }
    if (rc < 0) {
        hubd_respond_rc(req, rc, NULL);
        goto done;
    }
    base = hubd_base_url(req);
    char *commit_url = hfs_sprintf("%s/%s%s/commit/%s", base, hubd_kind_prefix(meta.kind),
                                   meta.id, res.commit_oid);
    json_t *body = json_pack("{s:b, s:s, s:s, s:s}", "success", 1, "commitOid", res.commit_oid,
                             "commitUrl", commit_url, "hookOutput", "");
    free(commit_url);
    if (create_pr && res.pr_number > 0) {
        char *pr_url = hfs_sprintf("%s/%s%s/discussions/%d", base, hubd_kind_prefix(meta.kind),
                                   meta.id, res.pr_number);
        json_object_set_new(body, "pullRequestUrl", json_string(pr_url));
        free(pr_url); /* the commit recorded the PR with its number (hubd/discussions.h) */
    }
    hubd_respond_json(req, 200, body);
done:
    ops_free(&ops);
    free(hdr.summary);
    free(hdr.description);
    free(hdr.parent);
    free(rev);
    free(base);
    hubd_repo_meta_clear(&meta);
}

/* ---- resolve --------------------------------------------------------------------------- */

static char *signed_download_url(hubd_request *req, const char *oid)
{
    int64_t expires = (int64_t)time(NULL) + HUBD_URL_TTL;
    char sig[HUBD_SIG_HEX];
    hubd_sign(sig, req->srv->signer, "get", oid, 0, 0, expires);
    char *base = hubd_base_url(req);
    char *url = hfs_sprintf("%s/lfs-files/%s?expires=%lld&sig=%s", base, oid, (long long)expires,
                            sig);
    free(base);
    return url;
}

void hubd_handle_resolve(hubd_request *req)
{
    hubd_repo_meta meta;
    hubd_entry *entries = NULL;
    size_t n = 0;
    char *rev = NULL, *path = NULL;
    if (!hubd_repo_visible(req, &meta))
        return;
    char oid[41];
    if (!hubd_split_rev_path(req, &rev, &path, oid))
        goto done;
    const char *paths[1] = {path};
    int rc = *path ? hubd_repo_paths_info(&entries, &n, req->srv->repos, meta.kind, meta.id, oid,
                                          paths, 1, false)
                   : 0;
    if (rc < 0) {
        hubd_respond_rc(req, rc, "EntryNotFound");
        goto done;
    }
    if (n == 0 || entries[0].is_dir) {
        hubd_respond_error(req, 404, "EntryNotFound",
                           "Entry not found: there is no file '%s' at %s in %s", path, rev,
                           meta.id);
        goto done;
    }
    const hubd_entry *e = &entries[0];
    char etag[48];
    snprintf(etag, sizeof(etag), "\"%s\"", e->oid);
    /* raw/ serves what git stores: for an LFS file, its pointer */
    bool raw = req->route.kind == HUBD_R_RAW;
    if (e->is_lfs && !raw) {
        char *location = signed_download_url(req, e->lfs_oid);
        struct MHD_Response *r =
            MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
        MHD_add_response_header(r, "Location", location);
        hubd_respond(req, 302, r, 0);
        char linked[72], size[24];
        snprintf(linked, sizeof(linked), "\"%s\"", e->lfs_oid);
        snprintf(size, sizeof(size), "%" PRIu64, e->size);
        hubd_add_header(req, "ETag", etag);
        hubd_add_header(req, "X-Linked-Etag", linked);
        hubd_add_header(req, "X-Linked-Size", size);
        free(location);
    } else {
        int fd = -1;
        rc = hubd_repo_blob_fd(&fd, req->srv->repos, meta.kind, meta.id, e->oid);
        if (rc < 0) {
            hubd_respond_rc(req, rc, "EntryNotFound");
            goto done;
        }
        hubd_serve_fd(req, fd, e->is_lfs ? e->pointer_size : e->size, etag);
    }
    hubd_add_header(req, "X-Repo-Commit", oid);
done:
    hubd_entries_free(entries, n);
    hubd_repo_meta_clear(&meta);
    free(rev);
    free(path);
}
