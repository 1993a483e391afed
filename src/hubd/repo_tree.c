/* The hub's views of a repo tree: listings (recursive or not, with each entry's last
 * commit), paths-info, LFS pointer detection, and the preupload decision per file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/lfsrules.h"
#include "common/util.h"
#include "hubd/repo.h"
#include "hubd/repo_internal.h"
#include "planner/gitignore.h"

#define LFS_VERSION_LINE "version https://git-lfs.github.com/spec/v1"
#define LFS_VERSION_LINE_OLD "version https://hawser.github.com/spec/v1" /* git-lfs's alias */

static bool line_is(const char *p, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(p, s, n) == 0;
}

bool repo_parse_lfs_pointer(const char *data, size_t len, char oid[65], uint64_t *size)
{
    if (!data || len == 0 || len > HUBD_LFS_POINTER_MAX || data[len - 1] != '\n')
        return false;
    const char *p = data, *end = data + len;
    bool have_oid = false, have_size = false;
    for (bool first = true; p < end; first = false) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)(eol - p);
        if (first) {
            if (!line_is(p, n, LFS_VERSION_LINE) && !line_is(p, n, LFS_VERSION_LINE_OLD))
                return false;
        } else if (n >= 11 && memcmp(p, "oid sha256:", 11) == 0) {
            if (n != 11 + 64 || have_oid)
                return false;
            for (size_t i = 11; i < n; i++)
                if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
                    return false;
            memcpy(oid, p + 11, 64);
            oid[64] = '\0';
            have_oid = true;
        } else if (n >= 5 && memcmp(p, "size ", 5) == 0) {
            if (n == 5 || n > 5 + 20 || have_size)
                return false;
            uint64_t v = 0;
            for (size_t i = 5; i < n; i++) {
                if (p[i] < '0' || p[i] > '9' || v > (UINT64_MAX - 9) / 10)
                    return false;
                v = v * 10 + (uint64_t)(p[i] - '0');
            }
            *size = v;
            have_size = true;
        } else {
            /* Other keys (extensions) are "key value" with a key of [a-z0-9.-]. */
            const char *sp = memchr(p, ' ', n);
            if (!sp || sp == p)
                return false;
            for (const char *k = p; k < sp; k++)
                if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '.' ||
                      *k == '-'))
                    return false;
        }
        p = eol + 1;
    }
    return have_oid && have_size;
}

char *repo_lfs_pointer_text(const char *oid, uint64_t size)
{
    return hfs_sprintf(LFS_VERSION_LINE "\noid sha256:%s\nsize %llu\n", oid,
                       (unsigned long long)size);
}

void hubd_entries_free(hubd_entry *entries, size_t count)
{
    for (size_t i = 0; entries && i < count; i++) {
        free(entries[i].path);
        free(entries[i].last_commit_title);
        free(entries[i].last_commit_date);
    }
    free(entries);
}

/* One listing entry: sizes come from the object header; only blobs the size of a pointer
 * file are read, to see whether they are one. */
static int fill_entry(hubd_entry *e, git_odb *odb, const git_tree_entry *te, const char *path)
{
    const git_oid *id = git_tree_entry_id(te);
    *e = (hubd_entry){.path = hfs_strdup(path),
                      .is_dir = git_tree_entry_type(te) == GIT_OBJECT_TREE};
    git_oid_tostr(e->oid, sizeof(e->oid), id);
    if (e->is_dir)
        return 0;
    size_t len = 0;
    git_object_t type;
    if (git_odb_read_header(&len, &type, odb, id) < 0)
        return repo_git_fail(HFS_ERROR, "cannot read the object of %s", path);
    e->size = len;
    if (len >= HUBD_LFS_POINTER_MIN && len <= HUBD_LFS_POINTER_MAX) {
        git_odb_object *obj = NULL;
        if (git_odb_read(&obj, odb, id) < 0)
            return repo_git_fail(HFS_ERROR, "cannot read the object of %s", path);
        uint64_t size = 0;
        if (repo_parse_lfs_pointer(git_odb_object_data(obj), len, e->lfs_oid, &size)) {
            e->is_lfs = true;
            e->pointer_size = len;
            e->size = size;
        } else {
            e->lfs_oid[0] = '\0';
        }
        git_odb_object_free(obj);
    }
    return 0;
}

typedef struct {
    hubd_entry *items;
    size_t len, cap;
    git_odb *odb;
    const char *base; /* the listed folder with a trailing '/', or "" */
    int rc;
} entry_list;

