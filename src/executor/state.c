/* Per-sync state under .hfsync/state/SYNC/: the flock that keeps two applies of one sync
 * apart, and the apply journal (JSON, rewritten atomically) an interrupted apply resumes from. */
#include "executor/state.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "hfsync/lock.h"

#define JOURNAL_VERSION 1
#define JOURNAL_MAX_BYTES (256u << 20)

struct hfs_sync_lock {
    int fd;
    char *path;
};

/* .hfsync/state/NAME, refusing names that would climb out of it (the manifest already
 * restricts sync names; the library can be called with anything). */
static int state_dir_of(char **out, const char *state_dir, const char *sync_name)
{
    *out = NULL;
    if (!sync_name || !*sync_name || sync_name[0] == '.' || strchr(sync_name, '/'))
        return hfs_error_set(HFS_EINVALID,
                             "\"%s\" cannot name a sync's state folder under %s/state",
                             sync_name ? sync_name : "", state_dir);
    char *base = hfs_path_join(state_dir, "state");
    *out = hfs_path_join(base, sync_name);
    free(base);
    return 0;
}

char *hfs_state_dir_for(const char *manifest_path)
{
    const char *slash = manifest_path ? strrchr(manifest_path, '/') : NULL;
    if (!slash || manifest_path[0] == '<')
        return hfs_strdup(".hfsync");
    if (slash == manifest_path)
        return hfs_strdup("/.hfsync");
    char *dir = hfs_strndup(manifest_path, (size_t)(slash - manifest_path));
    char *out = hfs_path_join(dir, ".hfsync");
    free(dir);
    return out;
}

char *hfs_state_name(const char *manifest_path, const char *sync_name, hfs_repo_type repo_type,
                     const char *repo_id, const char *revision, const char *path_in_repo)
{
    if (!manifest_path || manifest_path[0] != '<')
        return hfs_strdup(sync_name);
    /* NUL-separated, so no field can pass for another. */
    const char *type = hfs_repo_type_name(repo_type);
    const char *fields[] = {type, repo_id ? repo_id : "", revision ? revision : "",
                            path_in_repo ? path_in_repo : ""};
    hfs_buf b = HFS_BUF_INIT;
    for (size_t i = 0; i < HFS_ARRAY_LEN(fields); i++)
        hfs_buf_add(&b, fields[i], strlen(fields[i]) + 1);
    char digest[HFS_SHA256_HEX];
    hfs_sha256_hex(digest, b.ptr, b.len);
    /* The readable part: "models--alice--x", as the hub cache names repos. */
    hfs_buf_clear(&b);
    hfs_buf_printf(&b, "%s--%ss--", sync_name, type);
    for (const char *p = repo_id ? repo_id : ""; *p; p++)
        hfs_buf_puts(&b, *p == '/' ? "--" : (char[]){*p, '\0'});
    hfs_buf_printf(&b, "--%.12s", digest);
    return hfs_buf_detach(&b);
}

/* ---- the lock ---------------------------------------------------------------------- */

/* The holder's own command line, from /proc (NULs between arguments become spaces). */
static char *own_command_line(void)
{
    char *text = NULL;
    size_t len = 0;
    if (hfs_read_file(&text, &len, "/proc/self/cmdline", 64 * 1024) != 0) {
        hfs_error_clear();
        return hfs_strdup("?");
    }
    while (len > 0 && text[len - 1] == '\0')
        len--;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\0' || text[i] == '\n')
            text[i] = ' ';
    text[len] = '\0';
    return text;
}

static void format_utc(char *out, size_t size, time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* What the lock file says about its holder: "pid N" and "since TIME" lines. The holder may
 * not have written them yet (it writes right after taking the lock): then pid stays 0. */
static void read_holder(int fd, long *pid, char *since, size_t since_size)
{
    char text[4096];
    *pid = 0;
    snprintf(since, since_size, "an unknown time");
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    if (n <= 0)
        return;
    text[n] = '\0';
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (hfs_str_starts_with(line, "pid "))
            *pid = strtol(line + 4, NULL, 10);
        else if (hfs_str_starts_with(line, "since "))
            snprintf(since, since_size, "%s", line + 6);
    }
}

