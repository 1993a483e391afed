/* A git pack with its index, written in one pass (see gitpack.h). */
#include "common/gitpack.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "common/error.h"
#include "common/util.h"

/* Where one object of the pack starts, and the CRC-32 of its bytes there. */
typedef struct {
    unsigned char id[HFS_GITPACK_ID_BYTES];
    uint64_t offset;
    uint32_t crc;
} pack_entry;

/* The pack being written, a buffer at a time, with the SHA-1 of everything written for its
 * trailer and what its index needs of each object. */
struct hfs_gitpack {
    int fd;
    char *dir;
    char *tmp_path;
    EVP_MD_CTX *sha1;
    z_stream z;
    bool z_ready;
    uint64_t written; /* bytes of the pack so far, the buffer's included */
    pack_entry *entries;
    size_t n_entries, count;
    unsigned char buf[1 << 20];
    size_t len;
};

static int pack_write(const hfs_gitpack *p, int fd, const void *data, size_t len)
{
    if (hfs_write_all(fd, data, len) == 0)
        return 0;
    return hfs_error_set(HFS_ERROR, "cannot write a pack in %s: %s", p->dir, strerror(errno));
}

static int pack_drain(hfs_gitpack *p)
{
    if (p->len == 0)
        return 0;
    EVP_DigestUpdate(p->sha1, p->buf, p->len);
    int rc = pack_write(p, p->fd, p->buf, p->len);
    p->len = 0;
    return rc;
}

static int pack_put(hfs_gitpack *p, const void *data, size_t len)
{
    const unsigned char *d = data;
    p->written += len;
    while (len > 0) {
        size_t n = sizeof(p->buf) - p->len < len ? sizeof(p->buf) - p->len : len;
        memcpy(p->buf + p->len, d, n);
        p->len += n;
        d += n;
        len -= n;
        if (p->len == sizeof(p->buf) && pack_drain(p) < 0)
            return -1;
    }
    return 0;
}

void hfs_gitpack_abort(hfs_gitpack *p)
{
    if (!p)
        return;
    if (p->z_ready)
        deflateEnd(&p->z);
    EVP_MD_CTX_free(p->sha1);
    /* the temp name is removed only while this pack owns it (it was not renamed) */
    if (p->fd >= 0)
        close(p->fd);
    if (p->tmp_path)
        unlink(p->tmp_path);
    free(p->tmp_path);
    free(p->dir);
    free(p->entries);
    free(p);
}

