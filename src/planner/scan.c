/* Folder walk: directories are jobs on a shared queue, each listed by one worker with one
 * fstatat per entry (relative to the open directory), in upload_folder's rule order. */
#include "planner/scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "planner/gitignore.h"

#define GITIGNORE_MAX_BYTES (16u << 20)
#define SCAN_MAX_THREADS 8

/* The files' paths, two per file, in an arena: one malloc per 256 KiB rather than two per
 * file (100,000 files made 200,000 allocations, then as many frees). Each lister has its
 * own, so the threads share no allocator state; the result takes them all. */
struct hfs_scan_strings {
    hfs_arena arena;
};

typedef struct scan_dir scan_dir;

/* What a directory holds once listed, in full-path order: its files and subdirectories. */
typedef struct {
    scan_dir *child; /* NULL: the item is files[file] */
    size_t file;
} scan_item;

/* One directory job. Kept until the end: its results, and the parent chain that lets a
 * followed symlink be checked against the directories above it. */
struct scan_dir {
    scan_dir *parent;
    char *rel; /* relative to the folder; "" for the folder itself */
    size_t rel_len;
    bool via_symlink;
    dev_t dev;
    ino_t ino;
    hfs_local_file *files;
    size_t file_count, files_cap;
    scan_item *items;
    size_t item_count, items_cap;
    size_t ignored, skipped;
};

typedef struct {
    const hfs_scan_options *opts;
    const char *folder; /* without trailing '/' ("" for "/"), so "<folder>/<rel>" is a path */
    size_t folder_len;
    char *folder_real;  /* the folder with symlinks resolved, to judge link targets */
    const char *prefix; /* path_in_repo without surrounding '/' */
    size_t prefix_len;
    hfs_gitignore *gi;        /* NULL when .gitignore files are not honoured */
    pthread_rwlock_t gi_lock; /* nested .gitignore files are added while others match */
    /* The remote revision's root .gitignore, standing in for a missing local one. The hub's
     * preupload matches it against repo paths (path_in_repo included), so it is kept apart
     * from the folder's own rules. Set while the root is listed alone, read-only after. */
    hfs_gitignore *remote_gi;
    bool remote_ignores_all; /* it ignores path_in_repo itself, or a directory above it */
    bool used_remote_gitignore;
    bool has_root_gitignore;

    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake;
    scan_dir **queue; /* a stack: depth-first keeps it short */
    size_t queued, queue_cap;
    size_t pending; /* queued or being listed */
    scan_dir **all; /* every job, for the final assembly and cleanup */
    size_t all_count, all_cap;
    /* Errors do not stop the other workers: the one reported is the first in path order,
     * what a one-thread walk would meet first, whatever the threads' timing. */
    char *error_path;
    int error_code;
    char error_message[4096];
    hfs_scan_strings strings; /* the listers' blocks, handed over as each one ends */
} walker;

/* A worker's view of the entry it is looking at. */
typedef struct {
    walker *w;
    hfs_scan_strings *strings; /* the lister's own */
    scan_dir *dir;
    hfs_buf rel;  /* the entry's path relative to the folder */
    hfs_buf repo; /* its repo path, built only to match the remote .gitignore */
} cursor;

/* The path as a message can show it: valid UTF-8 as is, any other byte as \xNN. */
static char *printable_path(const char *path)
{
    hfs_buf b = HFS_BUF_INIT;
    const unsigned char *p = (const unsigned char *)path;
    while (*p) {
        size_t n = *p < 0x80             ? 1
                   : (*p & 0xE0) == 0xC0 ? 2
                   : (*p & 0xF0) == 0xE0 ? 3
                   : (*p & 0xF8) == 0xF0 ? 4
                                         : 0;
        bool fits = n > 0 && strnlen((const char *)p, n) == n;
        if (fits && hfs_utf8_valid((const char *)p, n) && (n > 1 || *p >= 0x20)) {
            hfs_buf_add(&b, p, n);
            p += n;
        } else {
            hfs_buf_printf(&b, "\\x%02x", *p);
            p++;
        }
    }
    return hfs_buf_detach(&b);
}

/* "a/b" from "a" and "b" into s (alen + blen + 2 bytes): the hot path of a 100,000-file
 * scan, so no printf. */
