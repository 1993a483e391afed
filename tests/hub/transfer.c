/* Tests for src/hub/transfer.c, the parallel LFS upload engine: the exact requests it sends
 * to the scripted fake hub (basic PUT, parallel multipart parts, completion, verify, retries,
 * redirects, where the token goes), files that change during an upload, cancellation, and
 * a run against the real local hub (which checks every object's sha256) with faults. */
#define _XOPEN_SOURCE 700
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hash.h"
#include "hfsync/hubd.h"
#include "hub/transfer.h"
#include "hubtest.h"

static const char *const no_auth[] = {"Authorization", NULL};
static const char *const verify_auth[] = {AUTH_HEADER, "Content-Type: application/json", NULL};
static const char *const lfs_no_auth_req[] = {"Accept: application/vnd.git-lfs+json",
                                              "Content-Type: application/vnd.git-lfs+json", NULL};

static char tmpdir[256];

/* ---- fixtures ------------------------------------------------------------------------ */

typedef struct {
    char *path;
    char *data;
    size_t size;
    char sha256[HFS_SHA256_HEX];
} test_file;

/* A file of `size` deterministic printable bytes (so the fake hub can compare bodies as
 * strings), or arbitrary binary bytes when `binary`. */
static test_file make_file(const char *name, size_t size, unsigned seed, bool binary)
{
    test_file f = {hfs_path_join(tmpdir, name), hfs_malloc(size + 1), size, ""};
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < size; i++) {
        x = x * 1103515245u + 12345u;
        f.data[i] = binary ? (char)(x >> 16) : (char)('a' + (x >> 16) % 26);
    }
    f.data[size] = '\0';
    hfs_sha256_hex(f.sha256, f.data, size);
    FILE *out = fopen(f.path, "wb");
    if (!out || fwrite(f.data, 1, size, out) != size || fclose(out) != 0) {
        printf("Bail out! cannot write %s\n", f.path);
        exit(1);
    }
    return f;
}

static void file_free(test_file *f)
{
    unlink(f->path);
    free(f->path);
    free(f->data);
}

static void action_basic(hfs_hub_lfs_action *a, const test_file *f, const char *href,
                         const char *verify)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->oid, sizeof(a->oid), "%s", f->sha256);
    a->size = f->size;
    a->kind = HFS_HUB_LFS_BASIC;
    a->upload_href = hfs_strdup(href);
    a->verify_href = verify ? hfs_strdup(verify) : NULL;
}

/* Multipart with part URLs {base}?part=N and completion at {base}/complete. */
static void action_multipart(hfs_hub_lfs_action *a, const test_file *f, uint64_t chunk,
                             const char *base, const char *verify)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->oid, sizeof(a->oid), "%s", f->sha256);
    a->size = f->size;
    a->kind = HFS_HUB_LFS_MULTIPART;
    a->chunk_size = chunk;
    a->n_parts = (size_t)((f->size + chunk - 1) / chunk);
    a->part_urls = hfs_calloc(a->n_parts, sizeof(char *));
    for (size_t i = 0; i < a->n_parts; i++)
        a->part_urls[i] = hfs_sprintf("%s?part=%zu", base, i + 1);
    a->upload_href = hfs_sprintf("%s/complete", base);
    a->verify_href = verify ? hfs_strdup(verify) : NULL;
}

static hfs_lfs_upload_item item_for(const test_file *f, const hfs_hub_lfs_action *a)
{
    return (hfs_lfs_upload_item){
        .local_path = f->path, .size = f->size, .sha256 = f->sha256, .action = a};
}

/* Progress as the caller sees it, with optional mischief once bytes are moving. */
typedef struct {
    hfs_lfs_upload_progress last;
    int calls;
    bool went_back; /* bytes_done ever decreased */
    /* When set: once bytes_done reaches `at_bytes`, overwrite `len` bytes of `path` at
     * `offset` (or cut it to `offset` bytes when `truncate`) (once), or set `cancel`. */
    const char *path;
    uint64_t at_bytes, offset;
    size_t len;
    bool truncate;
    volatile int *cancel;
    bool fired;
} progress_log;

static void on_progress(void *ctx, const hfs_lfs_upload_progress *p)
{
    progress_log *log = ctx;
    if (log->calls && p->bytes_done < log->last.bytes_done)
        log->went_back = true;
    log->last = *p;
    log->calls++;
    if (log->fired || p->bytes_done < log->at_bytes || (!log->path && !log->cancel))
        return;
    log->fired = true;
    if (log->cancel)
        *log->cancel = 1;
    if (log->path && log->truncate) {
        if (truncate(log->path, (off_t)log->offset) != 0)
            tap_diag("cannot truncate %s", log->path);
    } else if (log->path) {
        int fd = open(log->path, O_WRONLY);
        char junk[4096];
        memset(junk, '#', sizeof(junk));
        size_t len = log->len < sizeof(junk) ? log->len : sizeof(junk);
        if (fd < 0 || pwrite(fd, junk, len, (off_t)log->offset) != (ssize_t)len)
            tap_diag("cannot modify %s", log->path);
        if (fd >= 0)
            close(fd);
    }
}

static hfs_lfs_upload_options options(unsigned jobs, progress_log *log)
{
    hfs_lfs_upload_options o = HFS_LFS_UPLOAD_OPTIONS_INIT;
    o.jobs = jobs;
    if (log) {
        o.progress = on_progress;
        o.progress_ctx = log;
    }
    return o;
}

/* The request the fake hub received for `target`, or NULL. */
static const fh_request *received(const fakehub *fh, const char *method, const char *target)
{
    for (size_t i = 0; i < fakehub_count(fh); i++) {
        const fh_request *r = fakehub_request(fh, i);
        if (strcmp(r->method, method) == 0 && strcmp(r->target, target) == 0)
            return r;
    }
    return NULL;
}

/* ---- basic ------------------------------------------------------------------------- */

static void test_basic(fakehub *fh, fakehub *storage, hfs_hub *hub)
{
    test_file f = make_file("basic.bin", 100000, 1, false);
    hfs_hub_lfs_action a;
    char *href = hfs_sprintf("%s/upload/%s?sig=abc", fakehub_url(storage), f.sha256);
    char *target = hfs_sprintf("/upload/%s?sig=abc", f.sha256);
    char *verify = hfs_sprintf("%s/alice/x.git/info/lfs/objects/verify", fakehub_url(fh));
    char *verify_body = hfs_sprintf("{\"oid\":\"%s\",\"size\":100000}", f.sha256);
    action_basic(&a, &f, href, verify);
    hfs_lfs_upload_item item = item_for(&f, &a);

    fakehub_expect(storage, &(fh_exchange){"PUT", target, NULL, no_auth, f.data, 200,
                                           (const char *const[]){"ETag: \"x\"", NULL}, ""});
    fakehub_expect(fh, &(fh_exchange){"POST", "/alice/x.git/info/lfs/objects/verify", verify_auth,
                                      NULL, verify_body, 200, NULL, "{\"success\":true}"});
    progress_log log = {0};
    hfs_lfs_upload_options o = options(8, &log);
    int result = 1;
    tap_is_int(hfs_lfs_upload_all(&result, hub, &item, 1, &o), 0, "basic: the upload succeeds");
    tap_is_int(result, 0, "basic: results[0] is 0");
    const fh_request *put = fakehub_count(storage) ? fakehub_request(storage, 0) : NULL;
    tap_is_str(put ? fh_request_header(put, "Content-Length") : NULL, "100000",
               "basic: the PUT announces its length (presigned URLs need it)");
    tap_ok(put && !fh_request_header(put, "Transfer-Encoding"), "basic: not chunked");
    tap_ok(log.calls >= 1 && log.last.bytes_done == 100000 && log.last.bytes_total == 100000 &&
               log.last.items_done == 1 && log.last.items_total == 1 && !log.went_back,
           "basic: the last progress report says 100000 of 100000 bytes, 1 of 1 file");
    fh_check(storage, "basic: one PUT of the whole file to the href, without Authorization");
    fh_check(fh, "basic: verify POSTed to the hub with the token and {oid, size}");

    hfs_hub_lfs_action_clear(&a);
    free(href);
    free(target);
    free(verify);
    free(verify_body);
    file_free(&f);
}

