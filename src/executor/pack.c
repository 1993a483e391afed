/* schedule.pack: a scheduled run's new files matching the pack patterns, zipped (libarchive)
 * into one archive that is committed instead of them, and removed only once it has landed.
 *
 * .hfsync/state/SYNC/pack.json keeps, written atomically before anything is sent:
 * - "pending": the archive of a run (its repo path, hashes, the staged file under pack/,
 *   and each packed file's size and mtime) until its commit is known to have landed, so a
 *   run killed at any point is settled by the next one: the hub holds the archive → the
 *   files are removed (or remembered); it does not → the files are packed again;
 * - "packed": files already uploaded inside an archive and kept (no remove_local), so they
 *   are not packed again while unchanged (same size and mtime). */
#include "executor/pack.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/hash.h"
#include "common/lfsrules.h"
#include "common/log.h"
#include "common/util.h"
#include "executor/watch.h"
#include "manifest/manifest.h"

#define PACK_STATE_VERSION 1
#define PACK_STATE_MAX_BYTES (64u << 20)
#define READ_CHUNK (256u * 1024u)

typedef struct {
    char *path; /* relative to the sync's folder */
    uint64_t size;
    int64_t mtime_ns;
} member;

typedef struct {
    bool pending;
    char *archive; /* repo path */
    char *staged;  /* file name under pack/ */
    char sha256[HFS_SHA256_HEX];
    char sha1[HFS_SHA1_HEX];
    uint64_t size;
    member *files;
    size_t n_files, cap_files;
    member *packed;
    size_t n_packed, cap_packed;
} pack_state;

void exec_pack_info_clear(exec_pack_info *info)
{
    if (!info)
        return;
    free(info->archive);
    memset(info, 0, sizeof(*info));
}

static void members_free(member *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(m[i].path);
    free(m);
}

static void state_clear_pending(pack_state *st)
{
    members_free(st->files, st->n_files);
    free(st->archive);
    free(st->staged);
    st->files = NULL;
    st->n_files = st->cap_files = 0;
    st->archive = st->staged = NULL;
    st->pending = false;
    st->sha256[0] = st->sha1[0] = '\0';
    st->size = 0;
}

static void state_clear(pack_state *st)
{
    state_clear_pending(st);
    members_free(st->packed, st->n_packed);
    memset(st, 0, sizeof(*st));
}

static char *sync_dir(const char *state_dir, const char *sync)
{
    char *base = hfs_path_join(state_dir, "state");
    char *dir = hfs_path_join(base, sync);
    free(base);
    return dir;
}

static char *state_path(const char *state_dir, const char *sync)
{
    char *dir = sync_dir(state_dir, sync);
    char *path = hfs_path_join(dir, "pack.json");
    free(dir);
    return path;
}

static char *staging_dir(const char *state_dir, const char *sync)
{
    char *dir = sync_dir(state_dir, sync);
    char *path = hfs_path_join(dir, "pack");
    free(dir);
    return path;
}

static void push_member(member **arr, size_t *n, size_t *cap, const char *path, uint64_t size,
                        int64_t mtime_ns)
{
    member m = {hfs_strdup(path), size, mtime_ns};
    HFS_PUSH(*arr, *n, *cap, m);
}

static bool read_members(member **arr, size_t *n, size_t *cap, const json_t *list)
{
    size_t i;
    const json_t *item;
    if (!json_is_array(list))
        return false;
    json_array_foreach(list, i, item)
    {
        const char *path = json_string_value(json_object_get(item, "path"));
        const json_t *size = json_object_get(item, "size");
        const json_t *mtime = json_object_get(item, "mtime_ns");
        if (!path || !json_is_integer(size) || !json_is_integer(mtime))
            return false;
        push_member(arr, n, cap, path, (uint64_t)json_integer_value(size),
                    (int64_t)json_integer_value(mtime));
    }
    return true;
}

static json_t *members_json(const member *m, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_pack("{s:s,s:I,s:I}", "path", m[i].path, "size",
                                              (json_int_t)m[i].size, "mtime_ns",
                                              (json_int_t)m[i].mtime_ns));
    return list;
}

/* A missing state is an empty one. A corrupt one is an error, not a fresh start: its
 * pending archive may have landed, and packing its files again would upload them twice. */