static char *join_into(char *s, const char *a, size_t alen, const char *b, size_t blen)
{
    memcpy(s, a, alen);
    s[alen] = '/';
    memcpy(s + alen + 1, b, blen);
    s[alen + 1 + blen] = '\0';
    return s;
}

static char *join_path(const char *a, size_t alen, const char *b, size_t blen)
{
    return join_into(hfs_malloc(alen + 1 + blen + 1), a, alen, b, blen);
}

static char *local_path_of(const walker *w, const char *rel, size_t rel_len)
{
    return join_path(w->folder, w->folder_len, rel, rel_len);
}

static int error_with_path(const cursor *c, int code, const char *before, const char *after)
{
    char *local = local_path_of(c->w, c->rel.ptr, c->rel.len);
    char *shown = printable_path(local);
    int rc = hfs_error_set(code, "%s %s%s", before, shown, after);
    free(shown);
    free(local);
    return rc;
}

static void warn_skip(cursor *c, const char *what)
{
    char *local = local_path_of(c->w, c->rel.ptr, c->rel.len);
    char *shown = printable_path(local);
    hfs_warn("skipping %s: %s", shown, what);
    free(shown);
    free(local);
    c->dir->skipped++;
}

/* Reads <dir>/.gitignore when it is a regular file (git does not follow a symlinked one).
 * Returns 1 when rules were added, 0 when there is no such file. */
