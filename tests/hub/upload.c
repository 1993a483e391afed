/* Tests for src/hub/upload.c: preupload (exact body, batches of 256, checks on the answer),
 * the LFS batch (exact body, every kind of object in the answer), the LFS transfers
 * (ranged PUT, multipart completion, verify) and the commit streamed from a callback. */
#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include "hubtest.h"

static const char *const json_auth[] = {AUTH_HEADER, "Content-Type: application/json", NULL};
static const char *const lfs_auth[] = {AUTH_HEADER, "Accept: application/vnd.git-lfs+json",
                                       "Content-Type: application/vnd.git-lfs+json", NULL};
static const char *const no_auth[] = {"Authorization", NULL};
static const hfs_hub_repo model = {HFS_REPO_MODEL, "alice/x"};

#define OID(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define SHA(c) OID(c) c c c c c c c c c c c c c c c c c c c c c c c c

/* ---- preupload ---------------------------------------------------------------------- */

static void test_preupload_body(fakehub *fh, hfs_hub *hub)
{
    hfs_hub_preupload_file files[] = {{"a.txt", 5, "hello", 5}};
    hfs_hub_preupload_result res[1];
    fakehub_expect(fh, &(fh_exchange){"POST", "/api/models/alice/x/preupload/main?create_pr=1",
                                      json_auth, NULL,
                                      "{\"files\":[{\"path\":\"a.txt\",\"sample\":\"aGVsbG8=\","
                                      "\"size\":5}],\"gitIgnore\":\"*.log\\n\","
                                      "\"gitAttributes\":\"*.txt filter=lfs\\n\"}",
                                      200, NULL,
                                      "{\"files\":[{\"path\":\"a.txt\",\"uploadMode\":\"regular\","
                                      "\"shouldIgnore\":false,\"oid\":null}],"
                                      "\"commitOid\":\"" OID("4") "\"}"});
    tap_is_int(
        hfs_hub_preupload(res, hub, &model, NULL, files, 1, "*.log\n", "*.txt filter=lfs\n", true),
        0, "preupload one file");
    tap_ok(res[0].mode == HFS_HUB_UPLOAD_REGULAR && !res[0].should_ignore && !res[0].oid,
           "regular, not ignored, new");
    hfs_hub_preupload_result_clear(&res[0]);
    fh_check(fh, "preupload: exact JSON body, gitIgnore, gitAttributes, create_pr");

    /* The sample is capped at 512 bytes whatever the caller passes. */
    char big[600];
    memset(big, 'x', sizeof(big));
    hfs_hub_preupload_file one[] = {{"dir/big file.bin", 600, big, sizeof(big)}};
    fakehub_expect(
        fh,
        &(fh_exchange){"POST", "/api/models/alice/x/preupload/refs%2Fpr%2F3", json_auth, NULL, NULL,
                       200, NULL,
                       "{\"files\":[{\"path\":\"dir/big "
                       "file.bin\",\"uploadMode\":\"lfs\",\"shouldIgnore\":false,\"oid\":\"" SHA(
                           "9") "\"}]}"});
    tap_is_int(hfs_hub_preupload(res, hub, &model, "refs/pr/3", one, 1, NULL, NULL, false), 0,
               "preupload to a PR");
    tap_ok(res[0].mode == HFS_HUB_UPLOAD_LFS, "LFS");
    tap_is_str(res[0].oid, SHA("9"), "the remote oid of an existing file");
    const fh_request *rq = fakehub_request(fh, 0);
    json_t *sent = rq ? json_loads(rq->body, 0, NULL) : NULL;
    const char *sample = json_string_value(
        json_object_get(json_array_get(json_object_get(sent, "files"), 0), "sample"));
    tap_is_int(sample ? (long long)strlen(sample) : -1, 684,
               "sample is base64 of the first 512 bytes");
    tap_ok(json_object_get(sent, "gitIgnore") == NULL, "no gitIgnore key without one");
    json_decref(sent);
    hfs_hub_preupload_result_clear(&res[0]);
    fh_check(fh, "preupload: revision quoted, sample capped");
}

