/* Tests for src/hub/request.c, the engine under every endpoint: the token only to the
 * endpoint's origin (redirects included), retries and their waits, every error shape the
 * hub sends mapped to a code and a message, verbose logs without the token, threads. */
#include <pthread.h>

#include "hub/request.h"
#include "hubtest.h"

static const char *const with_auth[] = {AUTH_HEADER, "User-Agent: hfsync/" HFS_VERSION, NULL};
static const char *const no_auth[] = {"Authorization", NULL};

/* A GET through the engine with the token allowed (it still goes only to the endpoint). */
static int get(hfs_hub *hub, const char *url, bool retry, hub_response *r)
{
    hub_request req = {.what = "test the engine",
                       .method = "GET",
                       .url = url,
                       .auth = true,
                       .retry = retry,
                       .redirects = HUB_REDIRECT_FOLLOW};
    return hub_send(r, hub, &req);
}

static void test_auth_and_redirects(fakehub *a, fakehub *b)
{
    hfs_hub *hub = test_hub(fakehub_url(a), TEST_TOKEN, NULL, NULL);
    hub_response r;
    char *url;

    fakehub_expect(a, &(fh_exchange){"GET", "/api/whoami-v2", with_auth, NULL, NULL, 200, NULL,
                                     "{\"name\":\"alice\"}"});
    url = hfs_sprintf("%s/api/whoami-v2", fakehub_url(a));
    tap_is_int(get(hub, url, true, &r), 0, "GET to the endpoint succeeds");
    tap_is_str(hfs_buf_cstr(&r.body), "{\"name\":\"alice\"}", "the body is returned");
    tap_is_int(hfs_hub_last_status(), 200, "the status is kept for the caller");
    hub_response_clear(&r);
    free(url);
    fh_check(a, "the token goes to the endpoint");

    /* A redirect to another origin (another port on the same host): no token there. */
    char *location = hfs_sprintf("Location: %s/cdn/blob?sig=1", fakehub_url(b));
    const char *const redirect_headers[] = {location, NULL};
    fakehub_expect(a, &(fh_exchange){"GET", "/alice/x/resolve/main/big.bin", with_auth, NULL, NULL,
                                     302, redirect_headers, ""});
    fakehub_expect(
        b, &(fh_exchange){"GET", "/cdn/blob?sig=1", NULL, no_auth, NULL, 200, NULL, "content"});
    url = hfs_sprintf("%s/alice/x/resolve/main/big.bin", fakehub_url(a));
    tap_is_int(get(hub, url, true, &r), 0, "a redirect to another host is followed");
    tap_is_str(hfs_buf_cstr(&r.body), "content", "the body comes from the other host");
    tap_ok(r.url && hfs_str_starts_with(r.url, fakehub_url(b)),
           "the final URL is the other host's");
    hub_response_clear(&r);
    free(url);
    free(location);
    fh_check(a, "redirect: first hop with the token");
    fh_check(b, "redirect: the other host never sees Authorization");

    /* A relative redirect stays on the endpoint: the token goes along. */
    const char *const moved[] = {"Location: /api/models/alice/renamed", NULL};
    fakehub_expect(
        a, &(fh_exchange){"GET", "/api/models/alice/old", with_auth, NULL, NULL, 307, moved, ""});
    fakehub_expect(a, &(fh_exchange){"GET", "/api/models/alice/renamed", with_auth, NULL, NULL, 200,
                                     NULL, "{}"});
    url = hfs_sprintf("%s/api/models/alice/old", fakehub_url(a));
    tap_is_int(get(hub, url, true, &r), 0, "a same-origin redirect is followed");
    hub_response_clear(&r);
    free(url);
    fh_check(a, "same-origin redirect keeps the token");

    /* A URL on another host given by the hub (a verify href, a next page): no token. */
    fakehub_expect(b, &(fh_exchange){"GET", "/elsewhere", NULL, no_auth, NULL, 200, NULL, "ok"});
    url = hfs_sprintf("%s/elsewhere", fakehub_url(b));
    tap_is_int(get(hub, url, true, &r), 0, "a direct call to another host works");
    hub_response_clear(&r);
    free(url);
    fh_check(b, "no token to another host even when the call allows one");

    /* 307 repeats the POST with its body; 303 turns it into a GET without one. */
    hub_mem_body mem;
    hfs_hub_body body = hub_body_from_mem(&mem, "{\"a\":1}", 7);
    char *loc307 = hfs_sprintf("Location: %s/post-here", fakehub_url(b));
    const char *const r307[] = {loc307, NULL};
    fakehub_expect(a,
                   &(fh_exchange){"POST", "/api/x", with_auth, NULL, "{\"a\":1}", 307, r307, ""});
    fakehub_expect(
        b, &(fh_exchange){"POST", "/post-here", NULL, no_auth, "{\"a\":1}", 200, NULL, "{}"});
    url = hfs_sprintf("%s/api/x", fakehub_url(a));
    hub_request post = {.what = "test a POST",
                        .method = "POST",
                        .url = url,
                        .body = &body,
                        .auth = true,
                        .retry = true,
                        .redirects = HUB_REDIRECT_FOLLOW};
    tap_is_int(hub_send(&r, hub, &post), 0, "POST through a 307");
    hub_response_clear(&r);
    fh_check(a, "307: first hop");
    fh_check(b, "307: same method and body at the new place, no token");

    const char *const r303[] = {"Location: /api/result", NULL};
    fakehub_expect(a,
                   &(fh_exchange){"POST", "/api/x", with_auth, NULL, "{\"a\":1}", 303, r303, ""});
    fakehub_expect(a, &(fh_exchange){"GET", "/api/result", with_auth, NULL, "", 200, NULL, "{}"});
    tap_is_int(hub_send(&r, hub, &post), 0, "POST through a 303");
    hub_response_clear(&r);
    fh_check(a, "303: the POST becomes a GET without body");
    free(loc307);
    free(url);

    /* A redirect loop ends with an error instead of spinning. */
    const char *const loop[] = {"Location: /loop", NULL};
    for (int i = 0; i < 10; i++)
        fakehub_expect(a, &(fh_exchange){"GET", "/loop", NULL, NULL, NULL, 302, loop, ""});
    url = hfs_sprintf("%s/loop", fakehub_url(a));
    tap_is_int(get(hub, url, false, &r), HFS_ENET, "a redirect loop fails");
    error_has("redirects too many times", "the message says why");
    hub_response_clear(&r);
    free(url);
    fh_check(a, "redirect loop: 10 hops then stop");
    hfs_hub_free(hub);
}

