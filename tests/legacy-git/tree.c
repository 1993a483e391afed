/* Tests for src/legacy-git/tree.c and remote.c without a network: the same operations through
 * the local hub's commit code and through the git path's tree builder give the same tree oid;
 * pointers, blobs and their pins; fetch and push between a cache and a bare "hub" repo. */
#include <fcntl.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/hash.h"
#include "common/util.h"
#include "hubd/repo.h"
#include "hubd/repo_internal.h"
#include "legacy-git/lgit.h"
#include "tap.h"

#define REPO_ID "user/trees"

static hubd_repos *repos;
static git_repository *hub_git; /* the hub's own bare repo of REPO_ID */
static char root[64];

/* ---- one operation, fed to both sides ------------------------------------------------------- */

typedef enum { OP_FILE, OP_LFS, OP_DELETE, OP_DELETE_FOLDER } op_kind;

typedef struct {
    op_kind kind;
    const char *path;
    const char *content; /* OP_FILE */
    const char *oid;     /* OP_LFS */
    uint64_t size;       /* OP_LFS */
} op;

#define OID_A "aaaa000000000000000000000000000000000000000000000000000000000001"
#define OID_B "bbbb000000000000000000000000000000000000000000000000000000000002"

static bool fake_lfs(void *ctx, const char *oid, uint64_t *size)
{
    (void)ctx;
    *size = strcmp(oid, OID_A) == 0 ? 1234 : 99;
    return true;
}

static void head_tree(git_oid *out, const char *commit_hex)
{
    git_oid c;
    git_commit *commit = NULL;
    git_oid_fromstr(&c, commit_hex);
    if (git_commit_lookup(&commit, hub_git, &c) == 0)
        git_oid_cpy(out, git_commit_tree_id(commit));
    git_commit_free(commit);
}

/* The tree the git path builds for `ops` on `base_commit`, in the hub's own repo (the objects
 * land there, no ref moves). */
static int git_side(git_oid *out, const char *base_commit, const op *ops, size_t n)
{
    lgit_change *changes = hfs_calloc(n, sizeof(*changes));
    git_oid base_oid;
    git_commit *base = NULL;
    git_tree *tree = NULL;
    int rc = 0;
    git_oid_fromstr(&base_oid, base_commit);
    if (git_commit_lookup(&base, hub_git, &base_oid) < 0 || git_commit_tree(&tree, base) < 0) {
        rc = -1;
        goto done;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        changes[i].path = ops[i].path;
        switch (ops[i].kind) {
        case OP_FILE: {
            char *path = hfs_sprintf("%s/content-%zu", root, i);
            char sha1[HFS_SHA1_HEX];
            hfs_write_file_atomic(path, ops[i].content, strlen(ops[i].content), 0644);
            hfs_git_blob_sha1_hex(sha1, ops[i].content, strlen(ops[i].content));
            rc = lgit_blob_from_file(&changes[i].blob, hub_git, path, strlen(ops[i].content), sha1,
                                     false);
            unlink(path);
            free(path);
            break;
        }
        case OP_LFS:
            changes[i].lfs = true;
            rc = lgit_blob_pointer(&changes[i].blob, hub_git, ops[i].oid, ops[i].size);
            break;
        case OP_DELETE:
        case OP_DELETE_FOLDER:
            changes[i].remove = true;
            break;
        }
    }
    if (rc == 0)
        rc = lgit_tree_build(out, hub_git, tree, changes, n);
done:
    git_tree_free(tree);
    git_commit_free(base);
    free(changes);
    return rc;
}