static int state_load(pack_state *st, const char *state_dir, const char *sync)
{
    char *path = state_path(state_dir, sync);
    char *text = NULL;
    size_t len = 0;
    json_t *root = NULL;
    memset(st, 0, sizeof(*st));
    int rc = hfs_read_file(&text, &len, path, PACK_STATE_MAX_BYTES);
    if (rc == HFS_ENOTFOUND) {
        hfs_error_clear();
        rc = 0;
        goto done;
    }
    if (rc < 0)
        goto done;
    json_error_t jerr;
    root = json_loadb(text, len, 0, &jerr);
    const json_t *pending = json_object_get(root, "pending");
    bool ok =
        json_is_object(root) &&
        json_integer_value(json_object_get(root, "version")) == PACK_STATE_VERSION &&
        read_members(&st->packed, &st->n_packed, &st->cap_packed, json_object_get(root, "packed"));
    if (ok && json_is_object(pending)) {
        const char *archive = json_string_value(json_object_get(pending, "archive"));
        const char *staged = json_string_value(json_object_get(pending, "staged"));
        const char *sha256 = json_string_value(json_object_get(pending, "sha256"));
        const char *sha1 = json_string_value(json_object_get(pending, "sha1"));
        const json_t *size = json_object_get(pending, "size");
        ok = archive && staged && !strchr(staged, '/') && sha256 && strlen(sha256) == 64 && sha1 &&
             strlen(sha1) == 40 && json_is_integer(size) &&
             read_members(&st->files, &st->n_files, &st->cap_files,
                          json_object_get(pending, "files"));
        if (ok) {
            st->pending = true;
            st->archive = hfs_strdup(archive);
            st->staged = hfs_strdup(staged);
            memcpy(st->sha256, sha256, sizeof(st->sha256));
            memcpy(st->sha1, sha1, sizeof(st->sha1));
            st->size = (uint64_t)json_integer_value(size);
        }
    }
    if (!ok)
        rc = hfs_error_set(HFS_ERROR,
                           "%s is not a pack state this hfsync can read; it records which "
                           "packed files were uploaded: check it, or remove it (files still "
                           "in the folder will be packed and uploaded again)",
                           path);
done:
    if (rc < 0)
        state_clear(st);
    json_decref(root);
    free(text);
    free(path);
    return rc;
}

static int state_save(const pack_state *st, const char *state_dir, const char *sync)
{
    char *dir = sync_dir(state_dir, sync);
    char *path = hfs_path_join(dir, "pack.json");
    json_t *root = json_pack("{s:i,s:o}", "version", PACK_STATE_VERSION, "packed",
                             members_json(st->packed, st->n_packed));
    if (st->pending)
        json_object_set_new(root, "pending",
                            json_pack("{s:s,s:s,s:s,s:s,s:I,s:o}", "archive", st->archive, "staged",
                                      st->staged, "sha256", st->sha256, "sha1", st->sha1, "size",
                                      (json_int_t)st->size, "files",
                                      members_json(st->files, st->n_files)));
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
    int rc = hfs_mkdir_p(dir);
    if (rc == 0)
        rc = hfs_write_file_atomic(path, text, strlen(text), 0644);
    free(text);
    json_decref(root);
    free(path);
    free(dir);
    return rc;
}

static int64_t mtime_of(const struct stat *st)
{
    return hfs_timespec_ns(&st->st_mtim);
}

static bool unchanged(const char *folder, const member *m)
{
    char *path = hfs_path_join(folder, m->path);
    struct stat st;
    bool same = stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == m->size &&
                mtime_of(&st) == m->mtime_ns;
    free(path);
    return same;
}

/* Drops remembered files that are gone or changed: they will never match again. */
static void prune_packed(pack_state *st, const char *folder)
{
    size_t keep = 0;
    for (size_t i = 0; i < st->n_packed; i++) {
        if (unchanged(folder, &st->packed[i]))
            st->packed[keep++] = st->packed[i];
        else
            free(st->packed[i].path);
    }
    st->n_packed = keep;
}

static void remove_staged(const char *state_dir, const char *sync, const char *staged)
{
    char *dir = staging_dir(state_dir, sync);
    char *path = hfs_path_join(dir, staged);
    if (unlink(path) != 0 && errno != ENOENT)
        hfs_warn("cannot remove the staged archive %s: %s", path, strerror(errno));
    free(path);
    free(dir);
}

