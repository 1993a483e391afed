/* The local hub's repositories on disk: bare libgit2 repos with a JSON metadata file
 * beside each, their creation and deletion, revisions, refs, branches and history. */
#include "hubd/repo.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/lfsrules.h"
#include "common/log.h"
#include "common/util.h"
#include "hubd/discussions.h"
#include "hubd/repo_internal.h"

static const char *kind_dir(hfs_repo_kind kind)
{
    return kind == HFS_REPO_DATASET ? "datasets" : kind == HFS_REPO_SPACE ? "spaces" : "models";
}

static const char *kind_name(hfs_repo_kind kind)
{
    return kind == HFS_REPO_DATASET ? "dataset" : kind == HFS_REPO_SPACE ? "space" : "model";
}

int repo_git_fail(int code, const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    const git_error *e = git_error_last();
    int rc = hfs_error_set(code, "%s: %s", what, e && e->message ? e->message : "libgit2 error");
    git_error_clear();
    return rc;
}

void repo_iso_time(char out[32], int64_t seconds, int millis)
{
    time_t t = (time_t)seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    char day[24];
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", day, millis % 1000);
}

/* ---- the storage root ------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static int rm_rf(const char *path)
{
    if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        return hfs_error_set(HFS_ERROR, "cannot remove %s: %s", path, strerror(errno));
    return 0;
}

/* Temp dirs are named p<pid>-<n>; those of processes that are gone hold nothing anyone
 * will finish (a half-created repo, a repo being deleted, a download's spool file). */
static void sweep_dead_tmp_dirs(const char *tmp_root)
{
    DIR *d = opendir(tmp_root);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        long pid = 0;
        if (sscanf(de->d_name, "p%ld-", &pid) != 1 || pid <= 0)
            continue;
        if (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char *path = hfs_path_join(tmp_root, de->d_name);
        rm_rf(path);
        free(path);
    }
    closedir(d);
}

int hubd_repos_open(hubd_repos **out, const char *root)
{
    static atomic_uint instances;
    *out = NULL;
    if (!root || !*root)
        return hfs_error_set(HFS_EINVALID, "the hub's storage needs a root directory");
    hubd_repos *r = hfs_calloc(1, sizeof(*r));
    r->root = hfs_strdup(root);
    r->repos_dir = hfs_path_join(root, "repos");
    char *tmp_root = hfs_path_join(r->repos_dir, ".tmp");
    r->tmp_dir =
        hfs_sprintf("%s/p%ld-%u", tmp_root, (long)getpid(), atomic_fetch_add(&instances, 1));
    int rc = 0;
    const hfs_repo_kind kinds[] = {HFS_REPO_MODEL, HFS_REPO_DATASET, HFS_REPO_SPACE};
    for (size_t i = 0; i < HFS_ARRAY_LEN(kinds) && rc == 0; i++) {
        char *dir = hfs_path_join(r->repos_dir, kind_dir(kinds[i]));
        rc = hfs_mkdir_p(dir);
        free(dir);
    }
    if (rc == 0) {
        sweep_dead_tmp_dirs(tmp_root);
        rc = hfs_mkdir_p(r->tmp_dir);
    }
    free(tmp_root);
    if (rc < 0) {
        free(r->root);
        free(r->repos_dir);
        free(r->tmp_dir);
        free(r);
        return rc;
    }
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    /* A steady stream of reads must not keep a create or delete waiting forever. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&r->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    git_libgit2_init();
    *out = r;
    return 0;
}

void hubd_repos_free(hubd_repos *repos)
{
    if (!repos)
        return;
    rm_rf(repos->tmp_dir);
    pthread_rwlock_destroy(&repos->lock);
    git_libgit2_shutdown();
    free(repos->root);
    free(repos->repos_dir);
    free(repos->tmp_dir);
    free(repos);
}

/* ---- recovery at hub start ------------------------------------------------------------ */

static char *id_key(const char *id);

/* Ref updates (libgit2's, and git's for pushes) hold a lock file beside the ref for a
 * moment. One that exists when the hub starts was left by a crash: nothing else writes refs,
 * and it would keep its ref from moving for good. */
static int rm_lock_file(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)ftw;
    if (flag == FTW_F && hfs_str_ends_with(path, ".lock") && unlink(path) == 0)
        hfs_warn("hub: removed %s, a ref lock left behind by a crash", path);
    return 0;
}

static void remove_stale_ref_locks(const char *git_dir)
{
    char *refs = hfs_path_join(git_dir, "refs");
    nftw(refs, rm_lock_file, 16, FTW_PHYS);
    free(refs);
    const char *const top[] = {"packed-refs.lock", "HEAD.lock"};
    for (size_t i = 0; i < HFS_ARRAY_LEN(top); i++) {
        char *path = hfs_path_join(git_dir, top[i]);
        if (unlink(path) == 0)
            hfs_warn("hub: removed %s, a ref lock left behind by a crash", path);
        free(path);
    }
}

/* The names in a folder but "." entries (".tmp", ".lock"), read before anything moves. */
static size_t folder_names(char ***out, const char *dir)
{
    char **names = NULL;
    size_t n = 0, cap = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            HFS_PUSH(names, n, cap, hfs_strdup(de->d_name));
    if (d)
        closedir(d);
    *out = names;
    return n;
}

/* Entries of one namespace folder `from` go to `to` under their lowercased names (repos and
 * their metadata were stored under the id as spelled before ids became case-insensitive). */
static void recover_namespace(const char *from, const char *to, bool git_repos)
{
    char **names = NULL;
    size_t n = folder_names(&names, from);
    for (size_t i = 0; i < n; i++) {
        char *lower = id_key(names[i]);
        char *src = hfs_path_join(from, names[i]), *dst = hfs_path_join(to, lower);
        char *at = src;
        if (strcmp(src, dst) != 0) {
            if (access(dst, F_OK) == 0)
                hfs_warn("hub: %s and %s differ only in case, and repo ids are "
                         "case-insensitive: %s is not reachable any more (rename or remove it)",
                         src, dst, src);
            else if (hfs_mkdir_p(to) == 0 && rename(src, dst) == 0)
                at = dst;
        }
        if (git_repos && hfs_str_ends_with(at, ".git"))
            remove_stale_ref_locks(at);
        free(src);
        free(dst);
        free(lower);
        free(names[i]);
    }
    free(names);
}

