/* Tests src/hubd/route.c (the hub's URL grammar) and the path and PR-ref rules of
 * src/hubd/server.c: quoted and raw revisions, repo prefixes, LFS and resolve URLs. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "hubd/route.h"
#include "hubd/server.h"
#include "tap.h"

static hubd_route parse(const char *path, int *rc)
{
    hubd_route r;
    *rc = hubd_route_parse(&r, path);
    return r;
}

static char *rest_of(const hubd_route *r)
{
    hfs_buf b = HFS_BUF_INIT;
    for (size_t i = 0; i < r->n_rest; i++)
        hfs_buf_printf(&b, "%s[%s]", i ? "," : "", r->rest[i]);
    return hfs_buf_detach(&b);
}

static void check(const char *path, hubd_route_kind kind, hfs_repo_kind repo_kind,
                  const char *repo_id, const char *rest)
{
    int rc;
    hubd_route r = parse(path, &rc);
    char *got_rest = rest_of(&r);
    bool same = rc == 0 && r.kind == kind &&
                (!repo_id || (r.repo_id && strcmp(r.repo_id, repo_id) == 0 &&
                              r.repo_kind == repo_kind)) &&
                strcmp(got_rest, rest) == 0;
    if (!tap_ok(same, "%s", path))
        tap_diag("  rc %d kind %d repo %s rest %s", rc, r.kind, r.repo_id ? r.repo_id : "-",
                 got_rest);
    free(got_rest);
    hubd_route_clear(&r);
}

int main(void)
{
    check("/api/whoami-v2", HUBD_R_WHOAMI, HFS_REPO_MODEL, NULL, "");
    check("/api/repos/create", HUBD_R_REPO_CREATE, HFS_REPO_MODEL, NULL, "");
    check("/api/repos/delete", HUBD_R_REPO_DELETE, HFS_REPO_MODEL, NULL, "");
    check("/api/validate-yaml", HUBD_R_VALIDATE_YAML, HFS_REPO_MODEL, NULL, "");
    check("/api/models/ns/name", HUBD_R_REPO_INFO, HFS_REPO_MODEL, "ns/name", "");
    check("/api/datasets/ns/name/revision/refs%2Fpr%2F3", HUBD_R_REPO_INFO, HFS_REPO_DATASET,
          "ns/name", "[refs/pr/3]");
    check("/api/models/ns/name/revision/HEAD", HUBD_R_REPO_INFO, HFS_REPO_MODEL, "ns/name",
          "[HEAD]");
    check("/api/models/ns/name/tree/refs/pr/1/sub/dir", HUBD_R_TREE, HFS_REPO_MODEL, "ns/name",
          "[refs],[pr],[1],[sub],[dir]");
    check("/api/models/ns/name/tree/main/a%2Fb", HUBD_R_TREE, HFS_REPO_MODEL, "ns/name",
          "[main],[a/b]");
    check("/api/models/ns/name/tree/main/", HUBD_R_TREE, HFS_REPO_MODEL, "ns/name", "[main]");
    check("/api/spaces/ns/name/commit/main", HUBD_R_COMMIT, HFS_REPO_SPACE, "ns/name", "[main]");
    check("/api/models/ns/name/commit/refs%2Fpr%2F2", HUBD_R_COMMIT, HFS_REPO_MODEL, "ns/name",
          "[refs/pr/2]");
    check("/api/models/ns/name/preupload/feat%2Fx", HUBD_R_PREUPLOAD, HFS_REPO_MODEL, "ns/name",
          "[feat/x]");
    check("/api/models/ns/name/paths-info/main", HUBD_R_PATHS_INFO, HFS_REPO_MODEL, "ns/name",
          "[main]");
    check("/api/models/ns/name/refs", HUBD_R_REFS, HFS_REPO_MODEL, "ns/name", "");
    check("/api/models/ns/name/commits/main", HUBD_R_COMMITS, HFS_REPO_MODEL, "ns/name", "[main]");
    check("/api/models/ns/name/branch/dev", HUBD_R_BRANCH, HFS_REPO_MODEL, "ns/name", "[dev]");
    check("/datasets/ns/name.git/info/lfs/objects/batch", HUBD_R_LFS_BATCH, HFS_REPO_DATASET,
          "ns/name", "");
    check("/ns/name.git/info/lfs/objects/batch", HUBD_R_LFS_BATCH, HFS_REPO_MODEL, "ns/name", "");
    check("/spaces/ns/name.git/info/lfs/objects/verify", HUBD_R_LFS_VERIFY, HFS_REPO_SPACE,
          "ns/name", "");
    check("/ns/name.git/info/lfs/locks/verify", HUBD_R_LFS_LOCKS, HFS_REPO_MODEL, "ns/name", "");
    check("/ns/name/resolve/main/dir/file%20x.txt", HUBD_R_RESOLVE, HFS_REPO_MODEL, "ns/name",
          "[main],[dir],[file x.txt]");
    check("/datasets/ns/name/resolve/refs%2Fpr%2F1/f.bin", HUBD_R_RESOLVE, HFS_REPO_DATASET,
          "ns/name", "[refs/pr/1],[f.bin]");
    check("/datasets/name/resolve/main/f", HUBD_R_RESOLVE, HFS_REPO_MODEL, "datasets/name",
          "[main],[f]");
    check("/ns/name/raw/main/f.txt", HUBD_R_RAW, HFS_REPO_MODEL, "ns/name", "[main],[f.txt]");
    check("/spaces/ns/name/raw/main/app.py", HUBD_R_RAW, HFS_REPO_SPACE, "ns/name",
          "[main],[app.py]");
    check("/lfs-upload/abc", HUBD_R_LFS_UPLOAD, HFS_REPO_MODEL, NULL, "");
    check("/lfs-files/abc", HUBD_R_LFS_DOWNLOAD, HFS_REPO_MODEL, NULL, "");
    check("/api/models/ns/name/unknown/x", HUBD_R_NONE, HFS_REPO_MODEL, NULL, "");
    check("/api/models/ns/name/refs/extra", HUBD_R_NONE, HFS_REPO_MODEL, NULL, "");
    check("/api/models/ns/name/commit", HUBD_R_NONE, HFS_REPO_MODEL, NULL, "");
    check("/", HUBD_R_NONE, HFS_REPO_MODEL, NULL, "");

    int rc;
    hubd_route r = parse("/api/models/ns%zz/x", &rc);
    tap_is_int(rc, HFS_EINVALID, "a malformed escape is refused");
    hubd_route_clear(&r);
    r = parse("/api/models/ns/n%00/x", &rc);
    tap_is_int(rc, HFS_EINVALID, "an encoded NUL is refused");
    hubd_route_clear(&r);
    r = parse("/lfs-upload/abc", &rc);
    tap_is_str(r.oid, "abc", "LFS upload URLs carry the oid");
    hubd_route_clear(&r);
    r = parse("/api/models/ns/name/tree/refs/pr/1/a", &rc);
    char *joined = hubd_route_join(&r, 0, 3);
    tap_is_str(joined, "refs/pr/1", "join of the first three segments");
    free(joined);
    joined = hubd_route_join(&r, 3, 99);
    tap_is_str(joined, "a", "join past the end stops at the end");
    free(joined);
    hubd_route_clear(&r);

    char *d = hubd_url_decode("a+b%2Fc", 7, true);
    tap_is_str(d, "a b/c", "decode: '+' is a space in forms");
    free(d);
    d = hubd_url_decode("a+b", 3, false);
    tap_is_str(d, "a+b", "decode: '+' stays in paths");
    free(d);
    tap_ok(hubd_url_decode("%2", 2, false) == NULL, "decode: a truncated escape is refused");
    char *e = hubd_url_encode("refs/pr/1 x", false);
    tap_is_str(e, "refs%2Fpr%2F1%20x", "encode quotes '/' unless asked");
    free(e);
    e = hubd_url_encode("a b/c", true);
    tap_is_str(e, "a%20b/c", "encode keeps '/' when asked");
    free(e);

    tap_ok(hubd_repo_part_valid("my-model.v2_x"), "repo part: letters, digits, - . _");
    tap_ok(!hubd_repo_part_valid("a--b"), "repo part: no '--'");
    tap_ok(!hubd_repo_part_valid("a..b"), "repo part: no '..'");
    tap_ok(!hubd_repo_part_valid("x.git"), "repo part: not ending in .git");
    tap_ok(!hubd_repo_part_valid("-x"), "repo part: not starting with '-'");
    tap_ok(!hubd_repo_part_valid("a/b"), "repo part: no '/'");
    tap_ok(!hubd_repo_part_valid(""), "repo part: not empty");

    hfs_repo_kind k;
    tap_ok(hubd_kind_parse(&k, "dataset") && k == HFS_REPO_DATASET, "kind: dataset");
    tap_ok(hubd_kind_parse(&k, NULL) && k == HFS_REPO_MODEL, "kind: absent means model");
    tap_ok(!hubd_kind_parse(&k, "datasets"), "kind: plural is not a type");
    tap_is_str(hubd_kind_prefix(HFS_REPO_SPACE), "spaces/", "prefix of spaces");
    tap_is_str(hubd_kind_prefix(HFS_REPO_MODEL), "", "models have no prefix");

    const char *why;
    tap_ok(hubd_path_valid("dir/sub/file.bin", &why), "path: a normal path");
    tap_ok(!hubd_path_valid("../etc/passwd", &why), "path: '..' is refused");
    tap_ok(!hubd_path_valid("a/./b", &why), "path: '.' is refused");
    tap_ok(!hubd_path_valid("/abs", &why), "path: absolute is refused");
    tap_ok(!hubd_path_valid(".git/config", &why), "path: a .git segment is refused");
    tap_ok(!hubd_path_valid("sub/.git/x", &why), "path: a nested .git segment is refused");
    tap_ok(hubd_path_valid(".gitattributes", &why), "path: .gitattributes is fine");
    tap_ok(!hubd_path_valid("..\\ddd", &why), "path: a backslash is refused");
    tap_ok(!hubd_path_valid("a//b", &why), "path: an empty segment is refused");
    tap_ok(!hubd_path_valid("", &why), "path: empty is refused");

    unsigned n = 0;
    tap_ok(hubd_is_pr_ref("refs/pr/12", &n) && n == 12, "refs/pr/12 is PR 12");
    tap_ok(!hubd_is_pr_ref("refs/pr/", NULL), "refs/pr/ is not a PR");
    tap_ok(!hubd_is_pr_ref("refs/pr/01", NULL), "refs/pr/01 is not a PR");
    tap_ok(!hubd_is_pr_ref("main", NULL), "main is not a PR");
    return tap_done();
}
