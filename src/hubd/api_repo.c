/* The local hub's account and repo endpoints: whoami, repos/create and delete, repo and
 * revision info, refs, commit history, branches, and validate-yaml. */
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/error.h"
#include "common/hash.h"
#include "hubd/server.h"

#define COMMITS_PAGE_DEFAULT 50
#define COMMITS_PAGE_MAX 1000

/* A stable 24-hex id (the hub's Mongo-style "_id") for a name. */
static void object_id_for(char out[25], const char *name)
{
    char hex[65];
    hfs_sha256_hex(hex, name, strlen(name));
    memcpy(out, hex, 24);
    out[24] = '\0';
}

void hubd_handle_whoami(hubd_request *req)
{
    const hubd_grant *g = &req->grant;
    if (!g->valid) {
        hubd_respond_error(req, 401, NULL, "Invalid credentials in Authorization header");
        return;
    }
    char id[25];
    object_id_for(id, g->user);
    json_t *orgs = json_array();
    for (size_t i = 0; i < g->n_namespaces; i++) {
        const char *ns = g->namespaces[i];
        if (strcmp(ns, "*") == 0 || strcmp(ns, g->user) == 0)
            continue;
        char oid[25];
        object_id_for(oid, ns);
        json_array_append_new(orgs, json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "type", "org",
                                              "id", oid, "name", ns, "fullname", ns, "roleInOrg",
                                              g->write ? "write" : "read", "isEnterprise", 0));
    }
    char *email = hfs_sprintf("%s@users.noreply.local", g->user);
    json_t *body = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:o, s:b, s:s, s:n, s:{s:s, s:{s:s, s:s, s:s}}}",
        "type", "user", "id", id, "name", g->user, "fullname", g->user, "email", email,
        "emailVerified", 1, "isPro", 0, "orgs", orgs, "canPay", 0, "avatarUrl", "", "periodEnd",
        "auth", "type", "access_token", "accessToken", "displayName", g->user, "role",
        g->write ? "write" : "read", "createdAt", g->created_at);
    free(email);
    hubd_respond_json(req, 200, body);
}

static char *repo_url(hubd_request *req, hfs_repo_kind kind, const char *id)
{
    char *base = hubd_base_url(req);
    char *url = hfs_sprintf("%s/%s%s", base, hubd_kind_prefix(kind), id);
    free(base);
    return url;
}

/* The repo a repos/create or repos/delete body names: organization (null: the caller) and
 * name (which may itself be "ns/name"), and type. */
static bool body_repo(hubd_request *req, json_t *body, hfs_repo_kind *kind, char **ns,
                      char **name)
{
    *ns = *name = NULL;
    json_t *jname = json_object_get(body, "name");
    json_t *jorg = json_object_get(body, "organization");
    json_t *jtype = json_object_get(body, "type");
    if (!json_is_string(jname)) {
        hubd_respond_error(req, 400, NULL, "the body needs \"name\", the repo's name (a string)");
        return false;
    }
    if (jorg && !json_is_null(jorg) && !json_is_string(jorg)) {
        hubd_respond_error(req, 400, NULL, "\"organization\" must be a string or null");
        return false;
    }
    if (jtype && !json_is_null(jtype) &&
        (!json_is_string(jtype) || !hubd_kind_parse(kind, json_string_value(jtype)))) {
        hubd_respond_error(req, 400, NULL,
                           "\"type\" must be \"model\", \"dataset\" or \"space\"%s",
                           json_is_string(jtype) ? "" : " (a string)");
        return false;
    }
    if (!jtype || json_is_null(jtype))
        *kind = HFS_REPO_MODEL;
    const char *n = json_string_value(jname);
    const char *org = json_is_string(jorg) ? json_string_value(jorg) : NULL;
    const char *slash = strchr(n, '/');
    if (slash && !org) {
        *ns = hfs_strndup(n, (size_t)(slash - n));
        *name = hfs_strdup(slash + 1);
    } else if (org) {
        *ns = hfs_strdup(org);
        *name = hfs_strdup(n);
    } else if (req->grant.valid) {
        *ns = hfs_strdup(req->grant.user);
        *name = hfs_strdup(n);
    } else {
        hubd_respond_error(req, 401, NULL,
                           "You must be authenticated to manage repos: send a token with the "
                           "write role (Authorization: Bearer hf_...)");
        return false;
    }
    if (!hubd_repo_part_valid(*ns) || !hubd_repo_part_valid(*name)) {
        hubd_respond_error(req, 400, NULL,
                           "Invalid repo id '%s/%s': use letters, digits, '-', '_' and '.', 1 "
                           "to 96 characters per part, starting and ending with a letter or "
                           "digit, no '--' or '..', not ending in '.git'",
                           *ns, *name);
        free(*ns);
        free(*name);
        *ns = *name = NULL;
        return false;
    }
    return true;
}