/* A verbose session logs every request and header of the transfers, never the token. */
static void test_verbose(fakehub *fh, fakehub *storage)
{
    test_file f = make_file("verbose.bin", 2000, 41, false);
    hfs_hub_lfs_action a;
    char *href = hfs_sprintf("%s/verbose", fakehub_url(storage));
    char *verify = hfs_sprintf("%s/alice/x.git/info/lfs/objects/verify", fakehub_url(fh));
    action_basic(&a, &f, href, verify);
    hfs_lfs_upload_item item = item_for(&f, &a);
    hfs_buf log = HFS_BUF_INIT;
    hfs_hub_options o = HFS_HUB_OPTIONS_INIT;
    o.endpoint = fakehub_url(fh);
    o.token = TEST_TOKEN;
    o.verbose = true;
    o.log = record_log;
    o.log_ctx = &log;
    hfs_hub *hub = NULL;
    if (hfs_hub_new(&hub, &o) != 0) {
        tap_ok(false, "verbose: a session opens: %s", hfs_error_last());
        goto done;
    }
    fakehub_expect(storage,
                   &(fh_exchange){"PUT", "/verbose", NULL, no_auth, f.data, 200, NULL, NULL});
    fakehub_expect(fh, &(fh_exchange){"POST", "/alice/x.git/info/lfs/objects/verify", verify_auth,
                                      NULL, NULL, 200, NULL, NULL});
    tap_is_int(hfs_lfs_upload_all(NULL, hub, &item, 1, NULL), 0, "verbose: the upload succeeds");
    const char *text = hfs_buf_cstr(&log);
    tap_ok(strstr(text, "PUT ") && strstr(text, "/verbose") &&
               strstr(text, "> Content-Length: 2000"),
           "verbose: the PUT and its headers are logged");
    tap_ok(strstr(text, "(with token)") && strstr(text, "> Authorization: <redacted>"),
           "verbose: verify went with the token, shown redacted");
    tap_ok(!strstr(text, TEST_TOKEN), "verbose: the token appears nowhere in the log");
    fh_check(storage, "verbose: the PUT");
    fh_check(fh, "verbose: verify");
done:
    hfs_hub_free(hub);
    hfs_buf_free(&log);
    free(href);
    free(verify);
    hfs_hub_lfs_action_clear(&a);
    file_free(&f);
}

/* ---- multipart --------------------------------------------------------------------- */

static void test_multipart(fakehub *fh, fakehub *storage, hfs_hub *hub)
{
    enum { CHUNK = 65536, PARTS = 6 };
    test_file f = make_file("multi.bin", 5 * CHUNK + 1000, 2, false);
    hfs_hub_lfs_action a;
    char *base = hfs_sprintf("%s/upload/%s", fakehub_url(storage), f.sha256);
    /* The verify href is on the storage host: the token must not follow it there. */
    char *verify = hfs_sprintf("%s/verify/%s", fakehub_url(storage), f.sha256);
    action_multipart(&a, &f, CHUNK, base, verify);
    hfs_lfs_upload_item item = item_for(&f, &a);
    /* ETags are opaque and kept verbatim: quotes, W/ and spaces included. */
    const char *etags[PARTS] = {"\"e-1\"", "W/\"e 2\"", "e3", "\"e-4\"", "\"e,5\"", "\"6\""};
    char *targets[PARTS];
    char *etag_headers[PARTS];

    for (int i = 0; i < PARTS; i++) {
        targets[i] = hfs_sprintf("/upload/%s?part=%d", f.sha256, i + 1);
        etag_headers[i] = hfs_sprintf("ETag: %s", etags[i]);
        /* Part 1 answers last, part 6 first: the ETags arrive out of order. */
        fakehub_expect_paced(storage,
                             &(fh_exchange){"PUT", targets[i], NULL, no_auth, NULL, 200,
                                            (const char *const[]){etag_headers[i], NULL}, ""},
                             &(fh_pacing){.any_order = true, .delay_ms = (PARTS - i) * 60u});
    }
    hfs_buf body = HFS_BUF_INIT;
    hfs_buf_printf(&body, "{\"oid\":\"%s\",\"parts\":[", f.sha256);
    for (int i = 0; i < PARTS; i++) {
        json_t *e = json_string(etags[i]);
        char *quoted = json_dumps(e, JSON_ENCODE_ANY);
        hfs_buf_printf(&body, "%s{\"partNumber\":%d,\"etag\":%s}", i ? "," : "", i + 1, quoted);
        free(quoted);
        json_decref(e);
    }
    hfs_buf_puts(&body, "]}");
    char *complete = hfs_sprintf("/upload/%s/complete", f.sha256);
    char *verify_target = hfs_sprintf("/verify/%s", f.sha256);
    char *verify_body = hfs_sprintf("{\"oid\":\"%s\",\"size\":%zu}", f.sha256, f.size);
    fakehub_expect(storage, &(fh_exchange){"POST", complete, lfs_no_auth_req, no_auth,
                                           hfs_buf_cstr(&body), 200, NULL, "{\"success\":true}"});
    fakehub_expect(storage, &(fh_exchange){"POST", verify_target, NULL, no_auth, verify_body, 200,
                                           NULL, "{\"success\":true}"});

    progress_log log = {0};
    hfs_lfs_upload_options o = options(8, &log);
    int result = 1;
    tap_is_int(hfs_lfs_upload_all(&result, hub, &item, 1, &o), 0,
               "multipart: 6 parts, completion and verify succeed");
    tap_is_int(result, 0, "multipart: results[0] is 0");
    size_t concurrent = fakehub_max_concurrent(storage);
    tap_ok(concurrent >= 5, "multipart: the parts were sent in parallel (%zu at once)", concurrent);
    int good = 0;
    for (int i = 0; i < PARTS; i++) {
        const fh_request *r = received(storage, "PUT", targets[i]);
        size_t off = (size_t)i * CHUNK, len = i == PARTS - 1 ? f.size - off : CHUNK;
        if (r && r->body_len == len && memcmp(r->body, f.data + off, len) == 0)
            good++;
        else
            tap_diag("part %d: got %zu bytes", i + 1, r ? r->body_len : 0);
    }
    tap_is_int(good, PARTS, "multipart: each part carries its own slice of the file");
    tap_ok(log.last.bytes_done == f.size && log.last.items_done == 1 && !log.went_back,
           "multipart: progress ends at the file's size and never goes back");
    fh_check(storage, "multipart: parts without Authorization, then the completion with the "
                      "ETags verbatim in part order, then verify without the token (other host)");
    fh_check(fh, "multipart: nothing went to the hub itself");

    for (int i = 0; i < PARTS; i++) {
        free(targets[i]);
        free(etag_headers[i]);
    }
    hfs_buf_free(&body);
    free(complete);
    free(verify_target);
    free(verify_body);
    free(verify);
    free(base);
    hfs_hub_lfs_action_clear(&a);
    file_free(&f);
}

