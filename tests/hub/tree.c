/* Tests for src/hub/tree.c: the tree listing across Link pages, entry parsing (files,
 * folders, LFS, Xet), quoting of revision and folder, paths-info form bodies and batching. */
#include "hubtest.h"

static const char *const auth[] = {AUTH_HEADER, NULL};
static const hfs_hub_repo model = {HFS_REPO_MODEL, "alice/x"};

#define OID(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define SHA(c) OID(c) c c c c c c c c c c c c c c c c c c c c c c c c

typedef struct {
    int pages;
    size_t entries;
    char first_paths[8][64];
    hfs_hub_entry sample[8]; /* copies of the first entries (paths copied above) */
} walk;

static int on_page(void *ctx, const hfs_hub_entry *e, size_t n)
{
    walk *w = ctx;
    w->pages++;
    for (size_t i = 0; i < n; i++, w->entries++) {
        if (w->entries < 8) {
            w->sample[w->entries] = e[i];
            snprintf(w->first_paths[w->entries], 64, "%s", e[i].path);
        }
    }
    return 0;
}

static void test_tree_pages(fakehub *fh, hfs_hub *hub)
{
    const char *base = "/api/models/alice/x/tree/main?recursive=true&expand=false";
    char *link2 = hfs_sprintf("Link: <%s%s&cursor=p2>; rel=\"next\"", fakehub_url(fh), base);
    /* The third page is linked relatively; it must resolve against the endpoint. */
    char *link3 = hfs_sprintf("Link: <%s&cursor=p3>; rel=\"next\"", base);
    const char *const h1[] = {link2, NULL}, *const h2[] = {link3, NULL};
    fakehub_expect(fh, &(fh_exchange){"GET", base, auth, NULL, NULL, 200, h1,
                                      "[{\"type\":\"file\",\"oid\":\"" OID(
                                          "1") "\",\"size\":18,\"path\":\"small.txt\"},"
                                               "{\"type\":\"directory\",\"oid\":\"" OID(
                                                   "2") "\",\"size\":0,\"path\":\"data\"}]"});
    char *t2 = hfs_sprintf("%s&cursor=p2", base), *t3 = hfs_sprintf("%s&cursor=p3", base);
    fakehub_expect(fh,
                   &(fh_exchange){"GET", t2, auth, NULL, NULL, 200, h2,
                                  "[{\"type\":\"file\",\"oid\":\"" OID(
                                      "3") "\",\"size\":12582912,\"path\":\"data/big.bin\","
                                           "\"lfs\":{\"oid\":\"" SHA(
                                               "c") "\",\"size\":12582912,\"pointerSize\":133}}]"});
    fakehub_expect(fh, &(fh_exchange){"GET", t3, auth, NULL, NULL, 200, NULL,
                                      "[{\"type\":\"file\",\"oid\":\"" OID(
                                          "4") "\",\"size\":5,\"path\":\"x.bin\",\"xetHash\":"
                                               "\"" SHA("e") "\"},"
                                                             "{\"type\":\"unknown\",\"path\":"
                                                             "\"odd\"}]"});
    walk w = {0};
    tap_is_int(hfs_hub_list_tree(hub, &model, NULL, NULL, true, on_page, &w), 0,
               "tree over 3 pages");
    tap_is_int(w.pages, 3, "one callback per page");
    tap_is_int((long long)w.entries, 5, "every entry");
    tap_is_str(w.first_paths[0], "small.txt", "file path");
    tap_ok(w.sample[0].type == HFS_HUB_ENTRY_FILE && w.sample[0].size == 18 && !w.sample[0].is_lfs,
           "regular file: type, size");
    tap_is_str(w.sample[0].oid, OID("1"), "file oid");
    tap_ok(w.sample[1].type == HFS_HUB_ENTRY_DIR, "directory");
    tap_ok(w.sample[2].is_lfs && w.sample[2].size == 12582912 &&
               w.sample[2].lfs_pointer_size == 133,
           "LFS file: real size and pointer size");
    tap_is_str(w.sample[2].lfs_sha256, SHA("c"), "LFS sha256 from lfs.oid");
    tap_is_str(w.sample[3].xet_hash, SHA("e"), "xetHash kept");
    tap_ok(w.sample[4].type == HFS_HUB_ENTRY_UNKNOWN, "an unknown type is passed on as unknown");
    fh_check(fh, "tree pagination: absolute then relative Link");
    free(link2);
    free(link3);
    free(t2);
    free(t3);
}

