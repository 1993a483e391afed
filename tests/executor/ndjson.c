/* Tests for src/executor/ndjson.c (the commit body, byte for byte: lines, base64 streamed in
 * chunks, the pin checked as it goes) and the small pure helpers of the executor. */
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/hash.h"
#include "common/util.h"
#include "executor/executor.h"
#include "tap.h"

static char dir[256];

static void write_file(const char *name, const void *data, size_t len)
{
    char *path = hfs_path_join(dir, name);
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, len, f);
    fclose(f);
    free(path);
}

static hfs_plan_op regular_op(const char *path, const char *local, const void *data, size_t len)
{
    hfs_plan_op op = {0};
    op.kind = HFS_OP_ADD;
    op.upload = true;
    op.path = (char *)path;
    op.local = (char *)local;
    op.size = len;
    hfs_git_blob_sha1_hex(op.sha1, data, len);
    return op;
}

/* Pulls the whole body in reads of `step` bytes; NULL when a read fails. */
static char *pull(exec_ndjson *nd, size_t step, size_t *len)
{
    hfs_hub_body body = exec_ndjson_body(nd);
    hfs_buf out = HFS_BUF_INIT;
    char *buf = hfs_malloc(step);
    for (;;) {
        ssize_t n = body.read(body.ctx, buf, step);
        if (n < 0) {
            free(buf);
            hfs_buf_free(&out);
            return NULL;
        }
        if (n == 0)
            break;
        hfs_buf_add(&out, buf, (size_t)n);
    }
    free(buf);
    *len = out.len;
    return hfs_buf_detach(&out);
}

