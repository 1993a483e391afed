/* Tests src/hubd/lfs_store.c: objects appear only once verified, bad uploads leave nothing,
 * mid-sized objects are written direct (O_DIRECT) and large ones hashed behind their writes
 * (by a thread that ends with the upload), multipart parts are checked and assembled (parts
 * of whole blocks written direct and kept in memory until hashed), crash leftovers are swept
 * on open. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/error.h"
#include "common/hash.h"
#include "common/util.h"
#include "hubd/lfs_store.h"
#include "tap.h"

static size_t count_files(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    if (d)
        closedir(d);
    return n;
}

/* Temp files (.upload-*) anywhere under ROOT/lfs: beside the objects, or among the parts. */
static size_t temps_found;
static int count_temp(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    if (type == FTW_F && strncmp(path + ftw->base, ".upload-", 8) == 0)
        temps_found++;
    return 0;
}

static size_t count_temps(const char *lfs_dir)
{
    temps_found = 0;
    nftw(lfs_dir, count_temp, 16, FTW_PHYS);
    return temps_found;
}

/* Entries of a /proc/self directory: the process's threads (task) or open files (fd). */
static size_t count_self(const char *what)
{
    char *dir = hfs_sprintf("/proc/self/%s", what);
    size_t n = count_files(dir);
    free(dir);
    return n;
}

/* Writes all of data into w in pieces of `piece` bytes (odd sizes: the hashing thread then
 * reads back from offsets that are not page-aligned). */
