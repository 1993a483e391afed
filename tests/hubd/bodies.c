/* Tests the NDJSON commit parser of src/hubd/bodies.c where it cuts a long base64 "content"
 * out of its line before jansson parses the rest: every body is parsed with and without that
 * shortcut, and both must give the same operations, contents, refusals and messages. Also
 * hubd_base64_decode, whose one-call path for plain base64 must agree with OpenSSL's
 * line-by-line decoder on every text. */
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"
#include "hubd/bodies.h"
#include "tap.h"

typedef struct {
    int rc;
    unsigned status;
    char *message;
    hfs_buf summary; /* every op as "kind path <content>" lines */
} outcome;

static int spool(void *ctx)
{
    (void)ctx;
    char path[] = "/tmp/hfsync-bodies-XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0)
        unlink(path);
    return fd;
}

static void add_content(hfs_buf *b, const hubd_op *op)
{
    if (op->content_fd < 0) {
        hfs_buf_add(b, op->content, op->content_len);
        return;
    }
    char chunk[65536];
    ssize_t got;
    off_t at = 0;
    while ((got = pread(op->content_fd, chunk, sizeof(chunk), at)) > 0) {
        hfs_buf_add(b, chunk, (size_t)got);
        at += got;
    }
}

static outcome parse(const char *body, bool lift)
{
    hubd_commit_hooks hooks = {.spool = spool};
    hubd_commit_body out;
    hubd_refusal why = {0};
    outcome o = {0};
    hubd_commit_lift = lift;
    o.rc = hubd_parse_commit(&out, &why, body, strlen(body), -1, &hooks);
    hubd_commit_lift = true;
    o.status = why.status;
    o.message = hfs_strdup(o.rc < 0 ? hfs_error_last() : "");
    for (size_t i = 0; i < out.n_ops; i++) {
        hfs_buf_printf(&o.summary, "%d %s <", out.ops[i].kind, out.ops[i].path);
        if (out.ops[i].kind == HUBD_OP_FILE)
            add_content(&o.summary, &out.ops[i]);
        hfs_buf_puts(&o.summary, ">\n");
    }
    hubd_commit_body_clear(&out);
    return o;
}

static void outcome_free(outcome *o)
{
    free(o->message);
    hfs_buf_free(&o->summary);
}

/* How many of the body's lines have a content to lift. */
static int lifted_lines(const char *body)
{
    int n = 0;
    for (const char *line = body; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        size_t at, span;
        if (hubd_commit_content_span(line, len, &at, &span))
            n++;
        line += len + (end != NULL);
    }
    return n;
}

/* Both ways agree, with the result, content and message expected; `lifts` lines are lifted. */
static void same(const char *body, const char *name, int lifts, int want_rc,
                 const char *want_content, const char *want_message)
{
    outcome a = parse(body, true), b = parse(body, false);
    bool agree = a.rc == b.rc && a.status == b.status && strcmp(a.message, b.message) == 0 &&
                 a.summary.len == b.summary.len &&
                 (a.summary.len == 0 || memcmp(a.summary.ptr, b.summary.ptr, a.summary.len) == 0);
    if (!tap_ok(agree, "%s: the same with and without lifting", name))
        tap_diag("lifted: rc %d status %u '%s' (%zu bytes of ops)\njansson: rc %d status %u '%s' "
                 "(%zu bytes of ops)",
                 a.rc, a.status, a.message, a.summary.len, b.rc, b.status, b.message,
                 b.summary.len);
    tap_is_int(lifted_lines(body), lifts, "... lines whose content is lifted");
    tap_is_int(a.rc < 0 ? a.rc : 0, want_rc, "... its result");
    if (want_content)
        tap_ok(a.summary.len && strstr(a.summary.ptr, want_content) != NULL,
               "... the file's content is the one sent");
    if (want_message)
        tap_ok(strstr(a.message, want_message) != NULL, "... the message: %s", a.message);
    outcome_free(&a);
    outcome_free(&b);
}

#define HEADER "{\"key\":\"header\",\"value\":{\"summary\":\"s\"}}\n"

/* same() on a body of the header line and one line made from fmt. */
static void __attribute__((format(printf, 6, 7)))
check(const char *name, int lifts, int want_rc, const char *want_content, const char *want_message,
      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *line = hfs_vsprintf(fmt, ap);
    va_end(ap);
    char *body = hfs_sprintf(HEADER "%s", line);
    same(body, name, lifts, want_rc, want_content, want_message);
    free(body);
    free(line);
}

