/* What the parts of the hub's repository storage share (repo.c: repos, refs, history;
 * repo_tree.c: listings and preupload; repo_commit.c: building commits). Private to them. */
#ifndef HUBD_REPO_INTERNAL_H
#define HUBD_REPO_INTERNAL_H

#include <git2.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hubd/repo.h"

#define HUBD_DEFAULT_BRANCH "main"
#define HUBD_FOLDER_MAX_ENTRIES 10000
/* git-lfs pointer files are small: the spec caps them below 1024 bytes, and the shortest
 * valid one (version, sha256 oid, one-digit size) has 125 or 126 bytes. Only blobs in this
 * range are read to check whether they are pointers, so listings stay fast. */
#define HUBD_LFS_POINTER_MIN 120
#define HUBD_LFS_POINTER_MAX 1024

struct hubd_repos {
    char *root;
    char *repos_dir; /* ROOT/repos */
    char *tmp_dir;   /* ROOT/repos/.tmp/p<pid>-<n>: this process's half-made and dying repos */
    /* Create and delete take it exclusively (they move whole directories); every other
     * operation shares it and relies on libgit2's on-disk atomicity and ref CAS. */
    pthread_rwlock_t lock;
};

/* A shared-locked, opened repository for the length of one operation. */
typedef struct {
    hubd_repos *repos;
    git_repository *repo;
    const char *id;
    bool locked;
} repo_session;

int repo_session_open(repo_session *s, hubd_repos *repos, hfs_repo_kind kind, const char *id);
void repo_session_close(repo_session *s);

/* The hub's commit author for a token's user: "<user> <<user>@users.noreply.local>", now. */
int repo_signature(git_signature **out, const char *user);

/* Sets the last error to "<message>: <libgit2's message>" and returns `code`. */
int repo_git_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A revision as repo.h describes it → commit oid; HFS_ENOTFOUND names the revision. */
int repo_resolve_rev(git_oid *out, git_repository *repo, const char *id, const char *revision);
/* The commit a 40-hex oid names (as resolved earlier) and its tree. */
int repo_load_commit(git_commit **commit, git_tree **tree, git_repository *repo, const char *id,
                     const char *commit_oid);

/* "2025-03-07T12:34:56.000Z" for a time in seconds since the epoch. */
void repo_iso_time(char out[32], int64_t seconds, int millis);

/* Parses a git-lfs v1 pointer: true when `data` is one, with its sha256 and size. */
bool repo_parse_lfs_pointer(const char *data, size_t len, char oid[65], uint64_t *size);
/* The pointer text for an object (the caller frees it). */
char *repo_lfs_pointer_text(const char *oid, uint64_t size);

/* Reads the whole blob at a root-level `name` of `tree` (".gitattributes", ".gitignore"),
 * NUL-terminated; *out stays NULL when there is none. Regular files are at most 10 MiB. */
int repo_read_root_file(char **out, size_t *out_len, git_repository *repo, const git_tree *tree,
                        const char *name);

#endif
