/* The diff and the limits check: pure functions from (local files, remote snapshot,
 * settings) to operations, so they are tested with in-memory lists and benchmarked alone. */
#include "planner/diff.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/util.h"
#include "planner/lfsdecide.h"

const char *hfs_op_kind_name(hfs_op_kind kind)
{
    switch (kind) {
    case HFS_OP_ADD:
        return "add";
    case HFS_OP_UPDATE:
        return "update";
    case HFS_OP_DELETE:
        return "delete";
    case HFS_OP_COPY:
        return "copy";
    }
    return "?";
}

/* The path relative to path_in_repo, or NULL when the path is outside it. */
static const char *relative_to(const char *path, const char *prefix, size_t prefix_len)
{
    if (prefix_len == 0)
        return path;
    if (strncmp(path, prefix, prefix_len) != 0 || path[prefix_len] != '/')
        return NULL;
    return path + prefix_len + 1;
}

static const char *basename_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static bool deletable(const hfs_remote_entry *r, const hfs_diff_settings *s, size_t prefix_len)
{
    if (!s->delete_set || hfs_pattern_set_empty(s->delete_set))
        return false;
    const char *rel = relative_to(r->path, s->path_in_repo, prefix_len);
    /* The hub's LFS rules live in .gitattributes; removing it would silently change how
     * every later upload is stored (huggingface_hub never deletes it either). */
    if (!rel || strcmp(basename_of(r->path), ".gitattributes") == 0)
        return false;
    return hfs_pattern_set_match(s->delete_set, rel);
}

static bool same_content(const hfs_remote_entry *r, const hfs_local_file *f)
{
    if (r->size != f->size)
        return false;
    return r->is_lfs ? f->has_sha256 && hfs_remote_entry_same_sha256(r, f->sha256)
                     : f->has_sha1 && hfs_remote_entry_same_sha1(r, f->sha1);
}

/* ---- copy sources: remote LFS files by sha256 ----------------------------------------- */

typedef struct {
    const hfs_remote_entry *e;
    bool deleted;
} lfs_source;

static int compare_source(const void *pa, const void *pb)
{
    const lfs_source *a = pa, *b = pb;
    int c = memcmp(a->e->sha256, b->e->sha256, sizeof(a->e->sha256));
    if (c)
        return c;
    /* A file being deleted is the best source: the local change was a move. */
    if (a->deleted != b->deleted)
        return a->deleted ? -1 : 1;
    return strcmp(a->e->path, b->e->path);
}

/* The first source holding this sha256 (sources sorted by compare_source), or NULL. */
static const lfs_source *find_source(const lfs_source *sources, size_t n,
                                     const unsigned char sha[32])
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(sources[mid].e->sha256, sha, 32) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && memcmp(sources[lo].e->sha256, sha, 32) == 0 ? &sources[lo] : NULL;
}

/* ---- the diff ------------------------------------------------------------------------- */

static int push_op(hfs_diff_result *out, size_t *cap, hfs_op op)
{
    HFS_PUSH(out->ops, out->n_ops, *cap, op);
    return 0;
}

static int local_op(hfs_op *op, hfs_op_kind kind, const hfs_local_file *f, unsigned char mode,
                    const hfs_remote_entry *remote)
{
    if (mode != HFS_MODE_REGULAR && mode != HFS_MODE_LFS)
        return hfs_error_set(HFS_EINVALID, "diff: %s has no decided upload mode", f->repo_path);
    bool lfs = mode == HFS_MODE_LFS;
    if (lfs ? !f->has_sha256 : !f->has_sha1)
        return hfs_error_set(HFS_EINVALID, "diff: %s has no %s", f->repo_path,
                             lfs ? "sha256 (it goes to LFS)" : "git blob sha1");
    *op = (hfs_op){.kind = kind,
                   .lfs = lfs,
                   .upload = true,
                   .path = f->repo_path,
                   .local = f,
                   .remote = remote,
                   .size = f->size};
    return 0;
}

static int compare_lfs_upload(const void *pa, const void *pb, void *ctx)
{
    const hfs_op *ops = ctx;
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    int c = strcmp(ops[a].local->sha256, ops[b].local->sha256);
    return c ? c : (a < b ? -1 : a > b);
}