static void test_tree_quoting(fakehub *fh, hfs_hub *hub)
{
    hfs_hub_repo ds = {HFS_REPO_DATASET, "alice/d"};
    fakehub_expect(fh, &(fh_exchange){"GET",
                                      "/api/datasets/alice/d/tree/refs%2Fpr%2F1/"
                                      "sub%20dir%2F%23x%3F%25?recursive=false&expand=false",
                                      auth, NULL, NULL, 200, NULL, "[]"});
    walk w = {0};
    tap_is_int(hfs_hub_list_tree(hub, &ds, "refs/pr/1", "/sub dir/#x?%/", false, on_page, &w), 0,
               "tree of a folder at a PR revision");
    tap_is_int(w.pages, 0, "an empty page calls nothing");
    fh_check(fh, "tree: revision and folder quoted as single segments");

    fakehub_expect(
        fh, &(fh_exchange){"GET", "/api/models/alice/x/tree/main/nope?recursive=true&expand=false",
                           auth, NULL, NULL, 404,
                           (const char *const[]){"X-Error-Code: EntryNotFound", NULL},
                           "{\"error\":\"Entry not found\"}"});
    tap_is_int(hfs_hub_list_tree(hub, &model, "main", "nope", true, on_page, &w), HFS_ENOTFOUND,
               "missing folder: HFS_ENOTFOUND");
    error_has("cannot list the files of model alice/x at main under nope: no such file or folder",
              "the message names repo, revision and folder");
    fh_check(fh, "tree: missing folder");

    fakehub_expect(fh, &(fh_exchange){"GET",
                                      "/api/models/alice/x/tree/main?recursive=true&expand=false",
                                      auth, NULL, NULL, 200, NULL,
                                      "[{\"type\":\"file\",\"path\":\"a.txt\",\"size\":1}]"});
    tap_is_int(hfs_hub_list_tree(hub, &model, "main", NULL, true, on_page, &w), HFS_ERROR,
               "a file without oid is a protocol error");
    error_has("entry a.txt has no 40-hex \"oid\"", "the message names the entry");
    fh_check(fh, "tree: bad entry");

    const char *const self_link[] = {
        "Link: </api/models/alice/x/tree/main?recursive=true&expand=false>; rel=\"next\"", NULL};
    fakehub_expect(fh, &(fh_exchange){"GET",
                                      "/api/models/alice/x/tree/main?recursive=true&expand=false",
                                      auth, NULL, NULL, 200, self_link, "[]"});
    tap_is_int(hfs_hub_list_tree(hub, &model, "main", NULL, true, on_page, &w), HFS_ERROR,
               "a next link to the same page is refused instead of looping");
    fh_check(fh, "tree: self link");
}

typedef struct {
    size_t n;
    char last[64];
} count_walk;

static int count_entries(void *ctx, const hfs_hub_entry *e, size_t n)
{
    count_walk *c = ctx;
    c->n += n;
    snprintf(c->last, sizeof(c->last), "%s", e[n - 1].path);
    return 0;
}

static void test_paths_info(fakehub *fh, hfs_hub *hub)
{
    static const char *const form[] = {AUTH_HEADER,
                                       "Content-Type: application/x-www-form-urlencoded", NULL};
    const char *awkward[] = {"small.txt", "data/big.bin", "a b#c?d%e+f.txt", "\xc3\xbc.txt"};
    fakehub_expect(fh, &(fh_exchange){"POST", "/api/models/alice/x/paths-info/refs%2Fpr%2F2", form,
                                      NULL,
                                      "paths=small.txt&paths=data%2Fbig.bin&paths=a%20b%23c%3Fd%"
                                      "25e%2Bf.txt&paths=%C3%BC.txt&expand=false",
                                      200, NULL,
                                      "[{\"type\":\"file\",\"oid\":\"" OID(
                                          "7") "\",\"size\":18,\"path\":\"small.txt\"}]"});
    count_walk c = {0};
    tap_is_int(hfs_hub_paths_info(hub, &model, "refs/pr/2", awkward, 4, count_entries, &c), 0,
               "paths-info");
    tap_is_int((long long)c.n, 1, "missing paths are simply absent");
    fh_check(fh, "paths-info: form body, every path escaped");

    /* 1,200 paths: three requests of 500, 500 and 200. */
    char **paths = hfs_calloc(1200, sizeof(char *));
    for (int i = 0; i < 1200; i++)
        paths[i] = hfs_sprintf("f%04d.txt", i);
    for (int batch = 0; batch < 3; batch++) {
        int start = batch * 500, end = batch == 2 ? 1200 : start + 500;
        hfs_buf body = HFS_BUF_INIT, answer = HFS_BUF_INIT;
        hfs_buf_puts(&answer, "[");
        for (int i = start; i < end; i++) {
            hfs_buf_printf(&body, "paths=%s&", paths[i]);
            hfs_buf_printf(
                &answer,
                "%s{\"type\":\"file\",\"oid\":\"" OID("5") "\",\"size\":1,\"path\":\"%s\"}",
                i > start ? "," : "", paths[i]);
        }
        hfs_buf_puts(&body, "expand=false");
        hfs_buf_puts(&answer, "]");
        fakehub_expect(fh, &(fh_exchange){"POST", "/api/models/alice/x/paths-info/main", form, NULL,
                                          body.ptr, 200, NULL, answer.ptr});
        hfs_buf_free(&body);
        hfs_buf_free(&answer);
    }
    c = (count_walk){0};
    tap_is_int(
        hfs_hub_paths_info(hub, &model, NULL, (const char *const *)paths, 1200, count_entries, &c),
        0, "paths-info for 1,200 paths");
    tap_is_int((long long)c.n, 1200, "every answer delivered");
    tap_is_str(c.last, "f1199.txt", "in order");
    tap_is_int((long long)fakehub_count(fh), 3, "three requests");
    fh_check(fh, "paths-info: batches of 500, 500, 200");
    for (int i = 0; i < 1200; i++)
        free(paths[i]);
    free(paths);
}

int main(void)
{
    fakehub *fh = fakehub_start();
    hfs_hub *hub = test_hub(fakehub_url(fh), TEST_TOKEN, NULL, NULL);
    test_tree_pages(fh, hub);
    test_tree_quoting(fh, hub);
    test_paths_info(fh, hub);
    hfs_hub_free(hub);
    fakehub_stop(fh);
    return tap_done();
}