/* ROOT/repos/{kind} or ROOT/discussions/{kind}: NS/ENTRY, both in lowercase. */
static void recover_kind(const char *dir, bool git_repos)
{
    char **names = NULL;
    size_t n = folder_names(&names, dir);
    for (size_t i = 0; i < n; i++) {
        char *lower = id_key(names[i]);
        char *src = hfs_path_join(dir, names[i]), *dst = hfs_path_join(dir, lower);
        if (strcmp(src, dst) != 0 && access(dst, F_OK) != 0 && rename(src, dst) == 0) {
            recover_namespace(dst, dst, git_repos);
        } else {
            recover_namespace(src, dst, git_repos);
            if (strcmp(src, dst) != 0)
                rmdir(src); /* only when all of it moved */
        }
        free(src);
        free(dst);
        free(lower);
        free(names[i]);
    }
    free(names);
}

void hubd_repos_recover(hubd_repos *repos)
{
    const hfs_repo_kind kinds[] = {HFS_REPO_MODEL, HFS_REPO_DATASET, HFS_REPO_SPACE};
    pthread_rwlock_wrlock(&repos->lock);
    for (size_t i = 0; i < HFS_ARRAY_LEN(kinds); i++) {
        char *dir = hfs_path_join(repos->repos_dir, kind_dir(kinds[i]));
        recover_kind(dir, true);
        free(dir);
        dir = hfs_sprintf("%s/discussions/%s", repos->root, kind_dir(kinds[i]));
        recover_kind(dir, false);
        free(dir);
    }
    pthread_rwlock_unlock(&repos->lock);
}

/* ---- repo ids and paths -------------------------------------------------------------- */

static bool word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* One part of "ns/name" as the hub accepts it (huggingface_hub's REPO_ID_REGEX and
 * validator): letters, digits, '_', '-', '.', starting and ending with a word character,
 * no "--" or "..". Also what keeps ids from escaping ROOT/repos. */
static bool id_part_valid(const char *s, size_t n)
{
    if (n == 0 || n > 96 || !word_char(s[0]) || !word_char(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!word_char(c) && c != '-' && c != '.')
            return false;
        if ((c == '-' || c == '.') && s[i - 1] == c)
            return false;
    }
    return true;
}

static bool id_valid(const char *id)
{
    const char *slash = id ? strchr(id, '/') : NULL;
    if (!slash || strchr(slash + 1, '/'))
        return false;
    return id_part_valid(id, (size_t)(slash - id)) && id_part_valid(slash + 1, strlen(slash + 1)) &&
           !hfs_str_ends_with(id, ".git");
}

/* Repo ids are case-insensitive on the hub (Alice/Model is alice/model): a repo is stored
 * under its lowercased id, and its metadata keeps the spelling it was created with. */
static char *id_key(const char *id)
{
    char *key = hfs_strdup(id);
    for (char *p = key; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return key;
}

static char *repo_dir(const hubd_repos *r, hfs_repo_kind kind, const char *id)
{
    char *key = id_key(id);
    char *dir = hfs_sprintf("%s/%s/%s.git", r->repos_dir, kind_dir(kind), key);
    free(key);
    return dir;
}

static char *meta_file(const hubd_repos *r, hfs_repo_kind kind, const char *id)
{
    char *key = id_key(id);
    char *path = hfs_sprintf("%s/%s/%s.json", r->repos_dir, kind_dir(kind), key);
    free(key);
    return path;
}

static int not_found(hfs_repo_kind kind, const char *id)
{
    return hfs_error_set(HFS_ENOTFOUND, "Repository not found: %s %s", kind_name(kind),
                         id ? id : "(none)");
}

int repo_session_open(repo_session *s, hubd_repos *repos, hfs_repo_kind kind, const char *id)
{
    *s = (repo_session){.repos = repos, .id = id ? id : ""};
    if (!id_valid(id))
        return not_found(kind, id);
    pthread_rwlock_rdlock(&repos->lock);
    s->locked = true;
    char *dir = repo_dir(repos, kind, id);
    int rc = 0;
    if (access(dir, F_OK) != 0)
        rc = not_found(kind, id);
    else if (git_repository_open_bare(&s->repo, dir) < 0)
        rc = repo_git_fail(HFS_ERROR, "cannot open the repository at %s", dir);
    free(dir);
    if (rc < 0)
        repo_session_close(s);
    return rc;
}

void repo_session_close(repo_session *s)
{
    git_repository_free(s->repo);
    s->repo = NULL;
    if (s->locked)
        pthread_rwlock_unlock(&s->repos->lock);
    s->locked = false;
}

/* ---- metadata ------------------------------------------------------------------------ */

void hubd_repo_meta_clear(hubd_repo_meta *meta)
{
    if (!meta)
        return;
    free(meta->id);
    free(meta->created_at);
    memset(meta, 0, sizeof(*meta));
}

/* The hub's "_id" is a MongoDB ObjectId: 4 bytes of creation time, then 8 random bytes. */
static void new_object_id(char out[25])
{
    unsigned char rnd[8];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        /* No entropy source: uniqueness within this process is what matters here. */
        uint64_t v = ((uint64_t)getpid() << 32) ^ (uint64_t)clock() ^ (uint64_t)(uintptr_t)out;
        memcpy(rnd, &v, sizeof(rnd));
    }
    int n = snprintf(out, 25, "%08x", (unsigned)time(NULL));
    for (size_t i = 0; i < sizeof(rnd); i++)
        n += snprintf(out + n, (size_t)(25 - n), "%02x", rnd[i]);
}

static int meta_write(const char *path, const hubd_repo_meta *m)
{
    json_t *j = json_pack("{s:s, s:s, s:b, s:s, s:s, s:I}", "id", m->id, "type", kind_name(m->kind),
                          "private", m->private, "_id", m->object_id, "createdAt", m->created_at,
                          "lfsMultipartThreshold", (json_int_t)m->lfs_multipart_threshold);
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    int rc = text ? hfs_write_file_atomic(path, text, strlen(text), 0644)
                  : hfs_error_set(HFS_ERROR, "cannot encode the metadata for %s", path);
    free(text);
    json_decref(j);
    return rc;
}

