/* The local hub's request-body parsers (paths-info form and JSON, LFS batch, NDJSON commit):
 * bytes in, structs out, every refusal worded as the hub words it and naming where it is. */
#include "hubd/bodies.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/hash.h"
#include "common/util.h"
#include "hubd/lfs_store.h"
#include "hubd/route.h"
#include "hubd/server.h" /* hubd_path_valid */

#define BATCH_MAX_OBJECTS 1000
/* A commit line holds at most one file: 10 MiB of content is about 14 MiB of base64. */
#define COMMIT_LINE_MAX (24u * 1024 * 1024)
/* Inline files larger than this go to a temp file rather than memory. */
#define INLINE_IN_MEMORY_MAX (1u * 1024 * 1024)
/* Keeps a hostile commit from holding millions of operations in memory. */
#define COMMIT_MAX_OPS 100000

static int refuse(hubd_refusal *why, unsigned status, const char *code)
{
    why->status = status;
    why->code = code;
    return hfs_error_last_code() < 0 ? hfs_error_last_code() : HFS_EINVALID;
}

int hubd_parse_json_object(json_t **out, const char *data, size_t len)
{
    json_error_t err;
    *out = NULL;
    json_t *v = json_loadb(data ? data : "", len, 0, &err);
    if (!v)
        return hfs_error_set(HFS_EINVALID,
                             "the request body is not valid JSON: %s (line %d, column %d)",
                             err.text, err.line, err.column);
    if (!json_is_object(v)) {
        json_decref(v);
        return hfs_error_set(HFS_EINVALID, "the request body must be a JSON object");
    }
    *out = v;
    return 0;
}

/* Which bytes are base64 characters, a bit each: '+', '/', '0'-'9' and '=' in the first 64,
 * 'A'-'Z' and 'a'-'z' in the next 64. */
static const uint64_t BASE64_BITS[4] = {
    (1ull << '+') | (1ull << '/') | (0x3ffull << '0') | (1ull << '='),
    (0x3ffffffull << ('A' - 64)) | (0x3ffffffull << ('a' - 64)),
    0,
    0,
};

#define NOT_BASE64(c) (~(BASE64_BITS[(c) >> 6] >> ((c)&63)) & 1u)

/* A base64 character other than the padding '='. */
static bool is_b64_body_char(unsigned char c)
{
    return c != '=' && !NOT_BASE64(c);
}

/* The common case, decoded in one call: unbroken base64 (no line breaks or spaces), whole
 * quads, '=' only as the last one or two characters. EVP_DecodeBlock does that about seven
 * times as fast as EVP_DecodeUpdate, whose line-by-line state machine cost a commit of
 * 333 MB of base64 about a second of the hub's CPU. False when the text is anything else
 * (EVP_DecodeUpdate then decides, as for every text before). */
static bool base64_block_decode(unsigned char *raw, size_t *raw_len, const char *text,
                                size_t len)
{
    const unsigned char *t = (const unsigned char *)text;
    /* first and last characters that EVP_DecodeBlock would not trim as white space */
    if (len == 0 || len % 4 != 0 || !is_b64_body_char(t[0]) || NOT_BASE64(t[len - 1]))
        return false;
    size_t pad = t[len - 1] == '=' ? (t[len - 2] == '=' ? 2 : 1) : 0;
    if (memchr(t, '=', len - pad))
        return false;
    int n = EVP_DecodeBlock(raw, t, (int)len);
    if (n < 0 || (size_t)n != len / 4 * 3)
        return false;
    *raw_len = (size_t)n - pad; /* EVP_DecodeBlock counts the padding as decoded zero bytes */
    return true;
}

int hubd_base64_decode(unsigned char **out, size_t *out_len, const char *text, size_t len)
{
    *out = NULL;
    *out_len = 0;
    if (len > INT32_MAX)
        return hfs_error_set(HFS_EINVALID, "base64 text of %zu bytes is too long", len);
    unsigned char *raw = hfs_malloc(len / 4 * 3 + 4);
    if (base64_block_decode(raw, out_len, text, len)) {
        *out = raw;
        return 0;
    }
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    int outl = 0, tail = 0;
    EVP_DecodeInit(ctx);
    bool ok = EVP_DecodeUpdate(ctx, raw, &outl, (const unsigned char *)text, (int)len) >= 0 &&
              EVP_DecodeFinal(ctx, raw + outl, &tail) == 1;
    EVP_ENCODE_CTX_free(ctx);
    if (!ok) {
        free(raw);
        return hfs_error_set(HFS_EINVALID, "not valid base64");
    }
    *out = raw;
    *out_len = (size_t)(outl + tail);
    return 0;
}