static int load_gitignore(walker *w, const scan_dir *d, int dirfd)
{
    int rc = 0;
    hfs_buf content = HFS_BUF_INIT;
    char *dir = local_path_of(w, d->rel, d->rel_len);
    char *source = hfs_sprintf("%s/.gitignore", d->rel_len ? dir : w->folder);
    int fd = openat(dirfd, ".gitignore", O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0) {
        if (errno == ELOOP)
            hfs_warn("not reading %s: it is a symlink, which git does not follow either", source);
        else if (errno != ENOENT && errno != ENOTDIR)
            rc = hfs_error_set(HFS_ERROR, "cannot read %s: %s", source, strerror(errno));
        goto done;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto done;
    if ((uint64_t)st.st_size > GITIGNORE_MAX_BYTES) {
        rc = hfs_error_set(HFS_ELIMIT, "%s is larger than %u bytes: not a rules file", source,
                           GITIGNORE_MAX_BYTES);
        goto done;
    }
    for (;;) {
        hfs_buf_grow(&content, 65536);
        ssize_t n = read(fd, content.ptr + content.len, 65536);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = hfs_error_set(HFS_ERROR, "cannot read %s: %s", source, strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        content.len += (size_t)n;
        if (content.len > GITIGNORE_MAX_BYTES) {
            rc = hfs_error_set(HFS_ELIMIT, "%s grew past %u bytes while read", source,
                               GITIGNORE_MAX_BYTES);
            goto done;
        }
    }
    pthread_rwlock_wrlock(&w->gi_lock);
    rc = hfs_gitignore_add(w->gi, d->rel, hfs_buf_cstr(&content), content.len, source);
    pthread_rwlock_unlock(&w->gi_lock);
    if (rc == 0)
        rc = 1;
done:
    if (fd >= 0)
        close(fd);
    free(source);
    free(dir);
    hfs_buf_free(&content);
    return rc;
}

/* The folder's .gitignore files see the path relative to the folder; the remote root one
 * sees the repo path, as the hub will when it answers shouldIgnore. */
static bool gitignored(cursor *c, bool is_dir)
{
    walker *w = c->w;
    if (!w->gi)
        return false;
    pthread_rwlock_rdlock(&w->gi_lock);
    bool ignored = hfs_gitignore_match_entry(w->gi, c->rel.ptr, is_dir);
    pthread_rwlock_unlock(&w->gi_lock);
    if (ignored || !w->remote_gi)
        return ignored;
    if (w->remote_ignores_all)
        return true;
    if (w->prefix_len == 0)
        return hfs_gitignore_match_entry(w->remote_gi, c->rel.ptr, is_dir);
    hfs_buf_clear(&c->repo);
    hfs_buf_add(&c->repo, w->prefix, w->prefix_len);
    hfs_buf_putc(&c->repo, '/');
    hfs_buf_add(&c->repo, c->rel.ptr, c->rel.len);
    return hfs_gitignore_match_entry(w->remote_gi, hfs_buf_cstr(&c->repo), is_dir);
}

/* `.git`, `.hfsync` and `.cache/huggingface` never leave the machine (huggingface_hub's
 * DEFAULT_IGNORE_PATTERNS match them at any depth). */
static bool always_skipped(const scan_dir *d, const char *name)
{
    if (strcmp(name, ".git") == 0 || strcmp(name, ".hfsync") == 0)
        return true;
    if (strcmp(name, "huggingface") != 0 || d->rel_len < 6)
        return false;
    const char *parent = d->rel + d->rel_len - 6;
    return memcmp(parent, ".cache", 6) == 0 && (d->rel_len == 6 || parent[-1] == '/');
}

static void add_item(scan_dir *d, scan_dir *child, size_t file)
{
    scan_item item = {child, file};
    HFS_PUSH(d->items, d->item_count, d->items_cap, item);
}

void hfs_local_file_set_stat(hfs_local_file *f, const struct stat *st)
{
    f->size = (uint64_t)st->st_size;
    f->mtime_ns = hfs_timespec_ns(&st->st_mtim);
    f->ctime_ns = hfs_timespec_ns(&st->st_ctim);
    f->inode = (uint64_t)st->st_ino;
    f->dev = (uint64_t)st->st_dev;
    f->mode = (uint32_t)st->st_mode;
}

static void add_file(cursor *c, const struct stat *st, bool via_symlink)
{
    walker *w = c->w;
    scan_dir *d = c->dir;
    hfs_grow((void **)&d->files, &d->files_cap, d->file_count + 1, sizeof(*d->files));
    hfs_local_file *f = &d->files[d->file_count];
    memset(f, 0, sizeof(*f));
    f->local_path = join_into(hfs_arena_alloc(&c->strings->arena, w->folder_len + c->rel.len + 2), w->folder,
                              w->folder_len, c->rel.ptr, c->rel.len);
    f->rel_path = f->local_path + w->folder_len + 1;
    if (w->prefix_len) {
        f->repo_path = join_into(hfs_arena_alloc(&c->strings->arena, w->prefix_len + c->rel.len + 2),
                                 w->prefix, w->prefix_len, c->rel.ptr, c->rel.len);
    } else {
        f->repo_path = memcpy(hfs_arena_alloc(&c->strings->arena, c->rel.len + 1), c->rel.ptr, c->rel.len);
        f->repo_path[c->rel.len] = '\0';
    }
    hfs_local_file_set_stat(f, st);
    f->via_symlink = via_symlink;
    add_item(d, NULL, d->file_count++);
}

/* A followed symlink must land inside the folder; the error names the link and target. */
static int check_link_target(cursor *c, int dirfd, const char *name)
{
    int rc = 0;
    char target[PATH_MAX];
    char *local = local_path_of(c->w, c->rel.ptr, c->rel.len);
    char *resolved = realpath(local, NULL);
    ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
    target[n < 0 ? 0 : n] = '\0';
    if (!resolved) {
        char *why = hfs_sprintf(": %s", strerror(errno));
        rc = error_with_path(c, HFS_ERROR, "cannot resolve the symlink", why);
        free(why);
        goto done;
    }
    const char *root = c->w->folder_real;
    size_t fl = strlen(root);
    bool inside = strncmp(resolved, root, fl) == 0 &&
                  (resolved[fl] == '/' || resolved[fl] == '\0' || strcmp(root, "/") == 0);
    if (!inside) {
        char *shown_link = printable_path(local), *shown_target = printable_path(target);
        char *shown_resolved = printable_path(resolved);
        rc = hfs_error_set(HFS_EINVALID,
                           "symlink %s points to %s (%s), outside the folder %s: replace it "
                           "with a copy, or exclude it with .gitignore or ignore_patterns",
                           shown_link, shown_target, shown_resolved, c->w->opts->folder);
        free(shown_link);
        free(shown_target);
        free(shown_resolved);
    }
done:
    free(resolved);
    free(local);
    return rc;
}

/* Queues a subdirectory as a job of its own. */
static void add_subdir(cursor *c, bool via_symlink)
{
    walker *w = c->w;
    scan_dir *sub = hfs_calloc(1, sizeof(*sub));
    sub->parent = c->dir;
    sub->rel = hfs_strndup(c->rel.ptr, c->rel.len);
    sub->rel_len = c->rel.len;
    sub->via_symlink = via_symlink;
    add_item(c->dir, sub, 0);
    pthread_mutex_lock(&w->lock);
    HFS_PUSH(w->all, w->all_count, w->all_cap, sub);
    HFS_PUSH(w->queue, w->queued, w->queue_cap, sub);
    w->pending++;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
}

/* One entry of a directory, stat'ed before the directory is sorted. */
typedef struct {
    size_t name_off, name_len; /* into the directory's name buffer */
    bool is_dir;
    bool is_link;   /* a symlink; `st` is its target's when following it worked */
    int link_errno; /* following the symlink failed (ELOOP, ENOENT, ...) */
    struct stat st; /* unset for a directory known from d_type alone */
} dir_entry;

/* Orders entries as their full paths sort bytewise: a directory's name compares as if it
 * ended in '/', so "a.txt" < "a/b" and a depth-first assembly yields sorted repo paths. */
static int compare_entries(const void *a, const void *b, void *names_arg)
{
    const dir_entry *x = a, *y = b;
    const unsigned char *names = names_arg;
    const unsigned char *p = names + x->name_off, *q = names + y->name_off;
    for (size_t i = 0;; i++) {
        int cp = i < x->name_len ? p[i] : (i == x->name_len && x->is_dir) ? '/' : -1;
        int cq = i < y->name_len ? q[i] : (i == y->name_len && y->is_dir) ? '/' : -1;
        if (cp != cq)
            return cp < cq ? -1 : 1;
        if (cp == -1)
            return 0;
    }
}

static int visit(cursor *c, int dirfd, const char *name, const dir_entry *e)
{
    walker *w = c->w;
    if (gitignored(c, e->is_dir)) {
        c->dir->ignored++;
        return 0;
    }
    /* After .gitignore (which matches bytes, so an ignored odd name is fine), before the
     * patterns (which match UTF-8 and could not judge this name). */
    if (!hfs_utf8_valid(name, e->name_len))
        return error_with_path(c, HFS_EINVALID, "name is not valid UTF-8:",
                               " (the hub stores UTF-8 paths: rename it, or exclude it)");
    /* fnmatch patterns filter files only: their `*` crosses '/', so no directory is pruned. */
    if (!e->is_dir && !hfs_pattern_filter(w->opts->allow, w->opts->ignore, c->rel.ptr)) {
        c->dir->ignored++;
        return 0;
    }
    if (e->is_link) {
        if (!w->opts->follow_symlinks) {
            warn_skip(c, "a symlink, and following symlinks is off");
            return 0;
        }
        if (e->link_errno == ENOENT) {
            warn_skip(c, "a symlink whose target does not exist");
            return 0;
        }
        if (e->link_errno == ELOOP)
            return error_with_path(c, HFS_EINVALID, "symlink loop at",
                                   ": it resolves through itself (remove the link or exclude it)");
        if (e->link_errno) {
            char *why = hfs_sprintf(": %s", strerror(e->link_errno));
            int rc = error_with_path(c, HFS_ERROR, "cannot follow the symlink", why);
            free(why);
            return rc;
        }
        int rc = check_link_target(c, dirfd, name);
        if (rc)
            return rc;
    }
    if (e->is_dir) {
        add_subdir(c, e->is_link);
        return 0;
    }
    if (S_ISREG(e->st.st_mode)) {
        add_file(c, &e->st, e->is_link);
        return 0;
    }
    warn_skip(c, S_ISFIFO(e->st.st_mode)   ? "a fifo is not a regular file"
                 : S_ISSOCK(e->st.st_mode) ? "a socket is not a regular file"
                                           : "a device is not a regular file");
    return 0;
}

/* Reads every entry of the directory with one fstatat each (two for a symlink). */
static int read_entries(const walker *w, scan_dir *d, DIR *dir, int dirfd, dir_entry **out,
                        size_t *count, hfs_buf *names)
{
    size_t cap = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dir);
        if (!de) {
            if (errno)
                return hfs_error_set(HFS_ERROR, "cannot list %s/%s: %s", w->folder, d->rel,
                                     strerror(errno));
            return 0;
        }
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || always_skipped(d, name))
            continue;
        dir_entry e = {0};
        e.name_off = names->len;
        e.name_len = strlen(name);
        e.is_dir = de->d_type == DT_DIR;
        if (!e.is_dir) {
            if (fstatat(dirfd, name, &e.st, AT_SYMLINK_NOFOLLOW) != 0) {
                if (errno == ENOENT)
                    continue; /* removed while we were walking */
                return hfs_error_set(HFS_ERROR, "cannot stat %s/%s%s%s: %s", w->folder, d->rel,
                                     d->rel_len ? "/" : "", name, strerror(errno));
            }
            if (S_ISLNK(e.st.st_mode)) {
                e.is_link = true;
                if (w->opts->follow_symlinks && fstatat(dirfd, name, &e.st, 0) != 0)
                    e.link_errno = errno;
            }
            e.is_dir =
                !e.link_errno && S_ISDIR(e.st.st_mode) && (!e.is_link || w->opts->follow_symlinks);
        }
        hfs_buf_add(names, name, e.name_len + 1);
        HFS_PUSH(*out, *count, cap, e);
    }
}

