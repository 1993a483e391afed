/* Tests for src/hub/discussions.c: open a PR, read it (status, description comment), list
 * discussions page by page, comment, edit the description, rename, close, merge. */
#include "hubtest.h"

static const char *const auth[] = {AUTH_HEADER, NULL};
static const char *const json_auth[] = {AUTH_HEADER, "Content-Type: application/json", NULL};
static const hfs_hub_repo model = {HFS_REPO_MODEL, "alice/x"};

static void test_create_and_get(fakehub *fh, hfs_hub *hub)
{
    long num = 0;
    fakehub_expect(
        fh, &(fh_exchange){
                "POST", "/api/models/alice/x/discussions", json_auth, NULL,
                "{\"title\":\"[WIP] Sync (multi-commit abc)\",\"description\":\"## Sync\\n- [ ] "
                "step\",\"pullRequest\":true}",
                200, NULL,
                "{\"num\":5,\"url\":{\"web\":\"https://huggingface.co/alice/x/discussions/5\"}}"});
    tap_is_int(hfs_hub_discussion_create(&num, hub, &model, "[WIP] Sync (multi-commit abc)",
                                         "## Sync\n- [ ] step", true),
               0, "open a pull request");
    tap_is_int(num, 5, "its number");
    fh_check(fh, "create a PR: title, description, pullRequest");

    fakehub_expect(fh, &(fh_exchange){"POST", "/api/models/alice/x/discussions", json_auth, NULL,
                                      NULL, 503, NULL, ""});
    tap_is_int(hfs_hub_discussion_create(&num, hub, &model, "t", NULL, false), HFS_ENET,
               "creating is never retried (it could open two)");
    fh_check(fh, "create sent once");

    hfs_hub_discussion d;
    fakehub_expect(
        fh, &(fh_exchange){
                "GET", "/api/models/alice/x/discussions/5?diff=1", auth, NULL, NULL, 200, NULL,
                "{\"num\":5,\"title\":\"[WIP] Sync\",\"status\":\"draft\",\"isPullRequest\":true,"
                "\"author\":{\"name\":\"alice\"},\"createdAt\":\"2025-01-01T00:00:00Z\","
                "\"events\":[{\"id\":\"status0\",\"type\":\"status-change\"},{\"id\":\"c0ffee\","
                "\"type\":\"comment\",\"data\":{\"latest\":{\"raw\":\"## Sync\"}}},"
                "{\"id\":\"c2\",\"type\":\"comment\"}],\"changes\":{\"base\":\"refs/heads/"
                "main\"},\"diff\":\"\"}"});
    tap_is_int(hfs_hub_discussion_get(&d, hub, &model, 5, true), 0, "read the PR");
    tap_is_str(d.status, "draft", "status");
    tap_ok(d.is_pull_request, "is a PR");
    tap_is_str(d.git_reference, "refs/pr/5", "its git reference");
    tap_is_str(d.author, "alice", "author");
    tap_is_str(d.description_comment_id, "c0ffee", "the first comment is the description");
    tap_ok(d.merge_commit_id == NULL, "not merged");
    hfs_hub_discussion_clear(&d);
    fh_check(fh, "discussion details");
    hfs_hub_discussion_clear(NULL);
}

typedef struct {
    long nums[8];
    int n;
} seen;

static int on_discussion(void *ctx, const hfs_hub_discussion_entry *e)
{
    seen *s = ctx;
    if (s->n < 8)
        s->nums[s->n++] = e->num;
    return 0;
}

