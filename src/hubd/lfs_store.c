/* The local hub's LFS object store: objects at ROOT/lfs/objects/AB/OID, uploads streamed
 * into a temp file beside their object (AB/.upload-XXXXXX) and renamed into place only once
 * their sha256 and size check out. One directory level and a rename within it: every
 * directory is one more inode to allocate, and a rename across directories takes the
 * filesystem's rename lock (measured with 5,000 objects of 50 KB by 8 threads on ext4: the
 * old AB/CD/OID layout with a shared temp directory cost twice the kernel time).
 * A large whole object is hashed by a thread of its own that reads the temp file back just
 * behind the writes, so the receiving thread only receives and writes.
 * Multipart uploads write each part in place into one file (ROOT/lfs/parts/OID/data), whose
 * blocks the first part to arrive allocates, and hash the parts as soon as they are
 * contiguous, so completing a big object costs no copy and almost no hashing. What is hashed
 * and on disk leaves the page cache (drop_written). Where the filesystem allows it, parts
 * and mid-sized objects bypass the page cache altogether (O_DIRECT from buffers of the
 * store's pool; see direct_write): a part's bytes stay in their buffer until the hasher has
 * taken them, so nothing is read back.
 * An object's bytes are on disk before it is renamed into place; its new name reaches the
 * disk with the next hubd_lfs_sync, which every commit and push runs before a ref moves. */
#include "hubd/lfs_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/util.h"
#include "hubd/fault.h"

#define COPY_CHUNK (1u << 20)
/* Start writeback every this many bytes, so the fsync before the rename finds little to do
 * and a large upload is not followed by a long stall. */
#define WRITEBACK_EVERY (64ull << 20)
/* Whole objects above this size are hashed behind their writes by a thread of their own;
 * smaller ones cost less to hash inline than a thread costs to start. */
#define HASH_BEHIND_ABOVE (1u << 20)
/* The hashing thread wakes once this much is written and unhashed (not for every write),
 * and hashes at most HASH_BATCH between looks at whether the upload was aborted. */
#define HASH_STEP (1u << 20)
#define HASH_BATCH (4u << 20)
/* Direct I/O (O_DIRECT): writes start at multiples of DIRECT_ALIGN, from memory aligned as
 * much, and go out a DIRECT_STEP or more at a time. Filling fresh page cache is most of what
 * writing costs on a VM whose host takes freed memory back (measured, 2 GiB by dd: 4.6 s of
 * system time buffered, 0.16 s direct). */
#define DIRECT_ALIGN 4096u
#define DIRECT_STEP (1u << 20)
/* A part up to this size is received into one buffer of the pool and kept there until it is
 * hashed; a whole object above HASH_BEHIND_ABOVE and up to DIRECT_WHOLE_MAX is written direct
 * through a window of DIRECT_WINDOW and hashed as it comes in. Larger ones take the buffered
 * way (a whole one hashed behind its writes by a thread of its own). */
#define PART_MEM_MAX (16u << 20)
#define DIRECT_WHOLE_MAX (64u << 20)
#define DIRECT_WINDOW (2u << 20)
/* The pool's buffers, in use or idle, take at most this much memory unless set otherwise;
 * past it, uploads take the buffered way. Idle buffers are kept for the next upload: memory
 * handed back to this VM's host costs several times more to fill again. Parts wait in the
 * pool until the hasher reaches them; with 8 parallel uploads of two big files, 128 MiB was
 * spent now and then (up to 58 of 614 parts of 5 MiB went the buffered way). */
#define POOL_BUDGET (256u << 20)
/* Temp files start with this (an object's name is its oid: never a dot first). */
#define TMP_PREFIX ".upload-"
/* In ROOT/lfs while a hub has the store open; found at start, it means the last hub was
 * killed, so the temp files it left beside the objects are looked for and removed. */
#define OPEN_MARK "open"
/* In ROOT/lfs/objects once the objects are at AB/OID (stores before it kept AB/CD/OID). */
#define LAYOUT_MARK ".layout-ab"
/* Parts of multipart uploads that were never completed are dropped after this long. */
#define STALE_PARTS_SECONDS (7 * 24 * 3600)

/* How many multipart uploads keep their progress in memory; beyond that the least recently
 * touched idle one is forgotten (its completion then hashes the whole object). */
#define MAX_MULTIPART_STATES 256
/* How long a completion waits for parts still being written before it copies instead. */
#define WRITER_GRACE_SECONDS 3
/* How long a part waits for a completion of its object in progress. */
#define COMPLETION_WAIT_SECONDS 60

/* A buffer of the store's pool: DIRECT_ALIGN-aligned, cap bytes. */
typedef struct pbuf pbuf;
struct pbuf {
    pbuf *next; /* in the pool's idle list */
    size_t cap;
    unsigned char *data;
};

/* A multipart upload in progress: which parts are in, and the sha256 of parts 1..hashed. */
typedef struct mp_state mp_state;
struct mp_state {
    mp_state *next;
    char oid[65];
    uint64_t size, chunk;
    unsigned n_parts;
    bool *done;         /* done[k-1]: part k is written in full */
    pbuf **mem;         /* mem[k-1]: part k's bytes, kept in memory until hashed (or NULL) */
    unsigned hashed;    /* parts 1..hashed are in sha */
    EVP_MD_CTX *sha;
    bool hashing;       /* a thread is hashing (outside the lock) */
    bool completing;    /* a completion owns the data file: no more part writes */
    bool orphan;        /* completed while a writer hung on: freed by the last writer */
    unsigned writers;   /* part uploads writing now */
    unsigned generation; /* bumped when a hashed part is written again: hashing restarts */
    uint64_t dropped;   /* bytes 0..dropped of the data file were hashed and dropped */
    bool allocated;     /* a part writer took on to allocate the data file's blocks */
    time_t touched;
};

struct hubd_lfs_store {
    char *objects_dir;
    char *parts_dir;
    char *open_mark;
    pthread_mutex_t lock; /* guards the mp_state list and every mp_state */
    pthread_cond_t idle;  /* a state stopped hashing or lost a writer */
    pthread_cond_t work;  /* a part came in: the hasher has something to do */
    mp_state *uploads;
    size_t n_uploads;
    pthread_t hasher; /* hashes parts in the background, so part answers never wait */
    bool hasher_running, stopping;
    /* The directories AB that objects were renamed into since the last hubd_lfs_sync, by
     * AB's value: one fsync of each at the next commit instead of one per object. */
    pthread_mutex_t dirty_lock;
    bool dirty[256];
    pthread_mutex_t sync_lock; /* one sync at a time: a sync never returns before the
                                * flushes of one running when it was called are over */
    pthread_mutex_t pool_lock; /* guards the three below (taken after `lock`, never before) */
    pbuf *pool_idle;
    size_t pool_bytes;  /* of every buffer, in use or idle */
    size_t pool_budget; /* the most pool_bytes may reach */
};

/* The hashing of a whole object behind its writes. The thread owns the writer's md (and
 * w->synced) until it is joined; the rest is shared under `lock`. */
typedef struct behind behind;
struct behind {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t more; /* bytes were written, or the upload ended or was aborted */
    uint64_t written;    /* bytes in the temp file that the thread may read back */
    uint64_t hashed;     /* bytes in md */
    bool idle;           /* the thread waits for more */
    bool ended;          /* no more bytes come: hash up to `written`, then stop */
    bool stop;           /* aborted: stop at once */
    char *error;         /* why reading the temp file back failed */
};

