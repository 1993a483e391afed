/* The local hub's access tokens: ROOT/tokens.json, re-read when it changes on disk, and
 * written atomically under a lock file so `hub token create` and a running hub can share it. */
#include "hubd/tokens.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/util.h"

#define TOKEN_RANDOM_CHARS 34 /* the hub's tokens are hf_ + 34 letters */
#define TOKENS_MAX_BYTES (16u * 1024 * 1024)

typedef struct {
    char *token;
    char *user;
    bool write;
    char **namespaces;
    size_t n_namespaces;
    char *created_at;
} token_entry;

struct hubd_tokens {
    char *path;
    char *lock_path;
    pthread_mutex_t lock;
    token_entry *items;
    size_t n_items, cap_items;
    /* identity of the file we loaded, to notice changes made by another process */
    bool seen;
    struct timespec mtime;
    off_t size;
    ino_t ino;
    bool mode_warned; /* said once that others can read the file */
};

static void entry_clear(token_entry *e)
{
    free(e->token);
    free(e->user);
    for (size_t i = 0; i < e->n_namespaces; i++)
        free(e->namespaces[i]);
    free(e->namespaces);
    free(e->created_at);
    memset(e, 0, sizeof(*e));
}

static void items_clear(hubd_tokens *t)
{
    for (size_t i = 0; i < t->n_items; i++)
        entry_clear(&t->items[i]);
    t->n_items = 0;
}

void hubd_grant_clear(hubd_grant *grant)
{
    if (!grant)
        return;
    free(grant->user);
    for (size_t i = 0; i < grant->n_namespaces; i++)
        free(grant->namespaces[i]);
    free(grant->namespaces);
    free(grant->created_at);
    memset(grant, 0, sizeof(*grant));
}

bool hubd_grant_has_namespace(const hubd_grant *grant, const char *ns)
{
    if (!grant || !grant->valid)
        return false;
    for (size_t i = 0; i < grant->n_namespaces; i++)
        /* Repo ids are case-insensitive on the hub, so namespaces are too. */
        if (strcmp(grant->namespaces[i], "*") == 0 || strcasecmp(grant->namespaces[i], ns) == 0)
            return true;
    return false;
}

static void iso_now(char out[32])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

static int stat_file(hubd_tokens *t, bool *exists, struct stat *st)
{
    *exists = false;
    memset(st, 0, sizeof(*st));
    if (stat(t->path, st) == 0) {
        *exists = true;
        return 0;
    }
    if (errno == ENOENT) {
        *exists = false;
        return 0;
    }
    return hfs_error_set(HFS_ERROR, "cannot read the hub's tokens %s: %s", t->path, strerror(errno));
}

static bool same_identity(const hubd_tokens *t, bool exists, const struct stat *st)
{
    if (!exists)
        return !t->seen;
    return t->seen && st->st_mtim.tv_sec == t->mtime.tv_sec &&
           st->st_mtim.tv_nsec == t->mtime.tv_nsec && st->st_size == t->size &&
           st->st_ino == t->ino;
}

static void remember_identity(hubd_tokens *t, bool exists, const struct stat *st)
{
    t->seen = exists;
    if (exists) {
        t->mtime = st->st_mtim;
        t->size = st->st_size;
        t->ino = st->st_ino;
    }
}

