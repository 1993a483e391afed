/* Tests for src/hubd/git_hooks.c: the pre-receive hook's message (whole, in pieces, malformed)
 * and the push rules on objects written straight into a hub repo, without git or HTTP. */
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/hash.h"
#include "common/util.h"
#include "hubd/git_hooks.h"
#include "hubd/lfs_store.h"
#include "hubd/repo.h"
#include "tap.h"

#define ZERO "0000000000000000000000000000000000000000"
#define ID "user/r"

static char root[64];
static hubd_repos *repos;
static hubd_lfs_store *lfs;
static git_repository *repo;
static char main_head[41];

/* ---- the message ------------------------------------------------------------------------- */

static void test_parse(void)
{
    const char *msg = "quarantine /r.git/objects/tmp_objdir-incoming-x\n"
                      "1111111111111111111111111111111111111111 "
                      "2222222222222222222222222222222222222222 refs/heads/main\n" ZERO
                      " 3333333333333333333333333333333333333333 refs/tags/v1\n.\n";
    hubd_push p;
    size_t len = strlen(msg);
    int partial = 0;
    for (size_t cut = 0; cut < len; cut++)
        partial |= hubd_push_parse(&p, msg, cut);
    tap_is_int(partial, 0, "parse: every prefix of the message asks for more");
    tap_is_int(hubd_push_parse(&p, msg, len), 1, "parse: the whole message");
    tap_is_str(p.quarantine, "/r.git/objects/tmp_objdir-incoming-x", "parse: the quarantine");
    tap_is_int((int)p.n_updates, 2, "parse: two updates");
    if (p.n_updates == 2) {
        tap_is_str(p.updates[0].ref, "refs/heads/main", "parse: first ref");
        tap_is_str(p.updates[1].old_oid, ZERO, "parse: a creation's old oid is zero");
        tap_is_str(p.updates[1].new_oid, "3333333333333333333333333333333333333333",
                   "parse: new oid");
    }
    hubd_push_clear(&p);
    tap_is_int(hubd_push_parse(&p, "quarantine \n.\n", 14), 1, "parse: no quarantine, no update");
    tap_ok(p.quarantine == NULL && p.n_updates == 0, "parse: ... nothing filled");
    hubd_push_clear(&p);
    const char *bad[] = {
        "refs/heads/main\n.\n",
        "quarantine x\n1111 2222 refs/heads/main\n.\n",
        "quarantine x\n.\n.\n",
    };
    for (size_t i = 0; i < HFS_ARRAY_LEN(bad); i++)
        tap_ok(hubd_push_parse(&p, bad[i], strlen(bad[i])) == HFS_EINVALID,
               "parse: malformed message %zu is refused", i);
    hubd_push_clear(NULL);
}

/* ---- the rules --------------------------------------------------------------------------- */

/* A commit on main's head whose root tree is `tree`; its oid in out. */
static void commit_tree(char out[41], const git_oid *tree_id)
{
    git_oid head, id;
    git_commit *parent = NULL;
    git_tree *tree = NULL;
    git_signature *sig = NULL;
    git_oid_fromstr(&head, main_head);
    git_commit_lookup(&parent, repo, &head);
    git_tree_lookup(&tree, repo, tree_id);
    git_signature_now(&sig, "t", "t@example.invalid");
    const git_commit *parents[] = {parent};
    if (git_commit_create(&id, repo, NULL, sig, sig, NULL, "test", tree, 1, parents) < 0)
        tap_diag("commit: %s", git_error_last()->message);
    git_oid_tostr(out, 41, &id);
    git_signature_free(sig);
    git_tree_free(tree);
    git_commit_free(parent);
}

/* A commit holding one file `name` with `data`. */
static void commit_file(char out[41], const char *name, const void *data, size_t len)
{
    git_oid blob, tree;
    git_treebuilder *tb = NULL;
    git_blob_create_from_buffer(&blob, repo, data, len);
    git_treebuilder_new(&tb, repo, NULL);
    git_treebuilder_insert(NULL, tb, name, &blob, GIT_FILEMODE_BLOB);
    git_treebuilder_write(&tree, tb);
    git_treebuilder_free(tb);
    commit_tree(out, &tree);
}