/* Commits the inline files a repos/create body may carry (the JS client's `files`). */
static int create_inline_files(hubd_request *req, hfs_repo_kind kind, const char *id,
                               json_t *files)
{
    int rc = 0;
    size_t n = json_array_size(files), i;
    hubd_op *ops = hfs_calloc(n ? n : 1, sizeof(*ops));
    json_t *f;
    json_array_foreach(files, i, f) {
        const char *path = json_string_value(json_object_get(f, "path"));
        const char *content = json_string_value(json_object_get(f, "content"));
        const char *enc = json_string_value(json_object_get(f, "encoding"));
        const char *why = NULL;
        if (!path || !content || (enc && strcmp(enc, "base64") && strcmp(enc, "utf-8"))) {
            rc = hfs_error_set(HFS_EINVALID,
                               "files[%zu] needs \"path\" and \"content\" strings and an "
                               "\"encoding\" of base64 or utf-8",
                               i);
            goto done;
        }
        if (!hubd_path_valid(path, &why)) {
            rc = hfs_error_set(HFS_EINVALID, "files[%zu]: invalid path '%s': %s", i, path, why);
            goto done;
        }
        ops[i].kind = HUBD_OP_FILE;
        ops[i].path = (char *)path;
        ops[i].content_fd = -1;
        if (!enc || strcmp(enc, "base64") == 0) {
            size_t len = strlen(content);
            unsigned char *raw = hfs_malloc(len / 4 * 3 + 4);
            EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
            int outl = 0, tail = 0;
            EVP_DecodeInit(ctx);
            int ok = EVP_DecodeUpdate(ctx, raw, &outl, (const unsigned char *)content, (int)len);
            ok = ok >= 0 && EVP_DecodeFinal(ctx, raw + outl, &tail) == 1;
            EVP_ENCODE_CTX_free(ctx);
            if (!ok) {
                free(raw);
                rc = hfs_error_set(HFS_EINVALID, "files[%zu] (%s): content is not valid base64",
                                   i, path);
                goto done;
            }
            ops[i].content = raw;
            ops[i].content_len = (size_t)(outl + tail);
        } else {
            ops[i].content = hfs_strdup(content);
            ops[i].content_len = strlen(content);
        }
    }
    hubd_commit_header hdr = {"Initial commit", "", NULL, req->grant.user};
    hubd_commit_result res;
    rc = hubd_repo_commit(&res, req->srv->repos, kind, id, "main", false, &hdr, ops, n, NULL, NULL);
done:
    for (size_t k = 0; k < n; k++)
        free((void *)ops[k].content);
    free(ops);
    return rc;
}

