/* The hub's commits: operations applied in order on top of the parent tree (only the folders
 * they touch are rebuilt), the hub's checks and .gitattributes upkeep, then the branch moved
 * by compare-and-swap, or a new refs/pr/N. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>

#include "common/error.h"
#include "common/gitpack.h"
#include "common/hash.h"
#include "common/lfsrules.h"
#include "common/util.h"
#include "hubd/discussions.h"
#include "hubd/fault.h"
#include "hubd/repo.h"
#include "hubd/repo_internal.h"

#define COMMIT_RETRY_SECONDS 10.0
/* From this many operations on, a commit's new objects go to the repository as one pack
 * rather than as a loose file each: creating thousands of small files (and their folders)
 * was most of the time of a big commit. Small commits stay loose, so packs stay few. */
#define PACK_MIN_OPS 32

/* ---- an editable tree: one treebuilder per folder the commit touches ------------------- */

typedef struct tnode tnode;
struct tnode {
    char *name;
    git_treebuilder *bld; /* starts as the folder's entries in the parent commit */
    tnode **kids;         /* touched subfolders, sorted by name; their bld entries are stale */
    size_t nkids, capkids;
};

static void tnode_free(tnode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nkids; i++)
        tnode_free(n->kids[i]);
    free(n->kids);
    git_treebuilder_free(n->bld);
    free(n->name);
    free(n);
}

static int tnode_new(tnode **out, git_repository *repo, const char *name, const git_tree *base)
{
    tnode *n = hfs_calloc(1, sizeof(*n));
    n->name = hfs_strdup(name);
    *out = NULL;
    if (git_treebuilder_new(&n->bld, repo, base) < 0) {
        tnode_free(n);
        return repo_git_fail(HFS_ERROR, "cannot load folder '%s'", name);
    }
    *out = n;
    return 0;
}