struct hubd_lfs_writer {
    hubd_lfs_store *store;
    char oid[65];
    uint64_t size;      /* the size the bytes must add up to: the object's, or the part's */
    unsigned part;      /* 0 for a whole object */
    mp_state *mp;       /* a part: its upload (a writer counted in mp->writers) */
    uint64_t base;      /* a part: where it starts in the object */
    int fd;
    char *tmp_path;
    EVP_MD_CTX *md;     /* sha256 of a whole object; NULL for a part */
    behind *bh;         /* a large whole object: its hashing thread; else NULL (hashed inline) */
    uint64_t written;
    uint64_t synced;    /* writeback started up to here */
    uint64_t dropped;   /* out of the page cache up to here (see drop_written) */
    /* Direct I/O (fd opened with O_DIRECT) when pb is set: bytes [pb_at, pb_at + pb_fill) of
     * the object or part are in pb, the first pb_done of them on disk. A part keeps all its
     * bytes in pb, for the hasher; a whole object's window slides on. */
    pbuf *pb;
    uint64_t pb_at;
    size_t pb_fill, pb_done;
};

bool hubd_lfs_oid_valid(const char *oid)
{
    return oid && strlen(oid) == 64 && hfs_is_hex(oid, 64);
}

static char *object_path(const hubd_lfs_store *s, const char *oid)
{
    return hfs_sprintf("%s/%.2s/%s", s->objects_dir, oid, oid);
}

/* The directory of an object (and of its upload's temp file). */
static char *object_dir(const hubd_lfs_store *s, const char *oid)
{
    return hfs_sprintf("%s/%.2s", s->objects_dir, oid);
}

/* fsyncs a directory, saying what failed (callers that cannot do better ignore it). */
static int flush_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return hfs_error_set(HFS_ERROR, "cannot flush directory %s to disk: %s", dir,
                             strerror(e));
    }
    close(fd);
    return 0;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Takes bytes [from, to) of a file the hub wrote out of the page cache once they are on disk
 * (waiting for writeback that was started earlier, so usually not at all). An LFS object is
 * written once and read rarely; kept cached, the 4 GiB of one upload grow the page cache by
 * as much, and filling fresh memory is what the hub's kernel time went to: writing 3 GiB
 * measured 7.8 s of system time cached against 1.3 s with each 64 MiB dropped once written
 * back (the pages are reused while they are warm; on this VM the host takes freed memory back
 * within about a second, and touching it again costs 4-8 times more). Advice only: pages
 * still dirty, or written again meanwhile, stay. */
static void drop_written(int fd, uint64_t from, uint64_t to)
{
    if (to <= from)
        return;
    sync_file_range(fd, (off64_t)from, (off64_t)(to - from),
                    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                        SYNC_FILE_RANGE_WAIT_AFTER);
    posix_fadvise(fd, (off_t)from, (off_t)(to - from), POSIX_FADV_DONTNEED);
}

/* ---- the buffer pool and direct writes ------------------------------------------------ */

/* A buffer of at least `need` bytes: an idle one of the pool that is not more than twice as
 * large, or a new one while the pool stays within its budget (idle ones of other sizes are
 * let go to make room, when that is enough); NULL when the budget is spent. */
static pbuf *pool_take(hubd_lfs_store *s, size_t need)
{
    size_t cap = (need + DIRECT_STEP - 1) / DIRECT_STEP * DIRECT_STEP, idle = 0;
    pbuf *b = NULL;
    pthread_mutex_lock(&s->pool_lock);
    for (pbuf **pp = &s->pool_idle; *pp; pp = &(*pp)->next) {
        if ((*pp)->cap >= need && (*pp)->cap <= 2 * cap) {
            b = *pp;
            *pp = b->next;
            break;
        }
        idle += (*pp)->cap;
    }
    /* idle ones are let go only when that makes room; else they stay for uploads they fit */
    bool room = !b && s->pool_bytes - idle + cap <= s->pool_budget;
    while (room && s->pool_bytes + cap > s->pool_budget && s->pool_idle) {
        pbuf *old = s->pool_idle;
        s->pool_idle = old->next;
        s->pool_bytes -= old->cap;
        free(old->data);
        free(old);
    }
    if (!b && s->pool_bytes + cap <= s->pool_budget) {
        void *data = NULL;
        if (posix_memalign(&data, DIRECT_ALIGN, cap) == 0) {
            b = hfs_calloc(1, sizeof(*b));
            b->cap = cap;
            b->data = data;
            s->pool_bytes += cap;
        }
    }
    pthread_mutex_unlock(&s->pool_lock);
    if (b)
        b->next = NULL;
    return b;
}

static void pool_give(hubd_lfs_store *s, pbuf *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&s->pool_lock);
    b->next = s->pool_idle;
    s->pool_idle = b;
    pthread_mutex_unlock(&s->pool_lock);
}

/* Turns O_DIRECT on for fd and gives w a buffer of `need` bytes for it; false (w unchanged)
 * where the filesystem refuses direct I/O (tmpfs) or the pool is spent. */
static bool direct_start(hubd_lfs_writer *w, size_t need)
{
    int flags = fcntl(w->fd, F_GETFL);
    if (flags < 0)
        return false;
    pbuf *b = pool_take(w->store, need);
    if (!b)
        return false;
    if (fcntl(w->fd, F_SETFL, flags | O_DIRECT) != 0) {
        pool_give(w->store, b);
        return false;
    }
    w->pb = b;
    return true;
}

/* Turns O_DIRECT off for fd, for good: what is left is written through the page cache. */
static bool direct_off(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags >= 0 && (flags & O_DIRECT) && fcntl(fd, F_SETFL, flags & ~O_DIRECT) == 0;
}

/* Writes len bytes at off (of the file): direct while fd has O_DIRECT and the write keeps to
 * its alignment, else buffered (O_DIRECT is turned off for good on the first refusal). */
static int pwrite_all(hubd_lfs_writer *w, const unsigned char *p, size_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(w->fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EINVAL && direct_off(w->fd))
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            if (e == ENOSPC)
                hubd_disk_note_full();
            return hfs_error_set(HFS_ERROR, "cannot write %s: %s", w->tmp_path, strerror(e));
        }
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
        if (len > 0 && (n % DIRECT_ALIGN) != 0) /* a short write: the rest goes buffered */
            direct_off(w->fd);
    }
    return 0;
}

/* Writes out what pb holds beyond pb_done: its whole DIRECT_ALIGN blocks, and at the end
 * (final) the last partial block too, buffered (direct writes cannot end there); a sliding
 * window then keeps only its unwritten partial block. */
static int direct_flush(hubd_lfs_writer *w, bool final)
{
    size_t whole = w->pb_fill / DIRECT_ALIGN * DIRECT_ALIGN;
    uint64_t at = w->base + w->pb_at;
    int rc = 0;
    if (whole > w->pb_done &&
        (rc = pwrite_all(w, w->pb->data + w->pb_done, whole - w->pb_done, at + w->pb_done)) < 0)
        return rc;
    w->pb_done = whole;
    if (final && w->pb_fill > whole) {
        direct_off(w->fd);
        if ((rc = pwrite_all(w, w->pb->data + whole, w->pb_fill - whole, at + whole)) < 0)
            return rc;
        w->pb_done = w->pb_fill;
    }
    if (w->part == 0 && whole > 0) { /* a whole object's window */
        memmove(w->pb->data, w->pb->data + whole, w->pb_fill - whole);
        w->pb_at += whole;
        w->pb_fill -= whole;
        w->pb_done -= whole;
    }
    return 0;
}

/* Takes bytes that came in into pb (a full disk, --fault enospc, takes what fits and fails as
 * write(2) does), hashing them for a whole object, and writes them out a step at a time. */