/* ---- paths-info ------------------------------------------------------------------------ */

void hubd_paths_query_clear(hubd_paths_query *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n_paths; i++)
        free(q->paths[i]);
    free(q->paths);
    memset(q, 0, sizeof(*q));
}

int hubd_parse_paths_form(hubd_paths_query *out, const char *body, size_t len)
{
    const char *q = body ? body : "";
    const char *end = q + len;
    memset(out, 0, sizeof(*out));
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        size_t field = amp ? (size_t)(amp - q) : (size_t)(end - q);
        const char *eq = memchr(q, '=', field);
        if (field > 0) {
            size_t klen = eq ? (size_t)(eq - q) : field;
            char *k = hubd_url_decode(q, klen, true);
            char *v = eq ? hubd_url_decode(eq + 1, field - klen - 1, true) : hfs_strdup("");
            int rc = 0;
            if (!k || !v) {
                rc = hfs_error_set(HFS_EINVALID,
                                   "paths-info: the form body has a malformed %%-escape");
            } else if (strcmp(k, "paths") == 0 || strcmp(k, "paths[]") == 0) {
                HFS_PUSH(out->paths, out->n_paths, out->cap_paths, v);
                v = NULL;
            } else if (strcmp(k, "expand") == 0) {
                if (strcmp(v, "true") && strcmp(v, "True") && strcmp(v, "false") &&
                    strcmp(v, "False") && strcmp(v, "1") && strcmp(v, "0"))
                    rc = hfs_error_set(HFS_EINVALID,
                                       "paths-info: expand must be true or false, got '%.40s'", v);
                else
                    out->expand = v[0] == 't' || v[0] == 'T' || v[0] == '1';
            }
            free(k);
            free(v);
            if (rc < 0)
                return rc;
        }
        if (!amp)
            break;
        q = amp + 1;
    }
    return 0;
}

int hubd_parse_paths_json(hubd_paths_query *out, const char *body, size_t len)
{
    json_t *doc = NULL;
    memset(out, 0, sizeof(*out));
    int rc = hubd_parse_json_object(&doc, body, len);
    if (rc < 0)
        return rc;
    json_t *jp = json_object_get(doc, "paths");
    json_t *je = json_object_get(doc, "expand");
    if (!json_is_array(jp) || (je && !json_is_null(je) && !json_is_boolean(je))) {
        rc = hfs_error_set(HFS_EINVALID, "paths-info body: \"paths\" must be a list of strings "
                                         "and \"expand\" a boolean");
        goto done;
    }
    out->expand = json_is_true(je);
    size_t i;
    json_t *v;
    json_array_foreach(jp, i, v)
    {
        if (!json_is_string(v)) {
            rc = hfs_error_set(HFS_EINVALID, "paths-info: paths[%zu] is not a string", i);
            goto done;
        }
        char *p = hfs_strdup(json_string_value(v));
        HFS_PUSH(out->paths, out->n_paths, out->cap_paths, p);
    }
done:
    json_decref(doc);
    return rc;
}

/* ---- preupload ----------------------------------------------------------------------------- */

static int preupload_refuse(hubd_refusal *why, unsigned status)
{
    why->status = status;
    why->code = NULL;
    return HFS_EINVALID;
}

