/* Log lines to stderr: "2026-11-26T03:40:00Z hfsync: warning: …" with a timestamp when
 * stderr is not a terminal (cron, systemd), plain "hfsync: …" on a terminal. */
#ifndef HFS_LOG_H
#define HFS_LOG_H

typedef enum { HFS_LOG_DEBUG, HFS_LOG_INFO, HFS_LOG_WARN, HFS_LOG_ERROR } hfs_log_level;

/* Messages below this level are dropped (default HFS_LOG_INFO). */
void hfs_log_set_level(hfs_log_level level);
hfs_log_level hfs_log_get_level(void);
void hfs_log(hfs_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define hfs_debug(...) hfs_log(HFS_LOG_DEBUG, __VA_ARGS__)
#define hfs_info(...) hfs_log(HFS_LOG_INFO, __VA_ARGS__)
#define hfs_warn(...) hfs_log(HFS_LOG_WARN, __VA_ARGS__)

#endif
