/* The local half of a plan, step one: walk a sync's folder and list the files that belong
 * in the repo (skip rules, .gitignore, ignore and allow patterns, symlinks, UTF-8 names). */
#ifndef HFS_SCAN_H
#define HFS_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "common/hash.h"
#include "manifest/pattern.h"

/* One file to sync: made by hfs_scan_folder, hashes filled in by hfs_hash_files. */
typedef struct {
    char *repo_path;      /* UTF-8, '/'-separated, path_in_repo prefix included */
    char *local_path;     /* absolute; through a followed symlink it names the link, which opens
                             the target */
    const char *rel_path; /* points into local_path: the path relative to the folder, the
                             one allow/ignore patterns saw */
    uint64_t size;
    int64_t mtime_ns, ctime_ns;
    uint64_t inode, dev; /* of the file itself (the target, for a symlink) */
    uint32_t mode;       /* st_mode of the file (the target, for a symlink) */
    bool via_symlink;    /* reached through a symlink inside the folder */
    bool has_sha1, has_sha256, has_check;
    char sha1[HFS_SHA1_HEX];     /* git blob SHA-1: the oid of a regular file */
    char sha256[HFS_SHA256_HEX]; /* SHA-256: the oid of an LFS file */
    char check[HFS_CHECK_HEX];   /* the send check, taken with the SHA-256 (hfs_hasher_add_check) */
} hfs_local_file;

typedef struct {
    int version;
    const char *folder;       /* absolute path of the folder to sync */
    const char *path_in_repo; /* prefix for repo paths; NULL or "" = the repo root */
    bool use_gitignore;       /* honour the folder's .gitignore files (nested, as git does) */
    /* The root .gitignore at the remote revision, used only when the folder has no root
     * .gitignore of its own (upload_folder's behaviour); NULL when there is none. */
    const char *remote_root_gitignore;
    /* huggingface_hub fnmatch patterns, matched against the path relative to the folder
     * (before the prefix). NULL = no allow list / nothing ignored. */
    const hfs_pattern_set *allow;
    const hfs_pattern_set *ignore;
    /* Follow symlinks whose target stays inside the folder (one escaping it is an error).
     * When false, every symlink is skipped with a warning. */
    bool follow_symlinks;
    /* Directories are listed in parallel (git status stats with threads too): 0 = one
     * thread per online core, at most 8. */
    unsigned threads;
} hfs_scan_options;

#define HFS_SCAN_OPTIONS_VERSION 1
#define HFS_SCAN_OPTIONS_INIT                                                                      \
    {                                                                                              \
        HFS_SCAN_OPTIONS_VERSION, NULL, NULL, true, NULL, NULL, NULL, true, 0                      \
    }

typedef struct hfs_scan_strings hfs_scan_strings;

typedef struct {
    hfs_local_file *files; /* sorted by repo_path, bytewise; their paths live in `strings` */
    size_t count;
    size_t ignored;             /* entries left out by .gitignore (a directory counts once) or
                                   by the patterns */
    size_t skipped;             /* special files and symlinks left out, each with a warning */
    bool used_remote_gitignore; /* the remote root .gitignore was applied */
    bool has_root_gitignore;    /* the folder has a root .gitignore of its own (read when
                                   use_gitignore), so a remote one would not be used */
    hfs_scan_strings *strings;  /* owns the files' paths, in large blocks */
} hfs_scan_result;

/* Walks opts->folder. Always skips `.git`, `.hfsync` and `.cache/huggingface` at any depth.
 * Errors: HFS_ENOTFOUND for a missing folder; HFS_EINVALID naming the path for a name that
 * is not UTF-8 (bad bytes shown as \xNN), a symlink whose target leaves the folder (naming
 * both), or a symlink loop; HFS_ERROR for an unreadable directory. */
int hfs_scan_folder(hfs_scan_result **out, const hfs_scan_options *opts);

/* Sets f's size, mtime_ns, ctime_ns, inode, dev and mode from st (paths and hashes alone). */
void hfs_local_file_set_stat(hfs_local_file *f, const struct stat *st);
void hfs_scan_result_free(hfs_scan_result *result);

#endif
