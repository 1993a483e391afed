/* The bare clone cache of the git path and its hub remote: fetch what changed, push one
 * commit; the remote and its credentials exist only in memory, never in the cache's config. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"
#include "hub/hub.h"
#include "legacy-git/lgit.h"

/* Where the commit to push waits for the push (libgit2 pushes refs, not bare oids). */
#define OUTGOING_REF "refs/hfsync/outgoing"
/* The most "remote: …" text a message quotes. */
#define REMOTE_SAYS_MAX 4000

typedef enum { AUTH_OK, AUTH_NO_TOKEN, AUTH_REFUSED, AUTH_NO_BASIC } auth_state;

struct lgit_remote {
    git_repository *repo;
    int lock_fd; /* the flock of CACHE/hfsync.lock, held while open */
    char *url, *token, *token_source, *what, *cache_dir;
    /* per operation */
    int auth_offers;
    auth_state auth;
    hfs_buf remote_says; /* the hub's sideband text ("remote: …") */
    char *rejected;      /* the push status of a refused ref */
};

static void clear_operation(lgit_remote *r)
{
    r->auth_offers = 0;
    r->auth = AUTH_OK;
    hfs_buf_clear(&r->remote_says);
    free(r->rejected);
    r->rejected = NULL;
}

/* libgit2's message, after ours, and cleared. */
static char *git_message(void)
{
    const git_error *e = git_error_last();
    char *msg = hfs_strdup(e && e->message ? e->message : "libgit2 error");
    git_error_clear();
    return msg;
}

/* Removes the git lock files under dir (refs/…/X.lock, packed-refs.lock): called holding
 * the cache's flock, when every one of them is the leftover of a killed run, which would
 * refuse each later update of its ref ("failed to lock file"). */
static void remove_stale_locks(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            strcmp(de->d_name, "objects") == 0)
            continue;
        char *path = hfs_path_join(dir, de->d_name);
        size_t len = strlen(de->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            remove_stale_locks(path);
        else if (len > 5 && strcmp(de->d_name + len - 5, ".lock") == 0 &&
                 strcmp(de->d_name, "hfsync.lock") != 0)
            unlink(path);
        free(path);
    }
    closedir(d);
}

/* One hfsync at a time works in a cache (syncs of one repo share it): this waits for the
 * others, then clears what a killed one left locked. */
static int lock_cache(lgit_remote *r)
{
    char *path = hfs_path_join(r->cache_dir, "hfsync.lock");
    int rc = 0;
    r->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    while (r->lock_fd >= 0 && flock(r->lock_fd, LOCK_EX) != 0 && errno == EINTR)
        ;
    if (r->lock_fd < 0)
        rc = hfs_error_set(HFS_ERROR, "cannot lock the git cache (%s): %s", path,
                           strerror(errno));
    else
        remove_stale_locks(r->cache_dir);
    free(path);
    return rc;
}

/* The CA certificates the HTTP client takes from the environment (hfs_hub_ca_env), for
 * libgit2's https too, so the git path trusts the same hubs as the HTTP path. Certificates
 * are verified either way. */
static int ca_from_env(void)
{
    const char *var, *file, *dir;
    hfs_hub_ca_env(&var, &file, &dir);
    if (!file && !dir)
        return 0;
    if (git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, file, dir) < 0)
        return hfs_error_set(HFS_EINVALID, "git cannot use the CA certificates at %s%s%s: %s",
                             file ? file : "", file && dir ? " and " : "", dir ? dir : "",
                             git_error_last() ? git_error_last()->message : "unknown error");
    return 0;
}

/* Pushes pack their objects without deltas. libgit2's delta search (a window of 10, chains
 * of 50, over every new blob) cost more CPU than it saved bytes on loopback or a fast link:
 * it only deltifies objects within the pack sent, and the regular files of a hub commit are
 * small. libgit2 takes its "no delta above this size" from pack.bigFileThreshold, which
 * libgit2 up to 1.7 reads from pack.deltaCacheSize instead (a bug); both are set, in the
 * cache's own config (the cache is hfsync's; the user's git config is not touched). */
static int push_without_deltas(lgit_remote *r)
{
    static const char *const keys[] = {"pack.bigFileThreshold", "pack.deltaCacheSize"};
    git_config *cfg = NULL;
    int rc = 0, err = git_repository_config(&cfg, r->repo);
    for (size_t i = 0; err == 0 && i < HFS_ARRAY_LEN(keys); i++) {
        int64_t v = 0;
        if (git_config_get_int64(&v, cfg, keys[i]) == 0 && v == 1)
            continue; /* set by an earlier run: the cache keeps it */
        git_error_clear();
        err = git_config_set_int64(cfg, keys[i], 1);
    }
    if (err < 0) {
        char *why = git_message();
        rc = hfs_error_set(HFS_ERROR, "cannot set the pack options of the git cache %s: %s",
                           r->cache_dir, why);
        free(why);
    }
    git_config_free(cfg);
    return rc;
}

