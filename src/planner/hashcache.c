/* The hash cache file: a 64-byte header (magic, version, count, SHA-256 of the payload), then
 * records (fixed fields + path) sorted by path, loaded in one read, searched by bisection. */
#include "planner/hashcache.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/util.h"

#define CACHE_MAGIC "HFSHASHC"
/* Version 2 added the send check; a version 1 cache (hfsync before it) is replaced. */
#define CACHE_VERSION 2
#define HEADER_SIZE 64
/* path_len u32, flags u8, size u64, mtime i64, ctime i64, inode u64, sha1[20], sha256[32],
 * check[16] */
#define RECORD_FIXED (4 + 1 + 8 + 8 + 8 + 8 + 20 + 32 + 16)
#define CACHE_MAX_BYTES ((size_t)1 << 31) /* far beyond any real tree: a bigger file is junk */

typedef struct {
    const char *path; /* into the loaded buffer, or owned when recorded */
    uint64_t size, inode;
    int64_t mtime_ns, ctime_ns;
    unsigned flags; /* HFS_HASH_SHA1 | HFS_HASH_SHA256 | HFS_HASH_CHECK: which are present */
    unsigned char sha1[20], sha256[32], check[16];
    size_t seq; /* recording order, so the last record of a file wins */
} entry;

enum { STATE_UNTOUCHED, STATE_SEEN, STATE_REPLACED, STATE_DROPPED };

struct hfs_hashcache {
    char *path;
    char *state_dir;
    char *data;           /* the loaded file, records decoded only when looked up */
    size_t *loaded;       /* offset of each record in data, sorted by path */
    unsigned char *state; /* per loaded record: STATE_* */
    size_t loaded_count;
    int64_t written_ns; /* the cache file's mtime: its own write time */
    size_t cursor;      /* after the last hit: scans look files up in sorted order */
    entry *fresh;       /* recorded this run; paths owned */
    size_t fresh_count, fresh_cap;
    bool dirty;
};

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void hex_to_bin(unsigned char *out, const char *hex, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned hi = (unsigned)(hex[2 * i] <= '9' ? hex[2 * i] - '0' : hex[2 * i] - 'a' + 10);
        unsigned lo =
            (unsigned)(hex[2 * i + 1] <= '9' ? hex[2 * i + 1] - '0' : hex[2 * i + 1] - 'a' + 10);
        out[i] = (unsigned char)(hi << 4 | lo);
    }
}

static void bin_to_hex(char *out, const unsigned char *bin, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bin[i] >> 4];
        out[2 * i + 1] = digits[bin[i] & 15];
    }
    out[2 * n] = '\0';
}

static const char *record_path(const hfs_hashcache *c, size_t i)
{
    return c->data + c->loaded[i] + RECORD_FIXED;
}

static void decode(const hfs_hashcache *c, size_t i, entry *e)
{
    const unsigned char *r = (const unsigned char *)c->data + c->loaded[i];
    e->path = record_path(c, i);
    e->flags = r[4];
    e->size = get_u64(r + 5);
    e->mtime_ns = (int64_t)get_u64(r + 13);
    e->ctime_ns = (int64_t)get_u64(r + 21);
    e->inode = get_u64(r + 29);
    memcpy(e->sha1, r + 37, 20);
    memcpy(e->sha256, r + 57, 32);
    memcpy(e->check, r + 89, 16);
}

/* parse()'s answer for a sound cache of an earlier format: replaced without a warning. */
static const char older_version[] = "it is from an earlier hfsync";

/* Validates a loaded cache file and indexes its records; returns NULL when it is sound,
 * else what is wrong with it. Nothing in it is used unless all of it checks out. */