static void test_preupload_batches(fakehub *fh, hfs_hub *hub)
{
    enum { N = 600 };
    hfs_hub_preupload_file *files = hfs_calloc(N, sizeof(*files));
    hfs_hub_preupload_result *res = hfs_calloc(N, sizeof(*res));
    char **paths = hfs_calloc(N, sizeof(char *));
    for (int i = 0; i < N; i++) {
        paths[i] = hfs_sprintf("data/file-%03d.bin", i);
        files[i] = (hfs_hub_preupload_file){paths[i], i == 0 ? 0 : 100u + (unsigned)i, "abc",
                                            i == 0 ? 0 : 3};
    }
    const int sizes[] = {256, 256, 88};
    for (int b = 0, start = 0; b < 3; start += sizes[b], b++) {
        hfs_buf answer = HFS_BUF_INIT;
        hfs_buf_puts(&answer, "{\"files\":[");
        /* Answered in reverse order: the client must match by path. */
        for (int i = start + sizes[b] - 1; i >= start; i--) {
            hfs_buf_printf(&answer,
                           "{\"path\":\"%s\",\"uploadMode\":\"%s\",\"shouldIgnore\":%s,\"oid\":",
                           paths[i], i % 2 == 0 ? "lfs" : "regular", i % 5 == 0 ? "true" : "false");
            if (i % 3 == 0)
                hfs_buf_printf(&answer, "\"oid-%d\"", i);
            else
                hfs_buf_puts(&answer, "null");
            hfs_buf_puts(&answer, i > start ? "}," : "}");
        }
        hfs_buf_puts(&answer, "]}");
        fakehub_expect(fh, &(fh_exchange){"POST", "/api/models/alice/x/preupload/main", json_auth,
                                          NULL, NULL, 200, NULL, answer.ptr});
        hfs_buf_free(&answer);
    }
    tap_is_int(hfs_hub_preupload(res, hub, &model, "main", files, N, NULL, NULL, false), 0,
               "preupload 600 files");
    tap_is_int((long long)fakehub_count(fh), 3, "in three requests");
    for (int b = 0; b < 3 && fakehub_request(fh, (size_t)b); b++) {
        json_t *sent = json_loads(fakehub_request(fh, (size_t)b)->body, 0, NULL);
        json_t *list = json_object_get(sent, "files");
        char name[64];
        snprintf(name, sizeof(name), "request %d carries %d files", b + 1, sizes[b]);
        tap_is_int((long long)json_array_size(list), sizes[b], name);
        json_decref(sent);
    }
    int wrong = 0;
    for (int i = 0; i < N; i++) {
        bool lfs = i % 2 == 0 && i != 0; /* the empty file is always regular */
        char want_oid[16];
        snprintf(want_oid, sizeof(want_oid), "oid-%d", i);
        if ((res[i].mode == HFS_HUB_UPLOAD_LFS) != lfs || res[i].should_ignore != (i % 5 == 0) ||
            (i % 3 == 0 ? !res[i].oid || strcmp(res[i].oid, want_oid) : res[i].oid != NULL)) {
            if (wrong++ < 3)
                tap_diag("result %d is wrong", i);
        }
    }
    tap_is_int(wrong, 0, "every result matches its own file (mode, shouldIgnore, oid)");
    tap_ok(res[0].mode == HFS_HUB_UPLOAD_REGULAR,
           "an empty file is regular even when the hub says lfs");
    fh_check(fh, "preupload: 256 + 256 + 88");
    for (int i = 0; i < N; i++) {
        hfs_hub_preupload_result_clear(&res[i]);
        free(paths[i]);
    }
    free(paths);
    free(res);
    free(files);
}