static void expect_sleeps(const sleep_log *s, const long *want, int n, const char *name)
{
    bool same = s->n == n;
    for (int i = 0; same && i < n; i++)
        same = s->ms[i] == want[i];
    if (!tap_ok(same, "%s", name)) {
        hfs_buf got = HFS_BUF_INIT;
        for (int i = 0; i < s->n; i++)
            hfs_buf_printf(&got, "%ld ", s->ms[i]);
        tap_diag("  waits: %s", hfs_buf_cstr(&got));
        hfs_buf_free(&got);
    }
}

static void test_retries(fakehub *a)
{
    sleep_log sleeps = {0};
    hfs_buf log = HFS_BUF_INIT;
    hfs_hub *hub = test_hub(fakehub_url(a), TEST_TOKEN, &sleeps, &log);
    char *url = hfs_sprintf("%s/api/models/alice/x", fakehub_url(a));
    hub_response r;

    fakehub_expect(
        a, &(fh_exchange){"GET", "/api/models/alice/x", with_auth, NULL, NULL, 503, NULL, "busy"});
    fakehub_expect(
        a, &(fh_exchange){"GET", "/api/models/alice/x", with_auth, NULL, NULL, 200, NULL, "{}"});
    tap_is_int(get(hub, url, true, &r), 0, "503 then 200: success");
    expect_sleeps(&sleeps, (long[]){1000}, 1, "503: one wait of 1 s");
    tap_ok(strstr(hfs_buf_cstr(&log), "HTTP 503; retrying in 1.0 s (attempt 2 of 6)") != NULL,
           "the retry is logged");
    hub_response_clear(&r);
    fh_check(a, "503 then 200");

    sleeps.n = 0;
    const char *const retry_after[] = {"Retry-After: 3", NULL};
    fakehub_expect(
        a, &(fh_exchange){"GET", "/api/models/alice/x", NULL, NULL, NULL, 429, retry_after, ""});
    fakehub_expect(a,
                   &(fh_exchange){"GET", "/api/models/alice/x", NULL, NULL, NULL, 200, NULL, "{}"});
    tap_is_int(get(hub, url, true, &r), 0, "429 with Retry-After then 200");
    expect_sleeps(&sleeps, (long[]){4000}, 1, "Retry-After: 3 waits 3+1 s");
    hub_response_clear(&r);
    fh_check(a, "429 Retry-After");

    sleeps.n = 0;
    const char *const ratelimit[] = {"RateLimit: \"api\";r=0;t=55",
                                     "RateLimit-Policy: \"fixed window\";\"api\";q=1000;w=300",
                                     NULL};
    const char *const date[] = {"Retry-After: Wed, 21 Oct 2015 07:28:00 GMT", NULL};
    fakehub_expect(
        a, &(fh_exchange){"GET", "/api/models/alice/x", NULL, NULL, NULL, 429, ratelimit, ""});
    fakehub_expect(a,
                   &(fh_exchange){"GET", "/api/models/alice/x", NULL, NULL, NULL, 503, date, ""});
    fakehub_expect(a,
                   &(fh_exchange){"GET", "/api/models/alice/x", NULL, NULL, NULL, 200, NULL, "{}"});
    tap_is_int(get(hub, url, true, &r), 0, "429 with RateLimit, 503 with an HTTP-date, then 200");
    expect_sleeps(&sleeps, (long[]){56000, 2000}, 2,
                  "RateLimit r=0;t=55 waits 56 s; an HTTP-date Retry-After falls back to backoff");
    hub_response_clear(&r);
    fh_check(a, "RateLimit header");

    sleeps.n = 0;
    for (int i = 0; i < 6; i++)
        fakehub_expect(a, &(fh_exchange){"GET", "/api/models/alice/x", NULL, NULL, NULL, 502, NULL,
                                         "<html><body>Bad gateway</body></html>"});
    tap_is_int(get(hub, url, true, &r), HFS_ENET, "6 times 502: HFS_ENET");
    expect_sleeps(&sleeps, (long[]){1000, 2000, 4000, 8000, 8000}, 5,
                  "backoff 1, 2, 4, 8, 8 s between the 6 attempts");
    error_has("HTTP 502 Bad Gateway from GET", "the message has status and method");
    error_has("; 6 attempts)", "the message counts the attempts");
    tap_ok(!strstr(hfs_error_last(), "<html>"), "an HTML error page stays out of the message");
    tap_is_int(hfs_hub_last_status(), 502, "last status is the final 502");
    hub_response_clear(&r);
    fh_check(a, "six 502s");

    sleeps.n = 0;
    fakehub_expect(a,
                   &(fh_exchange){"GET", "/api/models/alice/x", NULL, NULL, NULL, 0, NULL, NULL});
    fakehub_expect(a,
                   &(fh_exchange){"GET", "/api/models/alice/x", NULL, NULL, NULL, 200, NULL, "{}"});
    tap_is_int(get(hub, url, true, &r), 0, "a dropped connection is retried");
    expect_sleeps(&sleeps, (long[]){1000}, 1, "one wait after the network error");
    hub_response_clear(&r);
    fh_check(a, "dropped connection");

    sleeps.n = 0;
    fakehub_expect(
        a, &(fh_exchange){"GET", "/api/models/alice/x", NULL, NULL, NULL, 503, NULL, "busy"});
    tap_is_int(get(hub, url, false, &r), HFS_ENET, "a call that may not be retried fails at once");
    tap_is_int(sleeps.n, 0, "no wait");
    hub_response_clear(&r);
    fh_check(a, "no retry when the call forbids it");

    /* A body that cannot be rewound makes the request single-shot. */
    hub_mem_body mem;
    hfs_hub_body once = hub_body_from_mem(&mem, "x", 1);
    once.rewind = NULL;
    fakehub_expect(a,
                   &(fh_exchange){"POST", "/api/models/alice/x", NULL, NULL, "x", 503, NULL, ""});
    hub_request post = {.what = "test a body read once",
                        .method = "POST",
                        .url = url,
                        .body = &once,
                        .auth = true,
                        .retry = true,
                        .redirects = HUB_REDIRECT_FOLLOW};
    tap_is_int(hub_send(&r, hub, &post), HFS_ENET, "a body without rewind is not resent");
    hub_response_clear(&r);
    fh_check(a, "unrewindable body sent once");

    /* A body shorter than announced fails at once instead of stalling the server. */
    hfs_hub_body short_body = hub_body_from_mem(&mem, "abc", 3);
    short_body.length = 10;
    post.body = &short_body;
    tap_is_int(hub_send(&r, hub, &post), HFS_ERROR, "a body shorter than its length fails");
    error_has("the request body ended after 3 of the 10 bytes", "the message says so");
    hub_response_clear(&r);
    fh_forget(a);

    /* Nobody listening: connection refused, retried, then a network error. */
    sleeps.n = 0;
    fakehub *gone = fakehub_start();
    char *dead = hfs_sprintf("%s/api/whoami-v2", fakehub_url(gone));
    fakehub_stop(gone);
    tap_is_int(get(hub, dead, true, &r), HFS_ENET, "connection refused: HFS_ENET");
    tap_is_int(sleeps.n, 5, "after 6 attempts");
    error_has("network error", "the message says it is the network");
    tap_is_int(hfs_hub_last_status(), 0, "no status without a response");
    hub_response_clear(&r);
    free(dead);

    free(url);
    hfs_buf_free(&log);
    hfs_hub_free(hub);
}