static int direct_write(hubd_lfs_writer *w, const unsigned char *data, size_t len)
{
    size_t room = hubd_disk_take(len);
    bool full = room < len;
    while (room > 0) {
        size_t n = w->pb->cap - w->pb_fill < room ? w->pb->cap - w->pb_fill : room;
        memcpy(w->pb->data + w->pb_fill, data, n);
        if (w->md)
            EVP_DigestUpdate(w->md, data, n);
        w->pb_fill += n;
        w->written += n;
        data += n;
        room -= n;
        if (w->pb_fill - w->pb_done >= DIRECT_STEP || w->pb_fill == w->pb->cap) {
            int rc = direct_flush(w, false);
            if (rc < 0)
                return rc;
        }
    }
    if (full)
        return hfs_error_set(HFS_ERROR, "cannot write %s: %s", w->tmp_path, strerror(ENOSPC));
    return 0;
}

/* Makes dir, a child of the existing parent, unless it exists; a new one is made durable in
 * its parent. One mkdir, not one per component: this runs for every upload. */
static int make_child_dir(const char *dir, const char *parent)
{
    if (mkdir(dir, 0755) == 0) {
        flush_dir(parent);
        return 0;
    }
    if (errno == EEXIST)
        return 0;
    return hfs_error_set(HFS_ERROR, "cannot create directory %s: %s", dir, strerror(errno));
}

static char *part_dir(const hubd_lfs_store *s, const char *oid)
{
    return hfs_path_join(s->parts_dir, oid);
}

/* The one file a multipart upload's parts are written into. */
static char *data_file(const hubd_lfs_store *s, const char *oid)
{
    return hfs_sprintf("%s/%s/data", s->parts_dir, oid);
}

/* Hashes bytes [from, to) of fd into md, and writes them to copy_fd as well unless it is -1. */
static int hash_range(EVP_MD_CTX *md, int fd, uint64_t from, uint64_t to, const char *path,
                      int copy_fd, const char *copy_path);

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *child = hfs_path_join(path, de->d_name);
        remove_tree(child);
        free(child);
    }
    closedir(d);
    rmdir(path);
}

static bool is_hex_name(const char *name, size_t len)
{
    return strlen(name) == len && hfs_is_hex(name, len);
}

/* Removes the temp files (TMP_PREFIX...) directly in dir. */
static void remove_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0)
            continue;
        char *p = hfs_path_join(dir, de->d_name);
        unlink(p);
        free(p);
    }
    closedir(d);
}

/* Calls fn(child path) for each subdirectory of dir named by `len` hex digits. */
static void each_hex_dir(const char *dir, size_t len, void (*fn)(const char *))
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!is_hex_name(de->d_name, len))
            continue;
        char *p = hfs_path_join(dir, de->d_name);
        fn(p);
        free(p);
    }
    closedir(d);
}

/* Moves the objects of an old store's AB/CD/ directories up into AB/. A rename is atomic, so
 * a hub killed half way leaves each object at one of its two places, and the next start
 * moves the rest. */
static void flatten_prefix(const char *ab)
{
    DIR *d = opendir(ab);
    if (!d)
        return;
    struct dirent *de;
    bool moved = false;
    while ((de = readdir(d))) {
        if (!is_hex_name(de->d_name, 2))
            continue;
        char *cd = hfs_path_join(ab, de->d_name);
        DIR *inner = opendir(cd);
        struct dirent *o;
        while (inner && (o = readdir(inner))) {
            if (!is_hex_name(o->d_name, 64))
                continue;
            char *from = hfs_path_join(cd, o->d_name), *to = hfs_path_join(ab, o->d_name);
            moved |= rename(from, to) == 0;
            free(from);
            free(to);
        }
        if (inner)
            closedir(inner);
        remove_temps(cd);
        rmdir(cd);
        free(cd);
    }
    closedir(d);
    if (moved)
        flush_dir(ab);
}

/* Temp files left by a crash are never objects; clear them, and multipart parts abandoned
 * long ago, when the store opens. Objects of an older store are moved to this layout. */
static int sweep(hubd_lfs_store *s, const char *lfs)
{
    char *layout = hfs_path_join(s->objects_dir, LAYOUT_MARK);
    bool crashed = access(s->open_mark, F_OK) == 0;
    int rc = 0;
    if (access(layout, F_OK) != 0) {
        each_hex_dir(s->objects_dir, 2, flatten_prefix);
        rc = hfs_write_file_atomic(layout, "", 0, 0644);
    } else if (crashed) {
        each_hex_dir(s->objects_dir, 2, remove_temps);
    }
    free(layout);
    /* the temp directory of stores before this layout */
    char *old_tmp = hfs_path_join(lfs, "tmp");
    remove_tree(old_tmp);
    free(old_tmp);
    DIR *d = opendir(s->parts_dir);
    struct dirent *de;
    if (d) {
        time_t now = time(NULL);
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            char *p = hfs_path_join(s->parts_dir, de->d_name);
            struct stat st;
            if (stat(p, &st) == 0 && now - st.st_mtime > STALE_PARTS_SECONDS)
                remove_tree(p);
            else if (crashed)
                remove_temps(p);
            free(p);
        }
        closedir(d);
    }
    if (rc == 0)
        rc = hfs_write_file_atomic(s->open_mark, "", 0, 0644);
    return rc;
}

static void *hasher_main(void *arg);
static void mp_free(hubd_lfs_store *s, mp_state *m);

int hubd_lfs_store_open(hubd_lfs_store **out, const char *root)
{
    int rc;
    *out = NULL;
    hubd_lfs_store *s = hfs_calloc(1, sizeof(*s));
    char *lfs = hfs_path_join(root, "lfs");
    s->objects_dir = hfs_path_join(lfs, "objects");
    s->parts_dir = hfs_path_join(lfs, "parts");
    s->open_mark = hfs_path_join(lfs, OPEN_MARK);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->idle, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_mutex_init(&s->dirty_lock, NULL);
    pthread_mutex_init(&s->sync_lock, NULL);
    pthread_mutex_init(&s->pool_lock, NULL);
    s->pool_budget = POOL_BUDGET;
    if ((rc = hfs_mkdir_p(s->objects_dir)) < 0 || (rc = hfs_mkdir_p(s->parts_dir)) < 0 ||
        (rc = sweep(s, lfs)) < 0) {
        free(lfs);
        hubd_lfs_store_free(s);
        return rc;
    }
    free(lfs);
    if (pthread_create(&s->hasher, NULL, hasher_main, s) != 0) {
        hubd_lfs_store_free(s);
        return hfs_error_set(HFS_ERROR, "cannot start the LFS store's hashing thread");
    }
    s->hasher_running = true;
    *out = s;
    return 0;
}

void hubd_lfs_store_free(hubd_lfs_store *s)
{
    if (!s)
        return;
    if (s->hasher_running) {
        pthread_mutex_lock(&s->lock);
        s->stopping = true;
        pthread_cond_broadcast(&s->work);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->hasher, NULL);
    }
    if (hubd_lfs_sync(s) < 0)
        hfs_warn("hub: %s", hfs_error_last());
    /* closed cleanly: no temp file of this hub's is left to look for at the next start */
    if (s->open_mark && s->hasher_running)
        unlink(s->open_mark);
    free(s->objects_dir);
    free(s->parts_dir);
    free(s->open_mark);
    while (s->uploads) {
        mp_state *m = s->uploads;
        s->uploads = m->next;
        mp_free(s, m);
    }
    while (s->pool_idle) {
        pbuf *b = s->pool_idle;
        s->pool_idle = b->next;
        free(b->data);
        free(b);
    }
    pthread_mutex_destroy(&s->pool_lock);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->idle);
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->dirty_lock);
    pthread_mutex_destroy(&s->sync_lock);
    free(s);
}

