/* Repository endpoints: whoami, create, delete, repo and revision info, refs, the commit
 * history and branches (PROTOCOL.md §1–2). */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/hash.h"
#include "hub/request.h"

int hfs_hub_whoami(json_t **out, hfs_hub *hub)
{
    char *url = hfs_sprintf("%s/api/whoami-v2", hub->endpoint);
    hub_request req = hub_api_request("find out who the token belongs to", "GET", url, true);
    int rc = hub_call_json(out, hub, &req, NULL, JSON_OBJECT);
    free(url);
    return rc;
}

/* {"name": NAME, "organization": NS or null, "type"?: KIND} as the repos/ endpoints take it. */
static json_t *repo_name_json(const hfs_hub_repo *repo)
{
    const char *slash = strchr(repo->id, '/');
    json_t *body = json_object();
    json_object_set_new(body, "name", json_string(slash ? slash + 1 : repo->id));
    json_object_set_new(body, "organization",
                        slash ? json_stringn(repo->id, (size_t)(slash - repo->id)) : json_null());
    /* Models are the default; huggingface_hub leaves the type out for them. */
    if (repo->type != HFS_REPO_MODEL)
        json_object_set_new(body, "type", json_string(hfs_repo_type_name(repo->type)));
    return body;
}

/* Sets the same error again with more words after it. */
static int error_append(int rc, const char *fmt, const char *arg)
{
    char *before = hfs_strdup(hfs_error_last());
    char *more = hfs_sprintf(fmt, arg);
    hfs_error_set(rc, "%s%s", before, more);
    free(more);
    free(before);
    return rc;
}

int hfs_hub_repo_create(char **out, hfs_hub *hub, const hfs_hub_repo *repo,
                        const hfs_hub_create_options *opts)
{
    static const hfs_hub_create_options defaults = HFS_HUB_CREATE_OPTIONS_INIT;
    int rc;
    hub_response r = {0};
    json_t *answer = NULL, *body = repo_name_json(repo);
    char *what = hfs_sprintf("create " HUB_REPO_FMT, HUB_REPO_ARGS(repo));
    char *url = hfs_sprintf("%s/api/repos/create", hub->endpoint);
    hub_request req = hub_api_request(what, "POST", url, false);

    *out = NULL;
    if (!opts)
        opts = &defaults;
    if (opts->visibility)
        json_object_set_new(body, "visibility", json_string(opts->visibility));
    if (repo->type == HFS_REPO_SPACE)
        json_object_set_new(body, "sdk", json_string(opts->space_sdk ? opts->space_sdk : "static"));
    /* The hub answers 409 "another conflicting operation is in progress" while it is still
     * busy with this repo; huggingface_hub asks again, so do we (with backoff, bounded). */
    long backoff = hub->opts.retry_base_ms;
    for (int attempt = 1;; attempt++) {
        hub_response_clear(&r);
        rc = hub_send_json(&r, hub, &req, body);
        if (rc != HFS_EEXISTS || attempt >= hub->opts.max_attempts ||
            !strstr(hfs_buf_cstr(&r.body), "another conflicting operation is in progress"))
            break;
        hub_log(hub, HFS_LOG_WARN, HUB_REPO_FMT ": the hub is busy with it; asking again",
                HUB_REPO_ARGS(repo));
        hub_sleep(hub, backoff);
        backoff = backoff * 2 > hub->opts.retry_max_ms ? hub->opts.retry_max_ms : backoff * 2;
    }
    if (rc == 0 || rc == HFS_EEXISTS) {
        answer = r.body.len ? json_loadb(r.body.ptr, r.body.len, 0, NULL) : NULL;
        const char *repo_url = hub_json_str(answer, "url");
        if (repo_url)
            *out = hub_url_fix_endpoint(hub, repo_url);
        if (rc == 0 && !*out)
            rc = hub_protocol_error(hub, &req, "no \"url\" in %s", hfs_buf_cstr(&r.body));
        else if (rc == HFS_EEXISTS && *out)
            error_append(rc, " (the repository is at %s)", *out);
    }
    json_decref(answer);
    json_decref(body);
    hub_response_clear(&r);
    free(url);
    free(what);
    return rc;
}

int hfs_hub_repo_delete(hfs_hub *hub, const hfs_hub_repo *repo)
{
    char *what = hfs_sprintf("delete " HUB_REPO_FMT, HUB_REPO_ARGS(repo));
    char *url = hfs_sprintf("%s/api/repos/delete", hub->endpoint);
    hub_request req = hub_api_request(what, "DELETE", url, false);
    int rc = hub_call(hub, &req, repo_name_json(repo));
    free(url);
    free(what);
    return rc;
}

/* Copies a hex oid field into a fixed buffer; false when it is missing or malformed. */
static bool copy_hex(char *dst, size_t dst_size, const char *src)
{
    if (!src || strlen(src) != dst_size - 1 || !hfs_is_hex(src, dst_size - 1))
        return false;
    memcpy(dst, src, dst_size);
    return true;
}