int hubd_parse_preupload(hubd_preupload_request *out, hubd_refusal *why, const char *body,
                         size_t len)
{
    memset(out, 0, sizeof(*out));
    if (hubd_parse_json_object(&out->body, body, len) < 0)
        return preupload_refuse(why, 400);
    json_t *jfiles = json_object_get(out->body, "files");
    json_t *jign = json_object_get(out->body, "gitIgnore");
    json_t *jattr = json_object_get(out->body, "gitAttributes");
    if (!json_is_array(jfiles)) {
        hfs_error_set(HFS_EINVALID, "preupload body needs \"files\": a list of {path, size, "
                                    "sample}");
        return preupload_refuse(why, 400);
    }
    if ((jign && !json_is_null(jign) && !json_is_string(jign)) ||
        (jattr && !json_is_null(jattr) && !json_is_string(jattr))) {
        hfs_error_set(HFS_EINVALID,
                      "preupload: \"gitIgnore\" and \"gitAttributes\" must be strings");
        return preupload_refuse(why, 400);
    }
    out->git_ignore = json_string_value(jign);
    out->git_attributes = json_string_value(jattr);
    size_t n = json_array_size(jfiles);
    if (n > HUBD_PREUPLOAD_MAX_FILES) {
        hfs_error_set(HFS_EINVALID, "preupload: %zu files in one call; the hub takes at most %d",
                      n, HUBD_PREUPLOAD_MAX_FILES);
        return preupload_refuse(why, 400);
    }
    out->files = hfs_calloc(n ? n : 1, sizeof(*out->files));
    out->samples = hfs_calloc(n ? n : 1, sizeof(*out->samples));
    out->n_files = n;
    for (size_t i = 0; i < n; i++) {
        json_t *f = json_array_get(jfiles, i);
        const char *path = json_string_value(json_object_get(f, "path"));
        json_t *size = json_object_get(f, "size");
        const char *sample = json_string_value(json_object_get(f, "sample"));
        const char *reason = NULL;
        if (!path || !json_is_integer(size) || json_integer_value(size) < 0 ||
            (json_object_get(f, "sample") && !sample)) {
            hfs_error_set(HFS_EINVALID,
                          "preupload: files[%zu] needs \"path\" (string), \"size\" (whole "
                          "number of bytes) and \"sample\" (base64)",
                          i);
            return preupload_refuse(why, 400);
        }
        if (!hubd_path_valid(path, &reason)) {
            hfs_error_set(HFS_EINVALID, "Invalid path '%s' in files[%zu]: %s", path, i, reason);
            return preupload_refuse(why, 422);
        }
        size_t slen = sample ? strlen(sample) : 0;
        size_t raw_len = 0;
        if (slen > HUBD_PREUPLOAD_SAMPLE_MAX * 2 ||
            (sample && hubd_base64_decode(&out->samples[i], &raw_len, sample, slen) < 0) ||
            raw_len > HUBD_PREUPLOAD_SAMPLE_MAX) {
            hfs_error_set(HFS_EINVALID,
                          "preupload: the sample of '%s' is not base64 of at most %d bytes",
                          path, HUBD_PREUPLOAD_SAMPLE_MAX);
            return preupload_refuse(why, 400);
        }
        out->files[i].path = path;
        out->files[i].size = (uint64_t)json_integer_value(size);
        out->files[i].sample = out->samples[i];
        out->files[i].sample_len = raw_len;
    }
    return 0;
}

void hubd_preupload_request_clear(hubd_preupload_request *r)
{
    if (!r)
        return;
    for (size_t i = 0; r->samples && i < r->n_files; i++)
        free(r->samples[i]);
    free(r->samples);
    free(r->files);
    json_decref(r->body);
    memset(r, 0, sizeof(*r));
}

/* ---- LFS batch --------------------------------------------------------------------------- */

void hubd_lfs_batch_request_clear(hubd_lfs_batch_request *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n_objects; i++)
        free(b->objects[i].oid);
    free(b->objects);
    free(b->ref_name);
    memset(b, 0, sizeof(*b));
}