/* The same operations as an HTTP commit: the hub's commit code moves main. *head moves too. */
static int hub_side(git_oid *out, char head[41], const op *ops, size_t n)
{
    hubd_op *hops = hfs_calloc(n, sizeof(*hops));
    for (size_t i = 0; i < n; i++) {
        hops[i].path = (char *)ops[i].path;
        hops[i].content_fd = -1;
        switch (ops[i].kind) {
        case OP_FILE:
            hops[i].kind = HUBD_OP_FILE;
            hops[i].content = ops[i].content;
            hops[i].content_len = strlen(ops[i].content);
            break;
        case OP_LFS:
            hops[i].kind = HUBD_OP_LFS_FILE;
            snprintf(hops[i].lfs_oid, sizeof(hops[i].lfs_oid), "%s", ops[i].oid);
            hops[i].lfs_size = ops[i].size;
            break;
        case OP_DELETE:
            hops[i].kind = HUBD_OP_DELETE_FILE;
            break;
        case OP_DELETE_FOLDER:
            hops[i].kind = HUBD_OP_DELETE_FOLDER;
            break;
        }
    }
    hubd_commit_header h = {.summary = "test", .description = "", .author = "tester"};
    hubd_commit_result res = {0};
    int rc = hubd_repo_commit(&res, repos, HFS_REPO_MODEL, REPO_ID, "main", false, &h, hops, n,
                              fake_lfs, NULL);
    if (rc == 0) {
        memcpy(head, res.commit_oid, 41);
        head_tree(out, head);
    } else {
        tap_diag("hub commit: %s", hfs_error_last());
    }
    free(hops);
    return rc;
}

/* Both sides from the same head; the trees must be one object. */
static void same_tree(const char *name, char head[41], const op *ops, size_t n)
{
    git_oid mine, hubs;
    char base[41];
    memcpy(base, head, 41);
    int rc = git_side(&mine, base, ops, n);
    if (!tap_ok(rc == 0, "%s: the git path builds the tree", name)) {
        tap_diag("%s", hfs_error_last());
        return;
    }
    if (!tap_ok(hub_side(&hubs, head, ops, n) == 0, "%s: the hub commits the same operations",
                name))
        return;
    char a[41], b[41];
    git_oid_tostr(a, sizeof(a), &mine);
    git_oid_tostr(b, sizeof(b), &hubs);
    tap_is_str(a, b, name);
}

/* The root .gitattributes at the hub's head. */
static char *gitattributes_at(const char *head)
{
    char *text = NULL;
    size_t len = 0;
    if (hubd_repo_read_file(&text, &len, repos, HFS_REPO_MODEL, REPO_ID, head, ".gitattributes",
                            1 << 20) < 0) {
        hfs_error_clear();
        return NULL;
    }
    return text;
}

static void test_same_trees(char head[41])
{
    const op first[] = {
        {OP_FILE, "README.md", "# trees\n", NULL, 0},
        {OP_LFS, "weights/model.bin", NULL, OID_A, 1234},
        {OP_LFS, "data/raw.dat", NULL, OID_B, 99},
        {OP_LFS, "dir with space/file [1].dat", NULL, OID_A, 1234},
        {OP_LFS, "#hash.dat", NULL, OID_B, 99},
        {OP_FILE, "a/b/c/deep.txt", "deep\n", NULL, 0},
    };
    same_tree("new files: regular, LFS under a rule, LFS outside the rules (escaped lines)", head,
              first, HFS_ARRAY_LEN(first));
    char *attrs = gitattributes_at(head);
    tap_ok(attrs && strstr(attrs, "data/raw.dat filter=lfs diff=lfs merge=lfs -text\n") &&
               !strstr(attrs, "weights/model.bin filter"),
           "... the uncovered LFS path got its .gitattributes line, the covered one none");
    free(attrs);

    const op second[] = {
        {OP_FILE, "README.md", "# trees, again\n", NULL, 0},
        {OP_DELETE, "data/raw.dat", NULL, NULL, 0},
        {OP_FILE, "x/y/z.txt", "z\n", NULL, 0},
        {OP_LFS, "weights/model.bin", NULL, OID_B, 99},
    };
    same_tree("updates, a delete that empties a folder, an LFS object replaced", head, second,
              HFS_ARRAY_LEN(second));

    const op third[] = {
        {OP_DELETE_FOLDER, "x/", NULL, NULL, 0},
        {OP_DELETE, "dir with space/file [1].dat", NULL, NULL, 0},
        {OP_DELETE, "a/b", NULL, NULL, 0},
    };
    same_tree("folder deletes (trailing '/', and a folder path as a file delete)", head, third,
              HFS_ARRAY_LEN(third));

    /* The commit's own .gitattributes decides, and it has no final newline. */
    const op fourth[] = {
        {OP_FILE, ".gitattributes", "*.dat filter=lfs diff=lfs merge=lfs -text", NULL, 0},
        {OP_LFS, "new.dat", NULL, OID_A, 1234},
        {OP_LFS, "other.xyz", NULL, OID_B, 99},
        {OP_LFS, "more/zz.xyz", NULL, OID_A, 1234},
    };
    same_tree("a new .gitattributes without a final newline, covered and uncovered LFS paths", head,
              fourth, HFS_ARRAY_LEN(fourth));
    attrs = gitattributes_at(head);
    tap_is_str(attrs,
               "*.dat filter=lfs diff=lfs merge=lfs -text\n"
               "other.xyz filter=lfs diff=lfs merge=lfs -text\n"
               "more/zz.xyz filter=lfs diff=lfs merge=lfs -text\n",
               "... lines appended in operation order after a newline");
    free(attrs);

    const op fifth[] = {
        {OP_DELETE, ".gitattributes", NULL, NULL, 0},
        {OP_FILE, "other.xyz", "now regular\n", NULL, 0},
        {OP_LFS, "z/last.bin", NULL, OID_A, 1234},
    };
    same_tree("no .gitattributes left: the hub starts one for the LFS path", head, fifth,
              HFS_ARRAY_LEN(fifth));

    const op sixth[] = {
        {OP_FILE, "empty.txt", "", NULL, 0},
        {OP_LFS, "z/last.bin", NULL, OID_A, 1234},
    };
    same_tree("an empty file, and an LFS path that is already there", head, sixth,
              HFS_ARRAY_LEN(sixth));
}