static const char *parse(hfs_hashcache *c, size_t len)
{
    const unsigned char *d = (const unsigned char *)c->data;
    char digest[HFS_SHA256_HEX];
    unsigned char want[32];
    if (len < HEADER_SIZE)
        return "it is truncated";
    if (memcmp(d, CACHE_MAGIC, 8) != 0)
        return "it is not a hash cache file";
    if (get_u32(d + 8) == 1)
        return older_version;
    if (get_u32(d + 8) != CACHE_VERSION)
        return "it has an unknown version";
    uint64_t count = get_u64(d + 16), payload = get_u64(d + 24);
    if (payload != len - HEADER_SIZE)
        return "it is truncated";
    if (count > payload / RECORD_FIXED)
        return "its entry count is impossible";
    hfs_sha256_hex(digest, d + HEADER_SIZE, payload);
    hex_to_bin(want, digest, 32);
    if (memcmp(want, d + 32, 32) != 0)
        return "its checksum does not match";
    c->loaded = hfs_malloc((count ? count : 1) * sizeof(*c->loaded));
    c->state = hfs_calloc(count ? count : 1, 1);
    size_t off = HEADER_SIZE;
    for (uint64_t i = 0; i < count; i++) {
        if (len - off < RECORD_FIXED)
            return "it is truncated";
        const unsigned char *r = d + off;
        uint32_t plen = get_u32(r);
        size_t path_off = off + RECORD_FIXED;
        if (plen == 0 || len - path_off < (size_t)plen + 1 || d[path_off + plen] != '\0' ||
            memchr(d + path_off, '\0', plen))
            return "an entry's path is malformed";
        if ((r[4] & HFS_HASH_BOTH) == 0 || (r[4] & ~(unsigned)(HFS_HASH_BOTH | HFS_HASH_CHECK)))
            return "an entry holds no hash";
        c->loaded[i] = off;
        c->loaded_count++;
        if (i > 0 && strcmp(record_path(c, i - 1), record_path(c, i)) >= 0)
            return "its entries are out of order";
        off = path_off + plen + 1;
    }
    if (off != len)
        return "it has trailing bytes";
    return NULL;
}

static void discard_loaded(hfs_hashcache *c)
{
    free(c->data);
    free(c->loaded);
    free(c->state);
    c->data = NULL;
    c->loaded = NULL;
    c->state = NULL;
    c->loaded_count = 0;
}

static int open_cache(hfs_hashcache **out, const char *state_dir, bool quiet)
{
    int rc = 0;
    struct stat st;
    hfs_hashcache *c = hfs_calloc(1, sizeof(*c));
    c->state_dir = hfs_strdup(state_dir);
    c->path = hfs_path_join(state_dir, "hashcache");
    *out = NULL;
    if (!quiet)
        hfs_remove_stale_temps(c->path); /* what a plan killed mid-save left */
    int fd = open(c->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            rc = hfs_error_set(HFS_ERROR, "cannot read the hash cache %s: %s", c->path,
                               strerror(errno));
        goto done;
    }
    if (fstat(fd, &st) != 0) {
        rc =
            hfs_error_set(HFS_ERROR, "cannot stat the hash cache %s: %s", c->path, strerror(errno));
        goto done;
    }
    c->written_ns = hfs_timespec_ns(&st.st_mtim);
    const char *problem = NULL;
    size_t len = (size_t)st.st_size, got = 0;
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > CACHE_MAX_BYTES) {
        problem = "it is not a plausible cache file";
    } else {
        c->data = hfs_malloc(len + 1);
        while (got < len) {
            ssize_t n = read(fd, c->data + got, len - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                rc = hfs_error_set(HFS_ERROR, "cannot read the hash cache %s: %s", c->path,
                                   strerror(errno));
                goto done;
            }
            if (n == 0)
                break;
            got += (size_t)n;
        }
        c->data[got] = '\0';
        problem = got != len ? "it is truncated" : parse(c, len);
    }
    if (problem == older_version) {
        if (!quiet)
            hfs_debug("the hash cache %s is from an earlier hfsync: files are hashed anew",
                      c->path);
        discard_loaded(c);
        c->dirty = true;
    } else if (problem) {
        if (!quiet)
            hfs_warn("discarding the hash cache %s: %s; every file will be hashed again", c->path,
                     problem);
        discard_loaded(c);
        c->dirty = true; /* write a sound one even if no file changes */
    }
