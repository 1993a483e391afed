/* The hub's rules for a git push: the pre-receive hook script, the message it sends over its
 * socket, and the checks run on the pushed objects (still in git's quarantine) with libgit2. */
#include "hubd/git_hooks.h"

#include <git2.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"
#include "common/lfsrules.h"
#include "common/util.h"
#include "hubd/server.h" /* hubd_is_pr_ref */
/* The push checks apply the storage's own rules: the same LFS pointer parser and limits the
 * commit endpoint uses (repo_commit.c), so a push and a commit cannot disagree. */
#include "hubd/repo_internal.h"

/* Offending files listed in one rejection; the rest are counted. */
#define LIST_MAX 20

static const char hook_script[] =
    "#!/bin/sh\n"
    "# pre-receive hook of the local hub (hfsync hub serve), written by the hub; edits are\n"
    "# overwritten. It hands git's ref updates and the quarantine directory of the pushed\n"
    "# objects to the hub over fd 3; the hub checks its rules before any ref moves and answers\n"
    "# \"accepted\" or \"rejected\" and the lines to show the pusher.\n"
    "if [ -z \"${" HUBD_HOOK_ENV "-}\" ]; then\n"
    "    echo \"this pre-receive hook only runs under the local hub (hfsync hub serve)\" >&2\n"
    "    exit 1\n"
    "fi\n"
    "{ printf 'quarantine %s\\n' \"${GIT_QUARANTINE_PATH-}\" && cat && printf '.\\n'; } >&3 || {\n"
    "    echo \"cannot reach the hub to check this push\" >&2\n"
    "    exit 1\n"
    "}\n"
    "IFS= read -r verdict <&3 || verdict=\n"
    "cat <&3 >&2\n"
    "exec 3>&-\n"
    "[ \"$verdict\" = accepted ] && exit 0\n"
    "[ -n \"$verdict\" ] || echo \"the hub gave no verdict on this push\" >&2\n"
    "exit 1\n";

int hubd_git_hooks_install(char **out, const char *root)
{
    int rc = 0;
    char *dir = NULL, *path = NULL, *current = NULL;
    char abs_root[PATH_MAX];
    *out = NULL;
    /* git runs the hook from inside the repo, so the path it is given must be absolute */
    if (!realpath(root, abs_root))
        return hfs_error_set(HFS_ERROR, "cannot resolve the hub's root %s: %s", root,
                             strerror(errno));
    dir = hfs_path_join(abs_root, "git-hooks");
    path = hfs_path_join(dir, "pre-receive");
    if ((rc = hfs_mkdir_p(dir)) < 0)
        goto done;
    size_t len = 0;
    if (hfs_read_file(&current, &len, path, sizeof(hook_script) * 2) == 0 &&
        len == sizeof(hook_script) - 1 && memcmp(current, hook_script, len) == 0)
        goto done;
    if ((rc = hfs_write_file_atomic(path, hook_script, sizeof(hook_script) - 1, 0755)) < 0)
        goto done;
done:
    free(current);
    free(path);
    if (rc == 0)
        *out = dir;
    else
        free(dir);
    return rc;
}

/* ---- the hook's message ------------------------------------------------------------------ */

void hubd_push_clear(hubd_push *push)
{
    if (!push)
        return;
    for (size_t i = 0; i < push->n_updates; i++)
        free(push->updates[i].ref);
    free(push->updates);
    free(push->quarantine);
    memset(push, 0, sizeof(*push));
}

static bool is_hex40(const char *s)
{
    for (int i = 0; i < 40; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int hubd_push_parse(hubd_push *out, const char *text, size_t len)
{
    memset(out, 0, sizeof(*out));
    /* complete only once the terminating ".\n" line has arrived */
    if (!(len >= 2 && text[len - 2] == '.' && text[len - 1] == '\n' &&
          (len == 2 || text[len - 3] == '\n')))
        return 0;
    int rc = 0;
    size_t cap = 0;
    const char *p = text, *end = text + len;
    bool first = true;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)(eol - p);
        if (first) {
            if (n < 11 || memcmp(p, "quarantine ", 11) != 0) {
                rc = hfs_error_set(HFS_EINVALID, "the pre-receive hook's message does not start "
                                                 "with its quarantine line");
                goto done;
            }
            if (n > 11)
                out->quarantine = hfs_strndup(p + 11, n - 11);
            first = false;
        } else if (n == 1 && p[0] == '.') {
            if (eol + 1 != end) {
                rc = hfs_error_set(HFS_EINVALID, "the pre-receive hook sent lines after its end");
                goto done;
            }
            break;
        } else {
            if (n < 84 || p[40] != ' ' || p[81] != ' ' || !is_hex40(p) || !is_hex40(p + 41)) {
                rc = hfs_error_set(HFS_EINVALID,
                                   "the pre-receive hook sent a malformed ref update '%.*s'",
                                   (int)(n > 200 ? 200 : n), p);
                goto done;
            }
            hubd_push_update u;
            memcpy(u.old_oid, p, 40);
            u.old_oid[40] = '\0';
            memcpy(u.new_oid, p + 41, 40);
            u.new_oid[40] = '\0';
            u.ref = hfs_strndup(p + 82, n - 82);
            HFS_PUSH(out->updates, out->n_updates, cap, u);
        }
        p = eol + 1;
    }
done:
    if (rc < 0) {
        hubd_push_clear(out);
        return rc;
    }
    return 1;
}