void hubd_lfs_store_set_pool_budget(hubd_lfs_store *s, size_t bytes)
{
    pthread_mutex_lock(&s->pool_lock);
    s->pool_budget = bytes;
    pthread_mutex_unlock(&s->pool_lock);
}

int hubd_lfs_sync(hubd_lfs_store *s)
{
    bool todo[256];
    int rc = 0, flushed = 0;
    pthread_mutex_lock(&s->sync_lock);
    pthread_mutex_lock(&s->dirty_lock);
    memcpy(todo, s->dirty, sizeof(todo));
    memset(s->dirty, 0, sizeof(s->dirty));
    pthread_mutex_unlock(&s->dirty_lock);
    unsigned i;
    for (i = 0; i < 256 && rc == 0; i++) {
        if (!todo[i])
            continue;
        char *dir = hfs_sprintf("%s/%02x", s->objects_dir, i);
        if ((rc = flush_dir(dir)) == 0)
            flushed++;
        free(dir);
    }
    if (rc < 0) { /* the one that failed and those after it: the next sync tries again */
        pthread_mutex_lock(&s->dirty_lock);
        for (unsigned j = i - 1; j < 256; j++)
            s->dirty[j] |= todo[j];
        pthread_mutex_unlock(&s->dirty_lock);
    }
    pthread_mutex_unlock(&s->sync_lock);
    return rc < 0 ? rc : flushed;
}

bool hubd_lfs_has(const hubd_lfs_store *s, const char *oid, uint64_t *size)
{
    if (!hubd_lfs_oid_valid(oid))
        return false;
    char *p = object_path(s, oid);
    struct stat st;
    bool ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);
    free(p);
    if (ok && size)
        *size = (uint64_t)st.st_size;
    return ok;
}

char *hubd_lfs_object_path(const hubd_lfs_store *s, const char *oid)
{
    if (!hubd_lfs_has(s, oid, NULL))
        return NULL;
    return object_path(s, oid);
}

/* A temp file in dir, which exists. */
static int open_tmp(const char *dir, char **path_out, int *fd_out)
{
    char *path = hfs_path_join(dir, TMP_PREFIX "XXXXXX");
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        free(path);
        return hfs_error_set(HFS_ERROR, "cannot create a temp file in %s: %s", dir,
                             strerror(e));
    }
    *path_out = path;
    *fd_out = fd;
    return 0;
}

static int writer_new(hubd_lfs_writer **out, hubd_lfs_store *s, const char *oid, uint64_t size,
                      unsigned part)
{
    *out = NULL;
    if (!hubd_lfs_oid_valid(oid))
        return hfs_error_set(HFS_EINVALID, "'%.80s' is not an LFS oid (64 lowercase hex digits)",
                             oid ? oid : "");
    hubd_lfs_writer *w = hfs_calloc(1, sizeof(*w));
    w->store = s;
    memcpy(w->oid, oid, 65);
    w->size = size;
    w->part = part;
    w->fd = -1;
    char *dir = object_dir(s, oid);
    int rc = make_child_dir(dir, s->objects_dir);
    if (rc == 0)
        rc = open_tmp(dir, &w->tmp_path, &w->fd);
    free(dir);
    if (rc < 0) {
        free(w);
        return rc;
    }
    w->md = EVP_MD_CTX_new();
    if (!w->md || !EVP_DigestInit_ex(w->md, EVP_sha256(), NULL)) {
        hubd_lfs_writer_abort(w);
        return hfs_error_set(HFS_ERROR, "cannot start hashing an upload: OpenSSL failed");
    }
    *out = w;
    return 0;
}

/* ---- hashing a whole object behind its writes ---------------------------------------- */

/* Hashes bytes [from, to) of an upload's temp file through a mapping of them: the bytes were
 * just written, so they are in the page cache, and hashing them there costs a sixth less CPU
 * than copying them out with pread first (measured on a 1 GiB PUT). The file is the upload's
 * own and never shrinks while it is mapped. Without a mapping, the bytes are read. */
static int hash_mapped(EVP_MD_CTX *md, int fd, uint64_t from, uint64_t to, const char *path)
{
    uint64_t start = from - from % (uint64_t)sysconf(_SC_PAGESIZE);
    void *p = mmap(NULL, (size_t)(to - start), PROT_READ, MAP_SHARED | MAP_POPULATE, fd,
                   (off_t)start);
    if (p == MAP_FAILED)
        return hash_range(md, fd, from, to, path, -1, NULL);
    EVP_DigestUpdate(md, (const char *)p + (from - start), (size_t)(to - from));
    munmap(p, (size_t)(to - start));
    return 0;
}

/* Reads back and hashes what was written, a batch at a time, until the upload ends (then up
 * to its last byte) or is aborted. Writeback of the hashed bytes is started here too, off the
 * receiving thread, so the fsync before the rename finds little left to do. */
static void *behind_main(void *arg)
{
    hubd_lfs_writer *w = arg;
    behind *b = w->bh;
    pthread_mutex_lock(&b->lock);
    for (;;) {
        while (!b->stop && !b->ended && b->written - b->hashed < HASH_STEP) {
            b->idle = true;
            pthread_cond_wait(&b->more, &b->lock);
            b->idle = false;
        }
        if (b->stop || b->hashed == b->written)
            break;
        uint64_t from = b->hashed;
        uint64_t to = b->written - from > HASH_BATCH ? from + HASH_BATCH : b->written;
        pthread_mutex_unlock(&b->lock);
        int rc = hash_mapped(w->md, w->fd, from, to, w->tmp_path);
        if (rc == 0 && to - w->synced >= WRITEBACK_EVERY) {
            /* the window before this one went to disk meanwhile: it leaves the cache */
            drop_written(w->fd, w->dropped, w->synced);
            w->dropped = w->synced;
            sync_file_range(w->fd, (off64_t)w->synced, (off64_t)(to - w->synced),
                            SYNC_FILE_RANGE_WRITE);
            w->synced = to;
        }
        pthread_mutex_lock(&b->lock);
        if (rc < 0) {
            b->error = hfs_strdup(hfs_error_last());
            break;
        }
        b->hashed = to;
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

/* Starts the hashing thread of w; without one (no thread to be had) w is hashed inline. */
static void behind_start(hubd_lfs_writer *w)
{
    behind *b = hfs_calloc(1, sizeof(*b));
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->more, NULL);
    w->bh = b;
    int e = pthread_create(&b->thread, NULL, behind_main, w);
    if (e != 0) {
        hfs_debug("hashing LFS object %s inline: no thread for it (%s)", w->oid, strerror(e));
        pthread_mutex_destroy(&b->lock);
        pthread_cond_destroy(&b->more);
        free(b);
        w->bh = NULL;
    }
}

/* Tells the thread how far the file is written (or that it ended, or was aborted). */
static void behind_tell(behind *b, uint64_t written, bool ended, bool stop)
{
    pthread_mutex_lock(&b->lock);
    b->written = written;
    b->ended |= ended;
    b->stop |= stop;
    if (b->idle && (ended || stop || b->written - b->hashed >= HASH_STEP))
        pthread_cond_signal(&b->more);
    pthread_mutex_unlock(&b->lock);
}

/* Waits for the thread to be done (after behind_tell with ended or stop) and frees it;
 * fails if it could not read the temp file back (saying so if `report`). */
static int behind_join(hubd_lfs_writer *w, bool report)
{
    behind *b = w->bh;
    int rc = 0;
    pthread_join(b->thread, NULL);
    if (b->error && !report)
        rc = HFS_ERROR;
    else if (b->error)
        rc = hfs_error_set(HFS_ERROR, "%s", b->error);
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->more);
    free(b->error);
    free(b);
    w->bh = NULL;
    return rc;
}

