/* Allocation that aborts on out-of-memory, a string buffer, file-system helpers. */
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"

static void oom(size_t n)
{
    fprintf(stderr, "hfsync: out of memory (allocating %zu bytes)\n", n);
    abort();
}

void *hfs_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *hfs_calloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (!p)
        oom(count * n);
    return p;
}

void *hfs_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *hfs_strdup(const char *s)
{
    return hfs_strndup(s, strlen(s));
}

char *hfs_strndup(const char *s, size_t n)
{
    char *p = hfs_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *hfs_vsprintf(const char *fmt, va_list ap)
{
    hfs_buf b = HFS_BUF_INIT;
    hfs_buf_vprintf(&b, fmt, ap);
    return hfs_buf_detach(&b);
}

char *hfs_sprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = hfs_vsprintf(fmt, ap);
    va_end(ap);
    return s;
}

void hfs_grow(void **items, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return;
    size_t n = *cap ? *cap : 8;
    while (n < need)
        n *= 2;
    *items = hfs_realloc(*items, n * size);
    *cap = n;
}

void hfs_buf_grow(hfs_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t n = b->cap ? b->cap : 64;
    while (n < need)
        n *= 2;
    b->ptr = hfs_realloc(b->ptr, n);
    b->cap = n;
}

void hfs_buf_add(hfs_buf *b, const void *data, size_t len)
{
    hfs_buf_grow(b, len);
    if (len)
        memcpy(b->ptr + b->len, data, len);
    b->len += len;
    b->ptr[b->len] = '\0';
}

void hfs_buf_puts(hfs_buf *b, const char *s)
{
    hfs_buf_add(b, s, strlen(s));
}

void hfs_buf_putc(hfs_buf *b, char c)
{
    hfs_buf_add(b, &c, 1);
}