/* base64 of `n` bytes of `c` (so the decoded content is easy to look for) */
static char *b64_of(char c, size_t n, char **plain)
{
    *plain = hfs_malloc(n + 1);
    memset(*plain, c, n);
    (*plain)[n] = '\0';
    unsigned char *text = hfs_malloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock(text, (unsigned char *)*plain, (int)n);
    return (char *)text;
}

/* hubd_base64_decode against EVP_DecodeUpdate (what it used for every text before): same
 * acceptance, same bytes. */
static void decode_agrees(const char *name, const char *text)
{
    size_t len = strlen(text);
    unsigned char *want = hfs_malloc(len + 4);
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    int outl = 0, tail = 0;
    EVP_DecodeInit(ctx);
    bool want_ok = EVP_DecodeUpdate(ctx, want, &outl, (const unsigned char *)text, (int)len) >= 0 &&
                   EVP_DecodeFinal(ctx, want + outl, &tail) == 1;
    EVP_ENCODE_CTX_free(ctx);
    unsigned char *got = NULL;
    size_t got_len = 0;
    bool got_ok = hubd_base64_decode(&got, &got_len, text, len) == 0;
    bool same = got_ok == want_ok &&
                (!got_ok || (got_len == (size_t)(outl + tail) && memcmp(got, want, got_len) == 0));
    tap_ok(same, "base64 decode, %s: %s as OpenSSL's decoder", name,
           want_ok ? "the same bytes" : "refused");
    if (!same)
        tap_diag("OpenSSL: %s, %d bytes; hubd_base64_decode: %s, %zu bytes",
                 want_ok ? "ok" : "refused", outl + tail, got_ok ? "ok" : "refused", got_len);
    free(want);
    free(got);
}