/* Opens the job's directory and refuses one that is its own ancestor (a symlink loop). */
static int open_dir(walker *w, scan_dir *d, int *fd_out)
{
    int rc = 0;
    struct stat st;
    char *path = d->rel_len ? local_path_of(w, d->rel, d->rel_len) : hfs_strdup(w->opts->folder);
    int flags =
        O_RDONLY | O_DIRECTORY | O_CLOEXEC | (d->via_symlink || !d->rel_len ? 0 : O_NOFOLLOW);
    int fd = open(path, flags);
    *fd_out = -1;
    if (fd < 0) {
        if (errno == ENOENT && d->rel_len)
            goto done; /* removed while we were walking: nothing left to list */
        char *shown = printable_path(path);
        rc = hfs_error_set(errno == ENOENT ? HFS_ENOTFOUND : HFS_ERROR,
                           "cannot open the directory %s: %s", shown, strerror(errno));
        free(shown);
        goto done;
    }
    if (fstat(fd, &st) != 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot stat the directory %s: %s", path, strerror(errno));
        close(fd);
        goto done;
    }
    d->dev = st.st_dev;
    d->ino = st.st_ino;
    for (const scan_dir *up = d->parent; up; up = up->parent) {
        if (up->dev == st.st_dev && up->ino == st.st_ino) {
            char *shown = printable_path(path);
            rc = hfs_error_set(HFS_EINVALID,
                               "symlink loop: %s points to a directory that contains it: "
                               "following it would loop forever (remove the link or exclude it)",
                               shown);
            free(shown);
            close(fd);
            goto done;
        }
    }
    *fd_out = fd;
done:
    free(path);
    return rc;
}

