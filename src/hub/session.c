/* A hub session: endpoint, token and policies fixed at creation, plus the curl share
 * handle that lets concurrent calls reuse connections. Immutable, hence thread-safe. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "hub/request.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init_once(void)
{
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *handle, curl_lock_data data, curl_lock_access access, void *ctx)
{
    (void)handle;
    (void)access;
    hfs_hub *hub = ctx;
    pthread_mutex_lock(&hub->locks[data]);
}

static void share_unlock(CURL *handle, curl_lock_data data, void *ctx)
{
    (void)handle;
    hfs_hub *hub = ctx;
    pthread_mutex_unlock(&hub->locks[data]);
}

static int resolve_token(hfs_hub *hub, const char *explicit_token)
{
    hfs_hub_token t = HFS_HUB_TOKEN_INIT;
    int rc = 0;
    if (explicit_token) {
        if (*explicit_token) {
            t.value = hfs_strdup(explicit_token);
            t.source = HFS_TOKEN_EXPLICIT;
        }
    } else if ((rc = hfs_hub_token_resolve(&t)) < 0) {
        goto done;
    }
    hub->token_source = hfs_hub_token_describe(&t);
    if (t.value) {
        hub->token = hfs_strdup(t.value);
        hub->auth_header = hfs_sprintf("Authorization: Bearer %s", t.value);
    }
done:
    hfs_hub_token_clear(&t);
    return rc;
}

/* libcurl reads no environment variable for its CA certificates (only the curl tool reads
 * CURL_CA_BUNDLE), so the ones Python clients honour are read here: CURL_CA_BUNDLE and
 * REQUESTS_CA_BUNDLE (requests), SSL_CERT_FILE and SSL_CERT_DIR (httpx, OpenSSL). A private
 * hub behind a company CA then works as it does with huggingface_hub. */
void hfs_hub_ca_env(const char **file_var, const char **file, const char **dir)
{
    static const char *const file_vars[] = {"CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE",
                                            "SSL_CERT_FILE"};
    *file_var = *file = NULL;
    for (size_t i = 0; i < HFS_ARRAY_LEN(file_vars) && !*file; i++) {
        const char *v = getenv(file_vars[i]);
        if (v && *v) {
            *file_var = file_vars[i];
            *file = v;
        }
    }
    *dir = getenv("SSL_CERT_DIR");
    if (*dir && !**dir)
        *dir = NULL;
}

static int ca_from_env(hfs_hub *hub)
{
    const char *var, *file, *dir;
    hfs_hub_ca_env(&var, &file, &dir);
    if (file) {
        if (access(file, R_OK) != 0)
            return hfs_error_set(HFS_EINVALID, "%s names %s, which cannot be read: %s", var,
                                 file, strerror(errno));
        hub->ca_file = hfs_strdup(file);
    }
    if (dir) {
        if (access(dir, R_OK | X_OK) != 0)
            return hfs_error_set(HFS_EINVALID, "SSL_CERT_DIR names %s, which cannot be read: %s",
                                 dir, strerror(errno));
        hub->ca_dir = hfs_strdup(dir);
    }
    return 0;
}

