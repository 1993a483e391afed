/* The parallel LFS upload engine: a scheduler over one libcurl multi handle that turns each
 * object into PUTs (whole, or one per part), a completion and a verify, hashing as it sends. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/hash.h"
#include "hub/request.h"
#include "hub/transfer.h"

#define MAX_JOBS 64u
/* libcurl's upload buffer per transfer: large enough to keep loopback and fast links busy,
 * small enough that MAX_JOBS of them stay far below the 100 MiB memory budget. */
#define UPLOAD_BUFFER (512L * 1024L)
#define CATCHUP_READ (1u << 20) /* catch-up hashing reads this much at a time */
#define PROGRESS_INTERVAL 0.1   /* seconds */
#define POLL_MS 100             /* the longest wait before looking at `cancel` again */
#define MAX_REDIRECTS 10
#define BODY_CAP (64u * 1024u) /* of an answer: enough for any error message */

static const char *const lfs_headers[] = {"Accept: application/vnd.git-lfs+json",
                                          "Content-Type: application/vnd.git-lfs+json", NULL};

typedef enum { ITEM_WAITING, ITEM_SENDING, ITEM_FINISHING, ITEM_DONE, ITEM_FAILED } item_phase;

typedef struct {
    uint64_t read_hi; /* bytes of the part read for sending so far, over every attempt */
    char *etag;       /* multipart: the part's ETag, verbatim */
    bool done;
} part_state;

typedef struct item_state {
    const hfs_lfs_upload_item *item;
    size_t index;
    item_phase phase;
    size_t n_parts; /* 1 for a basic PUT */
    uint64_t chunk; /* bytes per part (the whole size for a basic PUT) */
    part_state *parts;
    size_t next_part; /* the next part to start */
    size_t parts_done;
    size_t tasks; /* requests alive for this item (running or waiting); resources stay
                   * open until the last one is gone */
    int fd;
    struct stat st; /* at open, compared again once every byte was read */
    bool hash_good; /* every byte hashed, and the digest is the pinned one */
    bool by_check;  /* the hasher takes the send check, not the SHA-256 */
    /* Shared with the catch-up thread, under the engine's hash_lock: while hash_busy the
     * thread owns hasher and hashed; otherwise the loop may feed bytes it reads in order. */
    hfs_hasher *hasher;
    uint64_t hashed;     /* bytes [0, hashed) went through the hasher, in file order */
    uint64_t hash_limit; /* bytes [0, hash_limit) were read for sending: hashable */
    bool hash_busy, hash_queued, hash_cancel;
    int hash_error; /* the catch-up read failed: its errno, or -1 when the file was shorter */
    struct item_state *hash_next;
} item_state;

typedef enum { TASK_PUT, TASK_COMPLETE, TASK_VERIFY } task_kind;

typedef struct engine engine;

/* An upload's place among those sharing hfs_lfs_slots (under the slots' lock). */
typedef struct slot_user slot_user;
struct slot_user {
    slot_user *next;
    CURLM *multi;  /* woken when a slot may have come free for it */
    unsigned used; /* its requests in flight */
    bool wanting;  /* it has requests to start and was refused a slot */
};

struct hfs_lfs_slots {
    pthread_mutex_t lock;
    unsigned total, used;
    slot_user *users;
};

typedef struct {
    engine *eng;
    item_state *it;
    task_kind kind;
    size_t part;                  /* TASK_PUT: which part (0 for a basic PUT) */
    uint64_t offset, length, pos; /* TASK_PUT: the byte range, and how far this attempt is */
    char *body;                   /* TASK_COMPLETE, TASK_VERIFY: the JSON body */
    char *what;                   /* for messages: "upload part 3 of 7 of FILE to …" */
    char *first_url;              /* every attempt starts here… */
    char *url;                    /* …and follows redirects hop by hop */
    const char *method;           /* of this hop */
    bool with_body;               /* false once a 303 turned the request into a GET */
    int attempt, hops;
    long backoff_ms;
    double ready_at; /* a waiting task starts no earlier */
    CURL *h;
    struct curl_slist *headers;
    hub_response resp;
    char errbuf[CURL_ERROR_SIZE];
    bool token_sent;
} task;

struct engine {
    hfs_hub *hub;
    CURLM *multi;
    hfs_lfs_upload_options opts;
    item_state *items;
    size_t n;
    /* The order items start in: biggest first, so a multipart object's completion (and
     * the hub's work behind it) overlaps the small PUTs instead of trailing them. */
    size_t *order;
    size_t next_item;     /* the first position whose item has parts not yet started */
    item_state **sending; /* the items whose parts are on their way (at most a few per job) */
    size_t n_sending, cap_sending;
    task **running;
    size_t n_running, cap_running;
    task **waiting; /* retries after their wait, completions and verifies */
    size_t n_waiting, cap_waiting;
    int *results;
    int first_rc;
    char *first_msg;
    bool stop; /* a failure other than a changed file: abandon everything */
    uint64_t bytes_done, bytes_total;
    size_t items_done;
    double last_progress;
    /* Catch-up hashing: parts finish out of order and the hash is sequential, so bytes sent
     * ahead of it are read again and hashed by a thread of their own, off the loop that
     * keeps the transfers fed. */
    pthread_t hash_thread;
    bool hash_thread_started, hash_quit;
    pthread_mutex_t hash_lock;
    pthread_cond_t hash_cond;
    item_state *hash_queue; /* items with hashable bytes, waiting for the thread */
    unsigned char *buf;     /* the thread's reads */
    slot_user slot;         /* with opts.slots: this call's share */
};

/* ---- slots shared by uploads running at once ------------------------------------- */