static size_t kid_index(const tnode *n, const char *name, bool *found)
{
    size_t lo = 0, hi = n->nkids;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(n->kids[mid]->name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static void kid_remove(tnode *n, size_t at)
{
    tnode_free(n->kids[at]);
    memmove(&n->kids[at], &n->kids[at + 1], (n->nkids - at - 1) * sizeof(tnode *));
    n->nkids--;
}

enum { STEP_OK = 0, STEP_MISSING = 1, STEP_FILE = 2 };

/* The subfolder `name` of n, loaded for editing (and made when `create`). STEP_MISSING
 * when there is none, STEP_FILE when a file holds the name. */
static int tnode_child(tnode **out, git_repository *repo, tnode *n, const char *name, bool create)
{
    bool found;
    size_t at = kid_index(n, name, &found);
    if (found) {
        *out = n->kids[at];
        return STEP_OK;
    }
    const git_tree_entry *te = git_treebuilder_get(n->bld, name);
    git_tree *sub = NULL;
    if (te) {
        if (git_tree_entry_type(te) != GIT_OBJECT_TREE)
            return STEP_FILE;
        if (git_tree_lookup(&sub, repo, git_tree_entry_id(te)) < 0)
            return repo_git_fail(HFS_ERROR, "cannot read folder '%s'", name);
    } else if (!create) {
        return STEP_MISSING;
    }
    tnode *kid;
    int rc = tnode_new(&kid, repo, name, sub);
    git_tree_free(sub);
    if (rc < 0)
        return rc;
    hfs_grow((void **)&n->kids, &n->capkids, n->nkids + 1, sizeof(tnode *));
    memmove(&n->kids[at + 1], &n->kids[at], (n->nkids - at) * sizeof(tnode *));
    n->kids[at] = kid;
    n->nkids++;
    *out = kid;
    return STEP_OK;
}

/* Does the folder hold no file any more (git keeps no empty folders)? */
static bool tnode_empty(const tnode *n)
{
    size_t kids_in_bld = 0;
    for (size_t i = 0; i < n->nkids; i++) {
        if (!tnode_empty(n->kids[i]))
            return false;
        if (git_treebuilder_get(n->bld, n->kids[i]->name))
            kids_in_bld++;
    }
    return git_treebuilder_entrycount(n->bld) == kids_in_bld;
}

static int tree_put(tnode *root, git_repository *repo, const char *path, const git_oid *oid)
{
    char *copy = hfs_strdup(path), *seg = copy, *slash;
    tnode *n = root;
    int rc = 0;
    while ((slash = strchr(seg, '/')) != NULL) {
        *slash = '\0';
        rc = tnode_child(&n, repo, n, seg, true);
        if (rc == STEP_FILE)
            rc = hfs_error_set(HFS_EINVALID,
                               "Cannot add '%s': '%s' is a file in the repo (delete it first)",
                               path, copy);
        if (rc != 0)
            goto done;
        *slash = '/';
        seg = slash + 1;
    }
    bool found;
    size_t at = kid_index(n, seg, &found);
    const git_tree_entry *te = git_treebuilder_get(n->bld, seg);
    if (found && tnode_empty(n->kids[at])) {
        kid_remove(n, at); /* its files are all gone: the name is free for a file */
    } else if (found || (te && git_tree_entry_type(te) == GIT_OBJECT_TREE)) {
        rc = hfs_error_set(HFS_EINVALID, "Cannot add file '%s': a folder with that name exists",
                           path);
        goto done;
    }
    if (git_treebuilder_insert(NULL, n->bld, seg, oid, GIT_FILEMODE_BLOB) < 0)
        rc = repo_git_fail(HFS_ERROR, "cannot add '%s'", path);
done:
    free(copy);
    return rc;
}

/* Removes a file or a whole folder; STEP_MISSING when nothing (with want_dir: no folder)
 * is there. */
static int tree_remove(tnode *root, git_repository *repo, const char *path, bool want_dir)
{
    char *copy = hfs_strdup(path), *seg = copy, *slash;
    tnode *n = root;
    int rc = 0;
    while ((slash = strchr(seg, '/')) != NULL) {
        *slash = '\0';
        rc = tnode_child(&n, repo, n, seg, false);
        if (rc == STEP_FILE)
            rc = STEP_MISSING;
        if (rc != 0)
            goto done;
        seg = slash + 1;
    }
    bool found;
    size_t at = kid_index(n, seg, &found);
    const git_tree_entry *te = git_treebuilder_get(n->bld, seg);
    if (found) {
        kid_remove(n, at);
    } else if (!te || (want_dir && git_tree_entry_type(te) != GIT_OBJECT_TREE)) {
        rc = STEP_MISSING;
        goto done;
    }
    if (te && git_treebuilder_remove(n->bld, seg) < 0)
        rc = repo_git_fail(HFS_ERROR, "cannot remove '%s'", path);
done:
    free(copy);
    return rc;
}

/* Does `path` hold exactly this blob now? (Only for paths the commit itself wrote, whose
 * folders are all loaded.) */
static bool tree_holds(const tnode *root, const char *path, const git_oid *oid)
{
    char *copy = hfs_strdup(path), *seg = copy, *slash;
    const tnode *n = root;
    bool found, holds = false;
    while ((slash = strchr(seg, '/')) != NULL) {
        *slash = '\0';
        size_t at = kid_index(n, seg, &found);
        if (!found)
            goto done;
        n = n->kids[at];
        seg = slash + 1;
    }
    kid_index(n, seg, &found);
    const git_tree_entry *te = found ? NULL : git_treebuilder_get(n->bld, seg);
    holds = te && git_oid_equal(git_tree_entry_id(te), oid);
done:
    free(copy);
    return holds;
}

/* Writes the touched folders bottom-up; a folder left empty disappears from its parent. */
static int tnode_write(git_oid *out, bool *empty, tnode *n, git_repository *repo, hfs_buf *path)
{
    for (size_t i = 0; i < n->nkids; i++) {
        tnode *kid = n->kids[i];
        size_t mark = path->len;
        if (path->len)
            hfs_buf_putc(path, '/');
        hfs_buf_puts(path, kid->name);
        git_oid kid_oid;
        bool kid_empty;
        int rc = tnode_write(&kid_oid, &kid_empty, kid, repo, path);
        path->len = mark;
        path->ptr[mark] = '\0';
        if (rc < 0)
            return rc;
        if (kid_empty) {
            if (git_treebuilder_get(n->bld, kid->name) &&
                git_treebuilder_remove(n->bld, kid->name) < 0)
                return repo_git_fail(HFS_ERROR, "cannot remove the empty folder '%s'", kid->name);
        } else if (git_treebuilder_insert(NULL, n->bld, kid->name, &kid_oid, GIT_FILEMODE_TREE) <
                   0) {
            return repo_git_fail(HFS_ERROR, "cannot add folder '%s'", kid->name);
        }
    }
    size_t count = git_treebuilder_entrycount(n->bld);
    if (count > HUBD_FOLDER_MAX_ENTRIES)
        return hfs_error_set(HFS_ELIMIT,
                             "%s%s%s would hold %zu files and folders; the hub allows at most %d "
                             "entries in one folder: spread them over subfolders",
                             path->len ? "Folder '" : "The root folder", hfs_buf_cstr(path),
                             path->len ? "'" : "", count, HUBD_FOLDER_MAX_ENTRIES);
    *empty = count == 0;
    if (git_treebuilder_write(out, n->bld) < 0)
        return repo_git_fail(HFS_ERROR, "cannot write folder '%s'", hfs_buf_cstr(path));
    return 0;
}

/* ---- the commit's operations ------------------------------------------------------------ */

typedef struct {
    const hubd_op *ops;
    size_t n;
    char **paths;    /* normalised: deletes lose their trailing '/' */
    git_oid *blobs;  /* the blob each file or lfsFile op writes */
    const char *ref; /* for messages */
} op_set;

static int check_path(const char *path, const char *shown)
{
    if (!*path)
        return hfs_error_set(HFS_EINVALID, "Invalid path '%s': it is empty", shown);
    if (path[0] == '/')
        return hfs_error_set(HFS_EINVALID,
                             "Invalid path '%s': paths are relative to the repo root, without a "
                             "leading '/'",
                             shown);
    if (!hfs_utf8_valid(path, strlen(path)))
        return hfs_error_set(HFS_EINVALID, "Invalid path '%s': it is not UTF-8", shown);
    /* Windows separators count too: the hub refuses "..\\x" just like "../x". */
    for (const char *seg = path;;) {
        size_t n = strcspn(seg, "/\\");
        if (n == 0)
            return hfs_error_set(HFS_EINVALID, "Invalid path '%s': it has an empty segment", shown);
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return hfs_error_set(HFS_EINVALID,
                                 "Invalid path '%s': '.' and '..' segments are not allowed", shown);
        if (n == 4 && strncasecmp(seg, ".git", 4) == 0)
            return hfs_error_set(HFS_EINVALID,
                                 "Invalid path '%s': a '.git' segment is reserved by git", shown);
        if (!seg[n])
            break;
        seg += n + 1;
    }
    return 0;
}

static bool is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[n] == '\0';
}

static int op_content_size(uint64_t *out, const hubd_op *op, const char *path)
{
    if (op->content || op->content_fd < 0) {
        *out = op->content_len;
        return 0;
    }
    struct stat st;
    if (fstat(op->content_fd, &st) != 0)
        return hfs_error_set(HFS_ERROR, "cannot read the content of '%s': %s", path,
                             strerror(errno));
    *out = (uint64_t)st.st_size;
    return 0;
}

/* Every check that needs no tree: paths, sizes, LFS objects. Nothing is written yet. */
static int ops_check(op_set *set, hubd_lfs_lookup_fn lfs_lookup, void *lfs_ctx)
{
    hfs_buf too_big = HFS_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < set->n && rc == 0; i++) {
        const hubd_op *op = &set->ops[i];
        const char *path = set->paths[i];
        bool is_delete = op->kind == HUBD_OP_DELETE_FILE || op->kind == HUBD_OP_DELETE_FOLDER;
        if (is_delete && !*path && op->path && *op->path) {
            rc = hfs_error_set(HFS_EINVALID, "Invalid path '%s': the repo root cannot be deleted",
                               op->path);
            break;
        }
        if ((rc = check_path(path, op->path ? op->path : "")) < 0)
            break;
        if (op->kind == HUBD_OP_FILE) {
            uint64_t size = 0;
            if ((rc = op_content_size(&size, op, path)) < 0)
                break;
            if (size > HFS_REGULAR_MAX_BYTES)
                hfs_buf_printf(&too_big, " - %s (ref: %s)", path, set->ref);
        } else if (op->kind == HUBD_OP_LFS_FILE) {
            uint64_t stored = 0;
            if (!is_lower_hex(op->lfs_oid, 64)) {
                rc = hfs_error_set(HFS_EINVALID,
                                   "Invalid lfsFile '%s': its oid must be the sha256 of the "
                                   "content, 64 lowercase hex digits",
                                   path);
            } else if (!lfs_lookup || !lfs_lookup(lfs_ctx, op->lfs_oid, &stored)) {
                rc = hfs_error_set(HFS_EINVALID,
                                   "Your push was rejected because an LFS pointer pointed to a "
                                   "file that does not exist. Offending file: - %s (LFS object "
                                   "%s was never uploaded)",
                                   path, op->lfs_oid);
            } else if (op->lfs_size != 0 && op->lfs_size != stored) {
                rc = hfs_error_set(HFS_EINVALID,
                                   "Invalid lfsFile '%s': the commit says %llu bytes but LFS "
                                   "object %s has %llu",
                                   path, (unsigned long long)op->lfs_size, op->lfs_oid,
                                   (unsigned long long)stored);
            }
        }
    }
    if (rc == 0 && too_big.len)
        rc = hfs_error_set(HFS_ELIMIT,
                           "Your push was rejected because it contains files larger than 10 MiB. "
                           "Please use https://git-lfs.github.com/ to store large files. "
                           "Offending files:%s",
                           too_big.ptr);
    hfs_buf_free(&too_big);
    return rc;
}

