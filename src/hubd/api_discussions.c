/* The local hub's pull-request side over HTTP: discussions and PRs (open, read, list,
 * comment, rename, status, merge) and the history rewrites that go with them (super-squash,
 * tags), with the hub's fields (PROTOCOL.md §8, huggingface_hub's community.py). */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "hubd/api_discussions.h"
#include "hubd/discussions.h"

/* ---- reading the request ----------------------------------------------------------------- */

/* The body as a JSON object, or NULL without an answer when there is no body at all (merge
 * and hide may come without one). *bad is set when a body was sent and is not valid. */
static json_t *optional_body(hubd_request *req, bool *bad)
{
    *bad = false;
    if (req->body.len == 0)
        return NULL;
    json_t *body = hubd_body_json(req);
    *bad = body == NULL;
    return body;
}

/* A string member: absent or null gives NULL; any other type answers 400. */
static bool body_string(hubd_request *req, json_t *body, const char *key, bool required,
                        const char **out)
{
    json_t *v = json_object_get(body, key);
    *out = json_string_value(v);
    if (json_is_string(v) || (!required && (!v || json_is_null(v))))
        return true;
    hubd_respond_error(req, 400, NULL, "the body needs \"%s\" as a string%s", key,
                       required ? "" : " (or leave it out)");
    return false;
}

/* The discussion number of the URL: a positive whole number. */
static bool url_number(hubd_request *req, int *out)
{
    const char *s = req->route.rest[0];
    char *end;
    long n = strtol(s, &end, 10);
    if (*s < '1' || *s > '9' || *end || n > 999999999) {
        hubd_respond_error(req, 400, NULL,
                           "'%.100s' is not a discussion number (a positive whole number)", s);
        return false;
    }
    *out = (int)n;
    return true;
}

/* Library errors as the hub answers them; a missing base branch is RevisionNotFound. */
static void respond_failure(hubd_request *req, int rc)
{
    const char *code =
        hfs_str_starts_with(hfs_error_last(), "Invalid rev id") ? "RevisionNotFound" : NULL;
    hubd_respond_rc(req, rc, code);
}

static char *discussion_url(hubd_request *req, const hubd_repo_meta *meta, bool api, int num)
{
    char *base = hubd_base_url(req);
    char *url = api ? hfs_sprintf("%s/api/%s/%s/discussions/%d", base, hubd_kind_plural(meta->kind),
                                  meta->id, num)
                    : hfs_sprintf("%s/%s%s/discussions/%d", base, hubd_kind_prefix(meta->kind),
                                  meta->id, num);
    free(base);
    return url;
}

/* ---- discussions ------------------------------------------------------------------------ */

static void discussions_list(hubd_request *req, const hubd_repo_meta *meta)
{
    uint64_t page;
    if (!hubd_query_uint(req, "p", 0, 1000000, &page))
        return;
    hubd_discussion_filter f = {hubd_query(req, "type"), hubd_query(req, "status"),
                                hubd_query(req, "author")};
    if (f.author && !*f.author)
        f.author = NULL;
    json_t *list = NULL;
    int rc = hubd_discussion_list(&list, req->srv->repos, meta->kind, meta->id, &f, (size_t)page);
    if (rc < 0)
        respond_failure(req, rc);
    else
        hubd_respond_json(req, 200, list);
}

static void discussion_details(hubd_request *req, const hubd_repo_meta *meta)
{
    int num;
    bool ok;
    bool diff = hubd_query_bool(req, "diff", false, &ok);
    if (!ok || !url_number(req, &num))
        return;
    json_t *d = NULL;
    int rc = hubd_discussion_get(&d, req->srv->repos, meta->kind, meta->id, num, diff);
    if (rc < 0)
        respond_failure(req, rc);
    else
        hubd_respond_json(req, 200, d);
}