int hfs_hub_new(hfs_hub **out, const hfs_hub_options *opts)
{
    static const hfs_hub_options defaults = HFS_HUB_OPTIONS_INIT;
    int rc = 0;
    hfs_hub *hub = hfs_calloc(1, sizeof(*hub));

    *out = NULL;
    hub->opts = opts ? *opts : defaults;
    if (hub->opts.version != HFS_HUB_OPTIONS_VERSION) {
        rc = hfs_error_set(HFS_EINVALID, "hub options: version %d is not supported (expected %d)",
                           hub->opts.version, HFS_HUB_OPTIONS_VERSION);
        goto done;
    }
    if (hub->opts.max_attempts < 1)
        hub->opts.max_attempts = 1;
    /* HFSYNC_STALL_TIMEOUT=SECONDS overrides stall_timeout_ms: a user on a slow link can
     * wait longer, and the fault tests meet a hung hub (a commit that never answers) in
     * seconds instead of two minutes (curl averages the speed over ~5 s, so add that). */
    const char *stall = getenv("HFSYNC_STALL_TIMEOUT");
    if (stall && *stall) {
        char *end;
        errno = 0;
        long secs = strtol(stall, &end, 10);
        if (errno || *end || secs < 0 || secs > 86400) {
            rc = hfs_error_set(HFS_EINVALID,
                               "HFSYNC_STALL_TIMEOUT=\"%.40s\" is not a number of seconds "
                               "(0 to 86400; 0 waits forever)",
                               stall);
            goto done;
        }
        hub->opts.stall_timeout_ms = secs * 1000;
    }
    for (size_t i = 0; i < HFS_ARRAY_LEN(hub->locks); i++)
        pthread_mutex_init(&hub->locks[i], NULL);

    pthread_once(&curl_once, curl_init_once);
    if (curl_init_result != CURLE_OK) {
        rc = hfs_error_set(HFS_ERROR, "cannot initialise libcurl: %s",
                           curl_easy_strerror(curl_init_result));
        goto done;
    }
    if (hub->opts.endpoint) {
        /* An explicit endpoint wins over HF_ENDPOINT: pass it through the same checks. */
        size_t len = strlen(hub->opts.endpoint);
        while (len > 0 && hub->opts.endpoint[len - 1] == '/')
            len--;
        hub->endpoint = hfs_strndup(hub->opts.endpoint, len);
        hub->origin = hub_url_origin(hub->endpoint);
        if (!hub->origin || (!hfs_str_starts_with(hub->origin, "http://") &&
                             !hfs_str_starts_with(hub->origin, "https://"))) {
            rc = hfs_error_set(HFS_EINVALID,
                               "hub endpoint \"%s\" is not an http:// or https:// "
                               "URL with a host",
                               hub->opts.endpoint);
            goto done;
        }
    } else {
        if ((rc = hfs_hub_endpoint_resolve(&hub->endpoint, hub->opts.manifest_endpoint)) < 0)
            goto done;
        hub->origin = hub_url_origin(hub->endpoint);
    }
    /* A stale CA variable matters only to a hub spoken to over TLS. */
    if (hfs_str_starts_with(hub->origin, "https://") && (rc = ca_from_env(hub)) < 0)
        goto done;
    if ((rc = resolve_token(hub, hub->opts.token)) < 0)
        goto done;
    hub->user_agent = hub->opts.user_agent ? hfs_strdup(hub->opts.user_agent)
                                           : hfs_sprintf("hfsync/%s", hfs_version());
    /* The copies above own the strings; drop the borrowed pointers. */
    hub->opts.endpoint = hub->opts.manifest_endpoint = hub->opts.token = NULL;
    hub->opts.user_agent = NULL;

    hub->share = curl_share_init();
    if (!hub->share) {
        rc = hfs_error_set(HFS_ERROR, "cannot create a libcurl share handle (out of memory?)");
        goto done;
    }
    curl_share_setopt(hub->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(hub->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(hub->share, CURLSHOPT_USERDATA, hub);
    curl_share_setopt(hub->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(hub->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(hub->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    if (hub->opts.verbose)
        hub_log(hub, HFS_LOG_INFO, "hub %s, %s", hub->endpoint, hub->token_source);
    *out = hub;
    hub = NULL;
done:
    hfs_hub_free(hub);
    return rc;
}

void hfs_hub_free(hfs_hub *hub)
{
    if (!hub)
        return;
    if (hub->share)
        curl_share_cleanup(hub->share);
    for (size_t i = 0; i < HFS_ARRAY_LEN(hub->locks); i++)
        pthread_mutex_destroy(&hub->locks[i]);
    if (hub->token)
        memset(hub->token, 0, strlen(hub->token));
    if (hub->auth_header)
        memset(hub->auth_header, 0, strlen(hub->auth_header));
    free(hub->token);
    free(hub->auth_header);
    free(hub->token_source);
    free(hub->endpoint);
    free(hub->origin);
    free(hub->user_agent);
    free(hub->ca_file);
    free(hub->ca_dir);
    free(hub);
}

const char *hfs_hub_endpoint(const hfs_hub *hub)
{
    return hub->endpoint;
}

const char *hfs_hub_token_source(const hfs_hub *hub)
{
    return hub->token_source;
}

bool hfs_hub_has_token(const hfs_hub *hub)
{
    return hub->token != NULL;
}

/* Masks the token wherever it appears, so no log line can carry it. */
static void mask_token(const hfs_hub *hub, char *line)
{
    if (!hub->token)
        return;
    size_t n = strlen(hub->token);
    for (char *p = strstr(line, hub->token); p; p = strstr(p + n, hub->token))
        memset(p, '*', n);
}

void hub_log(const hfs_hub *hub, hfs_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *line = hfs_vsprintf(fmt, ap);
    va_end(ap);
    mask_token(hub, line);
    if (hub->opts.log)
        hub->opts.log(hub->opts.log_ctx, line);
    else
        hfs_log(level, "%s", line);
    free(line);
}
