/* The hub client's discussion functions (src/hub/discussions.c) against the real local hub
 * rather than a scripted fake: what tests/hub/discussions.c expects, the server answers. */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"
#include "hfsync/hubd.h"
#include "hub/hub.h"
#include "tap.h"

#define TOKEN "hf_clienttest0123456789"

typedef struct {
    const char *data;
    size_t len, off;
} mem_body;

static ssize_t mem_read(void *ctx, char *buf, size_t len)
{
    mem_body *m = ctx;
    size_t n = m->len - m->off < len ? m->len - m->off : len;
    memcpy(buf, m->data + m->off, n);
    m->off += n;
    return (ssize_t)n;
}

/* A one-file commit to `revision` (text content, utf-8 encoding). */
static int commit_text(hfs_hub *hub, const hfs_hub_repo *repo, const char *revision,
                       const char *path, const char *text)
{
    char *nd = hfs_sprintf("{\"key\":\"header\",\"value\":{\"summary\":\"set %s\"}}\n"
                           "{\"key\":\"file\",\"value\":{\"path\":\"%s\",\"content\":\"%s\","
                           "\"encoding\":\"utf-8\"}}\n",
                           path, path, text);
    mem_body m = {nd, strlen(nd), 0};
    hfs_hub_body body = {mem_read, NULL, &m, (int64_t)m.len};
    hfs_hub_commit_result res = {0};
    int rc = hfs_hub_commit(&res, hub, repo, revision, &body, false);
    hfs_hub_commit_result_clear(&res);
    free(nd);
    return rc;
}

typedef struct {
    long nums[64];
    int n;
    int drafts;
} seen;

static int on_discussion(void *ctx, const hfs_hub_discussion_entry *e)
{
    seen *s = ctx;
    if (s->n < 64)
        s->nums[s->n] = e->num;
    s->n++;
    if (strcmp(e->status, "draft") == 0)
        s->drafts++;
    return 0;
}

