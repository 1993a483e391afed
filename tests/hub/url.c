/* Tests for src/hub/url.c: quoting of revisions and paths, repo URL prefixes, origins (the
 * token rule), URLs shown in messages, and Link pagination headers. */
#include "hub/request.h"
#include "hubtest.h"

static void test_quote(void)
{
    const struct {
        const char *in, *segment, *path;
    } cases[] = {
        {"main", "main", "main"},
        {"refs/pr/3", "refs%2Fpr%2F3", "refs/pr/3"},
        {"feat/x", "feat%2Fx", "feat/x"},
        {"a b#c?d%e+f", "a%20b%23c%3Fd%25e%2Bf", "a%20b%23c%3Fd%25e%2Bf"},
        {"dir/a b/c#d.txt", "dir%2Fa%20b%2Fc%23d.txt", "dir/a%20b/c%23d.txt"},
        {"ünï/ü.bin", "%C3%BCn%C3%AF%2F%C3%BC.bin", "%C3%BCn%C3%AF/%C3%BC.bin"},
        {"~keep._-", "~keep._-", "~keep._-"},
        {"a&b=c;d", "a%26b%3Dc%3Bd", "a%26b%3Dc%3Bd"},
    };
    for (size_t i = 0; i < HFS_ARRAY_LEN(cases); i++) {
        char *seg = hfs_hub_quote_segment(cases[i].in), *path = hfs_hub_quote_path(cases[i].in);
        char name[128];
        snprintf(name, sizeof(name), "quote segment \"%s\"", cases[i].in);
        tap_is_str(seg, cases[i].segment, name);
        snprintf(name, sizeof(name), "quote path \"%s\"", cases[i].in);
        tap_is_str(path, cases[i].path, name);
        free(seg);
        free(path);
    }
}

static void test_repo_urls(void)
{
    hfs_hub *hub = test_hub("http://127.0.0.1:9/", "", NULL, NULL);
    tap_is_str(hfs_hub_endpoint(hub), "http://127.0.0.1:9",
               "a trailing / of the endpoint is dropped");
    const struct {
        hfs_repo_type type;
        const char *api, *prefix;
    } cases[] = {
        {HFS_REPO_MODEL, "http://127.0.0.1:9/api/models/alice/x", ""},
        {HFS_REPO_DATASET, "http://127.0.0.1:9/api/datasets/alice/x", "datasets/"},
        {HFS_REPO_SPACE, "http://127.0.0.1:9/api/spaces/alice/x", "spaces/"},
    };
    for (size_t i = 0; i < HFS_ARRAY_LEN(cases); i++) {
        hfs_hub_repo repo = {cases[i].type, "alice/x"};
        char *api = hfs_hub_api_url(hub, &repo);
        tap_is_str(api, cases[i].api, "API URL of each repo type");
        tap_is_str(hfs_hub_type_prefix(cases[i].type), cases[i].prefix, "resolve/LFS prefix");
        free(api);
    }
    hfs_hub_free(hub);
}

static void test_origin_and_display(void)
{
    const struct {
        const char *url, *origin;
    } origins[] = {
        {"https://HuggingFace.co/api/x", "https://huggingface.co:443"},
        {"http://127.0.0.1:8080/a?b=c", "http://127.0.0.1:8080"},
        {"http://example.com/", "http://example.com:80"},
        {"not a url", NULL},
    };
    for (size_t i = 0; i < HFS_ARRAY_LEN(origins); i++) {
        char *o = hub_url_origin(origins[i].url);
        tap_is_str(o, origins[i].origin, origins[i].url);
        free(o);
    }

    hfs_hub *hub = test_hub("http://127.0.0.1:9", "", NULL, NULL);
    char *shown =
        hub_url_display(hub, "http://user:secret@s3.example:9000/b/o?X-Amz-Signature=zzz");
    tap_is_str(shown, "http://s3.example:9000/b/o",
               "messages show other hosts' URLs without credentials or query");
    free(shown);
    shown = hub_url_display(hub, "http://127.0.0.1:9/lfs-upload/abc?part=2&chunk=5&size=9&"
                                 "expires=1&sig=0123abcd&X-Amz-Signature=zz");
    tap_is_str(shown,
               "http://127.0.0.1:9/lfs-upload/abc?part=2&chunk=5&size=9&expires=1&sig=REDACTED&"
               "X-Amz-Signature=REDACTED",
               "a signed URL of the hub's own host is shown without its signature");
    free(shown);
    shown = hub_url_display(hub, "http://127.0.0.1:9/api/models/a/b/tree/main?recursive=true");
    tap_is_str(shown, "http://127.0.0.1:9/api/models/a/b/tree/main?recursive=true",
               "endpoint URLs keep their query in messages");
    free(shown);
    char *fixed = hub_url_fix_endpoint(hub, "https://huggingface.co/alice/x/commit/abc");
    tap_is_str(fixed, "http://127.0.0.1:9/alice/x/commit/abc",
               "huggingface.co URLs from the hub are rewritten to the endpoint");
    free(fixed);
    fixed = hub_url_fix_endpoint(hub, "https://huggingface.com.evil/x");
    tap_is_str(fixed, "https://huggingface.com.evil/x", "look-alike hosts are left alone");
    free(fixed);
    hfs_hub_free(hub);
}

static void test_link(void)
{
    const struct {
        const char *header, *next;
    } cases[] = {
        {"<http://h/api/x?cursor=abc>; rel=\"next\"", "http://h/api/x?cursor=abc"},
        {"<http://h/p>; rel=\"prev\", <http://h/n>; rel=\"next\"", "http://h/n"},
        {"<http://h/n>; rel=next", "http://h/n"},
        {"<http://h/n>;rel=\"last next\"", "http://h/n"},
        {"<http://h/p>; rel=\"prev\"", NULL},
        {"garbage", NULL},
        {"<http://h/a,b>; rel=\"next\"", "http://h/a,b"},
    };
    for (size_t i = 0; i < HFS_ARRAY_LEN(cases); i++) {
        char *next = hub_link_next(cases[i].header);
        tap_is_str(next, cases[i].next, cases[i].header);
        free(next);
    }
}

int main(void)
{
    test_quote();
    test_repo_urls();
    test_origin_and_display();
    test_link();
    return tap_done();
}