/* Lists one directory job: its files become results, its subdirectories new jobs. On an
 * error, *err_path says where (the entry, or the directory itself). */
static int list_dir(walker *w, scan_dir *d, hfs_scan_strings *strings, char **err_path)
{
    int rc = 0, fd = -1;
    size_t count = 0;
    dir_entry *entries = NULL;
    hfs_buf names = HFS_BUF_INIT;
    cursor c = {w, strings, d, HFS_BUF_INIT, HFS_BUF_INIT};
    DIR *dir = NULL;
    rc = open_dir(w, d, &fd);
    if (rc || fd < 0)
        goto done;
    if (w->gi) {
        rc = load_gitignore(w, d, fd);
        if (rc < 0)
            goto done;
        if (rc == 1 && d->rel_len == 0)
            w->has_root_gitignore = true;
        /* The remote revision's root .gitignore stands in for a missing local one. No
         * worker runs yet while the root is listed, so no lock is needed to set it up. */
        if (rc == 0 && d->rel_len == 0 && w->opts->remote_root_gitignore) {
            const char *remote = w->opts->remote_root_gitignore;
            w->remote_gi = hfs_gitignore_new();
            rc = hfs_gitignore_add(w->remote_gi, "", remote, strlen(remote),
                                   "the remote revision's .gitignore");
            if (rc)
                goto done;
            /* The walk checks each entry alone (it never enters an ignored directory), so
             * the directories of path_in_repo, above the folder, are checked once here. */
            w->remote_ignores_all =
                w->prefix_len && hfs_gitignore_is_ignored(w->remote_gi, w->prefix, true);
            w->used_remote_gitignore = true;
        }
        rc = 0;
    }
    dir = fdopendir(fd);
    if (!dir) {
        rc = hfs_error_set(HFS_ERROR, "cannot list %s/%s: %s", w->folder, d->rel, strerror(errno));
        close(fd);
        goto done;
    }
    rc = read_entries(w, d, dir, fd, &entries, &count, &names);
    if (rc)
        goto done;
    if (count > 1)
        qsort_r(entries, count, sizeof(*entries), compare_entries, names.ptr);
    /* Sized once: at most every entry is an item, every non-directory a file. */
    size_t non_dirs = 0;
    for (size_t i = 0; i < count; i++)
        non_dirs += !entries[i].is_dir;
    hfs_grow((void **)&d->items, &d->items_cap, count, sizeof(*d->items));
    hfs_grow((void **)&d->files, &d->files_cap, non_dirs, sizeof(*d->files));
    for (size_t i = 0; i < count && rc == 0; i++) {
        const char *name = names.ptr + entries[i].name_off;
        hfs_buf_clear(&c.rel);
        if (d->rel_len) {
            hfs_buf_add(&c.rel, d->rel, d->rel_len);
            hfs_buf_putc(&c.rel, '/');
        }
        hfs_buf_add(&c.rel, name, entries[i].name_len);
        rc = visit(&c, fd, name, &entries[i]);
    }
done:
    if (rc)
        *err_path = c.rel.len ? hfs_strndup(c.rel.ptr, c.rel.len) : hfs_strdup(d->rel);
    if (dir)
        closedir(dir);
    free(entries);
    hfs_buf_free(&names);
    hfs_buf_free(&c.rel);
    hfs_buf_free(&c.repo);
    return rc;
}