void hubd_handle_repo_create(hubd_request *req)
{
    json_t *body = hubd_body_json(req);
    char *ns = NULL, *name = NULL, *id = NULL, *url = NULL;
    hfs_repo_kind kind;
    if (!body || !body_repo(req, body, &kind, &ns, &name))
        goto done;
    id = hfs_sprintf("%s/%s", ns, name);
    char *what = hfs_sprintf("create a %s under the namespace '%s'", hubd_kind_name(kind), ns);
    bool allowed = hubd_can_write(req, ns, what);
    free(what);
    if (!allowed)
        goto done;
    bool private = false;
    json_t *vis = json_object_get(body, "visibility");
    json_t *priv = json_object_get(body, "private");
    if (vis && !json_is_null(vis)) {
        const char *v = json_string_value(vis);
        if (!v || (strcmp(v, "public") && strcmp(v, "private") && strcmp(v, "protected"))) {
            hubd_respond_error(req, 400, NULL,
                               "\"visibility\" must be \"public\", \"private\" or \"protected\"");
            goto done;
        }
        if (strcmp(v, "protected") == 0 && kind != HFS_REPO_SPACE) {
            hubd_respond_error(req, 400, NULL, "\"protected\" visibility is for Spaces only");
            goto done;
        }
        private = strcmp(v, "public") != 0;
    } else if (priv && !json_is_null(priv)) {
        if (!json_is_boolean(priv)) {
            hubd_respond_error(req, 400, NULL, "\"private\" must be true or false");
            goto done;
        }
        private = json_is_true(priv);
    }
    if (kind == HFS_REPO_SPACE) {
        const char *sdk = json_string_value(json_object_get(body, "sdk"));
        if (!sdk || (strcmp(sdk, "gradio") && strcmp(sdk, "streamlit") && strcmp(sdk, "docker") &&
                     strcmp(sdk, "static"))) {
            hubd_respond_error(req, 400, NULL,
                               "a Space needs \"sdk\": one of gradio, streamlit, docker, static");
            goto done;
        }
    }
    uint64_t threshold = 0;
    json_t *jt = json_object_get(body, "lfsmultipartthresh");
    if (jt && !json_is_null(jt)) {
        if (!json_is_integer(jt) || json_integer_value(jt) < 1) {
            hubd_respond_error(req, 400, NULL,
                               "\"lfsmultipartthresh\" must be a positive whole number of bytes");
            goto done;
        }
        threshold = (uint64_t)json_integer_value(jt);
    }
    json_t *files = json_object_get(body, "files");
    if (files && !json_is_null(files) && !json_is_array(files)) {
        hubd_respond_error(req, 400, NULL, "\"files\" must be a list of {path, content, encoding}");
        goto done;
    }
    url = repo_url(req, kind, id);
    int rc = hubd_repo_create(req->srv->repos, kind, id, private, threshold, req->grant.user);
    if (rc == HFS_EEXISTS) {
        hubd_respond_json(req, 409,
                          json_pack("{s:s, s:s}", "error", hfs_error_last(), "url", url));
        hubd_add_header(req, "X-Error-Message", hfs_error_last());
        goto done;
    }
    if (rc < 0) {
        hubd_respond_rc(req, rc, NULL);
        goto done;
    }
    if (json_array_size(files) > 0 && (rc = create_inline_files(req, kind, id, files)) < 0) {
        hubd_respond_rc(req, rc, NULL);
        goto done;
    }
    hubd_repo_meta meta;
    if ((rc = hubd_repo_get_meta(&meta, req->srv->repos, kind, id)) < 0) {
        hubd_respond_rc(req, rc, "RepoNotFound");
        goto done;
    }
    hubd_respond_json(req, 200, json_pack("{s:s, s:s, s:s}", "url", url, "name", id, "id",
                                          meta.object_id));
    hubd_repo_meta_clear(&meta);
done:
    json_decref(body);
    free(ns);
    free(name);
    free(id);
    free(url);
}

void hubd_handle_repo_delete(hubd_request *req)
{
    json_t *body = hubd_body_json(req);
    char *ns = NULL, *name = NULL, *id = NULL;
    hfs_repo_kind kind;
    hubd_repo_meta meta = {0};
    if (!body || !body_repo(req, body, &kind, &ns, &name))
        goto done;
    id = hfs_sprintf("%s/%s", ns, name);
    /* answer like any repo URL: hidden and missing repos look the same */
    hubd_route_clear(&req->route);
    req->route.repo_kind = kind;
    req->route.ns = hfs_strdup(ns);
    req->route.name = hfs_strdup(name);
    req->route.repo_id = hfs_strdup(id);
    if (!hubd_repo_visible(req, &meta))
        goto done;
    char *what = hfs_sprintf("delete %s repo %s", hubd_kind_name(kind), id);
    bool allowed = hubd_can_write(req, ns, what);
    free(what);
    if (!allowed)
        goto done;
    int rc = hubd_repo_delete(req->srv->repos, kind, id);
    if (rc < 0)
        hubd_respond_rc(req, rc, "RepoNotFound");
    else
        hubd_respond_text(req, 200, "OK");
done:
    hubd_repo_meta_clear(&meta);
    json_decref(body);
    free(ns);
    free(name);
    free(id);
}

/* ---- validate-yaml -------------------------------------------------------------------- */