/* The hub's disk full (--fault enospc): the blob write fails as a real full disk fails it. */
static int disk_room(size_t len, const char *path)
{
    if (hubd_disk_take(len) < len)
        return hfs_error_set(HFS_ERROR, "cannot store the content of '%s': %s", path,
                             strerror(ENOSPC));
    return 0;
}

static int write_fd_blob(git_oid *out, git_repository *repo, int fd, uint64_t size,
                         const char *path)
{
    git_odb *odb = NULL;
    git_odb_stream *st = NULL;
    int rc = 0;
    if (git_repository_odb(&odb, repo) < 0 ||
        git_odb_open_wstream(&st, odb, (git_object_size_t)size, GIT_OBJECT_BLOB) < 0) {
        rc = repo_git_fail(HFS_ERROR, "cannot store the content of '%s'", path);
        goto done;
    }
    char buf[65536];
    for (uint64_t off = 0; off < size;) {
        size_t want = size - off < sizeof(buf) ? (size_t)(size - off) : sizeof(buf);
        ssize_t got = pread(fd, buf, want, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            rc = hfs_error_set(HFS_ERROR, "cannot read the content of '%s': %s", path,
                               got < 0 ? strerror(errno) : "it ended early");
            goto done;
        }
        if ((rc = disk_room((size_t)got, path)) < 0)
            goto done;
        if (git_odb_stream_write(st, buf, (size_t)got) < 0) {
            rc = repo_git_fail(HFS_ERROR, "cannot store the content of '%s'", path);
            goto done;
        }
        off += (uint64_t)got;
    }
    if (git_odb_stream_finalize_write(out, st) < 0)
        rc = repo_git_fail(HFS_ERROR, "cannot store the content of '%s'", path);
done:
    git_odb_stream_free(st);
    git_odb_free(odb);
    return rc;
}

