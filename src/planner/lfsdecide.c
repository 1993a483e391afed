/* The LFS-or-regular decision per local file, with the hub's own rules (common/lfsrules), so
 * the plan records the mode the hub's preupload will answer; apply confirms it later. */
#include "planner/lfsdecide.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "planner/hashcache.h"

#define SAMPLE_BYTES 512 /* what clients send the hub as `sample` */

hfs_file_mode hfs_lfsdecide_by_name(const hfs_lfsrules *rules, const char *path, uint64_t size)
{
    if (size == 0)
        return HFS_MODE_REGULAR;
    if (size > HFS_REGULAR_MAX_BYTES)
        return HFS_MODE_LFS;
    if (rules && hfs_lfsrules_match(rules, path))
        return HFS_MODE_LFS;
    return HFS_MODE_UNDECIDED;
}

void hfs_lfsdecide_prepare(unsigned char *modes, unsigned char *want, const hfs_local_file *files,
                           size_t n, const hfs_lfsrules *rules, const hfs_remote_snapshot *remote)
{
    size_t hint = 0;
    for (size_t i = 0; i < n; i++) {
        const hfs_local_file *f = &files[i];
        hfs_file_mode mode = hfs_lfsdecide_by_name(rules, f->repo_path, f->size);
        modes[i] = (unsigned char)mode;
        if (mode == HFS_MODE_UNDECIDED) {
            want[i] = HFS_HASH_BOTH;
            continue;
        }
        want[i] = mode == HFS_MODE_LFS ? HFS_HASH_SHA256 : HFS_HASH_SHA1;
        const hfs_remote_entry *r =
            remote ? hfs_remote_snapshot_seek(remote, &hint, f->repo_path) : NULL;
        if (r && r->size == f->size && r->is_lfs != (mode == HFS_MODE_LFS))
            want[i] = HFS_HASH_BOTH;
    }
}

int hfs_lfsdecide_by_content(hfs_file_mode *out, const hfs_lfsrules *rules,
                             const hfs_local_file *file)
{
    unsigned char sample[SAMPLE_BYTES];
    size_t want = file->size < SAMPLE_BYTES ? (size_t)file->size : SAMPLE_BYTES, got = 0;
    int fd = open(file->local_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return hfs_error_set(errno == ENOENT ? HFS_ENOTFOUND : HFS_ERROR,
                             "cannot open %s to decide whether it goes to LFS: %s",
                             file->local_path, strerror(errno));
    while (got < want) {
        ssize_t r = read(fd, sample + got, want - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int err = errno;
            close(fd);
            return hfs_error_set(HFS_ERROR, "cannot read %s: %s", file->local_path, strerror(err));
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    *out = hfs_lfsrules_is_lfs(rules, file->repo_path, file->size, sample, got) ? HFS_MODE_LFS
                                                                                : HFS_MODE_REGULAR;
    return 0;
}

int hfs_lfsdecide_finish(unsigned char *modes, const hfs_local_file *files, size_t n,
                         const hfs_lfsrules *rules, const hfs_remote_snapshot *remote)
{
    size_t hint = 0;
    for (size_t i = 0; i < n; i++) {
        if (modes[i] != HFS_MODE_UNDECIDED)
            continue;
        const hfs_local_file *f = &files[i];
        const hfs_remote_entry *r =
            remote ? hfs_remote_snapshot_seek(remote, &hint, f->repo_path) : NULL;
        if (r && r->size == f->size &&
            (r->is_lfs ? f->has_sha256 && hfs_remote_entry_same_sha256(r, f->sha256)
                       : f->has_sha1 && hfs_remote_entry_same_sha1(r, f->sha1))) {
            modes[i] = r->is_lfs ? HFS_MODE_LFS : HFS_MODE_REGULAR;
            continue;
        }
        hfs_file_mode mode;
        int rc = hfs_lfsdecide_by_content(&mode, rules, f);
        if (rc < 0)
            return rc;
        modes[i] = (unsigned char)mode;
    }
    return 0;
}
