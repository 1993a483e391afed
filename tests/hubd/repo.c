/* Tests for src/hubd/repo*.c: the local hub's git storage without HTTP — repos, revisions,
 * commits with the hub's rules, PRs, concurrent commits, listings and preupload. */
#include <fcntl.h>
#include <git2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/hash.h"
#include "common/lfsrules.h"
#include "common/util.h"
#include "hubd/repo.h"
#include "tap.h"

static hubd_repos *repos;
static char root[64];

/* ---- helpers ---------------------------------------------------------------------------- */

static hubd_op file_op(const char *path, const char *content)
{
    return (hubd_op){.kind = HUBD_OP_FILE,
                     .path = (char *)path,
                     .content = content,
                     .content_len = strlen(content),
                     .content_fd = -1};
}

static hubd_op lfs_op(const char *path, const char *oid, uint64_t size)
{
    hubd_op op = {
        .kind = HUBD_OP_LFS_FILE, .path = (char *)path, .content_fd = -1, .lfs_size = size};
    snprintf(op.lfs_oid, sizeof(op.lfs_oid), "%s", oid);
    return op;
}

static hubd_op del_op(hubd_op_kind kind, const char *path)
{
    return (hubd_op){.kind = kind, .path = (char *)path, .content_fd = -1};
}

/* The LFS store the commit checks objects against. */
#define OID_A "aaaa000000000000000000000000000000000000000000000000000000000001"
#define OID_B "bbbb000000000000000000000000000000000000000000000000000000000002"
#define OID_MISSING "cccc000000000000000000000000000000000000000000000000000000000003"

static bool fake_lfs(void *ctx, const char *oid, uint64_t *size)
{
    (void)ctx;
    if (strcmp(oid, OID_A) == 0)
        *size = 1234;
    else if (strcmp(oid, OID_B) == 0)
        *size = 20u * 1024 * 1024;
    else
        return false;
    return true;
}

static int commit_ex(hubd_commit_result *res, hfs_repo_kind kind, const char *id, const char *rev,
                     bool create_pr, const char *parent, const hubd_op *ops, size_t n)
{
    hubd_commit_header h = {
        .summary = "Upload files", .description = "", .parent_commit = parent, .author = "alice"};
    hubd_commit_result ignored;
    return hubd_repo_commit(res ? res : &ignored, repos, kind, id, rev, create_pr, &h, ops, n,
                            fake_lfs, NULL);
}

static int commit(hubd_commit_result *res, const char *id, const hubd_op *ops, size_t n)
{
    return commit_ex(res, HFS_REPO_MODEL, id, "main", false, NULL, ops, n);
}

static char *head_of(const char *id, const char *rev)
{
    static char oid[41];
    if (hubd_repo_resolve(oid, repos, HFS_REPO_MODEL, id, rev) != 0)
        return NULL;
    return oid;
}

static char *read_at(const char *id, const char *rev, const char *path)
{
    char oid[41];
    char *data = NULL;
    size_t len = 0;
    if (hubd_repo_resolve(oid, repos, HFS_REPO_MODEL, id, rev) != 0 ||
        hubd_repo_read_file(&data, &len, repos, HFS_REPO_MODEL, id, oid, path, 1 << 20) != 0)
        return NULL;
    return data;
}

static bool has_path(const char *id, const char *rev, const char *path)
{
    char *d = read_at(id, rev, path);
    free(d);
    return d != NULL;
}

/* Paths of a listing joined with ',' (directories end in '/'). */
static char *listing(const char *id, const char *rev, const char *path, bool recursive)
{
    char oid[41];
    hubd_entry *e = NULL;
    size_t n = 0;
    if (hubd_repo_resolve(oid, repos, HFS_REPO_MODEL, id, rev) != 0 ||
        hubd_repo_list_tree(&e, &n, repos, HFS_REPO_MODEL, id, oid, path, recursive, false) != 0)
        return hfs_sprintf("error: %s", hfs_error_last());
    hfs_buf b = HFS_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        hfs_buf_printf(&b, "%s%s%s", i ? "," : "", e[i].path, e[i].is_dir ? "/" : "");
    hubd_entries_free(e, n);
    return hfs_buf_detach(&b);
}

static size_t commit_count(const char *id, const char *rev)
{
    hubd_commit_info *c = NULL;
    size_t n = 0, total = 0;
    if (hubd_repo_list_commits(&c, &n, &total, repos, HFS_REPO_MODEL, id, rev, 0, 1) != 0)
        return 0;
    hubd_commits_free(c, n);
    return total;
}

static bool contains_ci(const char *hay, const char *needle)
{
    return strcasestr(hay, needle) != NULL;
}

/* ---- repos ---------------------------------------------------------------------------- */

static void test_create_delete(void)
{
    tap_is_int(hubd_repo_create(repos, HFS_REPO_MODEL, "alice/m", true, 6000000, "alice"), 0,
               "create a private model repo");
    hubd_repo_meta meta;
    tap_is_int(hubd_repo_get_meta(&meta, repos, HFS_REPO_MODEL, "alice/m"), 0, "get its metadata");
    tap_ok(meta.private && meta.kind == HFS_REPO_MODEL && strcmp(meta.id, "alice/m") == 0,
           "metadata: id, kind, private");
    tap_ok(strlen(meta.object_id) == 24 && hfs_is_hex(meta.object_id, 24), "_id is 24 hex");
    tap_ok(meta.created_at && strlen(meta.created_at) == 24 &&
               hfs_str_ends_with(meta.created_at, "Z"),
           "createdAt is ISO 8601 UTC (%s)", meta.created_at ? meta.created_at : "");
    tap_is_int((long long)meta.lfs_multipart_threshold, 6000000, "multipart threshold kept");
    char object_id[25];
    memcpy(object_id, meta.object_id, 25);
    hubd_repo_meta_clear(&meta);

    int rc = hubd_repo_create(repos, HFS_REPO_MODEL, "alice/m", false, 0, "alice");
    tap_is_int(rc, HFS_EEXISTS, "creating it again: EEXISTS");
    tap_is_str(hfs_error_last(), "You already created this model repo",
               "... with the hub's message");

    char *p = hfs_sprintf("%s/repos/models/alice/m.git/HEAD", root);
    tap_ok(access(p, F_OK) == 0, "bare repo at ROOT/repos/models/alice/m.git");
    free(p);
    p = hfs_sprintf("%s/repos/models/alice/m.json", root);
    tap_ok(access(p, F_OK) == 0, "metadata beside it at ROOT/repos/models/alice/m.json");
    free(p);

    char *attrs = read_at("alice/m", "main", ".gitattributes");
    tap_is_str(attrs, hfs_lfsrules_default_gitattributes(HFS_REPO_MODEL),
               "initial commit holds the hub's model .gitattributes");
    free(attrs);
    char *l = listing("alice/m", "main", "", true);
    tap_is_str(l, ".gitattributes", "... and nothing else");
    free(l);
    tap_is_int((long long)commit_count("alice/m", "main"), 1, "one commit");
    hubd_commit_info *c = NULL;
    size_t n = 0;
    hubd_repo_list_commits(&c, &n, NULL, repos, HFS_REPO_MODEL, "alice/m", "main", 0, 10);
    tap_ok(n == 1 && strcmp(c[0].title, "initial commit") == 0 && strcmp(c[0].author, "alice") == 0,
           "\"initial commit\" by the creator");
    hubd_commits_free(c, n);

    tap_is_int(hubd_repo_create(repos, HFS_REPO_DATASET, "alice/m", false, 0, "alice"), 0,
               "a dataset with the same id is another repo");
    char oid[41], *data = NULL;
    size_t len = 0;
    hubd_repo_resolve(oid, repos, HFS_REPO_DATASET, "alice/m", "main");
    hubd_repo_read_file(&data, &len, repos, HFS_REPO_DATASET, "alice/m", oid, ".gitattributes",
                        1 << 20);
    tap_is_str(data, hfs_lfsrules_default_gitattributes(HFS_REPO_DATASET),
               "datasets get the dataset .gitattributes");
    free(data);
    tap_is_int(hubd_repo_create(repos, HFS_REPO_SPACE, "alice/s", false, 0, "alice"), 0,
               "create a space");

    const char *bad[] = {"noslash", "a/b/c", "../x", "a/..",  "a/b.git", "a--b/c", "-a/b",
                         "a/b-",    "a/",    "/b",   "a/b c", "a/b..c",  ""};
    for (size_t i = 0; i < HFS_ARRAY_LEN(bad); i++)
        tap_is_int(hubd_repo_create(repos, HFS_REPO_MODEL, bad[i], false, 0, "x"), HFS_EINVALID,
                   bad[i][0] ? bad[i] : "(empty id) is refused");
    tap_is_int(hubd_repo_create(repos, HFS_REPO_MODEL, "a_b.c-d/N4me_1.0", false, 0, "x"), 0,
               "letters, digits, '_', '-', '.' are fine");

    /* A restart reads the same metadata back. */
    hubd_repos_free(repos);
    tap_is_int(hubd_repos_open(&repos, root), 0, "reopen the storage");
    hubd_repo_get_meta(&meta, repos, HFS_REPO_MODEL, "alice/m");
    tap_is_str(meta.object_id, object_id, "_id survives a restart");
    hubd_repo_meta_clear(&meta);

    tap_is_int(hubd_repo_delete(repos, HFS_REPO_DATASET, "alice/m"), 0, "delete the dataset");
    tap_is_int(hubd_repo_get_meta(&meta, repos, HFS_REPO_DATASET, "alice/m"), HFS_ENOTFOUND,
               "its metadata is gone");
    tap_is_int(hubd_repo_resolve(oid, repos, HFS_REPO_DATASET, "alice/m", "main"), HFS_ENOTFOUND,
               "it cannot be resolved");
    tap_is_int(hubd_repo_delete(repos, HFS_REPO_DATASET, "alice/m"), HFS_ENOTFOUND,
               "deleting it again: ENOTFOUND");
    tap_ok(has_path("alice/m", "main", ".gitattributes"), "the model of the same id is intact");
    p = hfs_sprintf("%s/repos/datasets/alice/m.json", root);
    tap_ok(access(p, F_OK) != 0, "the dataset's metadata file is removed");
    free(p);
    tap_is_int(hubd_repo_create(repos, HFS_REPO_DATASET, "alice/m", false, 0, "alice"), 0,
               "create it again after the delete");
    tap_is_int(hubd_repo_get_meta(&meta, repos, HFS_REPO_MODEL, "nobody/none"), HFS_ENOTFOUND,
               "unknown repo: ENOTFOUND");
    tap_ok(contains_ci(hfs_error_last(), "not found"), "... saying not found: %s",
           hfs_error_last());
}