/* Checks one update (no quarantine: every object counts as new). */
static int check(const char *old_oid, const char *new_oid, const char *ref)
{
    hubd_push_update u;
    snprintf(u.old_oid, sizeof(u.old_oid), "%s", old_oid);
    snprintf(u.new_oid, sizeof(u.new_oid), "%s", new_oid);
    u.ref = (char *)ref;
    hubd_push p = {.updates = &u, .n_updates = 1};
    return hubd_push_check(repos, lfs, HFS_REPO_MODEL, ID, &p);
}

static bool said(const char *needle)
{
    bool found = strstr(hfs_error_last(), needle) != NULL;
    if (!found)
        tap_diag("message: %s", hfs_error_last());
    return found;
}

static void test_refs(void)
{
    char c[41];
    commit_file(c, "a.txt", "a\n", 2);
    tap_is_int(check(main_head, c, "refs/heads/main"), 0, "a small file on main passes");
    tap_is_int(check(ZERO, c, "refs/heads/feature/x"), 0, "a new branch passes");
    tap_is_int(check(ZERO, c, "refs/tags/v1"), 0, "a new tag passes");
    tap_is_int(check(main_head, ZERO, "refs/heads/main"), HFS_EINVALID, "deleting main is refused");
    tap_ok(said("cannot be deleted"), "... saying so");
    tap_is_int(check(main_head, ZERO, "refs/heads/other"), 0, "deleting another branch passes");
    tap_is_int(check(ZERO, c, "refs/pr/5"), HFS_EINVALID, "creating refs/pr/5 is refused");
    tap_ok(said("refs/pr/5 does not exist"), "... it names the missing PR");
    tap_is_int(check(main_head, c, "refs/pr/5"), 0, "moving an existing refs/pr/5 passes");
    tap_is_int(check(main_head, ZERO, "refs/pr/5"), HFS_EINVALID, "deleting a PR ref is refused");
    tap_is_int(check(ZERO, c, "refs/notes/commits"), HFS_EINVALID, "refs/notes is refused");
    tap_is_int(check(ZERO, c, "refs/pr/01"), HFS_EINVALID, "refs/pr/01 is no PR ref");
}

