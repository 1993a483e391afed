/* Fuzz target: the local hub's NDJSON commit parser (header line, file / lfsFile /
 * deletedFile / deletedFolder lines, renames), reading the body from memory and, as a large
 * body is, from a spool file: both readers must agree, and so must parsing with and without
 * lifting long base64 contents out of their lines. */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/error.h"
#include "hubd/bodies.h"

/* The store holds every object whose oid starts with 0-7, with a size spelled by its first
 * four hex digits: deterministic, and both "present" and "size mismatch" are reachable. */
static bool lfs_has(void *ctx, const char *oid, uint64_t *size)
{
    (void)ctx;
    if (oid[0] > '7')
        return false;
    *size = strtoull((char[]){oid[0], oid[1], oid[2], oid[3], '\0'}, NULL, 16);
    return true;
}

/* Renaming a path that starts with "missing" is a 404; any other brings a few bytes. */
static int rename_old(void *ctx, hubd_op *op, const char *old_path, unsigned line_no,
                      hubd_refusal *why)
{
    (void)ctx;
    if (strncmp(old_path, "missing", 7) == 0) {
        why->status = 404;
        why->code = "EntryNotFound";
        return hfs_error_set(HFS_ENOTFOUND, "commit line %u: cannot rename '%s': not found",
                             line_no, old_path);
    }
    op->content = strdup("renamed");
    op->content_len = 7;
    op->content_fd = -1;
    return 0;
}

static int parse(hubd_commit_body *out, hubd_refusal *why, const uint8_t *data, size_t size, int fd)
{
    hubd_commit_hooks hooks = {NULL, lfs_has, rename_old, NULL};
    return hubd_parse_commit(out, why, (const char *)data, size, fd, &hooks);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hubd_commit_body mem, file;
    hubd_refusal why_mem = {0}, why_file = {0};
    int rc_mem = parse(&mem, &why_mem, data, size, -1);
    if (rc_mem < 0 && (why_mem.status < 400 || why_mem.status > 599 || !*hfs_error_last()))
        abort(); /* a refusal has a status to answer with and a message */

    int fd = memfd_create("fuzz-commit", MFD_CLOEXEC);
    if (fd >= 0 && (size == 0 || write(fd, data, size) == (ssize_t)size)) {
        int rc_file = parse(&file, &why_file, data, 0, fd);
        if (rc_file != rc_mem || why_file.status != why_mem.status || file.n_ops != mem.n_ops)
            abort();
        for (size_t i = 0; i < mem.n_ops; i++)
            if (file.ops[i].kind != mem.ops[i].kind || strcmp(file.ops[i].path, mem.ops[i].path))
                abort();
        hubd_commit_body_clear(&file);
    }
    if (fd >= 0)
        close(fd);

    /* A long base64 content lifted out of its line before jansson: the same as jansson alone. */
    hubd_commit_body plain;
    hubd_refusal why_plain = {0};
    hubd_commit_lift = false;
    int rc_plain = parse(&plain, &why_plain, data, size, -1);
    hubd_commit_lift = true;
    if (rc_plain != rc_mem || why_plain.status != why_mem.status || plain.n_ops != mem.n_ops)
        abort();
    for (size_t i = 0; i < mem.n_ops; i++) {
        const hubd_op *x = &mem.ops[i], *y = &plain.ops[i];
        if (x->kind != y->kind || strcmp(x->path, y->path) || x->content_len != y->content_len ||
            (x->content_fd < 0 && x->content_len &&
             memcmp(x->content, y->content, x->content_len)))
            abort();
    }
    hubd_commit_body_clear(&plain);
    hubd_commit_body_clear(&mem);
    return 0;
}