/* Many files at once, a few parts each, through fewer jobs than requests. */
static void test_many(fakehub *storage, hfs_hub *hub)
{
    enum { N = 12, CHUNK = 4096 };
    test_file files[N];
    hfs_hub_lfs_action actions[N];
    hfs_lfs_upload_item items[N];
    int results[N];
    uint64_t total = 0;
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof(name), "many-%02d.bin", i);
        files[i] = make_file(name, 1000u + (size_t)i * 1500u, 10u + (unsigned)i, false);
        total += files[i].size;
        char *base = hfs_sprintf("%s/many/%d", fakehub_url(storage), i);
        if (i % 2) {
            action_multipart(&actions[i], &files[i], CHUNK, base, NULL);
            for (size_t p = 0; p < actions[i].n_parts; p++) {
                char *t = hfs_sprintf("/many/%d?part=%zu", i, p + 1);
                char *etag = hfs_sprintf("ETag: \"%d-%zu\"", i, p + 1);
                fakehub_expect_paced(storage,
                                     &(fh_exchange){"PUT", t, NULL, no_auth, NULL, 200,
                                                    (const char *const[]){etag, NULL}, ""},
                                     &(fh_pacing){.any_order = true, .delay_ms = 5});
                free(t);
                free(etag);
            }
            char *t = hfs_sprintf("/many/%d/complete", i);
            fakehub_expect_paced(storage,
                                 &(fh_exchange){"POST", t, NULL, no_auth, NULL, 200, NULL, NULL},
                                 &(fh_pacing){.any_order = true});
            free(t);
        } else {
            action_basic(&actions[i], &files[i], base, NULL);
            char *t = hfs_sprintf("/many/%d", i);
            fakehub_expect_paced(
                storage, &(fh_exchange){"PUT", t, NULL, no_auth, files[i].data, 200, NULL, NULL},
                &(fh_pacing){.any_order = true, .delay_ms = 5});
            free(t);
        }
        free(base);
        items[i] = item_for(&files[i], &actions[i]);
    }
    progress_log log = {0};
    hfs_lfs_upload_options o = options(3, &log);
    tap_is_int(hfs_lfs_upload_all(results, hub, items, N, &o), 0,
               "12 files (6 multipart) through 3 jobs");
    int zero = 0;
    for (int i = 0; i < N; i++)
        zero += results[i] == 0;
    tap_is_int(zero, N, "every result is 0");
    size_t concurrent = fakehub_max_concurrent(storage);
    tap_ok(concurrent <= 3 && concurrent >= 2, "never more than 3 requests at once (%zu)",
           concurrent);
    tap_ok(log.last.bytes_done == total && log.last.bytes_total == total &&
               log.last.items_done == N,
           "progress ends at every byte of every file");
    fh_check(storage, "many: every PUT, part and completion exactly once");
    for (int i = 0; i < N; i++) {
        hfs_hub_lfs_action_clear(&actions[i]);
        file_free(&files[i]);
    }
}

/* With one job the start order shows: biggest first, equals in the caller's order. */
static void test_order(fakehub *storage, hfs_hub *hub)
{
    test_file files[] = {
        make_file("order-a.bin", 1000, 31, false), make_file("order-b.bin", 9000, 32, false),
        make_file("order-c.bin", 4000, 33, false), make_file("order-d.bin", 1000, 34, false)};
    const char *names[] = {"/order/a", "/order/b", "/order/c", "/order/d"};
    hfs_hub_lfs_action actions[4];
    hfs_lfs_upload_item items[4];
    for (int i = 0; i < 4; i++) {
        char *href = hfs_sprintf("%s%s", fakehub_url(storage), names[i]);
        action_basic(&actions[i], &files[i], href, NULL);
        items[i] = item_for(&files[i], &actions[i]);
        free(href);
    }
    const int expected[] = {1, 2, 0, 3};
    for (int i = 0; i < 4; i++)
        fakehub_expect(storage, &(fh_exchange){"PUT", names[expected[i]], NULL, no_auth,
                                               files[expected[i]].data, 200, NULL, NULL});
    hfs_lfs_upload_options o = options(1, NULL);
    tap_is_int(hfs_lfs_upload_all(NULL, hub, items, 4, &o), 0, "order: four files, one job");
    fh_check(storage, "order: the biggest file starts first, equal sizes keep the caller's order");
    for (int i = 0; i < 4; i++) {
        hfs_hub_lfs_action_clear(&actions[i]);
        file_free(&files[i]);
    }
}

/* ---- slots shared by uploads running at once ------------------------------------- */

typedef struct {
    hfs_hub *hub;
    const hfs_lfs_upload_item *items;
    size_t n;
    hfs_lfs_upload_options opts;
    int rc;
} upload_call;

static void *upload_thread(void *arg)
{
    upload_call *c = arg;
    c->rc = hfs_lfs_upload_all(NULL, c->hub, c->items, c->n, &c->opts);
    return NULL;
}

/* The index of the first (or last) request received whose target starts with prefix. */
static long request_at(const fakehub *fh, const char *prefix, bool last)
{
    long at = -1;
    for (size_t i = 0; i < fakehub_count(fh); i++)
        if (strncmp(fakehub_request(fh, i)->target, prefix, strlen(prefix)) == 0) {
            at = (long)i;
            if (!last)
                break;
        }
    return at;
}

/* A big multipart object in one call and small files in another, at once, sharing 4 slots
 * (each call would take 4 on its own): never more than 4 requests at once, and the small
 * files are not held back until the big object's last part. Then one call alone gets every
 * slot. */