static bool has_string(json_t *array, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(array, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

int hubd_parse_lfs_batch(hubd_lfs_batch_request *out, hubd_refusal *why, const char *body,
                         size_t len)
{
    json_t *doc = NULL;
    memset(out, 0, sizeof(*out));
    int rc = hubd_parse_json_object(&doc, body, len);
    if (rc < 0) {
        refuse(why, 400, NULL);
        return rc;
    }
    const char *op = json_string_value(json_object_get(doc, "operation"));
    json_t *objects = json_object_get(doc, "objects");
    json_t *transfers = json_object_get(doc, "transfers");
    json_t *algo = json_object_get(doc, "hash_algo");
    json_t *ref = json_object_get(doc, "ref");
    if (!op || (strcmp(op, "upload") && strcmp(op, "download")) || !json_is_array(objects) ||
        (transfers && !json_is_array(transfers))) {
        hfs_error_set(HFS_EINVALID, "LFS batch: the body needs \"operation\" (upload or download), "
                                    "\"objects\" [{oid, size}] and optionally \"transfers\" [...]");
        rc = refuse(why, 422, NULL);
        goto done;
    }
    /* huggingface_hub says sha256, the JS client sha_256; git-lfs omits it */
    const char *a = json_string_value(algo);
    if (algo && !json_is_null(algo) && (!a || (strcmp(a, "sha256") && strcmp(a, "sha_256")))) {
        hfs_error_set(HFS_EINVALID, "LFS batch: hash_algo '%s' is not supported (sha256)",
                      a ? a : "?");
        rc = refuse(why, 409, NULL);
        goto done;
    }
    if (json_array_size(objects) > BATCH_MAX_OBJECTS) {
        hfs_error_set(HFS_EINVALID, "LFS batch: %zu objects in one call; at most %d",
                      json_array_size(objects), BATCH_MAX_OBJECTS);
        rc = refuse(why, 413, NULL);
        goto done;
    }
    if (transfers && json_array_size(transfers) > 0 && !has_string(transfers, "basic") &&
        !has_string(transfers, "multipart")) {
        hfs_error_set(HFS_EINVALID,
                      "LFS batch: this hub offers the basic and multipart transfers only");
        rc = refuse(why, 422, NULL);
        goto done;
    }
    out->upload = strcmp(op, "upload") == 0;
    out->offers_multipart = transfers && has_string(transfers, "multipart");
    const char *ref_name = json_string_value(json_object_get(ref, "name"));
    out->ref_name = ref_name ? hfs_strdup(ref_name) : NULL;
    out->objects = hfs_calloc(json_array_size(objects) + 1, sizeof(*out->objects));
    size_t i;
    json_t *o;
    json_array_foreach(objects, i, o)
    {
        hubd_lfs_batch_object *b = &out->objects[out->n_objects++];
        const char *oid = json_string_value(json_object_get(o, "oid"));
        json_t *jsize = json_object_get(o, "size");
        b->oid = oid ? hfs_strdup(oid) : NULL;
        b->size = json_is_integer(jsize) && json_integer_value(jsize) >= 0
                      ? (int64_t)json_integer_value(jsize)
                      : -1;
        b->valid = oid && hubd_lfs_oid_valid(oid) && b->size >= 0;
    }
done:
    json_decref(doc);
    return rc;
}

/* ---- NDJSON commit ----------------------------------------------------------------------- */

void hubd_commit_body_clear(hubd_commit_body *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n_ops; i++) {
        free(b->ops[i].path);
        free((void *)b->ops[i].content);
        if (b->ops[i].content_fd >= 0)
            close(b->ops[i].content_fd);
    }
    free(b->ops);
    free(b->summary);
    free(b->description);
    free(b->parent);
    memset(b, 0, sizeof(*b));
}

/* Reads the commit body line by line, from memory or from its spool file. */
typedef struct {
    const char *mem;
    size_t mem_len, mem_pos;
    int fd;
    char *buf;
    size_t buf_len, buf_pos;
    bool eof;
    unsigned line_no;
} line_reader;

/* Next line into *line (without '\n'). 1: a line, 0: end, -1: too long. */
static int next_line(line_reader *r, hfs_buf *line)
{
    hfs_buf_clear(line);
    if (r->fd < 0) {
        if (r->mem_pos >= r->mem_len)
            return 0;
        const char *start = r->mem + r->mem_pos;
        const char *nl = memchr(start, '\n', r->mem_len - r->mem_pos);
        size_t len = nl ? (size_t)(nl - start) : r->mem_len - r->mem_pos;
        r->mem_pos += len + (nl ? 1 : 0);
        r->line_no++;
        if (len > COMMIT_LINE_MAX)
            return -1;
        hfs_buf_add(line, start, len);
        return 1;
    }
    bool any = false;
    for (;;) {
        if (r->buf_pos == r->buf_len) {
            if (r->eof)
                break;
            ssize_t got = read(r->fd, r->buf, 1 << 16);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                r->eof = true;
                break;
            }
            r->buf_len = (size_t)got;
            r->buf_pos = 0;
        }
        any = true;
        const char *start = r->buf + r->buf_pos;
        const char *nl = memchr(start, '\n', r->buf_len - r->buf_pos);
        size_t len = nl ? (size_t)(nl - start) : r->buf_len - r->buf_pos;
        if (line->len + len > COMMIT_LINE_MAX) {
            r->line_no++;
            return -1;
        }
        hfs_buf_add(line, start, len);
        r->buf_pos += len + (nl ? 1 : 0);
        if (nl)
            break;
    }
    if (!any)
        return 0;
    r->line_no++;
    return 1;
}

