/* The commit body as NDJSON, produced as the hub client pulls it: regular files are read
 * from disk in fixed chunks, base64-encoded and hashed on the way, so no file is held whole. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"
#include "executor/executor.h"

/* Raw bytes read per step: a multiple of 3, so every chunk but the last encodes to base64
 * without padding and the chunks simply concatenate. */
#define RAW_CHUNK (3u * 16384u)
#define B64_CHUNK (4u * 16384u)

typedef enum { AT_HEADER, AT_ENTRY, IN_CONTENT, AT_END } stage;

struct exec_ndjson {
    exec_ndjson_spec spec;
    stage at;
    size_t next; /* the entry to write next */
    hfs_buf out; /* bytes produced, not yet handed over */
    size_t out_pos;
    /* the regular file being streamed */
    const exec_entry *cur;
    char *cur_path;
    int fd;
    bool own_fd;
    uint64_t pos;
    hfs_hasher *hasher;
    uint64_t inline_done, inline_total;
    bool failed;
    unsigned char *raw;
    unsigned char *b64;
};

/* A JSON string literal for s (quotes and escapes included), appended to b. */
static void put_json_string(hfs_buf *b, const char *s)
{
    json_t *j = json_string(s);
    char *text = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        abort(); /* paths were checked to be UTF-8 when planned; jansson fails only on OOM */
    hfs_buf_puts(b, text);
    free(text);
}

static void put_line(hfs_buf *b, json_t *line)
{
    char *text = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    if (!text)
        abort();
    hfs_buf_puts(b, text);
    hfs_buf_putc(b, '\n');
    free(text);
}

static bool is_inline(const exec_entry *e)
{
    return e->op->kind != HFS_OP_DELETE && !e->op->lfs;
}

exec_ndjson *exec_ndjson_new(const exec_ndjson_spec *spec)
{
    exec_ndjson *nd = hfs_calloc(1, sizeof(*nd));
    nd->spec = *spec;
    nd->fd = -1;
    nd->out = (hfs_buf)HFS_BUF_INIT;
    nd->raw = hfs_malloc(RAW_CHUNK);
    nd->b64 = hfs_malloc(B64_CHUNK + 1);
    for (size_t i = 0; i < spec->n; i++)
        if (!spec->entries[i].ignored && is_inline(&spec->entries[i]))
            nd->inline_total += spec->entries[i].op->size;
    return nd;
}

static void close_current(exec_ndjson *nd)
{
    if (nd->own_fd && nd->fd >= 0)
        close(nd->fd);
    nd->fd = -1;
    nd->own_fd = false;
    hfs_hasher_free(nd->hasher);
    nd->hasher = NULL;
    free(nd->cur_path);
    nd->cur_path = NULL;
    nd->cur = NULL;
}

void exec_ndjson_free(exec_ndjson *nd)
{
    if (!nd)
        return;
    close_current(nd);
    hfs_buf_free(&nd->out);
    free(nd->raw);
    free(nd->b64);
    free(nd);
}

bool exec_ndjson_failed(const exec_ndjson *nd)
{
    return nd->failed;
}

uint64_t exec_ndjson_inline_bytes(const exec_ndjson *nd)
{
    return nd->inline_total;
}

static int fail(exec_ndjson *nd, int code, const char *fmt, const char *path, const char *why)
{
    nd->failed = true;
    return hfs_error_set(code, fmt, path, why);
}