static void test_shared_slots(fakehub *storage, hfs_hub *hub)
{
    enum { SMALL = 8, CHUNK = 4096, PARTS = 16 };
    test_file big = make_file("slots-big.bin", PARTS * CHUNK, 41, false);
    test_file small[SMALL];
    hfs_hub_lfs_action big_action, small_actions[SMALL];
    hfs_lfs_upload_item big_item, small_items[SMALL];
    char *base = hfs_sprintf("%s/slots/big", fakehub_url(storage));
    action_multipart(&big_action, &big, CHUNK, base, NULL);
    free(base);
    big_item = item_for(&big, &big_action);
    for (int round = 0; round < 2; round++) {
        for (size_t p = 0; p < PARTS; p++) {
            char *t = hfs_sprintf("/slots/big?part=%zu", p + 1);
            char *etag = hfs_sprintf("ETag: \"big-%zu\"", p + 1);
            fakehub_expect_paced(storage,
                                 &(fh_exchange){"PUT", t, NULL, no_auth, NULL, 200,
                                                (const char *const[]){etag, NULL}, ""},
                                 &(fh_pacing){.any_order = true, .delay_ms = 40});
            free(t);
            free(etag);
        }
        fakehub_expect_paced(
            storage,
            &(fh_exchange){"POST", "/slots/big/complete", NULL, no_auth, NULL, 200, NULL, NULL},
            &(fh_pacing){.any_order = true});
        if (round == 1)
            break;
        for (int i = 0; i < SMALL; i++) {
            char name[32];
            snprintf(name, sizeof(name), "slots-small-%d.bin", i);
            small[i] = make_file(name, 500u + (size_t)i * 10u, 50u + (unsigned)i, false);
            char *href = hfs_sprintf("%s/slots/small/%d", fakehub_url(storage), i);
            action_basic(&small_actions[i], &small[i], href, NULL);
            free(href);
            small_items[i] = item_for(&small[i], &small_actions[i]);
            char *t = hfs_sprintf("/slots/small/%d", i);
            fakehub_expect_paced(
                storage, &(fh_exchange){"PUT", t, NULL, no_auth, small[i].data, 200, NULL, NULL},
                &(fh_pacing){.any_order = true, .delay_ms = 40});
            free(t);
        }
        hfs_lfs_slots *slots = hfs_lfs_slots_new(4);
        upload_call calls[2] = {{hub, &big_item, 1, options(4, NULL), -1},
                                {hub, small_items, SMALL, options(4, NULL), -1}};
        pthread_t threads[2];
        for (int i = 0; i < 2; i++) {
            calls[i].opts.slots = slots;
            if (pthread_create(&threads[i], NULL, upload_thread, &calls[i]) != 0) {
                printf("Bail out! cannot start a thread\n");
                exit(1);
            }
        }
        for (int i = 0; i < 2; i++)
            pthread_join(threads[i], NULL);
        hfs_lfs_slots_free(slots);
        tap_ok(calls[0].rc == 0 && calls[1].rc == 0, "shared slots: both uploads succeed (%d, %d)",
               calls[0].rc, calls[1].rc);
        size_t concurrent = fakehub_max_concurrent(storage);
        tap_ok(concurrent <= 4 && concurrent >= 3,
               "shared slots: never more than the 4 slots at once across both uploads (%zu)",
               concurrent);
        long first_small = request_at(storage, "/slots/small/", false);
        long last_part = request_at(storage, "/slots/big?part=", true);
        tap_ok(first_small >= 0 && first_small < last_part,
               "shared slots: a small file went up before the big object's last part (request "
               "%ld, last part %ld)",
               first_small, last_part);
        fh_check(storage, "shared slots: every part, completion and small PUT exactly once");
    }
    /* round 1: the big object alone, the slots to itself */
    hfs_lfs_slots *slots = hfs_lfs_slots_new(4);
    hfs_lfs_upload_options o = options(4, NULL);
    o.slots = slots;
    tap_is_int(hfs_lfs_upload_all(NULL, hub, &big_item, 1, &o), 0,
               "shared slots: one upload alone");
    hfs_lfs_slots_free(slots);
    tap_is_int((int)fakehub_max_concurrent(storage), 4, "shared slots: alone, it uses all 4 slots");
    fh_check(storage, "shared slots alone: every part and the completion exactly once");
    hfs_hub_lfs_action_clear(&big_action);
    file_free(&big);
    for (int i = 0; i < SMALL; i++) {
        hfs_hub_lfs_action_clear(&small_actions[i]);
        file_free(&small[i]);
    }
}

/* ---- retries and redirects ----------------------------------------------------------- */

static void test_retries(fakehub *storage, hfs_hub *hub, sleep_log *sleeps)
{
    test_file f = make_file("retry.bin", 30000, 3, false);
    test_file g = make_file("retry-multi.bin", 3 * 8192, 4, false);
    hfs_hub_lfs_action a, b;
    char *href = hfs_sprintf("%s/put/retry", fakehub_url(storage));
    char *base = hfs_sprintf("%s/put/multi", fakehub_url(storage));
    action_basic(&a, &f, href, NULL);
    action_multipart(&b, &g, 8192, base, NULL);
    hfs_lfs_upload_item items[] = {item_for(&f, &a), item_for(&g, &b)};

    /* The basic PUT: 503 with Retry-After, then the connection dropped halfway through the
     * body, then success. Part 2: a 500, then success. The completion: a 429, then success. */
    fakehub_expect_paced(storage,
                         &(fh_exchange){"PUT", "/put/retry", NULL, no_auth, NULL, 503,
                                        (const char *const[]){"Retry-After: 2", NULL}, "busy"},
                         &(fh_pacing){.any_order = true});
    fakehub_expect_paced(storage,
                         &(fh_exchange){"PUT", "/put/retry", NULL, no_auth, NULL, 200, NULL, NULL},
                         &(fh_pacing){.any_order = true, .drop_after = 15000});
    fakehub_expect_paced(
        storage, &(fh_exchange){"PUT", "/put/retry", NULL, no_auth, f.data, 200, NULL, NULL},
        &(fh_pacing){.any_order = true});
    fakehub_expect_paced(storage,
                         &(fh_exchange){"PUT", "/put/multi?part=1", NULL, no_auth, NULL, 200,
                                        (const char *const[]){"ETag: \"1\"", NULL}, NULL},
                         &(fh_pacing){.any_order = true});
    fakehub_expect_paced(
        storage, &(fh_exchange){"PUT", "/put/multi?part=2", NULL, no_auth, NULL, 500, NULL, NULL},
        &(fh_pacing){.any_order = true});
    fakehub_expect_paced(storage,
                         &(fh_exchange){"PUT", "/put/multi?part=2", NULL, no_auth, NULL, 200,
                                        (const char *const[]){"ETag: \"2\"", NULL}, NULL},
                         &(fh_pacing){.any_order = true});
    fakehub_expect_paced(storage,
                         &(fh_exchange){"PUT", "/put/multi?part=3", NULL, no_auth, NULL, 200,
                                        (const char *const[]){"ETag: \"3\"", NULL}, NULL},
                         &(fh_pacing){.any_order = true});
    fakehub_expect_paced(storage,
                         &(fh_exchange){"POST", "/put/multi/complete", NULL, no_auth, NULL, 429,
                                        (const char *const[]){"RateLimit: \"api\";r=0;t=4", NULL},
                                        "slow down"},
                         &(fh_pacing){.any_order = true});
    char *complete = hfs_sprintf("{\"oid\":\"%s\",\"parts\":[{\"partNumber\":1,\"etag\":"
                                 "\"\\\"1\\\"\"},{\"partNumber\":2,\"etag\":\"\\\"2\\\"\"},"
                                 "{\"partNumber\":3,\"etag\":\"\\\"3\\\"\"}]}",
                                 g.sha256);
    fakehub_expect_paced(
        storage,
        &(fh_exchange){"POST", "/put/multi/complete", NULL, no_auth, complete, 200, NULL, NULL},
        &(fh_pacing){.any_order = true});
    sleeps->n = 0;
    int results[2] = {1, 1};
    hfs_lfs_upload_options o = options(4, NULL);
    tap_is_int(hfs_lfs_upload_all(results, hub, items, 2, &o), 0,
               "retries: 503, a dropped connection, 500 and 429 are all retried to success");
    tap_ok(results[0] == 0 && results[1] == 0, "retries: both results are 0");
    long want[] = {3000, 1000, 2000, 5000}; /* Retry-After 2 → 3 s; backoff; backoff; t=4 → 5 s */
    int found = 0;
    for (size_t w = 0; w < HFS_ARRAY_LEN(want); w++)
        for (int i = 0; i < sleeps->n; i++)
            if (sleeps->ms[i] == want[w]) {
                found++;
                break;
            }
    tap_ok(sleeps->n == 4 && found == 4,
           "retries: waits of 3 s (Retry-After 2), 1 s then 2 s (backoff), 5 s (RateLimit t=4)");
    for (int i = 0; i < sleeps->n; i++)
        tap_diag("  waited %ld ms", sleeps->ms[i]);
    fh_check(storage, "retries: exactly the scripted requests came, the dropped one included, "
                      "and the completion carries the retried part's ETag");
    free(complete);
    free(href);
    free(base);
    hfs_hub_lfs_action_clear(&a);
    hfs_hub_lfs_action_clear(&b);
    file_free(&f);
    file_free(&g);
}