/* A set of object ids: the blobs a commit has stored so far, so that identical contents (a
 * thousand copies of one small file, the same LFS pointer twice) cost one write; the objects
 * already in a pack. Open addressing on the oid, kept at most half full. */
typedef struct {
    git_oid *slots;
    bool *used;
    size_t cap, count;
} oid_set;

static void oid_set_init(oid_set *set, size_t expected)
{
    *set = (oid_set){.cap = 16};
    while (set->cap < 2 * expected)
        set->cap *= 2;
    set->slots = hfs_calloc(set->cap, sizeof(git_oid));
    set->used = hfs_calloc(set->cap, sizeof(bool));
}

static void oid_set_free(oid_set *set)
{
    free(set->slots);
    free(set->used);
    *set = (oid_set){0};
}

static bool oid_set_insert(oid_set *set, const git_oid *oid)
{
    uint64_t h;
    memcpy(&h, oid->id, sizeof(h));
    for (size_t i = (size_t)h & (set->cap - 1);; i = (i + 1) & (set->cap - 1)) {
        if (!set->used[i]) {
            set->used[i] = true;
            git_oid_cpy(&set->slots[i], oid);
            set->count++;
            return true;
        }
        if (git_oid_equal(&set->slots[i], oid))
            return false;
    }
}

/* Adds oid; false when it was there already. */
static bool oid_set_add(oid_set *set, const git_oid *oid)
{
    if (2 * (set->count + 1) > set->cap) {
        oid_set old = *set;
        oid_set_init(set, old.count + 1);
        for (size_t i = 0; i < old.cap; i++)
            if (old.used[i])
                oid_set_insert(set, &old.slots[i]);
        oid_set_free(&old);
    }
    return oid_set_insert(set, oid);
}

/* A blob from memory. Its id is OpenSSL's SHA-1 (several times faster than libgit2's
 * collision-detecting one); in a batch it goes straight into the commit's memory, where
 * git_blob_create_from_buffer would hash it a second time. */
static int write_mem_blob(git_oid *out, git_repository *repo, git_odb *batch_odb,
                          git_odb_backend *mem, oid_set *written, const void *data, size_t len,
                          const char *path)
{
    char hex[HFS_SHA1_HEX];
    hfs_git_blob_sha1_hex(hex, data, len);
    if (git_oid_fromstr(out, hex) < 0)
        return repo_git_fail(HFS_ERROR, "cannot hash the content of '%s'", path);
    if (!oid_set_add(written, out))
        return 0;
    int rc = disk_room(len, path);
    if (rc < 0)
        return rc;
    if (mem) {
        /* no refresh of the pack list for every new blob: the batch holds this session's */
        if (git_odb_exists_ext(batch_odb, out, GIT_ODB_LOOKUP_NO_REFRESH) ||
            mem->write(mem, out, data, len, GIT_OBJECT_BLOB) == 0)
            return 0;
    } else if (git_blob_create_from_buffer(out, repo, data, len) == 0) {
        return 0;
    }
    return repo_git_fail(HFS_ERROR, "cannot store the content of '%s'", path);
}

/* ---- new objects kept in memory, written as one pack --------------------------------- */

typedef struct {
    git_odb *odb;
    git_odb_backend *mem; /* owned by odb once added */
    bool dirty;           /* objects written since the last flush */
} obj_batch;

/* From here on, objects written through repo go to memory (when the commit is big enough);
 * obj_batch_flush makes them part of the repository. */
static int obj_batch_begin(obj_batch *b, git_repository *repo, size_t n_ops)
{
    *b = (obj_batch){0};
    if (n_ops < PACK_MIN_OPS)
        return 0;
    git_odb_backend *mem = NULL;
    if (git_repository_odb(&b->odb, repo) < 0 || git_mempack_new(&mem) < 0)
        return repo_git_fail(HFS_ERROR, "cannot prepare the commit's objects");
    if (git_odb_add_backend(b->odb, mem, 999) < 0) {
        mem->free(mem);
        return repo_git_fail(HFS_ERROR, "cannot prepare the commit's objects");
    }
    b->mem = mem;
    b->dirty = true;
    return 0;
}

/* Collects the trees and blobs under tree_oid that this commit made (those in the mempack);
 * a subtree the commit did not touch is not in it and is not walked. */
static int collect_new_objects(git_oid **ids, size_t *n, size_t *cap, oid_set *seen,
                               git_repository *repo, git_odb_backend *mem,
                               const git_oid *tree_oid)
{
    /* an object goes in once, however many paths name it (a thousand copies of a file) */
    if (!mem->exists(mem, tree_oid) || !oid_set_add(seen, tree_oid))
        return 0;
    git_tree *tree = NULL;
    if (git_tree_lookup(&tree, repo, tree_oid) < 0)
        return -1;
    HFS_PUSH(*ids, *n, *cap, *tree_oid);
    int rc = 0;
    size_t count = git_tree_entrycount(tree);
    for (size_t i = 0; i < count && rc == 0; i++) {
        const git_tree_entry *e = git_tree_entry_byindex(tree, i);
        const git_oid *id = git_tree_entry_id(e);
        if (git_tree_entry_type(e) == GIT_OBJECT_TREE)
            rc = collect_new_objects(ids, n, cap, seen, repo, mem, id);
        else if (git_tree_entry_type(e) == GIT_OBJECT_BLOB && mem->exists(mem, id) &&
                 oid_set_add(seen, id))
            HFS_PUSH(*ids, *n, *cap, *id);
    }
    git_tree_free(tree);
    return rc;
}

