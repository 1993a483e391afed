/* Discussions and pull requests: open, read, list, comment, edit, rename, close and merge
 * (PROTOCOL.md §8). The multi-commit strategy drives a PR through these. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "hub/request.h"

/* POST {api}/discussions[/{num}[/{resource}]] with a JSON body (stolen; NULL: no body).
 * *answer (may be NULL) receives the JSON object the hub returns. */
static int discussion_post(json_t **answer, hfs_hub *hub, const hfs_hub_repo *repo, long num,
                           const char *resource, json_t *body, bool retry, const char *what)
{
    char *url = num ? hub_api_urlf(hub, repo, "/discussions/%ld/%s", num, resource)
                    : hub_api_urlf(hub, repo, "/discussions");
    hub_request req = hub_api_request(what, "POST", url, retry);
    int rc =
        answer ? hub_call_json(answer, hub, &req, body, JSON_OBJECT) : hub_call(hub, &req, body);
    free(url);
    return rc;
}

int hfs_hub_discussion_create(long *out, hfs_hub *hub, const hfs_hub_repo *repo, const char *title,
                              const char *description, bool pull_request)
{
    json_t *answer = NULL;
    char *what = hfs_sprintf("open a %s on " HUB_REPO_FMT,
                             pull_request ? "pull request" : "discussion", HUB_REPO_ARGS(repo));
    json_t *body = json_pack("{s:s,s:s,s:b}", "title", title, "description",
                             description ? description : "", "pullRequest", pull_request);
    *out = 0;
    /* Sent once: a retry could open a second one. */
    int rc = discussion_post(&answer, hub, repo, 0, NULL, body, false, what);
    if (rc == 0) {
        json_t *num = json_object_get(answer, "num");
        if (json_is_integer(num) && json_integer_value(num) > 0)
            *out = (long)json_integer_value(num);
        else
            rc = hfs_error_set(HFS_ERROR, "cannot %s: the hub's answer has no \"num\"", what);
    }
    json_decref(answer);
    free(what);
    return rc;
}

void hfs_hub_discussion_clear(hfs_hub_discussion *d)
{
    if (!d)
        return;
    free(d->title);
    free(d->status);
    free(d->git_reference);
    free(d->author);
    free(d->description_comment_id);
    free(d->merge_commit_id);
    json_decref(d->json);
    memset(d, 0, sizeof(*d));
}

static char *dup_or_null(const char *s)
{
    return s ? hfs_strdup(s) : NULL;
}

int hfs_hub_discussion_get(hfs_hub_discussion *out, hfs_hub *hub, const hfs_hub_repo *repo,
                           long num, bool with_diff)
{
    json_t *j = NULL;
    char *url = hub_api_urlf(hub, repo, "/discussions/%ld%s", num, with_diff ? "?diff=1" : "");
    char *what = hfs_sprintf("read discussion #%ld of " HUB_REPO_FMT, num, HUB_REPO_ARGS(repo));
    hub_request req = hub_api_request(what, "GET", url, true);

    memset(out, 0, sizeof(*out));
    int rc = hub_call_json(&j, hub, &req, NULL, JSON_OBJECT);
    if (rc == 0) {
        json_t *jnum = json_object_get(j, "num");
        const char *title = hub_json_str(j, "title"), *status = hub_json_str(j, "status");
        if (!json_is_integer(jnum) || !title || !status) {
            rc = hub_protocol_error(hub, &req, "num, title or status is missing");
        } else {
            out->num = (long)json_integer_value(jnum);
            out->title = hfs_strdup(title);
            out->status = hfs_strdup(status);
            out->is_pull_request = hub_json_bool(j, "isPullRequest");
            if (out->is_pull_request)
                out->git_reference = hfs_sprintf("refs/pr/%ld", out->num);
            out->author = dup_or_null(hub_json_str(json_object_get(j, "author"), "name"));
            out->merge_commit_id =
                dup_or_null(hub_json_str(json_object_get(j, "changes"), "mergeCommitId"));
            size_t i;
            json_t *ev;
            json_array_foreach(json_object_get(j, "events"), i, ev)
            {
                const char *type = hub_json_str(ev, "type");
                if (type && strcmp(type, "comment") == 0) {
                    out->description_comment_id = dup_or_null(hub_json_str(ev, "id"));
                    break;
                }
            }
            out->json = json_incref(j);
        }
    }
    json_decref(j);
    free(what);
    free(url);
    return rc;
}

