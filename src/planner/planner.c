/* hfs_plan_compute: the planner's pipeline for each sync, in the order the data flows —
 * remote snapshot and local scan (side by side), LFS decision, hashes, diff, limits, commit
 * groups, plan. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/lfsrules.h"
#include "common/log.h"
#include "common/util.h"
#include "hub/hub.h"
#include "manifest/manifest.h"
#include "planner/diff.h"
#include "planner/group.h"
#include "planner/hashcache.h"
#include "planner/hashpool.h"
#include "planner/lfsdecide.h"
#include "planner/plan.h"
#include "planner/remote.h"
#include "planner/scan.h"

/* Root .gitignore and .gitattributes are config files; the hub refuses regular files above
 * 10 MiB, so nothing larger is read into memory. */
#define CONFIG_MAX_BYTES HFS_REGULAR_MAX_BYTES

typedef struct {
    const hfs_plan_options *opts;
    const char *sync;
    double started;
} progress_relay;

static void relay_progress(const hfs_hash_progress *p, void *payload)
{
    progress_relay *r = payload;
    hfs_plan_progress out = {r->sync,       p->files_done,  p->files_total,
                             p->bytes_done, p->bytes_total, hfs_now() - r->started};
    r->opts->progress(r->opts->progress_ctx, &out);
}