static int add_entry(const char *root, const git_tree_entry *te, void *payload)
{
    entry_list *l = payload;
    git_object_t type = git_tree_entry_type(te);
    if (type != GIT_OBJECT_BLOB && type != GIT_OBJECT_TREE)
        return 0; /* submodule links: the hub has none */
    char *path = hfs_sprintf("%s%s%s", l->base, root, git_tree_entry_name(te));
    hubd_entry e;
    int rc = fill_entry(&e, l->odb, te, path);
    free(path);
    if (rc < 0) {
        free(e.path);
        l->rc = rc;
        return -1;
    }
    HFS_PUSH(l->items, l->len, l->cap, e);
    return 0;
}

static bool oid_at(git_oid *out, const git_tree *tree, const char *path)
{
    if (!*path) {
        git_oid_cpy(out, git_tree_id(tree));
        return true;
    }
    git_tree_entry *te = NULL;
    if (git_tree_entry_bypath(&te, tree, path) < 0) {
        git_error_clear();
        return false;
    }
    git_oid_cpy(out, git_tree_entry_id(te));
    git_tree_entry_free(te);
    return true;
}

static void set_last_commit(hubd_entry *e, git_commit *c)
{
    const char *summary = git_commit_summary(c);
    char date[32];
    repo_iso_time(date, git_commit_time(c), 0);
    git_oid_tostr(e->last_commit_oid, sizeof(e->last_commit_oid), git_commit_id(c));
    free(e->last_commit_title);
    free(e->last_commit_date);
    e->last_commit_title = hfs_strdup(summary ? summary : "");
    e->last_commit_date = hfs_strdup(date);
}

/* The last commit that touched each entry: walk the first-parent history from `start` and
 * stop at the first commit whose parent holds a different object at the path. A folder
 * whose tree did not change between two commits settles all its entries at once. */
static int expand_entries(git_commit *start, hubd_entry *entries, size_t n, const char *id)
{
    if (n == 0)
        return 0;
    git_oid *cur = hfs_calloc(n, sizeof(git_oid)), *dir_cur = hfs_calloc(n, sizeof(git_oid));
    char **dirs = hfs_calloc(n, sizeof(char *));
    bool *done = hfs_calloc(n, sizeof(bool));
    size_t left = n;
    git_commit *c = NULL;
    git_tree *tree = NULL;
    int rc = 0;
    if (git_commit_tree(&tree, start) < 0 || git_commit_dup(&c, start) < 0) {
        rc = repo_git_fail(HFS_ERROR, "cannot read the history of %s", id);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const char *slash = strrchr(entries[i].path, '/');
        dirs[i] = hfs_strndup(entries[i].path, slash ? (size_t)(slash - entries[i].path) : 0);
        git_oid_fromstr(&cur[i], entries[i].oid);
        oid_at(&dir_cur[i], tree, dirs[i]);
    }
    while (left > 0) {
        if (git_commit_parentcount(c) == 0) {
            for (size_t i = 0; i < n; i++)
                if (!done[i])
                    set_last_commit(&entries[i], c);
            break;
        }
        git_commit *parent = NULL;
        git_tree *ptree = NULL;
        if (git_commit_parent(&parent, c, 0) < 0 || git_commit_tree(&ptree, parent) < 0) {
            git_commit_free(parent);
            rc = repo_git_fail(HFS_ERROR, "cannot read the history of %s", id);
            goto done;
        }
        const char *prev_dir = NULL;
        git_oid prev_oid;
        bool prev_has = false;
        for (size_t i = 0; i < n; i++) {
            if (done[i])
                continue;
            git_oid dir_oid, oid;
            bool has;
            if (prev_dir && strcmp(prev_dir, dirs[i]) == 0) {
                dir_oid = prev_oid;
                has = prev_has;
            } else {
                has = oid_at(&dir_oid, ptree, dirs[i]);
                prev_dir = dirs[i];
                prev_oid = dir_oid;
                prev_has = has;
            }
            if (has && git_oid_equal(&dir_oid, &dir_cur[i]))
                continue;
            if (!has || !oid_at(&oid, ptree, entries[i].path) || !git_oid_equal(&oid, &cur[i])) {
                set_last_commit(&entries[i], c);
                done[i] = true;
                left--;
                continue;
            }
            dir_cur[i] = dir_oid;
        }
        git_tree_free(ptree);
        git_commit_free(c);
        c = parent;
    }
done:
    git_commit_free(c);
    git_tree_free(tree);
    for (size_t i = 0; i < n; i++)
        free(dirs[i]);
    free(dirs);
    free(done);
    free(cur);
    free(dir_cur);
    return rc;
}

