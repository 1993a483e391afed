/* The LFS-or-regular decision for each local file, made as the hub's preupload makes it
 * (common/lfsrules: .gitattributes rules, size, binary sample), reading as few files as it can. */
#ifndef HFS_LFSDECIDE_H
#define HFS_LFSDECIDE_H

#include <stddef.h>
#include <stdint.h>

#include "common/lfsrules.h"
#include "planner/remote.h"
#include "planner/scan.h"

typedef enum {
    HFS_MODE_UNDECIDED = 0, /* only the content (a sample of it) can tell */
    HFS_MODE_REGULAR = 1,
    HFS_MODE_LFS = 2,
} hfs_file_mode;

/* What the path and size alone decide: empty → regular; over 10 MiB → LFS; a `filter=lfs`
 * rule → LFS; otherwise undecided. */
hfs_file_mode hfs_lfsdecide_by_name(const hfs_lfsrules *rules, const char *path, uint64_t size);

/* Step one, before hashing: modes[i] from the name and size, and want[i], the hashes file i
 * needs (HFS_HASH_SHA1 for regular, HFS_HASH_SHA256 for LFS, both when undecided or when the
 * remote holds the path in the other mode, so equal content is recognised either way). */
void hfs_lfsdecide_prepare(unsigned char *modes, unsigned char *want, const hfs_local_file *files,
                           size_t n, const hfs_lfsrules *rules, const hfs_remote_snapshot *remote);

/* Step two, after hashing: settles every undecided file. One whose content equals the remote
 * file at its path keeps the remote's mode (nothing will be uploaded, so reading it would be
 * wasted); any other is decided from its first 512 bytes, as the hub decides from the sample
 * a client sends. HFS_ERROR or HFS_ENOTFOUND naming a file that cannot be read. */
int hfs_lfsdecide_finish(unsigned char *modes, const hfs_local_file *files, size_t n,
                         const hfs_lfsrules *rules, const hfs_remote_snapshot *remote);

/* The decision for one file from its sample (reads at most 512 bytes of local_path). */
int hfs_lfsdecide_by_content(hfs_file_mode *out, const hfs_lfsrules *rules,
                             const hfs_local_file *file);

#endif