int hfs_diff(hfs_diff_result *out, const hfs_local_file *local, const unsigned char *modes,
             size_t n_local, const hfs_remote_snapshot *remote, const hfs_diff_settings *s)
{
    static const hfs_diff_settings no_settings = {NULL, NULL};
    hfs_diff_settings settings = s ? *s : no_settings;
    if (!settings.path_in_repo)
        settings.path_in_repo = "";
    size_t prefix_len = strlen(settings.path_in_repo);
    size_t n_remote = remote ? remote->count : 0, cap = 0, upload_cap = 0, n_sources = 0;
    const hfs_remote_entry *entries = remote ? remote->entries : NULL;
    unsigned char *deleted = hfs_calloc(n_remote ? n_remote : 1, 1);
    lfs_source *sources = NULL;
    size_t *uploads = NULL, n_uploads = 0;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    for (size_t i = 1; i < n_local; i++)
        if (strcmp(local[i - 1].repo_path, local[i].repo_path) >= 0) {
            rc = hfs_error_set(HFS_EINVALID, "diff: local files are not sorted at %s",
                               local[i].repo_path);
            goto done;
        }

    /* One merge of two sorted lists gives add, update, unchanged and delete in path order. */
    for (size_t i = 0, j = 0; i < n_local || j < n_remote;) {
        int c = i < n_local && j < n_remote ? strcmp(local[i].repo_path, entries[j].path)
                : i < n_local               ? -1
                                            : 1;
        hfs_op op;
        if (c < 0) {
            rc = local_op(&op, HFS_OP_ADD, &local[i], modes[i], NULL);
            if (rc == 0)
                rc = push_op(out, &cap, op);
            i++;
        } else if (c > 0) {
            if (deletable(&entries[j], &settings, prefix_len)) {
                deleted[j] = 1;
                op = (hfs_op){.kind = HFS_OP_DELETE,
                              .lfs = entries[j].is_lfs,
                              .path = entries[j].path,
                              .remote = &entries[j],
                              .size = entries[j].size};
                rc = push_op(out, &cap, op);
            }
            j++;
        } else {
            if (same_content(&entries[j], &local[i])) {
                out->n_unchanged++;
            } else {
                rc = local_op(&op, HFS_OP_UPDATE, &local[i], modes[i], &entries[j]);
                if (rc == 0)
                    rc = push_op(out, &cap, op);
            }
            i++;
            j++;
        }
        if (rc < 0)
            goto done;
    }

    /* Copies: new LFS content the remote already stores needs no upload. */
    sources = hfs_malloc((n_remote ? n_remote : 1) * sizeof(*sources));
    for (size_t j = 0; j < n_remote; j++)
        if (entries[j].is_lfs)
            sources[n_sources++] = (lfs_source){&entries[j], deleted[j] != 0};
    if (n_sources > 1)
        qsort(sources, n_sources, sizeof(*sources), compare_source);
    for (size_t k = 0; k < out->n_ops; k++) {
        hfs_op *op = &out->ops[k];
        if (op->kind == HFS_OP_DELETE || !op->lfs)
            continue;
        unsigned char sha[32];
        const lfs_source *src =
            n_sources && hfs_remote_hex_decode(sha, sizeof(sha), op->local->sha256)
                ? find_source(sources, n_sources, sha)
                : NULL;
        if (src) {
            op->kind = HFS_OP_COPY;
            op->from = src->e;
            op->upload = false;
        } else {
            HFS_PUSH(uploads, n_uploads, upload_cap, k);
        }
    }

    /* The same LFS content at several paths is uploaded once, by the first path. */
    if (n_uploads > 1)
        qsort_r(uploads, n_uploads, sizeof(*uploads), compare_lfs_upload, out->ops);
    for (size_t u = 1; u < n_uploads; u++)
        if (strcmp(out->ops[uploads[u]].local->sha256, out->ops[uploads[u - 1]].local->sha256) == 0)
            out->ops[uploads[u]].upload = false;

    for (size_t k = 0; k < out->n_ops; k++) {
        const hfs_op *op = &out->ops[k];
        switch (op->kind) {
        case HFS_OP_ADD:
            out->n_add++;
            break;
        case HFS_OP_UPDATE:
            out->n_update++;
            break;
        case HFS_OP_DELETE:
            out->n_delete++;
            break;
        case HFS_OP_COPY:
            out->n_copy++;
            break;
        }
        if (op->upload) {
            out->upload_files++;
            out->upload_bytes += op->size;
        }
    }
done:
    if (rc < 0)
        hfs_diff_result_clear(out);
    free(uploads);
    free(sources);
    free(deleted);
    return rc;
}