/* The YAML front matter of a model card: the text between a leading "---" line and the
 * next "---" line; NULL when there is none. */
static char *front_matter(const char *content)
{
    if (!hfs_str_starts_with(content, "---\n") && !hfs_str_starts_with(content, "---\r\n"))
        return NULL;
    const char *start = strchr(content, '\n') + 1;
    const char *p = start;
    while (*p) {
        if (strncmp(p, "---", 3) == 0 && (p[3] == '\n' || p[3] == '\r' || p[3] == '\0'))
            return hfs_strndup(start, (size_t)(p - start));
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return NULL;
}

/* Checks that the front matter parses and is a mapping; fills *error when not. */
static bool yaml_check(const char *text, char **error)
{
    yaml_parser_t parser;
    yaml_event_t event;
    bool ok = true, first_node = true, done = false;
    *error = NULL;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    while (!done) {
        if (!yaml_parser_parse(&parser, &event)) {
            *error = hfs_sprintf("Invalid YAML in the card's metadata, line %zu column %zu: %s",
                                 parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                                 parser.problem ? parser.problem : "syntax error");
            ok = false;
            break;
        }
        if (first_node && (event.type == YAML_SCALAR_EVENT || event.type == YAML_SEQUENCE_START_EVENT)) {
            *error = hfs_strdup("The card's metadata must be a YAML mapping (key: value lines)");
            ok = false;
        }
        if (event.type == YAML_SCALAR_EVENT || event.type == YAML_SEQUENCE_START_EVENT ||
            event.type == YAML_MAPPING_START_EVENT)
            first_node = false;
        done = event.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&event);
        if (!ok)
            break;
    }
    yaml_parser_delete(&parser);
    return ok;
}

void hubd_handle_validate_yaml(hubd_request *req)
{
    json_t *body = hubd_body_json(req);
    if (!body)
        return;
    const char *content = json_string_value(json_object_get(body, "content"));
    json_t *jtype = json_object_get(body, "repoType");
    hfs_repo_kind kind;
    if (!content) {
        hubd_respond_json(req, 400, json_pack("{s:[{s:s}], s:[]}", "errors", "message",
                                              "the body needs \"content\", the README text",
                                              "warnings"));
        goto done;
    }
    if (jtype && !(json_is_string(jtype) && hubd_kind_parse(&kind, json_string_value(jtype)))) {
        hubd_respond_json(req, 400, json_pack("{s:[{s:s}], s:[]}", "errors", "message",
                                              "\"repoType\" must be model, dataset or space",
                                              "warnings"));
        goto done;
    }
    char *yaml = front_matter(content);
    char *error = NULL;
    if (yaml && !yaml_check(yaml, &error)) {
        hubd_respond_json(req, 400, json_pack("{s:[{s:s}], s:[]}", "errors", "message", error,
                                              "warnings"));
    } else {
        hubd_respond_json(req, 200, json_pack("{s:[], s:[]}", "errors", "warnings"));
    }
    free(error);
    free(yaml);
done:
    json_decref(body);
}

/* ---- repo info ------------------------------------------------------------------------- */

static bool wants(const char **expand, size_t n_expand, const char *prop)
{
    if (n_expand == 0)
        return true;
    for (size_t i = 0; i < n_expand; i++)
        if (strcmp(expand[i], prop) == 0)
            return true;
    return false;
}