/* Parses the file into t->items (replacing them). Caller holds t->lock. */
static int load_locked(hubd_tokens *t)
{
    int rc = 0;
    char *text = NULL;
    size_t len = 0;
    json_t *root = NULL;
    struct stat st;
    bool exists = false;

    if ((rc = stat_file(t, &exists, &st)) < 0)
        goto done;
    items_clear(t);
    if (!exists) {
        remember_identity(t, false, &st);
        goto done;
    }
    /* The hub writes it 0600 (see save_locked); one loosened by hand hands every token to
     * whoever can read it, until the next save tightens it again. */
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) && !t->mode_warned) {
        hfs_warn("hub: %s has mode %04o: others can read the hub's tokens; run chmod 600 %s",
                 t->path, (unsigned)(st.st_mode & 07777), t->path);
        t->mode_warned = true;
    }
    if ((rc = hfs_read_file(&text, &len, t->path, TOKENS_MAX_BYTES)) < 0)
        goto done;
    json_error_t jerr;
    root = json_loadb(text, len, 0, &jerr);
    json_t *list = root ? json_object_get(root, "tokens") : NULL;
    if (!json_is_array(list)) {
        rc = hfs_error_set(HFS_EINVALID,
                           "%s:%d: the hub's tokens file is not {\"tokens\": [...]}%s%s", t->path,
                           root ? 1 : jerr.line, root ? "" : ": ", root ? "" : jerr.text);
        goto done;
    }
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
        const char *token = json_string_value(json_object_get(item, "token"));
        const char *user = json_string_value(json_object_get(item, "name"));
        const char *role = json_string_value(json_object_get(item, "role"));
        if (!token || !user || !role || (strcmp(role, "read") && strcmp(role, "write"))) {
            rc = hfs_error_set(HFS_EINVALID,
                               "%s: token #%zu needs string fields \"token\", \"name\" and "
                               "\"role\" (read or write)",
                               t->path, i + 1);
            goto done;
        }
        token_entry e = {0};
        e.token = hfs_strdup(token);
        e.user = hfs_strdup(user);
        e.write = strcmp(role, "write") == 0;
        const char *created = json_string_value(json_object_get(item, "createdAt"));
        e.created_at = hfs_strdup(created ? created : "1970-01-01T00:00:00.000Z");
        json_t *ns = json_object_get(item, "namespaces");
        size_t cap = 0, j;
        json_t *v;
        json_array_foreach(ns, j, v) {
            if (json_is_string(v))
                HFS_PUSH(e.namespaces, e.n_namespaces, cap, hfs_strdup(json_string_value(v)));
        }
        if (e.n_namespaces == 0)
            HFS_PUSH(e.namespaces, e.n_namespaces, cap, hfs_strdup(user));
        HFS_PUSH(t->items, t->n_items, t->cap_items, e);
    }
    remember_identity(t, true, &st);
done:
    json_decref(root);
    free(text);
    return rc;
}

static int save_locked(hubd_tokens *t)
{
    json_t *list = json_array();
    for (size_t i = 0; i < t->n_items; i++) {
        const token_entry *e = &t->items[i];
        json_t *ns = json_array();
        for (size_t j = 0; j < e->n_namespaces; j++)
            json_array_append_new(ns, json_string(e->namespaces[j]));
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:o, s:s}", "name", e->user,
                                              "role", e->write ? "write" : "read", "token",
                                              e->token, "namespaces", ns, "createdAt",
                                              e->created_at));
    }
    json_t *root = json_pack("{s:o}", "tokens", list);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    hfs_buf b = HFS_BUF_INIT;
    hfs_buf_puts(&b, text);
    hfs_buf_putc(&b, '\n');
    free(text);
    /* tokens are credentials: only the owner may read the file */
    int rc = hfs_write_file_atomic(t->path, b.ptr, b.len, 0600);
    hfs_buf_free(&b);
    if (rc == 0) {
        struct stat st;
        bool exists;
        if (stat_file(t, &exists, &st) == 0)
            remember_identity(t, exists, &st);
    }
    return rc;
}

int hubd_tokens_open(hubd_tokens **out, const char *root)
{
    int rc;
    *out = NULL;
    if ((rc = hfs_mkdir_p(root)) < 0)
        return rc;
    hubd_tokens *t = hfs_calloc(1, sizeof(*t));
    t->path = hfs_path_join(root, "tokens.json");
    t->lock_path = hfs_path_join(root, "tokens.json.lock");
    pthread_mutex_init(&t->lock, NULL);
    if ((rc = load_locked(t)) < 0) {
        hubd_tokens_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void hubd_tokens_free(hubd_tokens *t)
{
    if (!t)
        return;
    items_clear(t);
    free(t->items);
    pthread_mutex_destroy(&t->lock);
    free(t->path);
    free(t->lock_path);
    free(t);
}

/* Serialises read-modify-write of the file between processes (the hub and the CLI). */
static int lock_file(hubd_tokens *t)
{
    int fd = open(t->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return hfs_error_set(HFS_ERROR, "cannot open %s: %s", t->lock_path, strerror(errno));
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            return hfs_error_set(HFS_ERROR, "cannot lock %s: %s", t->lock_path, strerror(e));
        }
    }
    return fd;
}

static bool token_syntax_ok(const char *token)
{
    if (!hfs_str_starts_with(token, "hf_") || strlen(token) < 8 || strlen(token) > 200)
        return false;
    for (const char *p = token; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return false;
    return true;
}

static bool name_syntax_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 96)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.'))
            return false;
    return true;
}