hfs_lfs_slots *hfs_lfs_slots_new(unsigned total)
{
    hfs_lfs_slots *s = hfs_calloc(1, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    s->total = total ? total : 1;
    return s;
}

void hfs_lfs_slots_free(hfs_lfs_slots *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Called with the lock held: wakes the loops of the users that were refused a slot. */
static void slots_wake_locked(hfs_lfs_slots *s, const slot_user *except)
{
    for (slot_user *o = s->users; o; o = o->next)
        if (o != except && o->wanting)
            curl_multi_wakeup(o->multi);
}

static void slots_join(hfs_lfs_slots *s, slot_user *u, CURLM *multi)
{
    *u = (slot_user){.multi = multi};
    pthread_mutex_lock(&s->lock);
    u->next = s->users;
    s->users = u;
    pthread_mutex_unlock(&s->lock);
}

static void slots_leave(hfs_lfs_slots *s, slot_user *u)
{
    pthread_mutex_lock(&s->lock);
    for (slot_user **p = &s->users; *p; p = &(*p)->next)
        if (*p == u) {
            *p = u->next;
            break;
        }
    s->used -= u->used;
    u->used = 0;
    slots_wake_locked(s, u);
    pthread_mutex_unlock(&s->lock);
}

/* Whether u may start one more request now (the slot is then counted as its): while another
 * user is waiting for one, u gets no more than an equal share of the total. */
static bool slots_take(hfs_lfs_slots *s, slot_user *u)
{
    pthread_mutex_lock(&s->lock);
    unsigned active = 0;
    bool others_want = false;
    for (const slot_user *o = s->users; o; o = o->next) {
        if (o == u || o->used > 0 || o->wanting)
            active++;
        if (o != u && o->wanting)
            others_want = true;
    }
    unsigned share = s->total / active ? s->total / active : 1;
    bool ok = s->used < s->total && (u->used < share || !others_want);
    if (ok) {
        u->used++;
        s->used++;
    }
    u->wanting = !ok;
    pthread_mutex_unlock(&s->lock);
    return ok;
}

/* u has `running` requests in flight now (fewer frees slots for the others); `wanting`
 * false: it has nothing more to start. */
static void slots_set(hfs_lfs_slots *s, slot_user *u, unsigned running, bool wanting)
{
    pthread_mutex_lock(&s->lock);
    bool freed = running < u->used;
    s->used = s->used - u->used + running;
    u->used = running;
    u->wanting = u->wanting && wanting;
    if (freed)
        slots_wake_locked(s, u);
    pthread_mutex_unlock(&s->lock);
}

/* ---- items ------------------------------------------------------------------------ */

static uint64_t part_length(const item_state *it, size_t p)
{
    uint64_t start = (uint64_t)p * it->chunk, size = it->item->size;
    return size - start < it->chunk ? size - start : it->chunk;
}

/* Closes the file once the item is over and no request of it is left. */
static void item_release(engine *eng, item_state *it)
{
    if ((it->phase != ITEM_DONE && it->phase != ITEM_FAILED) || it->tasks > 0)
        return;
    pthread_mutex_lock(&eng->hash_lock);
    bool held = it->hash_busy || it->hash_queued;
    pthread_mutex_unlock(&eng->hash_lock);
    if (held)
        return; /* the catch-up thread lets go first; the engine's end releases it then */
    if (it->fd >= 0)
        close(it->fd);
    it->fd = -1;
    hfs_hasher_free(it->hasher);
    it->hasher = NULL;
}

static void item_finish(engine *eng, item_state *it, item_phase phase, int rc)
{
    it->phase = phase;
    eng->items_done++;
    if (eng->results)
        eng->results[it->index] = rc;
    pthread_mutex_lock(&eng->hash_lock);
    it->hash_cancel = true; /* nothing left to hash for */
    pthread_mutex_unlock(&eng->hash_lock);
    item_release(eng, it);
}

static void item_succeed(engine *eng, item_state *it)
{
    item_finish(eng, it, ITEM_DONE, 0);
}

/* Fails the item with the last error (rc). The first failure of the call is kept for the
 * caller; any failure but a changed file stops the whole call. Safe inside libcurl
 * callbacks: the item's other requests are only reaped later, in the loop. */
static void item_fail(engine *eng, item_state *it, int rc)
{
    if (it->phase == ITEM_DONE || it->phase == ITEM_FAILED)
        return;
    if (!eng->first_rc) {
        eng->first_rc = rc;
        eng->first_msg = hfs_strdup(hfs_error_last());
    }
    if (rc != HFS_ESTALE)
        eng->stop = true;
    item_finish(eng, it, ITEM_FAILED, rc);
}

/* A file that changed since the plan: every message says so the same way. */
static int stale(const char *path, const char *how)
{
    return hfs_error_set(HFS_ESTALE,
                         "%s %s; it was not uploaded: run `hfsync plan` again to plan "
                         "the new content",
                         path, how);
}

/* Opens the item's file and checks it against its pin and its LFS action. */
static int item_open(item_state *it)
{
    const hfs_lfs_upload_item *item = it->item;
    const hfs_hub_lfs_action *a = item->action;

    if (!a)
        return hfs_error_set(HFS_EINVALID, "cannot upload %s: no LFS batch action was given",
                             item->local_path);
    if (!item->sha256 || strcmp(a->oid, item->sha256) != 0 || a->size != item->size)
        return hfs_error_set(HFS_EINVALID,
                             "cannot upload %s: its LFS action is for object %s of %" PRIu64
                             " bytes, not %s of %" PRIu64 " bytes",
                             item->local_path, a->oid, a->size,
                             item->sha256 ? item->sha256 : "(no sha256)", item->size);
    if (a->kind == HFS_HUB_LFS_ERROR)
        return hfs_error_set(HFS_ERROR, "the hub refused to store %s (LFS object %s): %s (code %d)",
                             item->local_path, a->oid,
                             a->error_message ? a->error_message : "no reason given",
                             a->error_code);
    if (a->kind == HFS_HUB_LFS_MULTIPART) {
        if (item->size == 0 || a->chunk_size == 0 ||
            a->n_parts != (item->size + a->chunk_size - 1) / a->chunk_size || !a->upload_href)
            return hfs_error_set(HFS_EINVALID,
                                 "cannot upload %s: its multipart action has %zu part URLs for "
                                 "%" PRIu64 " bytes in chunks of %" PRIu64,
                                 item->local_path, a->n_parts, item->size, a->chunk_size);
        it->n_parts = a->n_parts;
        it->chunk = a->chunk_size;
    } else {
        if (!a->upload_href)
            return hfs_error_set(HFS_EINVALID, "cannot upload %s: its LFS action has no href",
                                 item->local_path);
        it->n_parts = 1;
        it->chunk = item->size;
    }

    if (item->data) {
        /* Bytes in memory: nothing to open or to watch; hashing them as sent still checks
         * they are the pinned content. */
        it->parts = hfs_calloc(it->n_parts, sizeof(*it->parts));
        it->hasher = hfs_hasher_new(true, false, item->size);
        it->phase = ITEM_SENDING;
        return 0;
    }
    it->fd = open(item->local_path, O_RDONLY | O_CLOEXEC);
    if (it->fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return stale(item->local_path, "no longer exists");
        return hfs_error_set(HFS_ERROR, "cannot open %s for upload: %s", item->local_path,
                             strerror(errno));
    }
    if (fstat(it->fd, &it->st) != 0)
        return hfs_error_set(HFS_ERROR, "cannot stat %s: %s", item->local_path, strerror(errno));
    if (!S_ISREG(it->st.st_mode))
        return stale(item->local_path, "is no longer a regular file");
    if (item->growing ? (uint64_t)it->st.st_size < item->size
                      : (uint64_t)it->st.st_size != item->size) {
        char how[96];
        snprintf(how, sizeof(how), "is now %lld bytes, the plan has %" PRIu64,
                 (long long)it->st.st_size, item->size);
        return stale(item->local_path, how);
    }
    posix_fadvise(it->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    it->parts = hfs_calloc(it->n_parts, sizeof(*it->parts));
    /* With the plan's send check, the bytes sent are checked against that: the SHA-256 it
     * was taken with need not be computed again. */
    it->hasher = hfs_hasher_new(false, false, item->size);
    it->by_check = item->check && item->check[0] && hfs_hasher_add_check(it->hasher);
    if (!it->by_check) {
        hfs_hasher_free(it->hasher);
        it->hasher = hfs_hasher_new(true, false, item->size);
    }
    it->phase = ITEM_SENDING;
    return 0;
}

static bool same_time(struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* Once every byte is hashed: the content must be the pinned one, and the file must still
 * be the one opened, unwritten since (else bytes read again for hashing, or resent by a
 * retry, might not be the bytes that were hashed). The identity is checked on every call:
 * after each last byte read, and before the object is completed. */
static int item_judge(item_state *it)
{
    const hfs_lfs_upload_item *item = it->item;
    char hex[HFS_SHA256_HEX];
    struct stat now;

    if (!it->hash_good && it->by_check) {
        it->hash_good = hfs_hasher_check(it->hasher, hex) && strcmp(hex, item->check) == 0;
        if (!it->hash_good)
            return stale(item->local_path, "changed since it was planned: the bytes read to be "
                                           "sent are not the bytes its sha256 was taken from");
    }
    if (!it->hash_good) {
        hfs_hasher_final(it->hasher, hex, NULL);
        it->hash_good = strcmp(hex, item->sha256) == 0;
    }
    if (!it->hash_good) {
        char how[256];
        snprintf(how, sizeof(how),
                 "changed since it was planned: its content hashes to sha256 %.64s, the plan "
                 "has %.64s",
                 hex, item->sha256);
        return stale(item->local_path, how);
    }
    if (!item->data && !item->growing &&
        (stat(item->local_path, &now) != 0 || now.st_ino != it->st.st_ino ||
         now.st_dev != it->st.st_dev || now.st_size != it->st.st_size ||
         !same_time(now.st_mtim, it->st.st_mtim) || !same_time(now.st_ctim, it->st.st_ctim)))
        return stale(item->local_path, "changed while it was being uploaded");
    /* A growing file is written past `size` by design: its first `size` bytes, hashed
     * above, are what counts (appends never rewrite them), so only shrinking is a change. */
    if (item->growing && (stat(item->local_path, &now) != 0 || now.st_ino != it->st.st_ino ||
                          now.st_dev != it->st.st_dev || (uint64_t)now.st_size < item->size))
        return stale(item->local_path, "changed while it was being uploaded");
    return 0;
}

/* Reads up to len bytes of the item's content at off: from memory, or from its file. */
static ssize_t item_read(const item_state *it, void *buf, size_t len, uint64_t off)
{
    const hfs_lfs_upload_item *item = it->item;
    if (!item->data)
        return pread(it->fd, buf, len, (off_t)off);
    size_t n = off >= item->size ? 0 : item->size - off < len ? (size_t)(item->size - off) : len;
    memcpy(buf, (const char *)item->data + off, n);
    return (ssize_t)n;
}

/* Feeds bytes [off, off+len) read for sending to the hasher when they continue it and the
 * catch-up thread is not at it. */
static void hash_sent(engine *eng, item_state *it, const void *data, uint64_t off, size_t len)
{
    pthread_mutex_lock(&eng->hash_lock);
    if (!it->hash_busy && off <= it->hashed && it->hashed < off + len) {
        size_t skip = (size_t)(it->hashed - off);
        hfs_hasher_update(it->hasher, (const char *)data + skip, len - skip);
        it->hashed = off + len;
    }
    pthread_mutex_unlock(&eng->hash_lock);
}

/* How many bytes of the item went through the hasher. */
static uint64_t hashed_now(engine *eng, item_state *it)
{
    pthread_mutex_lock(&eng->hash_lock);
    uint64_t n = it->hashed;
    pthread_mutex_unlock(&eng->hash_lock);
    return n;
}

/* The catch-up thread: takes the items whose sent bytes ran ahead of their hash, reads those
 * bytes again and hashes them (never beyond what was read for sending), and wakes the loop
 * when an item's hash is whole or its file failed to read. */
static void *hash_main(void *arg)
{
    engine *eng = arg;
    pthread_mutex_lock(&eng->hash_lock);
    for (;;) {
        while (!eng->hash_quit && !eng->hash_queue)
            pthread_cond_wait(&eng->hash_cond, &eng->hash_lock);
        if (eng->hash_quit)
            break;
        item_state *it = eng->hash_queue;
        eng->hash_queue = it->hash_next;
        it->hash_next = NULL;
        it->hash_queued = false;
        it->hash_busy = true;
        bool wake = false;
        while (!eng->hash_quit && !it->hash_cancel && it->hashed < it->hash_limit) {
            uint64_t from = it->hashed;
            size_t want = (size_t)(it->hash_limit - from < CATCHUP_READ ? it->hash_limit - from
                                                                        : CATCHUP_READ);
            pthread_mutex_unlock(&eng->hash_lock);
            ssize_t got;
            do
                got = item_read(it, eng->buf, want, from);
            while (got < 0 && errno == EINTR);
            if (got > 0)
                hfs_hasher_update(it->hasher, eng->buf, (size_t)got);
            pthread_mutex_lock(&eng->hash_lock);
            if (got <= 0) {
                it->hash_error = got < 0 ? errno : -1;
                wake = true;
                break;
            }
            it->hashed = from + (uint64_t)got;
        }
        it->hash_busy = false;
        wake = wake || it->hashed == it->item->size;
        if (wake)
            curl_multi_wakeup(eng->multi);
    }
    pthread_mutex_unlock(&eng->hash_lock);
    return NULL;
}

/* Tells the catch-up thread how far the item's bytes were read for sending: the parts in
 * file order from the first one not hashed, each whole once stored or read to its end, the
 * first one that is neither as far as it was read. Fails the item when the thread could not
 * read it. */
static void hash_catch_up(engine *eng, item_state *it)
{
    pthread_mutex_lock(&eng->hash_lock);
    uint64_t limit = it->hashed;
    for (size_t p = (size_t)(limit / it->chunk); p < it->n_parts; p++) {
        const part_state *ps = &it->parts[p];
        uint64_t len = part_length(it, p);
        uint64_t read = ps->done ? len : ps->read_hi;
        if ((uint64_t)p * it->chunk + read > limit)
            limit = (uint64_t)p * it->chunk + read;
        if (read < len)
            break;
    }
    if (limit > it->hash_limit)
        it->hash_limit = limit;
    if (!it->hash_busy && !it->hash_queued && !it->hash_cancel && !it->hash_error &&
        it->hashed < it->hash_limit) {
        it->hash_queued = true;
        item_state **tail = &eng->hash_queue;
        while (*tail)
            tail = &(*tail)->hash_next;
        *tail = it;
        pthread_cond_signal(&eng->hash_cond);
    }
    int err = it->hash_error;
    uint64_t at = it->hashed;
    pthread_mutex_unlock(&eng->hash_lock);
    if (err) {
        int rc = err > 0 ? hfs_error_set(HFS_ERROR, "cannot read %s at byte %" PRIu64 ": %s",
                                         it->item->local_path, at, strerror(err))
                         : stale(it->item->local_path, "became shorter while it was being "
                                                       "uploaded");
        item_fail(eng, it, rc);
    }
}

/* ---- requests ---------------------------------------------------------------------- */

static task *task_new(engine *eng, item_state *it, task_kind kind, char *what, const char *url,
                      const char *method)
{
    task *t = hfs_calloc(1, sizeof(*t));
    t->eng = eng;
    t->it = it;
    t->kind = kind;
    t->what = what;
    t->first_url = hfs_strdup(url);
    t->url = hfs_strdup(url);
    t->method = method;
    t->with_body = true;
    t->attempt = 1;
    t->backoff_ms = eng->hub->opts.retry_base_ms;
    it->tasks++;
    return t;
}

static void task_drop_handle(task *t)
{
    if (t->h) {
        curl_multi_remove_handle(t->eng->multi, t->h);
        curl_easy_cleanup(t->h);
        t->h = NULL;
    }
    curl_slist_free_all(t->headers);
    t->headers = NULL;
}

static void task_free(task *t)
{
    if (!t)
        return;
    task_drop_handle(t);
    hub_response_clear(&t->resp);
    free(t->body);
    free(t->what);
    free(t->first_url);
    free(t->url);
    t->it->tasks--;
    item_release(t->eng, t->it);
    free(t);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ctx)
{
    task *t = ctx;
    hub_response_header_line(&t->resp, data, size * nmemb);
    return size * nmemb;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    task *t = ctx;
    size_t len = size * nmemb;
    /* Upload answers are small; of anything larger the start explains enough. */
    if (t->resp.body.len < BODY_CAP)
        hfs_buf_add(&t->resp.body, data,
                    len < BODY_CAP - t->resp.body.len ? len : BODY_CAP - t->resp.body.len);
    return len;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *ctx)
{
    task *t = ctx;
    engine *eng = t->eng;
    item_state *it = t->it;
    if (it->phase == ITEM_FAILED || eng->stop)
        return CURL_READFUNC_ABORT;
    if (t->pos >= t->length)
        return 0;
    size_t want = size * nmemb;
    if (want > t->length - t->pos)
        want = (size_t)(t->length - t->pos);
    uint64_t off = t->offset + t->pos;
    ssize_t got;
    do
        got = item_read(it, buf, want, off);
    while (got < 0 && errno == EINTR);
    if (got <= 0) {
        int rc = got < 0
                     ? hfs_error_set(HFS_ERROR, "cannot read %s at byte %" PRIu64 ": %s",
                                     it->item->local_path, off, strerror(errno))
                     : stale(it->item->local_path, "became shorter while it was being uploaded");
        item_fail(eng, it, rc);
        return CURL_READFUNC_ABORT;
    }
    hash_sent(eng, it, buf, off, (size_t)got);
    t->pos += (uint64_t)got;
    part_state *ps = &it->parts[t->part];
    if (t->pos > ps->read_hi) {
        eng->bytes_done += t->pos - ps->read_hi;
        ps->read_hi = t->pos;
    }
    /* A whole-object PUT is judged before its last bytes leave: aborted here, a changed
     * file never becomes an object on the server. */
    if (it->item->action->kind == HFS_HUB_LFS_BASIC && t->pos == t->length &&
        hashed_now(eng, it) == it->item->size) {
        int rc = item_judge(it);
        if (rc < 0) {
            item_fail(eng, it, rc);
            return CURL_READFUNC_ABORT;
        }
    }
    return (size_t)got;
}

/* libcurl rewinds on its own when a reused connection turns out dead mid-send. */
static int on_seek(void *ctx, curl_off_t offset, int origin)
{
    task *t = ctx;
    if (offset != 0 || origin != SEEK_SET)
        return CURL_SEEKFUNC_CANTSEEK;
    t->pos = 0;
    return CURL_SEEKFUNC_OK;
}

/* Adds the current hop of t to the multi handle. */
static int task_start(engine *eng, task *t)
{
    const hfs_lfs_upload_item *item = t->it->item;
    hfs_hub *hub = eng->hub;

    hub_response_clear(&t->resp);
    t->resp.url = hfs_strdup(t->url);
    t->errbuf[0] = '\0';
    t->pos = 0;
    t->token_sent = false;
    if (!(t->h = curl_easy_init()))
        return hfs_error_set(HFS_ERROR,
                             "cannot %s: libcurl cannot create a handle (out of "
                             "memory?)",
                             t->what);
    CURL *h = t->h;
    hub_easy_setup(h, hub, t->url, t->errbuf);
    curl_easy_setopt(h, CURLOPT_PRIVATE, t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");

    if (t->kind == TASK_COMPLETE) {
        for (const char *const *l = lfs_headers; *l; l++)
            t->headers = curl_slist_append(t->headers, *l);
    } else if (t->kind == TASK_VERIFY) {
        const hfs_hub_lfs_action *a = item->action;
        for (size_t i = 0; i < a->n_verify_headers; i++) {
            char *line =
                hfs_sprintf("%s: %s", a->verify_headers[i].name, a->verify_headers[i].value);
            t->headers = curl_slist_append(t->headers, line);
            free(line);
        }
        t->headers = curl_slist_append(t->headers, "Content-Type: application/json");
        /* As huggingface_hub does, verify goes with the hub's credentials — to the hub only. */
        if ((t->token_sent = hub_token_goes_to(hub, t->url)))
            t->headers = curl_slist_append(t->headers, hub->auth_header);
    }
    /* Upload URLs carry their own credentials: PUTs get no header from the session at all.
     * No 100-continue round trip before bodies either. */
    t->headers = curl_slist_append(t->headers, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, t->headers);

    if (!t->with_body) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (t->kind == TASK_PUT) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)t->length);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, t);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, t);
        curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, UPLOAD_BUFFER);
        if (strcmp(t->method, "PUT") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, t->method);
    } else {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, t->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(t->body));
        if (strcmp(t->method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, t->method);
    }
    if (hub->opts.verbose) {
        char *shown = hub_url_display(hub, t->url);
        hub_log(hub, HFS_LOG_INFO, "%s %s%s", t->method, shown,
                t->token_sent ? " (with token)" : "");
        free(shown);
    }
    CURLMcode mc = curl_multi_add_handle(eng->multi, h);
    if (mc != CURLM_OK)
        return hfs_error_set(HFS_ERROR, "cannot %s: libcurl refused the transfer: %s", t->what,
                             curl_multi_strerror(mc));
    HFS_PUSH(eng->running, eng->n_running, eng->cap_running, t);
    return 0;
}