static void test_retries_exhausted(fakehub *storage, hfs_hub *hub, sleep_log *sleeps)
{
    test_file f = make_file("down.bin", 2000, 5, false);
    hfs_hub_lfs_action a;
    char *href = hfs_sprintf("%s/down", fakehub_url(storage));
    action_basic(&a, &f, href, NULL);
    hfs_lfs_upload_item item = item_for(&f, &a);
    for (int i = 0; i < 6; i++)
        fakehub_expect(storage, &(fh_exchange){"PUT", "/down", NULL, no_auth, NULL, 503, NULL,
                                               "{\"error\":\"storage is down\"}"});
    sleeps->n = 0;
    int result = 0;
    tap_is_int(hfs_lfs_upload_all(&result, hub, &item, 1, NULL), HFS_ENET,
               "503 six times: HFS_ENET");
    tap_is_int(result, HFS_ENET, "... and results[0] says so");
    error_has("down.bin", "... the message names the file");
    error_has("storage is down", "... quotes the server");
    error_has("6 attempts", "... and counts the attempts");
    tap_ok(sleeps->n == 5 && sleeps->ms[0] == 1000 && sleeps->ms[1] == 2000 &&
               sleeps->ms[2] == 4000 && sleeps->ms[3] == 8000 && sleeps->ms[4] == 8000,
           "backoff 1, 2, 4, 8, 8 s between the six attempts");
    fh_check(storage, "six PUTs, no more");
    free(href);
    hfs_hub_lfs_action_clear(&a);
    file_free(&f);
}

static void test_redirects(fakehub *fh, fakehub *storage, hfs_hub *hub)
{
    test_file f = make_file("redirect.bin", 5000, 6, false);
    hfs_hub_lfs_action a;
    char *href = hfs_sprintf("%s/moved", fakehub_url(storage));
    char *there = hfs_sprintf("Location: %s/here", fakehub_url(storage));
    char *verify = hfs_sprintf("%s/alice/x.git/info/lfs/objects/verify", fakehub_url(fh));
    char *away = hfs_sprintf("Location: %s/verify-elsewhere", fakehub_url(storage));
    action_basic(&a, &f, href, verify);
    hfs_lfs_upload_item item = item_for(&f, &a);

    /* The PUT is redirected with 307: the same method and the whole body again. */
    fakehub_expect(storage, &(fh_exchange){"PUT", "/moved", NULL, no_auth, NULL, 307,
                                           (const char *const[]){there, NULL}, NULL});
    fakehub_expect(storage, &(fh_exchange){"PUT", "/here", NULL, no_auth, f.data, 200, NULL, NULL});
    /* Verify starts at the hub (token) and is sent on to another host (no token). */
    fakehub_expect(fh, &(fh_exchange){"POST", "/alice/x.git/info/lfs/objects/verify", verify_auth,
                                      NULL, NULL, 307, (const char *const[]){away, NULL}, NULL});
    fakehub_expect(
        storage, &(fh_exchange){"POST", "/verify-elsewhere", NULL, no_auth, NULL, 200, NULL, NULL});
    int result = 1;
    tap_is_int(hfs_lfs_upload_all(&result, hub, &item, 1, NULL), 0,
               "redirects: followed for the PUT and for verify");
    fh_check(storage, "redirects: the PUT is resent whole to the new URL; verify arrives at the "
                      "other host without Authorization");
    fh_check(fh, "redirects: verify went to the hub first, with the token");
    free(href);
    free(there);
    free(verify);
    free(away);
    hfs_hub_lfs_action_clear(&a);
    file_free(&f);
}

/* ---- failures ------------------------------------------------------------------------ */

static void test_refusals(fakehub *storage, hfs_hub *hub)
{
    test_file f = make_file("refused.bin", 3000, 7, false);
    test_file g = make_file("later.bin", 3000, 8, false);
    test_file h = make_file("present.bin", 3000, 9, false);
    hfs_hub_lfs_action a, b, c;
    char *href = hfs_sprintf("%s/refused", fakehub_url(storage));
    char *href2 = hfs_sprintf("%s/later", fakehub_url(storage));
    action_basic(&a, &f, href, NULL);
    action_basic(&b, &g, href2, NULL);
    memset(&c, 0, sizeof(c));
    snprintf(c.oid, sizeof(c.oid), "%s", h.sha256);
    c.size = h.size;
    c.kind = HFS_HUB_LFS_PRESENT;
    hfs_lfs_upload_item items[] = {item_for(&h, &c), item_for(&f, &a), item_for(&g, &b)};

    /* A 403 is not retried and stops the whole call: the next file is never sent. */
    fakehub_expect(storage, &(fh_exchange){"PUT", "/refused", NULL, no_auth, NULL, 403, NULL,
                                           "{\"error\":\"signature expired\"}"});
    int results[3] = {1, 1, 1};
    hfs_lfs_upload_options o = options(1, NULL);
    tap_is_int(hfs_lfs_upload_all(results, hub, items, 3, &o), HFS_EAUTH,
               "a 403 on a PUT: HFS_EAUTH");
    error_has("refused.bin", "... naming the file");
    error_has("signature expired", "... with the server's words");
    tap_ok(results[0] == 0 && results[1] == HFS_EAUTH && results[2] == HFS_ERROR,
           "results: present object 0, refused one HFS_EAUTH, the one never sent HFS_ERROR "
           "(%d %d %d)",
           results[0], results[1], results[2]);
    fh_check(storage, "one PUT only: nothing is sent for an object the hub has, nothing after "
                      "a failure");

    /* An object the LFS batch refused, and a part that comes back without an ETag. */
    hfs_hub_lfs_action e, m;
    memset(&e, 0, sizeof(e));
    snprintf(e.oid, sizeof(e.oid), "%s", f.sha256);
    e.size = f.size;
    e.kind = HFS_HUB_LFS_ERROR;
    e.error_code = 422;
    e.error_message = hfs_strdup("object too large for this repo");
    hfs_lfs_upload_item refused = item_for(&f, &e);
    tap_is_int(hfs_lfs_upload_all(NULL, hub, &refused, 1, NULL), HFS_ERROR,
               "an object the batch answered with an error: HFS_ERROR");
    error_has("object too large for this repo (code 422)", "... with the hub's message and code");
    char *base = hfs_sprintf("%s/noetag", fakehub_url(storage));
    action_multipart(&m, &g, 3000, base, NULL);
    hfs_lfs_upload_item noetag = item_for(&g, &m);
    fakehub_expect(storage,
                   &(fh_exchange){"PUT", "/noetag?part=1", NULL, no_auth, NULL, 200, NULL, NULL});
    tap_is_int(hfs_lfs_upload_all(NULL, hub, &noetag, 1, NULL), HFS_ERROR,
               "a part answered without an ETag: HFS_ERROR");
    error_has("no ETag", "... saying the ETag is missing");
    fh_check(storage, "no completion after a part without ETag");

    /* An action that does not belong to the file is a caller's mistake, caught early. */
    hfs_lfs_upload_item mismatched = item_for(&g, &a);
    tap_is_int(hfs_lfs_upload_all(NULL, hub, &mismatched, 1, NULL), HFS_EINVALID,
               "an action for another object: HFS_EINVALID");
    error_has("later.bin", "... naming the file");
    hfs_lfs_upload_options bad = HFS_LFS_UPLOAD_OPTIONS_INIT;
    bad.version = 99;
    tap_is_int(hfs_lfs_upload_all(NULL, hub, &noetag, 1, &bad), HFS_EINVALID,
               "options of an unknown version: HFS_EINVALID");
    tap_is_int(hfs_lfs_upload_all(NULL, hub, NULL, 0, NULL), 0, "nothing to upload: 0");

    free(base);
    free(href);
    free(href2);
    hfs_hub_lfs_action_clear(&a);
    hfs_hub_lfs_action_clear(&b);
    hfs_hub_lfs_action_clear(&c);
    hfs_hub_lfs_action_clear(&e);
    hfs_hub_lfs_action_clear(&m);
    file_free(&f);
    file_free(&g);
    file_free(&h);
}

