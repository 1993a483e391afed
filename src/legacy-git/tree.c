/* The commit's tree, built in the cache without a working tree: regular files streamed into
 * blobs, LFS files as pointer blobs, and .gitattributes kept in step the way the hub does it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/gitpack.h"
#include "common/hash.h"
#include "common/lfsrules.h"
#include "common/util.h"
#include "legacy-git/lgit.h"

#define POINTER_VERSION "version https://git-lfs.github.com/spec/v1"

/* libgit2's own message, after ours. */
static int git_fail(int code, const char *fmt, const char *arg)
{
    const git_error *e = git_error_last();
    char *what = hfs_sprintf(fmt, arg);
    int rc = hfs_error_set(code, "%s: %s", what, e && e->message ? e->message : "libgit2 error");
    free(what);
    git_error_clear();
    return rc;
}

char *lgit_pointer_text(const char *sha256, uint64_t size)
{
    return hfs_sprintf(POINTER_VERSION "\noid sha256:%s\nsize %" PRIu64 "\n", sha256, size);
}

int lgit_blob_pointer(git_oid *out, git_repository *repo, const char *sha256, uint64_t size)
{
    char *text = lgit_pointer_text(sha256, size);
    int rc = 0;
    if (git_blob_create_from_buffer(out, repo, text, strlen(text)) < 0)
        rc = git_fail(HFS_ERROR, "cannot store the LFS pointer of object %s", sha256);
    free(text);
    return rc;
}

/* Reads the `size` bytes the plan has of a regular file into *out, with the plan's checks:
 * a file that is gone, shorter or longer than planned is HFS_ESTALE (a longer one is read up
 * to `size` with allow_growth, a log being appended to). */
static int read_planned(hfs_buf *out, const char *path, uint64_t size, bool allow_growth)
{
    if (size > HFS_REGULAR_MAX_BYTES)
        return hfs_error_set(HFS_ELIMIT,
                             "%s: %" PRIu64 " bytes is over the hub's %u MiB limit for a file "
                             "outside LFS",
                             path, size, (unsigned)(HFS_REGULAR_MAX_BYTES >> 20));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hfs_error_set(errno == ENOENT ? HFS_ESTALE : HFS_ERROR,
                             "cannot read %s to commit it: %s", path, strerror(errno));
    int rc = 0;
    out->len = 0;
    hfs_buf_grow(out, (size_t)size + 1); /* one more: a byte past the plan is growth */
    for (;;) {
        size_t want = (size_t)size + 1 - out->len;
        if (allow_growth && out->len + want > size)
            want = (size_t)(size - out->len); /* the planned bytes only; 0 ends the loop */
        ssize_t got = want ? read(fd, out->ptr + out->len, want) : 0;
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = hfs_error_set(HFS_ERROR, "cannot read %s to commit it: %s", path, strerror(errno));
            break;
        }
        if (got == 0)
            break;
        out->len += (size_t)got;
        if (out->len > size) {
            rc = hfs_error_set(HFS_ESTALE,
                               "plan is stale: %s grew past its planned %" PRIu64
                               " bytes since the plan was written; run `hfsync plan` again",
                               path, size);
            break;
        }
    }
    if (rc == 0 && out->len != size)
        rc = hfs_error_set(HFS_ESTALE,
                           "plan is stale: %s has %zu bytes, the plan %" PRIu64
                           "; run `hfsync plan` again",
                           path, out->len, size);
    close(fd);
    return rc;
}

/* The pin, when there is one, must be the blob's id. */
static int check_pin(const char *path, const char *hex, const char *pin_sha1)
{
    if (!pin_sha1 || !*pin_sha1 || strcmp(hex, pin_sha1) == 0)
        return 0;
    return hfs_error_set(HFS_ESTALE,
                         "plan is stale: %s changed since the plan was written (its git sha1 "
                         "is now %.12s…, the plan has %.12s…); run `hfsync plan` again",
                         path, hex, pin_sha1);
}