static char *normalize(const char *path)
{
    while (path && *path == '/')
        path++;
    char *p = hfs_strdup(path ? path : "");
    size_t n = strlen(p);
    while (n > 0 && p[n - 1] == '/')
        p[--n] = '\0';
    return p;
}

int hubd_repo_list_tree(hubd_entry **out, size_t *count, hubd_repos *repos, hfs_repo_kind kind,
                        const char *id, const char *commit_oid, const char *path, bool recursive,
                        bool expand)
{
    *out = NULL;
    *count = 0;
    repo_session s;
    git_commit *commit = NULL;
    git_tree *root = NULL, *sub = NULL;
    git_tree_entry *te = NULL;
    git_odb *odb = NULL;
    char *rel = normalize(path), *base = NULL;
    entry_list l = {0};
    int rc = repo_session_open(&s, repos, kind, id);
    if (rc < 0 || (rc = repo_load_commit(&commit, &root, s.repo, id, commit_oid)) < 0)
        goto done;
    if (*rel) {
        if (git_tree_entry_bypath(&te, root, rel) < 0 ||
            git_tree_entry_type(te) != GIT_OBJECT_TREE ||
            git_tree_lookup(&sub, s.repo, git_tree_entry_id(te)) < 0) {
            git_error_clear();
            rc = hfs_error_set(HFS_ENOTFOUND, "Entry not found: no folder %s at %s in %s", rel,
                               commit_oid, id);
            goto done;
        }
    }
    if (git_repository_odb(&odb, s.repo) < 0) {
        rc = repo_git_fail(HFS_ERROR, "cannot open the objects of %s", id);
        goto done;
    }
    base = *rel ? hfs_sprintf("%s/", rel) : hfs_strdup("");
    l = (entry_list){.odb = odb, .base = base};
    const git_tree *dir = sub ? sub : root;
    if (recursive) {
        /* Pre-order: each folder, then what it holds, in git's tree order. */
        if (git_tree_walk(dir, GIT_TREEWALK_PRE, add_entry, &l) < 0 && l.rc == 0)
            l.rc = repo_git_fail(HFS_ERROR, "cannot walk the tree of %s", id);
    } else {
        for (size_t i = 0; i < git_tree_entrycount(dir) && l.rc == 0; i++)
            add_entry("", git_tree_entry_byindex(dir, i), &l);
    }
    if ((rc = l.rc) < 0)
        goto done;
    if (expand && (rc = expand_entries(commit, l.items, l.len, id)) < 0)
        goto done;
    *out = l.items;
    *count = l.len;
    l.items = NULL;
    l.len = 0;
done:
    hubd_entries_free(l.items, l.len);
    git_odb_free(odb);
    git_tree_entry_free(te);
    git_tree_free(sub);
    git_tree_free(root);
    git_commit_free(commit);
    repo_session_close(&s);
    free(rel);
    free(base);
    return rc;
}

int hubd_repo_paths_info(hubd_entry **out, size_t *count, hubd_repos *repos, hfs_repo_kind kind,
                         const char *id, const char *commit_oid, const char *const *paths,
                         size_t n_paths, bool expand)
{
    *out = NULL;
    *count = 0;
    repo_session s;
    git_commit *commit = NULL;
    git_tree *root = NULL;
    git_odb *odb = NULL;
    hubd_entry *items = NULL;
    size_t len = 0, cap = 0;
    int rc = repo_session_open(&s, repos, kind, id);
    if (rc < 0 || (rc = repo_load_commit(&commit, &root, s.repo, id, commit_oid)) < 0)
        goto done;
    if (git_repository_odb(&odb, s.repo) < 0) {
        rc = repo_git_fail(HFS_ERROR, "cannot open the objects of %s", id);
        goto done;
    }
    for (size_t i = 0; i < n_paths; i++) {
        char *rel = normalize(paths[i]);
        git_tree_entry *te = NULL;
        if (*rel && git_tree_entry_bypath(&te, root, rel) == 0) {
            git_object_t type = git_tree_entry_type(te);
            hubd_entry e;
            if (type == GIT_OBJECT_BLOB || type == GIT_OBJECT_TREE) {
                rc = fill_entry(&e, odb, te, rel);
                if (rc == 0)
                    HFS_PUSH(items, len, cap, e);
                else
                    free(e.path);
            }
        }
        git_error_clear(); /* a missing path is left out, not an error */
        git_tree_entry_free(te);
        free(rel);
        if (rc < 0)
            goto done;
    }
    if (expand && (rc = expand_entries(commit, items, len, id)) < 0)
        goto done;
    *out = items;
    *count = len;
    items = NULL;
    len = 0;
done:
    hubd_entries_free(items, len);
    git_odb_free(odb);
    git_tree_free(root);
    git_commit_free(commit);
    repo_session_close(&s);
    return rc;
}