/* ---- a set of object ids (what the walk has checked) ---------------------------------- */

typedef struct {
    git_oid *ids;
    unsigned char *used;
    size_t cap, len;
} oid_set;

static size_t oid_hash(const git_oid *id)
{
    uint64_t h;
    memcpy(&h, id->id, sizeof(h)); /* object ids are uniformly distributed already */
    return (size_t)h;
}

/* Adds id; false when it was there already. */
static bool oid_set_add(oid_set *s, const git_oid *id)
{
    if (2 * (s->len + 1) > s->cap) {
        oid_set bigger = {.cap = s->cap ? 2 * s->cap : 1024};
        bigger.ids = hfs_malloc(bigger.cap * sizeof(git_oid));
        bigger.used = hfs_calloc(bigger.cap, 1);
        for (size_t i = 0; i < s->cap; i++)
            if (s->used[i])
                oid_set_add(&bigger, &s->ids[i]);
        free(s->ids);
        free(s->used);
        *s = bigger;
    }
    size_t i = oid_hash(id) & (s->cap - 1);
    while (s->used[i]) {
        if (git_oid_equal(&s->ids[i], id))
            return false;
        i = (i + 1) & (s->cap - 1);
    }
    s->used[i] = 1;
    git_oid_cpy(&s->ids[i], id);
    s->len++;
    return true;
}

static void oid_set_free(oid_set *s)
{
    free(s->ids);
    free(s->used);
}

/* ---- the checks -------------------------------------------------------------------------- */

typedef struct {
    git_repository *repo;
    git_odb *odb;      /* the repo's objects plus the quarantine */
    git_odb *incoming; /* the quarantine alone; NULL: every object counts as new */
    const hubd_lfs_store *lfs;
    const char *ref; /* the update being checked, for messages */
    oid_set seen;
    hfs_buf path; /* of the entry being checked */
    hfs_buf too_big;
    size_t n_too_big;
    hfs_buf missing;
    size_t n_missing;
} push_checker;

/* Objects already in the repo were checked when they arrived (pushes and commits keep the
 * same rules), so only what this push brings is looked at. */
static bool is_new(push_checker *c, const git_oid *id)
{
    return !c->incoming || git_odb_exists(c->incoming, id);
}

static int bad_path(push_checker *c, const char *why)
{
    return hfs_error_set(HFS_EINVALID,
                         "Your push was rejected because it contains an invalid path: '%s' "
                         "(ref: %s): %s.",
                         hfs_buf_cstr(&c->path), c->ref, why);
}

/* A tree entry's name, with the commit endpoint's path rules (a backslash separates
 * segments there too, as the hub refuses "..\\x" like "../x"). */
static int check_name(push_checker *c, const char *name)
{
    if (!*name)
        return bad_path(c, "a file or folder has an empty name");
    if (!hfs_utf8_valid(name, strlen(name)))
        return bad_path(c, "it is not UTF-8");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '/')
            return bad_path(c, "a name holds a control character or a '/'");
    for (const char *seg = name;;) {
        size_t n = strcspn(seg, "\\");
        if (n == 0)
            return bad_path(c, "it has an empty segment");
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return bad_path(c, "'.' and '..' segments are not allowed");
        if (n == 4 && strncasecmp(seg, ".git", 4) == 0)
            return bad_path(c, "a '.git' segment is reserved by git");
        if (!seg[n])
            break;
        seg += n + 1;
    }
    return 0;
}

