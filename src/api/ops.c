/* The operations of a commit the caller builds (hfs_commit_ops): add from a file or a buffer,
 * delete a file or a folder, copy; paths checked as huggingface_hub checks them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/api.h"
#include "common/error.h"
#include "common/util.h"

hfs_commit_ops *hfs_commit_ops_new(void)
{
    return hfs_calloc(1, sizeof(hfs_commit_ops));
}

void api_op_release(api_op *op)
{
    if (!op->from_buffer || op->released)
        return;
    op->released = true;
    if (op->free_fn)
        op->free_fn((void *)op->data);
    op->data = NULL;
}

void hfs_commit_ops_free(hfs_commit_ops *ops)
{
    if (!ops)
        return;
    for (size_t i = 0; i < ops->n; i++) {
        api_op *op = &ops->ops[i];
        api_op_release(op);
        free(op->path);
        free(op->local_path);
        free(op->remote_oid);
        free(op->src_path);
        free(op->src_revision);
    }
    free(ops->ops);
    free(ops);
}

/* The path as the hub will get it, or HFS_EINVALID saying what is wrong with it. A leading
 * '/' is dropped as huggingface_hub drops it; the rest is the manifest's path rules. */
static int normalize(char **out, const char *what, const char *path, bool folder)
{
    *out = NULL;
    if (!path)
        return hfs_error_set(HFS_EINVALID, "%s: the path in the repo is missing (NULL)", what);
    if (!hfs_utf8_valid(path, strlen(path)))
        return hfs_error_set(HFS_EINVALID, "%s: the path in the repo \"%s\" is not valid UTF-8",
                             what, path);
    while (*path == '/')
        path++;
    int rc = hfs_path_in_repo_normalize(out, path);
    if (rc < 0) {
        char *why = hfs_strdup(hfs_error_last());
        rc = hfs_error_set(rc, "%s: %s", what, why);
        free(why);
        return rc;
    }
    if (!**out) {
        free(*out);
        *out = NULL;
        return hfs_error_set(HFS_EINVALID, "%s: \"%s\" names the repo's root, not a %s", what, path,
                             folder ? "folder" : "file");
    }
    return 0;
}

static int check_open(const hfs_commit_ops *ops, const char *what)
{
    if (!ops)
        return hfs_error_set(HFS_EINVALID, "%s: no operations list (NULL)", what);
    if (ops->committed)
        return hfs_error_set(HFS_EINVALID,
                             "%s: these operations were committed already; build a new "
                             "hfs_commit_ops for the next commit",
                             what);
    return 0;
}

static api_op *push(hfs_commit_ops *ops, hfs_commit_op_kind kind, char *path)
{
    hfs_grow((void **)&ops->ops, &ops->cap, ops->n + 1, sizeof(*ops->ops));
    api_op *op = &ops->ops[ops->n++];
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    op->path = path;
    op->mode = HFS_UPLOAD_MODE_UNKNOWN;
    return op;
}

int hfs_commit_ops_add_file(hfs_commit_ops *ops, const char *path_in_repo, const char *local_path)
{
    char *path = NULL;
    int rc = check_open(ops, "add a file");
    if (rc == 0)
        rc = normalize(&path, "add a file", path_in_repo, false);
    if (rc < 0)
        return rc;
    struct stat st;
    if (!local_path || stat(local_path, &st) != 0) {
        int err = local_path ? errno : ENOENT;
        rc = hfs_error_set(err == ENOENT || err == ENOTDIR ? HFS_ENOTFOUND : HFS_ERROR,
                           "cannot add %s to the commit: %s: %s", path,
                           local_path ? local_path : "(no local path)", strerror(err));
        free(path);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = hfs_error_set(HFS_EINVALID,
                           "cannot add %s to the commit: %s is not a regular file (a folder is "
                           "uploaded with hfs_upload, or one add per file)",
                           path, local_path);
        free(path);
        return rc;
    }
    api_op *op = push(ops, HFS_COMMIT_ADD, path);
    op->local_path = hfs_strdup(local_path);
    op->size = (uint64_t)st.st_size;
    return 0;
}

int hfs_commit_ops_add_buffer(hfs_commit_ops *ops, const char *path_in_repo, const void *data,
                              size_t len, hfs_buffer_free_fn free_fn)
{
    char *path = NULL;
    int rc = check_open(ops, "add a buffer");
    if (rc == 0)
        rc = normalize(&path, "add a buffer", path_in_repo, false);
    if (rc == 0 && !data && len > 0)
        rc = hfs_error_set(
            HFS_EINVALID, "cannot add %s to the commit: its buffer is NULL but its length is not 0",
            path);
    if (rc < 0) {
        free(path);
        return rc;
    }
    api_op *op = push(ops, HFS_COMMIT_ADD, path);
    op->from_buffer = true;
    op->data = data;
    op->free_fn = free_fn;
    op->size = len;
    return 0;
}

int hfs_commit_ops_delete_file(hfs_commit_ops *ops, const char *path_in_repo)
{
    char *path = NULL;
    int rc = check_open(ops, "delete a file");
    if (rc == 0)
        rc = normalize(&path, "delete a file", path_in_repo, false);
    if (rc == 0)
        push(ops, HFS_COMMIT_DELETE_FILE, path);
    return rc;
}

int hfs_commit_ops_delete_folder(hfs_commit_ops *ops, const char *path_in_repo)
{
    char *path = NULL;
    int rc = check_open(ops, "delete a folder");
    if (rc == 0)
        rc = normalize(&path, "delete a folder", path_in_repo, true);
    if (rc == 0)
        push(ops, HFS_COMMIT_DELETE_FOLDER, path);
    return rc;
}

int hfs_commit_ops_copy(hfs_commit_ops *ops, const char *src_path, const char *src_revision,
                        const char *dst_path)
{
    char *src = NULL, *dst = NULL;
    int rc = check_open(ops, "copy a file");
    if (rc == 0)
        rc = normalize(&src, "copy a file (source)", src_path, false);
    if (rc == 0)
        rc = normalize(&dst, "copy a file (destination)", dst_path, false);
    if (rc == 0 && src_revision && (!*src_revision || strchr(src_revision, '\n')))
        rc = hfs_error_set(HFS_EINVALID,
                           "copy %s to %s: the source revision must be a branch, tag, refs/pr/N "
                           "or commit oid (NULL: the revision committed to)",
                           src, dst);
    if (rc < 0) {
        free(src);
        free(dst);
        return rc;
    }
    api_op *op = push(ops, HFS_COMMIT_COPY, dst);
    op->src_path = src;
    op->src_revision = src_revision ? hfs_strdup(src_revision) : NULL;
    return 0;
}

size_t hfs_commit_ops_count(const hfs_commit_ops *ops)
{
    return ops ? ops->n : 0;
}

int hfs_commit_ops_get(hfs_commit_op_info *out, const hfs_commit_ops *ops, size_t i)
{
    memset(out, 0, sizeof(*out));
    if (!ops || i >= ops->n)
        return hfs_error_set(HFS_EINVALID, "operation %zu does not exist (there are %zu)", i,
                             ops ? ops->n : 0);
    const api_op *op = &ops->ops[i];
    out->kind = op->kind;
    out->path = op->path;
    out->local_path = op->local_path;
    out->src_path = op->src_path;
    out->src_revision = op->src_revision;
    out->size = op->size;
    out->sha256 = op->hashed ? op->sha256 : "";
    out->mode = op->mode;
    out->ignored = op->ignored;
    out->uploaded = op->uploaded;
    out->released = op->released;
    return 0;
}