int hfs_gitpack_begin(hfs_gitpack **out, const char *pack_dir, size_t count)
{
    *out = NULL;
    if (count > UINT32_MAX)
        return hfs_error_set(HFS_ELIMIT, "a pack holds at most %u objects, not %zu", UINT32_MAX,
                             count);
    hfs_gitpack *p = hfs_calloc(1, sizeof(*p));
    p->fd = -1;
    p->dir = hfs_strdup(pack_dir);
    p->count = count;
    p->entries = hfs_calloc(count ? count : 1, sizeof(*p->entries));
    int rc = hfs_mkdir_p(pack_dir);
    if (rc < 0)
        goto fail;
    char *tmp = hfs_path_join(pack_dir, "tmp_pack_XXXXXX");
    if ((p->fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot create a pack in %s: %s", pack_dir, strerror(errno));
        free(tmp);
        goto fail;
    }
    p->tmp_path = tmp;
    if (!(p->sha1 = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(p->sha1, EVP_sha1(), NULL) ||
        deflateInit(&p->z, Z_NO_COMPRESSION) != Z_OK) {
        rc = hfs_error_set(HFS_ERROR, "cannot start a pack's hash or zlib stream");
        goto fail;
    }
    p->z_ready = true;
    unsigned char head[12] = {'P', 'A', 'C', 'K', 0, 0, 0, 2};
    for (int i = 0; i < 4; i++)
        head[8 + i] = (unsigned char)((uint32_t)count >> (24 - 8 * i));
    if ((rc = pack_put(p, head, sizeof(head))) < 0)
        goto fail;
    *out = p;
    return 0;
fail:
    hfs_gitpack_abort(p);
    return rc;
}

/* One entry: its type and size (git's varint header), then the data as a zlib stream. */
int hfs_gitpack_add(hfs_gitpack *p, const unsigned char id[HFS_GITPACK_ID_BYTES], int type,
                    const void *data, size_t size)
{
    if (p->n_entries == p->count)
        return hfs_error_set(HFS_ERROR, "a pack of %zu objects was given one more", p->count);
    pack_entry *e = &p->entries[p->n_entries++];
    memcpy(e->id, id, HFS_GITPACK_ID_BYTES);
    e->offset = p->written;
    unsigned char head[16];
    size_t h = 0;
    uint64_t rest = (uint64_t)size >> 4;
    head[h++] = (unsigned char)(((unsigned)type << 4) | (size & 15) | (rest ? 0x80 : 0));
    while (rest) {
        head[h++] = (unsigned char)((rest & 0x7f) | (rest >> 7 ? 0x80 : 0));
        rest >>= 7;
    }
    uLong crc = crc32(0L, head, (uInt)h);
    if (pack_put(p, head, h) < 0)
        return -1;
    if (deflateReset(&p->z) != Z_OK)
        return hfs_error_set(HFS_ERROR, "cannot reset a pack's zlib stream");
    const unsigned char *in = data;
    size_t left = size;
    int zr;
    do {
        if (p->len == sizeof(p->buf) && pack_drain(p) < 0)
            return -1;
        if (p->z.avail_in == 0 && left > 0) {
            uInt take = left > (1u << 30) ? (1u << 30) : (uInt)left;
            p->z.next_in = (Bytef *)in;
            p->z.avail_in = take;
            in += take;
            left -= take;
        }
        size_t before = p->len;
        p->z.next_out = p->buf + p->len;
        p->z.avail_out = (uInt)(sizeof(p->buf) - p->len);
        zr = deflate(&p->z, left > 0 ? Z_NO_FLUSH : Z_FINISH);
        p->len = sizeof(p->buf) - p->z.avail_out;
        crc = crc32(crc, p->buf + before, (uInt)(p->len - before));
        p->written += p->len - before;
    } while (zr == Z_OK || zr == Z_BUF_ERROR);
    e->crc = (uint32_t)crc;
    if (zr != Z_STREAM_END)
        return hfs_error_set(HFS_ERROR, "cannot store an object in a pack: zlib error %d", zr);
    return 0;
}

static int cmp_pack_entry(const void *a, const void *b)
{
    return memcmp(((const pack_entry *)a)->id, ((const pack_entry *)b)->id, HFS_GITPACK_ID_BYTES);
}

static void put_be32(hfs_buf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    hfs_buf_add(b, x, 4);
}

/* The pack's index (git's version 2): a fan-out table on the first byte, the sorted ids,
 * their CRC-32s, their offsets (past 2 GiB through a table of 64-bit ones), the pack's
 * checksum and the index's own. */
static void pack_index(hfs_buf *idx, pack_entry *entries, size_t n, const unsigned char *pack_sum)
{
    qsort(entries, n, sizeof(*entries), cmp_pack_entry);
    static const unsigned char magic[8] = {0xff, 't', 'O', 'c', 0, 0, 0, 2};
    hfs_buf_add(idx, magic, sizeof(magic));
    size_t k = 0;
    for (unsigned first = 0; first < 256; first++) {
        while (k < n && entries[k].id[0] == first)
            k++;
        put_be32(idx, (uint32_t)k);
    }
    for (size_t i = 0; i < n; i++)
        hfs_buf_add(idx, entries[i].id, HFS_GITPACK_ID_BYTES);
    for (size_t i = 0; i < n; i++)
        put_be32(idx, entries[i].crc);
    uint32_t n_large = 0;
    for (size_t i = 0; i < n; i++)
        put_be32(idx, entries[i].offset < 0x80000000u ? (uint32_t)entries[i].offset
                                                      : 0x80000000u | n_large++);
    for (size_t i = 0; i < n; i++)
        if (entries[i].offset >= 0x80000000u) {
            put_be32(idx, (uint32_t)(entries[i].offset >> 32));
            put_be32(idx, (uint32_t)entries[i].offset);
        }
    hfs_buf_add(idx, pack_sum, HFS_GITPACK_ID_BYTES);
    unsigned char sum[EVP_MAX_MD_SIZE];
    unsigned sum_len = 0;
    EVP_Digest(idx->ptr, idx->len, sum, &sum_len, EVP_sha1(), NULL);
    hfs_buf_add(idx, sum, HFS_GITPACK_ID_BYTES);
}

int hfs_gitpack_finish(hfs_gitpack *p)
{
    hfs_buf idx = HFS_BUF_INIT;
    char *idx_tmp = NULL, *pack_path = NULL, *idx_path = NULL;
    int idx_fd = -1, rc = 0;
    unsigned char trailer[EVP_MAX_MD_SIZE];
    unsigned tlen = 0;
    if (p->n_entries != p->count) {
        rc =
            hfs_error_set(HFS_ERROR, "a pack of %zu objects was given %zu", p->count, p->n_entries);
        goto done;
    }
    if ((rc = pack_drain(p)) < 0)
        goto done;
    if (!EVP_DigestFinal_ex(p->sha1, trailer, &tlen)) {
        rc = hfs_error_set(HFS_ERROR, "cannot finish a pack's checksum");
        goto done;
    }
    if ((rc = pack_write(p, p->fd, trailer, tlen)) < 0)
        goto done;
    pack_index(&idx, p->entries, p->n_entries, trailer);
    char hex[2 * HFS_GITPACK_ID_BYTES + 1];
    for (unsigned i = 0; i < HFS_GITPACK_ID_BYTES; i++)
        snprintf(hex + 2 * i, 3, "%02x", trailer[i]);
    pack_path = hfs_sprintf("%s/pack-%s.pack", p->dir, hex);
    idx_path = hfs_sprintf("%s/pack-%s.idx", p->dir, hex);
    idx_tmp = hfs_path_join(p->dir, "tmp_idx_XXXXXX");
    if ((idx_fd = mkostemp(idx_tmp, O_CLOEXEC)) < 0) {
        free(idx_tmp);
        idx_tmp = NULL;
        rc = hfs_error_set(HFS_ERROR, "cannot create a pack index in %s: %s", p->dir,
                           strerror(errno));
        goto done;
    }
    if ((rc = pack_write(p, idx_fd, idx.ptr, idx.len)) < 0)
        goto done;
    if (fchmod(p->fd, 0444) != 0 || fchmod(idx_fd, 0444) != 0 ||
        rename(p->tmp_path, pack_path) != 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot write the pack %s: %s", pack_path, strerror(errno));
        goto done;
    }
    free(p->tmp_path);
    p->tmp_path = NULL;
    if (rename(idx_tmp, idx_path) != 0) {
        /* the pack stays: without its index it is never read, and the name may be that of
         * an identical pack that has one */
        rc = hfs_error_set(HFS_ERROR, "cannot write the pack index %s: %s", idx_path,
                           strerror(errno));
        goto done;
    }
    free(idx_tmp);
    idx_tmp = NULL;
done:
    if (idx_fd >= 0)
        close(idx_fd);
    if (idx_tmp)
        unlink(idx_tmp);
    free(idx_tmp);
    free(pack_path);
    free(idx_path);
    hfs_buf_free(&idx);
    hfs_gitpack_abort(p);
    return rc;
}