/* Opens the content of a regular file and writes the start of its `file` line. */
static int begin_file(exec_ndjson *nd, const exec_entry *e)
{
    const hfs_plan_op *op = e->op;
    nd->cur = e;
    nd->pos = 0;
    if (e->fd >= 0) {
        nd->fd = e->fd;
        nd->cur_path = hfs_sprintf("the downloaded copy of %s", op->from ? op->from : op->path);
    } else {
        nd->cur_path = exec_local_path(nd->spec.sync, op);
        nd->fd = open(nd->cur_path, O_RDONLY | O_CLOEXEC);
        if (nd->fd < 0)
            return fail(nd, errno == ENOENT ? HFS_ESTALE : HFS_ERROR,
                        "cannot read %s to commit it: %s", nd->cur_path, strerror(errno));
        nd->own_fd = true;
        posix_fadvise(nd->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    nd->hasher = hfs_hasher_new(false, true, op->size);
    hfs_buf_puts(&nd->out, "{\"key\":\"file\",\"value\":{\"path\":");
    put_json_string(&nd->out, op->path);
    hfs_buf_puts(&nd->out, ",\"encoding\":\"base64\",\"content\":\"");
    return 0;
}

/* Reads, hashes and encodes the next chunk of the current file; at its end checks the hash
 * and closes the line. */
static int continue_file(exec_ndjson *nd)
{
    const hfs_plan_op *op = nd->cur->op;
    uint64_t left = op->size - nd->pos;
    size_t want = left < RAW_CHUNK ? (size_t)left : RAW_CHUNK;
    size_t got = 0;
    while (got < want) {
        ssize_t r = pread(nd->fd, nd->raw + got, want - got, (off_t)(nd->pos + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return fail(nd, HFS_ERROR, "cannot read %s to commit it: %s", nd->cur_path,
                        strerror(errno));
        if (r == 0) {
            nd->failed = true;
            return hfs_error_set(HFS_ESTALE,
                                 "%s changed since the plan was written: it ends after %" PRIu64
                                 " bytes, the plan has %" PRIu64
                                 "; nothing was committed: run `hfsync plan` again",
                                 nd->cur_path, nd->pos + got, op->size);
        }
        got += (size_t)r;
    }
    if (got) {
        hfs_hasher_update(nd->hasher, nd->raw, got);
        int n = EVP_EncodeBlock(nd->b64, nd->raw, (int)got);
        hfs_buf_add(&nd->out, nd->b64, (size_t)n);
        nd->pos += got;
        nd->inline_done += got;
        if (nd->spec.progress)
            nd->spec.progress(nd->spec.progress_ctx, nd->inline_done, nd->inline_total);
    }
    if (nd->pos < op->size)
        return 0;
    char sha1[HFS_SHA1_HEX];
    hfs_hasher_final(nd->hasher, NULL, sha1);
    if (op->sha1[0] && strcmp(sha1, op->sha1) != 0) {
        nd->failed = true;
        int rc = hfs_error_set(HFS_ESTALE,
                               "%s changed since the plan was written (its git sha1 is now %s, "
                               "the plan has %s); nothing was committed: run `hfsync plan` "
                               "again",
                               nd->cur_path, sha1, op->sha1);
        return rc;
    }
    hfs_buf_puts(&nd->out, "\"}}\n");
    close_current(nd);
    nd->at = AT_ENTRY;
    return 0;
}

static void write_header(exec_ndjson *nd)
{
    json_t *value = json_object();
    json_object_set_new(value, "summary", json_string(nd->spec.summary));
    json_object_set_new(value, "description",
                        json_string(nd->spec.description ? nd->spec.description : ""));
    if (nd->spec.parent && *nd->spec.parent)
        json_object_set_new(value, "parentCommit", json_string(nd->spec.parent));
    put_line(&nd->out, json_pack("{s:s,s:o}", "key", "header", "value", value));
}

/* Writes the next entry's line (or starts its content). */
static int write_entry(exec_ndjson *nd)
{
    while (nd->next < nd->spec.n && nd->spec.entries[nd->next].ignored)
        nd->next++;
    if (nd->next >= nd->spec.n) {
        nd->at = AT_END;
        return 0;
    }
    const exec_entry *e = &nd->spec.entries[nd->next++];
    const hfs_plan_op *op = e->op;
    if (op->kind == HFS_OP_DELETE) {
        size_t len = strlen(op->path);
        bool folder = len > 0 && op->path[len - 1] == '/';
        put_line(&nd->out,
                 json_pack("{s:s,s:{s:s}}", "key", folder ? "deletedFolder" : "deletedFile",
                           "value", "path", op->path));
        return 0;
    }
    if (op->lfs) {
        /* A copy points at the object the remote already holds: the same sha256. */
        put_line(&nd->out,
                 json_pack("{s:s,s:{s:s,s:s,s:s,s:I}}", "key", "lfsFile", "value", "path", op->path,
                           "algo", "sha256", "oid", op->sha256, "size", (json_int_t)op->size));
        return 0;
    }
    nd->at = IN_CONTENT;
    return begin_file(nd, e);
}

static ssize_t nd_read(void *ctx, char *buf, size_t len)
{
    exec_ndjson *nd = ctx;
    if (nd->failed)
        return -1;
    while (nd->out_pos >= nd->out.len) {
        hfs_buf_clear(&nd->out);
        nd->out_pos = 0;
        int rc = 0;
        switch (nd->at) {
        case AT_HEADER:
            write_header(nd);
            nd->at = AT_ENTRY;
            break;
        case AT_ENTRY:
            rc = write_entry(nd);
            break;
        case IN_CONTENT:
            rc = continue_file(nd);
            break;
        case AT_END:
            return 0;
        }
        if (rc < 0) {
            nd->failed = true;
            return -1;
        }
    }
    size_t n = nd->out.len - nd->out_pos;
    if (n > len)
        n = len;
    memcpy(buf, nd->out.ptr + nd->out_pos, n);
    nd->out_pos += n;
    return (ssize_t)n;
}

static int nd_rewind(void *ctx)
{
    exec_ndjson *nd = ctx;
    if (nd->failed)
        return hfs_error_last_code() ? hfs_error_last_code() : HFS_ERROR;
    close_current(nd);
    hfs_buf_clear(&nd->out);
    nd->out_pos = 0;
    nd->at = AT_HEADER;
    nd->next = 0;
    nd->inline_done = 0;
    return 0;
}

hfs_hub_body exec_ndjson_body(exec_ndjson *nd)
{
    hfs_hub_body body = {nd_read, nd_rewind, nd, -1};
    return body;
}
