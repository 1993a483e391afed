/* The per-thread "last error": library functions set a message a user can read and
 * return a negative hfs_error_code; the CLI alone turns it into an exit code. */
#ifndef HFS_ERROR_H
#define HFS_ERROR_H

#include "hfsync/common.h"

/* Sets this thread's last error and returns `code`, so callers can write
 * `return hfs_error_set(HFS_EINVALID, "…", …);`. */
int hfs_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