static void *worker(void *arg)
{
    walker *w = arg;
    hfs_scan_strings strings = {{NULL}};
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->queued == 0 && w->pending > 0)
            pthread_cond_wait(&w->wake, &w->lock);
        if (w->pending == 0)
            break;
        scan_dir *d = w->queue[--w->queued];
        pthread_mutex_unlock(&w->lock);
        char *err_path = NULL;
        int rc = list_dir(w, d, &strings, &err_path);
        pthread_mutex_lock(&w->lock);
        if (rc && (!w->error_path || strcmp(err_path, w->error_path) < 0)) {
            /* The last error is per thread: carry it to the caller's thread. */
            free(w->error_path);
            w->error_path = err_path;
            err_path = NULL;
            w->error_code = rc;
            snprintf(w->error_message, sizeof(w->error_message), "%s", hfs_error_last());
        }
        free(err_path);
        if (--w->pending == 0)
            pthread_cond_broadcast(&w->wake);
    }
    hfs_arena_take(&w->strings.arena, &strings.arena);
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* Moves the jobs' files into one array (sized beforehand), depth first: sorted, as each
 * job is. */
static void assemble(hfs_scan_result *res, scan_dir *d)
{
    for (size_t i = 0; i < d->item_count; i++) {
        scan_dir *child = d->items[i].child;
        if (child) {
            assemble(res, child);
            continue;
        }
        res->files[res->count++] = d->files[d->items[i].file];
    }
    res->ignored += d->ignored;
    res->skipped += d->skipped;
}

static unsigned scan_threads(const hfs_scan_options *opts)
{
    unsigned n = opts->threads;
    if (n == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores > 0 ? (unsigned)cores : 1;
    }
    return n > SCAN_MAX_THREADS ? SCAN_MAX_THREADS : n;
}

static void free_dir(scan_dir *d)
{
    free(d->files); /* their paths are in the walker's strings */
    free(d->items);
    free(d->rel);
    free(d);
}