static int meta_read(hubd_repo_meta *out, const char *path, hfs_repo_kind kind, const char *id)
{
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (!j)
        return hfs_error_set(HFS_ERROR, "the metadata of %s repo %s is unreadable (%s:%d: %s)",
                             kind_name(kind), id, path, err.line, err.text);
    int priv = 0;
    const char *object_id = NULL, *created = NULL, *spelled = NULL;
    json_int_t threshold = 0;
    int rc = 0;
    if (json_unpack_ex(j, &err, 0, "{s:b, s:s, s:s, s?I, s?s}", "private", &priv, "_id", &object_id,
                       "createdAt", &created, "lfsMultipartThreshold", &threshold, "id",
                       &spelled) != 0 ||
        strlen(object_id) != 24 || threshold < 0) {
        rc = hfs_error_set(HFS_ERROR, "the metadata of %s repo %s is malformed (%s: %s)",
                           kind_name(kind), id, path, err.text[0] ? err.text : "bad _id");
        goto done;
    }
    /* answers use the spelling the repo was created with, whatever case the caller used */
    if (!spelled || strcasecmp(spelled, id) != 0)
        spelled = id;
    *out = (hubd_repo_meta){.id = hfs_strdup(spelled),
                            .kind = kind,
                            .private = priv != 0,
                            .created_at = hfs_strdup(created),
                            .lfs_multipart_threshold = (uint64_t)threshold};
    memcpy(out->object_id, object_id, 25);
done:
    json_decref(j);
    return rc;
}

/* ---- create, delete, metadata -------------------------------------------------------- */

int repo_signature(git_signature **out, const char *user)
{
    /* git refuses angle brackets and newlines in names; a token's user never has them, but
     * the name is the caller's, so make it safe rather than fail the commit. */
    char *name = hfs_strdup(user && *user ? user : "hub");
    for (char *p = name; *p; p++)
        if (*p == '<' || *p == '>' || *p == '\n')
            *p = '_';
    char *email = hfs_sprintf("%s@users.noreply.local", name);
    int rc = git_signature_now(out, name, email) < 0
                 ? repo_git_fail(HFS_EINVALID, "cannot make a commit author from '%s'", name)
                 : 0;
    free(name);
    free(email);
    return rc;
}

/* The first commit of every repo: the hub's default .gitattributes for its kind, on main. */
static int write_initial_commit(git_repository *repo, hfs_repo_kind kind, const char *author)
{
    git_treebuilder *bld = NULL;
    git_tree *tree = NULL;
    git_signature *sig = NULL;
    git_oid blob, tree_oid, commit;
    const char *attrs = hfs_lfsrules_default_gitattributes(kind);
    int rc = 0;
    if (git_blob_create_from_buffer(&blob, repo, attrs, strlen(attrs)) < 0 ||
        git_treebuilder_new(&bld, repo, NULL) < 0 ||
        git_treebuilder_insert(NULL, bld, ".gitattributes", &blob, GIT_FILEMODE_BLOB) < 0 ||
        git_treebuilder_write(&tree_oid, bld) < 0 || git_tree_lookup(&tree, repo, &tree_oid) < 0) {
        rc = repo_git_fail(HFS_ERROR, "cannot write the initial tree");
        goto done;
    }
    if ((rc = repo_signature(&sig, author)) < 0)
        goto done;
    if (git_commit_create(&commit, repo, "refs/heads/" HUBD_DEFAULT_BRANCH, sig, sig, NULL,
                          "initial commit", tree, 0, NULL) < 0)
        rc = repo_git_fail(HFS_ERROR, "cannot write the initial commit");
done:
    git_signature_free(sig);
    git_tree_free(tree);
    git_treebuilder_free(bld);
    return rc;
}

int hubd_repo_create(hubd_repos *repos, hfs_repo_kind kind, const char *id, bool private,
                     uint64_t lfs_multipart_threshold, const char *author)
{
    if (!id_valid(id))
        return hfs_error_set(HFS_EINVALID,
                             "Invalid repo id '%s': expected namespace/name made of letters, "
                             "digits, '-', '_' and '.', each part starting and ending with a "
                             "letter or digit, at most 96 characters, no '--' or '..', not "
                             "ending in .git",
                             id ? id : "");
    pthread_rwlock_wrlock(&repos->lock);
    char *dir = repo_dir(repos, kind, id), *meta_path = meta_file(repos, kind, id);
    char *parent = hfs_strdup(dir), *tmp = NULL;
    git_repository *repo = NULL;
    hubd_repo_meta meta = {0};
    int rc = 0;
    if (access(dir, F_OK) == 0) {
        rc = hfs_error_set(HFS_EEXISTS, "You already created this %s repo", kind_name(kind));
        goto done;
    }
    *strrchr(parent, '/') = '\0';
    if ((rc = hfs_mkdir_p(parent)) < 0)
        goto done;
    /* Build the whole repo in a temp dir and move it into place in one rename, so a crash
     * never leaves a half-made repo visible. */
    tmp = hfs_sprintf("%s/create-XXXXXX", repos->tmp_dir);
    if (!mkdtemp(tmp)) {
        rc = hfs_error_set(HFS_ERROR, "cannot create a temp dir in %s: %s", repos->tmp_dir,
                           strerror(errno));
        free(tmp);
        tmp = NULL;
        goto done;
    }
    git_repository_init_options opts;
    git_repository_init_options_init(&opts, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
    opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
    opts.initial_head = HUBD_DEFAULT_BRANCH;
    if (git_repository_init_ext(&repo, tmp, &opts) < 0) {
        rc = repo_git_fail(HFS_ERROR, "cannot initialise a repository in %s", tmp);
        goto done;
    }
    if ((rc = write_initial_commit(repo, kind, author)) < 0)
        goto done;
    git_repository_free(repo);
    repo = NULL;

    char created[32];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    repo_iso_time(created, tv.tv_sec, (int)(tv.tv_usec / 1000));
    meta = (hubd_repo_meta){.id = hfs_strdup(id),
                            .kind = kind,
                            .private = private,
                            .created_at = hfs_strdup(created),
                            .lfs_multipart_threshold = lfs_multipart_threshold};
    new_object_id(meta.object_id);
    /* The metadata goes first: a repo dir without it never exists, and a metadata file
     * without a repo dir (a crash right here) is overwritten by the next create. */
    if ((rc = meta_write(meta_path, &meta)) < 0)
        goto done;
    if (rename(tmp, dir) != 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot move the new repository to %s: %s", dir,
                           strerror(errno));
        unlink(meta_path);
        goto done;
    }
    free(tmp);
    tmp = NULL;
    /* discussions left by a repo of this id that was deleted in a crash are not this repo's */
    char *discussions = hubd_discussions_dir(repos->root, kind, id);
    rm_rf(discussions);
    free(discussions);
done:
    git_repository_free(repo);
    if (tmp)
        rm_rf(tmp);
    pthread_rwlock_unlock(&repos->lock);
    hubd_repo_meta_clear(&meta);
    free(tmp);
    free(parent);
    free(dir);
    free(meta_path);
    return rc;
}