/* Each error shape the hub sends → the code and the words the user sees. */
static void test_errors(fakehub *a)
{
    static const struct {
        int status;
        const char *headers[3];
        const char *body;
        int code;
        const char *want[3];
    } cases[] = {
        {404,
         {"X-Error-Code: RepoNotFound", "X-Error-Message: Repository not found"},
         "{\"error\":\"Repository not found\"}",
         HFS_ENOTFOUND,
         {"repository not found", ": Repository not found (HTTP 404 Not Found",
          "request id req-1"}},
        {404,
         {"X-Error-Code: RevisionNotFound"},
         "{\"error\":\"Invalid rev id: foo\"}",
         HFS_ENOTFOUND,
         {"revision not found", "Invalid rev id: foo"}},
        {404,
         {"X-Error-Code: EntryNotFound"},
         "{\"error\":\"Entry not found\"}",
         HFS_ENOTFOUND,
         {"no such file or folder", "Entry not found"}},
        {403,
         {"X-Error-Code: GatedRepo", "X-Error-Message: Access to model alice/x is restricted"},
         "",
         HFS_EAUTH,
         {"gated", "Access to model alice/x is restricted", "HTTP 403 Forbidden"}},
        {403,
         {"X-Error-Message: Access to this resource is disabled."},
         "",
         HFS_EAUTH,
         {"disabled"}},
        {401,
         {NULL},
         "{\"error\":\"Repository not found\"}",
         HFS_EAUTH,
         {"repository not found or private", "(token: the token given explicitly)"}},
        {401,
         {"X-Error-Message: Invalid credentials in Authorization header"},
         "",
         HFS_EAUTH,
         {"rejected the token (from the token given explicitly)", "/settings/tokens"}},
        {403,
         {NULL},
         "{\"error\":\"You don't have the rights to create a model under this namespace\"}",
         HFS_EAUTH,
         {"permission denied", "You don't have the rights"}},
        {409,
         {NULL},
         "{\"error\":[\"first problem\",\"second problem\"]}",
         HFS_EEXISTS,
         {"first problem; second problem"}},
        {412,
         {NULL},
         "{\"error\":\"precondition_failed\",\"error_description\":\"A commit has happened since. "
         "Please refresh and try again.\"}",
         HFS_ESTALE,
         {"branch moved", "precondition_failed: A commit has happened since."}},
        {422,
         {NULL},
         "{\"errors\":[{\"message\":\"Invalid path ..\\\\ddd\"},{\"message\":\"second\"}]}",
         HFS_EINVALID,
         {"refused the request", "Invalid path ..\\ddd; second"}},
        {400,
         {NULL},
         "Your push was rejected because it contains files larger than 10 MiB.\n",
         HFS_EINVALID,
         {"Your push was rejected because it contains files larger than 10 MiB."}},
        {413,
         {NULL},
         "{\"error\":\"too many parameters\"}",
         HFS_ELIMIT,
         {"larger than the hub accepts"}},
        {429,
         {"RateLimit: \"api\";r=0;t=120"},
         "{\"error\":\"quota exceeded for action: commit\"}",
         HFS_ENET,
         {"rate limited", "resets in 120 s", "quota exceeded"}},
        {500, {NULL}, "", HFS_ENET, {"server error", "HTTP 500 Internal Server Error"}},
        {418, {NULL}, "", HFS_ERROR, {"unexpected answer", "HTTP 418"}},
    };
    hfs_hub *hub = test_hub(fakehub_url(a), TEST_TOKEN, NULL, NULL);
    char *url =
        hfs_sprintf("%s/api/models/alice/x/tree/main?recursive=true&expand=false", fakehub_url(a));
    for (size_t i = 0; i < HFS_ARRAY_LEN(cases); i++) {
        char rid[64];
        snprintf(rid, sizeof(rid), "X-Request-Id: req-%zu", i + 1);
        const char *headers[] = {rid, cases[i].headers[0], cases[i].headers[1], NULL};
        fakehub_expect(
            a, &(fh_exchange){"GET", "/api/models/alice/x/tree/main?recursive=true&expand=false",
                              NULL, NULL, NULL, cases[i].status, headers, cases[i].body});
        hub_response r;
        int rc = get(hub, url, false, &r);
        char name[128];
        snprintf(name, sizeof(name), "HTTP %d case %zu maps to the right code", cases[i].status,
                 i + 1);
        tap_is_int(rc, cases[i].code, name);
        tap_is_int(hfs_hub_last_status(), cases[i].status, "the status is available");
        for (size_t w = 0; w < HFS_ARRAY_LEN(cases[i].want) && cases[i].want[w]; w++) {
            snprintf(name, sizeof(name), "HTTP %d case %zu says \"%s\"", cases[i].status, i + 1,
                     cases[i].want[w]);
            error_has(cases[i].want[w], name);
        }
        snprintf(name, sizeof(name), "case %zu names what failed, method and URL", i + 1);
        error_has("cannot test the engine: ", name);
        error_has("from GET http://127.0.0.1:", name);
        hub_response_clear(&r);
    }
    fh_check(a, "error cases");

    /* A 401 on a non-repo URL without the bad-token message: authentication required. */
    hfs_hub *anon = test_hub(fakehub_url(a), "", NULL, NULL);
    fakehub_expect(a, &(fh_exchange){"GET", "/api/whoami-v2", NULL, no_auth, NULL, 401, NULL, ""});
    char *who = hfs_sprintf("%s/api/whoami-v2", fakehub_url(a));
    hub_response r;
    tap_is_int(get(anon, who, false, &r), HFS_EAUTH, "anonymous 401: HFS_EAUTH");
    error_has("authentication required (no token was sent: set HF_TOKEN",
              "it says no token was sent");
    hub_response_clear(&r);
    fh_check(a, "anonymous 401");
    free(who);
    hfs_hub_free(anon);

    /* Presigned credentials in another host's URL never reach a message. */
    fakehub *s3 = fakehub_start();
    fakehub_expect(s3, &(fh_exchange){"GET", "/bucket/obj?X-Amz-Signature=topsecret", NULL, NULL,
                                      NULL, 403, NULL, "AccessDenied"});
    char *presigned = hfs_sprintf("%s/bucket/obj?X-Amz-Signature=topsecret", fakehub_url(s3));
    tap_is_int(get(hub, presigned, false, &r), HFS_EAUTH, "403 from storage");
    tap_ok(!strstr(hfs_error_last(), "topsecret"), "the signature is not in the message");
    error_has("/bucket/obj", "the URL path is");
    hub_response_clear(&r);
    fh_check(s3, "presigned URL");
    fakehub_stop(s3);
    free(presigned);

    /* An answer larger than the caller allows is refused, not buffered. */
    fakehub_expect(a, &(fh_exchange){"GET",
                                     "/api/models/alice/x/tree/main?recursive=true&expand=false",
                                     NULL, NULL, NULL, 200, NULL, "0123456789abcdef"});
    hub_request small = {.what = "read a small answer",
                         .method = "GET",
                         .url = url,
                         .auth = true,
                         .redirects = HUB_REDIRECT_FOLLOW,
                         .max_body = 8};
    tap_is_int(hub_send(&r, hub, &small), HFS_ERROR, "an oversized answer fails");
    error_has("larger than 8 bytes", "the message gives the limit");
    hub_response_clear(&r);
    fh_check(a, "oversized answer");

    free(url);
    hfs_hub_free(hub);
}

