/* Log lines to stderr, timestamped when stderr is not a terminal. */
#include "common/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "hfsync/common.h"

static hfs_log_level min_level = HFS_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void hfs_log_set_level(hfs_log_level level)
{
    min_level = level;
}

void hfs_log_debug(bool on)
{
    hfs_log_set_level(on ? HFS_LOG_DEBUG : HFS_LOG_INFO);
}

hfs_log_level hfs_log_get_level(void)
{
    return min_level;
}

void hfs_log(hfs_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"debug: ", "", "warning: ", "error: "};
    if (level < min_level)
        return;
    char stamp[32] = "";
    if (!isatty(STDERR_FILENO)) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ ", &tm);
    }
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "%shfsync: %s", stamp, names[level]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&log_lock);
    va_end(ap);
}