int hfs_scan_folder(hfs_scan_result **out, const hfs_scan_options *opts)
{
    int rc = 0;
    walker w = {0};
    char *folder = NULL, *prefix = NULL;
    pthread_t tids[SCAN_MAX_THREADS];
    unsigned started = 0;
    *out = NULL;
    if (!opts || opts->version != HFS_SCAN_OPTIONS_VERSION)
        return hfs_error_set(HFS_EINVALID, "hfs_scan_folder: options of an unknown version");
    if (!opts->folder || opts->folder[0] != '/')
        return hfs_error_set(HFS_EINVALID, "scan: the folder must be an absolute path, got \"%s\"",
                             opts->folder ? opts->folder : "(null)");
    folder = hfs_strdup(opts->folder);
    for (size_t n = strlen(folder); n > 0 && folder[n - 1] == '/';)
        folder[--n] = '\0';
    w.opts = opts;
    w.folder = folder;
    w.folder_len = strlen(folder);
    const char *p = opts->path_in_repo ? opts->path_in_repo : "";
    while (*p == '/')
        p++;
    size_t plen = strlen(p);
    while (plen && p[plen - 1] == '/')
        plen--;
    prefix = hfs_strndup(p, plen);
    w.prefix = prefix;
    w.prefix_len = plen;
    w.gi = opts->use_gitignore ? hfs_gitignore_new() : NULL;
    pthread_rwlock_init(&w.gi_lock, NULL);
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.wake, NULL);

    scan_dir *root = hfs_calloc(1, sizeof(*root));
    root->rel = hfs_strdup("");
    HFS_PUSH(w.all, w.all_count, w.all_cap, root);
    w.folder_real = realpath(opts->folder, NULL);
    if (!w.folder_real) {
        rc = hfs_error_set(errno == ENOENT ? HFS_ENOTFOUND : HFS_ERROR,
                           "cannot open the folder %s: %s", opts->folder, strerror(errno));
        goto done;
    }
    /* The root is listed first, alone: its .gitignore (or the remote one) must be in place
     * before anything below it is matched. Its subdirectories wait in the queue. */
    w.pending = 1;
    char *root_err = NULL;
    rc = list_dir(&w, root, &w.strings, &root_err);
    free(root_err);
    if (rc)
        goto done;
    w.pending--;
    unsigned threads = scan_threads(opts);
    bool subdirs = w.queued > 0; /* read before any worker runs */
    if (subdirs && threads > 1) {
        for (; started < threads; started++)
            if (pthread_create(&tids[started], NULL, worker, &w) != 0)
                break;
    }
    if (subdirs && started == 0)
        worker(&w); /* one thread asked for, or none could start: list on this one */
    for (unsigned i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    if (w.error_path) {
        rc = hfs_error_set(w.error_code, "%s", w.error_message);
        goto done;
    }
    hfs_scan_result *res = hfs_calloc(1, sizeof(*res));
    size_t total = 0;
    for (size_t i = 0; i < w.all_count; i++)
        total += w.all[i]->file_count;
    res->files = hfs_malloc((total ? total : 1) * sizeof(*res->files));
    assemble(res, root);
    res->strings = hfs_calloc(1, sizeof(*res->strings));
    hfs_arena_take(&res->strings->arena, &w.strings.arena);
    res->used_remote_gitignore = w.used_remote_gitignore;
    res->has_root_gitignore = w.has_root_gitignore;
    *out = res;
done:
    for (size_t i = 0; i < w.all_count; i++)
        free_dir(w.all[i]);
    free(w.all);
    free(w.queue);
    free(w.error_path);
    pthread_cond_destroy(&w.wake);
    pthread_mutex_destroy(&w.lock);
    pthread_rwlock_destroy(&w.gi_lock);
    hfs_arena_clear(&w.strings.arena); /* what a failed walk allocated */
    hfs_gitignore_free(w.gi);
    hfs_gitignore_free(w.remote_gi);
    free(w.folder_real);
    free(prefix);
    free(folder);
    return rc;
}

void hfs_scan_result_free(hfs_scan_result *result)
{
    if (!result)
        return;
    if (result->strings)
        hfs_arena_clear(&result->strings->arena);
    free(result->strings);
    free(result->files);
    free(result);
}
