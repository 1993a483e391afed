/* Tests for src/hub/repo.c: whoami, repo create/delete (409 with its url), repo and
 * revision info, refs, the paginated commit list, branches — the exact requests and the
 * parsed answers. */
#include "hubtest.h"

static const char *const auth[] = {AUTH_HEADER, NULL};
static const char *const json_auth[] = {AUTH_HEADER, "Content-Type: application/json", NULL};

static const hfs_hub_repo model = {HFS_REPO_MODEL, "alice/x"};
static const hfs_hub_repo dataset = {HFS_REPO_DATASET, "alice/d"};
static const hfs_hub_repo space = {HFS_REPO_SPACE, "alice/s"};

#define OID_A "1111111111111111111111111111111111111111"
#define OID_B "2222222222222222222222222222222222222222"
#define SHA256_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static void test_whoami(fakehub *fh, hfs_hub *hub)
{
    fakehub_expect(fh, &(fh_exchange){"GET", "/api/whoami-v2", auth, NULL, NULL, 200, NULL,
                                      "{\"type\":\"user\",\"name\":\"alice\",\"orgs\":[],\"auth\":{"
                                      "\"type\":\"access_token\"}}"});
    json_t *me = NULL;
    tap_is_int(hfs_hub_whoami(&me, hub), 0, "whoami");
    tap_is_str(json_string_value(json_object_get(me, "name")), "alice", "whoami: name");
    json_decref(me);
    fh_check(fh, "whoami");
}

static void test_create(fakehub *fh, hfs_hub *hub)
{
    char *url = NULL;
    hfs_hub_create_options opts = HFS_HUB_CREATE_OPTIONS_INIT;

    fakehub_expect(fh,
                   &(fh_exchange){"POST", "/api/repos/create", json_auth, NULL,
                                  "{\"name\":\"x\",\"organization\":\"alice\"}", 200, NULL,
                                  "{\"url\":\"https://huggingface.co/alice/x\",\"name\":\"alice/"
                                  "x\",\"id\":\"67cae57dfb88e1c3d1fec3f5\"}"});
    tap_is_int(hfs_hub_repo_create(&url, hub, &model, NULL), 0, "create a model");
    char *want = hfs_sprintf("%s/alice/x", fakehub_url(fh));
    tap_is_str(url, want, "the huggingface.co url is rewritten to the endpoint");
    free(want);
    free(url);
    fh_check(fh, "create model: name and organization, no type");

    opts.visibility = "private";
    fakehub_expect(fh,
                   &(fh_exchange){"POST", "/api/repos/create", json_auth, NULL,
                                  "{\"name\":\"d\",\"organization\":\"alice\",\"type\":\"dataset\","
                                  "\"visibility\":\"private\"}",
                                  200, NULL, "{\"url\":\"http://hub.local/datasets/alice/d\"}"});
    tap_is_int(hfs_hub_repo_create(&url, hub, &dataset, &opts), 0, "create a private dataset");
    tap_is_str(url, "http://hub.local/datasets/alice/d", "other hosts' urls are kept");
    free(url);
    fh_check(fh, "create dataset: type and visibility");

    fakehub_expect(
        fh, &(fh_exchange){
                "POST", "/api/repos/create", json_auth, NULL,
                "{\"name\":\"s\",\"organization\":\"alice\",\"type\":\"space\",\"sdk\":\"static\"}",
                200, NULL, "{\"url\":\"http://hub.local/spaces/alice/s\"}"});
    tap_is_int(hfs_hub_repo_create(&url, hub, &space, NULL), 0, "create a space");
    free(url);
    fh_check(fh, "create space: sdk static by default");

    fakehub_expect(fh,
                   &(fh_exchange){"POST", "/api/repos/create", json_auth, NULL, NULL, 409,
                                  (const char *const[]){"X-Request-Id: Root=1-67cae56b;c9be", NULL},
                                  "{\"error\":\"You already created this model "
                                  "repo\",\"url\":\"https://huggingface.co/alice/x\"}"});
    tap_is_int(hfs_hub_repo_create(&url, hub, &model, NULL), HFS_EEXISTS, "409: HFS_EEXISTS");
    want = hfs_sprintf("%s/alice/x", fakehub_url(fh));
    tap_is_str(url, want, "409: the url is still returned");
    error_has("You already created this model repo", "409: the hub's words");
    error_has(want, "409: the message has the url");
    error_has("cannot create model alice/x", "409: the message names the repo");
    free(want);
    free(url);
    fh_check(fh, "create 409");

    sleep_log sleeps = {0};
    hfs_hub *slow = test_hub(fakehub_url(fh), TEST_TOKEN, &sleeps, NULL);
    fakehub_expect(
        fh,
        &(fh_exchange){
            "POST", "/api/repos/create", json_auth, NULL, NULL, 409, NULL,
            "{\"error\":\"Cannot create repo: another conflicting operation is in progress\"}"});
    fakehub_expect(fh, &(fh_exchange){"POST", "/api/repos/create", json_auth, NULL, NULL, 200, NULL,
                                      "{\"url\":\"http://hub.local/alice/x\"}"});
    tap_is_int(hfs_hub_repo_create(&url, slow, &model, NULL), 0,
               "409 \"conflicting operation in progress\" is asked again");
    tap_is_int(sleeps.n, 1, "after one wait");
    free(url);
    fh_check(fh, "create while busy");
    hfs_hub_free(slow);

    fakehub_expect(
        fh, &(fh_exchange){"POST", "/api/repos/create", json_auth, NULL, NULL, 503, NULL, ""});
    tap_is_int(hfs_hub_repo_create(&url, hub, &model, NULL), HFS_ENET, "create is sent once");
    tap_ok(url == NULL, "no url on failure");
    fh_check(fh, "create not retried");
}