/* ---- files that change --------------------------------------------------------------- */

/* PUTs of parts 1..n to TARGET?part=N, in any order, each answered with its ETag; part `slow`
 * answers 400 ms late. */
static void expect_parts(fakehub *storage, const char *target, int n, int slow)
{
    for (int p = 1; p <= n; p++) {
        char *t = hfs_sprintf("%s?part=%d", target, p);
        char *etag = hfs_sprintf("ETag: \"p%d\"", p);
        fakehub_expect_paced(storage,
                             &(fh_exchange){"PUT", t, NULL, no_auth, NULL, 200,
                                            (const char *const[]){etag, NULL}, NULL},
                             &(fh_pacing){.any_order = true, .delay_ms = p == slow ? 400 : 0});
        free(t);
        free(etag);
    }
}

static void test_changed_files(fakehub *storage, hfs_hub *hub)
{
    /* Changed before the upload: another size (nothing sent), or the same size with other
     * bytes (the PUT is aborted before its last bytes, so no object lands). */
    test_file f = make_file("grown.bin", 4000, 11, false);
    test_file g = make_file("edited.bin", 4000, 12, false);
    test_file ok = make_file("fine.bin", 4000, 13, false);
    hfs_hub_lfs_action a, b, c;
    char *h1 = hfs_sprintf("%s/grown", fakehub_url(storage));
    char *h2 = hfs_sprintf("%s/edited", fakehub_url(storage));
    char *h3 = hfs_sprintf("%s/fine", fakehub_url(storage));
    action_basic(&a, &f, h1, NULL);
    action_basic(&b, &g, h2, NULL);
    action_basic(&c, &ok, h3, NULL);
    FILE *out = fopen(f.path, "ab");
    fputs("more", out);
    fclose(out);
    int fd = open(g.path, O_WRONLY);
    if (pwrite(fd, "EDIT", 4, 100) != 4)
        tap_diag("cannot edit %s", g.path);
    close(fd);
    hfs_lfs_upload_item items[] = {item_for(&f, &a), item_for(&g, &b), item_for(&ok, &c)};
    fakehub_expect(storage,
                   &(fh_exchange){"PUT", "/fine", NULL, no_auth, ok.data, 200, NULL, NULL});
    int results[3] = {1, 1, 1};
    hfs_lfs_upload_options o = options(1, NULL);
    tap_is_int(hfs_lfs_upload_all(results, hub, items, 3, &o), HFS_ESTALE,
               "files changed since the plan: HFS_ESTALE");
    error_has("grown.bin is now 4004 bytes, the plan has 4000", "... the first names the file "
                                                                "and both sizes");
    tap_ok(results[0] == HFS_ESTALE && results[1] == HFS_ESTALE && results[2] == 0,
           "a changed file does not stop the others (%d %d %d)", results[0], results[1],
           results[2]);
    fh_check(storage, "only the unchanged file's PUT arrived whole");

    /* Changed during a basic PUT, ahead of what was sent: the hash of what goes out differs,
     * and the PUT is aborted before its end. (24 MiB and a slow reader keep the end of the
     * file unread when progress first reports bytes moving.) */
    test_file big = make_file("during.bin", 24u << 20, 14, false);
    hfs_hub_lfs_action d;
    char *h4 = hfs_sprintf("%s/during", fakehub_url(storage));
    action_basic(&d, &big, h4, NULL);
    hfs_lfs_upload_item during = item_for(&big, &d);
    fakehub_expect_paced(storage,
                         &(fh_exchange){"PUT", "/during", NULL, no_auth, NULL, 200, NULL, NULL},
                         &(fh_pacing){.throttle_ms = 1});
    progress_log log = {.path = big.path, .at_bytes = 1, .offset = big.size - 1000, .len = 1000};
    hfs_lfs_upload_options po = options(8, &log);
    int result = 1;
    tap_is_int(hfs_lfs_upload_all(&result, hub, &during, 1, &po), HFS_ESTALE,
               "changed during a basic PUT: HFS_ESTALE");
    error_has("during.bin changed since it was planned: its content hashes to",
              "... naming the file and the hash that differs");
    tap_ok(log.fired, "... (the file was changed while its PUT was under way)");
    tap_is_int((long long)fakehub_count(storage), 0,
               "... and the PUT never completed: the server got no whole request");
    fh_forget(storage);

    /* Changed during a multipart upload after every byte was read (the last part is slow
     * to answer): the file's identity changed, so no completion is sent. */
    test_file mp = make_file("during-multi.bin", 40000, 15, false);
    hfs_hub_lfs_action m;
    char *base = hfs_sprintf("%s/dm", fakehub_url(storage));
    action_multipart(&m, &mp, 10000, base, NULL);
    expect_parts(storage, "/dm", 4, 4);
    progress_log mlog = {.path = mp.path, .at_bytes = mp.size, .offset = 0, .len = 10};
    hfs_lfs_upload_item mitem = item_for(&mp, &m);
    hfs_lfs_upload_options mo = options(8, &mlog);
    tap_is_int(hfs_lfs_upload_all(&result, hub, &mitem, 1, &mo), HFS_ESTALE,
               "changed during a multipart upload: HFS_ESTALE");
    error_has("during-multi.bin changed while it was being uploaded", "... naming the file");
    fh_check(storage, "every part arrived, and no completion was sent");

    /* Cut short once every part was read for sending, while the first part's answer (and so
     * the hash of the parts behind it, read again) is still to come: not completed. */
    test_file cut = make_file("cut-multi.bin", 40000, 16, false);
    hfs_hub_lfs_action cm;
    char *cut_base = hfs_sprintf("%s/cm", fakehub_url(storage));
    action_multipart(&cm, &cut, 10000, cut_base, NULL);
    expect_parts(storage, "/cm", 4, 1);
    progress_log clog = {.path = cut.path, .at_bytes = cut.size, .offset = 5000, .truncate = true};
    hfs_lfs_upload_item citem = item_for(&cut, &cm);
    hfs_lfs_upload_options co = options(8, &clog);
    tap_is_int(hfs_lfs_upload_all(&result, hub, &citem, 1, &co), HFS_ESTALE,
               "cut short during a multipart upload: HFS_ESTALE");
    tap_ok(clog.fired, "... (the file was cut while its parts were under way)");
    error_has("cut-multi.bin", "... naming the file");
    tap_ok(strstr(hfs_error_last(), "became shorter while it was being uploaded") ||
               strstr(hfs_error_last(), "changed while it was being uploaded"),
           "... as a file that changed during the upload: %s", hfs_error_last());
    fh_check(storage, "every part arrived, and no completion was sent");

    free(cut_base);
    hfs_hub_lfs_action_clear(&cm);
    file_free(&cut);
    free(h1);
    free(h2);
    free(h3);
    free(h4);
    free(base);
    hfs_hub_lfs_action_clear(&a);
    hfs_hub_lfs_action_clear(&b);
    hfs_hub_lfs_action_clear(&c);
    hfs_hub_lfs_action_clear(&d);
    hfs_hub_lfs_action_clear(&m);
    file_free(&f);
    file_free(&g);
    file_free(&ok);
    file_free(&big);
    file_free(&mp);
}