void hfs_diff_result_clear(hfs_diff_result *d)
{
    if (!d)
        return;
    free(d->ops);
    memset(d, 0, sizeof(*d));
}

/* ---- limits --------------------------------------------------------------------------- */

#define HUGE_MESSAGE "files over 500 GB, the hub's maximum file size: split them"
#define BAD_PATH_MESSAGE                                                                           \
    "paths the hub refuses (a .git or .cache folder, or an empty, '.' or '..' part): rename "      \
    "them or leave them out with ignore_patterns"

typedef struct {
    hfs_limit_violation v;
    size_t cap;
} violation_builder;

static void note_path(violation_builder *b, const char *path)
{
    if (b->v.n_paths < HFS_LIMIT_PATHS_SHOWN)
        HFS_PUSH(b->v.paths, b->v.n_paths, b->cap, hfs_strdup(path));
    b->v.count++;
}

static void reset_builder(violation_builder *b)
{
    for (size_t p = 0; p < b->v.n_paths; p++)
        free(b->v.paths[p]);
    free(b->v.paths);
    memset(b, 0, sizeof(*b));
}

static void keep_violation(hfs_limit_report *r, size_t *cap, violation_builder *b, char *message)
{
    if (b->v.count == 0) {
        free(message);
        return;
    }
    b->v.message = message;
    HFS_PUSH(r->violations, r->n_violations, *cap, b->v);
    memset(b, 0, sizeof(*b));
}

static bool bad_segment(const char *seg, size_t len)
{
    return len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && memcmp(seg, "..", 2) == 0) ||
           (len == 4 && memcmp(seg, ".git", 4) == 0) || (len == 6 && memcmp(seg, ".cache", 6) == 0);
}

static bool path_breaks_rules(const char *path)
{
    if (path[0] == '/')
        return true;
    for (const char *seg = path;;) {
        const char *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        if (bad_segment(seg, len))
            return true;
        if (!slash)
            return false;
        seg = slash + 1;
    }
}

/* The resulting tree, walked in path order: local files (all of them end up there) merged
 * with the remote files that stay (not deleted, not replaced). */
typedef struct {
    const hfs_local_file *local;
    size_t n_local, i;
    const hfs_remote_entry *entries;
    const unsigned char *gone; /* per remote entry: deleted */
    size_t n_remote, j;
} final_walk;

static const char *final_next(final_walk *w)
{
    for (;;) {
        bool has_l = w->i < w->n_local, has_r = w->j < w->n_remote;
        if (!has_l && !has_r)
            return NULL;
        int c = has_l && has_r ? strcmp(w->local[w->i].repo_path, w->entries[w->j].path)
                : has_l        ? -1
                               : 1;
        if (c < 0)
            return w->local[w->i++].repo_path;
        if (c == 0) {
            w->j++;
            return w->local[w->i++].repo_path;
        }
        size_t j = w->j++;
        if (!w->gone[j])
            return w->entries[j].path;
    }
}