/* Writes the commit and the objects it made as a pack with its index into the repository's
 * objects/pack (common/gitpack: stored, without deltas, the index made from the ids as the
 * pack is written), then empties the memory. Called before a ref points at the commit.
 * (git_mempack_dump would pack the commit's whole tree, every file of the repository, each
 * time; libgit2's indexer would read the pack back, inflate every object and hash it again
 * with its collision-detecting SHA-1, an eighth of the hub's CPU while taking a 4 GiB
 * upload.) Tests check every such pack with git fsck. */
static int obj_batch_flush(obj_batch *b, git_repository *repo, const char *ref,
                           const git_oid *commit)
{
    if (!b->mem || !b->dirty)
        return 0;
    git_commit *c = NULL;
    git_oid *ids = NULL;
    size_t n = 0, cap = 0;
    oid_set seen = {0};
    git_buf objects = GIT_BUF_INIT;
    char *pack_dir = NULL, *why = NULL;
    hfs_gitpack *pack = NULL;
    int rc = -1;
    if (git_commit_lookup(&c, repo, commit) < 0)
        goto git_failed;
    oid_set_init(&seen, 64);
    HFS_PUSH(ids, n, cap, *commit);
    if (collect_new_objects(&ids, &n, &cap, &seen, repo, b->mem, git_commit_tree_id(c)) < 0 ||
        git_repository_item_path(&objects, repo, GIT_REPOSITORY_ITEM_OBJECTS) < 0)
        goto git_failed;
    pack_dir = hfs_path_join(objects.ptr, "pack");
    if ((rc = hfs_gitpack_begin(&pack, pack_dir, n)) < 0)
        goto failed;
    for (size_t i = 0; i < n; i++) {
        /* from the memory backend itself: the odb would hash every object again to check it */
        void *data = NULL;
        size_t len = 0;
        git_object_t type;
        if (b->mem->read(&data, &len, &type, b->mem, &ids[i]) < 0)
            goto git_failed;
        rc = hfs_gitpack_add(pack, ids[i].id, (int)type, data, len);
        git_odb_backend_data_free(b->mem, data);
        if (rc < 0)
            goto failed;
    }
    rc = hfs_gitpack_finish(pack);
    pack = NULL;
    if (rc < 0)
        goto failed;
    if (git_odb_refresh(b->odb) < 0)
        goto git_failed;
    rc = 0;
    goto done;
git_failed:
    rc = repo_git_fail(HFS_ERROR, "cannot store the objects of the commit on %s", ref);
    goto done;
failed:
    why = hfs_strdup(hfs_error_last()); /* the message is formatted into its own buffer */
    rc = hfs_error_set(rc, "cannot store the objects of the commit on %s: %s", ref, why);
    free(why);
done:
    hfs_gitpack_abort(pack);
    free(pack_dir);
    git_buf_dispose(&objects);
    free(ids);
    oid_set_free(&seen);
    git_commit_free(c);
    if (rc == 0) {
        git_mempack_reset(b->mem);
        b->dirty = false;
    }
    return rc;
}

static void obj_batch_end(obj_batch *b)
{
    git_odb_free(b->odb); /* the repository keeps its own reference, and the backend */
    *b = (obj_batch){0};
}

/* Writes the blob of every file and lfsFile op (once: a retried commit reuses them): those
 * streamed from a file when `streamed` (straight to a loose object, never held in memory),
 * else the others. */
static int ops_write_blobs(op_set *set, git_repository *repo, const obj_batch *batch,
                           hubd_lfs_lookup_fn lfs_lookup, void *lfs_ctx, bool streamed)
{
    oid_set written;
    oid_set_init(&written, set->n);
    int rc = 0;
    for (size_t i = 0; i < set->n && rc == 0; i++) {
        const hubd_op *op = &set->ops[i];
        const char *path = set->paths[i];
        bool from_fd = op->kind == HUBD_OP_FILE && !op->content && op->content_fd >= 0;
        if (from_fd != streamed)
            continue;
        if (from_fd) {
            uint64_t size = 0;
            if ((rc = op_content_size(&size, op, path)) == 0)
                rc = write_fd_blob(&set->blobs[i], repo, op->content_fd, size, path);
        } else if (op->kind == HUBD_OP_FILE) {
            rc = write_mem_blob(&set->blobs[i], repo, batch->odb, batch->mem, &written,
                                op->content ? op->content : "", op->content_len, path);
        } else if (op->kind == HUBD_OP_LFS_FILE) {
            uint64_t size = op->lfs_size;
            if (size == 0)
                lfs_lookup(lfs_ctx, op->lfs_oid, &size);
            char *pointer = repo_lfs_pointer_text(op->lfs_oid, size);
            rc = write_mem_blob(&set->blobs[i], repo, batch->odb, batch->mem, &written, pointer,
                                strlen(pointer), path);
            free(pointer);
        }
    }
    oid_set_free(&written);
    return rc;
}