static void test_list(fakehub *fh, hfs_hub *hub)
{
    fakehub_expect(
        fh,
        &(fh_exchange){"GET", "/api/models/alice/x/discussions?p=0&type=pull_request&status=open",
                       auth, NULL, NULL, 200, NULL,
                       "{\"count\":3,\"start\":0,\"discussions\":[{\"num\":9,\"title\":\"a\","
                       "\"status\":\"open\",\"isPullRequest\":true},"
                       "{\"num\":7,\"title\":\"b\",\"status\":\"open\",\"isPullRequest\":true,"
                       "\"author\":{\"name\":\"bob\"}}]}"});
    fakehub_expect(
        fh,
        &(fh_exchange){"GET", "/api/models/alice/x/discussions?p=1&type=pull_request&status=open",
                       auth, NULL, NULL, 200, NULL,
                       "{\"count\":3,\"start\":2,\"discussions\":[{\"num\":2,\"title\":\"c\","
                       "\"status\":\"open\",\"isPullRequest\":true}]}"});
    seen s = {0};
    tap_is_int(
        hfs_hub_discussion_list(hub, &model, "pull_request", "open", NULL, on_discussion, &s), 0,
        "list open PRs over two pages");
    tap_is_int(s.n, 3, "three of them");
    tap_is_int(s.nums[2], 2, "the second page follows");
    fh_check(fh, "discussion list: p=0, p=1, filters");

    fakehub_expect(fh,
                   &(fh_exchange){"GET", "/api/models/alice/x/discussions?p=0", auth, NULL, NULL,
                                  200, NULL, "{\"count\":5,\"start\":0,\"discussions\":[]}"});
    tap_is_int(hfs_hub_discussion_list(hub, &model, NULL, NULL, NULL, on_discussion, &s), HFS_ERROR,
               "an empty page that promises more is refused instead of looping");
    fh_check(fh, "discussion list: no endless walk");
}

static void test_changes(fakehub *fh, hfs_hub *hub)
{
    char *id = NULL;
    fakehub_expect(fh, &(fh_exchange){"POST", "/api/models/alice/x/discussions/5/comment",
                                      json_auth, NULL, "{\"comment\":\"step 1 done\"}", 200, NULL,
                                      "{\"newMessage\":{\"id\":\"m1\",\"type\":\"comment\"}}"});
    tap_is_int(hfs_hub_discussion_comment(&id, hub, &model, 5, "step 1 done"), 0, "comment");
    tap_is_str(id, "m1", "the new comment's id");
    free(id);
    fh_check(fh, "comment");

    fakehub_expect(fh,
                   &(fh_exchange){"POST", "/api/models/alice/x/discussions/5/comment/c0ffee/edit",
                                  json_auth, NULL, "{\"content\":\"- [x] step\"}", 200, NULL,
                                  "{\"updatedComment\":{}}"});
    tap_is_int(hfs_hub_discussion_edit_comment(hub, &model, 5, "c0ffee", "- [x] step"), 0,
               "edit the description");
    fh_check(fh, "edit comment");

    fakehub_expect(fh,
                   &(fh_exchange){"POST", "/api/models/alice/x/discussions/5/title", json_auth,
                                  NULL, "{\"title\":\"Sync\"}", 200, NULL, "{\"newTitle\":{}}"});
    tap_is_int(hfs_hub_discussion_rename(hub, &model, 5, "Sync"), 0, "rename");
    fh_check(fh, "rename");

    fakehub_expect(fh, &(fh_exchange){"POST", "/api/models/alice/x/discussions/5/status", json_auth,
                                      NULL, "{\"status\":\"open\",\"comment\":\"ready\"}", 200,
                                      NULL, "{\"newStatus\":{}}"});
    tap_is_int(hfs_hub_discussion_set_status(hub, &model, 5, "open", "ready"), 0, "open it");
    fh_check(fh, "status");

    fakehub_expect(fh, &(fh_exchange){"POST", "/api/models/alice/x/discussions/5/merge", auth, NULL,
                                      "", 200, NULL, "{}"});
    tap_is_int(hfs_hub_discussion_merge(hub, &model, 5, NULL), 0, "merge");
    fh_check(fh, "merge without comment: no body");

    fakehub_expect(fh, &(fh_exchange){"POST", "/api/models/alice/x/discussions/6/merge", json_auth,
                                      NULL, "{\"comment\":\"done\"}", 400, NULL,
                                      "{\"error\":\"This PR has no associated changes\"}"});
    tap_is_int(hfs_hub_discussion_merge(hub, &model, 6, "done"), HFS_EINVALID,
               "merging an empty PR");
    error_has("cannot merge pull request #6 of model alice/x", "names the PR");
    error_has("no associated changes", "and says why");
    fh_check(fh, "merge of an empty PR");
}

int main(void)
{
    fakehub *fh = fakehub_start();
    hfs_hub *hub = test_hub(fakehub_url(fh), TEST_TOKEN, NULL, NULL);
    test_create_and_get(fh, hub);
    test_list(fh, hub);
    test_changes(fh, hub);
    hfs_hub_free(hub);
    fakehub_stop(fh);
    return tap_done();
}
