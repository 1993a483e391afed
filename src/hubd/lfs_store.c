/* The local hub's LFS object store: objects at ROOT/lfs/objects/AB/CD/OID, uploads streamed
 * into ROOT/lfs/tmp and renamed into place only once their sha256 and size check out. */
#include "hubd/lfs_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/util.h"

#define COPY_CHUNK (1u << 20)
/* Start writeback every this many bytes, so the fsync before the rename finds little to do
 * and a large upload is not followed by a long stall. */
#define WRITEBACK_EVERY (64ull << 20)
/* Parts of multipart uploads that were never completed are dropped after this long. */
#define STALE_PARTS_SECONDS (7 * 24 * 3600)

struct hubd_lfs_store {
    char *objects_dir;
    char *tmp_dir;
    char *parts_dir;
};

struct hubd_lfs_writer {
    hubd_lfs_store *store;
    char oid[65];
    uint64_t size;      /* whole objects: the size the bytes must add up to */
    unsigned part;      /* 0 for a whole object */
    int fd;
    char *tmp_path;
    EVP_MD_CTX *md;     /* sha256 of an object, md5 of a part (its ETag, as S3 does) */
    uint64_t written;
    uint64_t synced;
};

bool hubd_lfs_oid_valid(const char *oid)
{
    return oid && strlen(oid) == 64 && hfs_is_hex(oid, 64);
}

static char *object_path(const hubd_lfs_store *s, const char *oid)
{
    return hfs_sprintf("%s/%.2s/%.2s/%s", s->objects_dir, oid, oid + 2, oid);
}

static char *part_dir(const hubd_lfs_store *s, const char *oid)
{
    return hfs_path_join(s->parts_dir, oid);
}

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

/* Temp files left by a crash are never objects; clear them, and multipart parts abandoned
 * long ago, when the store opens. */
static void sweep(hubd_lfs_store *s)
{
    DIR *d = opendir(s->tmp_dir);
    struct dirent *de;
    if (d) {
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            char *p = hfs_path_join(s->tmp_dir, de->d_name);
            unlink(p);
            free(p);
        }
        closedir(d);
    }
    d = opendir(s->parts_dir);
    if (d) {
        time_t now = time(NULL);
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            char *p = hfs_path_join(s->parts_dir, de->d_name);
            struct stat st;
            if (stat(p, &st) == 0 && now - st.st_mtime > STALE_PARTS_SECONDS)
                remove_tree(p);
            free(p);
        }
        closedir(d);
    }
}

int hubd_lfs_store_open(hubd_lfs_store **out, const char *root)
{
    int rc;
    *out = NULL;
    hubd_lfs_store *s = hfs_calloc(1, sizeof(*s));
    char *lfs = hfs_path_join(root, "lfs");
    s->objects_dir = hfs_path_join(lfs, "objects");
    s->tmp_dir = hfs_path_join(lfs, "tmp");
    s->parts_dir = hfs_path_join(lfs, "parts");
    free(lfs);
    if ((rc = hfs_mkdir_p(s->objects_dir)) < 0 || (rc = hfs_mkdir_p(s->tmp_dir)) < 0 ||
        (rc = hfs_mkdir_p(s->parts_dir)) < 0) {
        hubd_lfs_store_free(s);
        return rc;
    }
    sweep(s);
    *out = s;
    return 0;
}