static void describe_holder(char *out, size_t size, int fd)
{
    long pid;
    char since[64];
    /* The holder writes its pid right after it takes the lock: give it a moment. */
    read_holder(fd, &pid, since, sizeof(since));
    for (int i = 0; i < 20 && pid <= 0; i++) {
        usleep(5000);
        read_holder(fd, &pid, since, sizeof(since));
    }
    if (pid > 0)
        snprintf(out, size, "pid %ld, since %s", pid, since);
    else
        snprintf(out, size, "pid unknown, just started");
}

static int write_holder(int fd, const char *path)
{
    char since[32];
    format_utc(since, sizeof(since), time(NULL));
    char *cmd = own_command_line();
    char *text = hfs_sprintf("pid %ld\nsince %s\ncommand %s\n", (long)getpid(), since, cmd);
    free(cmd);
    int rc = 0;
    size_t len = strlen(text);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, len, 0) != (ssize_t)len)
        rc = hfs_error_set(HFS_ERROR, "cannot write the lock file %s: %s", path, strerror(errno));
    free(text);
    return rc;
}

static void remove_torn_saves(const char *path);

/* How often a waiting apply tries the lock again (and looks at its cancel flag). */
#define LOCK_POLL_US 100000

int hfs_sync_lock_acquire(hfs_sync_lock **out, const char *state_dir, const char *sync_name,
                          bool wait)
{
    return hfs_sync_lock_acquire_until(out, state_dir, sync_name, wait, NULL);
}

int hfs_sync_lock_acquire_until(hfs_sync_lock **out, const char *state_dir, const char *sync_name,
                                bool wait, volatile int *cancel)
{
    *out = NULL;
    char *dir = NULL, *path = NULL;
    int fd = -1;
    int rc = state_dir_of(&dir, state_dir, sync_name);
    if (rc != 0)
        goto done;
    if ((rc = hfs_mkdir_p(dir)) != 0)
        goto done;
    path = hfs_path_join(dir, "lock");
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot open the lock file %s: %s", path, strerror(errno));
        goto done;
    }
    for (bool told = false; flock(fd, LOCK_EX | LOCK_NB) != 0;) {
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK) {
            rc = hfs_error_set(HFS_ERROR, "cannot lock %s: %s", path, strerror(errno));
            goto done;
        }
        if (cancel && *cancel) {
            rc = hfs_error_set(HFS_ERROR, "interrupted while waiting for the lock of sync %s",
                               sync_name);
            goto done;
        }
        if (!wait || !told) {
            char holder[128];
            describe_holder(holder, sizeof(holder), fd);
            if (!wait) {
                rc = hfs_error_set(HFS_ELOCKED,
                                   "sync %s is being applied by another hfsync (%s); not "
                                   "running (use --wait to wait for it)",
                                   sync_name, holder);
                goto done;
            }
            hfs_info("sync %s is being applied by another hfsync (%s); waiting for it", sync_name,
                     holder);
            told = true;
        }
        /* Polled rather than blocking, so that Ctrl-C stops the wait whatever the signal
         * handler's SA_RESTART. */
        usleep(LOCK_POLL_US);
    }
    if ((rc = write_holder(fd, path)) != 0)
        goto done;
    /* A journal save a kill cut short: the holder is its only writer, so clear it now, also
     * when this apply finds nothing to do and never reads the journal. */
    char *journal = hfs_path_join(dir, "journal.json");
    remove_torn_saves(journal);
    free(journal);
    hfs_sync_lock *lock = hfs_calloc(1, sizeof(*lock));
    lock->fd = fd;
    lock->path = path;
    fd = -1;
    path = NULL;
    *out = lock;
done:
    if (fd >= 0)
        close(fd);
    free(path);
    free(dir);
    return rc;
}