/* The send check of `size` bytes, with the byte at `flip` changed when flip < size. */
static void check_of(char out[HFS_CHECK_HEX], const char *data, size_t size, size_t flip)
{
    hfs_hasher *h = hfs_hasher_new(false, false, size);
    if (!hfs_hasher_add_check(h))
        tap_diag("this OpenSSL has no Poly1305");
    if (flip < size) {
        hfs_hasher_update(h, data, flip);
        hfs_hasher_update(h, "\x01", 1);
        hfs_hasher_update(h, data + flip + 1, size - flip - 1);
    } else {
        hfs_hasher_update(h, data, size);
    }
    if (!hfs_hasher_check(h, out))
        out[0] = '\0';
    hfs_hasher_free(h);
}

/* An item with the plan's send check is checked against it instead of its sha256: the right
 * check lets it through (basic, and multipart with parts answered out of order); the check of
 * other bytes stops it like a changed file, before the PUT's end or the completion. */
static void test_send_check(fakehub *storage, hfs_hub *hub)
{
    test_file f = make_file("checked.bin", 100000, 21, true);
    test_file mp = make_file("checked-multi.bin", 50000, 22, true);
    char good[HFS_CHECK_HEX], bad[HFS_CHECK_HEX], mgood[HFS_CHECK_HEX], mbad[HFS_CHECK_HEX];
    check_of(good, f.data, f.size, f.size);
    check_of(bad, f.data, f.size, 99999);
    check_of(mgood, mp.data, mp.size, mp.size);
    check_of(mbad, mp.data, mp.size, 3);
    hfs_hub_lfs_action a, m;
    char *href = hfs_sprintf("%s/checked", fakehub_url(storage));
    char *base = hfs_sprintf("%s/sc", fakehub_url(storage));
    action_basic(&a, &f, href, NULL);
    action_multipart(&m, &mp, 10000, base, NULL);
    int result = 1;

    hfs_lfs_upload_item item = item_for(&f, &a);
    item.check = good;
    fakehub_expect(storage, &(fh_exchange){"PUT", "/checked", NULL, no_auth, NULL, 200, NULL, ""});
    hfs_lfs_upload_options o = options(8, NULL);
    tap_is_int(hfs_lfs_upload_all(&result, hub, &item, 1, &o), 0,
               "send check: a basic PUT whose bytes match the plan's check succeeds");
    const fh_request *put = received(storage, "PUT", "/checked");
    tap_ok(put && put->body_len == f.size && memcmp(put->body, f.data, f.size) == 0,
           "... and sent the file whole");
    fh_check(storage, "... one PUT");
    fh_forget(storage);

    item.check = bad;
    tap_is_int(hfs_lfs_upload_all(&result, hub, &item, 1, &o), HFS_ESTALE,
               "send check: bytes that differ from the plan's check (its last byte): "
               "HFS_ESTALE, though the sha256 is right");
    error_has("checked.bin changed since it was planned: the bytes read to be sent are not",
              "... naming the file");
    tap_is_int((long long)fakehub_count(storage), 0,
               "... and the PUT never completed: the server got no whole request");
    fh_forget(storage);

    item.check = "";
    fakehub_expect(storage, &(fh_exchange){"PUT", "/checked", NULL, no_auth, NULL, 200, NULL, ""});
    tap_is_int(hfs_lfs_upload_all(&result, hub, &item, 1, &o), 0,
               "send check: an empty one means none (the sha256 is taken as sent)");
    fh_check(storage, "... one PUT");
    fh_forget(storage);

    hfs_lfs_upload_item mitem = item_for(&mp, &m);
    mitem.check = mgood;
    expect_parts(storage, "/sc", 5, 1);
    fakehub_expect(storage, &(fh_exchange){"POST", "/sc/complete", NULL, no_auth, NULL, 200, NULL,
                                           "{\"success\":true}"});
    tap_is_int(hfs_lfs_upload_all(&result, hub, &mitem, 1, &o), 0,
               "send check: a multipart upload, part 1 answered last, matches and completes");
    fh_check(storage, "... five parts, then the completion");
    fh_forget(storage);

    mitem.check = mbad;
    expect_parts(storage, "/sc", 5, 1);
    tap_is_int(hfs_lfs_upload_all(&result, hub, &mitem, 1, &o), HFS_ESTALE,
               "send check: a multipart upload whose bytes differ from it: HFS_ESTALE");
    error_has("checked-multi.bin changed since it was planned", "... naming the file");
    fh_check(storage, "... every part arrived, and no completion was sent");
    fh_forget(storage);

    free(href);
    free(base);
    hfs_hub_lfs_action_clear(&a);
    hfs_hub_lfs_action_clear(&m);
    file_free(&f);
    file_free(&mp);
}

/* The wait before a retry, used to change the file between two attempts of its PUT. */
static void edit_on_sleep(void *ctx, long ms)
{
    (void)ms;
    int fd = open(ctx, O_WRONLY);
    if (fd < 0 || pwrite(fd, "EDIT", 4, 0) != 4)
        tap_diag("cannot edit %s", (const char *)ctx);
    if (fd >= 0)
        close(fd);
}

static void test_changed_between_attempts(fakehub *fh, fakehub *storage)
{
    test_file f = make_file("between.bin", 30000, 17, false);
    hfs_hub_lfs_action a;
    char *href = hfs_sprintf("%s/between", fakehub_url(storage));
    action_basic(&a, &f, href, NULL);
    hfs_lfs_upload_item item = item_for(&f, &a);
    hfs_hub_options o = HFS_HUB_OPTIONS_INIT;
    o.endpoint = fakehub_url(fh);
    o.token = TEST_TOKEN;
    o.sleep_ms = edit_on_sleep;
    o.sleep_ctx = f.path;
    o.log = drop_log;
    hfs_hub *hub = NULL;
    if (hfs_hub_new(&hub, &o) != 0) {
        tap_ok(false, "between attempts: a session opens: %s", hfs_error_last());
        goto done;
    }
    /* The first attempt sends every byte (all hashed, all good) and gets a 503; the file is
     * then changed where it was already hashed. The retry must not send it as if nothing
     * happened: the identity check at its last byte stops it. */
    fakehub_expect(storage,
                   &(fh_exchange){"PUT", "/between", NULL, no_auth, f.data, 503, NULL, "busy"});
    int result = 1;
    tap_is_int(hfs_lfs_upload_all(&result, hub, &item, 1, NULL), HFS_ESTALE,
               "changed between two attempts of a PUT: HFS_ESTALE");
    error_has("between.bin changed while it was being uploaded", "... naming the file");
    fh_check(storage, "between attempts: only the first attempt arrived whole");
done:
    hfs_hub_free(hub);
    free(href);
    hfs_hub_lfs_action_clear(&a);
    file_free(&f);
}