void hubd_handle_repo_info(hubd_request *req)
{
    hubd_repo_meta meta;
    hubd_entry *entries = NULL;
    size_t n_entries = 0;
    hubd_commit_info *head = NULL;
    size_t n_head = 0, total = 0;
    char *rev = NULL;
    if (!hubd_repo_visible(req, &meta))
        return;
    bool ok;
    bool blobs = hubd_query_bool(req, "blobs", false, &ok);
    if (!ok)
        goto done;
    const char *expand[64];
    size_t n_expand = hubd_query_all(req, "expand", expand, HFS_ARRAY_LEN(expand));
    rev = req->route.n_rest ? hubd_route_join(&req->route, 0, req->route.n_rest)
                            : hfs_strdup("main");
    char oid[41];
    if (!hubd_resolve_rev(req, rev, oid))
        goto done;
    json_t *body = json_pack("{s:s, s:s}", "_id", meta.object_id, "id", meta.id);
    if (wants(expand, n_expand, "author"))
        json_object_set_new(body, "author", json_string(req->route.ns));
    if (wants(expand, n_expand, "sha"))
        json_object_set_new(body, "sha", json_string(oid));
    if (wants(expand, n_expand, "lastModified")) {
        int rc = hubd_repo_list_commits(&head, &n_head, &total, req->srv->repos, meta.kind,
                                        meta.id, oid, 0, 1);
        if (rc == 0 && n_head > 0)
            json_object_set_new(body, "lastModified", json_string(head[0].date));
    }
    if (wants(expand, n_expand, "createdAt"))
        json_object_set_new(body, "createdAt", json_string(meta.created_at));
    if (wants(expand, n_expand, "private"))
        json_object_set_new(body, "private", json_boolean(meta.private));
    if (wants(expand, n_expand, "gated"))
        json_object_set_new(body, "gated", json_false());
    if (wants(expand, n_expand, "disabled"))
        json_object_set_new(body, "disabled", json_false());
    if (wants(expand, n_expand, "downloads"))
        json_object_set_new(body, "downloads", json_integer(0));
    if (wants(expand, n_expand, "likes"))
        json_object_set_new(body, "likes", json_integer(0));
    if (wants(expand, n_expand, "tags"))
        json_object_set_new(body, "tags", json_array());
    if (n_expand > 0 && wants(expand, n_expand, "xetEnabled"))
        json_object_set_new(body, "xetEnabled", json_false());
    if (meta.kind == HFS_REPO_MODEL && n_expand == 0)
        json_object_set_new(body, "modelId", json_string(meta.id));
    if (wants(expand, n_expand, "siblings")) {
        int rc = hubd_repo_list_tree(&entries, &n_entries, req->srv->repos, meta.kind, meta.id,
                                     oid, "", true, false);
        if (rc < 0) {
            json_decref(body);
            hubd_respond_rc(req, rc, "RevisionNotFound");
            goto done;
        }
        json_t *sib = json_array();
        for (size_t i = 0; i < n_entries; i++) {
            const hubd_entry *e = &entries[i];
            if (e->is_dir)
                continue;
            json_t *s = json_pack("{s:s}", "rfilename", e->path);
            if (blobs) {
                json_object_set_new(s, "size", json_integer((json_int_t)e->size));
                json_object_set_new(s, "blobId", json_string(e->oid));
                if (e->is_lfs)
                    json_object_set_new(s, "lfs", json_pack("{s:I, s:s, s:I}", "size",
                                                            (json_int_t)e->size, "sha256",
                                                            e->lfs_oid, "pointerSize",
                                                            (json_int_t)e->pointer_size));
            }
            json_array_append_new(sib, s);
        }
        json_object_set_new(body, "siblings", sib);
    }
    hubd_respond_json(req, 200, body);
done:
    hubd_entries_free(entries, n_entries);
    hubd_commits_free(head, n_head);
    hubd_repo_meta_clear(&meta);
    free(rev);
}

/* ---- refs, commits, branches ----------------------------------------------------------- */

static json_t *refs_json(const hubd_ref *refs, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "name", refs[i].name, "ref",
                                           refs[i].ref, "targetCommit", refs[i].target));
    return a;
}

void hubd_handle_refs(hubd_request *req)
{
    hubd_repo_meta meta;
    if (!hubd_repo_visible(req, &meta))
        return;
    bool ok;
    bool prs = hubd_query_bool(req, "include_prs", false, &ok);
    if (ok) {
        hubd_ref *br = NULL, *tags = NULL, *pr = NULL;
        size_t n_br = 0, n_tags = 0, n_pr = 0;
        int rc = hubd_repo_list_refs(&br, &n_br, &tags, &n_tags, &pr, &n_pr, req->srv->repos,
                                     meta.kind, meta.id);
        if (rc < 0) {
            hubd_respond_rc(req, rc, "RepoNotFound");
        } else {
            json_t *body = json_pack("{s:o, s:[], s:o}", "branches", refs_json(br, n_br),
                                     "converts", "tags", refs_json(tags, n_tags));
            if (prs)
                json_object_set_new(body, "pullRequests", refs_json(pr, n_pr));
            hubd_respond_json(req, 200, body);
        }
        hubd_refs_free(br, n_br);
        hubd_refs_free(tags, n_tags);
        hubd_refs_free(pr, n_pr);
    }
    hubd_repo_meta_clear(&meta);
}