/* ---- commits ---------------------------------------------------------------------------- */

static void test_commit_basics(void)
{
    const char *id = "alice/m";
    hubd_commit_result r;
    hubd_op ops[] = {file_op("README.md", "# hello\n"), file_op("src/a.py", "print(1)\n"),
                     file_op("src/sub/b.txt", "b\n")};
    tap_is_int(commit(&r, id, ops, 3), 0, "commit three files");
    tap_ok(r.changed && r.pr_number == 0, "it changed the branch");
    tap_is_str(r.commit_oid, head_of(id, "main"), "main points at the new commit");
    char *l = listing(id, "main", "", true);
    tap_is_str(l, ".gitattributes,README.md,src/,src/a.py,src/sub/,src/sub/b.txt",
               "recursive listing in git tree order");
    free(l);
    l = listing(id, "main", "", false);
    tap_is_str(l, ".gitattributes,README.md,src/", "non-recursive listing");
    free(l);
    l = listing(id, "main", "src", false);
    tap_is_str(l, "src/a.py,src/sub/", "listing a folder");
    free(l);
    l = listing(id, "main", "/src/", true);
    tap_is_str(l, "src/a.py,src/sub/,src/sub/b.txt", "recursive listing of a folder");
    free(l);
    l = listing(id, "main", "README.md", false);
    tap_ok(hfs_str_starts_with(l, "error:") && contains_ci(l, "entry"),
           "listing a file: entry not found (%s)", l);
    free(l);
    l = listing(id, "main", "nope", false);
    tap_ok(hfs_str_starts_with(l, "error:") && hfs_error_last_code() == HFS_ENOTFOUND,
           "listing a missing folder: ENOTFOUND");
    free(l);

    hubd_commit_info *c = NULL;
    size_t n = 0;
    hubd_repo_list_commits(&c, &n, NULL, repos, HFS_REPO_MODEL, id, "main", 0, 1);
    tap_ok(n == 1 && strcmp(c[0].author, "alice") == 0 && strcmp(c[0].title, "Upload files") == 0,
           "the commit's author is the token's user, its title the summary");
    hubd_commits_free(c, n);

    size_t before = commit_count(id, "main");
    hubd_op same[] = {file_op("README.md", "# hello\n")};
    tap_is_int(commit(&r, id, same, 1), 0, "commit unchanged content");
    tap_ok(!r.changed, "a no-op commit changes nothing");
    tap_is_str(r.commit_oid, head_of(id, "main"), "... and answers the current head");
    tap_is_int((long long)commit_count(id, "main"), (long long)before, "... and creates no commit");

    hubd_op upd[] = {file_op("README.md", "# hello again\n")};
    tap_is_int(commit(&r, id, upd, 1), 0, "update a file");
    char *d = read_at(id, "main", "README.md");
    tap_is_str(d, "# hello again\n", "new content is read back");
    free(d);

    hubd_op del[] = {del_op(HUBD_OP_DELETE_FILE, "src/a.py")};
    tap_is_int(commit(&r, id, del, 1), 0, "delete a file");
    tap_ok(!has_path(id, "main", "src/a.py") && has_path(id, "main", "src/sub/b.txt"),
           "only that file is gone");
    tap_is_int(commit(&r, id, del, 1), HFS_ENOTFOUND, "deleting it again: ENOTFOUND");
    tap_ok(strstr(hfs_error_last(), "A file with this name doesn't exist") != NULL,
           "... with the hub's message: %s", hfs_error_last());

    hubd_op more[] = {file_op("docs/a.md", "a"), file_op("docs/deep/b.md", "b"),
                      file_op("keep/x", "x"), file_op("keep/y", "y")};
    commit(NULL, id, more, 4);
    hubd_op delfolder[] = {del_op(HUBD_OP_DELETE_FOLDER, "docs/")};
    tap_is_int(commit(&r, id, delfolder, 1), 0, "deletedFolder with a trailing '/'");
    tap_ok(!has_path(id, "main", "docs/a.md") && !has_path(id, "main", "docs/deep/b.md"),
           "everything below it is gone");
    l = listing(id, "main", "", false);
    tap_is_str(l, ".gitattributes,README.md,keep/,src/", "and the folder itself");
    free(l);
    tap_is_int(commit(&r, id, delfolder, 1), HFS_ENOTFOUND, "deletedFolder of a missing folder");
    hubd_op delfile_dir[] = {del_op(HUBD_OP_DELETE_FILE, "src/sub")};
    tap_is_int(commit(&r, id, delfile_dir, 1), 0, "deletedFile on a folder path");
    l = listing(id, "main", "", false);
    tap_is_str(l, ".gitattributes,README.md,keep/", "removes the folder (src/ had nothing else)");
    free(l);
    hubd_op delfolder_file[] = {del_op(HUBD_OP_DELETE_FOLDER, "README.md")};
    tap_is_int(commit(&r, id, delfolder_file, 1), HFS_ENOTFOUND, "deletedFolder on a file path");
    hubd_op last[] = {del_op(HUBD_OP_DELETE_FILE, "keep/x"), del_op(HUBD_OP_DELETE_FILE, "keep/y")};
    commit(NULL, id, last, 2);
    l = listing(id, "main", "", false);
    tap_is_str(l, ".gitattributes,README.md", "a folder whose last file goes disappears");
    free(l);

    /* Operations apply in order. */
    hubd_op ordered[] = {file_op("t/x", "1"), del_op(HUBD_OP_DELETE_FOLDER, "t"),
                         file_op("t", "now a file")};
    tap_is_int(commit(&r, id, ordered, 3), 0, "add t/x, delete t/, add file t");
    d = read_at(id, "main", "t");
    tap_is_str(d, "now a file", "the last operation wins");
    free(d);
    hubd_op under_file[] = {file_op("t/y", "1")};
    tap_is_int(commit(&r, id, under_file, 1), HFS_EINVALID, "a file below a file: EINVALID");
    hubd_op replace[] = {del_op(HUBD_OP_DELETE_FILE, "t"), file_op("t/y", "1")};
    tap_is_int(commit(&r, id, replace, 2), 0, "delete the file first, then it can be a folder");
    hubd_op over_dir[] = {file_op("t", "x")};
    tap_is_int(commit(&r, id, over_dir, 1), HFS_EINVALID, "a file over a folder: EINVALID");
    hubd_op cleanup[] = {del_op(HUBD_OP_DELETE_FOLDER, "t")};
    commit(NULL, id, cleanup, 1);

    hubd_commit_header empty = {.summary = "", .author = "alice"};
    tap_is_int(hubd_repo_commit(&r, repos, HFS_REPO_MODEL, id, "main", false, &empty, upd, 1,
                                fake_lfs, NULL),
               HFS_EINVALID, "an empty summary is refused");
    tap_is_int(commit_ex(&r, HFS_REPO_MODEL, id, "nobranch", false, NULL, upd, 1), HFS_ENOTFOUND,
               "commit to a missing branch: ENOTFOUND");
    tap_is_int(commit_ex(&r, HFS_REPO_MODEL, id, head_of(id, "main"), false, NULL, upd, 1),
               HFS_ENOTFOUND, "commit to a commit oid: ENOTFOUND (branches only)");
    tap_is_int(commit_ex(&r, HFS_REPO_MODEL, "alice/none", "main", false, NULL, upd, 1),
               HFS_ENOTFOUND, "commit to a missing repo: ENOTFOUND");

    hubd_commit_header h = {
        .summary = "Title line", .description = "Body text\nmore", .author = "bob"};
    hubd_op described[] = {file_op("described.txt", "d")};
    hubd_repo_commit(&r, repos, HFS_REPO_MODEL, id, "main", false, &h, described, 1, fake_lfs,
                     NULL);
    hubd_repo_list_commits(&c, &n, NULL, repos, HFS_REPO_MODEL, id, "main", 0, 1);
    tap_ok(n == 1 && strcmp(c[0].title, "Title line") == 0 &&
               strcmp(c[0].message, "Body text\nmore") == 0 && strcmp(c[0].author, "bob") == 0,
           "summary, description and author are kept");
    hubd_commits_free(c, n);
}