int hfs_hub_discussion_list(hfs_hub *hub, const hfs_hub_repo *repo, const char *type,
                            const char *status, const char *author, hfs_hub_discussion_fn fn,
                            void *ctx)
{
    char *what = hfs_sprintf("list the discussions of " HUB_REPO_FMT, HUB_REPO_ARGS(repo));
    hfs_buf filters = HFS_BUF_INIT;
    const char *names[] = {"type", "status", "author"}, *values[] = {type, status, author};
    int rc = 0;

    for (size_t i = 0; i < HFS_ARRAY_LEN(names); i++) {
        if (values[i]) {
            char *q = hfs_hub_quote_segment(values[i]);
            hfs_buf_printf(&filters, "&%s=%s", names[i], q);
            free(q);
        }
    }
    for (long page = 0; rc == 0; page++) {
        char *url = hub_api_urlf(hub, repo, "/discussions?p=%ld%s", page, hfs_buf_cstr(&filters));
        hub_request req = hub_api_request(what, "GET", url, true);
        json_t *j = NULL;
        bool more = false;
        rc = hub_call_json(&j, hub, &req, NULL, JSON_OBJECT);
        json_t *list = json_object_get(j, "discussions");
        json_t *count = json_object_get(j, "count"), *start = json_object_get(j, "start");
        if (rc == 0 && (!json_is_array(list) || !json_is_integer(count) || !json_is_integer(start)))
            rc = hub_protocol_error(hub, &req, "discussions, count or start is missing");
        size_t i;
        json_t *d;
        if (rc == 0) {
            json_array_foreach(list, i, d)
            {
                json_t *num = json_object_get(d, "num");
                hfs_hub_discussion_entry e = {json_is_integer(num) ? (long)json_integer_value(num)
                                                                   : 0,
                                              hub_json_str(d, "title"),
                                              hub_json_str(d, "status"),
                                              hub_json_bool(d, "isPullRequest"),
                                              hub_json_str(json_object_get(d, "author"), "name"),
                                              d};
                if (!e.num || !e.title || !e.status) {
                    rc = hub_protocol_error(hub, &req,
                                            "discussions[%zu] lacks num, title or status", i);
                    break;
                }
                if ((rc = fn(ctx, &e)) != 0)
                    break;
            }
        }
        if (rc == 0) {
            json_int_t seen = json_integer_value(start) + (json_int_t)json_array_size(list);
            more = seen < json_integer_value(count);
            /* An empty page that claims more would loop forever. */
            if (more && json_array_size(list) == 0)
                rc = hub_protocol_error(hub, &req, "an empty page, yet count says more follow");
        }
        json_decref(j);
        free(url);
        if (!more)
            break;
    }
    hfs_buf_free(&filters);
    free(what);
    return rc;
}

int hfs_hub_discussion_comment(char **out, hfs_hub *hub, const hfs_hub_repo *repo, long num,
                               const char *comment)
{
    json_t *answer = NULL;
    char *what =
        hfs_sprintf("comment on discussion #%ld of " HUB_REPO_FMT, num, HUB_REPO_ARGS(repo));
    if (out)
        *out = NULL;
    int rc = discussion_post(&answer, hub, repo, num, "comment",
                             json_pack("{s:s}", "comment", comment), false, what);
    if (rc == 0 && out) {
        const char *id = hub_json_str(json_object_get(answer, "newMessage"), "id");
        if (id)
            *out = hfs_strdup(id);
        else
            rc = hfs_error_set(HFS_ERROR, "cannot %s: the hub's answer has no newMessage.id", what);
    }
    json_decref(answer);
    free(what);
    return rc;
}

int hfs_hub_discussion_edit_comment(hfs_hub *hub, const hfs_hub_repo *repo, long num,
                                    const char *comment_id, const char *content)
{
    char *what = hfs_sprintf("edit comment %s of discussion #%ld of " HUB_REPO_FMT, comment_id, num,
                             HUB_REPO_ARGS(repo));
    char *q = hfs_hub_quote_segment(comment_id);
    char *resource = hfs_sprintf("comment/%s/edit", q);
    /* Setting the same content twice is harmless, so this one may be retried. */
    int rc = discussion_post(NULL, hub, repo, num, resource, json_pack("{s:s}", "content", content),
                             true, what);
    free(resource);
    free(q);
    free(what);
    return rc;
}

int hfs_hub_discussion_rename(hfs_hub *hub, const hfs_hub_repo *repo, long num, const char *title)
{
    char *what = hfs_sprintf("rename discussion #%ld of " HUB_REPO_FMT, num, HUB_REPO_ARGS(repo));
    int rc = discussion_post(NULL, hub, repo, num, "title", json_pack("{s:s}", "title", title),
                             true, what);
    free(what);
    return rc;
}

int hfs_hub_discussion_set_status(hfs_hub *hub, const hfs_hub_repo *repo, long num,
                                  const char *status, const char *comment)
{
    char *what = hfs_sprintf("set discussion #%ld of " HUB_REPO_FMT " to %s", num,
                             HUB_REPO_ARGS(repo), status);
    json_t *body = json_pack("{s:s}", "status", status);
    if (comment)
        json_object_set_new(body, "comment", json_string(comment));
    int rc = discussion_post(NULL, hub, repo, num, "status", body, false, what);
    free(what);
    return rc;
}

int hfs_hub_discussion_merge(hfs_hub *hub, const hfs_hub_repo *repo, long num, const char *comment)
{
    char *what = hfs_sprintf("merge pull request #%ld of " HUB_REPO_FMT, num, HUB_REPO_ARGS(repo));
    json_t *body = comment ? json_pack("{s:s}", "comment", comment) : NULL;
    int rc = discussion_post(NULL, hub, repo, num, "merge", body, false, what);
    free(what);
    return rc;
}
