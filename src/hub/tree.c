/* What is in a repo at a revision: the paginated tree listing and paths-info, both
 * answering with tree entries (PROTOCOL.md §3). This is the planner's remote snapshot. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/hash.h"
#include "hub/request.h"

static bool hex_field(char *dst, size_t dst_size, const json_t *obj, const char *key)
{
    const char *v = hub_json_str(obj, key);
    if (!v || strlen(v) != dst_size - 1 || !hfs_is_hex(v, dst_size - 1))
        return false;
    memcpy(dst, v, dst_size);
    return true;
}

static bool size_field(uint64_t *dst, const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *dst = (uint64_t)json_integer_value(v);
    return true;
}

int hub_parse_entries(hfs_hub_entry **out, size_t *n, const hfs_hub *hub, const hub_request *req,
                      const json_t *page)
{
    *n = 0;
    *out = hfs_calloc(json_array_size(page), sizeof(**out));
    size_t i;
    json_t *item;
    json_array_foreach(page, i, item)
    {
        hfs_hub_entry *e = &(*out)[*n];
        const char *type = hub_json_str(item, "type");
        e->path = hub_json_str(item, "path");
        if (!type || !e->path)
            return hub_protocol_error(hub, req, "entry %zu has no \"type\" or \"path\"", i);
        /* Paths from the hub end up in plans, commits and local paths: one that could leave
         * the repo (or hides a NUL) is refused, never normalised into something else. */
        json_t *path_json = json_object_get(item, "path");
        if (!hfs_path_stays_inside(e->path) || json_string_length(path_json) != strlen(e->path)) {
            char *shown = hub_json_dump(path_json);
            int rc = hub_protocol_error(hub, req,
                                        "entry %zu has the path %s, which is not a path inside "
                                        "the repo (empty, a leading '/', a NUL, or an empty, "
                                        "\".\" or \"..\" segment): refusing the whole listing",
                                        i, shown);
            free(shown);
            return rc;
        }
        e->type = strcmp(type, "file") == 0        ? HFS_HUB_ENTRY_FILE
                  : strcmp(type, "directory") == 0 ? HFS_HUB_ENTRY_DIR
                                                   : HFS_HUB_ENTRY_UNKNOWN;
        if (!hex_field(e->oid, sizeof(e->oid), item, "oid") && e->type != HFS_HUB_ENTRY_UNKNOWN)
            return hub_protocol_error(hub, req, "entry %s has no 40-hex \"oid\"", e->path);
        if (!size_field(&e->size, item, "size") && e->type == HFS_HUB_ENTRY_FILE)
            return hub_protocol_error(hub, req, "file %s has no \"size\"", e->path);
        json_t *lfs = json_object_get(item, "lfs");
        if (json_is_object(lfs)) {
            if (!hex_field(e->lfs_sha256, sizeof(e->lfs_sha256), lfs, "oid"))
                return hub_protocol_error(hub, req, "LFS file %s has no 64-hex lfs.oid", e->path);
            e->is_lfs = true;
            size_field(&e->lfs_pointer_size, lfs, "pointerSize");
        }
        const char *xet = hub_json_str(item, "xetHash");
        if (xet && strlen(xet) < sizeof(e->xet_hash))
            strcpy(e->xet_hash, xet);
        (*n)++;
    }
    return 0;
}

typedef struct {
    hfs_hub *hub;
    hfs_hub_entry_fn fn;
    void *ctx;
} entries_walk;

static int deliver_page(entries_walk *w, json_t *page, const hub_request *req)
{
    hfs_hub_entry *entries = NULL;
    size_t n = 0;
    int rc = hub_parse_entries(&entries, &n, w->hub, req, page);
    if (rc == 0 && n > 0)
        rc = w->fn(w->ctx, entries, n);
    free(entries);
    return rc;
}

static int on_tree_page(void *ctx, json_t *page, const hub_request *req)
{
    return deliver_page(ctx, page, req);
}

int hfs_hub_list_tree(hfs_hub *hub, const hfs_hub_repo *repo, const char *revision,
                      const char *path, bool recursive, hfs_hub_entry_fn fn, void *ctx)
{
    const char *rev_name = revision ? revision : "main";
    hfs_buf tail = HFS_BUF_INIT; /* after …/tree/{rev} */
    char *sub = NULL;

    if (path) {
        while (*path == '/')
            path++;
        size_t len = strlen(path);
        while (len > 0 && path[len - 1] == '/')
            len--;
        if (len > 0) {
            char *trimmed = hfs_strndup(path, len);
            /* huggingface_hub sends the folder as one quoted segment (a%2Fb). */
            sub = hfs_hub_quote_segment(trimmed);
            hfs_buf_printf(&tail, "/%s", sub);
            free(trimmed);
        }
    }
    hfs_buf_printf(&tail, "?recursive=%s&expand=false", recursive ? "true" : "false");
    char *url = hub_ref_url(hub, repo, "tree", revision, hfs_buf_cstr(&tail));
    char *what = sub ? hfs_sprintf("list the files of " HUB_REPO_FMT " at %s under %s",
                                   HUB_REPO_ARGS(repo), rev_name, path)
                     : hfs_sprintf("list the files of " HUB_REPO_FMT " at %s", HUB_REPO_ARGS(repo),
                                   rev_name);
    entries_walk w = {hub, fn, ctx};
    int rc = hub_get_pages(hub, what, url, on_tree_page, &w);
    free(what);
    free(url);
    free(sub);
    hfs_buf_free(&tail);
    return rc;
}

int hfs_hub_paths_info(hfs_hub *hub, const hfs_hub_repo *repo, const char *revision,
                       const char *const *paths, size_t n, hfs_hub_entry_fn fn, void *ctx)
{
    static const char *const form_headers[] = {"Content-Type: application/x-www-form-urlencoded",
                                               NULL};
    char *url = hub_ref_url(hub, repo, "paths-info", revision, NULL);
    char *what = hfs_sprintf("look up paths in " HUB_REPO_FMT " at %s", HUB_REPO_ARGS(repo),
                             revision ? revision : "main");
    entries_walk w = {hub, fn, ctx};
    int rc = 0;

    for (size_t start = 0; start < n && rc == 0; start += HFS_HUB_PATHS_INFO_BATCH) {
        size_t end = n - start > HFS_HUB_PATHS_INFO_BATCH ? start + HFS_HUB_PATHS_INFO_BATCH : n;
        hfs_buf form = HFS_BUF_INIT;
        for (size_t i = start; i < end; i++) {
            char *q = hfs_hub_quote_segment(paths[i]);
            hfs_buf_printf(&form, "paths=%s&", q);
            free(q);
        }
        hfs_buf_puts(&form, "expand=false");
        hub_mem_body mem;
        hfs_hub_body body = hub_body_from_mem(&mem, form.ptr, form.len);
        hub_request req = hub_api_request(what, "POST", url, true);
        json_t *page = NULL;
        req.headers = form_headers;
        req.body = &body;
        rc = hub_call_json(&page, hub, &req, NULL, JSON_ARRAY);
        if (rc == 0)
            rc = deliver_page(&w, page, &req);
        json_decref(page);
        hfs_buf_free(&form);
    }
    free(what);
    free(url);
    return rc;
}