static void test_paths(void)
{
    const char *bad[] = {"../x",    "a/../b",   "/abs", ".git/config", "a/.git/x", "a//b",
                         "..\\ddd", "a\\..\\b", "",     "a/",          "./a",      ".",
                         "..",      "x/.GIT/y", "a/./b"};
    for (size_t i = 0; i < HFS_ARRAY_LEN(bad); i++) {
        hubd_op op = file_op(bad[i], "x");
        int rc = commit(NULL, "alice/m", &op, 1);
        tap_is_int(rc, HFS_EINVALID, bad[i][0] ? bad[i] : "(empty path) is refused");
    }
    tap_ok(strstr(hfs_error_last(), "a/./b") != NULL, "the message names the path: %s",
           hfs_error_last());
    hubd_op ok[] = {file_op(".github/workflows/x.yml", "y"), file_op(".gitignore", "*.log\n"),
                    file_op("dir.git/file", "z"), file_op("caf\xc3\xa9/\xe2\x82\xac.txt", "u")};
    tap_is_int(commit(NULL, "alice/m", ok, 4), 0,
               ".github, .gitignore, dir.git and UTF-8 are fine");
    hubd_op bad_utf8 = file_op("bad\xff.txt", "x");
    tap_is_int(commit(NULL, "alice/m", &bad_utf8, 1), HFS_EINVALID, "a path that is not UTF-8");
    hubd_op del_root = del_op(HUBD_OP_DELETE_FOLDER, "/");
    tap_is_int(commit(NULL, "alice/m", &del_root, 1), HFS_EINVALID, "deleting the root is refused");
}