int hubd_tokens_add(hubd_tokens *t, const char *token, const char *user, bool write,
                    const char *const *namespaces, size_t n_namespaces)
{
    if (!token_syntax_ok(token))
        return hfs_error_set(HFS_EINVALID,
                             "token '%.12s…' is not a hub token: it must start with 'hf_' and "
                             "hold only letters, digits, '_' and '-' (8 to 200 characters)",
                             token);
    if (!name_syntax_ok(user))
        return hfs_error_set(HFS_EINVALID,
                             "user name '%s' is not valid: use 1-96 letters, digits, '-', '_' "
                             "or '.'",
                             user ? user : "");
    for (size_t i = 0; i < n_namespaces; i++)
        if (strcmp(namespaces[i], "*") != 0 && !name_syntax_ok(namespaces[i]))
            return hfs_error_set(HFS_EINVALID,
                                 "namespace '%s' is not valid: use 1-96 letters, digits, '-', "
                                 "'_' or '.', or '*' for every namespace",
                                 namespaces[i]);
    int rc = 0;
    pthread_mutex_lock(&t->lock);
    int fd = lock_file(t);
    if (fd < 0) {
        rc = fd;
        goto done;
    }
    if ((rc = load_locked(t)) < 0)
        goto done;
    for (size_t i = 0; i < t->n_items; i++)
        if (strcmp(t->items[i].token, token) == 0)
            goto done; /* already known: adding again changes nothing */
    token_entry e = {0};
    char when[32];
    iso_now(when);
    e.token = hfs_strdup(token);
    e.user = hfs_strdup(user);
    e.write = write;
    e.created_at = hfs_strdup(when);
    size_t cap = 0;
    for (size_t i = 0; i < n_namespaces; i++)
        HFS_PUSH(e.namespaces, e.n_namespaces, cap, hfs_strdup(namespaces[i]));
    if (e.n_namespaces == 0)
        HFS_PUSH(e.namespaces, e.n_namespaces, cap, hfs_strdup(user));
    HFS_PUSH(t->items, t->n_items, t->cap_items, e);
    rc = save_locked(t);
done:
    if (fd >= 0)
        close(fd);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

int hubd_tokens_create(char **out, hubd_tokens *t, const char *user, bool write,
                       const char *const *namespaces, size_t n_namespaces)
{
    static const char letters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    char token[3 + TOKEN_RANDOM_CHARS + 1] = "hf_";
    size_t n = 3;
    *out = NULL;
    while (n < 3 + TOKEN_RANDOM_CHARS) {
        unsigned char bytes[64];
        if (RAND_bytes(bytes, sizeof(bytes)) != 1)
            return hfs_error_set(HFS_ERROR, "cannot generate a token: OpenSSL's random "
                                            "generator failed");
        for (size_t i = 0; i < sizeof(bytes) && n < 3 + TOKEN_RANDOM_CHARS; i++)
            if (bytes[i] < 208) /* 208 = 4 * 52: keeps the letters uniformly likely */
                token[n++] = letters[bytes[i] % 52];
    }
    token[n] = '\0';
    int rc = hubd_tokens_add(t, token, user, write, namespaces, n_namespaces);
    if (rc < 0)
        return rc;
    *out = hfs_strdup(token);
    return 0;
}

void hubd_tokens_lookup(hubd_grant *out, hubd_tokens *t, const char *token)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&t->lock);
    struct stat st;
    bool exists = false;
    if (stat_file(t, &exists, &st) == 0 && !same_identity(t, exists, &st))
        load_locked(t); /* on a parse error the set is empty until the file is fixed */
    size_t tlen = strlen(token);
    for (size_t i = 0; i < t->n_items; i++) {
        const token_entry *e = &t->items[i];
        /* constant-time compare: the answer must not leak how much of a token matched */
        if (strlen(e->token) != tlen || CRYPTO_memcmp(e->token, token, tlen) != 0)
            continue;
        out->valid = true;
        out->user = hfs_strdup(e->user);
        out->write = e->write;
        out->created_at = hfs_strdup(e->created_at);
        out->namespaces = hfs_calloc(e->n_namespaces ? e->n_namespaces : 1, sizeof(char *));
        for (size_t j = 0; j < e->n_namespaces; j++)
            out->namespaces[j] = hfs_strdup(e->namespaces[j]);
        out->n_namespaces = e->n_namespaces;
        break;
    }
    pthread_mutex_unlock(&t->lock);
}