static void test_preupload_checks(fakehub *fh, hfs_hub *hub)
{
    hfs_hub_preupload_file files[] = {{"a.txt", 1, "a", 1}, {"b.txt", 1, "b", 1}};
    hfs_hub_preupload_result res[2];
    const struct {
        const char *answer, *want;
    } cases[] = {
        {"{\"files\":[{\"path\":\"a.txt\",\"uploadMode\":\"xet\",\"shouldIgnore\":false},"
         "{\"path\":\"b.txt\",\"uploadMode\":\"regular\",\"shouldIgnore\":false}]}",
         "a.txt: uploadMode is \"xet\", expected \"lfs\" or \"regular\""},
        {"{\"files\":[{\"path\":\"a.txt\",\"shouldIgnore\":false}]}",
         "a.txt: uploadMode is missing"},
        {"{\"files\":[{\"path\":\"a.txt\",\"uploadMode\":\"lfs\"},{\"path\":\"b.txt\","
         "\"uploadMode\":\"lfs\",\"shouldIgnore\":false}]}",
         "a.txt: shouldIgnore is missing"},
        {"{\"files\":[{\"path\":\"a.txt\",\"uploadMode\":\"lfs\",\"shouldIgnore\":false}]}",
         "no answer for b.txt"},
        {"{\"files\":[{\"path\":\"c.txt\",\"uploadMode\":\"lfs\",\"shouldIgnore\":false}]}",
         "it answers for c.txt, which was not asked about"},
        {"{\"commitOid\":\"x\"}", "no \"files\" array"},
        {"<html>oops</html>", "not JSON"},
    };
    for (size_t i = 0; i < HFS_ARRAY_LEN(cases); i++) {
        fakehub_expect(fh, &(fh_exchange){"POST", "/api/models/alice/x/preupload/main", json_auth,
                                          NULL, NULL, 200, NULL, cases[i].answer});
        char name[160];
        snprintf(name, sizeof(name), "bad preupload answer %zu is refused", i + 1);
        tap_is_int(hfs_hub_preupload(res, hub, &model, NULL, files, 2, NULL, NULL, false),
                   HFS_ERROR, name);
        error_has(cases[i].want, cases[i].want);
        tap_ok(res[0].oid == NULL && res[1].oid == NULL, "results are cleared after a failure");
    }
    fh_check(fh, "preupload answer checks");
}

/* ---- LFS batch ---------------------------------------------------------------------- */