static int temp_file(uint64_t size, char byte)
{
    char path[] = "/tmp/hfs-repo-test-XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    if (byte == 0) {
        if (ftruncate(fd, (off_t)size) != 0)
            tap_diag("ftruncate failed");
    } else {
        char buf[4096];
        memset(buf, byte, sizeof(buf));
        for (uint64_t off = 0; off < size; off += sizeof(buf)) {
            size_t n = size - off < sizeof(buf) ? (size_t)(size - off) : sizeof(buf);
            if (write(fd, buf, n) != (ssize_t)n)
                tap_diag("write failed");
        }
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static void test_sizes(void)
{
    const char *id = "alice/m";
    hubd_commit_result r;
    size_t big_len = HFS_REGULAR_MAX_BYTES + 1;
    char *big = hfs_malloc(big_len + 1);
    memset(big, 'a', big_len);
    big[big_len] = '\0';
    hubd_op op = file_op("big.txt", big);
    tap_is_int(commit(&r, id, &op, 1), HFS_ELIMIT, "a regular file over 10 MiB: ELIMIT");
    tap_ok(strstr(hfs_error_last(), "larger than 10 MiB") && strstr(hfs_error_last(), "big.txt"),
           "... the hub's message naming the file");
    free(big);

    int fd = temp_file(HFS_REGULAR_MAX_BYTES + 1ull, 0);
    hubd_op fop = {.kind = HUBD_OP_FILE, .path = "spooled.bin", .content_fd = fd};
    tap_is_int(commit(&r, id, &fop, 1), HFS_ELIMIT, "... also when the content is in a temp file");
    close(fd);
    fd = temp_file(HFS_REGULAR_MAX_BYTES, 0);
    fop.content_fd = fd;
    tap_is_int(commit(&r, id, &fop, 1), 0, "exactly 10 MiB is accepted (from a temp file)");
    close(fd);
    hubd_entry *e = NULL;
    size_t n = 0;
    const char *paths[] = {"spooled.bin"};
    hubd_repo_paths_info(&e, &n, repos, HFS_REPO_MODEL, id, r.commit_oid, paths, 1, false);
    tap_ok(n == 1 && e[0].size == HFS_REGULAR_MAX_BYTES && !e[0].is_lfs, "its size is listed");

    int bfd = -1;
    tap_is_int(hubd_repo_blob_fd(&bfd, repos, HFS_REPO_MODEL, id, n ? e[0].oid : ""), 0,
               "open the blob for streaming");
    struct stat st;
    tap_ok(bfd >= 0 && fstat(bfd, &st) == 0 && (uint64_t)st.st_size == HFS_REGULAR_MAX_BYTES,
           "the spooled blob has every byte");
    if (bfd >= 0)
        close(bfd);
    hubd_entries_free(e, n);

    fd = temp_file(70000, 'q');
    fop = (hubd_op){.kind = HUBD_OP_FILE, .path = "from-fd.txt", .content_fd = fd};
    tap_is_int(commit(&r, id, &fop, 1), 0, "content streamed from a file descriptor");
    close(fd);
    const char *p2[] = {"from-fd.txt"};
    hubd_repo_paths_info(&e, &n, repos, HFS_REPO_MODEL, id, r.commit_oid, p2, 1, false);
    char *want = hfs_malloc(70000);
    memset(want, 'q', 70000);
    char sha1[41];
    hfs_git_blob_sha1_hex(sha1, want, 70000);
    tap_ok(n == 1 && strcmp(e[0].oid, sha1) == 0, "its blob id is git's sha1 of the content");
    bfd = -1;
    hubd_repo_blob_fd(&bfd, repos, HFS_REPO_MODEL, id, n ? e[0].oid : "");
    char *got = hfs_malloc(70001);
    ssize_t rd = bfd >= 0 ? read(bfd, got, 70001) : -1;
    tap_ok(rd == 70000 && memcmp(got, want, 70000) == 0, "blob_fd gives the content back");
    if (bfd >= 0)
        close(bfd);
    free(got);
    free(want);
    hubd_entries_free(e, n);
    tap_is_int(hubd_repo_blob_fd(&bfd, repos, HFS_REPO_MODEL, id,
                                 "0123456789012345678901234567890123456789"),
               HFS_ENOTFOUND, "blob_fd of a missing blob: ENOTFOUND");

    /* 10,000 entries per folder. */
    size_t count = 10000;
    hubd_op *many = hfs_calloc(count + 1, sizeof(hubd_op));
    char **names = hfs_calloc(count + 1, sizeof(char *));
    for (size_t i = 0; i <= count; i++) {
        names[i] = hfs_sprintf("crowd/f%05zu.txt", i);
        many[i] = file_op(names[i], "same");
    }
    tap_is_int(commit(&r, id, many, count + 1), HFS_ELIMIT, "10,001 files in one folder: ELIMIT");
    tap_ok(strstr(hfs_error_last(), "crowd") && strstr(hfs_error_last(), "10000"),
           "... naming the folder and the limit: %s", hfs_error_last());
    tap_is_int(commit(&r, id, many, count), 0, "10,000 files in one folder are fine");
    hubd_op one_more = file_op("crowd/extra", "x");
    tap_is_int(commit(&r, id, &one_more, 1), HFS_ELIMIT, "one more later: ELIMIT");
    hubd_op swap[] = {del_op(HUBD_OP_DELETE_FILE, "crowd/f00000.txt"), one_more};
    tap_is_int(commit(&r, id, swap, 2), 0, "one out, one in: fine");
    hubd_op gone = del_op(HUBD_OP_DELETE_FOLDER, "crowd");
    commit(NULL, id, &gone, 1);
    for (size_t i = 0; i <= count; i++)
        free(names[i]);
    free(names);
    free(many);
}

static void test_lfs(void)
{
    const char *id = "alice/m";
    hubd_commit_result r;
    hubd_op ops[] = {lfs_op("weights.bin", OID_A, 1234)};
    tap_is_int(commit(&r, id, ops, 1), 0, "commit an lfsFile");
    char *ptr = read_at(id, "main", "weights.bin");
    char *want = hfs_sprintf(
        "version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize 1234\n", OID_A);
    tap_is_str(ptr, want, "the blob is a git-lfs v1 pointer");
    const char *paths[] = {"weights.bin"};
    hubd_entry *e = NULL;
    size_t n = 0;
    hubd_repo_paths_info(&e, &n, repos, HFS_REPO_MODEL, id, r.commit_oid, paths, 1, false);
    char sha1[41];
    hfs_git_blob_sha1_hex(sha1, want, strlen(want));
    tap_ok(n == 1 && e[0].is_lfs && strcmp(e[0].lfs_oid, OID_A) == 0 && e[0].size == 1234 &&
               e[0].pointer_size == strlen(want) && strcmp(e[0].oid, sha1) == 0,
           "listed as LFS: sha256, real size, pointer size, pointer's blob id");
    hubd_entries_free(e, n);
    free(ptr);
    free(want);
    char *attrs = read_at(id, "main", ".gitattributes");
    tap_is_str(attrs, hfs_lfsrules_default_gitattributes(HFS_REPO_MODEL),
               "*.bin is covered: .gitattributes unchanged");
    free(attrs);

    hubd_op nosize[] = {lfs_op("copy.bin", OID_A, 0)};
    tap_is_int(commit(&r, id, nosize, 1), 0, "lfsFile without size (a copy)");
    ptr = read_at(id, "main", "copy.bin");
    tap_ok(ptr && strstr(ptr, "\nsize 1234\n"), "the size comes from the store");
    free(ptr);

    hubd_op missing[] = {lfs_op("ghost.bin", OID_MISSING, 10)};
    tap_is_int(commit(&r, id, missing, 1), HFS_EINVALID, "lfsFile for a missing object");
    tap_ok(strstr(hfs_error_last(), "ghost.bin") && strstr(hfs_error_last(), "does not exist"),
           "... names the file: %s", hfs_error_last());
    hubd_op mismatch[] = {lfs_op("w2.bin", OID_A, 999)};
    tap_is_int(commit(&r, id, mismatch, 1), HFS_EINVALID, "lfsFile with the wrong size");
    tap_ok(strstr(hfs_error_last(), "999") && strstr(hfs_error_last(), "1234"),
           "... says both sizes: %s", hfs_error_last());
    hubd_op badoid[] = {
        lfs_op("w3.bin", "AAAA000000000000000000000000000000000000000000000000000000000001", 1234),
        lfs_op("w4.bin", "abc", 1)};
    tap_is_int(commit(&r, id, badoid, 1), HFS_EINVALID, "uppercase oid refused");
    tap_is_int(commit(&r, id, badoid + 1, 1), HFS_EINVALID, "short oid refused");
    hubd_op notrack[] = {lfs_op("x.bin", OID_A, 1234)};
    tap_is_int(commit_ex(&r, HFS_REPO_MODEL, id, "main", false, NULL, notrack, 1), 0, "control");
    tap_is_int(hubd_repo_commit(&r, repos, HFS_REPO_MODEL, id, "main", false,
                                &(hubd_commit_header){.summary = "s"}, notrack, 1, NULL, NULL),
               HFS_EINVALID, "no LFS store to check against: refused");
}

static void test_gitattributes_upkeep(void)
{
    const char *id = "alice/m";
    hubd_commit_result r;
    const char *base = hfs_lfsrules_default_gitattributes(HFS_REPO_MODEL);
    hubd_op ops[] = {lfs_op("data/blob.dat", OID_A, 1234), lfs_op("my file.dat", OID_B, 0),
                     lfs_op("model.safetensors", OID_A, 1234), lfs_op("data/blob.dat", OID_A, 0)};
    tap_is_int(commit(&r, id, ops, 4), 0, "commit LFS files outside the default rules");
    char *attrs = read_at(id, "main", ".gitattributes");
    char *want = hfs_sprintf("%sdata/blob.dat filter=lfs diff=lfs merge=lfs -text\n"
                             "my[[:space:]]file.dat filter=lfs diff=lfs merge=lfs -text\n",
                             base);
    tap_is_str(attrs, want, "uncovered paths get one line each, in order, spaces escaped");
    free(attrs);
    hubd_op again[] = {lfs_op("my file.dat", OID_A, 1234)};
    tap_is_int(commit(&r, id, again, 1), 0, "update a tracked LFS file");
    attrs = read_at(id, "main", ".gitattributes");
    tap_is_str(attrs, want, "no second line for a path already covered");
    free(attrs);
    free(want);

    hubd_op client[] = {file_op(".gitattributes", "*.dat filter=lfs diff=lfs merge=lfs -text"),
                        lfs_op("z.dat", OID_A, 1234), lfs_op("y.other", OID_A, 1234)};
    tap_is_int(commit(&r, id, client, 3), 0, "commit a new .gitattributes with LFS files");
    attrs = read_at(id, "main", ".gitattributes");
    tap_is_str(attrs,
               "*.dat filter=lfs diff=lfs merge=lfs -text\n"
               "y.other filter=lfs diff=lfs merge=lfs -text\n",
               "the commit's own .gitattributes decides what is covered");
    free(attrs);
    hubd_op regular[] = {file_op("plain.dat2", "text")};
    commit(&r, id, regular, 1);
    attrs = read_at(id, "main", ".gitattributes");
    tap_ok(attrs && !strstr(attrs, "plain.dat2"), "regular files never add lines");
    free(attrs);
    hubd_op restore[] = {file_op(".gitattributes", base)};
    commit(NULL, id, restore, 1);
}

static void test_parent_and_prs(void)
{
    const char *id = "alice/m";
    hubd_commit_result r;
    char old[41];
    snprintf(old, sizeof(old), "%s", head_of(id, "main"));
    hubd_op a[] = {file_op("p1.txt", "1")};
    tap_is_int(commit_ex(&r, HFS_REPO_MODEL, id, "main", false, old, a, 1), 0,
               "parentCommit equal to the head");
    char mid[41];
    snprintf(mid, sizeof(mid), "%s", r.commit_oid);
    char short_mid[8];
    snprintf(short_mid, sizeof(short_mid), "%.7s", mid);
    hubd_op b[] = {file_op("p2.txt", "2")};
    tap_is_int(commit_ex(&r, HFS_REPO_MODEL, id, "main", false, short_mid, b, 1), 0,
               "parentCommit as a 7-digit prefix of the head");
    hubd_op c[] = {file_op("p3.txt", "3")};
    tap_is_int(commit_ex(&r, HFS_REPO_MODEL, id, "main", false, mid, c, 1), HFS_ESTALE,
               "a stale parentCommit: ESTALE");
    tap_ok(strstr(hfs_error_last(), "A commit has happened since") != NULL,
           "... with the hub's 412 text");
    tap_ok(!has_path(id, "main", "p3.txt"), "nothing was committed");
    tap_is_int(commit_ex(&r, HFS_REPO_MODEL, id, "main", false, "xyz!", c, 1), HFS_EINVALID,
               "a parentCommit that is not hex");

    char main_head[41];
    snprintf(main_head, sizeof(main_head), "%s", head_of(id, "main"));
    hubd_op pr1[] = {file_op("pr.txt", "pr one")};
    tap_is_int(commit_ex(&r, HFS_REPO_MODEL, id, "main", true, NULL, pr1, 1), 0, "create_pr");
    tap_is_int(r.pr_number, 1, "opens refs/pr/1");
    tap_is_str(head_of(id, "main"), main_head, "main does not move");
    tap_is_str(head_of(id, "refs/pr/1"), r.commit_oid, "refs/pr/1 resolves to the commit");
    char *d = read_at(id, "refs/pr/1", "pr.txt");
    tap_is_str(d, "pr one", "the PR holds the file");
    free(d);
    hubd_op pr2[] = {file_op("pr.txt", "pr two")};
    tap_is_int(commit_ex(&r, HFS_REPO_MODEL, id, "main", true, NULL, pr2, 1), 0,
               "another create_pr");
    tap_is_int(r.pr_number, 2, "opens refs/pr/2");

    hubd_op onpr[] = {file_op("pr-more.txt", "more")};
    tap_is_int(commit_ex(&r, HFS_REPO_MODEL, id, "refs/pr/1", false, NULL, onpr, 1), 0,
               "commit to refs/pr/1");
    tap_ok(has_path(id, "refs/pr/1", "pr-more.txt") && !has_path(id, "main", "pr-more.txt"),
           "it lands on the PR only");
    tap_is_int((long long)commit_count(id, "refs/pr/1"), (long long)commit_count(id, "main") + 2,
               "the PR is two commits ahead of main");
    tap_is_int(commit_ex(&r, HFS_REPO_MODEL, id, "refs/pr/1", true, NULL, onpr, 1), HFS_ENOTFOUND,
               "create_pr against a PR ref: ENOTFOUND");
    tap_is_int(commit_ex(&r, HFS_REPO_MODEL, id, "refs/pr/9", false, NULL, onpr, 1), HFS_ENOTFOUND,
               "commit to a missing PR: ENOTFOUND");

    hubd_op frompast[] = {file_op("from-past.txt", "x")};
    tap_is_int(commit_ex(&r, HFS_REPO_MODEL, id, "main", true, old, frompast, 1), 0,
               "create_pr with an old parentCommit");
    tap_is_int(r.pr_number, 3, "opens refs/pr/3");
    hubd_commit_info *ci = NULL;
    size_t n = 0;
    hubd_repo_list_commits(&ci, &n, NULL, repos, HFS_REPO_MODEL, id, "refs/pr/3", 0, 2);
    tap_ok(n == 2 && strcmp(ci[1].oid, old) == 0, "the PR is based on parentCommit");
    hubd_commits_free(ci, n);
    tap_ok(!has_path(id, "refs/pr/3", "p1.txt"), "... without main's later files");

    hubd_op noop[] = {file_op("p1.txt", "1")};
    tap_is_int(commit_ex(&r, HFS_REPO_MODEL, id, "main", true, NULL, noop, 1), 0,
               "create_pr that changes nothing");
    tap_ok(!r.changed && r.pr_number == 0, "opens no PR");

    hubd_ref *br = NULL, *tags = NULL, *prs = NULL;
    size_t nb = 0, nt = 0, np = 0;
    tap_is_int(hubd_repo_list_refs(&br, &nb, &tags, &nt, &prs, &np, repos, HFS_REPO_MODEL, id), 0,
               "list refs");
    tap_ok(nb == 1 && strcmp(br[0].name, "main") == 0 &&
               strcmp(br[0].ref, "refs/heads/main") == 0 && strcmp(br[0].target, main_head) == 0,
           "branch main with its target");
    tap_ok(np == 3 && strcmp(prs[0].name, "refs/pr/1") == 0 && strcmp(prs[2].ref, "refs/pr/3") == 0,
           "three PR refs in order");
    tap_is_int((long long)nt, 0, "no tags");
    hubd_refs_free(br, nb);
    hubd_refs_free(tags, nt);
    hubd_refs_free(prs, np);
    tap_is_int(hubd_repo_list_refs(&br, &nb, NULL, NULL, NULL, NULL, repos, HFS_REPO_MODEL, id), 0,
               "list branches only");
    hubd_refs_free(br, nb);
}

static void test_resolve_and_branches(void)
{
    const char *id = "alice/m";
    char oid[41], head[41];
    snprintf(head, sizeof(head), "%s", head_of(id, "main"));
    tap_ok(strlen(head) == 40 && hfs_is_hex(head, 40), "main resolves to 40 hex");
    tap_is_int(hubd_repo_resolve(oid, repos, HFS_REPO_MODEL, id, "refs/heads/main"), 0,
               "refs/heads/main resolves");
    tap_is_str(oid, head, "... to the same commit");
    hubd_repo_resolve(oid, repos, HFS_REPO_MODEL, id, "HEAD");
    tap_is_str(oid, head, "HEAD is main");
    char short_oid[8];
    snprintf(short_oid, sizeof(short_oid), "%.7s", head);
    hubd_repo_resolve(oid, repos, HFS_REPO_MODEL, id, short_oid);
    tap_is_str(oid, head, "a 7-digit abbreviation resolves");
    hubd_repo_resolve(oid, repos, HFS_REPO_MODEL, id, head);
    tap_is_str(oid, head, "a full oid resolves");
    short_oid[6] = '\0';
    tap_is_int(hubd_repo_resolve(oid, repos, HFS_REPO_MODEL, id, short_oid), HFS_ENOTFOUND,
               "6 digits are too few");
    const char *missing[] = {"nope",
                             "refs/pr/99",
                             "refs/heads/nope",
                             "",
                             "main~1",
                             "main:README.md",
                             "0000000000000000000000000000000000000000"};
    for (size_t i = 0; i < HFS_ARRAY_LEN(missing); i++) {
        int rc = hubd_repo_resolve(oid, repos, HFS_REPO_MODEL, id, missing[i]);
        tap_ok(rc == HFS_ENOTFOUND && contains_ci(hfs_error_last(), "revision"),
               "revision '%s': ENOTFOUND naming the revision", missing[i]);
    }

    tap_is_int(hubd_repo_branch_create(repos, HFS_REPO_MODEL, id, "feat/x", NULL, false, false), 0,
               "create branch feat/x from main");
    hubd_repo_resolve(oid, repos, HFS_REPO_MODEL, id, "feat/x");
    tap_is_str(oid, head, "it starts at main's head");
    tap_is_int(hubd_repo_branch_create(repos, HFS_REPO_MODEL, id, "feat/x", NULL, false, false),
               HFS_EEXISTS, "creating it again: EEXISTS");
    tap_is_int(
        hubd_repo_branch_create(repos, HFS_REPO_MODEL, id, "feat/x", "refs/pr/1", false, true), 0,
        "overwrite it from refs/pr/1");
    hubd_repo_resolve(oid, repos, HFS_REPO_MODEL, id, "feat/x");
    tap_is_str(oid, head_of(id, "refs/pr/1"), "it moved");
    hubd_op ops[] = {file_op("on-branch.txt", "b")};
    tap_is_int(commit_ex(NULL, HFS_REPO_MODEL, id, "feat/x", false, NULL, ops, 1), 0,
               "commit to a branch with a '/'");
    tap_ok(has_path(id, "feat/x", "on-branch.txt") && !has_path(id, "main", "on-branch.txt"),
           "it lands there only");
    tap_is_int(hubd_repo_branch_create(repos, HFS_REPO_MODEL, id, "orphan", NULL, true, false), 0,
               "create an empty branch");
    char *l = listing(id, "orphan", "", true);
    tap_is_str(l, "", "it has no files");
    free(l);
    tap_is_int((long long)commit_count(id, "orphan"), 1, "and one commit without parents");
    tap_is_int(hubd_repo_branch_create(repos, HFS_REPO_MODEL, id, "x", "nope", false, false),
               HFS_ENOTFOUND, "a missing starting point: ENOTFOUND");
    const char *bad[] = {"a..b", "refs/heads/x", "-", "x.lock", "a b", "", "HEAD"};
    for (size_t i = 0; i < HFS_ARRAY_LEN(bad); i++)
        tap_is_int(hubd_repo_branch_create(repos, HFS_REPO_MODEL, id, bad[i], NULL, false, false),
                   bad[i][0] == '-' ? 0 : HFS_EINVALID, bad[i][0] ? bad[i] : "(empty name)");
    hubd_repo_branch_delete(repos, HFS_REPO_MODEL, id, "-");
    tap_is_int(hubd_repo_branch_delete(repos, HFS_REPO_MODEL, id, "feat/x"), 0, "delete feat/x");
    tap_is_int(hubd_repo_resolve(oid, repos, HFS_REPO_MODEL, id, "feat/x"), HFS_ENOTFOUND,
               "it is gone");
    tap_is_int(hubd_repo_branch_delete(repos, HFS_REPO_MODEL, id, "feat/x"), HFS_ENOTFOUND,
               "deleting it again: ENOTFOUND");
    tap_is_int(hubd_repo_branch_delete(repos, HFS_REPO_MODEL, id, "main"), HFS_EINVALID,
               "the default branch cannot be deleted");
    hubd_repo_branch_delete(repos, HFS_REPO_MODEL, id, "orphan");

    hubd_commit_info *c = NULL;
    size_t n = 0, total = 0;
    tap_is_int(hubd_repo_list_commits(&c, &n, &total, repos, HFS_REPO_MODEL, id, "main", 2, 3), 0,
               "a page of the history");
    tap_ok(n == 3 && total == commit_count(id, "main") && total > 5, "three items, the full total");
    hubd_commit_info *all = NULL;
    size_t nall = 0;
    hubd_repo_list_commits(&all, &nall, NULL, repos, HFS_REPO_MODEL, id, "main", 0, 100);
    tap_ok(n == 3 && nall == total && strcmp(c[0].oid, all[2].oid) == 0 &&
               strcmp(all[0].oid, head) == 0 && strcmp(all[nall - 1].title, "initial commit") == 0,
           "newest first, skipping the offset, ending at the initial commit");
    tap_ok(strlen(all[0].date) == 24 && hfs_str_ends_with(all[0].date, "Z"), "dates are ISO 8601");
    hubd_commits_free(c, n);
    hubd_commits_free(all, nall);
    hubd_repo_list_commits(&c, &n, &total, repos, HFS_REPO_MODEL, id, "main", total + 5, 10);
    tap_ok(n == 0, "past the end: an empty page");
    hubd_commits_free(c, n);
}

static void test_listing_expand(void)
{
    const char *id = "alice/lst";
    hubd_repo_create(repos, HFS_REPO_MODEL, id, false, 0, "alice");
    hubd_commit_result r1, r2, r3;
    hubd_op c1[] = {file_op("a.txt", "a"), file_op("d/x.txt", "x"), file_op("d/y.txt", "y"),
                    file_op("e/z.txt", "z")};
    commit(&r1, id, c1, 4);
    hubd_op c2[] = {file_op("d/y.txt", "y2"), lfs_op("e/w.bin", OID_A, 1234)};
    commit(&r2, id, c2, 2);
    hubd_commit_header h = {.summary = "Third", .author = "bob"};
    hubd_op c3[] = {file_op("b.txt", "b")};
    hubd_repo_commit(&r3, repos, HFS_REPO_MODEL, id, "main", false, &h, c3, 1, fake_lfs, NULL);

    hubd_entry *e = NULL;
    size_t n = 0;
    tap_is_int(
        hubd_repo_list_tree(&e, &n, repos, HFS_REPO_MODEL, id, r3.commit_oid, "", true, true), 0,
        "recursive listing with expand");
    const struct {
        const char *path;
        const char *commit;
    } want[] = {{".gitattributes", NULL}, {"a.txt", r1.commit_oid},   {"b.txt", r3.commit_oid},
                {"d", r2.commit_oid},     {"d/x.txt", r1.commit_oid}, {"d/y.txt", r2.commit_oid},
                {"e", r2.commit_oid},     {"e/w.bin", r2.commit_oid}, {"e/z.txt", r1.commit_oid}};
    tap_is_int((long long)n, (long long)HFS_ARRAY_LEN(want), "every entry is listed");
    for (size_t i = 0; i < n && i < HFS_ARRAY_LEN(want); i++) {
        tap_is_str(e[i].path, want[i].path, "entry path");
        if (want[i].commit)
            tap_is_str(e[i].last_commit_oid, want[i].commit, "... its last commit");
        else
            tap_ok(strlen(e[i].last_commit_oid) == 40 &&
                       strcmp(e[i].last_commit_title, "initial commit") == 0,
                   "... .gitattributes last changed by the initial commit");
    }
    tap_ok(n > 2 && strcmp(e[2].last_commit_title, "Third") == 0 &&
               strlen(e[2].last_commit_date) == 24,
           "title and date of the last commit");
    tap_ok(n > 7 && e[7].is_lfs && e[7].size == 1234 && strcmp(e[7].lfs_oid, OID_A) == 0,
           "an LFS entry in a listing");
    tap_ok(n > 3 && e[3].is_dir && e[3].size == 0 && strlen(e[3].oid) == 40,
           "a folder: tree oid, size 0");
    char sha1[41];
    hfs_git_blob_sha1_hex(sha1, "a", 1);
    tap_ok(n > 1 && strcmp(e[1].oid, sha1) == 0 && e[1].size == 1 && !e[1].is_lfs,
           "a regular file: blob sha1 and size");
    hubd_entries_free(e, n);

    /* Expanding only a page, as a paginating server does. */
    hubd_repo_list_tree(&e, &n, repos, HFS_REPO_MODEL, id, r3.commit_oid, "d", false, false);
    tap_ok(n == 2 && e[0].last_commit_oid[0] == '\0', "without expand: no last commit");
    tap_is_int(hubd_repo_expand_entries(e + 1, 1, repos, HFS_REPO_MODEL, id, r3.commit_oid), 0,
               "expand one entry of the page");
    tap_is_str(e[1].last_commit_oid, r2.commit_oid, "... d/y.txt last changed by commit 2");
    hubd_entries_free(e, n);

    const char *paths[] = {"e/w.bin", "nope.txt", "d", "/a.txt", "d/y.txt/", ""};
    tap_is_int(hubd_repo_paths_info(&e, &n, repos, HFS_REPO_MODEL, id, r3.commit_oid, paths,
                                    HFS_ARRAY_LEN(paths), true),
               0, "paths-info");
    tap_ok(n == 4 && strcmp(e[0].path, "e/w.bin") == 0 && strcmp(e[1].path, "d") == 0 &&
               strcmp(e[2].path, "a.txt") == 0 && strcmp(e[3].path, "d/y.txt") == 0,
           "missing paths left out, the rest in request order");
    tap_ok(n == 4 && e[0].is_lfs && e[1].is_dir && strcmp(e[3].last_commit_oid, r2.commit_oid) == 0,
           "LFS, folder, expand");
    hubd_entries_free(e, n);
    tap_is_int(hubd_repo_list_tree(&e, &n, repos, HFS_REPO_MODEL, id, "0123456", "", false, false),
               HFS_ENOTFOUND, "listing at an unknown commit: ENOTFOUND");

    char *data = NULL;
    size_t len = 0;
    tap_is_int(hubd_repo_read_file(&data, &len, repos, HFS_REPO_MODEL, id, r3.commit_oid, "d", 100),
               HFS_ENOTFOUND, "read_file of a folder: ENOTFOUND");
    tap_is_int(hubd_repo_read_file(&data, &len, repos, HFS_REPO_MODEL, id, r3.commit_oid,
                                   ".gitattributes", 10),
               HFS_ELIMIT, "read_file beyond max_bytes: ELIMIT");
    tap_is_int(
        hubd_repo_read_file(&data, &len, repos, HFS_REPO_MODEL, id, r1.commit_oid, "d/y.txt", 100),
        0, "read a file at an older commit");
    tap_ok(len == 1 && strcmp(data, "y") == 0, "... its content then");
    free(data);
}

/* Setup only: a tree of folders x per files written straight into the bare repo with
 * libgit2 (one shared blob, no per-entry checks), so the test times the listing rather than
 * 100,000 commit operations. */
static int write_big_tree(char out_oid[41], const char *repo_dir, size_t folders, size_t per)
{
    git_repository *repo = NULL;
    git_treebuilder *root_bld = NULL, *bld = NULL;
    git_reference *head = NULL;
    git_commit *parent = NULL;
    git_tree *parent_tree = NULL, *tree = NULL;
    git_signature *sig = NULL;
    git_oid blob, oid, commit;
    int rc = -1;
    git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 0);
    if (git_repository_open_bare(&repo, repo_dir) < 0 ||
        git_reference_lookup(&head, repo, "refs/heads/main") < 0 ||
        git_commit_lookup(&parent, repo, git_reference_target(head)) < 0 ||
        git_commit_tree(&parent_tree, parent) < 0 ||
        git_blob_create_from_buffer(&blob, repo, "{}\n", 3) < 0 ||
        git_treebuilder_new(&root_bld, repo, parent_tree) < 0)
        goto done;
    for (size_t f = 0; f < folders; f++) {
        if (git_treebuilder_new(&bld, repo, NULL) < 0)
            goto done;
        for (size_t i = 0; i < per; i++) {
            char name[32];
            snprintf(name, sizeof(name), "row-%05zu.json", i);
            if (git_treebuilder_insert(NULL, bld, name, &blob, GIT_FILEMODE_BLOB) < 0)
                goto done;
        }
        char dir[32];
        snprintf(dir, sizeof(dir), "part-%02zu", f);
        if (git_treebuilder_write(&oid, bld) < 0 ||
            git_treebuilder_insert(NULL, root_bld, dir, &oid, GIT_FILEMODE_TREE) < 0)
            goto done;
        git_treebuilder_free(bld);
        bld = NULL;
    }
    const git_commit *parents[] = {parent};
    if (git_treebuilder_write(&oid, root_bld) < 0 || git_tree_lookup(&tree, repo, &oid) < 0 ||
        git_signature_now(&sig, "setup", "setup@example.invalid") < 0 ||
        git_commit_create(&commit, repo, "refs/heads/main", sig, sig, NULL, "big", tree, 1,
                          parents) < 0)
        goto done;
    git_oid_tostr(out_oid, 41, &commit);
    rc = 0;
done:
    if (rc < 0)
        tap_diag("libgit2: %s", git_error_last() ? git_error_last()->message : "?");
    git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 1);
    git_signature_free(sig);
    git_tree_free(tree);
    git_tree_free(parent_tree);
    git_commit_free(parent);
    git_reference_free(head);
    git_treebuilder_free(bld);
    git_treebuilder_free(root_bld);
    git_repository_free(repo);
    return rc;
}