void hubd_handle_commits(hubd_request *req)
{
    hubd_repo_meta meta;
    hubd_commit_info *commits = NULL;
    size_t n = 0, total = 0;
    char *rev = NULL;
    if (!hubd_repo_visible(req, &meta))
        return;
    uint64_t limit, page;
    if (!hubd_query_uint(req, "limit", COMMITS_PAGE_DEFAULT, COMMITS_PAGE_MAX, &limit) ||
        !hubd_query_uint(req, "p", 0, UINT32_MAX, &page))
        goto done;
    if (limit == 0)
        limit = COMMITS_PAGE_DEFAULT;
    rev = hubd_route_join(&req->route, 0, req->route.n_rest);
    char oid[41];
    if (!hubd_resolve_rev(req, rev, oid))
        goto done;
    int rc = hubd_repo_list_commits(&commits, &n, &total, req->srv->repos, meta.kind, meta.id,
                                    oid, (size_t)(page * limit), (size_t)limit);
    if (rc < 0) {
        hubd_respond_rc(req, rc, "RevisionNotFound");
        goto done;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        const hubd_commit_info *c = &commits[i];
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}], s:s}", "id", c->oid, "title",
                            c->title ? c->title : "", "message", c->message ? c->message : "",
                            "authors", "user", c->author ? c->author : "", "avatar", "", "date",
                            c->date ? c->date : ""));
    }
    hubd_respond_json(req, 200, list);
    char count[32];
    snprintf(count, sizeof(count), "%zu", total);
    hubd_add_header(req, "X-Total-Count", count);
    if ((page + 1) * limit < total) {
        char *base = hubd_base_url(req);
        char *link = hfs_sprintf("<%s%s?limit=%" PRIu64 "&p=%" PRIu64 ">; rel=\"next\"", base,
                                 req->raw_path, limit, page + 1);
        hubd_add_header(req, "Link", link);
        free(link);
        free(base);
    }
done:
    hubd_commits_free(commits, n);
    hubd_repo_meta_clear(&meta);
    free(rev);
}

void hubd_handle_branch(hubd_request *req)
{
    hubd_repo_meta meta;
    json_t *body = NULL;
    char *name = NULL;
    if (!hubd_repo_visible(req, &meta))
        return;
    name = hubd_route_join(&req->route, 0, req->route.n_rest);
    bool create = strcmp(req->method, "POST") == 0;
    char *what = hfs_sprintf("%s branch %s of %s", create ? "create" : "delete", name, meta.id);
    bool allowed = hubd_can_write(req, req->route.ns, what);
    free(what);
    if (!allowed)
        goto done;
    int rc;
    if (create) {
        const char *start = NULL;
        bool empty = false, overwrite = false;
        if (req->body.len > 0) {
            if (!(body = hubd_body_json(req)))
                goto done;
            json_t *sp = json_object_get(body, "startingPoint");
            json_t *eb = json_object_get(body, "emptyBranch");
            json_t *ow = json_object_get(body, "overwrite");
            if ((sp && !json_is_null(sp) && !json_is_string(sp)) ||
                (eb && !json_is_null(eb) && !json_is_boolean(eb)) ||
                (ow && !json_is_null(ow) && !json_is_boolean(ow))) {
                hubd_respond_error(req, 400, NULL,
                                   "branch body: \"startingPoint\" is a revision (string), "
                                   "\"emptyBranch\" and \"overwrite\" are booleans");
                goto done;
            }
            start = json_string_value(sp);
            empty = json_is_true(eb);
            overwrite = json_is_true(ow);
        }
        char oid[41];
        if (start && !empty && !hubd_resolve_rev(req, start, oid))
            goto done;
        rc = hubd_repo_branch_create(req->srv->repos, meta.kind, meta.id, name,
                                     start && !empty ? oid : NULL, empty, overwrite);
    } else {
        rc = hubd_repo_branch_delete(req->srv->repos, meta.kind, meta.id, name);
    }
    if (rc < 0)
        hubd_respond_rc(req, rc, "RevisionNotFound");
    else
        hubd_respond_json(req, 200, json_object());
done:
    json_decref(body);
    free(name);
    hubd_repo_meta_clear(&meta);
}