static char *b64(const void *data, size_t len)
{
    char *out = hfs_malloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

static void test_lines(void)
{
    const char *text = "hello\n";
    size_t big_len = 200001; /* several chunks, not a multiple of 3 */
    unsigned char *big = hfs_malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (unsigned char)(i * 7 + 3);
    write_file("a.txt", text, strlen(text));
    write_file("big.bin", big, big_len);
    write_file("empty", "", 0);

    hfs_plan_op ops[7];
    ops[0] = regular_op("a.txt", "a.txt", text, strlen(text));
    ops[1] = regular_op("dir/sp ace #?%+\xc3\xa9\"q\".txt", "big.bin", big, big_len);
    ops[2] = regular_op("empty.txt", "empty", "", 0);
    memset(&ops[3], 0, sizeof(ops[3]));
    ops[3].kind = HFS_OP_ADD;
    ops[3].lfs = true;
    ops[3].path = "model.safetensors";
    ops[3].local = "big.bin";
    ops[3].size = 123456789;
    snprintf(ops[3].sha256, sizeof(ops[3].sha256), "%064d", 7);
    memset(&ops[4], 0, sizeof(ops[4]));
    ops[4].kind = HFS_OP_DELETE;
    ops[4].path = "old.txt";
    memset(&ops[5], 0, sizeof(ops[5]));
    ops[5].kind = HFS_OP_DELETE;
    ops[5].path = "old-folder/";
    ops[6] = regular_op("ignored.txt", "a.txt", text, strlen(text));

    exec_entry entries[7];
    for (int i = 0; i < 7; i++)
        entries[i] = (exec_entry){&ops[i], i == 6, -1};
    hfs_plan_sync sync = {0};
    sync.name = "s";
    sync.folder = dir;
    exec_ndjson_spec spec = {"Sum \"mary\"",
                             "desc\n\nhfsync-plan: x",
                             "0123456789abcdef0123456789abcdef01234567",
                             &sync,
                             entries,
                             7,
                             NULL,
                             NULL};
    exec_ndjson *nd = exec_ndjson_new(&spec);
    tap_is_int((long long)exec_ndjson_inline_bytes(nd), (long long)(strlen(text) + big_len),
               "inline bytes count the regular files not ignored");

    char *t64 = b64(text, strlen(text)), *big64 = b64(big, big_len);
    char *want = hfs_sprintf(
        "{\"key\":\"header\",\"value\":{\"summary\":\"Sum \\\"mary\\\"\",\"description\":"
        "\"desc\\n\\nhfsync-plan: "
        "x\",\"parentCommit\":\"0123456789abcdef0123456789abcdef01234567\"}}\n"
        "{\"key\":\"file\",\"value\":{\"path\":\"a.txt\",\"encoding\":\"base64\",\"content\":\"%"
        "s\"}}\n"
        "{\"key\":\"file\",\"value\":{\"path\":\"dir/sp ace "
        "#?%%+\xc3\xa9\\\"q\\\".txt\",\"encoding\":"
        "\"base64\",\"content\":\"%s\"}}\n"
        "{\"key\":\"file\",\"value\":{\"path\":\"empty.txt\",\"encoding\":\"base64\",\"content\":"
        "\"\"}}\n"
        "{\"key\":\"lfsFile\",\"value\":{\"path\":\"model.safetensors\",\"algo\":\"sha256\","
        "\"oid\":"
        "\"%064d\",\"size\":123456789}}\n"
        "{\"key\":\"deletedFile\",\"value\":{\"path\":\"old.txt\"}}\n"
        "{\"key\":\"deletedFolder\",\"value\":{\"path\":\"old-folder/\"}}\n",
        t64, big64, 7);
    size_t len = 0;
    char *got = pull(nd, 1000, &len);
    tap_ok(got && len == strlen(want) && memcmp(got, want, len) == 0,
           "the body is exactly the expected NDJSON (header, files, lfsFile, deletes)");
    if (got && strcmp(got, want) != 0)
        tap_diag("got %zu bytes, want %zu", len, strlen(want));
    tap_ok(!exec_ndjson_failed(nd), "the body did not fail");

    /* Every line parses as JSON, and the awkward path survives exactly. */
    bool all_json = got != NULL;
    json_t *second = NULL;
    for (char *save = NULL, *line = got ? strtok_r(got, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        json_error_t e;
        json_t *j = json_loads(line, 0, &e);
        all_json &= j != NULL;
        if (j && !second && strcmp(json_string_value(json_object_get(j, "key")), "file") == 0 &&
            strstr(line, "dir/"))
            second = json_incref(j);
        json_decref(j);
    }
    tap_ok(all_json, "every line is a JSON object");
    tap_is_str(second ? json_string_value(json_object_get(json_object_get(second, "value"), "path"))
                      : NULL,
               "dir/sp ace #?%+\xc3\xa9\"q\".txt", "the path travels exactly (no URL quoting)");
    json_decref(second);
    free(got);

    /* The hub client rewinds before a resend (a 307): the same bytes again. */
    hfs_hub_body body = exec_ndjson_body(nd);
    tap_is_int(body.rewind(body.ctx), 0, "rewind succeeds");
    got = pull(nd, 65536, &len);
    tap_ok(got && len == strlen(want) && memcmp(got, want, len) == 0,
           "after a rewind the body is the same, read in other sizes");
    free(got);
    exec_ndjson_free(nd);

    /* A file that changed after it was planned: same size, other content. */
    big[100000] ^= 0xff;
    write_file("big.bin", big, big_len);
    exec_entry one[1] = {{&ops[1], false, -1}};
    exec_ndjson_spec spec1 = {"s", "", NULL, &sync, one, 1, NULL, NULL};
    nd = exec_ndjson_new(&spec1);
    hfs_error_clear();
    got = pull(nd, 4096, &len);
    tap_ok(got == NULL, "a file whose content changed fails the body");
    tap_is_int(hfs_error_last_code(), HFS_ESTALE, "... with HFS_ESTALE");
    tap_ok(strstr(hfs_error_last(), "big.bin") != NULL &&
               strstr(hfs_error_last(), "nothing was committed") != NULL,
           "... naming the file: %s", hfs_error_last());
    tap_ok(exec_ndjson_failed(nd), "... and the body says it failed itself");
    free(got);
    exec_ndjson_free(nd);

    /* A file that shrank. */
    write_file("big.bin", big, 5000);
    nd = exec_ndjson_new(&spec1);
    got = pull(nd, 4096, &len);
    tap_ok(got == NULL && hfs_error_last_code() == HFS_ESTALE &&
               strstr(hfs_error_last(), "ends after 5000 bytes"),
           "a file that shrank fails the body: %s", hfs_error_last());
    free(got);
    exec_ndjson_free(nd);

    /* A regular copy reads the downloaded content from its fd, not the local file. */
    char *cpath = hfs_path_join(dir, "copy.tmp");
    write_file("copy.tmp", text, strlen(text));
    int fd = open(cpath, O_RDONLY);
    hfs_plan_op cop = regular_op("copied.txt", "gone-locally", text, strlen(text));
    cop.kind = HFS_OP_COPY;
    cop.from = "a.txt";
    exec_entry ce[1] = {{&cop, false, fd}};
    exec_ndjson_spec spec2 = {"s", "", NULL, &sync, ce, 1, NULL, NULL};
    nd = exec_ndjson_new(&spec2);
    got = pull(nd, 4096, &len);
    tap_ok(got && strstr(got, "\"path\":\"copied.txt\"") && strstr(got, t64),
           "a regular copy is committed inline from the downloaded content");
    free(got);
    exec_ndjson_free(nd);
    tap_ok(fcntl(fd, F_GETFD) != -1, "the copy's fd stays open (the caller owns it)");
    close(fd);
    free(cpath);

    free(want);
    free(t64);
    free(big64);
    free(big);
}

static void test_lines_helper(void)
{
    tap_ok(exec_has_line("a\nhfsync-plan: abc\nb", "hfsync-plan: abc"), "a line in the middle");
    tap_ok(exec_has_line("hfsync-plan: abc", "hfsync-plan: abc"), "the only line");
    tap_ok(!exec_has_line("hfsync-plan: abcd", "hfsync-plan: abc"), "a longer line is another");
    tap_ok(!exec_has_line("xhfsync-plan: abc", "hfsync-plan: abc"), "so is one with a prefix");
    tap_ok(!exec_has_line("hfsync-step: 1/10", "hfsync-step: 1/1"), "step 1/1 is not 1/10");
    tap_ok(exec_has_line("d\r\nhfsync-plan: abc\r\n", "hfsync-plan: abc"), "CRLF lines");
}

static void test_event_json(void)
{
    hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_COMMIT,
                          .sync = "ckpt",
                          .repo_id = "alice/x",
                          .repo_type = HFS_REPO_DATASET,
                          .revision = "main",
                          .commit_oid = "0123456789abcdef0123456789abcdef01234567",
                          .url = "http://h/datasets/alice/x/commit/0123",
                          .step = 1,
                          .steps = 1,
                          .files_total = 3,
                          .n_deleted = 1};
    char *text = hfs_apply_event_to_json(&ev);
    json_t *j = json_loads(text, 0, NULL);
    tap_is_str(json_string_value(json_object_get(j, "event")), "commit", "event name");
    tap_is_str(json_string_value(json_object_get(j, "repo_type")), "dataset", "repo type");
    tap_ok(json_is_null(json_object_get(j, "pr_url")), "pr_url null without a PR");
    tap_ok(json_is_false(json_object_get(j, "recovered")), "recovered false");
    tap_ok(strchr(text, '\n') == NULL, "one line");
    json_decref(j);
    free(text);
    hfs_apply_event up = {.kind = HFS_APPLY_EVENT_UPLOAD_PROGRESS,
                          .sync = "s",
                          .files_done = 1,
                          .files_total = 2,
                          .bytes_done = 50,
                          .bytes_total = 100,
                          .seconds = 2};
    text = hfs_apply_event_to_json(&up);
    j = json_loads(text, 0, NULL);
    tap_ok(json_real_value(json_object_get(j, "rate")) == 25.0 &&
               json_real_value(json_object_get(j, "eta")) == 2.0,
           "progress carries rate and ETA: %s", text);
    json_decref(j);
    free(text);
    tap_is_str(hfs_apply_event_name(HFS_APPLY_EVENT_STALE), "stale", "stale's name");
}

int main(void)
{
    snprintf(dir, sizeof(dir), "%s/hfsync-ndjson-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
        return 1;
    test_lines();
    test_lines_helper();
    test_event_json();
    char *cmd = hfs_sprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", dir);
    free(cmd);
    return tap_done();
}
