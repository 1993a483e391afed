/* The remote half of a plan: the revision's head commit and one recursive tree listing of
 * the repo at that commit, kept compact (100,000 files cost a few MiB) and sorted by path. */
#include "planner/remote.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/util.h"
#include "hub/hub.h"

/* Paths live in big blocks that never move, so entries can point at them. */
struct hfs_path_arena {
    hfs_arena strings;
};

hfs_remote_snapshot *hfs_remote_snapshot_new(const char *head)
{
    hfs_remote_snapshot *snap = hfs_calloc(1, sizeof(*snap));
    snap->arena = hfs_calloc(1, sizeof(*snap->arena));
    if (head) {
        snap->exists = true;
        snprintf(snap->head, sizeof(snap->head), "%s", head);
    }
    return snap;
}

void hfs_remote_snapshot_free(hfs_remote_snapshot *snap)
{
    if (!snap)
        return;
    hfs_arena_clear(&snap->arena->strings);
    free(snap->arena);
    free(snap->entries);
    free(snap);
}

/* A digit's value plus one; 0 for any other byte (NUL included, which ends a short string).
 * A table: the diff compares 100,000 hashes on a re-plan, and branches per digit showed. */
static const unsigned char hex_digit[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

bool hfs_remote_hex_decode(unsigned char *out, size_t n, const char *hex)
{
    if (!hex)
        return false;
    const unsigned char *h = (const unsigned char *)hex;
    for (size_t i = 0; i < n; i++) {
        unsigned hi = hex_digit[h[2 * i]], lo = hi ? hex_digit[h[2 * i + 1]] : 0;
        if (!hi || !lo)
            return false;
        out[i] = (unsigned char)((hi - 1) << 4 | (lo - 1));
    }
    return h[2 * n] == '\0';
}

void hfs_remote_hex_encode(char *out, const unsigned char *bytes, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

int hfs_remote_snapshot_add(hfs_remote_snapshot *snap, const char *path, const char *oid_hex,
                            uint64_t size, const char *lfs_sha256_hex)
{
    hfs_remote_entry e = {0};
    if (!hfs_remote_hex_decode(e.oid, sizeof(e.oid), oid_hex))
        return hfs_error_set(HFS_EINVALID, "remote file %s: oid \"%s\" is not a 40-hex git oid",
                             path, oid_hex ? oid_hex : "");
    if (lfs_sha256_hex) {
        if (!hfs_remote_hex_decode(e.sha256, sizeof(e.sha256), lfs_sha256_hex))
            return hfs_error_set(HFS_EINVALID,
                                 "remote file %s: LFS oid \"%s\" is not a 64-hex sha256", path,
                                 lfs_sha256_hex);
        e.is_lfs = true;
    }
    e.size = size;
    e.path = hfs_arena_strndup(&snap->arena->strings, path, strlen(path));
    HFS_PUSH(snap->entries, snap->count, snap->cap, e);
    return 0;
}

static int compare_entry_path(const void *a, const void *b)
{
    return strcmp(((const hfs_remote_entry *)a)->path, ((const hfs_remote_entry *)b)->path);
}

int hfs_remote_snapshot_finish(hfs_remote_snapshot *snap)
{
    /* The hub lists in git tree order (a folder sorts as if its name ended in '/'); the diff
     * merges with the local files, which are in plain bytewise order. */
    if (snap->count > 1)
        qsort(snap->entries, snap->count, sizeof(*snap->entries), compare_entry_path);
    for (size_t i = 1; i < snap->count; i++)
        if (strcmp(snap->entries[i - 1].path, snap->entries[i].path) == 0)
            return hfs_error_set(HFS_ERROR,
                                 "the hub listed %s twice in the tree at %s; the listing "
                                 "cannot be trusted",
                                 snap->entries[i].path, snap->head);
    return 0;
}

const hfs_remote_entry *hfs_remote_snapshot_find(const hfs_remote_snapshot *snap, const char *path)
{
    hfs_remote_entry key = {.path = path};
    if (snap->count == 0)
        return NULL;
    return bsearch(&key, snap->entries, snap->count, sizeof(*snap->entries), compare_entry_path);
}

/* The first entry whose path is not below `path`, in [lo, hi). */
static size_t lower_bound(const hfs_remote_snapshot *snap, size_t lo, size_t hi, const char *path)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(snap->entries[mid].path, path) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const hfs_remote_entry *hfs_remote_snapshot_seek(const hfs_remote_snapshot *snap, size_t *hint,
                                                 const char *path)
{
    size_t h = *hint <= snap->count ? *hint : snap->count, at;
    int c = h < snap->count ? strcmp(snap->entries[h].path, path) : 1;
    if (c == 0) {
        *hint = h + 1; /* the usual case: the next remote file is this one */
        return &snap->entries[h];
    }
    if (c > 0 && (h == 0 || strcmp(snap->entries[h - 1].path, path) < 0))
        return NULL; /* it falls between the last one found and the next: not remote */
    at = c < 0 ? lower_bound(snap, h + 1, snap->count, path) : lower_bound(snap, 0, h, path);
    *hint = at;
    if (at < snap->count && strcmp(snap->entries[at].path, path) == 0) {
        *hint = at + 1;
        return &snap->entries[at];
    }
    return NULL;
}

void hfs_remote_entry_oid_hex(const hfs_remote_entry *e, char out[HFS_SHA1_HEX])
{
    hfs_remote_hex_encode(out, e->oid, sizeof(e->oid));
}

void hfs_remote_entry_sha256_hex(const hfs_remote_entry *e, char out[HFS_SHA256_HEX])
{
    hfs_remote_hex_encode(out, e->sha256, sizeof(e->sha256));
}

bool hfs_remote_entry_same_sha1(const hfs_remote_entry *e, const char *sha1_hex)
{
    unsigned char bytes[20];
    return !e->is_lfs && sha1_hex && hfs_remote_hex_decode(bytes, sizeof(bytes), sha1_hex) &&
           memcmp(bytes, e->oid, sizeof(bytes)) == 0;
}

bool hfs_remote_entry_same_sha256(const hfs_remote_entry *e, const char *sha256_hex)
{
    unsigned char bytes[32];
    return e->is_lfs && sha256_hex && hfs_remote_hex_decode(bytes, sizeof(bytes), sha256_hex) &&
           memcmp(bytes, e->sha256, sizeof(bytes)) == 0;
}

/* ---- fetching from the hub ------------------------------------------------------------ */

static int on_tree_page(void *ctx, const hfs_hub_entry *entries, size_t n)
{
    hfs_remote_snapshot *snap = ctx;
    for (size_t i = 0; i < n; i++) {
        const hfs_hub_entry *e = &entries[i];
        if (e->type != HFS_HUB_ENTRY_FILE)
            continue;
        int rc = hfs_remote_snapshot_add(snap, e->path, e->oid, e->size,
                                         e->is_lfs ? e->lfs_sha256 : NULL);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- the listing cache ----------------------------------------------------------------
 * The tree at a commit never changes, so the last listing of each repo is kept in
 * STATE_DIR/remote/KEY.tree (KEY: sha256 of endpoint, type and repo id) with the commit it was
 * taken at: a re-plan against an unchanged head lists nothing. The file: a magic line, the
 * head, the entry count, the entries (path length, path, size, oid, sha256, LFS flag), and
 * the sha256 of all that; one that does not check out is ignored and written anew. */

#define CACHE_MAGIC "hfsync remote tree 1\n"
#define CACHE_MAX_BYTES (1ull << 31)

static char *cache_path(const char *dir, const hfs_hub *hub, hfs_repo_type kind,
                        const char *repo_id)
{
    char *key_text =
        hfs_sprintf("%s\n%s\n%s", hfs_hub_endpoint(hub), hfs_repo_type_name(kind), repo_id);
    char key[HFS_SHA256_HEX];
    hfs_sha256_hex(key, key_text, strlen(key_text));
    free(key_text);
    return hfs_sprintf("%s/remote/%s.tree", dir, key);
}

static void put_u64(hfs_buf *b, uint64_t v)
{
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)(v >> (8 * i));
    hfs_buf_add(b, le, 8);
}

static bool get_u64(uint64_t *v, const unsigned char **p, const unsigned char *end)
{
    if (end - *p < 8)
        return false;
    *v = 0;
    for (int i = 0; i < 8; i++)
        *v |= (uint64_t)(*p)[i] << (8 * i);
    *p += 8;
    return true;
}

/* The cached snapshot, at the head it was taken at, or NULL when there is none that checks
 * out (a miss is never an error). */
static hfs_remote_snapshot *cache_load(const char *path)
{
    char head[41];
    char *data = NULL;
    size_t len = 0;
    hfs_remote_snapshot *snap = NULL;
    size_t magic = strlen(CACHE_MAGIC);
    if (hfs_read_file(&data, &len, path, CACHE_MAX_BYTES) < 0) {
        hfs_error_clear();
        return NULL;
    }
    const unsigned char *p = (const unsigned char *)data, *end = p + len;
    char sum[HFS_SHA256_HEX];
    if (len < magic + 40 + 8 + 32 || memcmp(p, CACHE_MAGIC, magic) != 0 ||
        !hfs_is_hex((const char *)p + magic, 40))
        goto done;
    memcpy(head, p + magic, 40);
    head[40] = '\0';
    end -= 32;
    unsigned char want[32];
    hfs_sha256_hex(sum, data, (size_t)(end - p));
    if (!hfs_remote_hex_decode(want, sizeof(want), sum) || memcmp(want, end, 32) != 0)
        goto done;
    p += magic + 40;
    uint64_t count;
    if (!get_u64(&count, &p, end) || count > (uint64_t)(end - p) / 69)
        goto done;
    snap = hfs_remote_snapshot_new(head);
    snap->cap = (size_t)count;
    snap->entries = hfs_malloc((snap->cap ? snap->cap : 1) * sizeof(*snap->entries));
    for (uint64_t i = 0; i < count; i++) {
        uint64_t plen, size = 0;
        if (!get_u64(&plen, &p, end) || plen == 0 || plen > (uint64_t)(end - p) ||
            (uint64_t)(end - p) - plen < 8 + 20 + 32 + 1 || memchr(p, '\0', (size_t)plen))
            goto bad;
        const char *epath = hfs_arena_strndup(&snap->arena->strings, (const char *)p, (size_t)plen);
        p += plen;
        get_u64(&size, &p, end);
        hfs_remote_entry e = {.path = epath, .size = size, .is_lfs = p[52] != 0};
        memcpy(e.oid, p, 20);
        memcpy(e.sha256, p + 20, 32);
        p += 53;
        snap->entries[snap->count++] = e;
    }
    if (p != end)
        goto bad;
    goto done; /* written sorted, from a finished snapshot */
bad:
    hfs_remote_snapshot_free(snap);
    snap = NULL;
done:
    free(data);
    return snap;
}

/* Best effort: a cache that cannot be written only costs the next plan a listing. */
static void cache_store(const char *path, const hfs_remote_snapshot *snap)
{
    hfs_buf b = HFS_BUF_INIT;
    hfs_buf_add(&b, CACHE_MAGIC, strlen(CACHE_MAGIC));
    hfs_buf_add(&b, snap->head, 40);
    put_u64(&b, snap->count);
    for (size_t i = 0; i < snap->count; i++) {
        const hfs_remote_entry *e = &snap->entries[i];
        unsigned char flag = e->is_lfs ? 1 : 0;
        put_u64(&b, strlen(e->path));
        hfs_buf_add(&b, e->path, strlen(e->path));
        put_u64(&b, e->size);
        hfs_buf_add(&b, e->oid, 20);
        hfs_buf_add(&b, e->sha256, 32);
        hfs_buf_add(&b, &flag, 1);
    }
    char sum[HFS_SHA256_HEX];
    unsigned char raw[32];
    hfs_sha256_hex(sum, b.ptr, b.len);
    hfs_remote_hex_decode(raw, sizeof(raw), sum);
    hfs_buf_add(&b, raw, 32);
    char *dir = hfs_strdup(path);
    *strrchr(dir, '/') = '\0';
    hfs_remove_stale_temps(path); /* what a plan killed mid-save left */
    if (hfs_mkdir_p(dir) < 0 || hfs_write_file_atomic(path, b.ptr, b.len, 0644) < 0)
        hfs_error_clear();
    free(dir);
    hfs_buf_free(&b);
}

/* The cached listing is read while the hub is asked for the head: a re-plan against an
 * unchanged head then waits for the one answer only. */
typedef struct {
    const char *path;
    hfs_remote_snapshot *snap;
    pthread_t thread;
    bool running;
} cache_reader;

static void *cache_reader_run(void *arg)
{
    cache_reader *r = arg;
    r->snap = cache_load(r->path);
    return NULL;
}

/* The cached snapshot if it was taken at `head`, else NULL; the reader is done after. */
static hfs_remote_snapshot *cache_reader_take(cache_reader *r, const char *head)
{
    if (r->running) {
        pthread_join(r->thread, NULL);
        r->running = false;
    } else if (r->path && !r->snap && head) {
        r->snap = cache_load(r->path); /* no thread could start: read it now */
    }
    hfs_remote_snapshot *snap = r->snap;
    r->snap = NULL;
    r->path = NULL;
    if (snap && (!head || strcmp(snap->head, head) != 0)) {
        hfs_remote_snapshot_free(snap);
        snap = NULL;
    }
    return snap;
}

int hfs_remote_fetch(hfs_remote_snapshot **out, hfs_hub *hub, hfs_repo_type kind,
                     const char *repo_id, const char *revision, const char *cache_dir)
{
    hfs_hub_repo repo = {kind, repo_id};
    hfs_hub_repo_info info = {0};
    hfs_remote_snapshot *snap = NULL;
    const char *kind_name = hfs_repo_type_name(kind);
    char *cached_at = cache_dir ? cache_path(cache_dir, hub, kind, repo_id) : NULL;
    cache_reader reader = {.path = cached_at};
    int rc;

    *out = NULL;
    if (cached_at)
        reader.running = pthread_create(&reader.thread, NULL, cache_reader_run, &reader) == 0;
    rc = hfs_hub_repo_head_get(&info, hub, &repo, revision);
    if (rc == HFS_ENOTFOUND) {
        /* One answer covers both a missing repo and a missing revision; asking for the
         * repo alone tells them apart. */
        hfs_hub_repo_info probe = {0};
        int probe_rc = hfs_hub_repo_head_get(&probe, hub, &repo, NULL);
        hfs_hub_repo_info_clear(&probe);
        if (probe_rc == HFS_ENOTFOUND) {
            hfs_error_clear();
            *out = hfs_remote_snapshot_new(NULL);
            rc = 0;
        } else if (probe_rc == 0) {
            rc = hfs_error_set(HFS_ENOTFOUND,
                               "revision \"%s\" does not exist in %s %s at %s: create the "
                               "branch first, or fix `revision:` in the manifest",
                               revision, kind_name, repo_id, hfs_hub_endpoint(hub));
        } else {
            rc = probe_rc;
        }
        goto done;
    }
    if (rc < 0)
        goto done;
    if (!info.sha || strlen(info.sha) != 40 || !hfs_is_hex(info.sha, 40)) {
        rc = hfs_error_set(HFS_ERROR,
                           "the hub's info for %s %s at %s has no 40-hex head commit (\"sha\")",
                           kind_name, repo_id, revision);
        goto done;
    }
    if ((snap = cache_reader_take(&reader, info.sha))) {
        *out = snap;
        snap = NULL;
        goto done;
    }
    snap = hfs_remote_snapshot_new(info.sha);
    /* Listing at the commit rather than the branch name keeps the listing and the pinned
     * head in agreement even when someone pushes in between. */
    rc = hfs_hub_list_tree(hub, &repo, snap->head, NULL, true, on_tree_page, snap);
    if (rc == 0)
        rc = hfs_remote_snapshot_finish(snap);
    if (rc == 0 && cached_at)
        cache_store(cached_at, snap);
    if (rc == 0) {
        *out = snap;
        snap = NULL;
    }
done:
    hfs_remote_snapshot_free(cache_reader_take(&reader, NULL));
    free(cached_at);
    hfs_remote_snapshot_free(snap);
    hfs_hub_repo_info_clear(&info);
    return rc;
}

typedef struct {
    hfs_buf buf;
    size_t max;
    const char *path;
} small_sink;

static int small_write(void *ctx, const void *data, size_t len)
{
    small_sink *s = ctx;
    if (s->buf.len + len > s->max)
        return hfs_error_set(HFS_ELIMIT, "the remote %s is larger than %zu bytes", s->path, s->max);
    hfs_buf_add(&s->buf, data, len);
    return 0;
}

static int small_restart(void *ctx)
{
    hfs_buf_clear(&((small_sink *)ctx)->buf);
    return 0;
}

int hfs_remote_read_small(char **out, hfs_hub *hub, const hfs_remote_snapshot *snap,
                          hfs_repo_type kind, const char *repo_id, const char *path,
                          size_t max_bytes)
{
    *out = NULL;
    const hfs_remote_entry *e = snap->exists ? hfs_remote_snapshot_find(snap, path) : NULL;
    if (!e)
        return 0;
    if (e->size > max_bytes)
        return hfs_error_set(HFS_ELIMIT,
                             "the remote %s of %s is %llu bytes, more than the %zu bytes "
                             "hfsync reads for it",
                             path, repo_id, (unsigned long long)e->size, max_bytes);
    hfs_hub_repo repo = {kind, repo_id};
    small_sink sink = {HFS_BUF_INIT, max_bytes, path};
    int rc = hfs_hub_download(hub, &repo, snap->head, path, small_write, small_restart, &sink);
    if (rc == 0)
        *out = hfs_buf_detach(&sink.buf);
    hfs_buf_free(&sink.buf);
    return rc;
}