int lgit_remote_open(lgit_remote **out, const lgit_remote_options *opts)
{
    lgit_remote *r = hfs_calloc(1, sizeof(*r));
    int rc = 0;
    *out = NULL;
    r->lock_fd = -1;
    git_libgit2_init(); /* counted: lgit_remote_free shuts it down */
    if ((rc = ca_from_env()) < 0)
        goto done;
    r->url = hfs_strdup(opts->url);
    r->token = opts->token && *opts->token ? hfs_strdup(opts->token) : NULL;
    r->token_source = hfs_strdup(opts->token_source ? opts->token_source : "no token");
    r->what = hfs_strdup(opts->what ? opts->what : opts->url);
    r->cache_dir = hfs_strdup(opts->cache_dir);

    if (git_repository_open_bare(&r->repo, r->cache_dir) == 0) {
        if ((rc = lock_cache(r)) == 0)
            rc = push_without_deltas(r);
        goto done;
    }
    git_error_clear();
    struct stat st;
    if (stat(r->cache_dir, &st) == 0 && !(S_ISDIR(st.st_mode))) {
        rc = hfs_error_set(HFS_ERROR, "the git cache %s is not a folder: remove it", r->cache_dir);
        goto done;
    }
    if ((rc = hfs_mkdir_p(r->cache_dir)) < 0)
        goto done;
    git_repository_init_options io;
    git_repository_init_options_init(&io, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
    io.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
    if (git_repository_init_ext(&r->repo, r->cache_dir, &io) < 0) {
        char *why = git_message();
        rc = hfs_error_set(HFS_ERROR,
                           "cannot open or create the git cache %s: %s (remove the folder to "
                           "start it afresh)",
                           r->cache_dir, why);
        free(why);
    } else if ((rc = lock_cache(r)) == 0) {
        rc = push_without_deltas(r);
    }
done:
    if (rc < 0)
        lgit_remote_free(r);
    else
        *out = r;
    return rc;
}

git_repository *lgit_remote_repo(const lgit_remote *r)
{
    return r->repo;
}

void lgit_remote_free(lgit_remote *r)
{
    if (!r)
        return;
    git_repository_free(r->repo);
    if (r->lock_fd >= 0)
        close(r->lock_fd); /* and with it the flock */
    if (r->token) {
        /* Not left in freed memory for a core dump to show. */
        memset(r->token, 0, strlen(r->token));
        free(r->token);
    }
    free(r->url);
    free(r->token_source);
    free(r->what);
    free(r->cache_dir);
    free(r->rejected);
    hfs_buf_free(&r->remote_says);
    free(r);
    git_libgit2_shutdown();
}

char *lgit_tracking_ref(const char *remote_ref)
{
    const char *rest = hfs_str_starts_with(remote_ref, "refs/") ? remote_ref + 5 : remote_ref;
    return hfs_sprintf("refs/hfsync/%s", rest);
}

/* ---- callbacks ------------------------------------------------------------------------------ */

/* The token is offered once per operation: a second request for credentials means the hub
 * refused it, and asking again would only loop. */
static int on_credentials(git_credential **out, const char *url, const char *user_from_url,
                          unsigned int allowed, void *payload)
{
    (void)url;
    (void)user_from_url;
    lgit_remote *r = payload;
    if (!(allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT)) {
        r->auth = AUTH_NO_BASIC;
        return GIT_EUSER;
    }
    if (!r->token) {
        r->auth = AUTH_NO_TOKEN;
        return GIT_EUSER;
    }
    if (r->auth_offers++ > 0) {
        r->auth = AUTH_REFUSED;
        return GIT_EUSER;
    }
    /* Any user name will do: the hub reads the token from the password. */
    return git_credential_userpass_plaintext_new(out, "hfsync", r->token);
}

static int on_sideband(const char *str, int len, void *payload)
{
    lgit_remote *r = payload;
    if (len > 0 && r->remote_says.len < REMOTE_SAYS_MAX)
        hfs_buf_add(&r->remote_says, str, (size_t)len);
    return 0;
}

static int on_push_status(const char *refname, const char *status, void *payload)
{
    lgit_remote *r = payload;
    if (status && !r->rejected)
        r->rejected = hfs_sprintf("%s: %s", refname, status);
    return 0;
}

static git_remote_callbacks callbacks_for(lgit_remote *r)
{
    git_remote_callbacks cb;
    git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
    cb.credentials = on_credentials;
    cb.sideband_progress = on_sideband;
    cb.push_update_reference = on_push_status;
    cb.payload = r;
    return cb;
}

/* The hub's own lines, one per line, without progress noise: "remote: " prefixes and
 * carriage-return redraws dropped. Caller frees. */
static char *hub_words(const lgit_remote *r)
{
    hfs_buf out = HFS_BUF_INIT;
    const char *p = r->remote_says.ptr ? r->remote_says.ptr : "";
    while (*p) {
        size_t n = strcspn(p, "\r\n");
        const char *line = p;
        size_t len = n;
        if (len >= 7 && strncmp(line, "remote:", 7) == 0) {
            line += 7;
            len -= 7;
        }
        while (len > 0 && (*line == ' ' || *line == '\t')) {
            line++;
            len--;
        }
        bool progress = p[n] == '\r';
        if (len > 0 && !progress) {
            if (out.len)
                hfs_buf_puts(&out, "\n  ");
            hfs_buf_add(&out, line, len);
        }
        p += n;
        if (*p)
            p++;
    }
    return hfs_buf_detach(&out);
}

/* An error of libgit2's transport as one of ours, naming the remote and what was done. */
static int transport_fail(lgit_remote *r, int err, const char *doing)
{
    char *why = git_message();
    char *said = hub_words(r);
    int rc;
    switch (r->auth) {
    case AUTH_NO_TOKEN:
        rc = hfs_error_set(HFS_EAUTH,
                           "cannot %s %s over git: the hub asks for credentials and there is no "
                           "token (set HF_TOKEN, or log in so the token file exists)",
                           doing, r->what);
        goto done;
    case AUTH_REFUSED:
        rc = hfs_error_set(HFS_EAUTH,
                           "cannot %s %s over git: the hub refused the token from %s (401): check "
                           "that it is valid and has access to the repo",
                           doing, r->what, r->token_source);
        goto done;
    case AUTH_NO_BASIC:
        rc = hfs_error_set(HFS_EAUTH,
                           "cannot %s %s over git: the hub asks for credentials other than a "
                           "user name and password, which is how the token is sent",
                           doing, r->what);
        goto done;
    case AUTH_OK:
        break;
    }
    if (err == GIT_ENONFASTFORWARD)
        rc = hfs_error_set(HFS_ESTALE,
                           "plan is stale: %s moved while it was being applied (%s); run "
                           "`hfsync plan` again",
                           r->what, why);
    else if (strstr(why, "status code: 403"))
        rc = hfs_error_set(HFS_EAUTH,
                           "cannot %s %s over git: the hub answered 403: the token from %s may "
                           "read but not write this repo (use a token with write access)",
                           doing, r->what, r->token_source);
    else if (strstr(why, "status code: 401"))
        rc = hfs_error_set(HFS_EAUTH,
                           "cannot %s %s over git: the hub answered 401 to the token from %s",
                           doing, r->what, r->token_source);
    else if (strstr(why, "status code: 404"))
        rc = hfs_error_set(HFS_ENOTFOUND, "cannot %s %s over git: the hub has no such repo (%s)",
                           doing, r->what, r->url);
    else if (strstr(why, "failed to connect") || strstr(why, "failed to resolve") ||
             strstr(why, "timed out") || strstr(why, "connection"))
        rc = hfs_error_set(HFS_ENET, "cannot %s %s over git: %s (%s)", doing, r->what, why, r->url);
    else
        rc = hfs_error_set(HFS_ERROR, "cannot %s %s over git: %s%s%s", doing, r->what, why,
                           *said ? "; the hub said:\n  " : "", said);
done:
    free(said);
    free(why);
    return rc;
}

/* The remote, in memory only (no name: nothing goes to the cache's config). The user's
 * url.*.insteadOf rules are not applied: the URL is the endpoint's own, the one place the
 * token may go (and libgit2 1.5 leaks a regex match per config entry when it applies them). */
static int remote_new(git_remote **out, lgit_remote *r)
{
    git_remote_create_options co;
    git_remote_create_options_init(&co, GIT_REMOTE_CREATE_OPTIONS_VERSION);
    co.repository = r->repo;
    co.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
    return git_remote_create_with_opts(out, r->url, &co);
}

/* ---- fetch ---------------------------------------------------------------------------------- */

int lgit_remote_fetch(git_oid *out, lgit_remote *r, const char *remote_ref)
{
    git_remote *remote = NULL;
    char *tracking = lgit_tracking_ref(remote_ref);
    char *spec = hfs_sprintf("+%s:%s", remote_ref, tracking);
    char *doing = hfs_sprintf("fetch %s of", remote_ref);
    int rc = 0, err;
    clear_operation(r);

    if (remote_new(&remote, r) < 0) {
        rc = transport_fail(r, -1, doing);
        goto done;
    }
    git_fetch_options fo;
    git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
    fo.callbacks = callbacks_for(r);
    fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
    fo.update_fetchhead = 0;
    fo.prune = GIT_FETCH_NO_PRUNE;
    fo.proxy_opts.type = GIT_PROXY_AUTO;
    /* libgit2 follows an off-site redirect of the first request by default, and would then
     * answer the other host's credential challenge with the token. */
    fo.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
    git_strarray specs = {&spec, 1};
    if ((err = git_remote_fetch(remote, &specs, &fo, NULL)) < 0) {
        rc = transport_fail(r, err, doing);
        goto done;
    }
    /* What the hub advertised is the truth: a ref it no longer has must not be answered
     * from an old tracking ref. */
    const git_remote_head **heads = NULL;
    size_t n_heads = 0;
    bool found = false;
    if (git_remote_ls(&heads, &n_heads, remote) < 0) {
        rc = transport_fail(r, -1, doing);
        goto done;
    }
    for (size_t i = 0; i < n_heads && !found; i++)
        if (strcmp(heads[i]->name, remote_ref) == 0) {
            git_oid_cpy(out, &heads[i]->oid);
            found = true;
        }
    if (!found) {
        git_reference *stale = NULL;
        if (git_reference_lookup(&stale, r->repo, tracking) == 0)
            git_reference_delete(stale);
        git_reference_free(stale);
        git_error_clear();
        rc = hfs_error_set(HFS_ENOTFOUND, "%s has no %s (the hub's refs: %zu)", r->what, remote_ref,
                           n_heads);
        goto done;
    }
    git_commit *commit = NULL;
    if (git_commit_lookup(&commit, r->repo, out) < 0) {
        char *why = git_message();
        rc = hfs_error_set(HFS_ERROR, "the fetch of %s from %s did not bring its commit: %s",
                           remote_ref, r->what, why);
        free(why);
    }
    git_commit_free(commit);
done:
    git_remote_free(remote);
    free(doing);
    free(spec);
    free(tracking);
    return rc;
}

/* ---- push ----------------------------------------------------------------------------------- */

static int set_ref(git_repository *repo, const char *name, const git_oid *oid)
{
    git_reference *ref = NULL;
    int rc = 0;
    if (git_reference_create(&ref, repo, name, oid, 1, NULL) < 0) {
        char *why = git_message();
        rc = hfs_error_set(HFS_ERROR, "cannot set %s in the git cache: %s", name, why);
        free(why);
    }
    git_reference_free(ref);
    return rc;
}

/* Is the push status one of git's "the ref moved" answers? */
static bool moved_status(const char *status)
{
    return strstr(status, "non-fast-forward") || strstr(status, "fetch first") ||
           strstr(status, "stale info") || strstr(status, "failed to lock");
}

int lgit_remote_push(lgit_remote *r, const git_oid *commit, const char *remote_ref)
{
    git_remote *remote = NULL;
    char *spec = hfs_sprintf(OUTGOING_REF ":%s", remote_ref);
    char *doing = hfs_sprintf("push to %s of", remote_ref);
    char *tracking = NULL;
    int rc = 0, err;
    clear_operation(r);

    if ((rc = set_ref(r->repo, OUTGOING_REF, commit)) < 0)
        goto done;
    if (remote_new(&remote, r) < 0) {
        rc = transport_fail(r, -1, doing);
        goto done;
    }
    git_push_options po;
    git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
    po.callbacks = callbacks_for(r);
    po.pb_parallelism = 0; /* one packing thread per core */
    po.proxy_opts.type = GIT_PROXY_AUTO;
    po.follow_redirects = GIT_REMOTE_REDIRECT_NONE; /* as for the fetch: the token stays home */
    git_strarray specs = {&spec, 1};
    err = git_remote_push(remote, &specs, &po);
    if (err < 0) {
        rc = transport_fail(r, err, doing);
        goto done;
    }
    if (r->rejected) {
        char *said = hub_words(r);
        if (moved_status(r->rejected))
            rc = hfs_error_set(HFS_ESTALE,
                               "plan is stale: %s moved while it was being applied (the hub "
                               "answered %s); run `hfsync plan` again",
                               r->what, r->rejected);
        else
            rc = hfs_error_set(HFS_EINVALID,
                               "the hub refused the push to %s of %s (%s); nothing changed "
                               "there%s%s",
                               remote_ref, r->what, r->rejected, *said ? ". The hub said:\n  " : "",
                               said);
        free(said);
        goto done;
    }
    tracking = lgit_tracking_ref(remote_ref);
    rc = set_ref(r->repo, tracking, commit);
done:
    if (r->repo) {
        git_reference *out = NULL;
        if (git_reference_lookup(&out, r->repo, OUTGOING_REF) == 0)
            git_reference_delete(out);
        git_reference_free(out);
        git_error_clear();
    }
    git_remote_free(remote);
    free(tracking);
    free(doing);
    free(spec);
    return rc;
}