/* The pending archive landed: its files go (remove_local) or are remembered. */
static int settle_landed(exec_pack_info *out, pack_state *st, const hfs_sync *sync,
                         const char *state_dir)
{
    const hfs_pack_settings *p = &sync->schedule_pack;
    size_t settled = 0;
    for (size_t i = 0; i < st->n_files; i++) {
        const member *m = &st->files[i];
        /* A file written again since it was packed holds content the archive lacks. */
        if (!unchanged(sync->folder_abs, m))
            continue;
        if (p->remove_local) {
            char *path = hfs_path_join(sync->folder_abs, m->path);
            if (unlink(path) != 0 && errno != ENOENT)
                hfs_warn("sync %s: cannot remove %s, packed into %s: %s", sync->name, path,
                         st->archive, strerror(errno));
            else
                settled++;
            free(path);
        } else {
            push_member(&st->packed, &st->n_packed, &st->cap_packed, m->path, m->size, m->mtime_ns);
            settled++;
        }
    }
    if (out) {
        out->archive = hfs_strdup(st->archive);
        out->files = settled;
        out->removed = p->remove_local;
    }
    remove_staged(state_dir, sync->name, st->staged);
    state_clear_pending(st);
    prune_packed(st, sync->folder_abs);
    return state_save(st, state_dir, sync->name);
}

typedef struct {
    const char *path;
    char oid[HFS_SHA256_HEX]; /* the git sha1 of a regular file, the sha256 of an LFS one */
    bool found;
} lookup;

static int on_entries(void *ctx, const hfs_hub_entry *entries, size_t n)
{
    lookup *l = ctx;
    for (size_t i = 0; i < n; i++)
        if (entries[i].type == HFS_HUB_ENTRY_FILE && strcmp(entries[i].path, l->path) == 0) {
            l->found = true;
            snprintf(l->oid, sizeof(l->oid), "%s",
                     entries[i].is_lfs ? entries[i].lfs_sha256 : entries[i].oid);
        }
    return 0;
}

/* Does the hub hold `path` at `revision`? *oid (may be NULL) gets its sha256 (LFS) or git
 * sha1 (regular) when it does. A repo or revision that does not exist holds nothing. */
static int remote_has(bool *found, char oid[HFS_SHA256_HEX], hfs_hub *hub, const hfs_sync *sync,
                      const char *revision, const char *path)
{
    hfs_hub_repo repo = {sync->repo_type, sync->repo_id};
    lookup l = {path, "", false};
    const char *paths[] = {path};
    *found = false;
    int rc = hfs_hub_paths_info(hub, &repo, revision, paths, 1, on_entries, &l);
    if (rc == HFS_ENOTFOUND) {
        hfs_error_clear();
        return 0;
    }
    if (rc == 0 && l.found) {
        *found = true;
        if (oid)
            snprintf(oid, HFS_SHA256_HEX, "%s", l.oid);
    }
    return rc;
}

int exec_pack_recover(exec_pack_info *out, hfs_hub *hub, const hfs_sync *sync,
                      const char *state_dir)
{
    pack_state st;
    if (out)
        memset(out, 0, sizeof(*out));
    int rc = state_load(&st, state_dir, sync->name);
    if (rc < 0 || !st.pending)
        goto done;
    bool found = false;
    char oid[HFS_SHA256_HEX] = "";
    if ((rc = remote_has(&found, oid, hub, sync, sync->revision, st.archive)) < 0)
        goto done;
    if (found && (strcmp(oid, st.sha256) == 0 || strcmp(oid, st.sha1) == 0)) {
        rc = settle_landed(out, &st, sync, state_dir);
        goto done;
    }
    /* It never landed: its files are all still there, to be packed again. */
    hfs_debug("sync %s: the archive %s of an earlier run never landed; packing its files "
              "again",
              sync->name, st.archive);
    remove_staged(state_dir, sync->name, st.staged);
    state_clear_pending(&st);
    rc = state_save(&st, state_dir, sync->name);
done:
    state_clear(&st);
    return rc;
}