void hubd_lfs_store_free(hubd_lfs_store *s)
{
    if (!s)
        return;
    free(s->objects_dir);
    free(s->tmp_dir);
    free(s->parts_dir);
    free(s);
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

static int open_tmp(hubd_lfs_store *s, char **path_out, int *fd_out)
{
    char *path = hfs_path_join(s->tmp_dir, "upload.XXXXXX");
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        free(path);
        return hfs_error_set(HFS_ERROR, "cannot create a temp file in %s: %s", s->tmp_dir,
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
    int rc = open_tmp(s, &w->tmp_path, &w->fd);
    if (rc < 0) {
        free(w);
        return rc;
    }
    w->md = EVP_MD_CTX_new();
    if (!w->md || !EVP_DigestInit_ex(w->md, part ? EVP_md5() : EVP_sha256(), NULL)) {
        hubd_lfs_writer_abort(w);
        return hfs_error_set(HFS_ERROR, "cannot start hashing an upload: OpenSSL failed");
    }
    *out = w;
    return 0;
}

int hubd_lfs_writer_begin(hubd_lfs_writer **out, hubd_lfs_store *s, const char *oid,
                          uint64_t size)
{
    return writer_new(out, s, oid, size, 0);
}

int hubd_lfs_part_begin(hubd_lfs_writer **out, hubd_lfs_store *s, const char *oid,
                        unsigned part_number)
{
    if (part_number == 0 || part_number > 99999)
        return hfs_error_set(HFS_EINVALID, "part number %u is out of range (1 to 99999)",
                             part_number);
    return writer_new(out, s, oid, 0, part_number);
}

static int write_all(int fd, const void *data, size_t len, const char *path)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return hfs_error_set(HFS_ERROR, "cannot write %s: %s", path, strerror(errno));
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int hubd_lfs_writer_write(hubd_lfs_writer *w, const void *data, size_t len)
{
    if (w->part == 0 && w->written + len > w->size)
        return hfs_error_set(HFS_EINVALID,
                             "upload of LFS object %s is longer than its declared size %llu",
                             w->oid, (unsigned long long)w->size);
    int rc = write_all(w->fd, data, len, w->tmp_path);
    if (rc < 0)
        return rc;
    EVP_DigestUpdate(w->md, data, len);
    w->written += len;
    if (w->written - w->synced >= WRITEBACK_EVERY) {
        sync_file_range(w->fd, (off64_t)w->synced, (off64_t)(w->written - w->synced),
                        SYNC_FILE_RANGE_WRITE);
        w->synced = w->written;
    }
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    fsync(fd);
    close(fd);
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

/* Makes a verified temp file the object: fsync, then an atomic rename into ab/cd/. */
static int publish(hubd_lfs_store *s, const char *oid, int fd, const char *tmp_path)
{
    int rc = 0;
    char *dest = object_path(s, oid);
    char *dir = hfs_sprintf("%s/%.2s/%.2s", s->objects_dir, oid, oid + 2);
    if (fsync(fd) != 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot flush %s: %s", tmp_path, strerror(errno));
        goto done;
    }
    if ((rc = hfs_mkdir_p(dir)) < 0)
        goto done;
    if (rename(tmp_path, dest) != 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot move %s to %s: %s", tmp_path, dest,
                           strerror(errno));
        goto done;
    }
    fsync_dir(dir);
done:
    free(dest);
    free(dir);
    return rc;
}

static void writer_free(hubd_lfs_writer *w, bool unlink_tmp)
{
    if (w->fd >= 0)
        close(w->fd);
    if (unlink_tmp && w->tmp_path)
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

static char *part_path(const hubd_lfs_store *s, const char *oid, unsigned n, const char *suffix)
{
    return hfs_sprintf("%s/%s/%05u%s", s->parts_dir, oid, n, suffix);
}

int hubd_lfs_part_finish(hubd_lfs_writer *w, char *etag_out, size_t etag_size)
{
    int rc = 0;
    char md5[33] = "";
    char *dir = part_dir(w->store, w->oid);
    char *dest = part_path(w->store, w->oid, w->part, "");
    char *etag_path = part_path(w->store, w->oid, w->part, ".etag");
    char *etag_tmp = NULL;
    int etag_fd = -1;
    bool renamed = false;
    digest_hex(w->md, md5, sizeof(md5));
    if (fsync(w->fd) != 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot flush %s: %s", w->tmp_path, strerror(errno));
        goto done;
    }
    if ((rc = hfs_mkdir_p(dir)) < 0)
        goto done;
    if (rename(w->tmp_path, dest) != 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot move %s to %s: %s", w->tmp_path, dest,
                           strerror(errno));
        goto done;
    }
    renamed = true;
    /* the ETag goes beside the part so the completion can check it before copying anything */
    if ((rc = open_tmp(w->store, &etag_tmp, &etag_fd)) < 0)
        goto done;
    char quoted[40];
    snprintf(quoted, sizeof(quoted), "\"%s\"", md5);
    if ((rc = write_all(etag_fd, quoted, strlen(quoted), etag_tmp)) < 0)
        goto done;
    if (rename(etag_tmp, etag_path) != 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot move %s to %s: %s", etag_tmp, etag_path,
                           strerror(errno));
        goto done;
    }
    snprintf(etag_out, etag_size, "%s", quoted);
done:
    if (etag_fd >= 0)
        close(etag_fd);
    if (rc < 0 && etag_tmp)
        unlink(etag_tmp);
    free(etag_tmp);
    free(etag_path);
    free(dest);
    free(dir);
    writer_free(w, !renamed);
    return rc;
}

static int append_part(int out_fd, const char *out_path, const char *part, EVP_MD_CTX *md,
                       char *buf, uint64_t *total)
{
    int fd = open(part, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hfs_error_set(HFS_ERROR, "cannot read %s: %s", part, strerror(errno));
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, buf, COPY_CHUNK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = hfs_error_set(HFS_ERROR, "cannot read %s: %s", part, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        EVP_DigestUpdate(md, buf, (size_t)n);
        if ((rc = write_all(out_fd, buf, (size_t)n, out_path)) < 0)
            break;
        *total += (uint64_t)n;
    }
    close(fd);
    return rc;
}

int hubd_lfs_multipart_complete(hubd_lfs_store *s, const char *oid, uint64_t size,
                                const unsigned *part_numbers, const char *const *etags,
                                size_t count)
{
    int rc = 0;
    char *tmp_path = NULL, *dir = NULL;
    int fd = -1;
    char *buf = NULL;
    EVP_MD_CTX *md = NULL;
    if (!hubd_lfs_oid_valid(oid))
        return hfs_error_set(HFS_EINVALID, "'%.80s' is not an LFS oid (64 lowercase hex digits)",
                             oid ? oid : "");
    dir = part_dir(s, oid);
    if (hubd_lfs_has(s, oid, NULL)) {
        remove_tree(dir);
        goto done;
    }
    if (count == 0) {
        rc = hfs_error_set(HFS_EINVALID, "the completion of %s lists no parts", oid);
        goto done;
    }
    /* parts 1..count, each once, with the ETag its upload returned */
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
        char *etag_path = part_path(s, oid, (unsigned)want, ".etag");
        char *stored = NULL;
        size_t len = 0;
        int r = hfs_read_file(&stored, &len, etag_path, 128);
        free(etag_path);
        if (r < 0) {
            rc = hfs_error_set(HFS_EINVALID, "part %zu of %s was never uploaded", want, oid);
            goto done;
        }
        bool same = etags[found] && strcmp(stored, etags[found]) == 0;
        free(stored);
        if (!same) {
            rc = hfs_error_set(HFS_EINVALID,
                               "the ETag given for part %zu of %s is not the one its upload "
                               "returned",
                               want, oid);
            goto done;
        }
    }
    if ((rc = open_tmp(s, &tmp_path, &fd)) < 0)
        goto done;
    md = EVP_MD_CTX_new();
    if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        rc = hfs_error_set(HFS_ERROR, "cannot start hashing %s: OpenSSL failed", oid);
        goto done;
    }
    buf = hfs_malloc(COPY_CHUNK);
    uint64_t total = 0;
    for (size_t n = 1; n <= count; n++) {
        char *p = part_path(s, oid, (unsigned)n, "");
        rc = append_part(fd, tmp_path, p, md, buf, &total);
        free(p);
        if (rc < 0)
            goto done;
    }
    char got[65] = "";
    digest_hex(md, got, sizeof(got));
    if (total != size) {
        rc = hfs_error_set(HFS_EINVALID,
                           "the %zu parts of %s add up to %llu bytes, not its declared size %llu",
                           count, oid, (unsigned long long)total, (unsigned long long)size);
        goto done;
    }
    if (strcmp(got, oid) != 0) {
        rc = hfs_error_set(HFS_EINVALID,
                           "the parts of %s hash to sha256 %s: the object's bytes do not match "
                           "its oid",
                           oid, got);
        goto done;
    }
    if ((rc = publish(s, oid, fd, tmp_path)) < 0)
        goto done;
    free(tmp_path); /* renamed: the name is no longer ours to unlink */
    tmp_path = NULL;
    remove_tree(dir);
done:
    if (fd >= 0)
        close(fd);
    if (rc < 0 && tmp_path)
        unlink(tmp_path);
    free(tmp_path);
    free(dir);
    free(buf);
    EVP_MD_CTX_free(md);
    return rc;
}