static void test_delete(fakehub *fh, hfs_hub *hub)
{
    fakehub_expect(
        fh, &(fh_exchange){"DELETE", "/api/repos/delete", json_auth, NULL,
                           "{\"name\":\"d\",\"organization\":\"alice\",\"type\":\"dataset\"}", 200,
                           NULL, "OK"});
    tap_is_int(hfs_hub_repo_delete(hub, &dataset), 0, "delete a dataset");
    fh_check(fh, "delete");
    fakehub_expect(fh, &(fh_exchange){"DELETE", "/api/repos/delete", json_auth, NULL, NULL, 404,
                                      (const char *const[]){"X-Error-Code: RepoNotFound", NULL},
                                      "{\"error\":\"Repository not found\"}"});
    tap_is_int(hfs_hub_repo_delete(hub, &dataset), HFS_ENOTFOUND,
               "delete a missing repo: HFS_ENOTFOUND");
    fh_check(fh, "delete missing");
}

static void test_info(fakehub *fh, hfs_hub *hub)
{
    hfs_hub_repo_info info;
    fakehub_expect(
        fh,
        &(fh_exchange){
            "GET", "/api/models/alice/x/revision/refs%2Fpr%2F3?blobs=true", auth, NULL, NULL, 200,
            NULL,
            "{\"_id\":\"x\",\"id\":\"alice/x\",\"private\":true,\"gated\":false,\"disabled\":false,"
            "\"sha\":\"" OID_A
            "\",\"siblings\":[{\"rfilename\":\"README.md\",\"size\":12,\"blobId\":\"" OID_B "\"},"
            "{\"rfilename\":\"w.bin\",\"size\":1000,\"blobId\":\"" OID_B
            "\",\"lfs\":{\"sha256\":\"" SHA256_A "\",\"size\":1000,\"pointerSize\":130}}]}"});
    tap_is_int(hfs_hub_repo_info_get(&info, hub, &model, "refs/pr/3", true), 0, "revision info");
    tap_is_str(info.sha, OID_A, "revision info: sha");
    tap_ok(info.is_private && !info.gated && !info.disabled, "revision info: flags");
    tap_is_int((long long)info.n_siblings, 2, "revision info: two siblings");
    if (info.n_siblings == 2) {
        tap_is_str(info.siblings[0].path, "README.md", "sibling path");
        tap_is_int(info.siblings[0].size, 12, "sibling size");
        tap_ok(!info.siblings[0].is_lfs, "regular sibling");
        tap_ok(info.siblings[1].is_lfs, "LFS sibling");
        tap_is_str(info.siblings[1].lfs_sha256, SHA256_A, "LFS sibling sha256");
    }
    tap_ok(json_is_object(info.json), "the whole answer is kept");
    hfs_hub_repo_info_clear(&info);
    fh_check(fh, "revision info: revision quoted as one segment, blobs=true");

    fakehub_expect(
        fh,
        &(fh_exchange){
            "GET", "/api/datasets/alice/d", auth, NULL, NULL, 200, NULL,
            "{\"id\":\"alice/d\",\"gated\":\"manual\",\"siblings\":[{\"rfilename\":\"a.csv\"}]}"});
    tap_is_int(hfs_hub_repo_info_get(&info, hub, &dataset, NULL, false), 0, "repo info");
    tap_is_str(info.gated, "manual", "gated mode");
    tap_ok(info.sha == NULL, "no sha given");
    tap_is_int(info.siblings[0].size, -1, "size unknown without blobs");
    hfs_hub_repo_info_clear(&info);
    fh_check(fh, "repo info");

    fakehub_expect(fh,
                   &(fh_exchange){"GET", "/api/models/alice/x/revision/nope", auth, NULL, NULL, 404,
                                  (const char *const[]){"X-Error-Code: RevisionNotFound", NULL},
                                  "{\"error\":\"Invalid rev id: nope\"}"});
    tap_is_int(hfs_hub_repo_info_get(&info, hub, &model, "nope", false), HFS_ENOTFOUND,
               "unknown revision: HFS_ENOTFOUND");
    error_has("cannot read model alice/x at nope: revision not found", "what and why");
    fh_check(fh, "revision not found");

    fakehub_expect(fh, &(fh_exchange){"GET", "/api/models/alice/x/revision/feat%2Fy?expand=sha",
                                      auth, NULL, NULL, 200, NULL,
                                      "{\"_id\":\"x\",\"id\":\"alice/x\",\"sha\":\"" OID_A
                                      "\"}"});
    tap_is_int(hfs_hub_repo_head_get(&info, hub, &model, "feat/y"), 0, "the head alone");
    tap_is_str(info.sha, OID_A, "the head alone: sha");
    tap_is_int((long long)info.n_siblings, 0, "the head alone: no siblings");
    hfs_hub_repo_info_clear(&info);
    fh_check(fh, "the head alone: ?expand=sha, the revision quoted as one segment");

    fakehub_expect(fh, &(fh_exchange){"GET", "/api/models/alice/x", auth, NULL, NULL, 200, NULL,
                                      "{\"private\":false}"});
    tap_is_int(hfs_hub_repo_info_get(&info, hub, &model, NULL, false), HFS_ERROR,
               "an answer without id is a protocol error");
    error_has("is not as expected: no \"id\"", "the message says what is missing");
    fh_check(fh, "bad repo info");
    hfs_hub_repo_info_clear(NULL);
}

