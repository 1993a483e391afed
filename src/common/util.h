/* Small helpers shared by every module: allocation that aborts on out-of-memory,
 * a growable string buffer, and file-system helpers (atomic writes, mkdir -p). */
#ifndef HFS_UTIL_H
#define HFS_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define HFS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation: these never return NULL; they abort with a message instead. */
void *hfs_malloc(size_t n);
void *hfs_calloc(size_t count, size_t n);
void *hfs_realloc(void *p, size_t n);
char *hfs_strdup(const char *s);
char *hfs_strndup(const char *s, size_t n);

/* Many small strings in large blocks: one malloc per 256 KiB instead of one per string, and
 * one free per block. Zero-init; hfs_arena_clear frees everything it handed out. */
typedef struct hfs_arena_block hfs_arena_block;
typedef struct {
    hfs_arena_block *head;
} hfs_arena;
char *hfs_arena_alloc(hfs_arena *a, size_t len);
const char *hfs_arena_strndup(hfs_arena *a, const char *s, size_t n); /* NUL-terminated copy */
void hfs_arena_take(hfs_arena *to, hfs_arena *from); /* moves every block of from to to */
void hfs_arena_clear(hfs_arena *a);
char *hfs_sprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *hfs_vsprintf(const char *fmt, va_list ap);

/* Grow a dynamic array: ensures room for `need` items of `size` bytes in *items,
 * whose capacity is *cap. */
void hfs_grow(void **items, size_t *cap, size_t need, size_t size);
#define HFS_PUSH(arr, len, cap, value)                                                              \
    do {                                                                                           \
        hfs_grow((void **)&(arr), &(cap), (len) + 1, sizeof(*(arr)));                              \
        (arr)[(len)++] = (value);                                                                  \
    } while (0)

/* A growable, always NUL-terminated byte buffer. HFS_BUF_INIT or zero-init. */
typedef struct {
    char *ptr;
    size_t len;
    size_t cap;
} hfs_buf;
#define HFS_BUF_INIT {NULL, 0, 0}

void hfs_buf_grow(hfs_buf *b, size_t extra);
void hfs_buf_add(hfs_buf *b, const void *data, size_t len);
void hfs_buf_puts(hfs_buf *b, const char *s);
void hfs_buf_putc(hfs_buf *b, char c);
void hfs_buf_printf(hfs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hfs_buf_vprintf(hfs_buf *b, const char *fmt, va_list ap);
void hfs_buf_clear(hfs_buf *b);
/* Gives the string to the caller (never NULL) and resets the buffer. */
char *hfs_buf_detach(hfs_buf *b);
void hfs_buf_free(hfs_buf *b);
/* "" when empty, never NULL. */
const char *hfs_buf_cstr(const hfs_buf *b);

bool hfs_str_starts_with(const char *s, const char *prefix);
bool hfs_str_ends_with(const char *s, const char *suffix);

/* Joins two path parts with exactly one '/' between them. */
char *hfs_path_join(const char *a, const char *b);
/* Does this relative path stay inside the folder (or repo) it is relative to? Not empty, no
 * leading '/', no empty, "." or ".." segment. Paths from outside (a hub listing, a plan
 * file) are checked with it before they are joined to anything. */
bool hfs_path_stays_inside(const char *path);
/* Creates a directory and its parents (mode 0755); existing ones are fine. */
int hfs_mkdir_p(const char *path);
/* Reads a whole file of at most max_bytes into *out (NUL-terminated). For small
 * files only (configs, manifests); data files are always streamed. */
int hfs_read_file(char **out, size_t *out_len, const char *path, size_t max_bytes);
/* Writes all of data to fd, again after a short write or EINTR: 0, or -1 with errno set. */
int hfs_write_all(int fd, const void *data, size_t len);
/* Writes data to path atomically: a temp file beside it, fsync, rename, fsync of the dir. */
int hfs_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Removes the temp files (PATH.tmp.*) that hfs_write_file_atomic calls killed before their
 * rename left beside path; one being written now is left alone (its writer holds a lock). */
void hfs_remove_stale_temps(const char *path);

/* Formats a byte count for people: "512 B", "1.5 KB", "4.2 GB" (decimal units, as the hub shows). */
void hfs_human_size(char *out, size_t out_size, uint64_t bytes);

/* Is this valid UTF-8 (no overlongs, no surrogates)? */
bool hfs_utf8_valid(const char *s, size_t len);

/* Monotonic clock in seconds. */
double hfs_now(void);

/* A file time (st_mtim, st_ctim) in nanoseconds since the epoch, as manifests of file state
 * (scan, hash cache, plan pins) record it. */
static inline int64_t hfs_timespec_ns(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

#endif
