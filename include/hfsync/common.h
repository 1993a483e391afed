/* hfsync public API: error codes, the per-thread last error, exit codes.
 * Every library function returns 0 on success or a negative hfs_error code. */
#ifndef HFSYNC_COMMON_H
#define HFSYNC_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Library error codes (negative). The detail is in hfs_error_last(). */
typedef enum {
    HFS_OK = 0,
    HFS_ERROR = -1,     /* generic failure */
    HFS_ENOTFOUND = -2, /* a file, repo, revision or entry does not exist */
    HFS_EINVALID = -3,  /* bad input: manifest, plan, argument */
    HFS_ESTALE = -4,    /* the remote or local files moved since the plan */
    HFS_ELIMIT = -5,    /* refused by a safety or hub limit */
    HFS_EAUTH = -6,     /* missing or rejected credentials */
    HFS_ENET = -7,      /* network failure after retries */
    HFS_EEXISTS = -8,   /* already exists */
    HFS_ELOCKED = -9,   /* another process holds the lock */
} hfs_error_code;

/* Exit codes of the hfsync command (DESIGN.md). */
enum {
    HFS_EXIT_OK = 0,
    HFS_EXIT_ERROR = 1,
    HFS_EXIT_CHANGES = 2,
    HFS_EXIT_STALE = 3,
    HFS_EXIT_LIMIT = 4,
    HFS_EXIT_USAGE = 64,
};

/* The message of the last error set on this thread ("" when none). */
const char *hfs_error_last(void);
/* The code of the last error set on this thread (HFS_OK when none). */
int hfs_error_last_code(void);
/* Forget the last error of this thread. */
void hfs_error_clear(void);

/* Maps a library error code to the command's exit code. */
int hfs_exit_code_for(int error);

const char *hfs_version(void);

/* The library's notes go to stderr ("hfsync: …", "hfsync: warning: …"). With debug on, its
 * debug notes go there too: what a run decided without a word otherwise (a journal of
 * another plan set aside, a hash cache of an earlier version replaced, …). Off by default. */
void hfs_log_debug(bool on);

#ifdef __cplusplus
}
#endif
#endif