/* ---- pointers and blobs --------------------------------------------------------------------- */

static void test_pointers_and_blobs(const char *head)
{
    char *text = lgit_pointer_text(OID_A, 1234);
    tap_is_str(text,
               "version https://git-lfs.github.com/spec/v1\noid sha256:" OID_A "\nsize 1234\n",
               "the pointer text is git-lfs spec v1, byte for byte");
    char oid[65];
    uint64_t size = 0;
    tap_ok(repo_parse_lfs_pointer(text, strlen(text), oid, &size) && strcmp(oid, OID_A) == 0 &&
               size == 1234,
           "the hub parses it back as a pointer to the object");
    char *hubs = repo_lfs_pointer_text(OID_A, 1234);
    tap_is_str(text, hubs, "... and it is the text the hub writes itself");
    free(hubs);
    free(text);

    char *path = hfs_sprintf("%s/pinned.txt", root);
    hfs_write_file_atomic(path, "pinned\n", 7, 0644);
    char sha1[HFS_SHA1_HEX];
    hfs_git_blob_sha1_hex(sha1, "pinned\n", 7);
    git_oid blob;
    tap_is_int(lgit_blob_from_file(&blob, hub_git, path, 7, sha1, false), 0,
               "a file streams into the blob its pin names");
    char hex[41];
    git_oid_tostr(hex, sizeof(hex), &blob);
    tap_is_str(hex, sha1, "... whose oid is the git blob sha1");
    hfs_write_file_atomic(path, "pinned\nand more\n", 16, 0644);
    tap_is_int(lgit_blob_from_file(&blob, hub_git, path, 7, sha1, false), HFS_ESTALE,
               "a file that grew since the plan is stale");
    tap_is_int(lgit_blob_from_file(&blob, hub_git, path, 7, sha1, true), 0,
               "... unless growth is allowed: its planned first bytes make the blob");
    git_oid_tostr(hex, sizeof(hex), &blob);
    tap_is_str(hex, sha1, "... whose oid is the pinned one");
    hfs_write_file_atomic(path, "changed\n", 8, 0644);
    tap_is_int(lgit_blob_from_file(&blob, hub_git, path, 8, sha1, false), HFS_ESTALE,
               "a file whose content changed since the plan is stale");
    tap_ok(strstr(hfs_error_last(), "pinned.txt") != NULL, "... and the message names it");
    hfs_write_file_atomic(path, "pin\n", 4, 0644);
    tap_is_int(lgit_blob_from_file(&blob, hub_git, path, 7, NULL, true), HFS_ESTALE,
               "a file that got shorter is stale, growth allowed or not");
    unlink(path);
    tap_is_int(lgit_blob_from_file(&blob, hub_git, path, 7, sha1, false), HFS_ESTALE,
               "a file removed since the plan is stale");
    free(path);

    git_oid c;
    git_commit *commit = NULL;
    git_tree *tree = NULL;
    git_oid_fromstr(&c, head);
    git_commit_lookup(&commit, hub_git, &c);
    git_commit_tree(&tree, commit);
    tap_is_int(lgit_blob_at(&blob, tree, "README.md"), 0, "a regular copy finds its source blob");
    tap_is_int(lgit_blob_at(&blob, tree, "nope/missing.txt"), HFS_ENOTFOUND,
               "a missing copy source is HFS_ENOTFOUND");
    tap_is_int(lgit_blob_at(&blob, tree, "weights"), HFS_ENOTFOUND,
               "a folder is not a copy source");
    git_tree_free(tree);
    git_commit_free(commit);
}