static void test_cancel(fakehub *storage, hfs_hub *hub)
{
    test_file big = make_file("cancel.bin", 24u << 20, 16, false);
    hfs_hub_lfs_action a;
    char *href = hfs_sprintf("%s/cancel", fakehub_url(storage));
    action_basic(&a, &big, href, NULL);
    hfs_lfs_upload_item item = item_for(&big, &a);
    fakehub_expect_paced(storage,
                         &(fh_exchange){"PUT", "/cancel", NULL, no_auth, NULL, 200, NULL, NULL},
                         &(fh_pacing){.throttle_ms = 1});
    volatile int cancel = 0;
    progress_log log = {.at_bytes = 1, .cancel = &cancel};
    hfs_lfs_upload_options o = options(8, &log);
    o.cancel = &cancel;
    int result = 1;
    double start = hfs_now();
    tap_is_int(hfs_lfs_upload_all(&result, hub, &item, 1, &o), HFS_ERROR, "cancel: HFS_ERROR");
    double took = hfs_now() - start;
    error_has("interrupted", "... saying it was interrupted");
    tap_is_int(result, HFS_ERROR, "... and the file is not done");
    tap_ok(took < 2.0, "... soon after the flag was set (%.2f s)", took);
    tap_is_int((long long)fakehub_count(storage), 0, "... with the PUT cut short");
    fh_forget(storage);
    free(href);
    hfs_hub_lfs_action_clear(&a);
    file_free(&big);
}

/* ---- against the local hub ------------------------------------------------------------- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Uploads three objects (one basic, two multipart) to a fresh repo of a local hub started
 * with `faults`, then asks the batch again: the hub must have every object (it checks each
 * one's sha256 as it stores it). */
static void local_hub_round(const char *name, const char *const *faults, size_t n_faults,
                            const char *const *must_log, sleep_log *sleeps)
{
    char *root = hfs_path_join(tmpdir, name);
    char *log_path = hfs_sprintf("%s.log", root);
    const char *tokens[] = {TEST_TOKEN};
    hfs_hubd_options ho = HFS_HUBD_OPTIONS_INIT;
    ho.root = root;
    ho.listen = "127.0.0.1:0";
    ho.tokens = tokens;
    ho.n_tokens = 1;
    ho.multipart_threshold = 1u << 20;
    ho.faults = faults;
    ho.n_faults = n_faults;
    ho.access_log = log_path;
    hfs_hubd *hubd = NULL;
    if (hfs_hubd_start(&hubd, &ho) != 0) {
        tap_ok(false, "%s: the local hub starts: %s", name, hfs_error_last());
        free(root);
        free(log_path);
        return;
    }
    hfs_hub *hub = test_hub(hfs_hubd_url(hubd), TEST_TOKEN, sleeps, NULL);
    hfs_hub_repo repo = {HFS_REPO_MODEL, "user/transfer"};
    char *url = NULL;
    tap_ok(hfs_hub_repo_create(&url, hub, &repo, NULL) == 0, "%s: repo created", name);
    free(url);

    test_file files[3] = {make_file("hub-small.bin", 70000, 21, true),
                          make_file("hub-six-parts.bin", (5u << 20) + 12345, 22, true),
                          make_file("hub-two-parts.bin", (1u << 20) + 1, 23, true)};
    hfs_hub_lfs_object objects[3];
    hfs_hub_lfs_action actions[3], again[3];
    hfs_lfs_upload_item items[3];
    for (int i = 0; i < 3; i++)
        objects[i] = (hfs_hub_lfs_object){files[i].sha256, files[i].size};
    int rc = hfs_hub_lfs_batch(actions, hub, &repo, "main", objects, 3);
    tap_ok(rc == 0, "%s: LFS batch", name);
    tap_ok(rc == 0 && actions[0].kind == HFS_HUB_LFS_BASIC &&
               actions[1].kind == HFS_HUB_LFS_MULTIPART && actions[1].n_parts == 6 &&
               actions[2].kind == HFS_HUB_LFS_MULTIPART && actions[2].n_parts == 2,
           "%s: one basic PUT, multipart in 6 and 2 parts", name);
    if (rc == 0) {
        for (int i = 0; i < 3; i++)
            items[i] = item_for(&files[i], &actions[i]);
        int results[3] = {1, 1, 1};
        hfs_lfs_upload_options o = options(4, NULL);
        rc = hfs_lfs_upload_all(results, hub, items, 3, &o);
        if (!tap_ok(rc == 0, "%s: every object uploaded", name))
            tap_diag("  %s", hfs_error_last());
        tap_ok(hfs_hub_lfs_batch(again, hub, &repo, "main", objects, 3) == 0, "%s: LFS batch again",
               name);
        tap_ok(again[0].kind == HFS_HUB_LFS_PRESENT && again[1].kind == HFS_HUB_LFS_PRESENT &&
                   again[2].kind == HFS_HUB_LFS_PRESENT,
               "%s: the hub now has all three objects, their sha256 checked", name);
        for (int i = 0; i < 3; i++) {
            hfs_hub_lfs_action_clear(&actions[i]);
            hfs_hub_lfs_action_clear(&again[i]);
        }
    }
    for (int i = 0; i < 3; i++)
        file_free(&files[i]);
    hfs_hub_free(hub);
    hfs_hubd_stop(hubd);
    nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    char *log = NULL;
    size_t log_len = 0;
    hfs_read_file(&log, &log_len, log_path, 1u << 20);
    for (const char *const *m = must_log; m && *m; m++)
        tap_ok(log && strstr(log, *m), "%s: the hub's access log shows \"%s\"", name, *m);
    free(log);
    unlink(log_path);
    free(root);
    free(log_path);
}

static void test_local_hub(void)
{
    sleep_log sleeps = {0};
    local_hub_round("hub-clean", NULL, 0, NULL, &sleeps);
    tap_is_int(sleeps.n, 0, "hub-clean: no retry was needed");
    const char *faults[] = {"lfs-part:drop=300000,nth=3", "lfs-put:status=503",
                            "lfs-complete:status=500", "lfs-verify:status=429,retry_after=0"};
    /* Each fault happened (the log says so) and the upload still succeeded. A dropped part
     * on a reused connection may be resent by libcurl itself, without a wait of ours. */
    const char *const must_log[] = {"(dropped) in=300000",
                                    " 503 in=", " 500 in=", " 429 in=", NULL};
    sleeps.n = 0;
    local_hub_round("hub-faults", faults, HFS_ARRAY_LEN(faults), must_log, &sleeps);
    tap_ok(sleeps.n >= 3,
           "hub-faults: the 503 PUT, the 500 completion and the 429 verify were "
           "retried after a wait (%d waits)",
           sleeps.n);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "%s/hfsync-transfer-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        printf("Bail out! cannot create a temporary directory\n");
        return 1;
    }
    fakehub *fh = fakehub_start();
    fakehub *storage = fakehub_start();
    sleep_log sleeps = {0};
    hfs_hub *hub = test_hub(fakehub_url(fh), TEST_TOKEN, &sleeps, NULL);

    test_basic(fh, storage, hub);
    test_verbose(fh, storage);
    test_multipart(fh, storage, hub);
    test_many(storage, hub);
    test_order(storage, hub);
    test_shared_slots(storage, hub);
    test_retries(storage, hub, &sleeps);
    test_retries_exhausted(storage, hub, &sleeps);
    test_redirects(fh, storage, hub);
    test_refusals(storage, hub);
    test_changed_files(storage, hub);
    test_changed_between_attempts(fh, storage);
    test_send_check(storage, hub);
    test_cancel(storage, hub);
    test_local_hub();

    hfs_hub_free(hub);
    fakehub_stop(fh);
    fakehub_stop(storage);
    rmdir(tmpdir);
    return tap_done();
}