int hubd_repo_delete(hubd_repos *repos, hfs_repo_kind kind, const char *id)
{
    if (!id_valid(id))
        return not_found(kind, id);
    pthread_rwlock_wrlock(&repos->lock);
    char *dir = repo_dir(repos, kind, id), *meta_path = meta_file(repos, kind, id);
    char *trash = hfs_sprintf("%s/delete-XXXXXX", repos->tmp_dir);
    int rc = 0;
    if (access(dir, F_OK) != 0) {
        rc = not_found(kind, id);
        goto done;
    }
    /* One rename makes the repo disappear at once; the files go afterwards. */
    if (!mkdtemp(trash) || rename(dir, trash) != 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot delete the repository at %s: %s", dir,
                           strerror(errno));
        goto done;
    }
    if (unlink(meta_path) != 0 && errno != ENOENT)
        hfs_warn("deleted %s repo %s but could not remove %s: %s", kind_name(kind), id, meta_path,
                 strerror(errno));
    char *discussions = hubd_discussions_dir(repos->root, kind, id);
    rc = rm_rf(trash);
    if (rc == 0)
        rc = rm_rf(discussions);
    free(discussions);
done:
    pthread_rwlock_unlock(&repos->lock);
    free(trash);
    free(dir);
    free(meta_path);
    return rc;
}

int hubd_repo_get_meta(hubd_repo_meta *out, hubd_repos *repos, hfs_repo_kind kind, const char *id)
{
    memset(out, 0, sizeof(*out));
    if (!id_valid(id))
        return not_found(kind, id);
    pthread_rwlock_rdlock(&repos->lock);
    char *dir = repo_dir(repos, kind, id), *meta_path = meta_file(repos, kind, id);
    int rc = access(dir, F_OK) == 0 ? meta_read(out, meta_path, kind, id) : not_found(kind, id);
    pthread_rwlock_unlock(&repos->lock);
    free(dir);
    free(meta_path);
    return rc;
}

/* ---- revisions ----------------------------------------------------------------------- */

static bool ref_name_valid(const char *name)
{
    int valid = 0;
    return git_reference_name_is_valid(&valid, name) == 0 && valid;
}

/* 0 with the commit a ref leads to; 1 when there is no such ref (or it leads to no commit). */
static int peel_ref(git_oid *out, git_repository *repo, const char *refname)
{
    git_reference *ref = NULL;
    git_object *obj = NULL;
    int rc = 1;
    if (ref_name_valid(refname) && git_reference_lookup(&ref, repo, refname) == 0 &&
        git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT) == 0) {
        git_oid_cpy(out, git_object_id(obj));
        rc = 0;
    }
    git_error_clear();
    git_object_free(obj);
    git_reference_free(ref);
    return rc;
}

static bool is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

int repo_resolve_rev(git_oid *out, git_repository *repo, const char *id, const char *revision)
{
    const char *rev = revision ? revision : "";
    if (strcmp(rev, "HEAD") == 0 || hfs_str_starts_with(rev, "refs/")) {
        if (peel_ref(out, repo, rev) == 0)
            return 0;
    } else if (*rev) {
        char *heads = hfs_sprintf("refs/heads/%s", rev), *tags = hfs_sprintf("refs/tags/%s", rev);
        int rc = peel_ref(out, repo, heads) == 0 || peel_ref(out, repo, tags) == 0 ? 0 : 1;
        free(heads);
        free(tags);
        if (rc == 0)
            return 0;
        size_t n = strlen(rev);
        git_oid prefix;
        git_object *obj = NULL;
        if (n >= 7 && n <= GIT_OID_HEXSZ && is_hex(rev, n) &&
            git_oid_fromstrn(&prefix, rev, n) == 0 &&
            git_object_lookup_prefix(&obj, repo, &prefix, n, GIT_OBJECT_COMMIT) == 0) {
            git_oid_cpy(out, git_object_id(obj));
            git_object_free(obj);
            return 0;
        }
        git_error_clear();
    }
    return hfs_error_set(HFS_ENOTFOUND, "Invalid rev id: %s (no such revision in %s)", rev, id);
}

int repo_load_commit(git_commit **commit, git_tree **tree, git_repository *repo, const char *id,
                     const char *commit_oid)
{
    git_oid oid;
    *commit = NULL;
    if (tree)
        *tree = NULL;
    if (!commit_oid || strlen(commit_oid) != GIT_OID_HEXSZ ||
        git_oid_fromstr(&oid, commit_oid) < 0 || git_commit_lookup(commit, repo, &oid) < 0) {
        git_error_clear();
        return hfs_error_set(HFS_ENOTFOUND, "Invalid rev id: %s (no such commit in %s)",
                             commit_oid ? commit_oid : "", id);
    }
    if (tree && git_commit_tree(tree, *commit) < 0) {
        git_commit_free(*commit);
        *commit = NULL;
        return repo_git_fail(HFS_ERROR, "cannot read the tree of commit %s in %s", commit_oid, id);
    }
    return 0;
}

int hubd_repo_resolve(char out_oid[41], hubd_repos *repos, hfs_repo_kind kind, const char *id,
                      const char *revision)
{
    repo_session s;
    git_oid oid;
    out_oid[0] = '\0';
    int rc = repo_session_open(&s, repos, kind, id);
    if (rc == 0 && (rc = repo_resolve_rev(&oid, s.repo, id, revision)) == 0)
        git_oid_tostr(out_oid, GIT_OID_HEXSZ + 1, &oid);
    repo_session_close(&s);
    return rc;
}