void hfs_sync_lock_release(hfs_sync_lock *lock)
{
    if (!lock)
        return;
    /* Emptied, not removed: unlinking a flock'ed file lets a third process lock a fresh
     * inode while a second one still waits on the old one. */
    if (ftruncate(lock->fd, 0) != 0)
        hfs_debug("cannot empty the lock file %s: %s", lock->path, strerror(errno));
    flock(lock->fd, LOCK_UN);
    close(lock->fd);
    free(lock->path);
    free(lock);
}

/* ---- the locks of several syncs (public: hfsync/lock.h) ------------------------------ */

struct hfs_apply_lock {
    hfs_sync_lock **locks;
    size_t n;
};

int hfs_apply_lock_acquire(hfs_apply_lock **out, const hfs_manifest *m, const char *const *syncs,
                           size_t n_syncs, const char *state_dir, bool wait, volatile int *cancel)
{
    *out = NULL;
    for (size_t k = 0; k < n_syncs; k++)
        if (!hfs_manifest_find_sync(m, syncs[k]))
            return hfs_error_set(HFS_EINVALID, "%s has no sync named \"%s\"", m->path, syncs[k]);
    hfs_apply_lock *lock = hfs_calloc(1, sizeof(*lock));
    lock->locks = hfs_calloc(m->n_syncs ? m->n_syncs : 1, sizeof(*lock->locks));
    char *dir = state_dir ? hfs_strdup(state_dir) : hfs_state_dir_for(m->path);
    int rc = 0;
    for (size_t i = 0; i < m->n_syncs && rc == 0; i++) {
        const hfs_sync *s = &m->syncs[i];
        bool wanted = n_syncs == 0;
        for (size_t k = 0; k < n_syncs; k++)
            wanted |= strcmp(s->name, syncs[k]) == 0;
        if (!wanted)
            continue;
        char *name = hfs_state_name(m->path, s->name, s->repo_type, s->repo_id, s->revision,
                                    s->path_in_repo);
        rc = hfs_sync_lock_acquire_until(&lock->locks[lock->n], dir, name, wait, cancel);
        if (rc == 0)
            lock->n++;
        free(name);
    }
    free(dir);
    if (rc < 0) {
        hfs_apply_lock_release(lock);
        return rc;
    }
    *out = lock;
    return 0;
}

void hfs_apply_lock_release(hfs_apply_lock *lock)
{
    if (!lock)
        return;
    for (size_t i = lock->n; i > 0; i--)
        hfs_sync_lock_release(lock->locks[i - 1]);
    free(lock->locks);
    free(lock);
}

/* ---- the journal ------------------------------------------------------------------- */

static char *journal_path(const char *state_dir, const char *sync_name)
{
    char *dir = NULL;
    if (state_dir_of(&dir, state_dir, sync_name) != 0)
        return NULL;
    char *path = hfs_path_join(dir, "journal.json");
    free(dir);
    return path;
}

static void journal_reset(hfs_journal *j, const char *plan_id)
{
    memset(j, 0, sizeof(*j));
    snprintf(j->plan_id, sizeof(j->plan_id), "%s", plan_id ? plan_id : "");
}

/* Fills j from the parsed document; false when it is not a journal we wrote. */
static bool journal_from_json(hfs_journal *j, json_t *root)
{
    json_t *uploaded = json_object_get(root, "uploaded");
    json_t *commits = json_object_get(root, "commits");
    json_t *pr = json_object_get(root, "pr_num");
    if (json_integer_value(json_object_get(root, "version")) != JOURNAL_VERSION ||
        !json_is_array(uploaded) || !json_is_array(commits) || (pr && !json_is_integer(pr)))
        return false;
    j->pr_num = pr ? (long)json_integer_value(pr) : 0;
    size_t i;
    json_t *v;
    json_array_foreach(uploaded, i, v)
    {
        const char *sha = json_string_value(v);
        if (!sha || strlen(sha) != HFS_SHA256_HEX - 1 || !hfs_is_hex(sha, HFS_SHA256_HEX - 1))
            return false;
        hfs_journal_add_uploaded(j, sha);
    }
    json_array_foreach(commits, i, v)
    {
        const char *step = json_string_value(json_object_get(v, "step"));
        const char *oid = json_string_value(json_object_get(v, "oid"));
        if (!step || !oid || strlen(oid) != HFS_SHA1_HEX - 1 || !hfs_is_hex(oid, HFS_SHA1_HEX - 1))
            return false;
        hfs_journal_add_commit(j, step, oid);
    }
    return true;
}