static void test_big_listing(void)
{
    const char *id = "alice/big";
    hubd_repo_create(repos, HFS_REPO_DATASET, id, false, 0, "alice");
    size_t folders = 20, per = 5000, total = folders * per;
    char oid[41];
    char *dir = hfs_sprintf("%s/repos/datasets/%s.git", root, id);
    tap_is_int(write_big_tree(oid, dir, folders, per), 0, "a repo with 100,000 files");
    free(dir);
    double t0 = hfs_now();
    hubd_entry *e = NULL;
    size_t n = 0;
    tap_is_int(hubd_repo_list_tree(&e, &n, repos, HFS_REPO_DATASET, id, oid, "", true, false), 0,
               "list them recursively");
    double t1 = hfs_now();
    tap_is_int((long long)n, (long long)(total + folders + 1),
               "100,000 files, 20 folders, .gitattributes");
    tap_ok(n > 5 && strcmp(e[2].path, "part-00/row-00000.json") == 0 && e[2].size == 3 &&
               strcmp(e[n - 1].path, "part-19/row-04999.json") == 0,
           "entries carry paths and sizes, in tree order");
    tap_diag("listing 100,000 entries took %.2f s", t1 - t0);
    tap_ok(t1 - t0 < 15.0, "the listing is fast (%.2f s)", t1 - t0);
    hubd_entries_free(e, n);

    /* One more file through the hub's commit: only the touched folder is rebuilt. */
    hubd_op op = file_op("part-07/row-new.json", "{}\n");
    hubd_commit_result r;
    t0 = hfs_now();
    tap_is_int(commit_ex(&r, HFS_REPO_DATASET, id, "main", false, NULL, &op, 1), 0,
               "commit one file into the big repo");
    tap_diag("that commit took %.2f s", hfs_now() - t0);
    hubd_repo_list_tree(&e, &n, repos, HFS_REPO_DATASET, id, r.commit_oid, "part-07", false, false);
    tap_is_int((long long)n, (long long)per + 1, "the folder has one entry more");
    hubd_entries_free(e, n);
}