void hfs_hub_repo_info_clear(hfs_hub_repo_info *info)
{
    if (!info)
        return;
    for (size_t i = 0; i < info->n_siblings; i++) {
        free(info->siblings[i].path);
        free(info->siblings[i].blob_id);
    }
    free(info->siblings);
    free(info->id);
    free(info->sha);
    free(info->gated);
    json_decref(info->json);
    memset(info, 0, sizeof(*info));
}

static int parse_repo_info(hfs_hub_repo_info *out, const hfs_hub *hub, const hub_request *req,
                           json_t *j)
{
    const char *id = hub_json_str(j, "id");
    if (!id)
        return hub_protocol_error(hub, req, "no \"id\"");
    out->id = hfs_strdup(id);
    if (hub_json_str(j, "sha"))
        out->sha = hfs_strdup(hub_json_str(j, "sha"));
    out->is_private = hub_json_bool(j, "private");
    out->disabled = hub_json_bool(j, "disabled");
    if (hub_json_str(j, "gated"))
        out->gated = hfs_strdup(hub_json_str(j, "gated"));
    json_t *siblings = json_object_get(j, "siblings");
    if (!json_is_array(siblings))
        return 0;
    out->siblings = hfs_calloc(json_array_size(siblings), sizeof(*out->siblings));
    size_t i;
    json_t *s;
    json_array_foreach(siblings, i, s)
    {
        const char *path = hub_json_str(s, "rfilename");
        if (!path)
            return hub_protocol_error(hub, req, "siblings[%zu] has no \"rfilename\"", i);
        hfs_hub_sibling *sib = &out->siblings[out->n_siblings++];
        sib->path = hfs_strdup(path);
        json_t *size = json_object_get(s, "size");
        sib->size = json_is_integer(size) ? (int64_t)json_integer_value(size) : -1;
        if (hub_json_str(s, "blobId"))
            sib->blob_id = hfs_strdup(hub_json_str(s, "blobId"));
        json_t *lfs = json_object_get(s, "lfs");
        if (json_is_object(lfs)) {
            /* Here the LFS hash is "sha256"; tree and paths-info call it "oid". */
            if (!copy_hex(sib->lfs_sha256, sizeof(sib->lfs_sha256), hub_json_str(lfs, "sha256")))
                return hub_protocol_error(hub, req, "siblings[%zu] (%s) has no valid lfs.sha256", i,
                                          path);
            sib->is_lfs = true;
        }
    }
    return 0;
}

static int repo_info_query(hfs_hub_repo_info *out, hfs_hub *hub, const hfs_hub_repo *repo,
                           const char *revision, const char *query)
{
    json_t *j = NULL;
    char *url = revision ? hub_ref_url(hub, repo, "revision", revision, query)
                         : hub_api_urlf(hub, repo, "%s", query);
    char *what = revision
                     ? hfs_sprintf("read " HUB_REPO_FMT " at %s", HUB_REPO_ARGS(repo), revision)
                     : hfs_sprintf("read " HUB_REPO_FMT, HUB_REPO_ARGS(repo));
    hub_request req = hub_api_request(what, "GET", url, true);

    memset(out, 0, sizeof(*out));
    int rc = hub_call_json(&j, hub, &req, NULL, JSON_OBJECT);
    if (rc == 0)
        rc = parse_repo_info(out, hub, &req, j);
    if (rc == 0)
        out->json = json_incref(j);
    else
        hfs_hub_repo_info_clear(out);
    json_decref(j);
    free(what);
    free(url);
    return rc;
}

int hfs_hub_repo_info_get(hfs_hub_repo_info *out, hfs_hub *hub, const hfs_hub_repo *repo,
                          const char *revision, bool blobs)
{
    return repo_info_query(out, hub, repo, revision, blobs ? "?blobs=true" : "");
}

/* The head alone: without `expand` the hub lists every file of the revision (siblings),
 * megabytes for a big repo, to be thrown away by a caller that wants one field. */
int hfs_hub_repo_head_get(hfs_hub_repo_info *out, hfs_hub *hub, const hfs_hub_repo *repo,
                          const char *revision)
{
    return repo_info_query(out, hub, repo, revision, "?expand=sha");
}

void hfs_hub_refs_clear(hfs_hub_refs *refs)
{
    if (!refs)
        return;
    hfs_hub_ref *lists[] = {refs->branches, refs->tags, refs->converts, refs->pull_requests};
    size_t counts[] = {refs->n_branches, refs->n_tags, refs->n_converts, refs->n_pull_requests};
    for (size_t l = 0; l < HFS_ARRAY_LEN(lists); l++) {
        for (size_t i = 0; i < counts[l]; i++) {
            free(lists[l][i].name);
            free(lists[l][i].ref);
        }
        free(lists[l]);
    }
    memset(refs, 0, sizeof(*refs));
}