/* Temp files of saves that a kill interrupted (hfs_write_file_atomic names them PATH.tmp.*).
 * The caller holds the sync's lock, so no save is in flight. */
static void remove_torn_saves(const char *path)
{
    char *dir = hfs_strdup(path), *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : path;
    char *prefix = hfs_sprintf("%s.tmp.", base);
    if (slash)
        *slash = '\0';
    DIR *d = opendir(slash ? dir : ".");
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        if (!hfs_str_starts_with(e->d_name, prefix))
            continue;
        char *torn = slash ? hfs_path_join(dir, e->d_name) : hfs_strdup(e->d_name);
        if (unlink(torn) != 0)
            hfs_debug("cannot remove %s: %s", torn, strerror(errno));
        free(torn);
    }
    if (d)
        closedir(d);
    free(prefix);
    free(dir);
}

int hfs_journal_load(hfs_journal *out, const char *state_dir, const char *sync_name,
                     const char *plan_id)
{
    journal_reset(out, plan_id);
    char *text = NULL;
    size_t len = 0;
    json_t *root = NULL;
    int rc = 0;
    char *path = journal_path(state_dir, sync_name);
    if (!path) {
        rc = hfs_error_last_code();
        goto done;
    }
    remove_torn_saves(path);
    if (access(path, F_OK) != 0)
        goto done; /* no apply of this sync was interrupted */
    if ((rc = hfs_read_file(&text, &len, path, JOURNAL_MAX_BYTES)) != 0)
        goto done;
    json_error_t jerr;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *id = json_string_value(json_object_get(root, "plan_id"));
    if (!root || !id) {
        hfs_warn("discarding the journal %s: it is not valid (%s); the hub's state decides what "
                 "is left to do",
                 path, root ? "no plan_id" : jerr.text);
        goto done;
    }
    if (strcmp(id, out->plan_id) != 0) {
        hfs_debug("journal %s belongs to plan %.12s, not %.12s: starting afresh", path, id,
                  out->plan_id);
        goto done;
    }
    if (!journal_from_json(out, root)) {
        hfs_journal_clear(out);
        journal_reset(out, plan_id);
        hfs_warn("discarding the journal %s: unexpected content; the hub's state decides what is "
                 "left to do",
                 path);
    }
done:
    json_decref(root);
    free(text);
    free(path);
    return rc;
}

int hfs_journal_save(const hfs_journal *j, const char *state_dir, const char *sync_name)
{
    char *dir = NULL, *path = NULL, *text = NULL;
    json_t *root = NULL;
    int rc = state_dir_of(&dir, state_dir, sync_name);
    if (rc != 0)
        goto done;
    if ((rc = hfs_mkdir_p(dir)) != 0)
        goto done;
    path = hfs_path_join(dir, "journal.json");
    json_t *uploaded = json_array();
    for (size_t i = 0; i < j->n_uploaded; i++)
        json_array_append_new(uploaded, json_string(j->uploaded[i]));
    json_t *commits = json_array();
    for (size_t i = 0; i < j->n_commits; i++)
        json_array_append_new(commits, json_pack("{s:s, s:s}", "step", j->commits[i].step_id, "oid",
                                                 j->commits[i].commit_oid));
    root = json_pack("{s:i, s:s, s:I, s:o, s:o}", "version", JOURNAL_VERSION, "plan_id", j->plan_id,
                     "pr_num", (json_int_t)j->pr_num, "uploaded", uploaded, "commits", commits);
    text = root ? json_dumps(root, JSON_INDENT(1)) : NULL;
    if (!text) {
        rc = hfs_error_set(HFS_ERROR, "cannot encode the journal %s (a step id that is not UTF-8?)",
                           path);
        goto done;
    }
    rc = hfs_write_file_atomic(path, text, strlen(text), 0644);
done:
    free(text);
    json_decref(root);
    free(path);
    free(dir);
    return rc;
}