static void test_refs(fakehub *fh, hfs_hub *hub)
{
    hfs_hub_refs refs;
    fakehub_expect(
        fh,
        &(fh_exchange){
            "GET", "/api/models/alice/x/refs?include_prs=1", auth, NULL, NULL, 200, NULL,
            "{\"branches\":[{\"name\":\"main\",\"ref\":\"refs/heads/"
            "main\",\"targetCommit\":\"" OID_A "\"},"
            "{\"name\":\"feat/x\",\"ref\":\"refs/heads/feat/x\",\"targetCommit\":\"" OID_B "\"}],"
            "\"converts\":[],\"tags\":[{\"name\":\"v1\",\"ref\":\"refs/tags/"
            "v1\",\"targetCommit\":\"" OID_A "\"}],"
            "\"pullRequests\":[{\"name\":\"refs/pr/1\",\"ref\":\"refs/pr/"
            "1\",\"targetCommit\":\"" OID_B "\"}]}"});
    tap_is_int(hfs_hub_list_refs(&refs, hub, &model, true), 0, "refs");
    tap_is_int((long long)refs.n_branches, 2, "two branches");
    tap_is_str(refs.branches[1].name, "feat/x", "branch name");
    tap_is_str(refs.branches[1].target_commit, OID_B, "branch head");
    tap_is_int((long long)refs.n_tags, 1, "one tag");
    tap_is_int((long long)refs.n_pull_requests, 1, "one PR ref");
    tap_is_str(refs.pull_requests[0].ref, "refs/pr/1", "PR ref");
    hfs_hub_refs_clear(&refs);
    fh_check(fh, "refs with PRs");
}

typedef struct {
    char ids[8][41];
    int n;
} commit_seen;

static int on_commit(void *ctx, const hfs_hub_commit_entry *c)
{
    commit_seen *s = ctx;
    if (s->n < 8)
        snprintf(s->ids[s->n++], 41, "%s", c->id);
    return 0;
}