static int parse_ref_list(hfs_hub_ref **out, size_t *n, const hfs_hub *hub, const hub_request *req,
                          const json_t *j, const char *key)
{
    json_t *list = json_object_get(j, key);
    if (!list)
        return 0;
    if (!json_is_array(list))
        return hub_protocol_error(hub, req, "\"%s\" is not an array", key);
    *out = hfs_calloc(json_array_size(list), sizeof(**out));
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item)
    {
        const char *name = hub_json_str(item, "name"), *ref = hub_json_str(item, "ref");
        hfs_hub_ref *dst = &(*out)[*n];
        if (!name || !ref ||
            !copy_hex(dst->target_commit, sizeof(dst->target_commit),
                      hub_json_str(item, "targetCommit")))
            return hub_protocol_error(hub, req, "%s[%zu] lacks name, ref or a 40-hex targetCommit",
                                      key, i);
        dst->name = hfs_strdup(name);
        dst->ref = hfs_strdup(ref);
        (*n)++;
    }
    return 0;
}

int hfs_hub_list_refs(hfs_hub_refs *out, hfs_hub *hub, const hfs_hub_repo *repo, bool include_prs)
{
    json_t *j = NULL;
    char *url = hub_api_urlf(hub, repo, "/refs%s", include_prs ? "?include_prs=1" : "");
    char *what = hfs_sprintf("list the branches and tags of " HUB_REPO_FMT, HUB_REPO_ARGS(repo));
    hub_request req = hub_api_request(what, "GET", url, true);

    memset(out, 0, sizeof(*out));
    int rc = hub_call_json(&j, hub, &req, NULL, JSON_OBJECT);
    if (rc == 0)
        rc = parse_ref_list(&out->branches, &out->n_branches, hub, &req, j, "branches");
    if (rc == 0)
        rc = parse_ref_list(&out->tags, &out->n_tags, hub, &req, j, "tags");
    if (rc == 0)
        rc = parse_ref_list(&out->converts, &out->n_converts, hub, &req, j, "converts");
    if (rc == 0)
        rc = parse_ref_list(&out->pull_requests, &out->n_pull_requests, hub, &req, j,
                            "pullRequests");
    if (rc < 0)
        hfs_hub_refs_clear(out);
    json_decref(j);
    free(what);
    free(url);
    return rc;
}

typedef struct {
    hfs_hub *hub;
    hfs_hub_commit_fn fn;
    void *ctx;
} commits_walk;

static int on_commit_page(void *ctx, json_t *page, const hub_request *req)
{
    commits_walk *w = ctx;
    size_t i;
    json_t *item;
    json_array_foreach(page, i, item)
    {
        hfs_hub_commit_entry c = {hub_json_str(item, "id"), hub_json_str(item, "title"),
                                  hub_json_str(item, "message"), hub_json_str(item, "date"), item};
        if (!c.id)
            return hub_protocol_error(w->hub, req, "commit %zu of the page has no \"id\"", i);
        int rc = w->fn(w->ctx, &c);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int hfs_hub_list_commits(hfs_hub *hub, const hfs_hub_repo *repo, const char *revision,
                         hfs_hub_commit_fn fn, void *ctx)
{
    char *url = hub_ref_url(hub, repo, "commits", revision, NULL);
    char *what = hfs_sprintf("list the commits of " HUB_REPO_FMT " at %s", HUB_REPO_ARGS(repo),
                             revision ? revision : "main");
    commits_walk w = {hub, fn, ctx};
    int rc = hub_get_pages(hub, what, url, on_commit_page, &w);
    free(what);
    free(url);
    return rc;
}

/* POST or DELETE …/branch/{quoted branch}. */
static int branch_call(hfs_hub *hub, const hfs_hub_repo *repo, const char *branch,
                       const char *method, const char *starting_point)
{
    char *url = hub_ref_url(hub, repo, "branch", branch, NULL);
    bool create = strcmp(method, "POST") == 0;
    char *what = hfs_sprintf("%s branch %s of " HUB_REPO_FMT, create ? "create" : "delete", branch,
                             HUB_REPO_ARGS(repo));
    hub_request req = hub_api_request(what, method, url, false);
    /* Creating sends a JSON object, {} without a starting point; deleting sends no body. */
    json_t *body = create ? json_object() : NULL;
    if (create && starting_point)
        json_object_set_new(body, "startingPoint", json_string(starting_point));
    int rc = hub_call(hub, &req, body);
    free(what);
    free(url);
    return rc;
}

int hfs_hub_branch_create(hfs_hub *hub, const hfs_hub_repo *repo, const char *branch,
                          const char *starting_point)
{
    return branch_call(hub, repo, branch, "POST", starting_point);
}

int hfs_hub_branch_delete(hfs_hub *hub, const hfs_hub_repo *repo, const char *branch)
{
    return branch_call(hub, repo, branch, "DELETE", NULL);
}