int hubd_lfs_writer_begin(hubd_lfs_writer **out, hubd_lfs_store *s, const char *oid,
                          uint64_t size)
{
    int rc = writer_new(out, s, oid, size, 0);
    if (rc == 0 && size > HASH_BEHIND_ABOVE &&
        (size > DIRECT_WHOLE_MAX || !direct_start(*out, DIRECT_WINDOW)))
        behind_start(*out);
    return rc;
}

/* ---- multipart uploads in progress --------------------------------------------------- */

static void mp_free(hubd_lfs_store *s, mp_state *m)
{
    if (!m)
        return;
    for (unsigned k = 0; m->mem && k < m->n_parts; k++)
        pool_give(s, m->mem[k]);
    EVP_MD_CTX_free(m->sha);
    free(m->done);
    free(m->mem);
    free(m);
}

/* Starts the running hash over (lock held, nobody hashing). */
static void mp_restart_hash(mp_state *m)
{
    EVP_DigestInit_ex(m->sha, EVP_sha256(), NULL);
    m->hashed = 0;
}

static bool mp_busy(const mp_state *m)
{
    return m->writers || m->hashing || m->completing;
}

static void mp_unlink(hubd_lfs_store *s, mp_state *m)
{
    for (mp_state **pp = &s->uploads; *pp; pp = &(*pp)->next) {
        if (*pp == m) {
            *pp = m->next;
            s->n_uploads--;
            return;
        }
    }
}

static mp_state *mp_find(hubd_lfs_store *s, const char *oid)
{
    for (mp_state *m = s->uploads; m; m = m->next)
        if (strcmp(m->oid, oid) == 0)
            return m;
    return NULL;
}

/* The upload of oid with this size and chunk (lock held): found, or made anew. An idle state
 * issued with another size or chunk is replaced; a busy one is an error. */
static int mp_get(mp_state **out, hubd_lfs_store *s, const char *oid, uint64_t size,
                  uint64_t chunk)
{
    mp_state *m = mp_find(s, oid);
    if (m && (m->size != size || m->chunk != chunk)) {
        if (mp_busy(m))
            return hfs_error_set(HFS_ELOCKED,
                                 "another multipart upload of LFS object %s (in parts of %llu "
                                 "bytes) is in progress; try again when it is over",
                                 oid, (unsigned long long)m->chunk);
        mp_unlink(s, m);
        mp_free(s, m);
        m = NULL;
    }
    if (!m) {
        if (s->n_uploads >= MAX_MULTIPART_STATES) {
            mp_state *oldest = NULL;
            for (mp_state *o = s->uploads; o; o = o->next)
                if (!mp_busy(o) && (!oldest || o->touched < oldest->touched))
                    oldest = o;
            if (oldest) {
                mp_unlink(s, oldest);
                mp_free(s, oldest);
            }
        }
        m = hfs_calloc(1, sizeof(*m));
        memcpy(m->oid, oid, 65);
        m->size = size;
        m->chunk = chunk;
        m->n_parts = (unsigned)((size + chunk - 1) / chunk);
        m->done = hfs_calloc(m->n_parts, sizeof(bool));
        m->mem = hfs_calloc(m->n_parts, sizeof(pbuf *));
        m->sha = EVP_MD_CTX_new();
        if (!m->sha) {
            mp_free(s, m);
            return hfs_error_set(HFS_ERROR, "cannot start hashing an upload: OpenSSL failed");
        }
        mp_restart_hash(m);
        m->next = s->uploads;
        s->uploads = m;
        s->n_uploads++;
    }
    m->touched = time(NULL);
    *out = m;
    return 0;
}

/* Hashes the parts that follow the hashed ones and are in (lock held on entry and exit,
 * released while reading). One thread at a time; the others leave it to that one. */
static void mp_advance(hubd_lfs_store *s, mp_state *m)
{
    if (m->hashing || m->completing)
        return;
    m->hashing = true;
    char *path = data_file(s, m->oid);
    EVP_MD_CTX *work = EVP_MD_CTX_new();
    while (work && !m->completing && m->hashed < m->n_parts && m->done[m->hashed]) {
        unsigned gen = m->generation;
        uint64_t dropped = m->dropped;
        uint64_t off = (uint64_t)m->hashed * m->chunk;
        uint64_t len = m->size - off < m->chunk ? m->size - off : m->chunk;
        pbuf *mem = m->mem[m->hashed]; /* taken: a retry of the part cannot free it now */
        m->mem[m->hashed] = NULL;
        EVP_MD_CTX_copy_ex(work, m->sha);
        pthread_mutex_unlock(&s->lock);
        bool ok = true;
        if (mem) { /* written direct, its bytes kept for this: nothing to read or drop */
            EVP_DigestUpdate(work, mem->data, (size_t)len);
            pool_give(s, mem);
        } else {
            /* a part is done once written to its end, so the file holds all of
             * [off, off+len): mapped, it is hashed where it sits in the page cache */
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            ok = fd >= 0 && hash_mapped(work, fd, off, off + len, path) == 0;
            /* Its writeback starts now, while other parts come in: the completion's fsync
             * would otherwise write the whole object at once (about a second per 1.5 GiB
             * here, with nothing else to do meanwhile when it is the upload's last step). */
            if (ok)
                sync_file_range(fd, (off64_t)off, (off64_t)len, SYNC_FILE_RANGE_WRITE);
            /* and what was hashed a window before leaves the page cache (see drop_written) */
            if (ok && off > dropped + WRITEBACK_EVERY) {
                drop_written(fd, dropped, off - WRITEBACK_EVERY);
                dropped = off - WRITEBACK_EVERY;
            }
            if (fd >= 0)
                close(fd);
        }
        pthread_mutex_lock(&s->lock);
        m->dropped = dropped;
        /* A part written again meanwhile (a retry) may have changed hashed bytes: start over,
         * and let the completion hash what is left. */
        if (!ok || gen != m->generation) {
            mp_restart_hash(m);
            break;
        }
        EVP_MD_CTX_copy_ex(m->sha, work);
        m->hashed++;
    }
    EVP_MD_CTX_free(work);
    free(path);
    m->hashing = false;
    pthread_cond_broadcast(&s->idle);
}

static bool mp_ready(const mp_state *m)
{
    return !m->hashing && !m->completing && m->hashed < m->n_parts && m->done[m->hashed];
}