static bool final_has_file(const final_walk *w, const char *path)
{
    size_t lo = 0, hi = w->n_local;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(w->local[mid].repo_path, path);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    lo = 0;
    hi = w->n_remote;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(w->entries[mid].path, path);
        if (c == 0)
            return !w->gone[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* One open folder of the walk: its path is dir.ptr[0..len), it holds `entries` so far. */
typedef struct {
    size_t len;
    size_t entries;
} open_dir;

static void close_dir(violation_builder *crowded, const hfs_buf *dir, const open_dir *d)
{
    if (d->entries <= HFS_LIMIT_FOLDER_ENTRIES)
        return;
    char *name = d->len ? hfs_strndup(dir->ptr, d->len) : hfs_strdup("(the repo root)");
    char *shown = hfs_sprintf("%s (%zu entries)", name, d->entries);
    note_path(crowded, shown);
    free(shown);
    free(name);
}

/* Folder sizes, file/folder clashes and the file count of the resulting tree. */
static size_t walk_final_tree(final_walk *w, violation_builder *crowded, violation_builder *clashes)
{
    hfs_buf dir = HFS_BUF_INIT;
    open_dir *stack = NULL;
    size_t depth = 0, cap = 0, files = 0;
    hfs_buf_grow(&dir, 256);
    HFS_PUSH(stack, depth, cap, ((open_dir){0, 0}));
    for (const char *path; (path = final_next(w));) {
        files++;
        /* How many of the open folders this path is still inside. */
        size_t keep = 1;
        while (keep < depth) {
            size_t len = stack[keep].len;
            if (strncmp(path, dir.ptr, len) != 0 || path[len] != '/')
                break;
            keep++;
        }
        while (depth > keep)
            close_dir(crowded, &dir, &stack[--depth]);
        dir.len = stack[depth - 1].len;
        dir.ptr[dir.len] = '\0';
        const char *rest = path + (dir.len ? dir.len + 1 : 0);
        for (const char *slash; (slash = strchr(rest, '/')); rest = slash + 1) {
            stack[depth - 1].entries++;
            if (dir.len)
                hfs_buf_putc(&dir, '/');
            hfs_buf_add(&dir, rest, (size_t)(slash - rest));
            HFS_PUSH(stack, depth, cap, ((open_dir){dir.len, 0}));
            if (final_has_file(w, dir.ptr))
                note_path(clashes, dir.ptr);
        }
        stack[depth - 1].entries++;
    }
    while (depth > 0)
        close_dir(crowded, &dir, &stack[--depth]);
    free(stack);
    hfs_buf_free(&dir);
    return files;
}

int hfs_diff_check_limits(hfs_limit_report *out, const hfs_diff_result *d,
                          const hfs_local_file *local, size_t n_local,
                          const hfs_remote_snapshot *remote, const hfs_limit_settings *s)
{
    size_t n_remote = remote ? remote->count : 0, vcap = 0, wcap = 0;
    unsigned char *gone = hfs_calloc(n_remote ? n_remote : 1, 1);
    violation_builder deletes = {0}, big_regular = {0}, huge = {0}, bad_paths = {0}, crowded = {0},
                      clashes = {0}, untracked = {0};
    uint64_t attributes_bytes = s->gitattributes_bytes;
    char size_text[32] = ""; /* formatted below only when the limit is passed */

    memset(out, 0, sizeof(*out));
    for (size_t k = 0; k < d->n_ops; k++) {
        const hfs_op *op = &d->ops[k];
        if (op->kind == HFS_OP_DELETE) {
            gone[op->remote - remote->entries] = 1;
            note_path(&deletes, op->path);
            continue;
        }
        if (!op->lfs && op->size > HFS_REGULAR_MAX_BYTES)
            note_path(&big_regular, op->path);
        if (op->size > HFS_LIMIT_FILE_BYTES)
            note_path(&huge, op->path);
        if (op->kind != HFS_OP_UPDATE && path_breaks_rules(op->path))
            note_path(&bad_paths, op->path);
        if (strcmp(op->path, ".gitattributes") == 0)
            attributes_bytes = op->size;
    }
    /* The hub writes a line into .gitattributes for each LFS file no rule covers. */
    if (s->rules) {
        uint64_t grown = attributes_bytes;
        for (size_t k = 0; k < d->n_ops; k++) {
            const hfs_op *op = &d->ops[k];
            if (op->kind == HFS_OP_DELETE || !op->lfs || hfs_lfsrules_match(s->rules, op->path))
                continue;
            char *line = hfs_lfsrules_track_line(op->path);
            grown += strlen(line);
            free(line);
            note_path(&untracked, op->path);
        }
        if (grown <= HFS_REGULAR_MAX_BYTES)
            reset_builder(&untracked);
        else
            hfs_human_size(size_text, sizeof(size_text), grown);
    }

    final_walk w = {local, n_local, 0, remote ? remote->entries : NULL, gone, n_remote, 0};
    size_t files = walk_final_tree(&w, &crowded, &clashes);

    if (deletes.v.count > s->max_delete)
        keep_violation(out, &vcap, &deletes,
                       hfs_sprintf("the plan deletes %zu files, more than max_delete (%llu): "
                                   "raise max_delete or narrow delete_patterns if that is meant",
                                   deletes.v.count, (unsigned long long)s->max_delete));
    keep_violation(out, &vcap, &crowded,
                   hfs_sprintf("folders would hold more than %u entries (files and folders), "
                               "which the hub refuses: spread the files over subfolders",
                               HFS_LIMIT_FOLDER_ENTRIES));
    keep_violation(out, &vcap, &big_regular,
                   hfs_strdup("regular (non-LFS) files over 10 MiB, which the hub refuses: "
                              "track them with a filter=lfs rule in .gitattributes"));
    keep_violation(out, &vcap, &huge, hfs_strdup(HUGE_MESSAGE));
    keep_violation(out, &vcap, &bad_paths, hfs_strdup(BAD_PATH_MESSAGE));
    keep_violation(out, &vcap, &clashes,
                   hfs_strdup("paths that would be both a file and a folder: rename one of "
                              "them, or delete the remote one with delete_patterns"));
    keep_violation(out, &vcap, &untracked,
                   hfs_sprintf("LFS files that no .gitattributes rule covers: the hub would add "
                               "a line for each to .gitattributes, making it %s, over the 10 MiB "
                               "limit; add a pattern covering them to .gitattributes",
                               size_text));
    if (files > HFS_LIMIT_REPO_FILES)
        HFS_PUSH(out->warnings, out->n_warnings, wcap,
                 hfs_sprintf("the repo would hold %zu files, more than the %u the hub "
                             "recommends; consider packing small files into archives",
                             files, HFS_LIMIT_REPO_FILES));
    /* Builders whose violation was not kept (max_delete not passed) still hold paths. */
    violation_builder *leftovers[] = {&deletes,   &crowded, &big_regular, &huge,
                                      &bad_paths, &clashes, &untracked};
    for (size_t i = 0; i < HFS_ARRAY_LEN(leftovers); i++)
        reset_builder(leftovers[i]);
    free(gone);
    return 0;
}

int hfs_diff_check_local(hfs_limit_report *out, const hfs_local_file *local, size_t n_local)
{
    violation_builder huge = {0}, bad_paths = {0};
    size_t vcap = 0;
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < n_local; i++) {
        if (local[i].size > HFS_LIMIT_FILE_BYTES)
            note_path(&huge, local[i].repo_path);
        if (path_breaks_rules(local[i].repo_path))
            note_path(&bad_paths, local[i].repo_path);
    }
    keep_violation(out, &vcap, &huge, hfs_strdup(HUGE_MESSAGE));
    keep_violation(out, &vcap, &bad_paths, hfs_strdup(BAD_PATH_MESSAGE));
    return 0;
}

char *hfs_limit_report_format(const hfs_limit_report *r, const char *sync_name)
{
    hfs_buf b = HFS_BUF_INIT;
    hfs_buf_printf(&b, "sync %s: refused by %s:", sync_name,
                   r->n_violations == 1 ? "a safety limit" : "safety limits");
    for (size_t i = 0; i < r->n_violations; i++) {
        const hfs_limit_violation *v = &r->violations[i];
        hfs_buf_printf(&b, "\n  %s:", v->message);
        for (size_t p = 0; p < v->n_paths; p++)
            hfs_buf_printf(&b, "\n    %s", v->paths[p]);
        if (v->count > v->n_paths)
            hfs_buf_printf(&b, "\n    … and %zu more (%zu in all)", v->count - v->n_paths,
                           v->count);
    }
    return hfs_buf_detach(&b);
}

void hfs_limit_report_clear(hfs_limit_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_violations; i++) {
        for (size_t p = 0; p < r->violations[i].n_paths; p++)
            free(r->violations[i].paths[p]);
        free(r->violations[i].paths);
        free(r->violations[i].message);
    }
    free(r->violations);
    for (size_t i = 0; i < r->n_warnings; i++)
        free(r->warnings[i]);
    free(r->warnings);
    memset(r, 0, sizeof(*r));
}