/* ---- concurrency ----------------------------------------------------------------------- */

#define THREADS 8
#define COMMITS_PER_THREAD 5

typedef struct {
    int index;
    int failures;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    for (int i = 0; i < COMMITS_PER_THREAD; i++) {
        char path[64], content[64];
        snprintf(path, sizeof(path), "conc/t%d-%d.txt", a->index, i);
        snprintf(content, sizeof(content), "thread %d commit %d\n", a->index, i);
        hubd_op op = file_op(path, content);
        hubd_commit_result r;
        if (commit_ex(&r, HFS_REPO_MODEL, "alice/conc", "main", false, NULL, &op, 1) != 0 ||
            !r.changed)
            a->failures++;
    }
    return NULL;
}

static void test_concurrent(void)
{
    hubd_repo_create(repos, HFS_REPO_MODEL, "alice/conc", false, 0, "alice");
    pthread_t th[THREADS];
    worker_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg){.index = i};
        pthread_create(&th[i], NULL, worker, &args[i]);
    }
    int failures = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        failures += args[i].failures;
    }
    tap_is_int(failures, 0, "8 threads x 5 commits to one branch: every commit succeeds");
    tap_is_int((long long)commit_count("alice/conc", "main"), 1 + THREADS * COMMITS_PER_THREAD,
               "every commit is in the history");
    char oid[41];
    hubd_entry *e = NULL;
    size_t n = 0;
    hubd_repo_resolve(oid, repos, HFS_REPO_MODEL, "alice/conc", "main");
    hubd_repo_list_tree(&e, &n, repos, HFS_REPO_MODEL, "alice/conc", oid, "conc", false, false);
    tap_is_int((long long)n, THREADS * COMMITS_PER_THREAD, "every file is in the tree");
    hubd_entries_free(e, n);

    /* Concurrent PRs get distinct numbers. */
    hubd_commit_result pr[4];
    for (int i = 0; i < 4; i++) {
        char path[32];
        snprintf(path, sizeof(path), "pr%d.txt", i);
        hubd_op op = file_op(path, path);
        commit_ex(&pr[i], HFS_REPO_MODEL, "alice/conc", "main", true, NULL, &op, 1);
    }
    tap_ok(pr[0].pr_number == 1 && pr[3].pr_number == 4, "PR numbers count up");
}