static void test_lfs_batch(fakehub *fh, hfs_hub *hub)
{
    hfs_hub_lfs_object objs[] = {
        {SHA("a"), 10}, {SHA("b"), 20000000}, {SHA("c"), 5}, {SHA("d"), 7}};
    hfs_hub_lfs_action act[4];
    char *verify = hfs_sprintf("%s/alice/x.git/info/lfs/objects/verify", fakehub_url(fh));
    fakehub_expect(
        fh,
        &(fh_exchange){
            "POST", "/alice/x.git/info/lfs/objects/batch", lfs_auth, NULL,
            "{\"operation\":\"upload\",\"transfers\":[\"basic\",\"multipart\"],\"objects\":["
            "{\"oid\":\"" SHA("a") "\",\"size\":10},{\"oid\":\"" SHA(
                "b") "\",\"size\":20000000},"
                     "{\"oid\":\"" SHA("c") "\",\"size\":5},{\"oid\":\"" SHA(
                         "d") "\",\"size\":7}],"
                              "\"hash_algo\":\"sha256\",\"ref\":{\"name\":\"refs/pr/3\"}}",
            200, (const char *const[]){"Content-Type: application/vnd.git-lfs+json", NULL},
            "{\"transfer\":\"basic\",\"objects\":["
            "{\"oid\":\"" SHA(
                "d") "\",\"size\":7,\"error\":{\"code\":422,\"message\":\"Object too large\"}},"
                     "{\"oid\":\"" SHA(
                         "c") "\",\"size\":5},"
                              "{\"oid\":\"" SHA(
                                  "b") "\",\"size\":20000000,\"authenticated\":true,\"actions\":{"
                                       "\"upload\":{\"href\":\"https://huggingface.co/api/"
                                       "complete_multipart?uploadId=u1\",\"header\":"
                                       "{\"chunk_size\":\"8000000\",\"00003\":\"http://s3.local/"
                                       "p3\",\"00001\":\"http://s3.local/p1\",\"00002\":\"http://"
                                       "s3.local/p2\"}},"
                                       "\"verify\":{\"href\":\"https://huggingface.co/alice/x.git/"
                                       "info/lfs/objects/"
                                       "verify\",\"header\":{\"X-Token\":\"t\"}}}},"
                                       "{\"oid\":\"" SHA(
                                           "a") "\",\"size\":10,\"actions\":{\"upload\":{\"href\":"
                                                "\"http://s3.local/"
                                                "put-a?sig=1\",\"header\":{},\"expires_in\":3600}}}"
                                                "]}"});
    tap_is_int(hfs_hub_lfs_batch(act, hub, &model, "refs/pr/3", objs, 4), 0,
               "LFS batch of 4 objects");
    tap_ok(act[0].kind == HFS_HUB_LFS_BASIC, "basic upload");
    tap_is_str(act[0].upload_href, "http://s3.local/put-a?sig=1", "basic href");
    tap_ok(act[0].verify_href == NULL, "no verify asked for it");
    tap_ok(act[1].kind == HFS_HUB_LFS_MULTIPART, "multipart upload");
    tap_is_int((long long)act[1].chunk_size, 8000000, "chunk size");
    tap_is_int((long long)act[1].n_parts, 3, "3 parts");
    if (act[1].n_parts == 3) {
        tap_is_str(act[1].part_urls[0], "http://s3.local/p1", "part 1 first");
        tap_is_str(act[1].part_urls[2], "http://s3.local/p3", "part 3 last");
    }
    char *complete = hfs_sprintf("%s/api/complete_multipart?uploadId=u1", fakehub_url(fh));
    tap_is_str(act[1].upload_href, complete, "the completion URL is moved to the endpoint");
    tap_is_str(act[1].verify_href, verify, "the verify URL is moved to the endpoint");
    tap_ok(act[1].n_verify_headers == 1 && !strcmp(act[1].verify_headers[0].name, "X-Token") &&
               !strcmp(act[1].verify_headers[0].value, "t"),
           "verify headers kept");
    tap_is_int((long long)act[1].n_upload_headers, 4, "the whole header map is kept too");
    tap_ok(act[2].kind == HFS_HUB_LFS_PRESENT, "no actions: already on the hub");
    tap_ok(act[3].kind == HFS_HUB_LFS_ERROR && act[3].error_code == 422,
           "per-object error and code");
    tap_is_str(act[3].error_message, "Object too large", "per-object error message");
    fh_check(fh, "LFS batch: exact body with ref, answer parsed");

    /* Keep the verify action for the transfer tests below. */
    hfs_hub_lfs_action keep = act[1];
    memset(&act[1], 0, sizeof(act[1]));
    for (int i = 0; i < 4; i++)
        hfs_hub_lfs_action_clear(&act[i]);

    hfs_hub_repo ds = {HFS_REPO_DATASET, "alice/d"};
    fakehub_expect(
        fh, &(fh_exchange){
                "POST", "/datasets/alice/d.git/info/lfs/objects/batch", lfs_auth, NULL,
                "{\"operation\":\"upload\",\"transfers\":[\"basic\",\"multipart\"],\"objects\":["
                "{\"oid\":\"" SHA("a") "\",\"size\":10}],\"hash_algo\":\"sha256\"}",
                200, NULL, "{\"objects\":[{\"oid\":\"" SHA("a") "\",\"size\":10}]}"});
    tap_is_int(hfs_hub_lfs_batch(act, hub, &ds, NULL, objs, 1), 0, "LFS batch for a PR (no ref)");
    hfs_hub_lfs_action_clear(&act[0]);
    fh_check(fh, "LFS batch: dataset prefix, ref left out with create_pr");

    fakehub_expect(
        fh, &(fh_exchange){
                "POST", "/alice/x.git/info/lfs/objects/batch", lfs_auth, NULL, NULL, 200, NULL,
                "{\"objects\":[{\"oid\":\"" SHA(
                    "b") "\",\"size\":20000000,\"actions\":{\"upload\":{\"href\":\"http://h/c\","
                         "\"header\":{\"chunk_size\":\"8000000\",\"1\":\"http://s3/"
                         "1\",\"2\":\"http://s3/2\"}}}}]}"});
    tap_is_int(hfs_hub_lfs_batch(act, hub, &model, "main", objs + 1, 1), HFS_ERROR,
               "multipart with too few part URLs is refused");
    error_has("needs 3 part URLs, got 2", "the message counts the parts");
    fh_check(fh, "LFS batch: part count checked");

    fakehub_expect(fh,
                   &(fh_exchange){"POST", "/alice/x.git/info/lfs/objects/batch", lfs_auth, NULL,
                                  NULL, 200, NULL, "{\"objects\":[{\"oid\":\"" SHA("a") "\"}]}"});
    tap_is_int(hfs_hub_lfs_batch(act, hub, &model, "main", objs, 1), HFS_ERROR,
               "an object without size is refused");
    fh_check(fh, "LFS batch: size required");

    /* 300 objects: 256 + 44. */
    enum { N = 300 };
    hfs_hub_lfs_object *many = hfs_calloc(N, sizeof(*many));
    hfs_hub_lfs_action *acts = hfs_calloc(N, sizeof(*acts));
    char(*oids)[65] = hfs_calloc(N, 65);
    for (int b = 0; b < 2; b++) {
        hfs_buf answer = HFS_BUF_INIT;
        hfs_buf_puts(&answer, "{\"objects\":[");
        for (int i = b * 256; i < (b ? N : 256); i++) {
            snprintf(oids[i], 65, "%064x", i);
            many[i] = (hfs_hub_lfs_object){oids[i], 1};
            hfs_buf_printf(&answer, "%s{\"oid\":\"%s\",\"size\":1}", i % 256 ? "," : "", oids[i]);
        }
        hfs_buf_puts(&answer, "]}");
        fakehub_expect(fh, &(fh_exchange){"POST", "/alice/x.git/info/lfs/objects/batch", lfs_auth,
                                          NULL, NULL, 200, NULL, answer.ptr});
        hfs_buf_free(&answer);
    }
    tap_is_int(hfs_hub_lfs_batch(acts, hub, &model, "main", many, N), 0,
               "LFS batch of 300 objects");
    tap_is_int((long long)fakehub_count(fh), 2, "two requests");
    if (fakehub_count(fh) == 2) {
        json_t *second = json_loads(fakehub_request(fh, 1)->body, 0, NULL);
        tap_is_int((long long)json_array_size(json_object_get(second, "objects")), 44,
                   "256 then 44");
        json_decref(second);
    }
    tap_ok(acts[299].kind == HFS_HUB_LFS_PRESENT, "the last object has its answer");
    fh_check(fh, "LFS batch: batches of 256");
    for (int i = 0; i < N; i++)
        hfs_hub_lfs_action_clear(&acts[i]);
    free(acts);
    free(many);
    free(oids);

    /* ---- transfers ---- */
    char path[] = "/tmp/hfsync-test-lfs-XXXXXX";
    int fd = mkstemp(path);
    if (write(fd, "0123456789abcdef", 16) != 16)
        tap_diag("short write to %s", path);
    const char *const put_req[] = {"Content-Length: 5", "X-Amz-Meta: v", NULL};
    const char *const etag[] = {"ETag: \"etag-1\"", NULL};
    fakehub_expect(
        fh, &(fh_exchange){"PUT", "/upload/obj?part=1", put_req, no_auth, "34567", 500, NULL, ""});
    fakehub_expect(
        fh, &(fh_exchange){"PUT", "/upload/obj?part=1", put_req, no_auth, "34567", 200, etag, ""});
    char *put_url = hfs_sprintf("%s/upload/obj?part=1", fakehub_url(fh));
    hfs_hub_header extra = {"X-Amz-Meta", "v"};
    char *got_etag = NULL;
    tap_is_int(hfs_hub_lfs_put(&got_etag, hub, put_url, &extra, 1, fd, 3, 5, true, NULL, NULL), 0,
               "PUT bytes 3-8 of a file, retried after a 500");
    tap_is_str(got_etag, "\"etag-1\"", "the ETag is returned verbatim");
    free(got_etag);
    fh_check(fh, "LFS PUT: the range resent whole, no token even on the endpoint");

    fakehub_expect(fh,
                   &(fh_exchange){"PUT", "/upload/obj?part=1", NULL, no_auth, NULL, 200, NULL, ""});
    tap_is_int(hfs_hub_lfs_put(&got_etag, hub, put_url, NULL, 0, fd, 0, 16, true, NULL, NULL),
               HFS_ERROR, "a part without ETag is an error");
    error_has("no ETag", "the message says so");
    fh_check(fh, "LFS PUT: ETag required");

    fakehub_expect(fh,
                   &(fh_exchange){"PUT", "/upload/obj?part=1", NULL, no_auth, NULL, 200, NULL, ""});
    tap_is_int(hfs_hub_lfs_put(&got_etag, hub, put_url, NULL, 0, fd, 10, 20, false, NULL, NULL),
               HFS_ESTALE, "a file shorter than planned fails");
    error_has("changed since it was hashed", "the message says the file changed");
    fh_forget(fh); /* the server may or may not have seen the start of the PUT */
    close(fd);
    unlink(path);
    free(put_url);

    const char *const complete_req[] = {"Accept: application/vnd.git-lfs+json",
                                        "Content-Type: application/vnd.git-lfs+json", NULL};
    fakehub_expect(
        fh, &(fh_exchange){
                "POST", "/api/complete_multipart?uploadId=u1", complete_req, no_auth,
                "{\"oid\":\"" SHA("b") "\",\"parts\":[{\"partNumber\":1,\"etag\":\"\\\"e1\\\"\"},"
                                       "{\"partNumber\":2,\"etag\":\"\\\"e2\\\"\"},{\"partNumber\":"
                                       "3,\"etag\":\"\\\"e3\\\"\"}]}",
                200, NULL, "{\"success\":true}"});
    const char *etags[] = {"\"e1\"", "\"e2\"", "\"e3\""};
    tap_is_int(hfs_hub_lfs_complete(hub, keep.upload_href, SHA("b"), etags, 3), 0,
               "multipart completion");
    fh_check(fh, "LFS completion: exact body, no token");

    const char *const verify_req[] = {AUTH_HEADER, "Content-Type: application/json", "X-Token: t",
                                      NULL};
    fakehub_expect(fh, &(fh_exchange){"POST", "/alice/x.git/info/lfs/objects/verify", verify_req,
                                      NULL, "{\"oid\":\"" SHA("b") "\",\"size\":20000000}", 200,
                                      NULL, "{\"success\":true}"});
    tap_is_int(hfs_hub_lfs_verify(hub, &keep), 0, "verify");
    fh_check(fh, "LFS verify: oid and size, its headers, the token (same origin)");
    hfs_hub_lfs_action_clear(&keep);
    free(complete);
    free(verify);
}