/* Decodes a file line's content into op (memory, or a temp file when large). */
static int decode_content(hubd_op *op, hubd_refusal *why, const hubd_commit_hooks *hooks,
                          const char *content, size_t len, bool base64, unsigned line_no)
{
    op->content_fd = -1;
    if (!base64) {
        op->content = hfs_strndup(content, len);
        op->content_len = len;
    } else if (len / 4 * 3 <= INLINE_IN_MEMORY_MAX || !hooks->spool) {
        unsigned char *raw;
        size_t raw_len;
        if (hubd_base64_decode(&raw, &raw_len, content, len) < 0) {
            hfs_error_set(HFS_EINVALID, "commit line %u (%s): \"content\" is not valid base64",
                          line_no, op->path);
            return refuse(why, 400, NULL);
        }
        op->content = raw;
        op->content_len = raw_len;
    } else {
        int fd = hooks->spool(hooks->ctx);
        if (fd < 0)
            return refuse(why, 500, NULL); /* the hook said which folder and why */
        op->content_fd = fd;
        EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
        EVP_DecodeInit(ctx);
        unsigned char out[49152 + 64];
        bool ok = true;
        size_t total = 0;
        for (size_t pos = 0; ok && pos < len; pos += 65536) {
            size_t chunk = len - pos < 65536 ? len - pos : 65536;
            int outl = 0;
            ok = EVP_DecodeUpdate(ctx, out, &outl, (const unsigned char *)content + pos,
                                  (int)chunk) >= 0;
            if (ok && outl > 0) {
                ok = write(fd, out, (size_t)outl) == outl;
                total += (size_t)outl;
            }
        }
        int tail = 0;
        ok = ok && EVP_DecodeFinal(ctx, out, &tail) == 1;
        if (ok && tail > 0) {
            ok = write(fd, out, (size_t)tail) == tail;
            total += (size_t)tail;
        }
        EVP_ENCODE_CTX_free(ctx);
        if (!ok || lseek(fd, 0, SEEK_SET) != 0) {
            hfs_error_set(HFS_EINVALID, "commit line %u (%s): \"content\" is not valid base64",
                          line_no, op->path);
            return refuse(why, 400, NULL);
        }
        op->content_len = total;
    }
    if (op->content_len > HFS_REGULAR_MAX_BYTES) {
        hfs_error_set(HFS_ELIMIT,
                      "Your push was rejected because it contains files larger than 10 "
                      "MiB. Please use https://git-lfs.github.com/ to store large files. "
                      "Offending file(s): %s (%zu bytes, line %u)",
                      op->path, op->content_len, line_no);
        return refuse(why, 400, NULL);
    }
    return 0;
}

/* A path from a commit line, checked; NULL after refusing (422) when invalid. */
static char *line_path(json_t *value, hubd_refusal *why, unsigned line_no, bool folder)
{
    const char *p = json_string_value(json_object_get(value, "path"));
    if (!p) {
        hfs_error_set(HFS_EINVALID, "commit line %u: \"value\" needs a \"path\" string", line_no);
        refuse(why, 400, NULL);
        return NULL;
    }
    char *path = hfs_strdup(p);
    size_t len = strlen(path);
    if (folder)
        while (len > 1 && path[len - 1] == '/') /* deletedFolder may carry a trailing '/' */
            path[--len] = '\0';
    const char *reason = NULL;
    if (!hubd_path_valid(path, &reason)) {
        hfs_error_set(HFS_EINVALID, "Invalid path '%s' (commit line %u): %s", p, line_no, reason);
        refuse(why, 422, NULL);
        free(path);
        return NULL;
    }
    return path;
}

static int parse_header(hubd_commit_body *out, hubd_refusal *why, json_t *value)
{
    json_t *s = json_object_get(value, "summary");
    json_t *d = json_object_get(value, "description");
    json_t *p = json_object_get(value, "parentCommit");
    if (!json_is_string(s) || !*json_string_value(s)) {
        hfs_error_set(HFS_EINVALID, "commit header: \"summary\" (the commit title) is required "
                                    "and must be a non-empty string");
        return refuse(why, 400, NULL);
    }
    if (d && !json_is_null(d) && !json_is_string(d)) {
        hfs_error_set(HFS_EINVALID, "commit header: \"description\" must be a string");
        return refuse(why, 400, NULL);
    }
    if (p && !json_is_null(p)) {
        const char *v = json_string_value(p);
        size_t len = v ? strlen(v) : 0;
        if (!v || len < 5 || len > 40 || !hfs_is_hex(v, len)) {
            hfs_error_set(HFS_EINVALID, "commit header: \"parentCommit\" must be a commit oid (5 "
                                        "to 40 lowercase hex digits)");
            return refuse(why, 400, NULL);
        }
        out->parent = hfs_strdup(v);
    }
    out->summary = hfs_strdup(json_string_value(s));
    out->description = hfs_strdup(json_is_string(d) ? json_string_value(d) : "");
    return 0;
}