static void test_base64_decode(void)
{
    static const char *const texts[][2] = {
        {"no padding", "aGVsbG8h"},
        {"one '='", "aGVsbG8="},
        {"two '='", "aGVsbA=="},
        {"every alphabet character",
         "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"},
        {"empty", ""},
        {"a line break inside", "aGVs\nbG8h"},
        {"a trailing line break", "aGVsbG8h\n"},
        {"a leading space", " aGVsbG8h"},
        {"'=' inside", "aG=sbG8h"},
        {"'=' then a character", "aGVsbG=h"},
        {"three '='", "aGVs===="},
        {"not whole quads", "aGVsbG8"},
        {"a '!'", "aGVs!G8h"},
        {"a '-' (URL alphabet)", "aGVs-G8h"},
        {"one character", "a"},
        {"only padding", "===="},
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        decode_agrees(texts[i][0], texts[i][1]);
    /* every length 0..300 of encoded bytes 0..255, so every padding and tail is met */
    unsigned char raw[300];
    for (size_t i = 0; i < sizeof(raw); i++)
        raw[i] = (unsigned char)(i * 37 + 11);
    char text[4 * 100 + 8];
    bool all = true;
    for (int n = 0; n <= 300; n++) {
        EVP_EncodeBlock((unsigned char *)text, raw, n % 300);
        unsigned char *got = NULL;
        size_t got_len = 0;
        all &= hubd_base64_decode(&got, &got_len, text, strlen(text)) == 0 &&
               got_len == (size_t)(n % 300) && memcmp(got, raw, got_len) == 0;
        free(got);
    }
    tap_ok(all, "base64 decode: encodings of 0 to 299 bytes come back whole");
}

int main(void)
{
    test_base64_decode();
    char *pa, *pb;
    char *a = b64_of('a', 9000, &pa); /* 12,000 characters: lifted */
    char *b = b64_of('b', 6000, &pb);
    char *big_plain;
    char *big = b64_of('z', 3u << 20, &big_plain); /* past the in-memory limit: spooled */

    check("a plain file line", 1, 0, pa, NULL,
          "{\"key\":\"file\",\"value\":{\"content\":\"%s\",\"path\":"
          "\"a.bin\",\"encoding\":\"base64\"}}\n",
          a);

    check("3 MiB, content last, value before key", 1, 0, NULL, NULL,
          "{\"value\":{\"path\":\"big.bin\",\"encoding\":\"base64\","
          "\"content\":\"%s\"},\"key\":\"file\"}\n",
          big);

    check("utf-8 content of base64 characters", 1, 0, a, NULL,
          "{\"key\":\"file\",\"value\":{\"content\":\"%s\",\"path\":\"u.txt\","
          "\"encoding\":\"utf-8\"}}\n",
          a);

    /* Two "content" members: jansson keeps the last. */
    check("two contents", 0, 0, pb, NULL,
          "{\"key\":\"file\",\"value\":{\"content\":\"%s\",\"path\":\"d.bin\","
          "\"content\":\"%s\"}}\n",
          a, b);

    /* A second content spelled with an escape: the same key to jansson. */
    check("an escaped second content", 0, 0, pb, NULL,
          "{\"key\":\"file\",\"value\":{\"content\":\"%s\",\"path\":\"e.bin\","
          "\"con\\u0074ent\":\"%s\"}}\n",
          a, b);

    /* Two "value" members: the last one counts. */
    check("two values", 0, 0, pb, NULL,
          "{\"key\":\"file\",\"value\":{\"content\":\"%s\",\"path\":\"x\"},"
          "\"value\":{\"content\":\"%s\",\"path\":\"v.bin\"}}\n",
          a, b);

    /* A content in another member, and deeper: not the file's. */
    check("contents elsewhere in the line", 1, 0, pb, NULL,
          "{\"key\":\"file\",\"other\":{\"content\":\"%s\"},\"value\":{"
          "\"path\":\"o.bin\",\"meta\":{\"content\":\"%s\"},\"content\":\"%s\"}}\n",
          a, a, b);

    /* Escapes in the content ("\/" is "/"): jansson reads it. */
    char *slashed = hfs_sprintf("%.*s\\/%s", 100, a, a + 101);
    check("an escaped slash in the content", 0, 0, NULL, NULL,
          "{\"key\":\"file\",\"value\":{\"content\":\"%s\",\"path\":\"s.bin\"}}\n", slashed);
    free(slashed);

    /* Quotes and braces inside other strings do not confuse the scan. */
    check("quotes, braces and backslashes in the path", 1, 0, pa, NULL,
          "{\"key\":\"file\",\"value\":{\"path\":\"q.bin\",\"note\":\"q \\\"}{"
          "\\\\\\\" \\\"content\\\":\\\"x\",\"content\":\"%s\"}}\n",
          a);

    /* Not base64 ('!' inside): not lifted, and refused as without lifting. */
    char *spaced = hfs_sprintf("%.*s!%s", 100, a, a + 101);
    check("a '!' in the base64", 0, HFS_EINVALID, NULL, "not valid base64",
          "{\"key\":\"file\",\"value\":{\"content\":\"%s\",\"path\":\"p.bin\"}}\n", spaced);
    free(spaced);

    /* Broken JSON after the content: the column is the whole line's. */
    check("bad JSON after a long content", 1, HFS_EINVALID, NULL, "column 12044",
          "{\"key\":\"file\",\"value\":{\"content\":\"%s\",\"path\":}}\n", a);

    /* A content not in an object, and one that is not a string. */
    check("value is an array", 0, HFS_EINVALID, NULL, NULL,
          "{\"key\":\"file\",\"value\":[{\"content\":\"%s\"}]}\n", a);
    check("an lfsFile line with a content", 1, HFS_EINVALID, NULL, "does not exist",
          "{\"key\":\"lfsFile\",\"value\":{\"content\":\"%s\",\"path\":\"l\","
          "\"oid\":\"%064d\"}}\n",
          a, 0);

    /* Many lines, lifted and not, in one body. */
    hfs_buf many = HFS_BUF_INIT;
    hfs_buf_puts(&many, HEADER);
    for (int i = 0; i < 50; i++)
        hfs_buf_printf(&many,
                       "{\"key\":\"file\",\"value\":{\"content\":\"%s\",\"path\":\"m/%d\"}}\n",
                       i % 2 ? a : "aGk=", i);
    same(many.ptr, "fifty lines", 25, 0, pa, NULL);
    hfs_buf_free(&many);

    free(a);
    free(b);
    free(big);
    free(pa);
    free(pb);
    free(big_plain);
    return tap_done();
}