static void discussion_create(hubd_request *req, const hubd_repo_meta *meta)
{
    json_t *body = hubd_body_json(req);
    const char *title, *description;
    if (!body || !body_string(req, body, "title", true, &title) ||
        !body_string(req, body, "description", false, &description))
        goto done;
    json_t *pr = json_object_get(body, "pullRequest");
    if (pr && !json_is_null(pr) && !json_is_boolean(pr)) {
        hubd_respond_error(req, 400, NULL, "\"pullRequest\" must be true or false");
        goto done;
    }
    hubd_discussion_new d = {.title = title,
                             .description = description,
                             .author = req->grant.user,
                             .pull_request = json_is_true(pr),
                             .draft = true,
                             .base_ref = "refs/heads/main"};
    int num = 0;
    json_t *answer = NULL;
    int rc = hubd_discussion_create(&num, req->srv->repos, meta->kind, meta->id, &d);
    if (rc == 0)
        rc = hubd_discussion_get(&answer, req->srv->repos, meta->kind, meta->id, num, false);
    if (rc < 0) {
        respond_failure(req, rc);
        goto done;
    }
    char *web = discussion_url(req, meta, false, num), *api = discussion_url(req, meta, true, num);
    json_object_set_new(answer, "url", json_pack("{s:s, s:s}", "web", web, "api", api));
    if (d.pull_request) {
        char ref[32];
        snprintf(ref, sizeof(ref), "refs/pr/%d", num);
        json_object_set_new(answer, "gitReference", json_string(ref));
    }
    free(web);
    free(api);
    hubd_respond_json(req, 200, answer);
done:
    json_decref(body);
}

/* The answer of a change: {key: event}. */
static void respond_event(hubd_request *req, int rc, const char *key, json_t *event)
{
    if (rc < 0)
        respond_failure(req, rc);
    else
        hubd_respond_json(req, 200, json_pack("{s:o}", key, event));
}

static void discussion_merge(hubd_request *req, const hubd_repo_meta *meta, int num, json_t *body)
{
    const char *comment = NULL;
    if (body && !body_string(req, body, "comment", false, &comment))
        return;
    hubd_merge_result res;
    int rc = hubd_discussion_merge(&res, req->srv->repos, meta->kind, meta->id, num,
                                   req->grant.user, comment);
    if (rc < 0 && res.n_conflicts > 0) {
        /* the hub's answer to a PR that cannot merge cleanly: a conflict, naming the files */
        hubd_respond_error(req, 409, NULL, "%s", hfs_error_last());
    } else if (rc < 0) {
        respond_failure(req, rc);
    } else {
        hubd_respond_json(
            req, 200, json_pack("{s:s, s:s}", "status", "merged", "mergeCommitId", res.commit_oid));
    }
    hubd_merge_result_clear(&res);
}

/* POST …/discussions/{num}/{action}[/...]: every change to an existing discussion. */
static void discussion_change(hubd_request *req, const hubd_repo_meta *meta)
{
    const hubd_route *r = &req->route;
    hubd_repos *repos = req->srv->repos;
    const char *user = req->grant.user;
    json_t *event = NULL;
    const char *text = NULL, *status = NULL;
    int num, rc;
    bool bad;
    json_t *body = optional_body(req, &bad);
    if (bad || !url_number(req, &num))
        goto done;
    const char *action = r->rest[1];
    if (r->n_rest == 2 && strcmp(action, "comment") == 0) {
        if (!body_string(req, body, "comment", true, &text))
            goto done;
        rc = hubd_discussion_comment(&event, repos, meta->kind, meta->id, num, user, text);
        respond_event(req, rc, "newMessage", event);
    } else if (r->n_rest == 2 && strcmp(action, "title") == 0) {
        if (!body_string(req, body, "title", true, &text))
            goto done;
        rc = hubd_discussion_rename(&event, repos, meta->kind, meta->id, num, user, text);
        respond_event(req, rc, "newTitle", event);
    } else if (r->n_rest == 2 && strcmp(action, "status") == 0) {
        if (!body_string(req, body, "status", true, &status) ||
            !body_string(req, body, "comment", false, &text))
            goto done;
        rc = hubd_discussion_set_status(&event, repos, meta->kind, meta->id, num, user, status,
                                        text);
        respond_event(req, rc, "newStatus", event);
    } else if (r->n_rest == 2 && strcmp(action, "merge") == 0) {
        discussion_merge(req, meta, num, body);
    } else if (r->n_rest == 4 && strcmp(action, "comment") == 0 &&
               strcmp(r->rest[3], "edit") == 0) {
        if (!body_string(req, body, "content", true, &text))
            goto done;
        rc = hubd_discussion_edit_comment(&event, repos, meta->kind, meta->id, num, r->rest[2],
                                          user, text);
        respond_event(req, rc, "updatedComment", event);
    } else if (r->n_rest == 4 && strcmp(action, "comment") == 0 &&
               strcmp(r->rest[3], "hide") == 0) {
        rc = hubd_discussion_hide_comment(&event, repos, meta->kind, meta->id, num, r->rest[2],
                                          user);
        respond_event(req, rc, "updatedComment", event);
    } else {
        hubd_respond_error(req, 404, NULL,
                           "Not Found: a discussion takes POST …/{num}/comment, title, status, "
                           "merge, or comment/{id}/edit and comment/{id}/hide (got %.200s)",
                           req->raw_path);
    }
done:
    json_decref(body);
}