/* The background hasher: whichever upload has its next part in gets it hashed. */
static void *hasher_main(void *arg)
{
    hubd_lfs_store *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        mp_state *m = s->uploads;
        while (m && !mp_ready(m))
            m = m->next;
        if (m)
            mp_advance(s, m); /* m stays listed: only a completion unlinks, after hashing */
        else
            pthread_cond_wait(&s->work, &s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int hubd_lfs_part_begin(hubd_lfs_writer **out, hubd_lfs_store *s, const char *oid,
                        unsigned part_number, uint64_t size, uint64_t chunk)
{
    *out = NULL;
    if (!hubd_lfs_oid_valid(oid))
        return hfs_error_set(HFS_EINVALID, "'%.80s' is not an LFS oid (64 lowercase hex digits)",
                             oid ? oid : "");
    if (size == 0 || chunk == 0 || (size + chunk - 1) / chunk > 99999)
        return hfs_error_set(HFS_EINVALID,
                             "a multipart upload of %llu bytes in parts of %llu bytes is not "
                             "possible (1 to 99999 parts)",
                             (unsigned long long)size, (unsigned long long)chunk);
    uint64_t n_parts = (size + chunk - 1) / chunk;
    if (part_number == 0 || part_number > n_parts)
        return hfs_error_set(HFS_EINVALID, "part number %u is out of range (1 to %llu)",
                             part_number, (unsigned long long)n_parts);
    uint64_t offset = (uint64_t)(part_number - 1) * chunk;

    pthread_mutex_lock(&s->lock);
    mp_state *m = NULL;
    int rc = 0;
    /* A completion in progress (say, of a client that was killed and runs again) is waited
     * for: if it makes the object, this part is taken and dropped (the client's completion
     * then finds the object); if it fails, the part goes in as usual. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += COMPLETION_WAIT_SECONDS;
    while ((m = mp_find(s, oid)) && m->completing) {
        if (pthread_cond_timedwait(&s->idle, &s->lock, &until) == ETIMEDOUT) {
            rc = hfs_error_set(HFS_ELOCKED,
                               "the multipart upload of LFS object %s is being completed; "
                               "try again in a moment",
                               oid);
            break;
        }
    }
    bool stored = rc == 0 && !m && hubd_lfs_has(s, oid, NULL);
    if (rc == 0 && !stored)
        rc = mp_get(&m, s, oid, size, chunk);
    if (rc == 0 && !stored) {
        /* Sent again (a retry): it is not in until this upload finishes, and if its bytes were
         * hashed (or are being hashed), the hash must start over. */
        m->done[part_number - 1] = false;
        pool_give(s, m->mem[part_number - 1]);
        m->mem[part_number - 1] = NULL;
        if (part_number <= m->hashed || (m->hashing && part_number == m->hashed + 1)) {
            m->generation++;
            if (!m->hashing)
                mp_restart_hash(m);
        }
        m->writers++;
    }
    bool allocate = rc == 0 && !stored && !m->allocated;
    if (allocate)
        m->allocated = true;
    pthread_mutex_unlock(&s->lock);
    if (rc < 0)
        return rc;

    hubd_lfs_writer *w = hfs_calloc(1, sizeof(*w));
    w->store = s;
    memcpy(w->oid, oid, 65);
    w->part = part_number;
    w->mp = stored ? NULL : m;
    w->base = offset;
    w->size = size - offset < chunk ? size - offset : chunk;
    w->fd = -1;
    char *dir = part_dir(s, oid);
    /* the object exists: the bytes are read (for the ETag) and dropped */
    w->tmp_path = stored ? hfs_strdup("/dev/null") : data_file(s, oid);
    if (stored) {
        if ((w->fd = open(w->tmp_path, O_WRONLY | O_CLOEXEC)) < 0)
            rc = hfs_error_set(HFS_ERROR, "cannot open /dev/null: %s", strerror(errno));
    } else if ((rc = hfs_mkdir_p(dir)) == 0) {
        w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (w->fd < 0 || lseek(w->fd, (off_t)offset, SEEK_SET) < 0)
            rc = hfs_error_set(HFS_ERROR, "cannot open %s for part %u: %s", w->tmp_path,
                               part_number, strerror(errno));
        /* The whole object's blocks at once: every part then writes inside the file and
         * onto blocks it has, which ext4 lets direct writes do side by side (a write past
         * the end of the file takes the inode's lock for itself, and the parts came in one
         * at a time). Only a head start: where it fails, the writes allocate as they go. */
        if (rc == 0 && allocate && fallocate(w->fd, 0, 0, (off_t)size) != 0)
            hfs_debug("cannot allocate %llu bytes for the parts of %s: %s",
                      (unsigned long long)size, oid, strerror(errno));
        /* every part starts on a block when the chunk is whole blocks: the part is written
         * direct and kept in memory for the hasher */
        if (rc == 0 && chunk % DIRECT_ALIGN == 0 && w->size <= PART_MEM_MAX)
            direct_start(w, (size_t)w->size);
    }
    free(dir);
    if (rc < 0) {
        hubd_lfs_writer_abort(w);
        return rc;
    }
    *out = w;
    return 0;
}

static int write_all(int fd, const void *data, size_t len, const char *path)
{
    /* a full disk (--fault enospc) takes what fits, then fails the write as write(2) does */
    size_t room = hubd_disk_take(len);
    bool full = room < len;
    if (hfs_write_all(fd, data, room) < 0) {
        if (errno == ENOSPC)
            hubd_disk_note_full();
        return hfs_error_set(HFS_ERROR, "cannot write %s: %s", path, strerror(errno));
    }
    if (full)
        return hfs_error_set(HFS_ERROR, "cannot write %s: %s", path, strerror(ENOSPC));
    return 0;
}

int hubd_lfs_writer_write(hubd_lfs_writer *w, const void *data, size_t len)
{
    if (w->written + len > w->size) {
        if (w->part)
            return hfs_error_set(HFS_EINVALID,
                                 "part %u of LFS object %s is longer than its %llu bytes",
                                 w->part, w->oid, (unsigned long long)w->size);
        return hfs_error_set(HFS_EINVALID,
                             "upload of LFS object %s is longer than its declared size %llu",
                             w->oid, (unsigned long long)w->size);
    }
    if (w->pb)
        return direct_write(w, data, len);
    int rc = write_all(w->fd, data, len, w->tmp_path);
    if (rc < 0)
        return rc;
    w->written += len;
    if (w->bh) { /* its thread hashes and starts writeback */
        behind_tell(w->bh, w->written, false, false);
        return 0;
    }
    if (w->md)
        EVP_DigestUpdate(w->md, data, len);
    if (w->written - w->synced >= WRITEBACK_EVERY) {
        sync_file_range(w->fd, (off64_t)(w->base + w->synced),
                        (off64_t)(w->written - w->synced), SYNC_FILE_RANGE_WRITE);
        w->synced = w->written;
    }
    return 0;
}

static void digest_hex(EVP_MD_CTX *md, char *out, size_t out_size)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_DigestFinal_ex(md, d, &n);
    for (unsigned i = 0; i < n && 2 * i + 2 < out_size; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Makes a verified temp file the object: fsync, then an atomic rename into AB/, which the
 * caller made (with the temp file in it, or for a multipart upload's assembled parts). The
 * rename reaches the disk with the next hubd_lfs_sync: objects come in by the thousand
 * between two commits, into 256 directories, and a directory fsync per object cost the hub
 * 0.2 s of system time per 5,000 small objects (1.6 s -> 1.4 s, wall 2.56 -> 2.42 s). */
static int publish(hubd_lfs_store *s, const char *oid, int fd, const char *tmp_path)
{
    if (fsync(fd) != 0)
        return hfs_error_set(HFS_ERROR, "cannot flush %s: %s", tmp_path, strerror(errno));
    /* on disk now: nothing of it need stay in the page cache (see drop_written) */
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    char *dest = object_path(s, oid);
    int rc = 0;
    if (rename(tmp_path, dest) != 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot move %s to %s: %s", tmp_path, dest,
                           strerror(errno));
    } else {
        pthread_mutex_lock(&s->dirty_lock);
        s->dirty[hex_digit(oid[0]) * 16 + hex_digit(oid[1])] = true;
        pthread_mutex_unlock(&s->dirty_lock);
    }
    free(dest);
    return rc;
}

static void writer_free(hubd_lfs_writer *w, bool unlink_tmp)
{
    if (w->bh) { /* it reads w->fd: stopped before the fd is closed */
        behind_tell(w->bh, w->written, false, true);
        behind_join(w, false); /* the upload failed already, or is dropped */
    }
    if (w->fd >= 0)
        close(w->fd);
    pool_give(w->store, w->pb);
    if (w->mp) {
        /* a part writes into the upload's shared file: never removed here */
        hubd_lfs_store *s = w->store;
        mp_state *orphan = NULL;
        pthread_mutex_lock(&s->lock);
        w->mp->writers--;
        if (w->mp->orphan && w->mp->writers == 0)
            orphan = w->mp;
        pthread_cond_broadcast(&s->idle);
        pthread_mutex_unlock(&s->lock);
        mp_free(s, orphan);
        unlink_tmp = false;
    }
    /* Only a whole object's temp file is ever removed: a part writes into the upload's
     * shared file, or into /dev/null when its object was stored meanwhile. */
    if (unlink_tmp && w->part == 0 && w->tmp_path)
        unlink(w->tmp_path);
    free(w->tmp_path);
    EVP_MD_CTX_free(w->md);
    free(w);
}

int hubd_lfs_writer_finish(hubd_lfs_writer *w)
{
    int rc = 0;
    bool renamed = false;
    char got[65] = "";
    if (w->written != w->size) {
        rc = hfs_error_set(HFS_EINVALID,
                           "upload of LFS object %s ended after %llu bytes; its declared size "
                           "is %llu",
                           w->oid, (unsigned long long)w->written, (unsigned long long)w->size);
        goto done;
    }
    if (w->bh) {
        behind_tell(w->bh, w->written, true, false);
        if ((rc = behind_join(w, true)) < 0)
            goto done;
    }
    if (w->pb && (rc = direct_flush(w, true)) < 0)
        goto done;
    digest_hex(w->md, got, sizeof(got));
    if (strcmp(got, w->oid) != 0) {
        rc = hfs_error_set(HFS_EINVALID,
                           "uploaded bytes hash to sha256 %s, not to the LFS oid %s they were "
                           "sent for",
                           got, w->oid);
        goto done;
    }
    if (hubd_lfs_has(w->store, w->oid, NULL))
        goto done; /* stored meanwhile by another upload of the same content */
    rc = publish(w->store, w->oid, w->fd, w->tmp_path);
    /* once renamed, the temp name may be reused by another upload: never unlink it again */
    renamed = rc == 0;
done:
    writer_free(w, !renamed);
    return rc;
}

void hubd_lfs_writer_abort(hubd_lfs_writer *w)
{
    if (w)
        writer_free(w, true);
}

/* The ETags of an upload's parts: one file beside the data, part k's at (k - 1) * ETAG_RECORD
 * (the quoted token and a newline), zeros for a part not in. One file, not one per part:
 * a file per part was hundreds of inodes made and freed per big object, and on ext4 without
 * a journal every inode freed in the last five minutes is stepped over, one lookup each, by
 * every file the hub creates meanwhile (the hub's system time per upload of the 4 GiB bench
 * tree went from 2.5 s to over 4 s when its inode group held some). */
#define ETAG_RECORD 35u

static char *etags_path(const hubd_lfs_store *s, const char *oid)
{
    return hfs_sprintf("%s/%s/etags", s->parts_dir, oid);
}

int hubd_lfs_part_finish(hubd_lfs_writer *w, char *etag_out, size_t etag_size)
{
    int rc = 0;
    char tag[33] = "";
    hubd_lfs_store *s = w->store;
    char *etag_path = etags_path(s, w->oid);
    int etag_fd = -1;
    /* A part's ETag is opaque to clients, which only hand it back in the completion: a
     * random token naming this upload of the part (S3's md5 of the bytes cost the hub more
     * CPU than the sha256 of the whole object). */
    unsigned char token[16];
    if (RAND_bytes(token, sizeof(token)) != 1) {
        rc = hfs_error_set(HFS_ERROR, "cannot make an ETag for part %u: OpenSSL's RAND_bytes "
                                      "failed",
                           w->part);
        goto done;
    }
    for (size_t i = 0; i < sizeof(token); i++)
        snprintf(tag + 2 * i, 3, "%02x", token[i]);
    if (w->written != w->size) {
        rc = hfs_error_set(HFS_EINVALID,
                           "part %u of LFS object %s ended after %llu bytes; it has %llu",
                           w->part, w->oid, (unsigned long long)w->written,
                           (unsigned long long)w->size);
        goto done;
    }
    if (!w->mp) { /* a part of an object stored meanwhile: nothing to keep */
        snprintf(etag_out, etag_size, "\"%s\"", tag);
        goto done;
    }
    if (w->pb && (rc = direct_flush(w, true)) < 0)
        goto done;
    /* No fsync per part: the completion flushes the whole file before the object appears,
     * and hashes it, so a part lost in a crash is caught there. */
    /* the ETag goes beside the data so the completion can check it before anything else;
     * a part sent again overwrites its record (the last one to finish is the part) */
    char quoted[ETAG_RECORD + 1];
    snprintf(quoted, sizeof(quoted), "\"%s\"\n", tag);
    etag_fd = open(etag_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (etag_fd < 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot open %s: %s", etag_path, strerror(errno));
        goto done;
    }
    errno = 0;
    if (pwrite(etag_fd, quoted, ETAG_RECORD, (off_t)(w->part - 1) * ETAG_RECORD) !=
        (ssize_t)ETAG_RECORD) {
        rc = hfs_error_set(HFS_ERROR, "cannot write the ETag of part %u to %s: %s", w->part,
                           etag_path, errno ? strerror(errno) : "short write");
        goto done;
    }
    snprintf(etag_out, etag_size, "%.*s", (int)ETAG_RECORD - 1, quoted);
    pthread_mutex_lock(&s->lock);
    w->mp->done[w->part - 1] = true;
    if (w->pb) { /* its bytes stay for the hasher (replacing an attempt's before it) */
        pool_give(s, w->mp->mem[w->part - 1]);
        w->mp->mem[w->part - 1] = w->pb;
        w->pb = NULL;
    }
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->lock);
done:
    if (etag_fd >= 0)
        close(etag_fd);
    free(etag_path);
    writer_free(w, false);
    return rc;
}

static int hash_range(EVP_MD_CTX *md, int fd, uint64_t from, uint64_t to, const char *path,
                      int copy_fd, const char *copy_path)
{
    char *buf = hfs_malloc(COPY_CHUNK);
    int rc = 0;
    for (uint64_t at = from; at < to && rc == 0;) {
        size_t want = to - at < COPY_CHUNK ? (size_t)(to - at) : COPY_CHUNK;
        ssize_t n = pread(fd, buf, want, (off_t)at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = hfs_error_set(HFS_ERROR, "cannot read %s at byte %llu: %s", path,
                               (unsigned long long)at, n < 0 ? strerror(errno) : "it ends there");
            break;
        }
        EVP_DigestUpdate(md, buf, (size_t)n);
        if (copy_fd >= 0)
            rc = write_all(copy_fd, buf, (size_t)n, copy_path);
        at += (uint64_t)n;
    }
    free(buf);
    return rc;
}

/* Copies the assembled file into a temp file of its own, hashing every byte copied. */
static int copy_hashing(int *fd_out, char **path_out, hubd_lfs_store *s, const char *oid,
                        EVP_MD_CTX *md, const char *from, uint64_t size)
{
    int in = open(from, O_RDONLY | O_CLOEXEC), out = -1;
    char *path = NULL;
    int rc = 0;
    if (in < 0)
        return hfs_error_set(HFS_ERROR, "cannot read %s: %s", from, strerror(errno));
    char *dir = object_dir(s, oid);
    if ((rc = make_child_dir(dir, s->objects_dir)) == 0 && (rc = open_tmp(dir, &path, &out)) == 0)
        rc = hash_range(md, in, 0, size, from, out, path);
    free(dir);
    close(in);
    if (rc < 0) {
        if (out >= 0)
            close(out);
        if (path)
            unlink(path);
        free(path);
        return rc;
    }
    *fd_out = out;
    *path_out = path;
    return 0;
}

int hubd_lfs_multipart_complete(hubd_lfs_store *s, const char *oid, uint64_t size,
                                uint64_t chunk, const unsigned *part_numbers,
                                const char *const *etags, size_t count)
{
    int rc = 0;
    char *data_path = NULL, *dir = NULL;
    int fd = -1;
    EVP_MD_CTX *md = NULL;
    mp_state *m = NULL;
    bool copy = false;
    char *copy_path = NULL;
    int etags_fd = -1;
    if (!hubd_lfs_oid_valid(oid))
        return hfs_error_set(HFS_EINVALID, "'%.80s' is not an LFS oid (64 lowercase hex digits)",
                             oid ? oid : "");
    dir = part_dir(s, oid);
    if (hubd_lfs_has(s, oid, NULL)) {
        pthread_mutex_lock(&s->lock);
        mp_state *old = mp_find(s, oid);
        if (old && !mp_busy(old)) {
            mp_unlink(s, old);
            mp_free(s, old);
            remove_tree(dir);
        }
        pthread_mutex_unlock(&s->lock);
        goto done;
    }
    if (count == 0 || chunk == 0) {
        rc = hfs_error_set(HFS_EINVALID, "the completion of %s lists no parts", oid);
        goto done;
    }
    /* parts 1..count, each once, with the ETag its upload returned */
    char *etags_file = etags_path(s, oid);
    etags_fd = open(etags_file, O_RDONLY | O_CLOEXEC);
    free(etags_file);
    for (size_t want = 1; want <= count; want++) {
        size_t found = count;
        for (size_t i = 0; i < count; i++)
            if (part_numbers[i] == want) {
                if (found != count) {
                    rc = hfs_error_set(HFS_EINVALID, "part %zu of %s is listed twice", want, oid);
                    goto done;
                }
                found = i;
            }
        if (found == count) {
            rc = hfs_error_set(HFS_EINVALID,
                               "the completion of %s lists %zu parts but not part %zu", oid,
                               count, want);
            goto done;
        }
        char stored[ETAG_RECORD];
        if (etags_fd < 0 ||
            pread(etags_fd, stored, ETAG_RECORD, (off_t)(want - 1) * ETAG_RECORD) !=
                (ssize_t)ETAG_RECORD ||
            stored[0] != '"' || stored[ETAG_RECORD - 1] != '\n') {
            rc = hfs_error_set(HFS_EINVALID, "part %zu of %s was never uploaded", want, oid);
            goto done;
        }
        bool same = etags[found] && strlen(etags[found]) == ETAG_RECORD - 1 &&
                    memcmp(stored, etags[found], ETAG_RECORD - 1) == 0;
        if (!same) {
            rc = hfs_error_set(HFS_EINVALID,
                               "the ETag given for part %zu of %s is not the one its upload "
                               "returned",
                               want, oid);
            goto done;
        }
    }
    if ((size + chunk - 1) / chunk != count) {
        rc = hfs_error_set(HFS_EINVALID,
                           "the %zu parts of %s cannot hold its declared size %llu in parts of "
                           "%llu bytes",
                           count, oid, (unsigned long long)size, (unsigned long long)chunk);
        goto done;
    }

    /* Take the upload over: no part is written or hashed from here on, and what was hashed
     * while the parts came in is where hashing resumes. */
    md = EVP_MD_CTX_new();
    if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        rc = hfs_error_set(HFS_ERROR, "cannot start hashing %s: OpenSSL failed", oid);
        goto done;
    }
    uint64_t from = 0;
    pthread_mutex_lock(&s->lock);
    /* Without a state (the hub restarted since the parts came in) one is made, so that no
     * part can be written into the file while it becomes the object. */
    rc = mp_get(&m, s, oid, size, chunk);
    if (rc == 0 && m->completing)
        rc = hfs_error_set(HFS_ELOCKED, "the multipart upload of %s is already being completed",
                           oid);
    if (rc < 0) {
        pthread_mutex_unlock(&s->lock);
        m = NULL;
        goto done;
    }
    m->completing = true;
    /* Parts still being written (a retry of a part, or a connection the hub has not yet seen
     * die) get a few seconds; after that the completion does not wait on them but copies
     * the file, hashing all of it, so that nothing written later can reach the object. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WRITER_GRACE_SECONDS;
    while (m->hashing || (m->writers && !copy)) {
        if (pthread_cond_timedwait(&s->idle, &s->lock, &until) == ETIMEDOUT && m->writers)
            copy = true;
    }
    if (!copy) {
        EVP_MD_CTX_copy_ex(md, m->sha);
        from = (uint64_t)m->hashed * chunk;
    }
    pthread_mutex_unlock(&s->lock);

    data_path = data_file(s, oid);
    fd = open(data_path, O_RDWR | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = hfs_error_set(HFS_EINVALID, "the parts of %s are gone: upload them again", oid);
        goto done;
    }
    if ((uint64_t)st.st_size != size) {
        rc = hfs_error_set(HFS_EINVALID,
                           "the %zu parts of %s add up to %llu bytes, not its declared size %llu",
                           count, oid, (unsigned long long)st.st_size, (unsigned long long)size);
        goto done;
    }
    if (copy) {
        close(fd);
        fd = -1;
        if ((rc = copy_hashing(&fd, &copy_path, s, oid, md, data_path, size)) < 0)
            goto done;
    } else {
        /* the parts the hasher has not taken: from memory where they were kept (nothing else
         * touches the state while it is completing with no writers), else from the file */
        for (unsigned k = (unsigned)(from / chunk); k < m->n_parts && rc == 0; k++) {
            uint64_t off = (uint64_t)k * chunk, len = size - off < chunk ? size - off : chunk;
            if (m->mem[k])
                EVP_DigestUpdate(md, m->mem[k]->data, (size_t)len);
            else
                rc = hash_range(md, fd, off, off + len, data_path, -1, NULL);
        }
        if (rc < 0)
            goto done;
    }
    char got[65] = "";
    digest_hex(md, got, sizeof(got));
    if (strcmp(got, oid) != 0) {
        rc = hfs_error_set(HFS_EINVALID,
                           "the parts of %s hash to sha256 %s: the object's bytes do not match "
                           "its oid",
                           oid, got);
        goto done;
    }
    char *object_parent = object_dir(s, oid);
    rc = make_child_dir(object_parent, s->objects_dir);
    free(object_parent);
    if (rc < 0 || (rc = publish(s, oid, fd, copy ? copy_path : data_path)) < 0)
        goto done;
    if (copy) {
        free(copy_path); /* renamed: no longer ours to unlink */
        copy_path = NULL;
    }
    remove_tree(dir);
done:
    if (etags_fd >= 0)
        close(etags_fd);
    if (copy_path) {
        unlink(copy_path);
        free(copy_path);
    }
    if (m) {
        pthread_mutex_lock(&s->lock);
        if (rc == 0) {
            mp_unlink(s, m);
            if (m->writers)
                m->orphan = true; /* the last writer frees it */
            else
                mp_free(s, m);
            pthread_cond_broadcast(&s->idle); /* parts waiting for this completion */
        } else {
            m->completing = false; /* parts may be sent again; hashing starts over */
            m->generation++;
            mp_restart_hash(m);
            pthread_cond_broadcast(&s->idle);
        }
        pthread_mutex_unlock(&s->lock);
    }
    if (fd >= 0)
        close(fd);
    free(data_path);
    free(dir);
    EVP_MD_CTX_free(md);
    return rc;
}