static void test_verbose_log(fakehub *a)
{
    hfs_buf log = HFS_BUF_INIT;
    hfs_hub_options o = HFS_HUB_OPTIONS_INIT;
    o.endpoint = fakehub_url(a);
    o.token = TEST_TOKEN;
    o.verbose = true;
    o.log = record_log;
    o.log_ctx = &log;
    hfs_hub *hub = NULL;
    hfs_hub_new(&hub, &o);
    fakehub_expect(a, &(fh_exchange){"GET", "/api/whoami-v2", with_auth, NULL, NULL, 200,
                                     (const char *const[]){"X-Echo: " TEST_TOKEN, NULL}, "{}"});
    json_t *me = NULL;
    tap_is_int(hfs_hub_whoami(&me, hub), 0, "verbose whoami");
    json_decref(me);
    fh_check(a, "verbose request still carries the token");
    const char *text = hfs_buf_cstr(&log);
    tap_ok(strstr(text, "> GET /api/whoami-v2 HTTP/1.1") != NULL, "the request line is logged");
    tap_ok(strstr(text, "> Authorization: <redacted>") != NULL,
           "the Authorization header is redacted");
    tap_ok(strstr(text, "< HTTP/1.1 200") != NULL, "the response is logged");
    tap_ok(strstr(text, "with token") != NULL && strstr(text, "HF_TOKEN") == NULL,
           "the log says a token was sent");
    if (!tap_ok(strstr(text, TEST_TOKEN) == NULL,
                "the token never appears in the log, even echoed back"))
        tap_diag("%s", text);
    hfs_buf_free(&log);
    hfs_hub_free(hub);
}