static void wait_later(engine *eng, task *t, double ready_at)
{
    t->ready_at = ready_at;
    HFS_PUSH(eng->waiting, eng->n_waiting, eng->cap_waiting, t);
}

/* The next part to send: items biggest first, each one's parts in file order (the hash
 * keeps up best when they go in order). */
static task *next_put(engine *eng)
{
    while (eng->next_item < eng->n) {
        item_state *it = &eng->items[eng->order[eng->next_item]];
        if (it->phase == ITEM_WAITING) {
            const hfs_hub_lfs_action *a = it->item->action;
            if (a && a->kind == HFS_HUB_LFS_PRESENT && a->size == it->item->size &&
                it->item->sha256 && strcmp(a->oid, it->item->sha256) == 0) {
                item_succeed(eng, it); /* the hub has it: nothing to send */
                eng->bytes_total -= it->item->size;
                eng->next_item++;
                continue;
            }
            int rc = item_open(it);
            if (rc < 0) {
                item_fail(eng, it, rc);
                eng->next_item++;
                if (eng->stop)
                    return NULL;
                continue;
            }
            HFS_PUSH(eng->sending, eng->n_sending, eng->cap_sending, it);
        }
        if (it->phase != ITEM_SENDING || it->next_part >= it->n_parts) {
            eng->next_item++;
            continue;
        }
        size_t p = it->next_part++;
        const hfs_hub_lfs_action *a = it->item->action;
        bool multipart = a->kind == HFS_HUB_LFS_MULTIPART;
        char *what = multipart ? hfs_sprintf("upload part %zu of %zu of %s to LFS storage", p + 1,
                                             it->n_parts, it->item->local_path)
                               : hfs_sprintf("upload %s to LFS storage", it->item->local_path);
        task *t =
            task_new(eng, it, TASK_PUT, what, multipart ? a->part_urls[p] : a->upload_href, "PUT");
        t->part = p;
        t->offset = (uint64_t)p * it->chunk;
        t->length = part_length(it, p);
        if (it->next_part == it->n_parts)
            eng->next_item++;
        return t;
    }
    return NULL;
}