int repo_read_root_file(char **out, size_t *out_len, git_repository *repo, const git_tree *tree,
                        const char *name)
{
    *out = NULL;
    *out_len = 0;
    const git_tree_entry *te = git_tree_entry_byname(tree, name);
    if (!te || git_tree_entry_type(te) != GIT_OBJECT_BLOB)
        return 0;
    git_blob *blob = NULL;
    if (git_blob_lookup(&blob, repo, git_tree_entry_id(te)) < 0)
        return repo_git_fail(HFS_ERROR, "cannot read %s", name);
    size_t n = (size_t)git_blob_rawsize(blob);
    *out = hfs_strndup(git_blob_rawcontent(blob), n);
    *out_len = n;
    git_blob_free(blob);
    return 0;
}

/* ---- files --------------------------------------------------------------------------- */

static char *normalize_path(const char *path)
{
    while (path && *path == '/')
        path++;
    char *p = hfs_strdup(path ? path : "");
    size_t n = strlen(p);
    while (n > 0 && p[n - 1] == '/')
        p[--n] = '\0';
    return p;
}

int hubd_repo_read_file(char **out, size_t *out_len, hubd_repos *repos, hfs_repo_kind kind,
                        const char *id, const char *commit_oid, const char *path, size_t max_bytes)
{
    *out = NULL;
    *out_len = 0;
    repo_session s;
    git_commit *commit = NULL;
    git_tree *tree = NULL;
    git_tree_entry *te = NULL;
    git_blob *blob = NULL;
    char *rel = normalize_path(path);
    int rc = repo_session_open(&s, repos, kind, id);
    if (rc < 0 || (rc = repo_load_commit(&commit, &tree, s.repo, id, commit_oid)) < 0)
        goto done;
    if (!*rel || git_tree_entry_bypath(&te, tree, rel) < 0 ||
        git_tree_entry_type(te) != GIT_OBJECT_BLOB) {
        git_error_clear();
        rc = hfs_error_set(HFS_ENOTFOUND, "Entry not found: %s is not a file at %s in %s", rel,
                           commit_oid, id);
        goto done;
    }
    if (git_blob_lookup(&blob, s.repo, git_tree_entry_id(te)) < 0) {
        rc = repo_git_fail(HFS_ERROR, "cannot read %s in %s", rel, id);
        goto done;
    }
    size_t n = (size_t)git_blob_rawsize(blob);
    if (n > max_bytes) {
        rc = hfs_error_set(HFS_ELIMIT, "%s in %s has %zu bytes, more than the %zu this reads", rel,
                           id, n, max_bytes);
        goto done;
    }
    *out = hfs_strndup(git_blob_rawcontent(blob), n);
    *out_len = n;
done:
    git_blob_free(blob);
    git_tree_entry_free(te);
    git_tree_free(tree);
    git_commit_free(commit);
    repo_session_close(&s);
    free(rel);
    return rc;
}