int lgit_blob_from_file(git_oid *out, git_repository *repo, const char *path, uint64_t size,
                        const char *pin_sha1, bool allow_growth)
{
    hfs_buf data = HFS_BUF_INIT;
    int rc = read_planned(&data, path, size, allow_growth);
    if (rc == 0 && git_blob_create_from_buffer(out, repo, data.ptr, data.len) < 0)
        rc = git_fail(HFS_ERROR, "cannot store the content of %s in the git cache", path);
    if (rc == 0) {
        char hex[GIT_OID_HEXSZ + 1];
        git_oid_tostr(hex, sizeof(hex), out);
        rc = check_pin(path, hex, pin_sha1);
    }
    hfs_buf_free(&data);
    return rc;
}

static int by_blob_id(const void *a, const void *b)
{
    return git_oid_cmp((*(const lgit_blob_file *const *)a)->out,
                       (*(const lgit_blob_file *const *)b)->out);
}

/* The pinned files of a big commit as one pack (common/gitpack: stored, no deltas, the index
 * from the ids): a loose object each meant a deflate (at libgit2's level 1) and a new file
 * with its folder for every one, about half of what the git transport spent on a tree of
 * 5,000 JSON files. Every file is read and hashed (OpenSSL's SHA-1) and must match its
 * pin; the ids are the pins, so the pack's size is known before the first byte. */
static int write_pack(git_repository *repo, lgit_blob_file *const *files, size_t n,
                      bool allow_growth)
{
    git_odb *odb = NULL;
    git_buf objects = GIT_BUF_INIT;
    hfs_buf data = HFS_BUF_INIT;
    hfs_gitpack *pack = NULL;
    bool *fresh = hfs_calloc(n, sizeof(*fresh)); /* written into the pack */
    char *pack_dir = NULL;
    size_t count = 0;
    int rc = 0;
    if (git_repository_odb(&odb, repo) < 0 ||
        git_repository_item_path(&objects, repo, GIT_REPOSITORY_ITEM_OBJECTS) < 0) {
        rc = git_fail(HFS_ERROR, "cannot open the objects of the git cache %s",
                      git_repository_path(repo));
        goto done;
    }
    /* files is sorted by id: the first of equal ones goes in, unless the cache has it */
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && git_oid_equal(files[i]->out, files[i - 1]->out))
            continue;
        fresh[i] = !git_odb_exists(odb, files[i]->out);
        count += fresh[i];
    }
    pack_dir = hfs_path_join(objects.ptr, "pack");
    if (count > 0 && (rc = hfs_gitpack_begin(&pack, pack_dir, count)) < 0)
        goto done;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const lgit_blob_file *f = files[i];
        char hex[HFS_SHA1_HEX];
        if ((rc = read_planned(&data, f->path, f->size, allow_growth)) < 0)
            break;
        hfs_git_blob_sha1_hex(hex, data.ptr, data.len);
        if ((rc = check_pin(f->path, hex, f->pin_sha1)) < 0)
            break;
        if (fresh[i])
            rc = hfs_gitpack_add(pack, f->out->id, HFS_GITPACK_BLOB, data.ptr, data.len);
    }
    if (rc == 0 && pack) {
        rc = hfs_gitpack_finish(pack);
        pack = NULL;
        if (rc == 0 && git_odb_refresh(odb) < 0)
            rc = git_fail(HFS_ERROR, "cannot read the new pack in %s", pack_dir);
    }
done:
    hfs_gitpack_abort(pack);
    free(pack_dir);
    free(fresh);
    hfs_buf_free(&data);
    git_buf_dispose(&objects);
    git_odb_free(odb);
    return rc;
}

int lgit_blobs_from_files(git_repository *repo, lgit_blob_file *files, size_t n, bool allow_growth)
{
    lgit_blob_file **packed = hfs_calloc(n ? n : 1, sizeof(*packed));
    size_t m = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        lgit_blob_file *f = &files[i];
        if (n >= LGIT_PACK_MIN_FILES && f->pin_sha1 && git_oid_fromstr(f->out, f->pin_sha1) == 0)
            packed[m++] = f;
        else
            rc = lgit_blob_from_file(f->out, repo, f->path, f->size, f->pin_sha1, allow_growth);
        git_error_clear(); /* a pin that is not an oid is checked on the loose path */
    }
    if (rc == 0 && m > 0) {
        qsort(packed, m, sizeof(*packed), by_blob_id);
        rc = write_pack(repo, packed, m, allow_growth);
    }
    free(packed);
    return rc;
}