void hubd_handle_discussions(hubd_request *req)
{
    hubd_repo_meta meta;
    if (!hubd_repo_visible(req, &meta))
        return;
    size_t n = req->route.n_rest;
    if (strcmp(req->method, "POST") != 0) {
        if (n == 0)
            discussions_list(req, &meta);
        else if (n == 1)
            discussion_details(req, &meta);
        else
            hubd_respond_error(req, 404, NULL, "Not Found: no hub endpoint at GET %.300s",
                               req->raw_path);
        goto done;
    }
    char *what = n == 0 ? hfs_sprintf("open a discussion on %s", meta.id)
                        : hfs_sprintf("change discussion #%s of %s", req->route.rest[0], meta.id);
    bool allowed = hubd_can_write(req, req->route.ns, what);
    free(what);
    if (!allowed)
        goto done;
    if (n == 0)
        discussion_create(req, &meta);
    else
        discussion_change(req, &meta);
done:
    hubd_repo_meta_clear(&meta);
}

/* ---- super-squash and tags ---------------------------------------------------------------- */

void hubd_handle_super_squash(hubd_request *req)
{
    hubd_repo_meta meta;
    json_t *body = NULL;
    char *branch = NULL;
    if (!hubd_repo_visible(req, &meta))
        return;
    branch = hubd_route_join(&req->route, 0, req->route.n_rest);
    char *what = hfs_sprintf("squash the history of %s in %s", branch, meta.id);
    bool allowed = hubd_can_write(req, req->route.ns, what);
    free(what);
    const char *message = NULL;
    bool bad;
    if (!allowed || (body = optional_body(req, &bad), bad) ||
        !body_string(req, body, "message", false, &message))
        goto done;
    char oid[41];
    int rc = hubd_repo_squash(oid, req->srv->repos, meta.kind, meta.id, branch, message,
                              req->grant.user);
    if (rc < 0) {
        hubd_respond_rc(req, rc, "RevisionNotFound");
        goto done;
    }
    char *base = hubd_base_url(req);
    char *url = hfs_sprintf("%s/%s%s/commit/%s", base, hubd_kind_prefix(meta.kind), meta.id, oid);
    hubd_respond_json(req, 200, json_pack("{s:s, s:s}", "commitOid", oid, "commitUrl", url));
    free(url);
    free(base);
done:
    json_decref(body);
    free(branch);
    hubd_repo_meta_clear(&meta);
}

void hubd_handle_tag(hubd_request *req)
{
    hubd_repo_meta meta;
    json_t *body = NULL;
    char *name = NULL;
    if (!hubd_repo_visible(req, &meta))
        return;
    /* POST names the revision to tag, DELETE the tag */
    name = hubd_route_join(&req->route, 0, req->route.n_rest);
    bool create = strcmp(req->method, "POST") == 0;
    char *what = create ? hfs_sprintf("tag %s of %s", name, meta.id)
                        : hfs_sprintf("delete tag %s of %s", name, meta.id);
    bool allowed = hubd_can_write(req, req->route.ns, what);
    free(what);
    if (!allowed)
        goto done;
    int rc;
    if (!create) {
        rc = hubd_repo_tag_delete(req->srv->repos, meta.kind, meta.id, name);
        if (rc < 0)
            hubd_respond_rc(req, rc, "RevisionNotFound");
        else
            hubd_respond_json(req, 200, json_object());
        goto done;
    }
    const char *tag, *message;
    char oid[41];
    if (!(body = hubd_body_json(req)) || !body_string(req, body, "tag", true, &tag) ||
        !body_string(req, body, "message", false, &message) || !hubd_resolve_rev(req, name, oid))
        goto done;
    rc = hubd_repo_tag_create(req->srv->repos, meta.kind, meta.id, tag, oid, message,
                              req->grant.user);
    if (rc < 0) {
        hubd_respond_rc(req, rc, "RevisionNotFound");
        goto done;
    }
    char *ref = hfs_sprintf("refs/tags/%s", tag);
    hubd_respond_json(req, 200,
                      json_pack("{s:s, s:s, s:s}", "name", tag, "ref", ref, "targetCommit", oid));
    free(ref);
done:
    json_decref(body);
    free(name);
    hubd_repo_meta_clear(&meta);
}