static int write_all(int fd, const char *data, size_t len, const char *what)
{
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return hfs_error_set(HFS_ERROR, "cannot spool %s: %s", what, strerror(errno));
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Copies a blob into fd: streamed from a loose object, in one read for packed ones (which
 * libgit2 cannot stream; regular files are at most 10 MiB). */
static int spool_blob(int fd, git_repository *repo, const git_oid *oid, const char *what)
{
    git_odb *odb = NULL;
    git_odb_stream *st = NULL;
    git_odb_object *obj = NULL;
    size_t len = 0;
    git_object_t type = GIT_OBJECT_INVALID;
    int rc = 0;
    if (git_repository_odb(&odb, repo) < 0)
        return repo_git_fail(HFS_ERROR, "cannot open the objects of %s", what);
    if (git_odb_open_rstream(&st, &len, &type, odb, oid) == 0) {
        if (type != GIT_OBJECT_BLOB) {
            rc = hfs_error_set(HFS_ENOTFOUND, "%s is not a file", what);
            goto done;
        }
        char buf[65536];
        size_t left = len;
        while (left > 0 && rc == 0) {
            int n = git_odb_stream_read(st, buf, sizeof(buf) < left ? sizeof(buf) : left);
            if (n <= 0) {
                rc = n < 0 ? repo_git_fail(HFS_ERROR, "cannot read %s", what)
                           : hfs_error_set(HFS_ERROR, "%s ended %zu bytes early", what, left);
                break;
            }
            rc = write_all(fd, buf, (size_t)n, what);
            left -= (size_t)n;
        }
        goto done;
    }
    git_error_clear();
    if (git_odb_read(&obj, odb, oid) < 0) {
        git_error_clear();
        rc = hfs_error_set(HFS_ENOTFOUND, "%s does not exist", what);
        goto done;
    }
    if (git_odb_object_type(obj) != GIT_OBJECT_BLOB)
        rc = hfs_error_set(HFS_ENOTFOUND, "%s is not a file", what);
    else
        rc = write_all(fd, git_odb_object_data(obj), git_odb_object_size(obj), what);
done:
    git_odb_object_free(obj);
    git_odb_stream_free(st);
    git_odb_free(odb);
    return rc;
}

int hubd_repo_blob_fd(int *out_fd, hubd_repos *repos, hfs_repo_kind kind, const char *id,
                      const char *blob_oid)
{
    *out_fd = -1;
    repo_session s;
    git_oid oid;
    char *what = hfs_sprintf("blob %s of %s", blob_oid ? blob_oid : "", id ? id : "");
    int fd = -1;
    int rc = repo_session_open(&s, repos, kind, id);
    if (rc < 0)
        goto done;
    if (!blob_oid || strlen(blob_oid) != GIT_OID_HEXSZ || git_oid_fromstr(&oid, blob_oid) < 0) {
        git_error_clear();
        rc = hfs_error_set(HFS_ENOTFOUND, "%s: not a 40-hex blob id", what);
        goto done;
    }
    char *tmpl = hfs_sprintf("%s/blob-XXXXXX", repos->tmp_dir);
    fd = mkostemp(tmpl, O_CLOEXEC);
    if (fd >= 0)
        unlink(tmpl); /* the fd alone keeps it; nothing to clean up after the caller closes */
    else
        rc = hfs_error_set(HFS_ERROR, "cannot create a temp file in %s: %s", repos->tmp_dir,
                           strerror(errno));
    free(tmpl);
    if (rc < 0 || (rc = spool_blob(fd, s.repo, &oid, what)) < 0)
        goto done;
    if (lseek(fd, 0, SEEK_SET) != 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot rewind the spool of %s: %s", what, strerror(errno));
        goto done;
    }
    *out_fd = fd;
    fd = -1;
done:
    if (fd >= 0)
        close(fd);
    repo_session_close(&s);
    free(what);
    return rc;
}

/* ---- refs ---------------------------------------------------------------------------- */

void hubd_refs_free(hubd_ref *refs, size_t count)
{
    for (size_t i = 0; refs && i < count; i++) {
        free(refs[i].name);
        free(refs[i].ref);
    }
    free(refs);
}

static int cmp_ref_name(const void *a, const void *b)
{
    return strcmp(((const hubd_ref *)a)->name, ((const hubd_ref *)b)->name);
}

/* PR refs sort by number (refs/pr/2 before refs/pr/10). */
static int cmp_pr(const void *a, const void *b)
{
    long x = atol(((const hubd_ref *)a)->name + 8), y = atol(((const hubd_ref *)b)->name + 8);
    return x < y ? -1 : x > y;
}

typedef struct {
    hubd_ref *items;
    size_t len, cap;
} ref_list;

int hubd_repo_list_refs(hubd_ref **branches, size_t *n_branches, hubd_ref **tags, size_t *n_tags,
                        hubd_ref **prs, size_t *n_prs, hubd_repos *repos, hfs_repo_kind kind,
                        const char *id)
{
    ref_list lists[3] = {{0}}; /* branches, tags, prs */
    hubd_ref **outs[3] = {branches, tags, prs};
    size_t *counts[3] = {n_branches, n_tags, n_prs};
    for (int i = 0; i < 3; i++) {
        if (outs[i])
            *outs[i] = NULL;
        if (counts[i])
            *counts[i] = 0;
    }
    repo_session s;
    git_reference_iterator *it = NULL;
    int rc = repo_session_open(&s, repos, kind, id);
    if (rc < 0)
        goto done;
    if (git_reference_iterator_new(&it, s.repo) < 0) {
        rc = repo_git_fail(HFS_ERROR, "cannot list the refs of %s", id);
        goto done;
    }
    git_reference *ref;
    int err;
    while ((err = git_reference_next(&ref, it)) == 0) {
        const char *name = git_reference_name(ref);
        int which = -1;
        const char *shown = name;
        if (hfs_str_starts_with(name, "refs/heads/")) {
            which = 0;
            shown = name + 11;
        } else if (hfs_str_starts_with(name, "refs/tags/")) {
            which = 1;
            shown = name + 10;
        } else if (hfs_str_starts_with(name, "refs/pr/")) {
            which = 2;
        }
        git_object *obj = NULL;
        if (which >= 0 && outs[which] && git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT) == 0) {
            hubd_ref r = {.name = hfs_strdup(shown), .ref = hfs_strdup(name)};
            git_oid_tostr(r.target, sizeof(r.target), git_object_id(obj));
            HFS_PUSH(lists[which].items, lists[which].len, lists[which].cap, r);
        }
        git_error_clear();
        git_object_free(obj);
        git_reference_free(ref);
    }
    if (err != GIT_ITEROVER) {
        rc = repo_git_fail(HFS_ERROR, "cannot list the refs of %s", id);
        goto done;
    }
    for (int i = 0; i < 3; i++)
        if (lists[i].len)
            qsort(lists[i].items, lists[i].len, sizeof(hubd_ref), i == 2 ? cmp_pr : cmp_ref_name);
    for (int i = 0; i < 3; i++) {
        if (!outs[i])
            continue;
        *outs[i] = lists[i].items;
        if (counts[i])
            *counts[i] = lists[i].len;
        lists[i] = (ref_list){0};
    }
done:
    for (int i = 0; i < 3; i++)
        hubd_refs_free(lists[i].items, lists[i].len);
    git_reference_iterator_free(it);
    repo_session_close(&s);
    return rc;
}

/* ---- history ------------------------------------------------------------------------- */

void hubd_commits_free(hubd_commit_info *commits, size_t count)
{
    for (size_t i = 0; commits && i < count; i++) {
        free(commits[i].title);
        free(commits[i].message);
        free(commits[i].author);
        free(commits[i].date);
    }
    free(commits);
}

static void commit_info(hubd_commit_info *out, git_commit *c)
{
    const git_signature *author = git_commit_author(c);
    const char *summary = git_commit_summary(c), *body = git_commit_body(c);
    char date[32];
    repo_iso_time(date, git_commit_time(c), 0);
    git_oid_tostr(out->oid, sizeof(out->oid), git_commit_id(c));
    out->title = hfs_strdup(summary ? summary : "");
    out->message = hfs_strdup(body ? body : "");
    out->author = hfs_strdup(author && author->name ? author->name : "");
    out->date = hfs_strdup(date);
}

int hubd_repo_list_commits(hubd_commit_info **out, size_t *count, size_t *total, hubd_repos *repos,
                           hfs_repo_kind kind, const char *id, const char *revision, size_t offset,
                           size_t limit)
{
    *out = NULL;
    *count = 0;
    if (total)
        *total = 0;
    hubd_commit_info *items = NULL;
    size_t len = 0, cap = 0, seen = 0;
    repo_session s;
    git_revwalk *walk = NULL;
    git_oid head, oid;
    int rc = repo_session_open(&s, repos, kind, id);
    if (rc < 0 || (rc = repo_resolve_rev(&head, s.repo, id, revision)) < 0)
        goto done;
    if (git_revwalk_new(&walk, s.repo) < 0 || git_revwalk_push(walk, &head) < 0 ||
        git_revwalk_simplify_first_parent(walk) < 0) {
        rc = repo_git_fail(HFS_ERROR, "cannot walk the history of %s", id);
        goto done;
    }
    int err;
    while ((err = git_revwalk_next(&oid, walk)) == 0) {
        if (seen >= offset && len < limit) {
            git_commit *c = NULL;
            if (git_commit_lookup(&c, s.repo, &oid) < 0) {
                rc = repo_git_fail(HFS_ERROR, "cannot read a commit of %s", id);
                goto done;
            }
            hubd_commit_info info = {0};
            commit_info(&info, c);
            git_commit_free(c);
            HFS_PUSH(items, len, cap, info);
        }
        seen++;
    }
    if (err != GIT_ITEROVER) {
        rc = repo_git_fail(HFS_ERROR, "cannot walk the history of %s", id);
        goto done;
    }
    *out = items;
    *count = len;
    if (total)
        *total = seen;
    items = NULL;
    len = 0;
done:
    hubd_commits_free(items, len);
    git_revwalk_free(walk);
    repo_session_close(&s);
    return rc;
}