/* ---- commit ------------------------------------------------------------------------- */

/* Hands out the NDJSON a few bytes at a time, as the executor streams base64 content. */
typedef struct {
    const char *text;
    size_t pos, chunk;
    int rewinds;
    bool fail;
    size_t total; /* bytes handed out, over every attempt */
} drip;

static ssize_t drip_read(void *ctx, char *buf, size_t len)
{
    drip *d = ctx;
    if (d->fail) {
        hfs_error_set(HFS_ERROR, "cannot read data/big.bin: Input/output error");
        return -1;
    }
    size_t left = strlen(d->text) - d->pos, n = left < d->chunk ? left : d->chunk;
    if (n > len)
        n = len;
    memcpy(buf, d->text + d->pos, n);
    d->pos += n;
    d->total += n;
    return (ssize_t)n;
}

static int drip_rewind(void *ctx)
{
    drip *d = ctx;
    d->pos = 0;
    d->rewinds++;
    return 0;
}

#define NDJSON                                                                                     \
    "{\"key\":\"header\",\"value\":{\"summary\":\"Sync checkpoints\",\"description\":\"\"}}\n"     \
    "{\"key\":\"file\",\"value\":{\"content\":\"aGVsbG8K\",\"path\":\"small.txt\",\"encoding\":"   \
    "\"base64\"}}\n"                                                                               \
    "{\"key\":\"lfsFile\",\"value\":{\"path\":\"big.bin\",\"algo\":\"sha256\",\"oid\":\"" SHA(     \
        "c") "\",\"size\":12}}\n"                                                                  \
             "{\"key\":\"deletedFile\",\"value\":{\"path\":\"old.txt\"}}\n"