typedef struct {
    const char *path;
    size_t order;
} lfs_path;

static int cmp_lfs_path(const void *a, const void *b)
{
    const lfs_path *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

static int cmp_lfs_order(const void *a, const void *b)
{
    const lfs_path *x = a, *y = b;
    return (x->order > y->order) - (x->order < y->order);
}

/* The hub keeps .gitattributes in step with the LFS files of a commit: a path that no
 * `filter=lfs` rule covers gets its own line, appended in the order of the operations. */
static int gitattributes_upkeep(tnode *root, git_repository *repo, const op_set *set)
{
    lfs_path *lfs = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < set->n; i++)
        if (set->ops[i].kind == HUBD_OP_LFS_FILE && tree_holds(root, set->paths[i], &set->blobs[i]))
            HFS_PUSH(lfs, n, cap, ((lfs_path){set->paths[i], i}));
    if (n == 0)
        return 0;
    qsort(lfs, n, sizeof(*lfs), cmp_lfs_path);
    size_t unique = 0;
    for (size_t i = 0; i < n; i++)
        if (unique == 0 || strcmp(lfs[unique - 1].path, lfs[i].path) != 0)
            lfs[unique++] = lfs[i];
    qsort(lfs, unique, sizeof(*lfs), cmp_lfs_order);

    hfs_lfsrules *rules = NULL;
    git_blob *blob = NULL;
    hfs_buf text = HFS_BUF_INIT;
    bool added = false, found;
    int rc = 0;
    kid_index(root, ".gitattributes", &found);
    const git_tree_entry *te = git_treebuilder_get(root->bld, ".gitattributes");
    if (found || (te && git_tree_entry_type(te) != GIT_OBJECT_BLOB)) {
        rc = hfs_error_set(HFS_EINVALID, "Cannot track LFS files: .gitattributes is a folder");
        goto done;
    }
    if (te) {
        if (git_blob_lookup(&blob, repo, git_tree_entry_id(te)) < 0) {
            rc = repo_git_fail(HFS_ERROR, "cannot read .gitattributes");
            goto done;
        }
        hfs_buf_add(&text, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob));
    }
    hfs_lfsrules_parse(&rules, text.ptr, text.len);
    for (size_t i = 0; i < unique; i++) {
        if (hfs_lfsrules_match(rules, lfs[i].path))
            continue;
        if (!added && text.len && text.ptr[text.len - 1] != '\n')
            hfs_buf_putc(&text, '\n');
        char *line = hfs_lfsrules_track_line(lfs[i].path);
        hfs_buf_puts(&text, line);
        free(line);
        added = true;
    }
    if (!added)
        goto done;
    if (text.len > HFS_REGULAR_MAX_BYTES) {
        rc = hfs_error_set(HFS_ELIMIT,
                           "Your push was rejected because it contains files larger than 10 MiB. "
                           "Please use https://git-lfs.github.com/ to store large files. "
                           "Offending files: - .gitattributes (ref: %s) (one line per LFS file "
                           "outside its rules made it too big: add a pattern that covers them)",
                           set->ref);
        goto done;
    }
    git_oid oid;
    if (git_blob_create_from_buffer(&oid, repo, text.ptr, text.len) < 0 ||
        git_treebuilder_insert(NULL, root->bld, ".gitattributes", &oid, GIT_FILEMODE_BLOB) < 0)
        rc = repo_git_fail(HFS_ERROR, "cannot update .gitattributes");
done:
    hfs_buf_free(&text);
    hfs_lfsrules_free(rules);
    git_blob_free(blob);
    free(lfs);
    return rc;
}

/* The tree the operations make from `base`, in order. */
static int ops_apply(git_oid *out, git_repository *repo, const git_tree *base, const op_set *set)
{
    tnode *root = NULL;
    hfs_buf path = HFS_BUF_INIT;
    int rc = tnode_new(&root, repo, "", base);
    for (size_t i = 0; i < set->n && rc == 0; i++) {
        const hubd_op *op = &set->ops[i];
        const char *p = set->paths[i];
        switch (op->kind) {
        case HUBD_OP_FILE:
        case HUBD_OP_LFS_FILE:
            rc = tree_put(root, repo, p, &set->blobs[i]);
            break;
        case HUBD_OP_DELETE_FILE:
            rc = tree_remove(root, repo, p, false);
            if (rc == STEP_MISSING)
                rc = hfs_error_set(HFS_ENOTFOUND,
                                   "A file with this name doesn't exist: %s (ref: %s); to delete "
                                   "a folder, use deletedFolder or a trailing '/'",
                                   p, set->ref);
            break;
        case HUBD_OP_DELETE_FOLDER:
            rc = tree_remove(root, repo, p, true);
            if (rc == STEP_MISSING)
                rc = hfs_error_set(HFS_ENOTFOUND,
                                   "A folder with this name doesn't exist: %s (ref: %s)", p,
                                   set->ref);
            break;
        default:
            rc = hfs_error_set(HFS_EINVALID, "unknown commit operation %d on '%s'", (int)op->kind,
                               p);
        }
    }
    if (rc == 0)
        rc = gitattributes_upkeep(root, repo, set);
    bool empty;
    if (rc == 0)
        rc = tnode_write(out, &empty, root, repo, &path);
    hfs_buf_free(&path);
    tnode_free(root);
    return rc;
}