static int write_pieces(hubd_lfs_writer *w, const char *data, size_t len, size_t piece)
{
    for (size_t at = 0; at < len; at += piece) {
        int rc = hubd_lfs_writer_write(w, data + at, len - at < piece ? len - at : piece);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Is the stored object `oid` byte for byte `data`? Reads it back in pieces. */
static bool stored_is(hubd_lfs_store *store, const char *oid, const char *data, size_t len)
{
    char *path = hubd_lfs_object_path(store, oid);
    FILE *f = path ? fopen(path, "rb") : NULL;
    bool same = f != NULL;
    char buf[65536];
    size_t at = 0, n;
    while (same && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
        same = at + n <= len && memcmp(buf, data + at, n) == 0;
        at += n;
    }
    if (f)
        fclose(f);
    free(path);
    return same && at == len;
}

/* How many pages of the file at path are in the page cache (-1: cannot tell). */
static long resident_pages_at(const char *path)
{
    int fd = path ? open(path, O_RDONLY) : -1;
    struct stat st;
    long n = -1;
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0) {
        long page = sysconf(_SC_PAGESIZE);
        size_t pages = (size_t)((st.st_size + page - 1) / page);
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        unsigned char *vec = hfs_malloc(pages);
        if (p != MAP_FAILED && mincore(p, (size_t)st.st_size, vec) == 0) {
            n = 0;
            for (size_t i = 0; i < pages; i++)
                n += vec[i] & 1;
        }
        free(vec);
        if (p != MAP_FAILED)
            munmap(p, (size_t)st.st_size);
    }
    if (fd >= 0)
        close(fd);
    return n;
}

/* How many pages of the stored object `oid` are in the page cache (-1: cannot tell). */
static long resident_pages(hubd_lfs_store *store, const char *oid)
{
    char *path = hubd_lfs_object_path(store, oid);
    long n = resident_pages_at(path);
    free(path);
    return n;
}

/* Stored objects leave the page cache (the hub drops them once on disk); on tmpfs the page
 * cache is where files live, so there is nothing to check. */
static void check_not_cached(hubd_lfs_store *store, const char *root, const char *oid,
                             const char *name)
{
    struct statfs fs;
    if (statfs(root, &fs) == 0 && fs.f_type == 0x01021994 /* TMPFS_MAGIC */) {
        tap_skip("the store is on tmpfs: its pages are the files");
        return;
    }
    tap_is_int(resident_pages(store, oid), 0, name);
}

/* Whether files in dir can be written with O_DIRECT (not on tmpfs). */
static bool direct_io_possible(const char *dir)
{
    char *p = hfs_sprintf("%s/direct-probe", dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0644);
    if (fd >= 0)
        close(fd);
    unlink(p);
    free(p);
    return fd >= 0;
}

/* The test name "WHAT: STEP", in a buffer of the caller's. */
#define NAMED(step) (snprintf(name, sizeof(name), "%s: %s", what, step), name)

/* Whole objects above 1 MiB: a mid-sized one (up to 64 MiB) is written direct and hashed as
 * it comes in, a larger one (or any, where direct I/O is refused) is hashed by a thread of its
 * own behind the writes; either way every check of a small upload still holds, and the thread
 * and the file are gone when the upload is. len: several steps of either, and a ragged end. */
static void test_large_whole(hubd_lfs_store *store, const char *root, const char *tmp_dir,
                             size_t len, const char *what)
{
    char name[200];
    bool behind = len > (64u << 20) || !direct_io_possible(root);
    char *data = hfs_malloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (char)((i * 2654435761u) >> 13);
    char oid[65];
    hfs_sha256_hex(oid, data, len);
    size_t threads = count_self("task"), fds = count_self("fd");
    hubd_lfs_writer *w = NULL, *w2 = NULL;

    tap_is_int(hubd_lfs_writer_begin(&w, store, oid, len), 0, NAMED("begin"));
    tap_is_int((long long)count_self("task"), (long long)threads + behind,
               NAMED(behind ? "a thread of its own hashes the upload"
                            : "hashed as it comes in, without a thread"));
    tap_is_int(write_pieces(w, data, len, 65537), 0, NAMED("write it in odd pieces"));
    tap_ok(!hubd_lfs_has(store, oid, NULL), "%s: not visible before finish", what);
    tap_is_int(hubd_lfs_writer_finish(w), 0, NAMED("finish verifies and publishes"));
    check_not_cached(store, root, oid, NAMED("once stored, none of it stays in the page cache"));
    tap_ok(stored_is(store, oid, data, len), "%s: the object is byte for byte the upload", what);
    tap_is_int((long long)count_self("task"), (long long)threads, NAMED("no thread left"));
    tap_is_int((long long)count_temps(tmp_dir), 0, NAMED("no temp file left behind"));

    /* wrong bytes: the last byte differs */
    char bad_oid[65];
    data[len - 1] ^= 1;
    hfs_sha256_hex(bad_oid, data, len);
    data[len - 1] ^= 1;
    tap_is_int(hubd_lfs_writer_begin(&w, store, bad_oid, len), 0, NAMED("wrong bytes: begin"));
    write_pieces(w, data, len, 1 << 20);
    tap_is_int(hubd_lfs_writer_finish(w), HFS_EINVALID, NAMED("wrong bytes: refused"));
    tap_ok(strstr(hfs_error_last(), "hash to sha256") != NULL && strstr(hfs_error_last(), oid),
           "... naming the sha256 the bytes have");
    tap_ok(!hubd_lfs_has(store, bad_oid, NULL), "... storing nothing");
    tap_is_int((long long)count_temps(tmp_dir), 0, "... and leaving no temp file");

    tap_is_int(hubd_lfs_writer_begin(&w, store, bad_oid, len), 0, NAMED("short: begin"));
    write_pieces(w, data, len - 1, 65536);
    tap_is_int(hubd_lfs_writer_finish(w), HFS_EINVALID, NAMED("one byte short: refused"));
    tap_ok(strstr(hfs_error_last(), "ended after") != NULL, "... saying where it ended");
    tap_is_int(hubd_lfs_writer_begin(&w, store, bad_oid, len), 0, NAMED("too long: begin"));
    write_pieces(w, data, len, 1 << 20);
    tap_is_int(hubd_lfs_writer_write(w, "x", 1), HFS_EINVALID,
               NAMED("a byte past the size is refused"));
    hubd_lfs_writer_abort(w);

    /* aborted mid-way, with the thread (if any) busy or waiting */
    tap_is_int(hubd_lfs_writer_begin(&w, store, bad_oid, len), 0, NAMED("aborted: begin"));
    write_pieces(w, data, len / 2, 65536);
    hubd_lfs_writer_abort(w);
    tap_is_int(hubd_lfs_writer_begin(&w, store, bad_oid, len), 0, NAMED("aborted at once: begin"));
    hubd_lfs_writer_abort(w);
    tap_is_int((long long)count_temps(tmp_dir), 0, NAMED("aborted: no temp file left"));
    tap_is_int((long long)count_self("task"), (long long)threads, "... and no thread");
    tap_ok(!hubd_lfs_has(store, bad_oid, NULL), "... and nothing stored");

    /* the same object uploaded twice at once, and a third upload with wrong bytes alongside */
    char oid2[65];
    data[0] ^= 1;
    hfs_sha256_hex(oid2, data, len);
    hubd_lfs_writer *bad = NULL;
    tap_ok(hubd_lfs_writer_begin(&w, store, oid2, len) == 0 &&
               hubd_lfs_writer_begin(&w2, store, oid2, len) == 0 &&
               hubd_lfs_writer_begin(&bad, store, oid, len) == 0,
           "%s: the same object twice at once (and a third, wrong, upload): begin", what);
    tap_is_int((long long)count_self("task"), (long long)threads + 3 * behind,
               behind ? "... one thread each" : "... and no thread");
    int rc = 0;
    for (size_t at = 0; at < len && rc == 0; at += 100000) {
        size_t n = len - at < 100000 ? len - at : 100000;
        rc = hubd_lfs_writer_write(w, data + at, n);
        if (rc == 0)
            rc = hubd_lfs_writer_write(w2, data + at, n);
        if (rc == 0)
            rc = hubd_lfs_writer_write(bad, data + at, n);
    }
    tap_is_int(rc, 0, "... written interleaved");
    tap_is_int(hubd_lfs_writer_finish(bad), HFS_EINVALID, "... the wrong one is refused");
    tap_is_int(hubd_lfs_writer_finish(w2), 0, "... the second one to finish stores it");
    tap_is_int(hubd_lfs_writer_finish(w), 0, "... the first finds it stored");
    tap_ok(stored_is(store, oid2, data, len), "... and the object is whole");
    tap_is_int((long long)count_temps(tmp_dir), 0, "... with no temp file left");
    tap_is_int((long long)count_self("task"), (long long)threads, "... nor thread");
    tap_is_int((long long)count_self("fd"), (long long)fds, "... nor open file");
    free(data);
}

/* Uploads part p (of an object of `size` in parts of `chunk`) as `len` bytes, in odd pieces;
 * its ETag goes to etag (48 bytes). */
static int put_part(hubd_lfs_store *store, const char *oid, unsigned p, uint64_t size,
                    uint64_t chunk, const char *bytes, size_t len, char *etag)
{
    hubd_lfs_writer *w = NULL;
    int rc = hubd_lfs_part_begin(&w, store, oid, p, size, chunk);
    if (rc == 0 && (rc = write_pieces(w, bytes, len, 3001)) < 0)
        hubd_lfs_writer_abort(w);
    return rc < 0 ? rc : hubd_lfs_part_finish(w, etag, 48);
}

/* Completes oid from parts 1..n with the ETags in etags[48 * k]. */
static int complete_parts(hubd_lfs_store *store, const char *oid, uint64_t size, uint64_t chunk,
                          unsigned n, char (*etags)[48])
{
    unsigned nums[16];
    const char *tags[16];
    for (unsigned k = 0; k < n && k < 16; k++) {
        nums[k] = k + 1;
        tags[k] = etags[k];
    }
    return hubd_lfs_multipart_complete(store, oid, size, chunk, nums, tags, n);
}

/* Multipart uploads whose chunk is whole blocks: each part is written direct and its bytes
 * are kept in memory until hashed, so nothing of it enters the page cache or is read back.
 * Out of order, sent again with other bytes, past the memory budget (those parts take the
 * buffered way) and completed after a restart (from the file): the object is exact. */
static void test_multipart_direct(hubd_lfs_store **store, const char *root, const char *tmp_dir)
{
    bool direct = direct_io_possible(root);
    enum { CH = 8192 };
    char *data = hfs_malloc(3 * CH);
    for (size_t i = 0; i < 3 * CH; i++)
        data[i] = (char)((i * 40503u) >> 7);
    char oid[65], e[16][48];
    hfs_sha256_hex(oid, data, 3 * CH);
    unsigned order[3] = {2, 3, 1};
    char *data_path = hfs_sprintf("%s/lfs/parts/%s/data", root, oid);
    int rc = put_part(*store, oid, order[0], 3 * CH, CH, data + CH, CH, e[1]);
    /* the first part to come in allocates the whole object: the others write inside it */
    struct stat st;
    tap_ok(rc == 0 && stat(data_path, &st) == 0 && st.st_size == 3 * CH &&
               (uint64_t)st.st_blocks * 512 >= 3 * CH,
           "whole blocks: the first part in (the middle one) allocates all three");
    for (unsigned i = 1; i < 3 && rc == 0; i++)
        rc = put_part(*store, oid, order[i], 3 * CH, CH, data + (order[i] - 1) * CH, CH,
                      e[order[i] - 1]);
    tap_is_int(rc, 0, "whole blocks: three parts, out of order");
    if (direct)
        tap_is_int(resident_pages_at(data_path), 0,
                   "... written direct: none of them is in the page cache");
    else
        tap_skip("direct I/O is refused here (tmpfs): parts go through the page cache");
    free(data_path);
    tap_is_int(complete_parts(*store, oid, 3 * CH, CH, 3, e), 0, "... completed");
    check_not_cached(*store, root, oid, "... and not in the page cache");
    tap_ok(stored_is(*store, oid, data, 3 * CH), "... the object is byte for byte the upload");

    /* a ragged last part; part 1 first with other bytes, which must not count */
    size_t size = 2 * CH + 1000;
    data[5] ^= 0x55;
    hfs_sha256_hex(oid, data, size);
    char *junk = hfs_malloc(CH);
    memset(junk, 'j', CH);
    rc = put_part(*store, oid, 1, size, CH, junk, CH, e[0]);
    rc = rc ? rc : put_part(*store, oid, 3, size, CH, data + 2 * CH, 1000, e[2]);
    rc = rc ? rc : put_part(*store, oid, 2, size, CH, data + CH, CH, e[1]);
    tap_is_int(rc, 0, "ragged end: part 1 with other bytes, parts 3 and 2");
    tap_is_int(complete_parts(*store, oid, size, CH, 3, e), HFS_EINVALID,
               "... the other bytes do not hash to the oid: refused");
    tap_is_int(put_part(*store, oid, 1, size, CH, data, CH, e[0]), 0, "... part 1 sent again");
    tap_is_int(complete_parts(*store, oid, size, CH, 3, e), 0, "... completed");
    tap_ok(stored_is(*store, oid, data, size), "... the object is byte for byte the upload");
    tap_is_int((long long)count_temps(tmp_dir), 0, "... no temp file left");
    free(junk);

    /* parts kept in memory past the pool's budget (set to 128 MiB here): ten parts of 16 MiB
     * begun at once and finished last to first, so every one waits for part 1 to be hashed;
     * those that found the budget spent are written through the page cache and hashed from
     * the file */
    hubd_lfs_store_set_pool_budget(*store, 128u << 20);
    const uint64_t big_chunk = 16u << 20;
    size_t big_size = 9 * (size_t)big_chunk + 5000;
    char *big = hfs_malloc(big_size);
    for (size_t i = 0; i < big_size; i++)
        big[i] = (char)((i * 2654435761u) >> 11);
    char big_oid[65];
    hfs_sha256_hex(big_oid, big, big_size);
    hubd_lfs_writer *ws[10] = {NULL};
    rc = 0;
    for (unsigned p = 1; p <= 10 && rc == 0; p++)
        rc = hubd_lfs_part_begin(&ws[p - 1], *store, big_oid, p, big_size, big_chunk);
    for (unsigned p = 1; p <= 10 && rc == 0; p++) {
        size_t off = (p - 1) * (size_t)big_chunk;
        rc = write_pieces(ws[p - 1], big + off,
                          big_size - off < big_chunk ? big_size - off : big_chunk, 1 << 20);
    }
    for (unsigned p = 10; p >= 1 && rc == 0; p--) {
        rc = hubd_lfs_part_finish(ws[p - 1], e[p - 1], 48);
        ws[p - 1] = NULL;
    }
    for (unsigned p = 1; p <= 10; p++)
        hubd_lfs_writer_abort(ws[p - 1]);
    tap_is_int(rc, 0, "past the memory budget: ten parts of 16 MiB, finished last to first");
    if (direct) {
        /* eight took the budget; parts 9 and 10 (16 MiB + 5000 bytes: 4,098 pages) did not */
        char *path = hfs_sprintf("%s/lfs/parts/%s/data", root, big_oid);
        long pages = resident_pages_at(path);
        tap_ok(pages == 4098, "... the two past it went through the page cache (%ld pages)", pages);
        free(path);
    } else {
        tap_skip("direct I/O is refused here (tmpfs)");
    }
    tap_is_int(complete_parts(*store, big_oid, big_size, big_chunk, 10, e), 0, "... completed");
    check_not_cached(*store, root, big_oid, "... and not in the page cache");
    tap_ok(stored_is(*store, big_oid, big, big_size), "... the object is byte for byte the upload");
    free(big);

    /* the kept bytes live in memory: a restarted hub completes from the file */
    data[7] ^= 0x33;
    hfs_sha256_hex(oid, data, 3 * CH);
    rc = 0;
    for (unsigned p = 1; p <= 3 && rc == 0; p++)
        rc = put_part(*store, oid, p, 3 * CH, CH, data + (p - 1) * CH, CH, e[p - 1]);
    hubd_lfs_store_free(*store);
    *store = NULL;
    tap_ok(rc == 0 && hubd_lfs_store_open(store, root) == 0, "parts in, then a restart");
    tap_is_int(complete_parts(*store, oid, 3 * CH, CH, 3, e), 0, "... completed from the file");
    tap_ok(stored_is(*store, oid, data, 3 * CH), "... the object is byte for byte the upload");
    free(data);
}

static void remove_all(const char *path)
{
    char *cmd = hfs_sprintf("rm -rf '%s'", path);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", path);
    free(cmd);
}

/* Stores `data` as a whole object; its oid goes to oid_out. */
static int store_whole(hubd_lfs_store *store, const char *data, char *oid_out)
{
    hubd_lfs_writer *w = NULL;
    size_t len = strlen(data);
    hfs_sha256_hex(oid_out, data, len);
    int rc = hubd_lfs_writer_begin(&w, store, oid_out, len);
    if (rc == 0 && (rc = hubd_lfs_writer_write(w, data, len)) < 0)
        hubd_lfs_writer_abort(w);
    return rc < 0 ? rc : hubd_lfs_writer_finish(w);
}

/* An object's name is flushed at the next sync, once per directory, not at its upload; a
 * directory that could not be flushed is tried again by the sync after. */
static void test_sync(hubd_lfs_store *store, const char *root)
{
    tap_ok(hubd_lfs_sync(store) >= 1, "sync flushes the directories objects went into");
    tap_is_int(hubd_lfs_sync(store), 0, "... and then has nothing left to flush");

    /* two objects in one directory AB, a third in another */
    char oids[3][65], text[3][64];
    int found = 0;
    for (int i = 0; found < 3 && i < 100000; i++) {
        char t[64], o[65];
        snprintf(t, sizeof(t), "sync test object %d\n", i);
        hfs_sha256_hex(o, t, strlen(t));
        bool same_dir = found > 0 && strncmp(o, oids[0], 2) == 0;
        if (found == 0 || (found == 1 && same_dir) || (found == 2 && !same_dir)) {
            memcpy(oids[found], o, 65);
            memcpy(text[found], t, sizeof(t));
            found++;
        }
    }
    int stored = 0;
    for (int i = 0; i < found; i++)
        stored += store_whole(store, text[i], oids[i]) == 0;
    tap_is_int(stored, 3, "three objects stored, two of them in one directory");
    tap_is_int(hubd_lfs_sync(store), 2, "sync flushes each of their two directories once");
    tap_is_int(hubd_lfs_sync(store), 0, "... and nothing the time after");

    /* a directory that cannot be flushed (here: gone) fails the sync, saying which */
    char other[65];
    int rc = store_whole(store, "an object whose directory goes away\n", other);
    char *dir = hfs_sprintf("%s/lfs/objects/%.2s", root, other);
    char *aside = hfs_sprintf("%s.aside", dir);
    tap_ok(rc == 0 && rename(dir, aside) == 0, "an object stored, its directory moved away");
    tap_is_int(hubd_lfs_sync(store), HFS_ERROR, "the sync fails");
    tap_ok(strstr(hfs_error_last(), "cannot flush directory") && strstr(hfs_error_last(), dir),
           "... naming the directory");
    tap_ok(rename(aside, dir) == 0, "the directory back");
    tap_is_int(hubd_lfs_sync(store), 1, "the next sync flushes it");
    tap_ok(hubd_lfs_has(store, other, NULL), "... with the object in it");
    free(dir);
    free(aside);
}

int main(void)
{
    char tmpl[] = "/tmp/hfsync-lfs-store.XXXXXX";
    char *root = mkdtemp(tmpl);
    char *tmp_dir = hfs_sprintf("%s/lfs", root); /* where temp files are looked for */
    hubd_lfs_store *store = NULL;
    tap_is_int(hubd_lfs_store_open(&store, root), 0, "open creates the store");

    const char *data = "hello, large file storage\n";
    size_t len = strlen(data);
    char oid[65];
    hfs_sha256_hex(oid, data, len);
    uint64_t size = 0;
    tap_ok(!hubd_lfs_has(store, oid, NULL), "absent before upload");
    tap_ok(hubd_lfs_object_path(store, oid) == NULL, "no path for an absent object");

    hubd_lfs_writer *w = NULL;
    tap_is_int(hubd_lfs_writer_begin(&w, store, oid, len), 0, "begin");
    tap_is_int(hubd_lfs_writer_write(w, data, 10), 0, "write part of it");
    tap_ok(!hubd_lfs_has(store, oid, NULL), "not visible while uploading");
    tap_is_int(hubd_lfs_writer_write(w, data + 10, len - 10), 0, "write the rest");
    tap_is_int(hubd_lfs_writer_finish(w), 0, "finish verifies and publishes");
    tap_ok(hubd_lfs_has(store, oid, &size) && size == len, "present with its size");
    char *path = hubd_lfs_object_path(store, oid);
    char *want = hfs_sprintf("%s/lfs/objects/%.2s/%s", root, oid, oid);
    tap_is_str(path, want, "stored at lfs/objects/AB/OID");
    free(path);
    free(want);
    tap_is_int((long long)count_temps(tmp_dir), 0, "no temp file left behind");

    /* the bytes must hash to the oid they were sent for */
    char other[65];
    hfs_sha256_hex(other, "something else", 14);
    tap_is_int(hubd_lfs_writer_begin(&w, store, other, len), 0, "begin an upload with a wrong oid");
    hubd_lfs_writer_write(w, data, len);
    tap_is_int(hubd_lfs_writer_finish(w), HFS_EINVALID, "finish refuses bytes that do not hash to the oid");
    tap_ok(strstr(hfs_error_last(), "hash to sha256") != NULL, "... saying so");
    tap_ok(!hubd_lfs_has(store, other, NULL), "... and stores nothing");
    tap_is_int((long long)count_temps(tmp_dir), 0, "... and leaves no temp file");

    tap_is_int(hubd_lfs_writer_begin(&w, store, other, 14), 0, "begin a short upload");
    hubd_lfs_writer_write(w, "something", 9);
    tap_is_int(hubd_lfs_writer_finish(w), HFS_EINVALID, "a short upload is refused");
    tap_is_int(hubd_lfs_writer_begin(&w, store, other, 3), 0, "begin an upload of 3 bytes");
    tap_is_int(hubd_lfs_writer_write(w, "four", 4), HFS_EINVALID, "writing past the size is refused");
    hubd_lfs_writer_abort(w);
    hubd_lfs_writer_abort(NULL);
    tap_is_int((long long)count_temps(tmp_dir), 0, "abort leaves no temp file");
    tap_is_int(hubd_lfs_writer_begin(&w, store, "../../etc", 3), HFS_EINVALID, "a bad oid is refused");

    test_large_whole(store, root, tmp_dir, (3u << 20) + 12345, "mid-sized");
    test_large_whole(store, root, tmp_dir, (65u << 20) + 12345, "large");
    test_multipart_direct(&store, root, tmp_dir);

    /* multipart: three parts, completed with the ETags their uploads returned */
    char big[3000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    char big_oid[65];
    hfs_sha256_hex(big_oid, big, sizeof(big));
    char etags[3][48];
    for (unsigned p = 1; p <= 3; p++) {
        tap_is_int(hubd_lfs_part_begin(&w, store, big_oid, p, sizeof(big), 1000), 0, "part begin");
        hubd_lfs_writer_write(w, big + (p - 1) * 1000, 1000);
        tap_is_int(hubd_lfs_part_finish(w, etags[p - 1], sizeof(etags[0])), 0, "part finish");
    }
    tap_ok(etags[0][0] == '"' && strlen(etags[0]) == 34 && strspn(etags[0] + 1, "0123456789abcdef") == 32,
           "part ETags are quoted 32-hex tokens");
    char *big_parts = hfs_sprintf("%s/lfs/parts/%s", root, big_oid);
    tap_is_int((long long)count_files(big_parts), 2,
               "... kept in one file beside the data, not one file per part");
    free(big_parts);
    tap_ok(strcmp(etags[0], etags[1]) != 0, "... one per part upload");
    tap_ok(!hubd_lfs_has(store, big_oid, NULL), "parts alone are not an object");
    unsigned nums[3] = {1, 2, 3};
    const char *tags[3] = {etags[0], etags[1], "\"bogus\""};
    tap_is_int(hubd_lfs_multipart_complete(store, big_oid, sizeof(big), 1000, nums, tags, 3),
               HFS_EINVALID, "a wrong ETag is refused");
    unsigned dup[3] = {1, 1, 3};
    tags[2] = etags[2];
    tap_is_int(hubd_lfs_multipart_complete(store, big_oid, sizeof(big), 1000, dup, tags, 3),
               HFS_EINVALID, "a part listed twice is refused");
    tap_is_int(hubd_lfs_multipart_complete(store, big_oid, sizeof(big), 1000, nums, tags, 2),
               HFS_EINVALID, "fewer parts than the size needs: the hash does not match");
    unsigned four[4] = {1, 2, 3, 4};
    const char *tags4[4] = {etags[0], etags[1], etags[2], etags[2]};
    tap_is_int(hubd_lfs_multipart_complete(store, big_oid, sizeof(big), 1000, four, tags4, 4),
               HFS_EINVALID, "a part that was never uploaded is refused");
    tap_is_int(hubd_lfs_multipart_complete(store, big_oid, sizeof(big) + 1, 1000, nums, tags, 3),
               HFS_EINVALID, "a wrong total size is refused");
    tap_is_int(hubd_lfs_multipart_complete(store, big_oid, sizeof(big), 1000, nums, tags, 3), 0,
               "complete with the right parts");
    tap_ok(hubd_lfs_has(store, big_oid, &size) && size == sizeof(big), "the object is assembled");
    check_not_cached(store, root, big_oid, "... and not kept in the page cache");
    char *parts = hfs_sprintf("%s/lfs/parts", root);
    tap_is_int((long long)count_files(parts), 0, "the parts are removed");
    tap_is_int(hubd_lfs_multipart_complete(store, big_oid, sizeof(big), 1000, nums, tags, 3), 0,
               "completing again is harmless");
    tap_is_int((long long)count_temps(tmp_dir), 0, "no temp file left behind");

    /* parts out of order, one sent twice (a retry) with other bytes first: the running hash
     * starts over and the object is still exact */
    char big2[2500];
    for (size_t i = 0; i < sizeof(big2); i++)
        big2[i] = (char)('A' + i * 7 % 23);
    char big2_oid[65], e2[3][48];
    hfs_sha256_hex(big2_oid, big2, sizeof(big2));
    unsigned order[3] = {3, 1, 2};
    for (unsigned i = 0; i < 3; i++) {
        unsigned p = order[i];
        size_t len = p == 3 ? 500 : 1000;
        hubd_lfs_part_begin(&w, store, big2_oid, p, sizeof(big2), 1000);
        hubd_lfs_writer_write(w, big2 + (p - 1) * 1000, len);
        tap_is_int(hubd_lfs_part_finish(w, e2[p - 1], sizeof(e2[0])), 0, "a part out of order");
    }
    char junk_part[1000];
    memset(junk_part, 'x', sizeof(junk_part));
    char junk_etag[48];
    tap_is_int(hubd_lfs_part_begin(&w, store, big2_oid, 1, sizeof(big2), 1000), 0, "part 1 again");
    hubd_lfs_writer_write(w, junk_part, sizeof(junk_part));
    tap_is_int(hubd_lfs_part_finish(w, junk_etag, sizeof(junk_etag)), 0, "part 1 with other bytes");
    const char *t2[3] = {junk_etag, e2[1], e2[2]};
    tap_is_int(hubd_lfs_multipart_complete(store, big2_oid, sizeof(big2), 1000, nums, t2, 3),
               HFS_EINVALID, "the other bytes do not hash to the oid: refused");
    tap_is_int(hubd_lfs_part_begin(&w, store, big2_oid, 1, sizeof(big2), 1000), 0, "part 1 once more");
    tap_is_int(hubd_lfs_writer_write(w, big2, 1001), HFS_EINVALID, "a part longer than its chunk is refused");
    hubd_lfs_writer_abort(w);
    hubd_lfs_part_begin(&w, store, big2_oid, 1, sizeof(big2), 1000);
    hubd_lfs_writer_write(w, big2, 999);
    tap_is_int(hubd_lfs_part_finish(w, junk_etag, sizeof(junk_etag)), HFS_EINVALID, "a short part is refused");
    hubd_lfs_part_begin(&w, store, big2_oid, 1, sizeof(big2), 1000);
    hubd_lfs_writer_write(w, big2, 1000);
    tap_is_int(hubd_lfs_part_finish(w, e2[0], sizeof(e2[0])), 0, "part 1 right");
    tap_is_int(hubd_lfs_part_begin(&w, store, big2_oid, 4, sizeof(big2), 1000), HFS_EINVALID,
               "a part beyond the object is refused");
    const char *t3[3] = {e2[0], e2[1], e2[2]};
    tap_is_int(hubd_lfs_multipart_complete(store, big2_oid, sizeof(big2), 1000, nums, t3, 3), 0,
               "complete after the retries");
    char *obj2 = hubd_lfs_object_path(store, big2_oid);
    char *back = NULL;
    size_t back_len = 0;
    tap_ok(obj2 && hfs_read_file(&back, &back_len, obj2, 1 << 20) == 0 && back_len == sizeof(big2) &&
               memcmp(back, big2, sizeof(big2)) == 0,
           "the object is byte for byte the upload");
    free(back);
    free(obj2);

    /* a part upload that hangs on (a retry whose connection never ends) does not block the
     * completion: after a grace period it copies the file, hashing every byte */
    char big4[2000];
    memset(big4, 'z', sizeof(big4));
    char big4_oid[65], e4[2][48];
    hfs_sha256_hex(big4_oid, big4, sizeof(big4));
    for (unsigned p = 1; p <= 2; p++) {
        hubd_lfs_part_begin(&w, store, big4_oid, p, sizeof(big4), 1000);
        hubd_lfs_writer_write(w, big4, 1000);
        hubd_lfs_part_finish(w, e4[p - 1], sizeof(e4[0]));
    }
    hubd_lfs_writer *hung = NULL;
    tap_is_int(hubd_lfs_part_begin(&hung, store, big4_oid, 2, sizeof(big4), 1000), 0,
               "part 2 sent again, and left hanging");
    const char *t5[2] = {e4[0], e4[1]};
    tap_is_int(hubd_lfs_multipart_complete(store, big4_oid, sizeof(big4), 1000, nums, t5, 2), 0,
               "the completion goes ahead after the grace period");
    tap_ok(hubd_lfs_has(store, big4_oid, &size) && size == sizeof(big4), "... with the object whole");
    hubd_lfs_writer_write(hung, "late bytes", 10);
    hubd_lfs_writer_abort(hung); /* the last writer of a completed upload frees its state */
    char *obj4 = hubd_lfs_object_path(store, big4_oid);
    char *back4 = NULL;
    size_t back4_len = 0;
    tap_ok(obj4 && hfs_read_file(&back4, &back4_len, obj4, 1 << 20) == 0 &&
               back4_len == sizeof(big4) && memcmp(back4, big4, sizeof(big4)) == 0,
           "bytes the hung writer sent later did not reach the object");
    free(back4);
    free(obj4);

    /* a part of an object stored meanwhile (a killed client's completion finished first):
     * taken and dropped, with its ETag */
    tap_is_int(hubd_lfs_part_begin(&w, store, big4_oid, 1, sizeof(big4), 1000), 0,
               "a part of a stored object is taken");
    hubd_lfs_writer_write(w, big4, 1000);
    char e_late[48];
    tap_is_int(hubd_lfs_part_finish(w, e_late, sizeof(e_late)), 0, "... and finished");
    tap_ok(e_late[0] == '"' && strlen(e_late) == 34, "... with an ETag");
    hubd_lfs_part_begin(&w, store, big4_oid, 2, sizeof(big4), 1000);
    hubd_lfs_writer_abort(w);
    struct stat null_st;
    tap_ok(stat("/dev/null", &null_st) == 0 && S_ISCHR(null_st.st_mode),
           "an aborted part of a stored object leaves /dev/null alone");

    test_sync(store, root);

    /* the progress lives in memory: a new store (a restarted hub) completes from the file */
    char big3[2000];
    memset(big3, 'q', sizeof(big3));
    char big3_oid[65], e3[2][48];
    hfs_sha256_hex(big3_oid, big3, sizeof(big3));
    for (unsigned p = 1; p <= 2; p++) {
        hubd_lfs_part_begin(&w, store, big3_oid, p, sizeof(big3), 1000);
        hubd_lfs_writer_write(w, big3, 1000);
        hubd_lfs_part_finish(w, e3[p - 1], sizeof(e3[0]));
    }
    hubd_lfs_store_free(store);
    tap_is_int(hubd_lfs_store_open(&store, root), 0, "reopen with parts in");
    const char *t4[2] = {e3[0], e3[1]};
    tap_is_int(hubd_lfs_multipart_complete(store, big3_oid, sizeof(big3), 1000, nums, t4, 2), 0,
               "complete after a restart");
    tap_ok(hubd_lfs_has(store, big3_oid, &size) && size == sizeof(big3), "that object is there");

    /* a crash leaves temp files (and the open mark): reopening sweeps them, objects stay */
    char *mark = hfs_sprintf("%s/lfs/open", root);
    tap_ok(access(mark, F_OK) == 0, "an open store is marked open");
    hubd_lfs_store_free(store);
    tap_ok(access(mark, F_OK) != 0, "... and unmarked when closed");
    char *junk = hfs_sprintf("%s/lfs/objects/%.2s/.upload-half", root, oid);
    char *part_junk_dir = hfs_sprintf("%s/lfs/parts/%s", root, big4_oid);
    char *part_junk = hfs_sprintf("%s/.upload-etag", part_junk_dir);
    hfs_mkdir_p(part_junk_dir);
    hfs_write_file_atomic(junk, "half an object", 14, 0644);
    hfs_write_file_atomic(part_junk, "\"tag\"", 5, 0644);
    tap_is_int(hubd_lfs_store_open(&store, root), 0, "reopen after a clean close");
    tap_ok(access(junk, F_OK) == 0, "a clean close leaves nothing to look for: no scan");
    hubd_lfs_store_free(store);
    hfs_write_file_atomic(mark, "", 0, 0644); /* as a hub killed -9 leaves it */
    tap_is_int(hubd_lfs_store_open(&store, root), 0, "reopen after a crash");
    tap_ok(access(junk, F_OK) != 0, "a leftover temp file beside the objects is swept");
    tap_ok(access(part_junk, F_OK) != 0, "... and one among the parts");
    tap_ok(hubd_lfs_has(store, oid, NULL) && hubd_lfs_has(store, big_oid, NULL),
           "stored objects survive a reopen");
    hubd_lfs_store_free(store);
    hubd_lfs_store_free(NULL);

    /* a store of the old layout (AB/CD/OID, temps in lfs/tmp) is moved over on open */
    char *old_root = hfs_sprintf("%s/old", root);
    char *old_cd = hfs_sprintf("%s/lfs/objects/%.2s/%.2s", old_root, oid, oid + 2);
    char *old_obj = hfs_sprintf("%s/%s", old_cd, oid);
    char *old_tmp = hfs_sprintf("%s/lfs/tmp/upload.abc123", old_root);
    char *old_tmp_dir = hfs_sprintf("%s/lfs/tmp", old_root);
    hfs_mkdir_p(old_cd);
    hfs_mkdir_p(old_tmp_dir);
    hfs_write_file_atomic(old_obj, data, len, 0644);
    hfs_write_file_atomic(old_tmp, "half", 4, 0644);
    tap_is_int(hubd_lfs_store_open(&store, old_root), 0, "open a store of the old layout");
    tap_ok(hubd_lfs_has(store, oid, &size) && size == len, "its object is found");
    path = hubd_lfs_object_path(store, oid);
    want = hfs_sprintf("%s/lfs/objects/%.2s/%s", old_root, oid, oid);
    tap_is_str(path, want, "... moved to lfs/objects/AB/OID");
    tap_ok(access(old_cd, F_OK) != 0, "... its AB/CD directory removed");
    tap_ok(access(old_tmp_dir, F_OK) != 0, "the old temp directory and its leftovers are gone");
    free(path);
    free(want);
    hubd_lfs_store_free(store);
    tap_is_int(hubd_lfs_store_open(&store, old_root), 0, "reopen the moved store");
    tap_ok(hubd_lfs_has(store, oid, NULL), "the object is still there");
    hubd_lfs_store_free(store);
    free(old_root);
    free(old_cd);
    free(old_obj);
    free(old_tmp);
    free(old_tmp_dir);
    free(mark);
    free(part_junk);
    free(part_junk_dir);

    free(junk);
    free(parts);
    free(tmp_dir);
    remove_all(root);
    return tap_done();
}