typedef struct {
    hfs_hub *hub;
    char *url;
    int failures;
} thread_job;

static void *hammer(void *arg)
{
    thread_job *job = arg;
    for (int i = 0; i < 10; i++) {
        hub_response r;
        if (get(job->hub, job->url, true, &r) != 0 ||
            strcmp(hfs_buf_cstr(&r.body), "{\"ok\":1}") != 0)
            job->failures++;
        hub_response_clear(&r);
    }
    return NULL;
}

static void test_threads(fakehub *a)
{
    hfs_hub *hub = test_hub(fakehub_url(a), TEST_TOKEN, NULL, NULL);
    for (int i = 0; i < 40; i++)
        fakehub_expect(a, &(fh_exchange){"GET", "/api/whoami-v2", with_auth, NULL, NULL, 200, NULL,
                                         "{\"ok\":1}"});
    thread_job jobs[4];
    pthread_t threads[4];
    for (int t = 0; t < 4; t++) {
        jobs[t] = (thread_job){hub, hfs_sprintf("%s/api/whoami-v2", fakehub_url(a)), 0};
        pthread_create(&threads[t], NULL, hammer, &jobs[t]);
    }
    int failures = 0;
    for (int t = 0; t < 4; t++) {
        pthread_join(threads[t], NULL);
        failures += jobs[t].failures;
        free(jobs[t].url);
    }
    tap_is_int(failures, 0, "4 threads x 10 requests on one session all succeed");
    fh_check(a, "40 concurrent requests");
    hfs_hub_free(hub);
}

