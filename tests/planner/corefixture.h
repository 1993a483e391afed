/* In-memory inputs for the planner core's unit tests: local files and remote snapshots built
 * from content strings, hashed the way the scan and the hub hash them. */
#ifndef HFS_TEST_PLANNER_COREFIXTURE_H
#define HFS_TEST_PLANNER_COREFIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/util.h"
#include "planner/lfsdecide.h"
#include "planner/remote.h"
#include "planner/scan.h"

/* Local files, added in repo-path order, with their modes beside them. */
typedef struct {
    hfs_local_file *files;
    unsigned char *modes;
    size_t n, cap, mode_cap;
} local_list;

static inline void local_add_sized(local_list *l, const char *repo_path, const char *content,
                                   uint64_t size, bool lfs)
{
    hfs_local_file f = {0};
    f.repo_path = hfs_strdup(repo_path);
    f.local_path = hfs_sprintf("/data/%s", repo_path);
    f.rel_path = f.local_path + strlen("/data/");
    f.size = size;
    f.mtime_ns = 1700000000000000000LL + (int64_t)l->n;
    hfs_git_blob_sha1_hex(f.sha1, content, strlen(content));
    hfs_sha256_hex(f.sha256, content, strlen(content));
    f.has_sha1 = f.has_sha256 = true;
    HFS_PUSH(l->files, l->n, l->cap, f);
    size_t n = l->n - 1;
    unsigned char mode = lfs ? HFS_MODE_LFS : HFS_MODE_REGULAR;
    HFS_PUSH(l->modes, n, l->mode_cap, mode);
}

static inline void local_add(local_list *l, const char *repo_path, const char *content, bool lfs)
{
    local_add_sized(l, repo_path, content, strlen(content), lfs);
}

static inline void local_free(local_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->files[i].repo_path);
        free(l->files[i].local_path);
    }
    free(l->files);
    free(l->modes);
    memset(l, 0, sizeof(*l));
}

/* A remote file with this content: a regular blob, or an LFS pointer to the content. */
static inline void remote_add_sized(hfs_remote_snapshot *snap, const char *path,
                                    const char *content, uint64_t size, bool lfs)
{
    char sha1[HFS_SHA1_HEX], sha256[HFS_SHA256_HEX];
    hfs_sha256_hex(sha256, content, strlen(content));
    if (lfs) {
        char *pointer = hfs_sprintf("version https://git-lfs.github.com/spec/v1\noid sha256:%s\n"
                                    "size %llu\n",
                                    sha256, (unsigned long long)size);
        hfs_git_blob_sha1_hex(sha1, pointer, strlen(pointer));
        free(pointer);
    } else {
        hfs_git_blob_sha1_hex(sha1, content, strlen(content));
    }
    if (hfs_remote_snapshot_add(snap, path, sha1, size, lfs ? sha256 : NULL) < 0)
        abort();
}

static inline void remote_add(hfs_remote_snapshot *snap, const char *path, const char *content,
                              bool lfs)
{
    remote_add_sized(snap, path, content, strlen(content), lfs);
}

#define TEST_HEAD "0123456789abcdef0123456789abcdef01234567"

#endif
