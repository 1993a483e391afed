/* The per-thread last error, and the mapping from error codes to exit codes. */
#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_message[4096];
static _Thread_local int last_code;

int hfs_error_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof(last_message), fmt, ap);
    va_end(ap);
    last_code = code;
    return code;
}

const char *hfs_error_last(void)
{
    return last_message;
}

int hfs_error_last_code(void)
{
    return last_code;
}

void hfs_error_clear(void)
{
    last_message[0] = '\0';
    last_code = HFS_OK;
}

int hfs_exit_code_for(int error)
{
    switch (error) {
    case HFS_OK:
        return HFS_EXIT_OK;
    case HFS_ESTALE:
        return HFS_EXIT_STALE;
    case HFS_ELIMIT:
        return HFS_EXIT_LIMIT;
    default:
        return HFS_EXIT_ERROR;
    }
}

const char *hfs_version(void)
{
    return HFS_VERSION;
}