void hfs_buf_vprintf(hfs_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    char probe[1];
    if (!fmt)
        return;
    va_copy(ap2, ap);
    int n = vsnprintf(probe, sizeof(probe), fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    hfs_buf_grow(b, (size_t)n);
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void hfs_buf_printf(hfs_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hfs_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void hfs_buf_clear(hfs_buf *b)
{
    b->len = 0;
    if (b->ptr)
        b->ptr[0] = '\0';
}

char *hfs_buf_detach(hfs_buf *b)
{
    char *s = b->ptr ? b->ptr : hfs_strdup("");
    b->ptr = NULL;
    b->len = b->cap = 0;
    return s;
}

void hfs_buf_free(hfs_buf *b)
{
    free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

const char *hfs_buf_cstr(const hfs_buf *b)
{
    return b->ptr ? b->ptr : "";
}

bool hfs_str_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool hfs_str_ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lf = strlen(suffix);
    return ls >= lf && memcmp(s + ls - lf, suffix, lf) == 0;
}

bool hfs_path_stays_inside(const char *path)
{
    if (!path || !*path || *path == '/')
        return false;
    for (const char *seg = path;;) {
        size_t n = strcspn(seg, "/");
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        if (!seg[n])
            return true;
        seg += n + 1;
    }
}

char *hfs_path_join(const char *a, const char *b)
{
    if (!a || !*a)
        return hfs_strdup(b);
    if (!b || !*b)
        return hfs_strdup(a);
    size_t la = strlen(a);
    while (la > 1 && a[la - 1] == '/')
        la--;
    while (*b == '/')
        b++;
    if (la == 1 && a[0] == '/')
        return hfs_sprintf("/%s", b);
    return hfs_sprintf("%.*s/%s", (int)la, a, b);
}

int hfs_mkdir_p(const char *path)
{
    char *p = hfs_strdup(path);
    int rc = 0;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            rc = hfs_error_set(HFS_ERROR, "cannot create directory %s: %s", p, strerror(errno));
            goto done;
        }
        *s = '/';
    }
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        rc = hfs_error_set(HFS_ERROR, "cannot create directory %s: %s", p, strerror(errno));
done:
    free(p);
    return rc;
}

int hfs_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int hfs_read_file(char **out, size_t *out_len, const char *path, size_t max_bytes)
{
    int rc = 0;
    hfs_buf b = HFS_BUF_INIT;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    *out = NULL;
    if (out_len)
        *out_len = 0;
    if (fd < 0)
        return hfs_error_set(errno == ENOENT ? HFS_ENOTFOUND : HFS_ERROR, "cannot open %s: %s",
                             path, strerror(errno));
    for (;;) {
        hfs_buf_grow(&b, 65536);
        ssize_t n = read(fd, b.ptr + b.len, 65536);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = hfs_error_set(HFS_ERROR, "cannot read %s: %s", path, strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        b.len += (size_t)n;
        b.ptr[b.len] = '\0';
        if (b.len > max_bytes) {
            rc = hfs_error_set(HFS_ELIMIT, "%s: larger than %zu bytes", path, max_bytes);
            goto done;
        }
    }
    b.ptr[b.len] = '\0'; /* an empty file never went through the NUL-writing path above */
    if (out_len)
        *out_len = b.len;
    *out = hfs_buf_detach(&b);
done:
    close(fd);
    hfs_buf_free(&b);
    return rc;
}

static int fsync_dir_of(const char *path)
{
    char *copy = hfs_strdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return 0; /* best effort: the rename already happened */
    fsync(fd);
    close(fd);
    return 0;
}

int hfs_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    int rc = 0;
    /* A unique temp name, so two threads (or processes) writing one path never collide. */
    char *tmp = hfs_sprintf("%s.tmp.XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    /* Locked until the rename: hfs_remove_stale_temps() tells a killed writer's temp file
     * (its lock died with it) from one being written now. */
    if (fd >= 0)
        flock(fd, LOCK_EX);
    if (fd >= 0 && fchmod(fd, mode) != 0) {
        close(fd);
        unlink(tmp);
        fd = -1;
    }
    if (fd < 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot write %s: %s", tmp, strerror(errno));
        goto done;
    }
    if (hfs_write_all(fd, data, len) < 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto done;
    }
    if (fsync(fd) != 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto done;
    }
    if (rename(tmp, path) != 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        close(fd);
        unlink(tmp);
        goto done;
    }
    close(fd); /* the data is synced: only the lock goes with it */
    fsync_dir_of(path);
done:
    free(tmp);
    return rc;
}

void hfs_remove_stale_temps(const char *path)
{
    char *dir = hfs_strdup(path);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : path;
    if (slash)
        *slash = '\0';
    char *prefix = hfs_sprintf("%s.tmp.", base);
    DIR *d = opendir(slash ? (*dir ? dir : "/") : ".");
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!hfs_str_starts_with(de->d_name, prefix))
            continue;
        char *tmp = slash ? hfs_path_join(*dir ? dir : "/", de->d_name) : hfs_strdup(de->d_name);
        int fd = open(tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
            unlink(tmp);
        if (fd >= 0)
            close(fd);
        free(tmp);
    }
    if (d)
        closedir(d);
    free(prefix);
    free(dir);
}

void hfs_human_size(char *out, size_t out_size, uint64_t bytes)
{
    static const char *units[] = {"B", "KB", "MB", "GB", "TB", "PB"};
    double v = (double)bytes;
    size_t u = 0;
    while (v >= 1000.0 && u + 1 < HFS_ARRAY_LEN(units)) {
        v /= 1000.0;
        u++;
    }
    if (u == 0)
        snprintf(out, out_size, "%llu B", (unsigned long long)bytes);
    else
        snprintf(out, out_size, "%.1f %s", v, units[u]);
}

bool hfs_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned c = *p;
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if ((size_t)(end - p) <= n)
            return false;
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += n + 1;
    }
    return true;
}

double hfs_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- arena ---------------------------------------------------------------------------- */

#define ARENA_BLOCK (256u * 1024u)

struct hfs_arena_block {
    hfs_arena_block *next;
    size_t used, size;
    char data[];
};

char *hfs_arena_alloc(hfs_arena *a, size_t len)
{
    if (!a->head || a->head->size - a->head->used < len) {
        size_t size = len > ARENA_BLOCK ? len : ARENA_BLOCK;
        hfs_arena_block *b = hfs_malloc(sizeof(*b) + size);
        b->next = a->head;
        b->used = 0;
        b->size = size;
        a->head = b;
    }
    char *p = a->head->data + a->head->used;
    a->head->used += len;
    return p;
}

const char *hfs_arena_strndup(hfs_arena *a, const char *s, size_t n)
{
    char *dst = hfs_arena_alloc(a, n + 1);
    memcpy(dst, s, n);
    dst[n] = '\0';
    return dst;
}

void hfs_arena_take(hfs_arena *to, hfs_arena *from)
{
    while (from->head) {
        hfs_arena_block *b = from->head;
        from->head = b->next;
        b->next = to->head;
        to->head = b;
    }
}

void hfs_arena_clear(hfs_arena *a)
{
    for (hfs_arena_block *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    a->head = NULL;
}