/* The local file at this repo path, or NULL (files are sorted by repo_path). */
static const hfs_local_file *find_local(const hfs_scan_result *scan, const char *repo_path)
{
    size_t lo = 0, hi = scan->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(scan->files[mid].repo_path, repo_path);
        if (c == 0)
            return &scan->files[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The .gitattributes the hub will judge this commit's files by: the local root one when the
 * sync uploads it, else the one at the remote head, else (a repo still to be created) the one
 * the hub writes into new repos. *bytes is the size of the file the commit starts from. */
static int load_rules(hfs_lfsrules **out, uint64_t *bytes, hfs_hub *hub, const hfs_sync *sync,
                      const hfs_scan_result *scan, const hfs_remote_snapshot *remote)
{
    char *text = NULL;
    size_t len = 0;
    int rc = 0;
    const hfs_local_file *local = find_local(scan, ".gitattributes");
    const hfs_remote_entry *remote_file =
        remote->exists ? hfs_remote_snapshot_find(remote, ".gitattributes") : NULL;

    *bytes = 0;
    if (local) {
        rc = hfs_read_file(&text, &len, local->local_path, CONFIG_MAX_BYTES);
    } else if (remote->exists) {
        rc = hfs_remote_read_small(&text, hub, remote, sync->repo_type, sync->repo_id,
                                   ".gitattributes", CONFIG_MAX_BYTES);
        len = text ? strlen(text) : 0;
    } else {
        text = hfs_strdup(hfs_lfsrules_default_gitattributes(sync->repo_type));
        len = strlen(text);
    }
    if (rc == 0) {
        *bytes = remote_file ? remote_file->size : remote->exists ? 0 : len;
        rc = hfs_lfsrules_parse(out, text, len);
    }
    free(text);
    return rc;
}

/* A file judged by its content sample before hashing, and the ctime of the bytes judged. */
typedef struct {
    bool sampled;
    int64_t ctime_ns;
} sample_mark;

/* Files only their content can classify (text or binary) would need both hashes if their
 * mode waited for the hashing, which doubles the hashing work on them. Settling the mode
 * first lets the pool read each file for the one hash its mode needs:
 *  - a file the remote holds at the same path and size is likely unchanged: the remote
 *    mode's hash settles it (equal content keeps the remote's mode, in lfsdecide_finish);
 *    whether the cache has it is the pool's question (one cache lookup per file);
 *  - a file the cache holds with both hashes costs no read either way: left undecided;
 *  - any other file is new or changed: its 512-byte sample decides now, as the hub will. */
static int decide_before_hashing(unsigned char *modes, unsigned char *want, sample_mark *marks,
                                 hfs_local_file *files, size_t n, const hfs_lfsrules *rules,
                                 const hfs_remote_snapshot *remote, hfs_hashcache *cache)
{
    size_t hint = 0;
    for (size_t i = 0; i < n; i++) {
        hfs_local_file *f = &files[i];
        if (modes[i] != HFS_MODE_UNDECIDED)
            continue;
        const hfs_remote_entry *r =
            remote->exists ? hfs_remote_snapshot_seek(remote, &hint, f->repo_path) : NULL;
        if (r && r->size == f->size) {
            want[i] = r->is_lfs ? HFS_HASH_SHA256 : HFS_HASH_SHA1;
            continue;
        }
        if (cache && hfs_hashcache_lookup(cache, f, HFS_HASH_BOTH) == HFS_HASHCACHE_HIT)
            continue;
        hfs_file_mode mode;
        int rc = hfs_lfsdecide_by_content(&mode, rules, f);
        if (rc < 0)
            return rc;
        modes[i] = (unsigned char)mode;
        want[i] = mode == HFS_MODE_LFS ? HFS_HASH_SHA256 : HFS_HASH_SHA1;
        marks[i] = (sample_mark){true, f->ctime_ns};
    }
    return 0;
}

/* After hashing: a file whose size moved past a rule's threshold while it was hashed was
 * decided on stale facts. One rewritten between its sample and its hashing (the pool hashes
 * a file as it is when read) is judged again, by lfsdecide_finish, on the bytes hashed. */
static int recheck_modes(unsigned char *modes, const sample_mark *marks,
                         const hfs_local_file *files, size_t n, const hfs_lfsrules *rules)
{
    for (size_t i = 0; i < n; i++) {
        hfs_file_mode now = hfs_lfsdecide_by_name(rules, files[i].repo_path, files[i].size);
        if (marks[i].sampled && now == HFS_MODE_UNDECIDED) {
            if (files[i].ctime_ns != marks[i].ctime_ns)
                modes[i] = HFS_MODE_UNDECIDED;
            continue;
        }
        if (modes[i] != HFS_MODE_UNDECIDED && now != modes[i])
            return hfs_error_set(HFS_ESTALE,
                                 "%s changed size while it was planned: wait until it is "
                                 "written completely, then plan again",
                                 files[i].local_path);
    }
    return 0;
}

/* The hash a file's final mode needs, when the pool did not take it: a changed file the
 * remote held in the other mode at the same size, or one rewritten before it was hashed.
 * Rare, and each costs a second read of that file only. */
static int hash_missing(hfs_local_file *files, size_t n, const unsigned char *modes,
                        hfs_hashcache *cache, unsigned threads)
{
    unsigned char *want = hfs_calloc(n ? n : 1, 1);
    size_t missing = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        bool lfs = modes[i] == HFS_MODE_LFS;
        if (lfs ? !files[i].has_sha256 : !files[i].has_sha1) {
            want[i] = lfs ? HFS_HASH_SHA256 : HFS_HASH_SHA1;
            missing++;
        }
    }
    if (missing > 0) {
        hfs_hash_options ho = HFS_HASH_OPTIONS_INIT;
        ho.want = want;
        ho.cache = cache;
        ho.threads = threads;
        rc = hfs_hash_files(files, n, &ho, NULL);
    }
    free(want);
    return rc;
}

/* The hash cache loads (one read of a file of about 160 bytes per file, checksummed) on a
 * thread of its own while the first sync is listed and scanned; a sync waits for it just
 * before it looks hashes up. */
typedef struct {
    const char *state_dir;
    hfs_hashcache *cache;
    int rc;
    char *error; /* the open's last error, carried to the planning thread */
    pthread_t thread;
    bool running;
} cache_loader;

static void *cache_loader_run(void *arg)
{
    cache_loader *l = arg;
    l->rc = hfs_hashcache_open(&l->cache, l->state_dir);
    if (l->rc < 0)
        l->error = hfs_strdup(hfs_error_last());
    return NULL;
}

static void cache_loader_start(cache_loader *l, const char *state_dir)
{
    l->state_dir = state_dir;
    l->running = pthread_create(&l->thread, NULL, cache_loader_run, l) == 0;
    if (!l->running)
        cache_loader_run(l); /* no thread to be had: load it now */
}

/* The loaded cache (owned by the loader), or the open's error as this thread's. */
static int cache_loader_wait(hfs_hashcache **out, cache_loader *l)
{
    if (l->running) {
        pthread_join(l->thread, NULL);
        l->running = false;
    }
    *out = l->cache;
    return l->rc < 0 ? hfs_error_set(l->rc, "%s", l->error) : 0;
}

static int scan_with(hfs_scan_result **out, const hfs_sync *sync, const char *remote_gitignore,
                     const hfs_plan_options *opts)
{
    hfs_scan_options so = HFS_SCAN_OPTIONS_INIT;
    so.folder = sync->folder_abs;
    so.path_in_repo = sync->path_in_repo;
    so.use_gitignore = sync->gitignore;
    so.remote_root_gitignore = remote_gitignore;
    so.allow = hfs_sync_allow_set(sync);
    so.ignore = hfs_sync_ignore_set(sync);
    so.threads = opts->jobs;
    return hfs_scan_folder(out, &so);
}

/* The folder is scanned on a thread of its own while this one asks the hub for the remote
 * snapshot: the two are independent (one waits on the file system, the other on the hub),
 * except for the remote root .gitignore, which scan_folder below settles once both are
 * known. The hub is asked from the caller's thread, where its per-thread state (the last
 * HTTP status, which callers such as watch read after an error) is expected. */
typedef struct {
    const hfs_sync *sync;
    const hfs_plan_options *opts;
    hfs_scan_result *scan;
    int rc;
    char *error; /* the scan's last error, carried back to the planning thread */
} scan_job;

static void *scan_job_run(void *arg)
{
    scan_job *job = arg;
    job->rc = scan_with(&job->scan, job->sync, NULL, job->opts);
    if (job->rc < 0)
        job->error = hfs_strdup(hfs_error_last());
    return NULL;
}

/* Settles the scan made without the remote: it stands unless the remote revision has a root
 * .gitignore that applies (gitignore on, and no root .gitignore in the folder; a failed scan
 * may not have got that far), in which case the folder is scanned again under it. */
static int scan_folder(hfs_scan_result **scan, scan_job *job, hfs_hub *hub, const hfs_sync *sync,
                       const hfs_remote_snapshot *remote, const hfs_plan_options *opts)
{
    char *remote_gitignore = NULL;
    bool remote_has =
        sync->gitignore && remote->exists && hfs_remote_snapshot_find(remote, ".gitignore") != NULL;
    *scan = job->scan;
    job->scan = NULL;
    if (!remote_has || (job->rc == 0 && (*scan)->has_root_gitignore))
        return job->rc < 0 ? hfs_error_set(job->rc, "%s", job->error) : 0;
    hfs_scan_result_free(*scan);
    *scan = NULL;
    int rc = hfs_remote_read_small(&remote_gitignore, hub, remote, sync->repo_type, sync->repo_id,
                                   ".gitignore", CONFIG_MAX_BYTES);
    if (rc == 0)
        rc = scan_with(scan, sync, remote_gitignore, opts);
    free(remote_gitignore);
    return rc;
}

static int plan_sync(hfs_plan *plan, hfs_hub *hub, cache_loader *loader, const char *state_dir,
                     const hfs_sync *sync, const hfs_plan_options *opts)
{
    hfs_hashcache *cache = NULL;
    hfs_remote_snapshot *remote = NULL;
    hfs_scan_result *scan = NULL;
    hfs_lfsrules *rules = NULL;
    char *refusal = NULL;
    unsigned char *modes = NULL, *want = NULL;
    sample_mark *marks = NULL;
    hfs_diff_result diff = {0};
    hfs_limit_report limits = {0};
    hfs_group_result groups = {0};
    uint64_t attributes_bytes = 0;
    int rc;

    scan_job job = {sync, opts, NULL, 0, NULL};
    pthread_t scan_thread;
    bool threaded = pthread_create(&scan_thread, NULL, scan_job_run, &job) == 0;
    if (!threaded)
        scan_job_run(&job);
    rc = hfs_remote_fetch(&remote, hub, sync->repo_type, sync->repo_id, sync->revision, state_dir);
    if (threaded)
        pthread_join(scan_thread, NULL);
    /* The remote's failure is the one to report, as when nothing was scanned yet. */
    if (rc < 0)
        goto done;
    if (!remote->exists && !sync->create) {
        rc = hfs_error_set(HFS_ENOTFOUND,
                           "sync %s: %s repo %s does not exist at %s: create it, or set "
                           "`create: {private: true}` (or false) on the sync so apply creates it",
                           sync->name, hfs_repo_type_name(sync->repo_type), sync->repo_id,
                           hfs_hub_endpoint(hub));
        goto done;
    }
    rc = scan_folder(&scan, &job, hub, sync, remote, opts);
    if (rc < 0)
        goto done;
    /* Refuse what no diff can make acceptable before spending time hashing. */
    rc = hfs_diff_check_local(&limits, scan->files, scan->count);
    if (rc == 0 && limits.n_violations > 0) {
        refusal = hfs_limit_report_format(&limits, sync->name);
        rc = hfs_error_set(HFS_ELIMIT, "%s", refusal);
    }
    hfs_limit_report_clear(&limits);
    if (rc < 0)
        goto done;

    rc = load_rules(&rules, &attributes_bytes, hub, sync, scan, remote);
    if (rc < 0)
        goto done;
    modes = hfs_malloc(scan->count ? scan->count : 1);
    want = hfs_malloc(scan->count ? scan->count : 1);
    marks = hfs_calloc(scan->count ? scan->count : 1, sizeof(*marks));
    hfs_lfsdecide_prepare(modes, want, scan->files, scan->count, rules, remote);
    rc = cache_loader_wait(&cache, loader);
    if (rc < 0)
        goto done;
    rc = decide_before_hashing(modes, want, marks, scan->files, scan->count, rules, remote, cache);
    if (rc < 0)
        goto done;

    hfs_hash_options ho = HFS_HASH_OPTIONS_INIT;
    progress_relay relay = {opts, sync->name, hfs_now()};
    ho.want = want;
    ho.cache = cache;
    ho.threads = opts->jobs;
    if (opts->progress) {
        ho.progress = relay_progress;
        ho.progress_payload = &relay;
    }
    rc = hfs_hash_files(scan->files, scan->count, &ho, NULL);
    if (rc == 0)
        rc = recheck_modes(modes, marks, scan->files, scan->count, rules);
    if (rc == 0)
        rc = hfs_lfsdecide_finish(modes, scan->files, scan->count, rules, remote);
    if (rc == 0)
        rc = hash_missing(scan->files, scan->count, modes, cache, opts->jobs);
    if (rc < 0)
        goto done;

    hfs_diff_settings ds = {sync->path_in_repo, hfs_sync_delete_set(sync)};
    rc = hfs_diff(&diff, scan->files, modes, scan->count, remote, &ds);
    if (rc < 0)
        goto done;
    hfs_limit_settings ls = {sync->max_delete, rules, attributes_bytes};
    rc = hfs_diff_check_limits(&limits, &diff, scan->files, scan->count, remote, &ls);
    if (rc < 0)
        goto done;
    if (limits.n_violations > 0) {
        refusal = hfs_limit_report_format(&limits, sync->name);
        rc = hfs_error_set(HFS_ELIMIT, "%s", refusal);
        goto done;
    }

    hfs_group_settings gs = {sync->commit.strategy, sync->commit.max_files, sync->commit.max_bytes,
                             0};
    rc = hfs_group(&groups, diff.ops, diff.n_ops, &gs);
    if (rc == 0)
        rc = hfs_group_check_inline(&groups, sync->name, sync->transport == HFS_TRANSPORT_GIT);
    if (rc < 0)
        goto done;
    hfs_plan_sync_input in = {
        sync, remote, &diff, &groups, (const char *const *)limits.warnings, limits.n_warnings};
    hfs_plan_add_sync(plan, &in);
done:
    free(refusal);
    hfs_group_result_clear(&groups);
    hfs_limit_report_clear(&limits);
    hfs_diff_result_clear(&diff);
    free(marks);
    free(want);
    free(modes);
    hfs_lfsrules_free(rules);
    hfs_scan_result_free(scan);
    hfs_scan_result_free(job.scan); /* a scan the remote's failure left unused */
    free(job.error);
    hfs_remote_snapshot_free(remote);
    return rc;
}

static bool selected(const hfs_plan_options *opts, const char *name)
{
    if (opts->n_syncs == 0)
        return true;
    for (size_t i = 0; i < opts->n_syncs; i++)
        if (strcmp(opts->syncs[i], name) == 0)
            return true;
    return false;
}

static int check_sync_names(const hfs_manifest *m, const hfs_plan_options *opts)
{
    for (size_t i = 0; i < opts->n_syncs; i++) {
        if (hfs_manifest_find_sync(m, opts->syncs[i]))
            continue;
        hfs_buf names = HFS_BUF_INIT;
        for (size_t k = 0; k < m->n_syncs; k++)
            hfs_buf_printf(&names, "%s%s", k ? ", " : "", m->syncs[k].name);
        int rc = hfs_error_set(HFS_EINVALID, "%s has no sync named \"%s\" (its syncs: %s)", m->path,
                               opts->syncs[i], hfs_buf_cstr(&names));
        hfs_buf_free(&names);
        return rc;
    }
    return 0;
}

int hfs_plan_compute(hfs_plan **out, const hfs_manifest *m, const hfs_plan_options *opts)
{
    static const hfs_plan_options defaults = HFS_PLAN_OPTIONS_INIT;
    hfs_hub *hub = NULL;
    hfs_hashcache *cache = NULL;
    cache_loader loader = {0};
    hfs_plan *plan = NULL;
    char *state_dir = NULL;
    int rc;

    *out = NULL;
    if (!opts)
        opts = &defaults;
    rc = check_sync_names(m, opts);
    if (rc < 0)
        goto done;

    hfs_hub_options hub_opts = HFS_HUB_OPTIONS_INIT;
    hub_opts.manifest_endpoint = m->endpoint;
    rc = hfs_hub_new(&hub, &hub_opts);
    if (rc < 0)
        goto done;
    state_dir = opts->state_dir ? hfs_strdup(opts->state_dir) : hfs_path_join(m->dir, ".hfsync");
    cache_loader_start(&loader, state_dir);

    plan = hfs_plan_new(m->path, hfs_manifest_digest(m), hfs_hub_endpoint(hub));
    for (size_t i = 0; i < m->n_syncs && rc == 0; i++)
        if (selected(opts, m->syncs[i].name))
            rc = plan_sync(plan, hub, &loader, state_dir, &m->syncs[i], opts);
    /* Hashes computed so far are worth keeping even when a sync failed (then the sync's
     * error is the one to report). */
    if (rc == 0) {
        rc = cache_loader_wait(&cache, &loader);
        if (rc == 0)
            rc = hfs_hashcache_save(cache);
    } else {
        char *why = hfs_strdup(hfs_error_last());
        if (cache_loader_wait(&cache, &loader) == 0 && hfs_hashcache_save(cache) < 0)
            hfs_warn("%s", hfs_error_last());
        hfs_error_set(rc, "%s", why);
        free(why);
    }
    if (rc < 0)
        goto done;
    hfs_plan_seal(plan);
    *out = plan;
    plan = NULL;
done:
    hfs_plan_free(plan);
    if (loader.running)
        pthread_join(loader.thread, NULL);
    hfs_hashcache_free(loader.cache);
    free(loader.error);
    free(state_dir);
    hfs_hub_free(hub);
    return rc;
}