static void list_add(hfs_buf *list, size_t *count, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void list_add(hfs_buf *list, size_t *count, const char *fmt, ...)
{
    if (++*count > LIST_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    hfs_buf_vprintf(list, fmt, ap);
    va_end(ap);
}

static int check_blob(push_checker *c, const git_oid *id)
{
    if (!is_new(c, id) || !oid_set_add(&c->seen, id))
        return 0;
    size_t len = 0;
    git_object_t type;
    if (git_odb_read_header(&len, &type, c->odb, id) < 0)
        return repo_git_fail(HFS_ERROR, "cannot read the pushed file '%s'", hfs_buf_cstr(&c->path));
    if (len > HFS_REGULAR_MAX_BYTES) {
        list_add(&c->too_big, &c->n_too_big, "  - %s (ref: %s)\n", hfs_buf_cstr(&c->path), c->ref);
        return 0;
    }
    if (len < HUBD_LFS_POINTER_MIN || len > HUBD_LFS_POINTER_MAX)
        return 0;
    git_odb_object *obj = NULL;
    if (git_odb_read(&obj, c->odb, id) < 0)
        return repo_git_fail(HFS_ERROR, "cannot read the pushed file '%s'", hfs_buf_cstr(&c->path));
    char oid[65];
    uint64_t size = 0, stored = 0;
    if (repo_parse_lfs_pointer(git_odb_object_data(obj), len, oid, &size)) {
        if (!hubd_lfs_has(c->lfs, oid, &stored))
            list_add(&c->missing, &c->n_missing,
                     "  - %s (ref: %s): LFS object %s (%llu bytes) was never uploaded\n",
                     hfs_buf_cstr(&c->path), c->ref, oid, (unsigned long long)size);
        else if (stored != size)
            list_add(&c->missing, &c->n_missing,
                     "  - %s (ref: %s): the pointer says %llu bytes but LFS object %s has %llu\n",
                     hfs_buf_cstr(&c->path), c->ref, (unsigned long long)size, oid,
                     (unsigned long long)stored);
    }
    git_odb_object_free(obj);
    return 0;
}

static int check_tree(push_checker *c, const git_oid *tree_id)
{
    if (!is_new(c, tree_id) || !oid_set_add(&c->seen, tree_id))
        return 0;
    git_tree *tree = NULL;
    if (git_tree_lookup(&tree, c->repo, tree_id) < 0)
        return repo_git_fail(HFS_ERROR, "cannot read the pushed folder '%s'",
                             c->path.len ? hfs_buf_cstr(&c->path) : "/");
    int rc = 0;
    size_t n = git_tree_entrycount(tree);
    if (n > HUBD_FOLDER_MAX_ENTRIES) {
        rc = hfs_error_set(HFS_ELIMIT,
                           "Your push was rejected because %s%s%s (ref: %s) holds %zu files and "
                           "folders; the hub allows at most %d entries in one folder: spread "
                           "them over subfolders.",
                           c->path.len ? "folder '" : "the root folder", hfs_buf_cstr(&c->path),
                           c->path.len ? "'" : "", c->ref, n, HUBD_FOLDER_MAX_ENTRIES);
        goto done;
    }
    size_t base = c->path.len;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const git_tree_entry *e = git_tree_entry_byindex(tree, i);
        const char *name = git_tree_entry_name(e);
        if (base)
            hfs_buf_putc(&c->path, '/');
        hfs_buf_puts(&c->path, name);
        if ((rc = check_name(c, name)) < 0)
            break;
        switch (git_tree_entry_filemode(e)) {
        case GIT_FILEMODE_TREE:
            rc = check_tree(c, git_tree_entry_id(e));
            break;
        case GIT_FILEMODE_BLOB:
        case GIT_FILEMODE_BLOB_EXECUTABLE:
        case GIT_FILEMODE_LINK:
            rc = check_blob(c, git_tree_entry_id(e));
            break;
        default: /* a gitlink: the hub's listings and downloads have no place for one */
            rc = hfs_error_set(HFS_EINVALID,
                               "Your push was rejected because '%s' (ref: %s) is a submodule; "
                               "the hub does not support submodules.",
                               hfs_buf_cstr(&c->path), c->ref);
            break;
        }
        c->path.len = base;
        c->path.ptr[base] = '\0';
    }
done:
    git_tree_free(tree);
    return rc;
}

/* Every existing ref is hidden from the walk, so it yields exactly the commits this update
 * adds to the repo's history. */
static int hide_existing_refs(git_revwalk *walk, git_repository *repo)
{
    git_reference_iterator *it = NULL;
    git_reference *ref = NULL;
    if (git_reference_iterator_new(&it, repo) < 0)
        return repo_git_fail(HFS_ERROR, "cannot list the refs of the repo");
    while (git_reference_next(&ref, it) == 0) {
        git_object *target = NULL;
        if (git_reference_peel(&target, ref, GIT_OBJECT_COMMIT) == 0)
            git_revwalk_hide(walk, git_object_id(target));
        git_object_free(target);
        git_reference_free(ref);
    }
    git_reference_iterator_free(it);
    git_error_clear(); /* refs that peel to no commit (a tag of a blob) hide nothing */
    return 0;
}

/* The content an update brings: every new commit's tree, or the object a tag names. */
static int check_history(push_checker *c, const git_oid *tip)
{
    int rc = 0;
    git_object *obj = NULL, *peeled = NULL;
    git_revwalk *walk = NULL;
    if (git_object_lookup(&obj, c->repo, tip, GIT_OBJECT_ANY) < 0) {
        rc = repo_git_fail(HFS_ERROR, "cannot read the pushed object for %s", c->ref);
        goto done;
    }
    if (git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) < 0) {
        git_error_clear(); /* a tag of a tree or a blob */
        if (git_object_peel(&peeled, obj, GIT_OBJECT_TREE) == 0) {
            rc = check_tree(c, git_object_id(peeled));
        } else {
            git_error_clear();
            if (git_object_peel(&peeled, obj, GIT_OBJECT_BLOB) == 0) {
                hfs_buf_puts(&c->path, c->ref);
                rc = check_blob(c, git_object_id(peeled));
                hfs_buf_clear(&c->path);
            }
            git_error_clear();
        }
        goto done;
    }
    if (git_revwalk_new(&walk, c->repo) < 0 || git_revwalk_push(walk, git_object_id(peeled)) < 0) {
        rc = repo_git_fail(HFS_ERROR, "cannot walk the history pushed to %s", c->ref);
        goto done;
    }
    if ((rc = hide_existing_refs(walk, c->repo)) < 0)
        goto done;
    git_oid id;
    int err;
    while (rc == 0 && (err = git_revwalk_next(&id, walk)) == 0) {
        git_commit *commit = NULL;
        if (git_commit_lookup(&commit, c->repo, &id) < 0) {
            rc = repo_git_fail(HFS_ERROR, "cannot read a commit pushed to %s", c->ref);
            break;
        }
        rc = check_tree(c, git_commit_tree_id(commit));
        git_commit_free(commit);
    }
    if (rc == 0 && err != GIT_ITEROVER)
        rc = repo_git_fail(HFS_ERROR, "cannot walk the history pushed to %s", c->ref);
done:
    git_revwalk_free(walk);
    git_object_free(peeled);
    git_object_free(obj);
    return rc;
}