/* ---- branches ------------------------------------------------------------------------ */

static int branch_ref(char **out, const char *name)
{
    *out = NULL;
    if (!name || !*name || hfs_str_starts_with(name, "refs/") || strcmp(name, "HEAD") == 0)
        return hfs_error_set(HFS_EINVALID, "Invalid branch name '%s'", name ? name : "");
    char *ref = hfs_sprintf("refs/heads/%s", name);
    if (!ref_name_valid(ref)) {
        free(ref);
        return hfs_error_set(HFS_EINVALID, "Invalid branch name '%s': not a valid git ref name",
                             name);
    }
    *out = ref;
    return 0;
}

int hubd_repo_branch_create(hubd_repos *repos, hfs_repo_kind kind, const char *id, const char *name,
                            const char *start, bool empty_branch, bool overwrite)
{
    char *ref_name = NULL;
    int rc = branch_ref(&ref_name, name);
    if (rc < 0)
        return rc;
    repo_session s;
    git_oid target;
    git_reference *ref = NULL;
    git_signature *sig = NULL;
    git_treebuilder *bld = NULL;
    git_tree *tree = NULL;
    if ((rc = repo_session_open(&s, repos, kind, id)) < 0)
        goto done;
    if (empty_branch) {
        /* An orphan commit with an empty tree: the branch starts with no files at all. */
        git_oid tree_oid;
        if ((rc = repo_signature(&sig, NULL)) < 0)
            goto done;
        if (git_treebuilder_new(&bld, s.repo, NULL) < 0 ||
            git_treebuilder_write(&tree_oid, bld) < 0 ||
            git_tree_lookup(&tree, s.repo, &tree_oid) < 0 ||
            git_commit_create(&target, s.repo, NULL, sig, sig, NULL, "Create empty branch", tree, 0,
                              NULL) < 0) {
            rc = repo_git_fail(HFS_ERROR, "cannot create the empty branch %s in %s", name, id);
            goto done;
        }
    } else if ((rc = repo_resolve_rev(&target, s.repo, id, start ? start : HUBD_DEFAULT_BRANCH)) <
               0) {
        goto done;
    }
    int err = git_reference_create(&ref, s.repo, ref_name, &target, overwrite, "branch: created");
    if (err == GIT_EEXISTS)
        rc = hfs_error_set(HFS_EEXISTS, "Reference already exists: branch %s in %s", name, id);
    else if (err < 0)
        rc = repo_git_fail(HFS_ERROR, "cannot create branch %s in %s", name, id);
done:
    git_error_clear();
    git_tree_free(tree);
    git_treebuilder_free(bld);
    git_signature_free(sig);
    git_reference_free(ref);
    repo_session_close(&s);
    free(ref_name);
    return rc;
}

int hubd_repo_branch_delete(hubd_repos *repos, hfs_repo_kind kind, const char *id, const char *name)
{
    char *ref_name = NULL;
    int rc = branch_ref(&ref_name, name);
    if (rc < 0)
        return rc;
    if (strcmp(name, HUBD_DEFAULT_BRANCH) == 0) {
        free(ref_name);
        return hfs_error_set(HFS_EINVALID, "Cannot delete the default branch %s of %s", name, id);
    }
    repo_session s;
    git_reference *ref = NULL;
    if ((rc = repo_session_open(&s, repos, kind, id)) < 0)
        goto done;
    if (git_reference_lookup(&ref, s.repo, ref_name) < 0) {
        git_error_clear();
        rc = hfs_error_set(HFS_ENOTFOUND, "Invalid rev id: %s (no such branch in %s)", name, id);
        goto done;
    }
    if (git_reference_delete(ref) < 0)
        rc = repo_git_fail(HFS_ERROR, "cannot delete branch %s of %s", name, id);
done:
    git_reference_free(ref);
    repo_session_close(&s);
    free(ref_name);
    return rc;
}

/* ---- tags and squashing -------------------------------------------------------------- */

static int tag_ref(char **out, const char *tag)
{
    *out = NULL;
    if (!tag || !*tag || hfs_str_starts_with(tag, "refs/") || strcmp(tag, "HEAD") == 0)
        return hfs_error_set(HFS_EINVALID, "Invalid tag name '%s'", tag ? tag : "");
    char *ref = hfs_sprintf("refs/tags/%s", tag);
    if (!ref_name_valid(ref)) {
        free(ref);
        return hfs_error_set(HFS_EINVALID,
                             "Invalid tag name '%s': not a valid git ref name (no spaces, '~', "
                             "'^', ':', '?', '*', '[', '..' or '\\')",
                             tag);
    }
    *out = ref;
    return 0;
}

int hubd_repo_tag_create(hubd_repos *repos, hfs_repo_kind kind, const char *id, const char *tag,
                         const char *commit_oid, const char *message, const char *author)
{
    char *ref_name = NULL;
    int rc = tag_ref(&ref_name, tag);
    if (rc < 0)
        return rc;
    repo_session s;
    git_commit *commit = NULL;
    git_signature *sig = NULL;
    git_oid oid;
    if ((rc = repo_session_open(&s, repos, kind, id)) < 0 ||
        (rc = repo_load_commit(&commit, NULL, s.repo, id, commit_oid)) < 0)
        goto done;
    int err;
    if (message) {
        /* with a message the tag is an annotated one, as `git tag -m` makes */
        if ((rc = repo_signature(&sig, author)) < 0)
            goto done;
        err = git_tag_create(&oid, s.repo, tag, (const git_object *)commit, sig, message, 0);
    } else {
        err = git_tag_create_lightweight(&oid, s.repo, tag, (const git_object *)commit, 0);
    }
    if (err == GIT_EEXISTS)
        rc = hfs_error_set(HFS_EEXISTS, "Tag %s already exists in %s", tag, id);
    else if (err < 0)
        rc = repo_git_fail(HFS_ERROR, "cannot create tag %s in %s", tag, id);
done:
    git_error_clear();
    git_signature_free(sig);
    git_commit_free(commit);
    repo_session_close(&s);
    free(ref_name);
    return rc;
}