/* The content of a "file" line: inline (base64 or utf-8), or the old file of a rename. */
static int file_line(hubd_op *op, hubd_refusal *why, const hubd_commit_hooks *hooks, json_t *value,
                     const char *old_path, const char *lifted_content, size_t lifted_len,
                     unsigned line_no)
{
    json_t *content = json_object_get(value, "content");
    const char *enc = json_string_value(json_object_get(value, "encoding"));
    if (!content && old_path) {
        if (!hooks->rename) {
            hfs_error_set(HFS_EINVALID,
                          "commit line %u (%s): a rename without \"content\" is not supported "
                          "here",
                          line_no, op->path);
            return refuse(why, 400, NULL);
        }
        return hooks->rename(hooks->ctx, op, old_path, line_no, why);
    }
    if (!json_is_string(content) ||
        (enc && strcmp(enc, "base64") != 0 && strcmp(enc, "utf-8") != 0)) {
        hfs_error_set(HFS_EINVALID,
                      "commit line %u (%s): a file needs \"content\" (a string) and \"encoding\" "
                      "base64 or utf-8",
                      line_no, op->path);
        return refuse(why, 400, NULL);
    }
    bool base64 = !enc || strcmp(enc, "base64") == 0;
    if (lifted_content) /* cut out of the line before parsing: its bytes are its value */
        return decode_content(op, why, hooks, lifted_content, lifted_len, base64, line_no);
    return decode_content(op, why, hooks, json_string_value(content), json_string_length(content),
                          base64, line_no);
}

/* An "lfsFile" line: the object must be in the store, with the size the line says. */
static int lfs_line(hubd_op *op, hubd_refusal *why, const hubd_commit_hooks *hooks, json_t *value,
                    unsigned line_no)
{
    const char *oid = json_string_value(json_object_get(value, "oid"));
    const char *algo = json_string_value(json_object_get(value, "algo"));
    json_t *size = json_object_get(value, "size");
    if (!oid || !hubd_lfs_oid_valid(oid) || (algo && strcmp(algo, "sha256") != 0) ||
        (size && !json_is_null(size) && (!json_is_integer(size) || json_integer_value(size) < 0))) {
        hfs_error_set(HFS_EINVALID,
                      "commit line %u (%s): an lfsFile needs \"oid\" (64 lowercase hex digits), "
                      "\"algo\": \"sha256\" and an optional whole \"size\"",
                      line_no, op->path);
        return refuse(why, 400, NULL);
    }
    uint64_t stored = 0;
    if (!hooks->lfs_has || !hooks->lfs_has(hooks->ctx, oid, &stored)) {
        hfs_error_set(HFS_EINVALID,
                      "Your push was rejected because an LFS pointer pointed to a file that does "
                      "not exist. Upload the object (LFS batch) before committing. Offending "
                      "file: - %s (oid %s)",
                      op->path, oid);
        return refuse(why, 400, NULL);
    }
    if (json_is_integer(size) && (uint64_t)json_integer_value(size) != stored) {
        hfs_error_set(HFS_EINVALID,
                      "commit line %u (%s): size %" PRIu64 " does not match the uploaded LFS "
                      "object %s, which has %" PRIu64 " bytes",
                      line_no, op->path, (uint64_t)json_integer_value(size), oid, stored);
        return refuse(why, 400, NULL);
    }
    memcpy(op->lfs_oid, oid, 65);
    op->lfs_size = stored;
    return 0;
}

/* One operation line (after the header) appended to out->ops. */
static int op_line(hubd_commit_body *out, hubd_refusal *why, const hubd_commit_hooks *hooks,
                   const char *k, json_t *value, const char *lifted_content, size_t lifted_len,
                   unsigned line_no)
{
    if (out->n_ops >= COMMIT_MAX_OPS) {
        hfs_error_set(HFS_ELIMIT, "commit line %u: more than %d operations in one commit; split it",
                      line_no, COMMIT_MAX_OPS);
        return refuse(why, 400, NULL);
    }
    hubd_op op = {0};
    op.content_fd = -1;
    bool folder = strcmp(k, "deletedFolder") == 0;
    if (strcmp(k, "header") == 0) {
        hfs_error_set(HFS_EINVALID, "commit line %u: a second \"header\"", line_no);
        return refuse(why, 400, NULL);
    } else if (strcmp(k, "file") == 0) {
        op.kind = HUBD_OP_FILE;
    } else if (strcmp(k, "lfsFile") == 0) {
        op.kind = HUBD_OP_LFS_FILE;
    } else if (strcmp(k, "deletedFile") == 0) {
        op.kind = HUBD_OP_DELETE_FILE;
    } else if (folder) {
        op.kind = HUBD_OP_DELETE_FOLDER;
    } else {
        hfs_error_set(HFS_EINVALID,
                      "commit line %u: unknown key \"%s\" (expected file, lfsFile, deletedFile or "
                      "deletedFolder)",
                      line_no, k);
        return refuse(why, 400, NULL);
    }
    if (!(op.path = line_path(value, why, line_no, folder)))
        return hfs_error_last_code();
    HFS_PUSH(out->ops, out->n_ops, out->cap_ops, op);
    hubd_op *cur = &out->ops[out->n_ops - 1];
    const char *old_path = json_string_value(json_object_get(value, "oldPath"));
    const char *reason = NULL;
    if (old_path && !hubd_path_valid(old_path, &reason)) {
        hfs_error_set(HFS_EINVALID, "Invalid oldPath '%s' (commit line %u): %s", old_path, line_no,
                      reason);
        return refuse(why, 422, NULL);
    }
    int rc = 0;
    if (cur->kind == HUBD_OP_FILE)
        rc = file_line(cur, why, hooks, value, old_path, lifted_content, lifted_len, line_no);
    else if (cur->kind == HUBD_OP_LFS_FILE)
        rc = lfs_line(cur, why, hooks, value, line_no);
    if (rc < 0)
        return rc;
    if (old_path && cur->kind <= HUBD_OP_LFS_FILE && strcmp(old_path, cur->path) != 0) {
        hubd_op del = {0};
        del.kind = HUBD_OP_DELETE_FILE;
        del.path = hfs_strdup(old_path);
        del.content_fd = -1;
        HFS_PUSH(out->ops, out->n_ops, out->cap_ops, del);
    }
    return 0;
}