int exec_pack_finish(exec_pack_info *out, const hfs_sync *sync, const char *state_dir)
{
    pack_state st;
    if (out)
        memset(out, 0, sizeof(*out));
    int rc = state_load(&st, state_dir, sync->name);
    if (rc == 0 && st.pending)
        rc = settle_landed(out, &st, sync, state_dir);
    state_clear(&st);
    return rc;
}

/* ---- building the archive ------------------------------------------------------------- */

static int by_member_path(const void *a, const void *b)
{
    return strcmp(((const member *)a)->path, ((const member *)b)->path);
}

/* Was this file uploaded inside an earlier archive, as it is now? (st->packed is sorted.) */
static bool is_packed(const pack_state *st, const hfs_plan_op *op)
{
    if (st->n_packed == 0)
        return false;
    member key = {op->local, 0, 0};
    const member *m = bsearch(&key, st->packed, st->n_packed, sizeof(key), by_member_path);
    return m && m->size == op->size && m->mtime_ns == op->mtime_ns;
}

static int archive_fail(struct archive *a, const char *path)
{
    return hfs_error_set(HFS_ERROR, "cannot write the archive %s: %s", path,
                         archive_error_string(a) ? archive_error_string(a) : "libarchive failed");
}

/* Streams the first op->size bytes of one file into the archive, checking them against the
 * plan's pinned hash on the way: a file rewritten since it was planned is not packed. */
static int add_member(struct archive *a, const char *archive_path, const char *folder,
                      const hfs_plan_op *op, unsigned char *buf)
{
    char *path = hfs_path_join(folder, op->local);
    struct archive_entry *e = archive_entry_new();
    hfs_hasher *h = hfs_hasher_new(op->sha256[0] != '\0', op->sha1[0] != '\0', op->size);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = 0;
    if (fd < 0) {
        rc = hfs_error_set(errno == ENOENT ? HFS_ESTALE : HFS_ERROR,
                           "cannot read %s to pack it: %s", path, strerror(errno));
        goto done;
    }
    archive_entry_set_pathname_utf8(e, op->local);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)op->size);
    archive_entry_set_mtime(e, (time_t)(op->mtime_ns / 1000000000),
                            (long)(op->mtime_ns % 1000000000));
    if (archive_write_header(a, e) != ARCHIVE_OK) {
        rc = archive_fail(a, archive_path);
        goto done;
    }
    for (uint64_t pos = 0; pos < op->size;) {
        size_t want = op->size - pos < READ_CHUNK ? (size_t)(op->size - pos) : READ_CHUNK;
        ssize_t got = pread(fd, buf, want, (off_t)pos);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            rc = got < 0 ? hfs_error_set(HFS_ERROR, "cannot read %s to pack it: %s", path,
                                         strerror(errno))
                         : hfs_error_set(HFS_ESTALE,
                                         "%s became shorter than planned (%" PRIu64
                                         " bytes) while it was packed; the next run packs it",
                                         path, op->size);
            goto done;
        }
        hfs_hasher_update(h, buf, (size_t)got);
        if (archive_write_data(a, buf, (size_t)got) != got) {
            rc = archive_fail(a, archive_path);
            goto done;
        }
        pos += (uint64_t)got;
    }
    char sha256[HFS_SHA256_HEX] = "", sha1[HFS_SHA1_HEX] = "";
    hfs_hasher_final(h, sha256, sha1);
    if ((op->sha256[0] && strcmp(sha256, op->sha256) != 0) ||
        (op->sha1[0] && strcmp(sha1, op->sha1) != 0)) {
        rc = hfs_error_set(HFS_ESTALE,
                           "%s changed since it was planned (its content no longer hashes as "
                           "planned); the next run packs it as it is then",
                           path);
        goto done;
    }
    if (archive_write_finish_entry(a) != ARCHIVE_OK)
        rc = archive_fail(a, archive_path);
done:
    if (fd >= 0)
        close(fd);
    hfs_hasher_free(h);
    archive_entry_free(e);
    free(path);
    return rc;
}