/* Which request to start next: a waiting one whose time has come (they finish objects),
 * else the next part. */
static task *next_task(engine *eng, double now)
{
    for (size_t i = 0; i < eng->n_waiting; i++) {
        task *t = eng->waiting[i];
        if (t->ready_at <= now) {
            memmove(&eng->waiting[i], &eng->waiting[i + 1],
                    (eng->n_waiting - i - 1) * sizeof(task *));
            eng->n_waiting--;
            return t;
        }
    }
    return next_put(eng);
}

static void queue_verify(engine *eng, item_state *it)
{
    const hfs_hub_lfs_action *a = it->item->action;
    task *t =
        task_new(eng, it, TASK_VERIFY, hfs_sprintf("verify the upload of %s", it->item->local_path),
                 a->verify_href, "POST");
    json_t *body = json_pack("{s:s,s:I}", "oid", a->oid, "size", (json_int_t)a->size);
    t->body = hub_json_dump(body);
    json_decref(body);
    wait_later(eng, t, 0);
}

static void queue_complete(engine *eng, item_state *it)
{
    const hfs_hub_lfs_action *a = it->item->action;
    json_t *parts = json_array();
    for (size_t i = 0; i < it->n_parts; i++)
        json_array_append_new(parts, json_pack("{s:I,s:s}", "partNumber", (json_int_t)(i + 1),
                                               "etag", it->parts[i].etag));
    json_t *body = json_pack("{s:s,s:o}", "oid", a->oid, "parts", parts);
    task *t = task_new(eng, it, TASK_COMPLETE,
                       hfs_sprintf("complete the multipart upload of %s", it->item->local_path),
                       a->upload_href, "POST");
    t->body = hub_json_dump(body);
    json_decref(body);
    wait_later(eng, t, 0);
}