/* ---- a file line's content, lifted out before jansson ----------------------------------
 * jansson reads a string byte by byte into a growing buffer: for a line carrying megabytes of
 * base64 that was most of a commit's time. So a long "content" made only of base64 characters
 * (a JSON string with nothing to unescape: its value is its bytes) is cut out of the line,
 * jansson parses the rest, and the content is taken from the line as it is. Only when the
 * line's shape leaves no doubt which string jansson would have given as value.content. */

#define LIFT_MIN 4096 /* shorter contents are not worth the scan */

bool hubd_commit_lift = true;

/* Whether every byte of s[0..n) is a base64 character. It runs over every byte of a commit's
 * inline content, so it looks at four bytes per step and decides once per block (a test and
 * a branch per byte cost twice as much). */
static bool all_base64(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    uint64_t bad = 0;
    size_t i = 0;
    while (i < n) {
        size_t block_end = n - i > 4096 ? i + 4096 : n;
        for (; i + 4 <= block_end; i += 4)
            bad |= NOT_BASE64(u[i]) | NOT_BASE64(u[i + 1]) | NOT_BASE64(u[i + 2]) |
                   NOT_BASE64(u[i + 3]);
        for (; i < block_end; i++)
            bad |= NOT_BASE64(u[i]);
        if (bad)
            return false;
    }
    return true;
}

/* The end of the string whose opening quote is at s[i] (the index of its closing quote), and
 * whether it holds a backslash; false when it does not end. */
static bool string_end(const char *s, size_t n, size_t i, size_t *end, bool *escaped)
{
    for (size_t j = i + 1; j < n;) {
        const char *q = memchr(s + j, '"', n - j);
        if (!q)
            return false;
        size_t e = (size_t)(q - s), b = e;
        while (b > i + 1 && s[b - 1] == '\\')
            b--;
        if (((e - b) & 1) == 0) { /* not escaped by an odd run of backslashes */
            *end = e;
            *escaped = memchr(s + i + 1, '\\', e - (i + 1)) != NULL;
            return true;
        }
        j = e + 1;
    }
    return false;
}

static size_t skip_space(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    return i;
}

/* Finds the one long plain-base64 string that is value.content of the line's object: the
 * object's one "value" member is an object with one "content" member, and no key anywhere
 * is written with escapes (so a key's bytes are its name). */
bool hubd_commit_content_span(const char *s, size_t n, size_t *at, size_t *len)
{
    *at = *len = 0;
    size_t i = skip_space(s, n, 0);
    if (i >= n || s[i] != '{')
        return false;
    int depth = 0;
    bool in_value = false; /* inside value's object (depth 2) */
    int values = 0, contents = 0;
    const char *key = NULL; /* the last key at depth 1 */
    size_t key_len = 0;
    for (; i < n; i++) {
        char c = s[i];
        if (c == '{' || c == '[') {
            depth++;
            if (depth == 2)
                in_value = c == '{' && key && key_len == 5 && memcmp(key, "value", 5) == 0;
        } else if (c == '}' || c == ']') {
            if (depth == 2)
                in_value = false;
            depth--;
        } else if (c == '"') {
            size_t end;
            bool escaped;
            if (!string_end(s, n, i, &end, &escaped))
                return false;
            size_t next = skip_space(s, n, end + 1);
            bool is_key = next < n && s[next] == ':';
            if (is_key && escaped)
                return false;
            if (is_key && depth == 1) {
                key = s + i + 1;
                key_len = end - i - 1;
                if (key_len == 5 && memcmp(key, "value", 5) == 0 && ++values > 1)
                    return false;
            } else if (is_key && depth == 2 && in_value && end - i - 1 == 7 &&
                       memcmp(s + i + 1, "content", 7) == 0) {
                if (++contents > 1)
                    return false;
                size_t v = skip_space(s, n, next + 1);
                size_t v_end;
                bool v_escaped;
                if (v < n && s[v] == '"' && string_end(s, n, v, &v_end, &v_escaped) &&
                    !v_escaped && v_end - v - 1 >= LIFT_MIN) {
                    *at = v + 1;
                    *len = v_end - v - 1;
                    next = v_end; /* the loop goes on after the string */
                }
            }
            i = is_key ? next : end;
        }
    }
    if (contents != 1 || *len == 0)
        return false;
    return all_base64(s + *at, *len);
}