int hubd_repo_expand_entries(hubd_entry *entries, size_t count, hubd_repos *repos,
                             hfs_repo_kind kind, const char *id, const char *commit_oid)
{
    repo_session s;
    git_commit *commit = NULL;
    int rc = repo_session_open(&s, repos, kind, id);
    if (rc == 0 && (rc = repo_load_commit(&commit, NULL, s.repo, id, commit_oid)) == 0)
        rc = expand_entries(commit, entries, count, id);
    git_commit_free(commit);
    repo_session_close(&s);
    return rc;
}

/* The oid the hub reports for a path that exists: the sha256 of an LFS file's object,
 * the git blob sha1 otherwise. */
static int existing_oid(hubd_preupload_result *r, git_odb *odb, const git_tree *tree,
                        const char *path)
{
    git_tree_entry *te = NULL;
    if (git_tree_entry_bypath(&te, tree, path) < 0 || git_tree_entry_type(te) != GIT_OBJECT_BLOB) {
        git_error_clear();
        git_tree_entry_free(te);
        return 0;
    }
    hubd_entry e;
    int rc = fill_entry(&e, odb, te, path);
    if (rc == 0) {
        r->has_oid = true;
        snprintf(r->oid, sizeof(r->oid), "%s", e.is_lfs ? e.lfs_oid : e.oid);
    }
    free(e.path);
    git_tree_entry_free(te);
    return rc;
}

int hubd_repo_preupload(hubd_preupload_result *out, hubd_repos *repos, hfs_repo_kind kind,
                        const char *id, const char *commit_oid, const hubd_preupload_file *files,
                        size_t n_files, const char *gitattributes_override,
                        const char *gitignore_override)
{
    memset(out, 0, n_files * sizeof(*out));
    repo_session s;
    git_commit *commit = NULL;
    git_tree *root = NULL;
    git_odb *odb = NULL;
    hfs_lfsrules *rules = NULL;
    hfs_gitignore *ignore = NULL;
    char *attrs = NULL, *gitignore = NULL;
    size_t attrs_len = 0, gitignore_len = 0;
    int rc = repo_session_open(&s, repos, kind, id);
    if (rc < 0 || (rc = repo_load_commit(&commit, &root, s.repo, id, commit_oid)) < 0)
        goto done;
    if (git_repository_odb(&odb, s.repo) < 0) {
        rc = repo_git_fail(HFS_ERROR, "cannot open the objects of %s", id);
        goto done;
    }
    /* The client's copy of a root file that is part of its commit wins over the revision's. */
    if (gitattributes_override) {
        attrs_len = strlen(gitattributes_override);
        attrs = hfs_strdup(gitattributes_override);
    } else if ((rc = repo_read_root_file(&attrs, &attrs_len, s.repo, root, ".gitattributes")) < 0) {
        goto done;
    }
    if (gitignore_override) {
        gitignore = hfs_strdup(gitignore_override);
    } else if ((rc = repo_read_root_file(&gitignore, &gitignore_len, s.repo, root, ".gitignore")) <
               0) {
        goto done;
    }
    if ((rc = hfs_lfsrules_parse(&rules, attrs, attrs_len)) < 0)
        goto done;
    if (gitignore && (rc = hfs_gitignore_from_string(&ignore, gitignore)) < 0)
        goto done;
    for (size_t i = 0; i < n_files; i++) {
        const hubd_preupload_file *f = &files[i];
        const char *path = f->path ? f->path : "";
        out[i].is_lfs = hfs_lfsrules_is_lfs(rules, path, f->size, f->sample, f->sample_len);
        out[i].should_ignore = ignore && hfs_gitignore_is_ignored(ignore, path, false);
        if (*path && (rc = existing_oid(&out[i], odb, root, path)) < 0)
            goto done;
    }
done:
    hfs_gitignore_free(ignore);
    hfs_lfsrules_free(rules);
    free(attrs);
    free(gitignore);
    git_odb_free(odb);
    git_tree_free(root);
    git_commit_free(commit);
    repo_session_close(&s);
    return rc;
}
