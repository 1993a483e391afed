/* Hashing workers: each pulls the next file from a shared atomic index, reads it once
 * through a 1 MiB buffer of its own and feeds every wanted digest from that one read. */
#include "planner/hashpool.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/hash.h"
#include "common/util.h"

#define READ_CHUNK (1u << 20)

typedef struct {
    size_t index; /* into files */
    unsigned want;
} job;

typedef struct {
    hfs_local_file *files;
    job *jobs;
    size_t job_count;
    unsigned char *done; /* per job: hashed */
    atomic_size_t next;
    atomic_size_t files_done;
    atomic_uint_fast64_t bytes_done;
    atomic_bool failed;
    pthread_mutex_t lock; /* guards the fields below */
    pthread_cond_t finished;
    unsigned running;
    int error_code;
    char error_message[1024];
} pool;

static int open_for_hashing(const char *path)
{
    /* O_NOATIME spares a metadata write per file; only the owner may ask for it. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM)
        fd = open(path, O_RDONLY | O_CLOEXEC);
    return fd;
}

static int hash_one(pool *p, hfs_local_file *f, unsigned want, char *buf)
{
    int rc = 0;
    struct stat before, after;
    hfs_hasher *h = NULL;
    uint64_t seen = 0;
    int fd = open_for_hashing(f->local_path);
    if (fd < 0) {
        if (errno == ENOENT)
            return hfs_error_set(HFS_ENOTFOUND, "%s was removed after the scan: plan again",
                                 f->local_path);
        return hfs_error_set(HFS_ERROR, "cannot open %s: %s", f->local_path, strerror(errno));
    }
    if (fstat(fd, &before) != 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot stat %s: %s", f->local_path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(before.st_mode)) {
        rc = hfs_error_set(HFS_ESTALE, "%s is no longer a regular file: plan again", f->local_path);
        goto done;
    }
    /* What is recorded must describe the bytes hashed, so take the stat of the open file;
     * if it moved since the scan, hashes taken from the cache describe older bytes. */
    if (f->size != (uint64_t)before.st_size || f->mtime_ns != hfs_timespec_ns(&before.st_mtim) ||
        f->ctime_ns != hfs_timespec_ns(&before.st_ctim) || f->inode != (uint64_t)before.st_ino) {
        want |= (f->has_sha1 ? HFS_HASH_SHA1 : 0u) | (f->has_sha256 ? HFS_HASH_SHA256 : 0u);
        f->has_sha1 = f->has_sha256 = f->has_check = false;
    }
    hfs_local_file_set_stat(f, &before);
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    h = hfs_hasher_new(want & HFS_HASH_SHA256, want & HFS_HASH_SHA1, f->size);
    /* The send check rides along with the SHA-256 (a fraction of its cost), so that an
     * upload need not take the SHA-256 again as it sends. */
    if (want & HFS_HASH_SHA256)
        hfs_hasher_add_check(h);
    for (;;) {
        ssize_t n = read(fd, buf, READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = hfs_error_set(HFS_ERROR, "cannot read %s: %s", f->local_path, strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        hfs_hasher_update(h, buf, (size_t)n);
        seen += (uint64_t)n;
        atomic_fetch_add(&p->bytes_done, (uint_fast64_t)n);
        if (seen > f->size)
            break; /* growing: reported below, no point reading the rest */
    }
    if (fstat(fd, &after) != 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot stat %s: %s", f->local_path, strerror(errno));
        goto done;
    }
    /* The git blob header carries the size, and a plan pins size and hash together: a
     * file written while we read it has no single hash to pin. */
    if (seen != f->size || after.st_size != before.st_size ||
        hfs_timespec_ns(&after.st_mtim) != f->mtime_ns ||
        hfs_timespec_ns(&after.st_ctim) != f->ctime_ns) {
        rc = hfs_error_set(HFS_ESTALE,
                           "%s changed while it was being hashed (%llu bytes at the start, "
                           "%llu read): plan again once writes to it have finished",
                           f->local_path, (unsigned long long)f->size, (unsigned long long)seen);
        goto done;
    }
    hfs_hasher_final(h, (want & HFS_HASH_SHA256) ? f->sha256 : NULL,
                     (want & HFS_HASH_SHA1) ? f->sha1 : NULL);
    if (want & HFS_HASH_SHA256) {
        f->has_sha256 = true;
        f->has_check = hfs_hasher_check(h, f->check); /* false without Poly1305 */
    }
    if (want & HFS_HASH_SHA1)
        f->has_sha1 = true;
done:
    hfs_hasher_free(h);
    close(fd);
    return rc;
}

static void *worker(void *arg)
{
    pool *p = arg;
    char *buf = hfs_malloc(READ_CHUNK);
    while (!atomic_load(&p->failed)) {
        size_t k = atomic_fetch_add(&p->next, 1);
        if (k >= p->job_count)
            break;
        const job *j = &p->jobs[k];
        if (hash_one(p, &p->files[j->index], j->want, buf) != 0) {
            /* The last error is per thread: carry it to the caller's thread. */
            pthread_mutex_lock(&p->lock);
            if (!p->error_code) {
                p->error_code = hfs_error_last_code();
                strncpy(p->error_message, hfs_error_last(), sizeof(p->error_message) - 1);
            }
            pthread_mutex_unlock(&p->lock);
            atomic_store(&p->failed, true);
            break;
        }
        p->done[k] = 1;
        atomic_fetch_add(&p->files_done, 1);
    }
    free(buf);
    pthread_mutex_lock(&p->lock);
    p->running--;
    pthread_cond_signal(&p->finished);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static int compare_jobs_by_size(const void *a, const void *b, void *files_arg)
{
    const hfs_local_file *files = files_arg;
    uint64_t x = files[((const job *)a)->index].size, y = files[((const job *)b)->index].size;
    return (x < y) - (x > y); /* largest first: the pool ends with small files, evenly */
}

static void report(pool *p, const hfs_hash_options *opts, uint64_t bytes_total)
{
    hfs_hash_progress pr = {atomic_load(&p->files_done), p->job_count,
                            (uint64_t)atomic_load(&p->bytes_done), bytes_total};
    opts->progress(&pr, opts->progress_payload);
}

/* Runs the jobs on `threads` workers; the caller's thread reports progress meanwhile. */
static int run_pool(pool *p, unsigned threads, const hfs_hash_options *opts, uint64_t bytes_total)
{
    int rc = 0;
    pthread_t *tids = hfs_calloc(threads, sizeof(*tids));
    unsigned started = 0;
    for (; started < threads; started++) {
        pthread_mutex_lock(&p->lock);
        p->running++;
        pthread_mutex_unlock(&p->lock);
        if (pthread_create(&tids[started], NULL, worker, p) != 0) {
            pthread_mutex_lock(&p->lock);
            p->running--;
            pthread_mutex_unlock(&p->lock);
            break;
        }
    }
    if (started == 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot start a hashing thread: %s", strerror(errno));
        goto done;
    }
    pthread_mutex_lock(&p->lock);
    while (p->running > 0) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100 * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&p->finished, &p->lock, &until);
        if (opts->progress && p->running > 0) {
            pthread_mutex_unlock(&p->lock);
            report(p, opts, bytes_total);
            pthread_mutex_lock(&p->lock);
        }
    }
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
done:
    free(tids);
    return rc;
}

int hfs_hash_files(hfs_local_file *files, size_t count, const hfs_hash_options *opts,
                   hfs_hash_stats *stats)
{
    int rc = 0;
    hfs_hash_stats st = {0};
    uint64_t bytes_total = 0;
    pool p = {0};
    if (!opts || opts->version != HFS_HASH_OPTIONS_VERSION)
        return hfs_error_set(HFS_EINVALID, "hfs_hash_files: options of an unknown version");
    p.files = files;
    p.jobs = hfs_calloc(count ? count : 1, sizeof(*p.jobs));
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.finished, NULL);
    atomic_init(&p.next, 0);
    atomic_init(&p.files_done, 0);
    atomic_init(&p.bytes_done, 0);
    atomic_init(&p.failed, false);

    for (size_t i = 0; i < count; i++) {
        unsigned want = opts->want ? opts->want[i] & HFS_HASH_BOTH : HFS_HASH_BOTH;
        hfs_local_file *f = &files[i];
        if (want == 0)
            continue;
        if (opts->cache) {
            hfs_hashcache_result r = hfs_hashcache_lookup(opts->cache, f, want);
            if (r == HFS_HASHCACHE_HIT) {
                st.cache_hits++;
                continue;
            }
            if (r == HFS_HASHCACHE_RACY)
                st.racy++;
        }
        /* A partial cache match already filled what it had: read for the rest only. */
        if (f->has_sha1 && (want & HFS_HASH_SHA1))
            want &= ~(unsigned)HFS_HASH_SHA1;
        if (f->has_sha256 && (want & HFS_HASH_SHA256))
            want &= ~(unsigned)HFS_HASH_SHA256;
        if (want == 0)
            continue;
        p.jobs[p.job_count++] = (job){i, want};
        bytes_total += f->size;
    }
    qsort_r(p.jobs, p.job_count, sizeof(*p.jobs), compare_jobs_by_size, files);
    p.done = hfs_calloc(p.job_count ? p.job_count : 1, 1);

    if (p.job_count > 0) {
        unsigned threads = opts->threads;
        if (threads == 0) {
            long cores = sysconf(_SC_NPROCESSORS_ONLN);
            threads = cores > 0 ? (unsigned)cores : 1;
        }
        if (threads > p.job_count)
            threads = (unsigned)p.job_count;
        rc = run_pool(&p, threads, opts, bytes_total);
        if (rc == 0 && p.error_code)
            rc = hfs_error_set(p.error_code, "%s", p.error_message);
    }
    for (size_t k = 0; k < p.job_count; k++) {
        if (!p.done[k])
            continue;
        st.files_read++;
        st.bytes_read += files[p.jobs[k].index].size;
        if (opts->cache)
            hfs_hashcache_record(opts->cache, &files[p.jobs[k].index]);
    }
    if (opts->progress && rc == 0)
        report(&p, opts, bytes_total);
    if (stats)
        *stats = st;
    pthread_cond_destroy(&p.finished);
    pthread_mutex_destroy(&p.lock);
    free(p.done);
    free(p.jobs);
    return rc;
}