int lgit_blob_at(git_oid *out, const git_tree *tree, const char *path)
{
    git_tree_entry *e = NULL;
    int rc = 0;
    if (!tree || git_tree_entry_bypath(&e, tree, path) < 0) {
        git_error_clear();
        rc = hfs_error_set(HFS_ENOTFOUND, "%s is not in the revision the plan builds on", path);
    } else if (git_tree_entry_type(e) != GIT_OBJECT_BLOB) {
        rc = hfs_error_set(HFS_ENOTFOUND,
                           "%s is a folder, not a file, in the revision the plan "
                           "builds on",
                           path);
    } else {
        git_oid_cpy(out, git_tree_entry_id(e));
    }
    git_tree_entry_free(e);
    return rc;
}

/* ---- the tree ------------------------------------------------------------------------------- */

typedef struct {
    const char *path;
    size_t order;
} path_at;

static int by_path_then_order(const void *a, const void *b)
{
    const path_at *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

static int by_order(const void *a, const void *b)
{
    const path_at *x = a, *y = b;
    return (x->order > y->order) - (x->order < y->order);
}

/* Does `path` in `tree` hold exactly `blob`? The hub tracks an LFS path only when the
 * commit's last word on it is that pointer. */
static bool tree_holds(const git_tree *tree, const char *path, const git_oid *blob)
{
    git_tree_entry *e = NULL;
    bool holds = git_tree_entry_bypath(&e, tree, path) == 0 &&
                 git_tree_entry_type(e) == GIT_OBJECT_BLOB &&
                 git_oid_equal(git_tree_entry_id(e), blob);
    git_error_clear();
    git_tree_entry_free(e);
    return holds;
}

/* The .gitattributes the hub would write after these changes, into *out_blob; *added false
 * when every LFS path is covered already. */
static int gitattributes_upkeep(git_oid *out_blob, bool *added, git_repository *repo,
                                const git_tree *tree, const lgit_change *changes, size_t n)
{
    path_at *lfs = NULL;
    size_t n_lfs = 0, cap = 0;
    git_tree_entry *te = NULL;
    git_blob *blob = NULL;
    hfs_lfsrules *rules = NULL;
    hfs_buf text = HFS_BUF_INIT;
    int rc = 0;
    *added = false;

    /* A path changed twice counts once, where it first appears (the hub's order). */
    for (size_t i = 0; i < n; i++) {
        const lgit_change *c = &changes[i];
        if (!c->remove && c->lfs && tree_holds(tree, c->path, &c->blob))
            HFS_PUSH(lfs, n_lfs, cap, ((path_at){c->path, i}));
    }
    if (n_lfs == 0)
        goto done;
    qsort(lfs, n_lfs, sizeof(*lfs), by_path_then_order);
    size_t unique = 0;
    for (size_t i = 0; i < n_lfs; i++)
        if (unique == 0 || strcmp(lfs[unique - 1].path, lfs[i].path) != 0)
            lfs[unique++] = lfs[i];
    qsort(lfs, unique, sizeof(*lfs), by_order);

    if (git_tree_entry_bypath(&te, tree, ".gitattributes") == 0) {
        if (git_tree_entry_type(te) != GIT_OBJECT_BLOB) {
            rc = hfs_error_set(HFS_EINVALID,
                               "cannot track LFS files: .gitattributes is a folder in the repo");
            goto done;
        }
        if (git_blob_lookup(&blob, repo, git_tree_entry_id(te)) < 0) {
            rc = git_fail(HFS_ERROR, "cannot read %s from the git cache", ".gitattributes");
            goto done;
        }
        hfs_buf_add(&text, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob));
    }
    git_error_clear();
    hfs_lfsrules_parse(&rules, text.ptr, text.len);
    for (size_t i = 0; i < unique; i++) {
        if (hfs_lfsrules_match(rules, lfs[i].path))
            continue;
        if (!*added && text.len && text.ptr[text.len - 1] != '\n')
            hfs_buf_putc(&text, '\n');
        char *line = hfs_lfsrules_track_line(lfs[i].path);
        hfs_buf_puts(&text, line);
        free(line);
        *added = true;
    }
    if (!*added)
        goto done;
    if (text.len > HFS_REGULAR_MAX_BYTES) {
        rc = hfs_error_set(HFS_ELIMIT,
                           "Your push would be rejected because it contains files larger than "
                           "10 MiB: .gitattributes, with one line per LFS file outside its "
                           "rules, would grow to %zu bytes; add a pattern that covers them",
                           text.len);
        goto done;
    }
    if (git_blob_create_from_buffer(out_blob, repo, text.ptr, text.len) < 0)
        rc = git_fail(HFS_ERROR, "cannot store %s in the git cache", ".gitattributes");
done:
    hfs_buf_free(&text);
    hfs_lfsrules_free(rules);
    git_blob_free(blob);
    git_tree_entry_free(te);
    free(lfs);
    return rc;
}