static int stop_at_first(void *ctx, const hfs_hub_commit_entry *c)
{
    (void)c;
    (*(int *)ctx)++;
    return 7;
}

static void test_commits(fakehub *fh, hfs_hub *hub)
{
    char *link = hfs_sprintf("Link: <%s/api/models/alice/x/commits/feat%%2Fx?p=1>; rel=\"next\"",
                             fakehub_url(fh));
    const char *const page1[] = {link, NULL};
    fakehub_expect(
        fh, &(fh_exchange){
                "GET", "/api/models/alice/x/commits/feat%2Fx", auth, NULL, NULL, 200, page1,
                "[{\"id\":\"" OID_A "\",\"title\":\"second\",\"message\":\"second\\n\",\"date\":"
                                    "\"2025-01-02T00:00:00Z\",\"authors\":[{\"user\":\"alice\"}]},"
                "{\"id\":\"" OID_B "\",\"title\":\"first\",\"message\":\"first\\n\",\"date\":"
                                   "\"2025-01-01T00:00:00Z\",\"authors\":[]}]"});
    fakehub_expect(
        fh, &(fh_exchange){
                "GET", "/api/models/alice/x/commits/feat%2Fx?p=1", auth, NULL, NULL, 200, NULL,
                "[{\"id\":\"3333333333333333333333333333333333333333\",\"title\":\"initial "
                "commit\",\"message\":\"\",\"date\":\"2024-12-31T00:00:00Z\"}]"});
    commit_seen seen = {0};
    tap_is_int(hfs_hub_list_commits(hub, &model, "feat/x", on_commit, &seen), 0,
               "commits over two pages");
    tap_is_int(seen.n, 3, "three commits");
    tap_is_str(seen.ids[0], OID_A, "newest first");
    tap_is_str(seen.ids[2], "3333333333333333333333333333333333333333", "the second page follows");
    fh_check(fh, "commit listing with Link pagination");

    int calls = 0;
    fakehub_expect(fh, &(fh_exchange){"GET", "/api/models/alice/x/commits/main", auth, NULL, NULL,
                                      200, page1, "[{\"id\":\"" OID_A "\",\"title\":\"t\"}]"});
    tap_is_int(hfs_hub_list_commits(hub, &model, NULL, stop_at_first, &calls), 7,
               "the callback's non-zero value stops the walk and is returned");
    tap_is_int(calls, 1, "no further commit or page");
    fh_check(fh, "stopped walk");
    free(link);
}

static void test_branches(fakehub *fh, hfs_hub *hub)
{
    fakehub_expect(fh, &(fh_exchange){"POST", "/api/models/alice/x/branch/feat%2Fx", json_auth,
                                      NULL, "{\"startingPoint\":\"" OID_A "\"}", 200, NULL, "{}"});
    tap_is_int(hfs_hub_branch_create(hub, &model, "feat/x", OID_A), 0, "create a branch");
    fh_check(fh, "branch create: quoted name, startingPoint");

    fakehub_expect(fh, &(fh_exchange){"POST", "/api/models/alice/x/branch/dev", json_auth, NULL,
                                      "{}", 409, NULL, "{\"error\":\"Reference already exists\"}"});
    tap_is_int(hfs_hub_branch_create(hub, &model, "dev", NULL), HFS_EEXISTS,
               "existing branch: HFS_EEXISTS");
    error_has("cannot create branch dev of model alice/x", "the message names the branch");
    fh_check(fh, "branch exists");

    fakehub_expect(fh, &(fh_exchange){"DELETE", "/api/models/alice/x/branch/feat%2Fx", auth, NULL,
                                      "", 200, NULL, ""});
    tap_is_int(hfs_hub_branch_delete(hub, &model, "feat/x"), 0, "delete a branch");
    fh_check(fh, "branch delete");
}

int main(void)
{
    fakehub *fh = fakehub_start();
    hfs_hub *hub = test_hub(fakehub_url(fh), TEST_TOKEN, NULL, NULL);
    test_whoami(fh, hub);
    test_create(fh, hub);
    test_delete(fh, hub);
    test_info(fh, hub);
    test_refs(fh, hub);
    test_commits(fh, hub);
    test_branches(fh, hub);
    hfs_hub_free(hub);
    fakehub_stop(fh);
    return tap_done();
}