/* ---- preupload ------------------------------------------------------------------------- */

static void test_preupload(void)
{
    const char *id = "alice/pre";
    hubd_repo_create(repos, HFS_REPO_MODEL, id, false, 0, "alice");
    hubd_commit_result r;
    hubd_op ops[] = {file_op("app.py", "print('hi')\n"), lfs_op("w.safetensors", OID_A, 1234),
                     file_op(".gitignore", "*.log\nbuild/\n")};
    commit(&r, id, ops, 3);
    const char *text = "hello world\n";
    const hubd_preupload_file files[] = {
        {"x.safetensors", 12, text, 12},
        {"app.py", 12, "print('hi')\n", 12},
        {"big.txt", HFS_REGULAR_MAX_BYTES + 1ull, text, 12},
        {"blob.dat", 3, "a\0b", 3},
        {"empty.bin", 0, "", 0},
        {"img.png", 12, text, 12},
        {"notes.txt", 12, text, 12},
        {"debug.log", 12, text, 12},
        {"build/x.o", 12, text, 12},
        {"w.safetensors", 1234, "\x01\x02", 2},
        {"a.tmp", 12, text, 12},
    };
    size_t nf = HFS_ARRAY_LEN(files);
    hubd_preupload_result res[HFS_ARRAY_LEN(files)];
    tap_is_int(
        hubd_repo_preupload(res, repos, HFS_REPO_MODEL, id, r.commit_oid, files, nf, NULL, NULL), 0,
        "preupload on a model repo");
    tap_ok(res[0].is_lfs, "x.safetensors: lfs by the default rules");
    tap_ok(!res[1].is_lfs, "app.py: regular");
    tap_ok(res[2].is_lfs, "over 10 MiB: lfs");
    tap_ok(res[3].is_lfs, "binary sample: lfs");
    tap_ok(!res[4].is_lfs, "empty .bin: regular");
    tap_ok(!res[5].is_lfs, "img.png with a text sample: regular in a model repo");
    tap_ok(res[7].should_ignore && res[8].should_ignore,
           "*.log and build/ ignored by the root .gitignore");
    tap_ok(!res[0].should_ignore && !res[10].should_ignore, "other paths not ignored");
    char sha1[41];
    hfs_git_blob_sha1_hex(sha1, "print('hi')\n", 12);
    tap_ok(res[1].has_oid && strcmp(res[1].oid, sha1) == 0, "existing regular file: its git sha1");
    tap_ok(res[9].has_oid && strcmp(res[9].oid, OID_A) == 0, "existing LFS file: its sha256");
    tap_ok(!res[0].has_oid && !res[2].has_oid, "new paths: no oid");

    tap_is_int(hubd_repo_preupload(res, repos, HFS_REPO_MODEL, id, r.commit_oid, files, nf,
                                   "*.txt filter=lfs diff=lfs merge=lfs -text\n", "*.tmp\n"),
               0, "preupload with the client's .gitattributes and .gitignore");
    tap_ok(res[6].is_lfs && !res[0].is_lfs, "the sent .gitattributes replaces the repo's");
    tap_ok(res[2].is_lfs && res[3].is_lfs && !res[4].is_lfs,
           "size, binary and empty rules still hold");
    tap_ok(res[10].should_ignore && !res[7].should_ignore,
           "the sent .gitignore replaces the repo's");

    hubd_repo_create(repos, HFS_REPO_DATASET, id, false, 0, "alice");
    char oid[41];
    hubd_repo_resolve(oid, repos, HFS_REPO_DATASET, id, "main");
    tap_is_int(hubd_repo_preupload(res, repos, HFS_REPO_DATASET, id, oid, files, nf, NULL, NULL), 0,
               "preupload on a new dataset repo");
    tap_ok(res[5].is_lfs && res[0].is_lfs, "img.png and .safetensors: lfs by the dataset rules");
    tap_ok(!res[7].should_ignore, "no .gitignore: nothing ignored");
    tap_ok(!res[1].has_oid, "nothing exists there yet");
    tap_is_int(
        hubd_repo_preupload(res, repos, HFS_REPO_DATASET, "alice/none", oid, files, nf, NULL, NULL),
        HFS_ENOTFOUND, "preupload on a missing repo: ENOTFOUND");
}

int main(void)
{
    snprintf(root, sizeof(root), "/tmp/hfs-hubd-repo-XXXXXX");
    if (!mkdtemp(root)) {
        tap_ok(false, "temp dir");
        return tap_done();
    }
    tap_is_int(hubd_repos_open(&repos, root), 0, "open the storage");
    test_create_delete();
    test_commit_basics();
    test_paths();
    test_sizes();
    test_lfs();
    test_gitattributes_upkeep();
    test_parent_and_prs();
    test_resolve_and_branches();
    test_listing_expand();
    test_concurrent();
    test_preupload();
    test_big_listing();
    hubd_repos_free(repos);
    char *cmd = hfs_sprintf("rm -rf '%s'", root);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", root);
    free(cmd);
    return tap_done();
}