/* A commit object on `base` (not on any ref yet); *changed false when the tree is the same. */
static int build_commit(git_oid *out, bool *changed, git_repository *repo, const git_oid *base_oid,
                        const op_set *set, const git_signature *sig, const char *message)
{
    git_commit *base = NULL;
    git_tree *base_tree = NULL, *tree = NULL;
    git_oid tree_oid;
    int rc = 0;
    *changed = false;
    if (git_commit_lookup(&base, repo, base_oid) < 0 || git_commit_tree(&base_tree, base) < 0) {
        rc = repo_git_fail(HFS_ERROR, "cannot read the head of %s", set->ref);
        goto done;
    }
    if ((rc = ops_apply(&tree_oid, repo, base_tree, set)) < 0)
        goto done;
    if (git_oid_equal(&tree_oid, git_tree_id(base_tree)))
        goto done;
    const git_commit *parents[] = {base};
    if (git_tree_lookup(&tree, repo, &tree_oid) < 0 ||
        git_commit_create(out, repo, NULL, sig, sig, NULL, message, tree, 1, parents) < 0) {
        rc = repo_git_fail(HFS_ERROR, "cannot write the commit on %s", set->ref);
        goto done;
    }
    *changed = true;
done:
    git_tree_free(tree);
    git_tree_free(base_tree);
    git_commit_free(base);
    return rc;
}

/* ---- refs --------------------------------------------------------------------------------- */

/* The ref a commit to `revision` moves: a branch or an existing refs/pr/N. */
static int commit_target(char **out, git_repository *repo, const char *id, const char *revision,
                         bool create_pr)
{
    const char *rev = revision && *revision ? revision : HUBD_DEFAULT_BRANCH;
    char *ref = NULL;
    *out = NULL;
    if (hfs_str_starts_with(rev, "refs/pr/")) {
        if (create_pr)
            return hfs_error_set(HFS_ENOTFOUND,
                                 "Invalid rev id: %s (a pull request is opened against a branch)",
                                 rev);
        ref = hfs_strdup(rev);
    } else if (hfs_str_starts_with(rev, "refs/heads/")) {
        ref = hfs_strdup(rev);
    } else if (hfs_str_starts_with(rev, "refs/")) {
        return hfs_error_set(HFS_ENOTFOUND,
                             "Invalid rev id: %s (commits go to a branch or to refs/pr/N)", rev);
    } else {
        ref = hfs_sprintf("refs/heads/%s", rev);
    }
    int valid = 0;
    git_oid oid;
    if (git_reference_name_is_valid(&valid, ref) < 0 || !valid ||
        git_reference_name_to_id(&oid, repo, ref) < 0) {
        git_error_clear();
        free(ref);
        return hfs_error_set(HFS_ENOTFOUND, "Invalid rev id: %s (no such branch in %s)", rev, id);
    }
    *out = ref;
    return 0;
}

/* refs/pr/N at the new commit, with N shared by the repo's discussions and PRs, and the
 * PR's record (hubd/discussions.h): both under the repo's discussion lock. */