static int write_archive(const char *path, const hfs_sync *sync, const hfs_plan_op *const *ops,
                         size_t n)
{
    struct archive *a = archive_write_new();
    unsigned char *buf = hfs_malloc(READ_CHUNK);
    int rc = 0;
    if (archive_write_set_format_zip(a) != ARCHIVE_OK ||
        archive_write_open_filename(a, path) != ARCHIVE_OK) {
        rc = archive_fail(a, path);
        goto done;
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = add_member(a, path, sync->folder_abs, ops[i], buf);
    if (archive_write_close(a) != ARCHIVE_OK && rc == 0)
        rc = archive_fail(a, path);
done:
    archive_write_free(a);
    free(buf);
    if (rc < 0)
        unlink(path);
    return rc;
}

/* `to` relative to the folder `from` (both absolute, no symlinks): the plan names the
 * files it commits relative to the sync's folder, and the staged archive lives elsewhere. */
static char *relative_to(const char *from, const char *to)
{
    size_t common = 0;
    for (size_t i = 0;; i++) {
        bool end_from = from[i] == '\0' || from[i] == '/';
        bool end_to = to[i] == '\0' || to[i] == '/';
        if (end_from && end_to)
            common = i;
        if (from[i] == '\0' || to[i] == '\0' || from[i] != to[i])
            break;
    }
    hfs_buf b = HFS_BUF_INIT;
    for (const char *p = from + common; *p; p++)
        if (*p == '/' && p[1] != '\0')
            hfs_buf_puts(&b, "../");
    const char *rest = to + common;
    while (*rest == '/')
        rest++;
    hfs_buf_puts(&b, rest);
    return hfs_buf_detach(&b);
}

/* "dir/a-STAMP.zip" → "dir/a-STAMP-N.zip" (before the extension of the file name). */
static char *numbered(const char *name, unsigned n)
{
    const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base)
        return hfs_sprintf("%s-%u", name, n);
    return hfs_sprintf("%.*s-%u%s", (int)(dot - name), name, n, dot);
}

/* The archive's mode, as the hub decides it from its first bytes (a zip is binary). */
static int decide_lfs(bool *lfs, const char *path, const char *repo_path, uint64_t size)
{
    unsigned char sample[HFS_HUB_SAMPLE_MAX];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hfs_error_set(HFS_ERROR, "cannot read the archive %s: %s", path, strerror(errno));
    ssize_t got = pread(fd, sample, sizeof(sample), 0);
    close(fd);
    if (got < 0)
        return hfs_error_set(HFS_ERROR, "cannot read the archive %s: %s", path, strerror(errno));
    *lfs = hfs_lfsrules_is_lfs(NULL, repo_path, size, sample, (size_t)got);
    return 0;
}