/* An item whose parts are all stored and hashed: judge it, then complete and verify. */
static void item_advance(engine *eng, item_state *it)
{
    if (it->phase != ITEM_SENDING || it->parts_done < it->n_parts ||
        hashed_now(eng, it) < it->item->size)
        return;
    int rc = item_judge(it);
    if (rc < 0) {
        item_fail(eng, it, rc);
        return;
    }
    it->phase = ITEM_FINISHING;
    if (it->item->action->kind == HFS_HUB_LFS_MULTIPART)
        queue_complete(eng, it);
    else if (it->item->action->verify_href)
        queue_verify(eng, it);
    else
        item_succeed(eng, it);
}

/* The request ended with a 2xx. */
static void task_succeeded(engine *eng, task *t)
{
    item_state *it = t->it;
    if (t->kind == TASK_PUT) {
        part_state *ps = &it->parts[t->part];
        if (it->item->action->kind == HFS_HUB_LFS_MULTIPART) {
            const char *etag = hub_response_header(&t->resp, "ETag");
            if (!etag || !*etag) {
                hub_request req = {.what = t->what, .method = t->method, .url = t->url};
                item_fail(eng, it,
                          hub_protocol_error(eng->hub, &req,
                                             "no ETag header (a multipart upload needs each "
                                             "part's ETag)"));
                return;
            }
            ps->etag = hfs_strdup(etag); /* verbatim, quotes and all */
        }
        if (ps->read_hi < t->length) { /* a redirect may have answered before the body */
            eng->bytes_done += t->length - ps->read_hi;
            ps->read_hi = t->length;
        }
        ps->done = true;
        it->parts_done++;
    } else if (t->kind == TASK_COMPLETE && it->item->action->verify_href) {
        queue_verify(eng, it);
    } else {
        item_succeed(eng, it);
    }
}