static void run(hfs_hub *hub)
{
    const hfs_hub_repo repo = {HFS_REPO_MODEL, "tester/client"};
    char *url = NULL;
    tap_is_int(hfs_hub_repo_create(&url, hub, &repo, NULL), 0, "create a repo on the local hub");
    free(url);

    long num = 0;
    tap_is_int(hfs_hub_discussion_create(&num, hub, &repo, "[WIP] Sync (multi-commit abc)",
                                         "## Sync\n- [ ] step", true),
               0, "open a pull request");
    tap_is_int(num, 1, "it is #1");

    hfs_hub_discussion d;
    tap_is_int(hfs_hub_discussion_get(&d, hub, &repo, num, true), 0, "read it with diff=1");
    tap_is_str(d.status, "draft", "a PR opened this way is a draft");
    tap_ok(d.is_pull_request, "is a pull request");
    tap_is_str(d.git_reference, "refs/pr/1", "its git reference");
    tap_is_str(d.author, "user", "its author is the token's user");
    tap_ok(d.description_comment_id && strlen(d.description_comment_id) == 24,
           "the description is the first comment, with an id");
    tap_ok(d.merge_commit_id == NULL, "not merged");
    char *desc_id = d.description_comment_id ? hfs_strdup(d.description_comment_id) : NULL;
    hfs_hub_discussion_clear(&d);

    tap_is_int(commit_text(hub, &repo, "refs/pr/1", "step1.txt", "done"), 0,
               "commit to refs/pr/1 (the client quotes it)");
    tap_is_int(hfs_hub_discussion_edit_comment(hub, &repo, num, desc_id ? desc_id : "x",
                                               "## Sync\n- [x] step"),
               0, "tick the step in the description");
    char *comment_id = NULL;
    tap_is_int(hfs_hub_discussion_comment(&comment_id, hub, &repo, num, "step 1 done"), 0,
               "comment");
    tap_ok(comment_id && strcmp(comment_id, desc_id ? desc_id : "") != 0,
           "the comment has an id of its own");
    free(comment_id);

    long other = 0;
    hfs_hub_discussion_create(&other, hub, &repo, "A question", NULL, false);
    seen s = {0};
    tap_is_int(hfs_hub_discussion_list(hub, &repo, "pull_request", "open", NULL, on_discussion, &s),
               0, "list open pull requests");
    tap_ok(s.n == 1 && s.nums[0] == 1 && s.drafts == 1, "the draft PR counts as open");

    tap_is_int(hfs_hub_discussion_rename(hub, &repo, num, "Sync"), 0, "rename");
    tap_is_int(hfs_hub_discussion_set_status(hub, &repo, num, "open", "ready"), 0, "publish it");
    tap_is_int(hfs_hub_discussion_merge(hub, &repo, num, NULL), 0, "merge it (no body)");
    tap_is_int(hfs_hub_discussion_get(&d, hub, &repo, num, false), 0, "read it again");
    tap_is_str(d.status, "merged", "merged");
    tap_is_str(d.title, "Sync", "with the new title");
    tap_ok(d.merge_commit_id && strlen(d.merge_commit_id) == 40, "changes.mergeCommitId is set");
    const json_t *events = json_object_get(d.json, "events");
    size_t i, commits = 0;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        const char *type = json_string_value(json_object_get(ev, "type"));
        commits += type && strcmp(type, "commit") == 0;
    }
    tap_is_int((long long)commits, 1, "its events hold the PR's commit");
    hfs_hub_discussion_clear(&d);

    long empty = 0;
    hfs_hub_discussion_create(&empty, hub, &repo, "Nothing inside", "", true);
    hfs_hub_discussion_set_status(hub, &repo, empty, "open", NULL);
    tap_is_int(hfs_hub_discussion_merge(hub, &repo, empty, "done"), HFS_EINVALID,
               "merging a PR without changes is HFS_EINVALID");
    tap_ok(strstr(hfs_error_last(), "no associated changes") != NULL,
           "... with the hub's 'no associated changes'");
    tap_is_int(hfs_hub_discussion_set_status(hub, &repo, empty, "closed", "nothing to do"), 0,
               "close it instead, as the multi-commit flow does");

    for (int k = 0; k < 50; k++)
        hfs_hub_discussion_create(&other, hub, &repo, "bulk discussion", NULL, false);
    memset(&s, 0, sizeof(s));
    tap_is_int(hfs_hub_discussion_list(hub, &repo, NULL, NULL, NULL, on_discussion, &s), 0,
               "list everything, page after page");
    tap_is_int(s.n, 53, "all 53 discussions, over two pages of 50");
    tap_ok(s.nums[0] == 53 && s.nums[52] == 1, "newest first, down to #1");
    free(desc_id);
}

int main(void)
{
    char root[] = "/tmp/hfsync-discussions-client.XXXXXX";
    if (!mkdtemp(root)) {
        printf("Bail out! cannot make a temp dir\n");
        return 1;
    }
    const char *tokens[] = {TOKEN};
    char *log = hfs_path_join(root, "access.log");
    hfs_hubd_options ho = HFS_HUBD_OPTIONS_INIT;
    ho.root = root;
    ho.listen = "127.0.0.1:0";
    ho.tokens = tokens;
    ho.n_tokens = 1;
    ho.access_log = log;
    ho.threads = 2;
    hfs_hubd *hubd = NULL;
    if (hfs_hubd_start(&hubd, &ho) < 0) {
        printf("Bail out! cannot start the local hub: %s\n", hfs_error_last());
        return 1;
    }
    hfs_hub_options o = HFS_HUB_OPTIONS_INIT;
    o.endpoint = hfs_hubd_url(hubd);
    o.token = TOKEN;
    o.max_attempts = 1;
    hfs_hub *hub = NULL;
    if (hfs_hub_new(&hub, &o) < 0) {
        printf("Bail out! cannot open a hub session: %s\n", hfs_error_last());
        return 1;
    }
    run(hub);
    hfs_hub_free(hub);
    hfs_hubd_stop(hubd);
    char *cmd = hfs_sprintf("rm -rf '%s'", root);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", root);
    free(cmd);
    free(log);
    return tap_done();
}