/* The path as git_tree_create_updated wants it: no trailing '/'. Caller frees. */
static char *bare_path(const char *path)
{
    size_t len = strlen(path);
    while (len > 0 && path[len - 1] == '/')
        len--;
    return hfs_strndup(path, len);
}

int lgit_tree_build(git_oid *out, git_repository *repo, git_tree *base, const lgit_change *changes,
                    size_t n)
{
    git_tree_update *updates = hfs_calloc(n ? n : 1, sizeof(*updates));
    char **paths = hfs_calloc(n ? n : 1, sizeof(*paths));
    git_tree *empty = NULL, *built = NULL;
    size_t m = 0;
    int rc = 0;

    if (!base) {
        git_oid empty_oid;
        git_treebuilder *bld = NULL;
        int err = git_treebuilder_new(&bld, repo, NULL);
        if (err == 0)
            err = git_treebuilder_write(&empty_oid, bld);
        git_treebuilder_free(bld);
        if (err < 0 || git_tree_lookup(&empty, repo, &empty_oid) < 0) {
            rc = git_fail(HFS_ERROR, "cannot make an empty tree in %s", "the git cache");
            goto done;
        }
        base = empty;
    }
    /* git_tree_create_updated sorts what it gets, while the hub applies changes in order: a
     * path changed twice keeps its last change, as the hub's sequence would leave it. */
    path_at *order = hfs_calloc(n ? n : 1, sizeof(*order));
    for (size_t i = 0; i < n; i++) {
        paths[i] = bare_path(changes[i].path);
        order[i] = (path_at){paths[i], i};
    }
    qsort(order, n, sizeof(*order), by_path_then_order);
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && strcmp(order[i].path, order[i + 1].path) == 0)
            continue;
        const lgit_change *c = &changes[order[i].order];
        updates[m] =
            (git_tree_update){.action = c->remove ? GIT_TREE_UPDATE_REMOVE : GIT_TREE_UPDATE_UPSERT,
                              .filemode = GIT_FILEMODE_BLOB,
                              .path = order[i].path};
        if (!c->remove)
            git_oid_cpy(&updates[m].id, &c->blob);
        m++;
    }
    free(order);
    if (git_tree_create_updated(out, repo, base, m, updates) < 0) {
        rc = git_fail(HFS_ERROR, "cannot build the commit's tree from %s",
                      m ? "the plan's operations" : "nothing");
        goto done;
    }
    if (git_tree_lookup(&built, repo, out) < 0) {
        rc = git_fail(HFS_ERROR, "cannot read back the commit's tree in %s", "the git cache");
        goto done;
    }
    git_oid attributes;
    bool added;
    if ((rc = gitattributes_upkeep(&attributes, &added, repo, built, changes, n)) < 0 || !added)
        goto done;
    git_tree_update up = {
        .action = GIT_TREE_UPDATE_UPSERT, .filemode = GIT_FILEMODE_BLOB, .path = ".gitattributes"};
    git_oid_cpy(&up.id, &attributes);
    if (git_tree_create_updated(out, repo, built, 1, &up) < 0)
        rc = git_fail(HFS_ERROR, "cannot add %s to the commit's tree", ".gitattributes");
done:
    git_tree_free(built);
    git_tree_free(empty);
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    free(updates);
    return rc;
}