static bool is_zero(const char *oid)
{
    return strspn(oid, "0") == 40;
}

/* Which refs a push may touch, and how. */
static int check_ref(git_repository *repo, const hubd_push_update *u, const char *id)
{
    const char *ref = u->ref;
    bool deleting = is_zero(u->new_oid);
    unsigned pr = 0;
    if (strcmp(ref, "refs/heads/" HUBD_DEFAULT_BRANCH) == 0 && deleting)
        return hfs_error_set(HFS_EINVALID,
                             "Your push was rejected: %s is the default branch of %s and cannot "
                             "be deleted.",
                             ref, id);
    if (hfs_str_starts_with(ref, "refs/heads/") || hfs_str_starts_with(ref, "refs/tags/"))
        return 0;
    if (hubd_is_pr_ref(ref, &pr)) {
        if (deleting)
            return hfs_error_set(HFS_EINVALID,
                                 "Your push was rejected: %s belongs to pull request #%u and "
                                 "cannot be deleted; close the pull request instead.",
                                 ref, pr);
        if (is_zero(u->old_oid))
            return hfs_error_set(HFS_EINVALID,
                                 "Your push was rejected: %s does not exist. Open pull request "
                                 "#%u first (a commit with create_pr=1, or the discussions API), "
                                 "then push to its ref.",
                                 ref, pr);
        git_oid oid;
        git_object *obj = NULL;
        bool commit = git_oid_fromstr(&oid, u->new_oid) == 0 &&
                      git_object_lookup(&obj, repo, &oid, GIT_OBJECT_COMMIT) == 0;
        git_object_free(obj);
        git_error_clear();
        if (!commit)
            return hfs_error_set(HFS_EINVALID, "Your push was rejected: %s must point at a commit.",
                                 ref);
        return 0;
    }
    return hfs_error_set(HFS_EINVALID,
                         "Your push was rejected: the hub accepts pushes to branches "
                         "(refs/heads/*), tags (refs/tags/*) and open pull requests (refs/pr/N); "
                         "%s is none of these.",
                         ref);
}