static int open_pr(int *out, git_repository *repo, hubd_repos *repos, hfs_repo_kind kind,
                   const char *id, const git_oid *commit, const git_oid *base,
                   const hubd_commit_header *header, const char *base_ref)
{
    hubd_discussion_new d = {.title = header->summary,
                             .description = header->description,
                             .author = header->author,
                             .pull_request = true,
                             .base_ref = base_ref};
    return hubd_discussion_open_pr(out, repo, repos, kind, id, &d, commit, base);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A short, per-thread-varied pause while another commit holds the ref's lock file. */
static void backoff(unsigned attempt)
{
    unsigned spread = (unsigned)((uintptr_t)pthread_self() >> 4) + attempt * 7u;
    struct timespec ts = {0, (long)(1 + spread % 5) * 1000000L};
    nanosleep(&ts, NULL);
}

int hubd_repo_commit(hubd_commit_result *out, hubd_repos *repos, hfs_repo_kind kind, const char *id,
                     const char *revision, bool create_pr, const hubd_commit_header *header,
                     const hubd_op *ops, size_t n_ops, hubd_lfs_lookup_fn lfs_lookup, void *lfs_ctx)
{
    memset(out, 0, sizeof(*out));
    repo_session s = {0};
    op_set set = {.ops = ops, .n = n_ops};
    obj_batch batch = {0};
    git_signature *sig = NULL;
    char *refname = NULL, *message = NULL;
    const char *parent = header ? header->parent_commit : NULL;
    int rc = 0;

    set.paths = hfs_calloc(n_ops ? n_ops : 1, sizeof(char *));
    set.blobs = hfs_calloc(n_ops ? n_ops : 1, sizeof(git_oid));
    for (size_t i = 0; i < n_ops; i++) {
        const char *p = ops[i].path ? ops[i].path : "";
        size_t len = strlen(p);
        if (ops[i].kind == HUBD_OP_DELETE_FILE || ops[i].kind == HUBD_OP_DELETE_FOLDER)
            while (len > 0 && p[len - 1] == '/')
                len--;
        set.paths[i] = hfs_strndup(p, len);
    }
    if (!header || !header->summary || !*header->summary) {
        rc = hfs_error_set(HFS_EINVALID, "The commit needs a summary (the header's \"summary\")");
        goto done;
    }
    if (parent && (strlen(parent) < 5 || strlen(parent) > GIT_OID_HEXSZ ||
                   strspn(parent, "0123456789abcdefABCDEF") != strlen(parent))) {
        rc = hfs_error_set(HFS_EINVALID, "Invalid parentCommit '%s': expected 5 to 40 hex digits",
                           parent);
        goto done;
    }
    if ((rc = repo_session_open(&s, repos, kind, id)) < 0 ||
        (rc = commit_target(&refname, s.repo, id, revision, create_pr)) < 0)
        goto done;
    set.ref = refname;
    if ((rc = ops_check(&set, lfs_lookup, lfs_ctx)) < 0 ||
        (rc = ops_write_blobs(&set, s.repo, &batch, lfs_lookup, lfs_ctx, true)) < 0 ||
        (rc = obj_batch_begin(&batch, s.repo, n_ops)) < 0 ||
        (rc = ops_write_blobs(&set, s.repo, &batch, lfs_lookup, lfs_ctx, false)) < 0 ||
        (rc = repo_signature(&sig, header->author)) < 0)
        goto done;
    message = header->description && *header->description
                  ? hfs_sprintf("%s\n\n%s", header->summary, header->description)
                  : hfs_strdup(header->summary);

    /* A pull request starts from parentCommit when given, else from the branch's head. */
    git_oid pr_base;
    if (create_pr && parent) {
        git_object *obj = NULL;
        if (git_oid_fromstrn(&pr_base, parent, strlen(parent)) < 0 ||
            git_object_lookup_prefix(&obj, s.repo, &pr_base, strlen(parent), GIT_OBJECT_COMMIT) <
                0) {
            git_error_clear();
            rc = hfs_error_set(HFS_ENOTFOUND,
                               "Invalid rev id: parentCommit %s is not a commit of %s", parent, id);
            goto done;
        }
        git_oid_cpy(&pr_base, git_object_id(obj));
        git_object_free(obj);
    }

    bool built = false;
    git_oid built_on, new_commit;
    double started = now_seconds();
    for (unsigned attempt = 0;; attempt++) {
        git_oid head;
        if (git_reference_name_to_id(&head, s.repo, refname) < 0) {
            git_error_clear();
            rc = hfs_error_set(HFS_ENOTFOUND, "Invalid rev id: %s (no such branch in %s)", refname,
                               id);
            goto done;
        }
        if (parent && !create_pr) {
            char hex[GIT_OID_HEXSZ + 1];
            git_oid_tostr(hex, sizeof(hex), &head);
            if (strncasecmp(hex, parent, strlen(parent)) != 0) {
                rc = hfs_error_set(HFS_ESTALE,
                                   "A commit has happened since. Please refresh and try again. "
                                   "(%s is at %s, the commit was made on %s)",
                                   refname, hex, parent);
                goto done;
            }
        }
        const git_oid *base = create_pr && parent ? &pr_base : &head;
        if (!built || !git_oid_equal(&built_on, base)) {
            bool changed;
            if ((rc = build_commit(&new_commit, &changed, s.repo, base, &set, sig, message)) < 0)
                goto done;
            if (!changed) {
                git_oid_tostr(out->commit_oid, sizeof(out->commit_oid), base);
                goto done;
            }
            built = true;
            git_oid_cpy(&built_on, base);
            batch.dirty = batch.mem != NULL;
        }
        if ((rc = obj_batch_flush(&batch, s.repo, refname, &new_commit)) < 0)
            goto done;
        if (create_pr) {
            if ((rc = open_pr(&out->pr_number, s.repo, repos, kind, id, &new_commit, base, header,
                              refname)) == 0) {
                out->changed = true;
                git_oid_tostr(out->commit_oid, sizeof(out->commit_oid), &new_commit);
            }
            goto done;
        }
        /* Compare-and-swap: the ref moves only if it still points at the head we built on. */
        git_reference *ref = NULL;
        int err =
            git_reference_create_matching(&ref, s.repo, refname, &new_commit, 1, &head, "commit");
        git_reference_free(ref);
        if (err == 0) {
            out->changed = true;
            git_oid_tostr(out->commit_oid, sizeof(out->commit_oid), &new_commit);
            goto done;
        }
        if (err != GIT_EMODIFIED && err != GIT_ELOCKED) {
            rc = repo_git_fail(HFS_ERROR, "cannot move %s of %s", refname, id);
            goto done;
        }
        git_error_clear();
        if (now_seconds() - started > COMMIT_RETRY_SECONDS) {
            rc = hfs_error_set(HFS_ELOCKED,
                               "Cannot update %s of %s: other commits kept it busy for %.0f s; "
                               "try again",
                               refname, id, COMMIT_RETRY_SECONDS);
            goto done;
        }
        if (err == GIT_ELOCKED)
            backoff(attempt);
    }
done:
    for (size_t i = 0; i < n_ops; i++)
        free(set.paths[i]);
    free(set.paths);
    free(set.blobs);
    free(message);
    free(refname);
    git_signature_free(sig);
    obj_batch_end(&batch);
    repo_session_close(&s);
    return rc;
}