/* ---- fetch and push against a bare repo on disk --------------------------------------------- */

static int build_commit(git_oid *out, git_repository *repo, const git_oid *parent_oid,
                        const char *path, const char *content)
{
    git_commit *parent = NULL;
    git_tree *base = NULL, *tree = NULL;
    git_signature *sig = NULL;
    git_oid tree_oid;
    lgit_change ch = {.path = path};
    int rc = git_blob_create_from_buffer(&ch.blob, repo, content, strlen(content));
    if (rc == 0)
        rc = git_commit_lookup(&parent, repo, parent_oid);
    if (rc == 0)
        rc = git_commit_tree(&base, parent);
    if (rc == 0)
        rc = lgit_tree_build(&tree_oid, repo, base, &ch, 1);
    if (rc == 0)
        rc = git_tree_lookup(&tree, repo, &tree_oid);
    if (rc == 0)
        rc = git_signature_now(&sig, "tester", "tester@example.invalid");
    const git_commit *parents[] = {parent};
    if (rc == 0)
        rc = git_commit_create(out, repo, NULL, sig, sig, NULL, "a test commit", tree, 1, parents);
    git_signature_free(sig);
    git_tree_free(tree);
    git_tree_free(base);
    git_commit_free(parent);
    return rc;
}

static void test_fetch_push(char head[41])
{
    char *remote_dir = hfs_sprintf("%s/repos/models/%s.git", root, REPO_ID);
    char *url = hfs_sprintf("file://%s", remote_dir);
    char *cache = hfs_sprintf("%s/cache/models/%s.git", root, REPO_ID);
    lgit_remote_options ro = {.cache_dir = cache,
                              .url = url,
                              .token = "hf_secret_never_stored",
                              .token_source = "the test",
                              .what = "model " REPO_ID};
    lgit_remote *r = NULL;
    if (!tap_ok(lgit_remote_open(&r, &ro) == 0, "the cache opens (created bare)")) {
        tap_diag("%s", hfs_error_last());
        goto done;
    }
    git_repository *repo = lgit_remote_repo(r);
    tap_ok(git_repository_is_bare(repo), "... and it is a bare repository");

    git_oid got;
    char hex[41];
    int rc = lgit_remote_fetch(&got, r, "refs/heads/main");
    tap_is_int(rc, 0, "fetching main into the cache");
    if (rc < 0)
        tap_diag("%s", hfs_error_last());
    git_oid_tostr(hex, sizeof(hex), &got);
    tap_is_str(hex, head, "... gives the hub's head");
    char *tracking = lgit_tracking_ref("refs/heads/main");
    tap_is_str(tracking, "refs/hfsync/heads/main", "the tracking ref lives in hfsync's namespace");
    git_oid tracked;
    tap_ok(git_reference_name_to_id(&tracked, repo, tracking) == 0 && git_oid_equal(&tracked, &got),
           "... and points at the fetched head");
    free(tracking);
    tap_is_int(lgit_remote_fetch(&got, r, "refs/pr/77"), HFS_ENOTFOUND,
               "a ref the remote lacks is HFS_ENOTFOUND");

    git_oid mine;
    tap_is_int(build_commit(&mine, repo, &got, "pushed.txt", "pushed\n"), 0,
               "a commit built in the cache");
    rc = lgit_remote_push(r, &mine, "refs/heads/main");
    tap_is_int(rc, 0, "pushing it to main");
    if (rc < 0)
        tap_diag("%s", hfs_error_last());
    char mine_hex[41];
    git_oid_tostr(mine_hex, sizeof(mine_hex), &mine);
    char now[41] = "";
    hubd_repo_resolve(now, repos, HFS_REPO_MODEL, REPO_ID, "main");
    tap_is_str(now, mine_hex, "... moves the hub's main to it");
    memcpy(head, now, 41);

    /* Someone else commits; our next commit, built on what we pushed, is now behind. */
    const op other[] = {{OP_FILE, "other.txt", "someone else\n", NULL, 0}};
    git_oid ignored;
    hub_side(&ignored, head, other, 1);
    git_oid late;
    build_commit(&late, repo, &mine, "late.txt", "late\n");
    tap_is_int(lgit_remote_push(r, &late, "refs/heads/main"), HFS_ESTALE,
               "a push after the branch moved (non-fast-forward) is HFS_ESTALE");
    tap_ok(strstr(hfs_error_last(), "plan is stale") != NULL, "... saying the plan is stale");
    hubd_repo_resolve(now, repos, HFS_REPO_MODEL, REPO_ID, "main");
    tap_is_str(now, head, "... and the hub's main did not move");

    rc = lgit_remote_fetch(&got, r, "refs/heads/main");
    git_oid_tostr(hex, sizeof(hex), &got);
    tap_ok(rc == 0 && strcmp(hex, head) == 0, "a second fetch brings the new head");

    git_config *cfg = NULL;
    git_buf value = {0};
    bool clean = git_repository_config_snapshot(&cfg, repo) == 0 &&
                 git_config_get_string_buf(&value, cfg, "remote.origin.url") < 0;
    git_error_clear();
    git_buf_dispose(&value);
    git_config_free(cfg);
    tap_ok(clean, "the cache's config names no remote");
    char *config_path = hfs_sprintf("%s/config", cache);
    char *config = NULL;
    size_t len = 0;
    hfs_read_file(&config, &len, config_path, 1 << 20);
    tap_ok(config && !strstr(config, "hf_secret") && !strstr(config, "url"),
           "... and holds neither the token nor the URL");
    free(config);
    free(config_path);
done:
    lgit_remote_free(r);
    free(cache);
    free(url);
    free(remote_dir);
}

int main(void)
{
    snprintf(root, sizeof(root), "/tmp/hfsync-lgit-XXXXXX");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    git_libgit2_init();
    char head[41] = "";
    char *dir = hfs_sprintf("%s/repos/models/%s.git", root, REPO_ID);
    if (hubd_repos_open(&repos, root) < 0 ||
        hubd_repo_create(repos, HFS_REPO_MODEL, REPO_ID, false, 0, "tester") < 0 ||
        hubd_repo_resolve(head, repos, HFS_REPO_MODEL, REPO_ID, "main") < 0 ||
        git_repository_open_bare(&hub_git, dir) < 0) {
        tap_ok(false, "a hub repo to compare with: %s", hfs_error_last());
        free(dir);
        return tap_done();
    }
    free(dir);

    test_same_trees(head);
    test_pointers_and_blobs(head);
    test_fetch_push(head);

    git_repository_free(hub_git);
    hubd_repos_free(repos);
    git_libgit2_shutdown();
    char *rm = hfs_sprintf("rm -rf '%s'", root);
    if (system(rm) != 0)
        tap_diag("could not remove %s", root);
    free(rm);
    return tap_done();
}