/* The fake hub must notice every kind of difference, or its passing checks mean nothing. */
static void test_fakehub_notices(fakehub *a)
{
    hfs_hub *hub = test_hub(fakehub_url(a), TEST_TOKEN, NULL, NULL);
    char *url = hfs_sprintf("%s/api/whoami-v2", fakehub_url(a));
    const char *const wrong_header[] = {"Authorization: Bearer hf_other", NULL};
    const char *const forbid_auth[] = {"Authorization", NULL};
    fakehub_expect(a, &(fh_exchange){"GET", "/api/other", NULL, NULL, NULL, 200, NULL, "{}"});
    fakehub_expect(
        a, &(fh_exchange){"GET", "/api/whoami-v2", wrong_header, NULL, NULL, 200, NULL, "{}"});
    fakehub_expect(
        a, &(fh_exchange){"GET", "/api/whoami-v2", NULL, forbid_auth, "x", 200, NULL, "{}"});
    fakehub_expect(a, &(fh_exchange){"GET", "/api/never", NULL, NULL, NULL, 200, NULL, "{}"});
    hub_response r;
    for (int i = 0; i < 3; i++) {
        get(hub, url, false, &r);
        hub_response_clear(&r);
    }
    char *problems = NULL;
    tap_ok(!fakehub_verify(a, &problems), "the fake hub reports differences");
    const char *p = problems ? problems : "";
    tap_ok(strstr(p, "expected GET /api/other, got GET /api/whoami-v2") != NULL, "a wrong target");
    tap_ok(strstr(p, "header Authorization is \"Bearer " TEST_TOKEN
                     "\", expected \"Bearer hf_other\"") != NULL,
           "a header with the wrong value");
    tap_ok(strstr(p, "header Authorization must not be sent") != NULL, "a forbidden header");
    tap_ok(strstr(p, "body differs") != NULL, "a different body");
    tap_ok(strstr(p, "expected request 4 (GET /api/never) never came") != NULL,
           "a missing request");
    free(problems);
    free(url);
    hfs_hub_free(hub);
}

int main(void)
{
    fakehub *a = fakehub_start(), *b = fakehub_start();
    test_auth_and_redirects(a, b);
    test_retries(a);
    test_errors(a);
    test_verbose_log(a);
    test_threads(a);
    test_fakehub_notices(a);
    fakehub_stop(a);
    fakehub_stop(b);
    return tap_done();
}