static void test_commit(fakehub *fh, hfs_hub *hub)
{
    const char *const chunked[] = {AUTH_HEADER, "Content-Type: application/x-ndjson",
                                   "Transfer-Encoding: chunked", NULL};
    drip d = {NDJSON, 0, 7, 0, false, 0};
    hfs_hub_body body = {drip_read, drip_rewind, &d, -1};
    hfs_hub_commit_result res;
    fakehub_expect(fh, &(fh_exchange){"POST", "/api/models/alice/x/commit/main", chunked, NULL,
                                      NDJSON, 200, NULL,
                                      "{\"success\":true,\"commitOid\":\"" OID(
                                          "5") "\",\"commitUrl\":\"https://huggingface.co/alice/x/"
                                               "commit/" OID("5") "\",\"hookOutput\":\"\","
                                                                  "\"pullRequestUrl\":null}"});
    tap_is_int(hfs_hub_commit(&res, hub, &model, "main", &body, false), 0,
               "commit streamed in 7-byte pieces");
    tap_is_str(res.commit_oid, OID("5"), "commitOid");
    char *want = hfs_sprintf("%s/alice/x/commit/%s", fakehub_url(fh), OID("5"));
    tap_is_str(res.commit_url, want, "commitUrl, moved to the endpoint");
    tap_ok(res.pull_request_url == NULL && res.pr_num == 0, "no PR");
    free(want);
    hfs_hub_commit_result_clear(&res);
    fh_check(fh, "commit: NDJSON body as streamed, chunked, x-ndjson");

    char length[64];
    snprintf(length, sizeof(length), "Content-Length: %zu", strlen(NDJSON));
    const char *const sized[] = {AUTH_HEADER, "Content-Type: application/x-ndjson", length, NULL};
    d = (drip){NDJSON, 0, 100, 0, false, 0};
    body.length = (int64_t)strlen(NDJSON);
    fakehub_expect(
        fh, &(fh_exchange){"POST", "/api/datasets/alice/d/commit/dev%2Fx?create_pr=1", sized, NULL,
                           NDJSON, 200, NULL,
                           "{\"commitOid\":\"" OID(
                               "6") "\",\"commitUrl\":\"http://h/datasets/alice/d/commit/x\","
                                    "\"pullRequestUrl\":\"https://huggingface.co/datasets/alice/d/"
                                    "discussions/3\"}"});
    hfs_hub_repo ds = {HFS_REPO_DATASET, "alice/d"};
    tap_is_int(hfs_hub_commit(&res, hub, &ds, "dev/x", &body, true), 0, "commit opening a PR");
    tap_is_int(res.pr_num, 3, "the PR number from pullRequestUrl");
    want = hfs_sprintf("%s/datasets/alice/d/discussions/3", fakehub_url(fh));
    tap_is_str(res.pull_request_url, want, "pullRequestUrl, moved to the endpoint");
    free(want);
    hfs_hub_commit_result_clear(&res);
    fh_check(fh, "commit: known length, create_pr, quoted branch");

    d = (drip){NDJSON, 0, 100, 0, false, 0};
    fakehub_expect(fh, &(fh_exchange){"POST", "/api/models/alice/x/commit/main", NULL, NULL, NULL,
                                      503, NULL, "busy"});
    tap_is_int(hfs_hub_commit(&res, hub, &model, NULL, &body, false), HFS_ENET,
               "a commit that gets 503 fails");
    tap_is_int((long long)d.total, (long long)strlen(NDJSON),
               "the body is read once, not sent again");
    tap_ok(res.commit_url == NULL, "no result");
    fh_check(fh, "commit: sent once, never retried");

    d = (drip){NDJSON, 0, 100, 0, false, 0};
    fakehub_expect(
        fh, &(fh_exchange){"POST", "/api/models/alice/x/commit/main", NULL, NULL, NULL, 412, NULL,
                           "{\"error\":\"The branch was updated since you opened this page\"}"});
    tap_is_int(hfs_hub_commit(&res, hub, &model, NULL, &body, false), HFS_ESTALE,
               "a stale parentCommit: HFS_ESTALE");
    error_has("cannot commit to model alice/x at main: the branch moved", "what and why");
    fh_check(fh, "commit: 412");

    d = (drip){NDJSON, 0, 100, 0, false, 0};
    fakehub_expect(fh, &(fh_exchange){"POST", "/api/models/alice/x/commit/main", NULL, NULL, NULL,
                                      200, NULL, "{\"success\":true,\"commitUrl\":\"x\"}"});
    tap_is_int(hfs_hub_commit(&res, hub, &model, NULL, &body, false), HFS_ERROR,
               "an answer without commitOid");
    error_has("commitOid is missing", "is a protocol error");
    fh_check(fh, "commit: commitOid required");

    d = (drip){NDJSON, 0, 100, 0, false, 0};
    fakehub_expect(
        fh, &(fh_exchange){
                "POST", "/api/models/alice/x/commit/main?create_pr=1", NULL, NULL, NULL, 200, NULL,
                "{\"commitOid\":\"" OID("6") "\",\"commitUrl\":\"x\",\"pullRequestUrl\":null}"});
    tap_is_int(hfs_hub_commit(&res, hub, &model, NULL, &body, true), HFS_ERROR,
               "create_pr without pullRequestUrl");
    fh_check(fh, "commit: pullRequestUrl required with create_pr");

    d = (drip){NDJSON, 0, 100, 0, true, 0};
    tap_is_int(hfs_hub_commit(&res, hub, &model, NULL, &body, false), HFS_ERROR,
               "a body that fails to read fails the commit");
    error_has("cannot read data/big.bin", "with the body's own message");
    fh_forget(fh);
}

int main(void)
{
    fakehub *fh = fakehub_start();
    hfs_hub *hub = test_hub(fakehub_url(fh), TEST_TOKEN, NULL, NULL);
    test_preupload_body(fh, hub);
    test_preupload_batches(fh, hub);
    test_preupload_checks(fh, hub);
    test_lfs_batch(fh, hub);
    test_commit(fh, hub);
    hfs_hub_free(hub);
    fakehub_stop(fh);
    return tap_done();
}