/* The quarantine must be git's incoming directory inside this repo's objects. */
static int open_quarantine(git_odb **out, git_repository *repo, const char *quarantine)
{
    char objects[PATH_MAX], incoming[PATH_MAX];
    char *dir = hfs_path_join(git_repository_path(repo), "objects");
    bool inside = realpath(dir, objects) && realpath(quarantine, incoming) &&
                  strncmp(incoming, objects, strlen(objects)) == 0 &&
                  incoming[strlen(objects)] == '/' && !strchr(incoming + strlen(objects) + 1, '/');
    free(dir);
    *out = NULL;
    if (!inside)
        return hfs_error_set(HFS_EINVALID,
                             "the pushed objects' quarantine %s is not inside the repo's objects",
                             quarantine);
    if (git_odb_open(out, incoming) < 0)
        return repo_git_fail(HFS_ERROR, "cannot open the pushed objects in %s", incoming);
    git_odb *odb = NULL;
    int err = git_repository_odb(&odb, repo);
    if (err == 0)
        err = git_odb_add_disk_alternate(odb, incoming);
    git_odb_free(odb);
    if (err < 0) {
        git_odb_free(*out);
        *out = NULL;
        return repo_git_fail(HFS_ERROR, "cannot read the pushed objects in %s", incoming);
    }
    return 0;
}

int hubd_push_check(hubd_repos *repos, const hubd_lfs_store *lfs, hfs_repo_kind kind,
                    const char *id, const hubd_push *push)
{
    repo_session s;
    push_checker c = {.lfs = lfs};
    int rc = repo_session_open(&s, repos, kind, id);
    if (rc < 0)
        return rc;
    c.repo = s.repo;
    /* first, so the refs' new values can be looked up */
    if (push->quarantine && (rc = open_quarantine(&c.incoming, s.repo, push->quarantine)) < 0)
        goto done;
    for (size_t i = 0; i < push->n_updates && rc == 0; i++)
        rc = check_ref(s.repo, &push->updates[i], id);
    if (rc < 0)
        goto done;
    if (git_repository_odb(&c.odb, s.repo) < 0) {
        rc = repo_git_fail(HFS_ERROR, "cannot open the objects of %s", id);
        goto done;
    }
    for (size_t i = 0; i < push->n_updates && rc == 0; i++) {
        const hubd_push_update *u = &push->updates[i];
        git_oid tip;
        if (is_zero(u->new_oid))
            continue;
        if (git_oid_fromstr(&tip, u->new_oid) < 0) {
            rc = hfs_error_set(HFS_EINVALID, "the new value of %s is not an object id", u->ref);
            break;
        }
        c.ref = u->ref;
        rc = check_history(&c, &tip);
    }
    if (rc < 0)
        goto done;
    if (c.n_too_big)
        rc = hfs_error_set(
            HFS_ELIMIT,
            "-------------------------------------------------------------------------\n"
            "Your push was rejected because it contains files larger than 10 MiB.\n"
            "Please use https://git-lfs.github.com/ to store large files.\n"
            "See also: https://hf.co/docs/hub/repositories-getting-started#terminal\n"
            "\n"
            "Offending files:\n%s%s"
            "-------------------------------------------------------------------------",
            hfs_buf_cstr(&c.too_big), c.n_too_big > LIST_MAX ? "  - ... and more\n" : "");
    else if (c.n_missing)
        rc = hfs_error_set(
            HFS_EINVALID,
            "-------------------------------------------------------------------------\n"
            "Your push was rejected because an LFS pointer pointed to a file that does not "
            "exist.\nUpload LFS objects before the refs that use them (git-lfs's pre-push hook "
            "does it: run 'git lfs install').\n"
            "\n"
            "Offending files:\n%s%s"
            "-------------------------------------------------------------------------",
            hfs_buf_cstr(&c.missing), c.n_missing > LIST_MAX ? "  - ... and more\n" : "");
done:
    git_odb_free(c.odb);
    git_odb_free(c.incoming);
    oid_set_free(&c.seen);
    hfs_buf_free(&c.path);
    hfs_buf_free(&c.too_big);
    hfs_buf_free(&c.missing);
    repo_session_close(&s);
    return rc;
}