/* A request ended; decides between success, a redirect, a retry and a failure. Frees t
 * unless it goes on (then it is running again or waiting). */
static void task_done(engine *eng, task *t, CURLcode cc)
{
    item_state *it = t->it;
    hfs_hub *hub = eng->hub;
    long status = 0;
    char *location = NULL;
    hub_request req = {.what = t->what, .method = t->method, .url = t->first_url};

    if (it->phase == ITEM_FAILED || eng->stop)
        goto drop;
    if (cc == CURLE_OK) {
        char *loc = NULL;
        curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &status);
        t->resp.status = status;
        if (curl_easy_getinfo(t->h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
            location = hfs_strdup(loc);
    }
    task_drop_handle(t);

    if (cc == CURLE_OK && hub_is_redirect(status) && location) {
        bool web =
            hfs_str_starts_with(location, "http://") || hfs_str_starts_with(location, "https://");
        if (!web || ++t->hops >= MAX_REDIRECTS) {
            char *shown = hub_url_display(hub, t->url);
            item_fail(eng, it,
                      hfs_error_set(HFS_ENET, "cannot %s: %s %s redirects %s", t->what, t->method,
                                    shown,
                                    web ? "too many times" : "to a URL that is not http(s)"));
            free(shown);
            goto drop;
        }
        /* As hub_send does: 303 turns into GET, and so do 301/302 after a POST; the
         * others repeat the method with the body from its first byte. */
        if (status == 303 || ((status == 301 || status == 302) && strcmp(t->method, "POST") == 0)) {
            t->method = "GET";
            t->with_body = false;
        }
        if (hub->opts.verbose) {
            char *shown = hub_url_display(hub, location);
            hub_log(hub, HFS_LOG_INFO, "redirected (HTTP %ld) to %s", status, shown);
            free(shown);
        }
        free(t->url);
        t->url = location;
        int rc = task_start(eng, t);
        if (rc == 0)
            return;
        item_fail(eng, it, rc);
        goto drop;
    }
    free(location);

    bool network = cc != CURLE_OK;
    bool again = network ? hub_retryable_curl(cc) : hub_retryable_status(status);
    if (again && t->attempt < hub->opts.max_attempts) {
        long ms = network ? t->backoff_ms : hub_retry_wait_ms(&t->resp, t->backoff_ms);
        char *shown = hub_url_display(hub, t->url);
        if (network)
            hub_log(hub, HFS_LOG_WARN, "%s %s: %s; retrying in %.1f s (attempt %d of %d)",
                    t->method, shown, *t->errbuf ? t->errbuf : curl_easy_strerror(cc),
                    (double)ms / 1000.0, t->attempt + 1, hub->opts.max_attempts);
        else
            hub_log(hub, HFS_LOG_WARN, "%s %s: HTTP %ld; retrying in %.1f s (attempt %d of %d)",
                    t->method, shown, status, (double)ms / 1000.0, t->attempt + 1,
                    hub->opts.max_attempts);
        free(shown);
        t->attempt++;
        t->backoff_ms =
            t->backoff_ms * 2 > hub->opts.retry_max_ms ? hub->opts.retry_max_ms : t->backoff_ms * 2;
        /* Every attempt starts over from the first URL with the original method. */
        free(t->url);
        t->url = hfs_strdup(t->first_url);
        t->method = t->kind == TASK_PUT ? "PUT" : "POST";
        t->with_body = true;
        t->hops = 0;
        double ready = hfs_now() + (double)ms / 1000.0;
        if (hub->opts.sleep_ms) {
            hub_sleep(hub, ms); /* a test's hook records the wait */
            ready = 0;
        }
        wait_later(eng, t, ready);
        return;
    }
    if (network) {
        item_fail(eng, it,
                  hub_fail_transport(hub, &req, t->method, t->url, cc, t->errbuf, t->attempt));
        goto drop;
    }
    if (status < 200 || status >= 300) {
        item_fail(eng, it,
                  hub_fail_response(hub, &req, t->method, &t->resp, t->attempt, t->token_sent));
        goto drop;
    }
    task_succeeded(eng, t);
drop:
    task_free(t);
}

/* ---- the loop ---------------------------------------------------------------------- */

static void report(engine *eng, bool force)
{
    if (!eng->opts.progress)
        return;
    double now = hfs_now();
    if (!force && now - eng->last_progress < PROGRESS_INTERVAL)
        return;
    eng->last_progress = now;
    hfs_lfs_upload_progress p = {eng->bytes_done, eng->bytes_total, eng->items_done, eng->n};
    eng->opts.progress(eng->opts.progress_ctx, &p);
}

/* Takes every request of failed items (or all, when stopping) out of the loop. */
static void reap(engine *eng)
{
    size_t keep = 0;
    for (size_t i = 0; i < eng->n_running; i++) {
        task *t = eng->running[i];
        if (eng->stop || t->it->phase == ITEM_FAILED)
            task_free(t);
        else
            eng->running[keep++] = t;
    }
    eng->n_running = keep;
    keep = 0;
    for (size_t i = 0; i < eng->n_waiting; i++) {
        task *t = eng->waiting[i];
        if (eng->stop || t->it->phase == ITEM_FAILED)
            task_free(t);
        else
            eng->waiting[keep++] = t;
    }
    eng->n_waiting = keep;
}

static void take_running(engine *eng, task *t)
{
    for (size_t i = 0; i < eng->n_running; i++) {
        if (eng->running[i] == t) {
            eng->running[i] = eng->running[--eng->n_running];
            return;
        }
    }
}

/* Hands what was sent ahead to the catch-up thread and moves finished items on. */
static void advance_items(engine *eng)
{
    size_t keep = 0;
    for (size_t i = 0; i < eng->n_sending; i++) {
        item_state *it = eng->sending[i];
        if (it->phase != ITEM_SENDING)
            continue; /* dropped from the list */
        eng->sending[keep++] = it;
        hash_catch_up(eng, it);
        item_advance(eng, it);
    }
    eng->n_sending = keep;
}

static long poll_timeout(const engine *eng, double now)
{
    long ms = POLL_MS;
    for (size_t i = 0; i < eng->n_waiting; i++) {
        double wait = (eng->waiting[i]->ready_at - now) * 1000.0;
        if (wait < (double)ms)
            ms = wait < 0 ? 0 : (long)wait + 1;
    }
    return ms;
}

typedef struct {
    uint64_t size;
    size_t index;
} size_index;

static int by_size_desc(const void *a, const void *b)
{
    const size_index *x = a, *y = b;
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index; /* equals keep the caller's order */
}

static int run(engine *eng)
{
    for (;;) {
        if (eng->opts.cancel && *eng->opts.cancel && !eng->stop) {
            if (!eng->first_rc) {
                eng->first_rc = hfs_error_set(HFS_ERROR,
                                              "interrupted: the LFS upload stopped with %zu of "
                                              "%zu files done",
                                              eng->items_done, eng->n);
                eng->first_msg = hfs_strdup(hfs_error_last());
            }
            eng->stop = true;
        }
        if (eng->stop)
            break;
        double now = hfs_now();
        hfs_lfs_slots *slots = eng->opts.slots;
        while (eng->n_running < eng->opts.jobs && !eng->stop) {
            if (slots && !slots_take(slots, &eng->slot))
                break;
            task *t = next_task(eng, now);
            if (!t) {
                if (slots) /* the slot back: nothing to start */
                    slots_set(slots, &eng->slot, (unsigned)eng->n_running, false);
                break;
            }
            int rc = task_start(eng, t);
            if (rc < 0) {
                item_fail(eng, t->it, rc);
                task_free(t);
            }
        }
        if (eng->stop)
            break;
        int still = 0;
        CURLMcode mc = curl_multi_perform(eng->multi, &still);
        if (mc != CURLM_OK) {
            eng->first_rc = hfs_error_set(HFS_ERROR, "the LFS upload failed inside libcurl: %s",
                                          curl_multi_strerror(mc));
            free(eng->first_msg);
            eng->first_msg = hfs_strdup(hfs_error_last());
            eng->stop = true;
            break;
        }
        CURLMsg *msg;
        int left;
        bool finished = false;
        while ((msg = curl_multi_info_read(eng->multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            finished = true;
            char *priv = NULL;
            CURLcode cc = msg->data.result;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            task *t = (task *)priv;
            take_running(eng, t);
            task_done(eng, t, cc);
        }
        reap(eng);
        if (slots)
            slots_set(slots, &eng->slot, (unsigned)eng->n_running, true);
        /* A finished request frees a slot (and may queue a verify or a completion): go round
         * at once to start the next one rather than waiting for socket activity or the poll
         * interval, which left slots idle for up to POLL_MS after every small file. */
        advance_items(eng);
        bool busy = finished;
        report(eng, false);
        if (eng->items_done == eng->n || eng->stop)
            break;
        long ms = busy ? 0 : poll_timeout(eng, hfs_now());
        /* With shared slots, another upload's loop wakes this one when it frees one. */
        if (eng->n_running > 0 || slots) {
            curl_multi_poll(eng->multi, NULL, 0, (int)ms, NULL);
        } else if (ms > 0) {
            struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return eng->first_rc;
}

int hfs_lfs_upload_all(int *results, hfs_hub *hub, const hfs_lfs_upload_item *items, size_t n,
                       const hfs_lfs_upload_options *opts)
{
    static const hfs_lfs_upload_options defaults = HFS_LFS_UPLOAD_OPTIONS_INIT;
    engine eng = {.hub = hub, .opts = opts ? *opts : defaults, .n = n, .results = results};
    int rc = 0;

    for (size_t i = 0; results && i < n; i++)
        results[i] = HFS_ERROR;
    if (eng.opts.version != HFS_LFS_UPLOAD_OPTIONS_VERSION)
        return hfs_error_set(HFS_EINVALID,
                             "LFS upload options: version %d is not supported (expected %d)",
                             eng.opts.version, HFS_LFS_UPLOAD_OPTIONS_VERSION);
    pthread_mutex_init(&eng.hash_lock, NULL);
    pthread_cond_init(&eng.hash_cond, NULL);
    if (eng.opts.jobs == 0)
        eng.opts.jobs = defaults.jobs;
    if (eng.opts.jobs > MAX_JOBS)
        eng.opts.jobs = MAX_JOBS;
    eng.last_progress = -1.0;
    eng.items = hfs_calloc(n ? n : 1, sizeof(*eng.items));
    eng.order = hfs_calloc(n ? n : 1, sizeof(*eng.order));
    size_index *by_size = hfs_calloc(n ? n : 1, sizeof(*by_size));
    for (size_t i = 0; i < n; i++) {
        eng.items[i] = (item_state){.item = &items[i], .index = i, .fd = -1};
        by_size[i] = (size_index){items[i].size, i};
        eng.bytes_total += items[i].size;
    }
    qsort(by_size, n, sizeof(*by_size), by_size_desc);
    for (size_t i = 0; i < n; i++)
        eng.order[i] = by_size[i].index;
    free(by_size);
    if (!(eng.multi = curl_multi_init())) {
        rc = hfs_error_set(HFS_ERROR, "cannot start the LFS upload: libcurl cannot create a "
                                      "multi handle (out of memory?)");
        goto done;
    }
    curl_multi_setopt(eng.multi, CURLMOPT_MAXCONNECTS, HUB_CONNECTIONS_KEPT);
    eng.buf = hfs_malloc(CATCHUP_READ);
    if (n > 0) {
        int err = pthread_create(&eng.hash_thread, NULL, hash_main, &eng);
        if (err) {
            rc = hfs_error_set(HFS_ERROR, "cannot start the LFS upload: no thread for hashing: %s",
                               strerror(err));
            goto done;
        }
        eng.hash_thread_started = true;
        if (eng.opts.slots)
            slots_join(eng.opts.slots, &eng.slot, eng.multi);
        rc = run(&eng);
    }
    report(&eng, true);

done:
    if (eng.hash_thread_started) {
        pthread_mutex_lock(&eng.hash_lock);
        eng.hash_quit = true;
        pthread_cond_signal(&eng.hash_cond);
        pthread_mutex_unlock(&eng.hash_lock);
        pthread_join(eng.hash_thread, NULL);
    }
    for (item_state *it = eng.hash_queue; it; it = it->hash_next)
        it->hash_queued = false;
    eng.hash_queue = NULL;
    /* Whatever is still in flight is abandoned; its items did not finish. */
    eng.stop = true;
    reap(&eng);
    if (eng.opts.slots && eng.slot.multi)
        slots_leave(eng.opts.slots, &eng.slot);
    for (size_t i = 0; i < n; i++) {
        item_state *it = &eng.items[i];
        if (it->phase != ITEM_DONE && it->phase != ITEM_FAILED)
            item_finish(&eng, it, ITEM_FAILED, HFS_ERROR);
        item_release(&eng, it); /* those the catch-up thread held (it has stopped) */
        for (size_t p = 0; it->parts && p < it->n_parts; p++)
            free(it->parts[p].etag);
        free(it->parts);
    }
    if (eng.multi)
        curl_multi_cleanup(eng.multi);
    free(eng.running);
    free(eng.waiting);
    free(eng.items);
    free(eng.order);
    free(eng.sending);
    free(eng.buf);
    pthread_cond_destroy(&eng.hash_cond);
    pthread_mutex_destroy(&eng.hash_lock);
    if (rc < 0 && eng.first_msg)
        hfs_error_set(rc, "%s", eng.first_msg); /* the first failure, not the last words */
    free(eng.first_msg);
    return rc;
}
