/* The local hub's file endpoints: tree listing, paths-info, preupload, the NDJSON commit and
 * resolve / raw (downloads), each answering with the hub's fields, status codes and error headers. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/hash.h"
#include "hubd/bodies.h"
#include "hubd/listing_cache.h"
#include "hubd/server.h"

#define TREE_PAGE 1000
#define TREE_PAGE_EXPANDED 50
#define PATHS_INFO_MAX 1000

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
    hubd_paths_query q = {0};
    hubd_entry *entries = NULL;
    size_t n = 0;
    char *rev = NULL;
    if (!hubd_repo_visible(req, &meta))
        return;
    /* the JS client sends {"paths": [...], "expand": bool}; huggingface_hub a form with
     * repeated keys, paths=a&paths=b&expand=false */
    int rc = is_json_body(req) ? hubd_parse_paths_json(&q, req->body.ptr, req->body.len)
                               : hubd_parse_paths_form(&q, req->body.ptr, req->body.len);
    if (rc < 0) {
        hubd_respond_error(req, 400, NULL, "%s", hfs_error_last());
        goto done;
    }
    if (q.n_paths > PATHS_INFO_MAX) {
        hubd_respond_error(req, 413, NULL,
                           "paths-info: too many parameters (%zu paths; at most %d per call)",
                           q.n_paths, PATHS_INFO_MAX);
        goto done;
    }
    rev = hubd_route_join(&req->route, 0, req->route.n_rest);
    char oid[41];
    if (!hubd_resolve_rev(req, rev, oid))
        goto done;
    rc = hubd_repo_paths_info(&entries, &n, req->srv->repos, meta.kind, meta.id, oid,
                              (const char *const *)q.paths, q.n_paths, q.expand);
    if (rc < 0) {
        hubd_respond_rc(req, rc, "EntryNotFound");
        goto done;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, hubd_entry_json(&entries[i], q.expand));
    hubd_respond_json(req, 200, list);
done:
    hubd_entries_free(entries, n);
    hubd_paths_query_clear(&q);
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

/* ---- preupload ------------------------------------------------------------------------- */

void hubd_handle_preupload(hubd_request *req)
{
    hubd_repo_meta meta;
    hubd_preupload_request pre = {0};
    hubd_refusal why = {0};
    char *rev = NULL;
    hubd_preupload_result *results = NULL;
    if (!hubd_repo_visible(req, &meta))
        return;
    bool ok;
    bool create_pr = hubd_query_bool(req, "create_pr", false, &ok);
    if (!ok)
        goto done;
    rev = hubd_route_join(&req->route, 0, req->route.n_rest);
    if (!may_commit(req, &meta, rev, create_pr))
        goto done;
    if (hubd_parse_preupload(&pre, &why, req->body.ptr, req->body.len) < 0) {
        hubd_respond_error(req, why.status, why.code, "%s", hfs_error_last());
        goto done;
    }
    char oid[41];
    if (!hubd_resolve_rev(req, rev, oid))
        goto done;
    size_t n = pre.n_files;
    results = hfs_calloc(n ? n : 1, sizeof(*results));
    int rc = hubd_repo_preupload(results, req->srv->repos, meta.kind, meta.id, oid, pre.files, n,
                                 pre.git_attributes, pre.git_ignore);
    if (rc < 0) {
        hubd_respond_rc(req, rc, "EntryNotFound");
        goto done;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:s, s:s, s:b}", "path", pre.files[i].path, "uploadMode",
                              results[i].is_lfs ? "lfs" : "regular", "shouldIgnore",
                              results[i].should_ignore);
        if (results[i].has_oid)
            json_object_set_new(o, "oid", json_string(results[i].oid));
        json_array_append_new(list, o);
    }
    hubd_respond_json(req, 200, json_pack("{s:o, s:s}", "files", list, "commitOid", oid));
done:
    free(results);
    hubd_preupload_request_clear(&pre);
    free(rev);
    hubd_repo_meta_clear(&meta);
}

/* ---- commit ---------------------------------------------------------------------------- */

/* What the commit parser asks of this server (hubd_commit_hooks). */
typedef struct {
    hubd_request *req;
    const hubd_repo_meta *meta;
    const char *head;
} commit_ctx;

static bool lfs_lookup(void *ctx, const char *oid, uint64_t *size)
{
    return hubd_lfs_has(ctx, oid, size);
}

static bool commit_lfs_has(void *ctx, const char *oid, uint64_t *size)
{
    return hubd_lfs_has(((commit_ctx *)ctx)->req->srv->lfs, oid, size);
}