int hubd_parse_commit(hubd_commit_body *out, hubd_refusal *why, const char *data, size_t len,
                      int fd, const hubd_commit_hooks *hooks)
{
    static const hubd_commit_hooks no_hooks = {0};
    line_reader r = {.mem = data, .mem_len = len, .fd = fd};
    hfs_buf line = HFS_BUF_INIT, rest = HFS_BUF_INIT;
    bool have_header = false;
    json_t *doc = NULL;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (!hooks)
        hooks = &no_hooks;
    if (fd >= 0) {
        lseek(fd, 0, SEEK_SET);
        r.buf = hfs_malloc(1 << 16);
    }
    for (;;) {
        int got = next_line(&r, &line);
        if (got == 0)
            break;
        if (got < 0) {
            hfs_error_set(HFS_ELIMIT,
                          "commit line %u is longer than %u MiB: regular files over 10 MiB must "
                          "be uploaded with LFS (an lfsFile line)",
                          r.line_no, COMMIT_LINE_MAX >> 20);
            rc = refuse(why, 400, NULL);
            goto done;
        }
        size_t start = strspn(line.ptr, " \t\r");
        if (start == line.len)
            continue; /* blank lines (and the trailing newline) carry nothing */
        json_error_t err;
        json_decref(doc);
        doc = NULL;
        size_t lift_at = 0, lift_len = 0;
        if (hubd_commit_lift && line.len >= LIFT_MIN &&
            hubd_commit_content_span(line.ptr, line.len, &lift_at, &lift_len)) {
            hfs_buf_clear(&rest);
            hfs_buf_add(&rest, line.ptr, lift_at);
            hfs_buf_add(&rest, line.ptr + lift_at + lift_len, line.len - lift_at - lift_len);
            doc = json_loadb(rest.ptr, rest.len, 0, &err);
        }
        if (!doc) { /* not lifted, or (for the message's column) not valid: the whole line */
            lift_len = 0;
            doc = json_loadb(line.ptr, line.len, 0, &err);
        }
        json_t *key = doc ? json_object_get(doc, "key") : NULL;
        json_t *value = doc ? json_object_get(doc, "value") : NULL;
        if (!doc) {
            hfs_error_set(HFS_EINVALID,
                          "commit line %u is not valid JSON: %s (column %d); the body must be "
                          "NDJSON, one {\"key\": ..., \"value\": {...}} object per line",
                          r.line_no, err.text, err.column);
            rc = refuse(why, 400, NULL);
            goto done;
        }
        if (!json_is_string(key) || !json_is_object(value)) {
            hfs_error_set(HFS_EINVALID,
                          "commit line %u must be {\"key\": \"header\"|\"file\"|\"lfsFile\"|"
                          "\"deletedFile\"|\"deletedFolder\", \"value\": {...}}",
                          r.line_no);
            rc = refuse(why, 400, NULL);
            goto done;
        }
        const char *k = json_string_value(key);
        if (!have_header) {
            if (strcmp(k, "header") != 0) {
                hfs_error_set(HFS_EINVALID,
                              "commit line %u: the first line must be the \"header\" (summary, "
                              "description, parentCommit), not \"%s\"",
                              r.line_no, k);
                rc = refuse(why, 400, NULL);
                goto done;
            }
            if ((rc = parse_header(out, why, value)) < 0)
                goto done;
            have_header = true;
            continue;
        }
        if ((rc = op_line(out, why, hooks, k, value, lift_len ? line.ptr + lift_at : NULL, lift_len,
                          r.line_no)) < 0)
            goto done;
    }
    if (!have_header) {
        hfs_error_set(HFS_EINVALID, "the commit body is empty: send NDJSON starting with a "
                                    "{\"key\": \"header\", \"value\": {\"summary\": ...}} line");
        rc = refuse(why, 400, NULL);
    }
done:
    json_decref(doc);
    hfs_buf_free(&line);
    hfs_buf_free(&rest);
    free(r.buf);
    return rc;
}