static void test_content(void)
{
    char c[41];
    size_t big_len = 10u * 1024 * 1024 + 1;
    char *big = hfs_calloc(1, big_len);
    commit_file(c, "big.dat", big, big_len);
    free(big);
    tap_is_int(check(main_head, c, "refs/heads/main"), HFS_ELIMIT, "a regular file over 10 MiB");
    tap_ok(said("contains files larger than 10 MiB") && said("big.dat (ref: refs/heads/main)"),
           "... the hub's message, naming the file and ref");

    /* an object in the store, and pointers to it, to a missing one, with a wrong size */
    const char *content = "lfs content\n";
    char oid[HFS_SHA256_HEX], missing[HFS_SHA256_HEX];
    hfs_sha256_hex(oid, content, strlen(content));
    hfs_sha256_hex(missing, "absent", 6);
    hubd_lfs_writer *w = NULL;
    tap_ok(hubd_lfs_writer_begin(&w, lfs, oid, strlen(content)) == 0 &&
               hubd_lfs_writer_write(w, content, strlen(content)) == 0 &&
               hubd_lfs_writer_finish(w) == 0,
           "store an LFS object");
    char *ptr = hfs_sprintf("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %zu\n",
                            oid, strlen(content));
    commit_file(c, "w.bin", ptr, strlen(ptr));
    tap_is_int(check(main_head, c, "refs/heads/main"), 0, "a pointer to a stored object passes");
    free(ptr);
    ptr = hfs_sprintf("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize 99\n", oid);
    commit_file(c, "w.bin", ptr, strlen(ptr));
    tap_is_int(check(main_head, c, "refs/heads/main"), HFS_EINVALID, "a pointer with a wrong size");
    tap_ok(said("the pointer says 99 bytes"), "... says which size is wrong");
    free(ptr);
    ptr =
        hfs_sprintf("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize 6\n", missing);
    commit_file(c, "gone.bin", ptr, strlen(ptr));
    tap_is_int(check(main_head, c, "refs/heads/main"), HFS_EINVALID,
               "a pointer to an object not in the store");
    tap_ok(said("an LFS pointer pointed to a file that does not exist") && said("gone.bin"),
           "... the hub's message, naming the file");
    free(ptr);

    /* names libgit2's tree builder refuses, written as raw tree objects */
    git_oid blob, tree;
    git_blob_create_from_buffer(&blob, repo, "x\n", 2);
    const char *names[] = {".Git", "..", "a\\..\\b", "bad\x01name"};
    git_odb *odb = NULL;
    git_repository_odb(&odb, repo);
    for (size_t i = 0; i < HFS_ARRAY_LEN(names); i++) {
        hfs_buf raw = HFS_BUF_INIT;
        hfs_buf_printf(&raw, "100644 %s", names[i]);
        hfs_buf_putc(&raw, '\0');
        hfs_buf_add(&raw, blob.id, GIT_OID_RAWSZ);
        git_odb_write(&tree, odb, raw.ptr, raw.len, GIT_OBJECT_TREE);
        hfs_buf_free(&raw);
        commit_tree(c, &tree);
        tap_ok(check(main_head, c, "refs/heads/main") == HFS_EINVALID,
               "a file named '%s' is refused", i == 3 ? "bad\\x01name" : names[i]);
        tap_ok(said("invalid path"), "... as an invalid path");
    }
    git_odb_free(odb);

    /* one folder with more entries than the hub allows */
    git_treebuilder *tb = NULL;
    git_treebuilder_new(&tb, repo, NULL);
    for (int i = 0; i <= 10000; i++) {
        char name[16];
        snprintf(name, sizeof(name), "f%05d", i);
        git_treebuilder_insert(NULL, tb, name, &blob, GIT_FILEMODE_BLOB);
    }
    git_treebuilder_write(&tree, tb);
    git_treebuilder_free(tb);
    commit_tree(c, &tree);
    tap_is_int(check(main_head, c, "refs/heads/main"), HFS_ELIMIT, "10,001 entries in one folder");
    tap_ok(said("at most 10000 entries"), "... says the limit");
}

int main(void)
{
    test_parse();
    snprintf(root, sizeof(root), "/tmp/hfs-hubd-githooks-XXXXXX");
    if (!mkdtemp(root)) {
        tap_ok(false, "temp dir");
        return tap_done();
    }
    tap_is_int(hubd_repos_open(&repos, root), 0, "open the storage");
    tap_is_int(hubd_lfs_store_open(&lfs, root), 0, "open the LFS store");
    tap_is_int(hubd_repo_create(repos, HFS_REPO_MODEL, ID, false, 0, "user"), 0, "create " ID);
    tap_is_int(hubd_repo_resolve(main_head, repos, HFS_REPO_MODEL, ID, "main"), 0, "main's head");
    char *dir = hfs_sprintf("%s/repos/models/" ID ".git", root);
    tap_is_int(git_repository_open_bare(&repo, dir), 0, "open the repo with libgit2");
    free(dir);
    /* refs/pr/5 exists, as a commit with create_pr would leave it */
    git_oid head;
    git_reference *pr = NULL;
    git_oid_fromstr(&head, main_head);
    git_reference_create(&pr, repo, "refs/pr/5", &head, 0, "test");
    git_reference_free(pr);
    test_refs();
    test_content();
    git_repository_free(repo);
    hubd_lfs_store_free(lfs);
    hubd_repos_free(repos);
    char *cmd = hfs_sprintf("rm -rf '%s'", root);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", root);
    free(cmd);
    return tap_done();
}