static int spool_tmp(void *ctx)
{
    hubd_request *req = ((commit_ctx *)ctx)->req;
    int fd = open(req->srv->spool_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        char *path = hfs_path_join(req->srv->spool_dir, "inline.XXXXXX");
        fd = mkostemp(path, O_CLOEXEC);
        if (fd >= 0)
            unlink(path);
        free(path);
    }
    if (fd < 0)
        hfs_error_set(HFS_ERROR, "cannot create a temp file in %s: %s", req->srv->spool_dir,
                      strerror(errno));
    return fd;
}

/* A rename (the JS client's oldPath) without content: the old file at the head. An LFS file
 * stays an LFS file (its pointer, and the .gitattributes upkeep of an lfsFile); a regular
 * one brings its bytes. */
static int rename_content(void *ctx, hubd_op *op, const char *old_path, unsigned line_no,
                          hubd_refusal *why)
{
    const commit_ctx *c = ctx;
    hubd_request *req = c->req;
    hubd_entry *e = NULL;
    size_t n = 0;
    const char *paths[1] = {old_path};
    int rc = hubd_repo_paths_info(&e, &n, req->srv->repos, c->meta->kind, c->meta->id, c->head,
                                  paths, 1, false);
    if (rc == 0 && n == 1 && !e[0].is_dir && e[0].is_lfs) {
        uint64_t stored = 0;
        bool present = hubd_lfs_has(req->srv->lfs, e[0].lfs_oid, &stored) && stored == e[0].size;
        if (present) {
            op->kind = HUBD_OP_LFS_FILE;
            memcpy(op->lfs_oid, e[0].lfs_oid, sizeof(op->lfs_oid));
            op->lfs_size = e[0].size;
        } else {
            rc = hfs_error_set(HFS_EINVALID,
                               "commit line %u: cannot rename '%s': its LFS object %s is not in "
                               "the store (upload it again, then commit an lfsFile)",
                               line_no, old_path, e[0].lfs_oid);
            why->status = 400;
            why->code = NULL;
        }
        hubd_entries_free(e, n);
        return rc;
    }
    hubd_entries_free(e, n);
    char *data = NULL;
    size_t len = 0;
    if (rc == 0)
        rc = hubd_repo_read_file(&data, &len, req->srv->repos, c->meta->kind, c->meta->id, c->head,
                                 old_path, HFS_REGULAR_MAX_BYTES);
    if (rc < 0) {
        why->status = rc == HFS_ENOTFOUND ? 404 : 400;
        why->code = rc == HFS_ENOTFOUND ? "EntryNotFound" : NULL;
        char *detail = hfs_strdup(hfs_error_last());
        rc = hfs_error_set(rc, "commit line %u: cannot rename '%s': %s", line_no, old_path, detail);
        free(detail);
        return rc;
    }
    op->content = data;
    op->content_len = len;
    op->content_fd = -1;
    return 0;
}

void hubd_handle_commit(hubd_request *req)
{
    hubd_repo_meta meta;
    hubd_commit_body body = {0};
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
    commit_ctx cc = {req, &meta, head};
    hubd_commit_hooks hooks = {&cc, commit_lfs_has, rename_content, spool_tmp};
    hubd_refusal why = {0};
    if (hubd_parse_commit(&body, &why, req->body.ptr, req->body.len, req->spool_fd, &hooks) < 0) {
        hubd_respond_error(req, why.status, why.code, "%s", hfs_error_last());
        goto done;
    }
    /* the LFS objects it may name are on disk under their names before the ref moves */
    if (hubd_lfs_sync(req->srv->lfs) < 0) {
        hubd_respond_rc(req, HFS_ERROR, NULL);
        goto done;
    }
    hubd_commit_header h = {body.summary, body.description, body.parent, req->grant.user};
    hubd_commit_result res = {0};
    int rc = hubd_repo_commit(&res, req->srv->repos, meta.kind, meta.id, rev, create_pr, &h,
                              body.ops, body.n_ops, lfs_lookup, req->srv->lfs);
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
    json_t *answer = json_pack("{s:b, s:s, s:s, s:s}", "success", 1, "commitOid",
                               res.commit_oid, "commitUrl", commit_url, "hookOutput", "");
    free(commit_url);
    if (create_pr && res.pr_number > 0) {
        char *pr_url = hfs_sprintf("%s/%s%s/discussions/%d", base, hubd_kind_prefix(meta.kind),
                                   meta.id, res.pr_number);
        json_object_set_new(answer, "pullRequestUrl", json_string(pr_url));
        free(pr_url); /* the commit recorded the PR with its number (hubd/discussions.h) */
    }
    hubd_respond_json(req, 200, answer);
done:
    hubd_commit_body_clear(&body);
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