done:
    if (fd >= 0)
        close(fd);
    if (rc) {
        hfs_hashcache_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int hfs_hashcache_open(hfs_hashcache **out, const char *state_dir)
{
    return open_cache(out, state_dir, false);
}

int hfs_hashcache_open_quiet(hfs_hashcache **out, const char *state_dir)
{
    return open_cache(out, state_dir, true);
}

/* Index of the loaded record for this path, or (size_t)-1. */
static size_t find_loaded(hfs_hashcache *c, const char *path)
{
    size_t lo = 0, hi = c->loaded_count;
    /* A scan is sorted, and so is the cache: the next lookup is usually the next record. */
    for (size_t k = c->cursor; k < c->cursor + 2 && k < c->loaded_count; k++) {
        if (strcmp(record_path(c, k), path) == 0) {
            c->cursor = k + 1;
            return k;
        }
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(record_path(c, mid), path);
        if (cmp == 0) {
            c->cursor = mid + 1;
            return mid;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (size_t)-1;
}

static void fill_from(hfs_local_file *f, const entry *e)
{
    if (e->flags & HFS_HASH_SHA1) {
        bin_to_hex(f->sha1, e->sha1, 20);
        f->has_sha1 = true;
    }
    if (e->flags & HFS_HASH_SHA256) {
        bin_to_hex(f->sha256, e->sha256, 32);
        f->has_sha256 = true;
    }
    if (e->flags & HFS_HASH_CHECK) {
        bin_to_hex(f->check, e->check, 16);
        f->has_check = true;
    }
}

hfs_hashcache_result hfs_hashcache_lookup(hfs_hashcache *c, hfs_local_file *f, unsigned want)
{
    entry e;
    size_t i = find_loaded(c, f->local_path);
    if (i == (size_t)-1)
        return HFS_HASHCACHE_MISS;
    decode(c, i, &e);
    if (e.size != f->size || e.mtime_ns != f->mtime_ns || e.ctime_ns != f->ctime_ns ||
        e.inode != f->inode)
        return HFS_HASHCACHE_MISS;
    /* Written in the same clock tick as the file, the entry cannot tell a later same-size
     * rewrite from the content it hashed: git's racy-clean rule. */
    if (e.mtime_ns >= c->written_ns)
        return HFS_HASHCACHE_RACY;
    fill_from(f, &e);
    if ((e.flags & want) != want)
        return HFS_HASHCACHE_MISS; /* recorded again once the missing hash is computed */
    c->state[i] = STATE_SEEN;
    return HFS_HASHCACHE_HIT;
}

void hfs_hashcache_record(hfs_hashcache *c, const hfs_local_file *f)
{
    entry e = {0};
    size_t i;
    if (!f->has_sha1 && !f->has_sha256)
        return;
    e.path = hfs_strdup(f->local_path);
    e.size = f->size;
    e.inode = f->inode;
    e.mtime_ns = f->mtime_ns;
    e.ctime_ns = f->ctime_ns;
    if (f->has_sha1) {
        hex_to_bin(e.sha1, f->sha1, 20);
        e.flags |= HFS_HASH_SHA1;
    }
    if (f->has_sha256) {
        hex_to_bin(e.sha256, f->sha256, 32);
        e.flags |= HFS_HASH_SHA256;
    }
    if (f->has_check) {
        hex_to_bin(e.check, f->check, 16);
        e.flags |= HFS_HASH_CHECK;
    }
    i = find_loaded(c, f->local_path);
    if (i != (size_t)-1)
        c->state[i] = STATE_REPLACED;
    e.seq = c->fresh_count;
    HFS_PUSH(c->fresh, c->fresh_count, c->fresh_cap, e);
    c->dirty = true;
}

static int compare_entries(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static void put_entry(hfs_buf *b, const entry *e)
{
    unsigned char r[RECORD_FIXED];
    size_t plen = strlen(e->path);
    put_u32(r, (uint32_t)plen);
    r[4] = (unsigned char)e->flags;
    put_u64(r + 5, e->size);
    put_u64(r + 13, (uint64_t)e->mtime_ns);
    put_u64(r + 21, (uint64_t)e->ctime_ns);
    put_u64(r + 29, e->inode);
    memcpy(r + 37, e->sha1, 20);
    memcpy(r + 57, e->sha256, 32);
    memcpy(r + 89, e->check, 16);
    hfs_buf_add(b, r, sizeof(r));
    hfs_buf_add(b, e->path, plen + 1);
}

/* Which loaded records survive: those looked up, and those not looked up whose file still
 * exists (another sync's, most likely). Recorded ones replace theirs. */
static void drop_missing(hfs_hashcache *c)
{
    struct stat st;
    for (size_t i = 0; i < c->loaded_count; i++) {
        if (c->state[i] == STATE_REPLACED)
            c->dirty = true;
        if (c->state[i] == STATE_UNTOUCHED && stat(record_path(c, i), &st) != 0) {
            c->state[i] = STATE_DROPPED; /* the file is gone */
            c->dirty = true;
        }
    }
}

static bool kept(const hfs_hashcache *c, size_t i)
{
    return c->state[i] == STATE_UNTOUCHED || c->state[i] == STATE_SEEN;
}

int hfs_hashcache_save(hfs_hashcache *c)
{
    int rc = 0;
    hfs_buf b = HFS_BUF_INIT;
    char digest[HFS_SHA256_HEX];
    unsigned char header[HEADER_SIZE] = {0};
    drop_missing(c);
    if (!c->dirty)
        return 0;
    if (c->fresh_count > 0)
        qsort(c->fresh, c->fresh_count, sizeof(*c->fresh), compare_entries);
    /* Merge the kept records (copied as they are) with the recorded entries, both sorted;
     * when one file was recorded twice, the last record wins. */
    hfs_buf_add(&b, header, sizeof(header));
    size_t i = 0, j = 0, n = 0;
    for (;;) {
        while (i < c->loaded_count && !kept(c, i))
            i++;
        while (j + 1 < c->fresh_count && strcmp(c->fresh[j].path, c->fresh[j + 1].path) == 0)
            j++;
        bool have_old = i < c->loaded_count, have_new = j < c->fresh_count;
        if (!have_old && !have_new)
            break;
        if (have_old && (!have_new || strcmp(record_path(c, i), c->fresh[j].path) < 0)) {
            size_t start = c->loaded[i];
            size_t end = start + RECORD_FIXED + strlen(record_path(c, i)) + 1;
            hfs_buf_add(&b, c->data + start, end - start);
            i++;
        } else {
            put_entry(&b, &c->fresh[j++]);
        }
        n++;
    }
    memcpy(header, CACHE_MAGIC, 8);
    put_u32(header + 8, CACHE_VERSION);
    put_u64(header + 16, n);
    put_u64(header + 24, b.len - HEADER_SIZE);
    hfs_sha256_hex(digest, b.ptr + HEADER_SIZE, b.len - HEADER_SIZE);
    hex_to_bin(header + 32, digest, 32);
    memcpy(b.ptr, header, sizeof(header));
    rc = hfs_mkdir_p(c->state_dir);
    if (rc == 0)
        rc = hfs_write_file_atomic(c->path, b.ptr, b.len, 0644);
    if (rc == 0)
        c->dirty = false;
    hfs_buf_free(&b);
    return rc;
}

size_t hfs_hashcache_size(const hfs_hashcache *c)
{
    size_t n = c->fresh_count;
    for (size_t i = 0; i < c->loaded_count; i++)
        if (kept(c, i))
            n++;
    return n;
}

void hfs_hashcache_free(hfs_hashcache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->fresh_count; i++)
        free((char *)c->fresh[i].path);
    free(c->fresh);
    discard_loaded(c);
    free(c->path);
    free(c->state_dir);
    free(c);
}