int exec_pack_prepare(exec_pack_info *out, hfs_plan_sync *ps, const hfs_sync *sync,
                      const char *state_dir, hfs_hub *hub, const char *stamp)
{
    const hfs_pattern_set *set = hfs_sync_pack_set(sync);
    const hfs_plan_op **chosen = NULL;
    size_t n_chosen = 0, cap_chosen = 0;
    char *name = NULL, *repo_path = NULL, *dir = NULL, *staged = NULL, *tmp = NULL;
    pack_state st;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = state_load(&st, state_dir, sync->name)) < 0)
        return rc;
    if (st.n_packed > 1)
        qsort(st.packed, st.n_packed, sizeof(*st.packed), by_member_path);
    if (st.pending) {
        rc = hfs_error_set(HFS_ERROR,
                           "sync %s: the archive %s of an earlier run is still pending; it is "
                           "settled before new files are packed",
                           sync->name, st.archive);
        goto done;
    }
    /* Files uploaded in an earlier archive and kept leave the plan: they are on the hub. */
    for (size_t c = 0; c < ps->n_commits; c++)
        for (size_t i = ps->commits[c].n_ops; i-- > 0;) {
            const hfs_plan_op *op = &ps->commits[c].ops[i];
            if ((op->kind == HFS_OP_ADD || op->kind == HFS_OP_COPY) && op->local &&
                hfs_pattern_set_match(set, op->local) && is_packed(&st, op))
                exec_plan_drop_op(ps, c, i);
        }
    for (size_t c = 0; c < ps->n_commits; c++)
        for (size_t i = 0; i < ps->commits[c].n_ops; i++) {
            const hfs_plan_op *op = &ps->commits[c].ops[i];
            if ((op->kind == HFS_OP_ADD || op->kind == HFS_OP_COPY) && op->local &&
                hfs_pattern_set_match(set, op->local))
                HFS_PUSH(chosen, n_chosen, cap_chosen, op);
        }
    if (n_chosen == 0)
        goto done;

    if ((rc = hfs_pack_name_expand(&name, sync->schedule_pack.name, stamp)) < 0)
        goto done;
    /* An archive never replaces another: two runs in one second get "-2", "-3", … */
    for (unsigned n = 1; rc == 0; n++) {
        free(repo_path);
        char *variant = n == 1 ? hfs_strdup(name) : numbered(name, n);
        repo_path = *ps->path_in_repo ? hfs_path_join(ps->path_in_repo, variant) : variant;
        if (variant != repo_path)
            free(variant);
        bool found = false;
        if (ps->create)
            break;
        if ((rc = remote_has(&found, NULL, hub, sync, ps->remote_head, repo_path)) < 0)
            goto done;
        if (!found)
            break;
        if (n == 100)
            rc = hfs_error_set(HFS_EEXISTS,
                               "sync %s: the archives %s and 99 numbered variants exist on the "
                               "hub already; the next run packs under a new time",
                               sync->name, name);
    }
    if (rc < 0)
        goto done;

    dir = staging_dir(state_dir, sync->name);
    if ((rc = hfs_mkdir_p(dir)) < 0)
        goto done;
    char *real = realpath(dir, NULL);
    if (!real) {
        rc = hfs_error_set(HFS_ERROR, "cannot resolve %s: %s", dir, strerror(errno));
        goto done;
    }
    free(dir);
    dir = hfs_strdup(real);
    free(real);
    const char *base = strrchr(repo_path, '/') ? strrchr(repo_path, '/') + 1 : repo_path;
    staged = hfs_path_join(dir, base);
    tmp = hfs_sprintf("%s.partial", staged);
    if ((rc = write_archive(tmp, sync, chosen, n_chosen)) < 0)
        goto done;
    if (rename(tmp, staged) != 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot rename %s to %s: %s", tmp, staged, strerror(errno));
        unlink(tmp);
        goto done;
    }

    hfs_plan_op op = {.kind = HFS_OP_ADD, .upload = true, .has_mtime = true};
    struct stat sb;
    if ((rc = hfs_hash_file(staged, op.sha256, op.sha1, &op.size)) < 0)
        goto drop;
    if (stat(staged, &sb) != 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot stat %s: %s", staged, strerror(errno));
        goto drop;
    }
    op.mtime_ns = mtime_of(&sb);
    if ((rc = decide_lfs(&op.lfs, staged, repo_path, op.size)) < 0)
        goto drop;

    /* Recorded before anything is sent: whatever happens next, the next run can tell. */
    st.pending = true;
    st.archive = hfs_strdup(repo_path);
    st.staged = hfs_strdup(base);
    memcpy(st.sha256, op.sha256, sizeof(st.sha256));
    memcpy(st.sha1, op.sha1, sizeof(st.sha1));
    st.size = op.size;
    for (size_t i = 0; i < n_chosen; i++) {
        push_member(&st.files, &st.n_files, &st.cap_files, chosen[i]->local, chosen[i]->size,
                    chosen[i]->mtime_ns);
        out->bytes += chosen[i]->size;
    }
    if ((rc = state_save(&st, state_dir, sync->name)) < 0)
        goto drop;

    out->archive = hfs_strdup(repo_path);
    out->files = n_chosen;
    out->pending = true;
    /* The packed files leave the plan; the archive takes their place. `chosen` is in plan
     * order, and dropping an operation moves only the ones after it: walking both
     * backwards keeps every pointer still to compare valid. */
    size_t k = n_chosen;
    for (size_t c = ps->n_commits; c-- > 0;)
        for (size_t i = ps->commits[c].n_ops; i-- > 0 && k > 0;)
            if (chosen[k - 1] == &ps->commits[c].ops[i]) {
                exec_plan_drop_op(ps, c, i);
                k--;
            }
    op.path = repo_path;
    op.local = relative_to(ps->folder, staged);
    repo_path = NULL;
    exec_plan_add_op(ps, &op);
    goto done;
drop:
    unlink(staged);
done:
    state_clear(&st);
    free(tmp);
    free(staged);
    free(dir);
    free(repo_path);
    free(name);
    free(chosen);
    return rc;
}