/* Open addressing over indices into j->uploaded (slot value i + 1; 0 is empty), at most
 * half full. */
struct hfs_journal_index {
    size_t *slots;
    size_t cap, count;
};

static uint64_t hash_text(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void index_put(struct hfs_journal_index *ix, char **uploaded, size_t i)
{
    size_t at = (size_t)hash_text(uploaded[i]) & (ix->cap - 1);
    while (ix->slots[at])
        at = (at + 1) & (ix->cap - 1);
    ix->slots[at] = i + 1;
    ix->count++;
}

static void index_grow(hfs_journal *j)
{
    struct hfs_journal_index *ix = j->index;
    if (!ix)
        ix = j->index = hfs_calloc(1, sizeof(*ix));
    if (ix->cap && 2 * (j->n_uploaded + 1) <= ix->cap && ix->count == j->n_uploaded)
        return;
    size_t cap = 64;
    while (cap < 4 * (j->n_uploaded + 1))
        cap *= 2;
    free(ix->slots);
    ix->slots = hfs_calloc(cap, sizeof(*ix->slots));
    ix->cap = cap;
    ix->count = 0;
    for (size_t i = 0; i < j->n_uploaded; i++)
        index_put(ix, j->uploaded, i);
}

bool hfs_journal_has_uploaded(const hfs_journal *j, const char *sha256)
{
    const struct hfs_journal_index *ix = j->index;
    if (ix && ix->cap && ix->count == j->n_uploaded) {
        for (size_t at = (size_t)hash_text(sha256) & (ix->cap - 1); ix->slots[at];
             at = (at + 1) & (ix->cap - 1))
            if (strcmp(j->uploaded[ix->slots[at] - 1], sha256) == 0)
                return true;
        return false;
    }
    for (size_t i = 0; i < j->n_uploaded; i++)
        if (strcmp(j->uploaded[i], sha256) == 0)
            return true;
    return false;
}

void hfs_journal_add_uploaded(hfs_journal *j, const char *sha256)
{
    index_grow(j);
    if (hfs_journal_has_uploaded(j, sha256))
        return;
    HFS_PUSH(j->uploaded, j->n_uploaded, j->cap_uploaded, hfs_strdup(sha256));
    index_put(j->index, j->uploaded, j->n_uploaded - 1);
}

const hfs_journal_commit *hfs_journal_find_commit(const hfs_journal *j, const char *step_id)
{
    for (size_t i = 0; i < j->n_commits; i++)
        if (strcmp(j->commits[i].step_id, step_id) == 0)
            return &j->commits[i];
    return NULL;
}

void hfs_journal_add_commit(hfs_journal *j, const char *step_id, const char *commit_oid)
{
    hfs_journal_commit c = {.step_id = hfs_strdup(step_id)};
    snprintf(c.commit_oid, sizeof(c.commit_oid), "%s", commit_oid);
    HFS_PUSH(j->commits, j->n_commits, j->cap_commits, c);
}

int hfs_journal_remove(const char *state_dir, const char *sync_name)
{
    int rc = 0;
    char *path = journal_path(state_dir, sync_name);
    if (!path)
        return hfs_error_last_code();
    if (unlink(path) != 0 && errno != ENOENT)
        rc = hfs_error_set(HFS_ERROR, "cannot remove the journal %s: %s", path, strerror(errno));
    free(path);
    return rc;
}

void hfs_journal_clear(hfs_journal *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n_uploaded; i++)
        free(j->uploaded[i]);
    free(j->uploaded);
    for (size_t i = 0; i < j->n_commits; i++)
        free(j->commits[i].step_id);
    free(j->commits);
    if (j->index)
        free(j->index->slots);
    free(j->index);
    char plan_id[HFS_SHA256_HEX];
    memcpy(plan_id, j->plan_id, sizeof(plan_id));
    journal_reset(j, plan_id);
}
