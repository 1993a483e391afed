/* Tests for src/common/gitpack.c: a pack written from ids the caller vouches for is read back
 * by libgit2 object by object (and by `git fsck` when git is installed); a pack given more or
 * fewer objects than announced fails and leaves no file behind. */
#include <dirent.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/gitpack.h"
#include "common/hash.h"
#include "common/util.h"
#include "tap.h"

/* Files in dir whose names start with prefix. */
static int count_files(const char *dir, const char *prefix)
{
    int n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d)
        closedir(d);
    return n;
}

static void blob_id(unsigned char id[HFS_GITPACK_ID_BYTES], const void *data, size_t len)
{
    char hex[HFS_SHA1_HEX];
    git_oid oid;
    hfs_git_blob_sha1_hex(hex, data, len);
    git_oid_fromstr(&oid, hex);
    memcpy(id, oid.id, HFS_GITPACK_ID_BYTES);
}

int main(void)
{
    git_libgit2_init();
    char root[] = "/tmp/hfs-gitpack-XXXXXX";
    tap_ok(mkdtemp(root) != NULL, "temp dir");
    git_repository *repo = NULL;
    tap_is_int(git_repository_init(&repo, root, true), 0, "a bare repository");
    char *pack_dir = hfs_path_join(root, "objects/pack");

    /* three blobs: empty, small, and one over the 1 MiB buffer and the 64 KiB zlib blocks */
    size_t big_len = (3u << 20) + 5;
    char *big = hfs_malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)(i * 131 + 3);
    const void *data[] = {"", "hello\n", big};
    size_t lens[] = {0, 6, big_len};
    unsigned char ids[3][HFS_GITPACK_ID_BYTES];
    hfs_gitpack *p = NULL;
    tap_is_int(hfs_gitpack_begin(&p, pack_dir, 3), 0, "begin a pack of 3");
    for (int i = 0; i < 3; i++) {
        blob_id(ids[i], data[i], lens[i]);
        tap_is_int(hfs_gitpack_add(p, ids[i], HFS_GITPACK_BLOB, data[i], lens[i]), 0, "add a blob");
    }
    tap_is_int(hfs_gitpack_finish(p), 0, "finish: trailer, index, renames");
    tap_is_int(count_files(pack_dir, "pack-"), 2, "pack-*.pack and pack-*.idx are in place");
    tap_is_int(count_files(pack_dir, "tmp_"), 0, "no temp file is left");

    git_odb *odb = NULL;
    git_repository_odb(&odb, repo);
    git_odb_refresh(odb);
    for (int i = 0; i < 3; i++) {
        git_oid oid;
        git_odb_object *obj = NULL;
        memcpy(oid.id, ids[i], HFS_GITPACK_ID_BYTES);
        bool read = git_odb_read(&obj, odb, &oid) == 0; /* libgit2 hashes it again to check */
        tap_ok(read && git_odb_object_type(obj) == GIT_OBJECT_BLOB &&
                   git_odb_object_size(obj) == lens[i] &&
                   memcmp(git_odb_object_data(obj), data[i], lens[i]) == 0,
               "libgit2 reads blob %d back (%zu bytes)", i, lens[i]);
        git_odb_object_free(obj);
    }
    if (system("git --version >/dev/null 2>&1") == 0) {
        char *cmd =
            hfs_sprintf("git -C '%s' verify-pack %s/pack-*.idx >/dev/null 2>&1", root, pack_dir);
        tap_is_int(system(cmd), 0, "git verify-pack accepts the pack and its index");
        free(cmd);
    } else {
        tap_skip("git is not installed: no verify-pack");
    }

    /* the announced count is kept both ways, and a failure leaves nothing behind */
    tap_is_int(hfs_gitpack_begin(&p, pack_dir, 1), 0, "begin a pack of 1");
    tap_is_int(hfs_gitpack_add(p, ids[1], HFS_GITPACK_BLOB, data[1], lens[1]), 0, "one object");
    tap_ok(hfs_gitpack_add(p, ids[2], HFS_GITPACK_BLOB, data[2], lens[2]) < 0 &&
               strstr(hfs_error_last(), "given one more"),
           "a second one is refused: %s", hfs_error_last());
    hfs_gitpack_abort(p);
    tap_is_int(count_files(pack_dir, "tmp_"), 0, "abort removes the temp file");
    tap_is_int(hfs_gitpack_begin(&p, pack_dir, 2), 0, "begin a pack of 2");
    tap_is_int(hfs_gitpack_add(p, ids[0], HFS_GITPACK_BLOB, data[0], lens[0]), 0, "one object");
    tap_ok(hfs_gitpack_finish(p) < 0 && strstr(hfs_error_last(), "was given 1"),
           "finishing short of the count fails: %s", hfs_error_last());
    tap_is_int(count_files(pack_dir, "tmp_") + count_files(pack_dir, "pack-"), 2,
               "... leaving only the first pack");

    git_odb_free(odb);
    git_repository_free(repo);
    char *rm = hfs_sprintf("rm -rf '%s'", root);
    if (system(rm) != 0)
        tap_diag("cannot remove %s", root);
    free(rm);
    free(pack_dir);
    free(big);
    git_libgit2_shutdown();
    return tap_done();
}