int hubd_repo_tag_delete(hubd_repos *repos, hfs_repo_kind kind, const char *id, const char *tag)
{
    char *ref_name = NULL;
    /* a name that cannot be a tag names no tag */
    if (tag_ref(&ref_name, tag) < 0)
        return hfs_error_set(HFS_ENOTFOUND, "Invalid rev id: %s (no such tag in %s)",
                             tag ? tag : "", id);
    int rc = 0;
    repo_session s;
    git_reference *ref = NULL;
    if ((rc = repo_session_open(&s, repos, kind, id)) < 0)
        goto done;
    if (git_reference_lookup(&ref, s.repo, ref_name) < 0) {
        git_error_clear();
        rc = hfs_error_set(HFS_ENOTFOUND, "Invalid rev id: %s (no such tag in %s)", tag, id);
        goto done;
    }
    if (git_reference_delete(ref) < 0)
        rc = repo_git_fail(HFS_ERROR, "cannot delete tag %s of %s", tag, id);
done:
    git_reference_free(ref);
    repo_session_close(&s);
    free(ref_name);
    return rc;
}

/* The ref a squash rewrites: a branch (by name or refs/heads/x), refs/pr/N or refs/convert/x.
 * Tags are refused: the hub squashes branches only. */
static int squash_target(char **out, git_repository *repo, const char *id, const char *branch)
{
    git_oid oid;
    *out = NULL;
    if (!branch || !*branch)
        return hfs_error_set(HFS_EINVALID, "super-squash needs a branch");
    if (hfs_str_starts_with(branch, "refs/tags/"))
        return hfs_error_set(HFS_EINVALID,
                             "Invalid reference for a branch: %s is a tag, and tags cannot be "
                             "squashed",
                             branch);
    char *ref = hfs_str_starts_with(branch, "refs/") ? hfs_strdup(branch)
                                                     : hfs_sprintf("refs/heads/%s", branch);
    bool allowed = hfs_str_starts_with(ref, "refs/heads/") ||
                   hfs_str_starts_with(ref, "refs/pr/") ||
                   hfs_str_starts_with(ref, "refs/convert/");
    if (allowed && ref_name_valid(ref) && git_reference_name_to_id(&oid, repo, ref) == 0) {
        *out = ref;
        return 0;
    }
    git_error_clear();
    free(ref);
    char *tag = hfs_sprintf("refs/tags/%s", branch);
    bool is_tag = !hfs_str_starts_with(branch, "refs/") && peel_ref(&oid, repo, tag) == 0;
    free(tag);
    if (is_tag)
        return hfs_error_set(HFS_EINVALID,
                             "Invalid reference for a branch: %s is a tag, and tags cannot be "
                             "squashed",
                             branch);
    if (!allowed)
        return hfs_error_set(HFS_EINVALID,
                             "Invalid reference for a branch: %s (super-squash takes a branch, "
                             "refs/pr/N or refs/convert/...)",
                             branch);
    return hfs_error_set(HFS_ENOTFOUND, "Invalid rev id: %s (no such branch in %s)", branch, id);
}

int hubd_repo_squash(char out_oid[41], hubd_repos *repos, hfs_repo_kind kind, const char *id,
                     const char *branch, const char *message, const char *author)
{
    repo_session s;
    git_signature *sig = NULL;
    char *ref_name = NULL, *default_message = NULL;
    out_oid[0] = '\0';
    int rc = repo_session_open(&s, repos, kind, id);
    if (rc < 0 || (rc = squash_target(&ref_name, s.repo, id, branch)) < 0 ||
        (rc = repo_signature(&sig, author)) < 0)
        goto done;
    if (!message || !*message)
        message = default_message = hfs_sprintf("Super-squash branch '%s'", branch);
    struct timespec started;
    clock_gettime(CLOCK_MONOTONIC, &started);
    for (unsigned attempt = 0;; attempt++) {
        git_oid head, squashed;
        git_commit *commit = NULL;
        git_tree *tree = NULL;
        git_reference *ref = NULL;
        if (git_reference_name_to_id(&head, s.repo, ref_name) < 0 ||
            git_commit_lookup(&commit, s.repo, &head) < 0 || git_commit_tree(&tree, commit) < 0 ||
            git_commit_create(&squashed, s.repo, NULL, sig, sig, NULL, message, tree, 0, NULL) <
                0) {
            rc = repo_git_fail(HFS_ERROR, "cannot squash %s of %s", branch, id);
            git_tree_free(tree);
            git_commit_free(commit);
            goto done;
        }
        git_tree_free(tree);
        git_commit_free(commit);
        /* the same tree, no parents: the branch's history is one commit; it moves only if
         * no commit landed meanwhile (compare-and-swap), else the squash is redone */
        int err = git_reference_create_matching(&ref, s.repo, ref_name, &squashed, 1, &head,
                                                "super-squash");
        git_reference_free(ref);
        if (err == 0) {
            git_oid_tostr(out_oid, GIT_OID_HEXSZ + 1, &squashed);
            goto done;
        }
        if (err != GIT_EMODIFIED && err != GIT_ELOCKED) {
            rc = repo_git_fail(HFS_ERROR, "cannot move %s of %s", ref_name, id);
            goto done;
        }
        git_error_clear();
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - started.tv_sec > 10) {
            rc = hfs_error_set(HFS_ELOCKED,
                               "Cannot squash %s of %s: other commits kept it busy for 10 s; "
                               "try again",
                               branch, id);
            goto done;
        }
        struct timespec pause = {0, (long)(1 + attempt % 5) * 1000000L};
        nanosleep(&pause, NULL);
    }
done:
    free(default_message);
    free(ref_name);
    git_signature_free(sig);
    repo_session_close(&s);
    return rc;
}
