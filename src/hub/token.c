/* Where hub requests go and which token they carry: HF_ENDPOINT and the token sources
 * in huggingface_hub's order of precedence (PROTOCOL.md §1). */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "hfsync/hub.h"

/* ~/… and $VAR / ${VAR} expanded as Python's expanduser + expandvars do: an unknown
 * variable is left as written. */
static char *expand_path(const char *in)
{
    hfs_buf b = HFS_BUF_INIT;
    const char *p = in;
    if (p[0] == '~' && (p[1] == '/' || p[1] == '\0')) {
        const char *home = getenv("HOME");
        if (!home || !*home) {
            struct passwd *pw = getpwuid(getuid());
            home = pw ? pw->pw_dir : "";
        }
        hfs_buf_puts(&b, home);
        p++;
    }
    while (*p) {
        if (*p != '$') {
            hfs_buf_putc(&b, *p++);
            continue;
        }
        const char *start = p + 1, *end;
        bool braced = *start == '{';
        if (braced)
            start++;
        end = start;
        while (isalnum((unsigned char)*end) || *end == '_')
            end++;
        if (end == start || (braced && *end != '}')) {
            hfs_buf_putc(&b, *p++);
            continue;
        }
        char *name = hfs_strndup(start, (size_t)(end - start));
        const char *value = getenv(name);
        free(name);
        const char *after = braced ? end + 1 : end;
        if (value)
            hfs_buf_puts(&b, value);
        else
            hfs_buf_add(&b, p, (size_t)(after - p));
        p = after;
    }
    return hfs_buf_detach(&b);
}

/* The token file: HF_TOKEN_PATH, else $HF_HOME/token, HF_HOME defaulting to
 * $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
static char *token_file_path(void)
{
    const char *explicit_path = getenv("HF_TOKEN_PATH");
    if (explicit_path && *explicit_path)
        return expand_path(explicit_path);
    char *home;
    const char *hf_home = getenv("HF_HOME");
    if (hf_home && *hf_home) {
        home = expand_path(hf_home);
    } else {
        const char *xdg = getenv("XDG_CACHE_HOME");
        char *cache = (xdg && *xdg) ? expand_path(xdg) : expand_path("~/.cache");
        home = hfs_path_join(cache, "huggingface");
        free(cache);
    }
    char *path = hfs_path_join(home, "token");
    free(home);
    return path;
}

/* Strips surrounding whitespace (CR and LF included); NULL when nothing is left. */
static char *clean_token(const char *raw, size_t len)
{
    while (len > 0 && isspace((unsigned char)raw[0])) {
        raw++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)raw[len - 1]))
        len--;
    return len ? hfs_strndup(raw, len) : NULL;
}

static bool env_truthy(const char *name)
{
    const char *v = getenv(name);
    if (!v)
        return false;
    return !strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
           !strcasecmp(v, "on");
}

/* A token file others can read hands them the account: say so (once per process, since
 * every hub session resolves the token), and go on as huggingface_hub does. */
static void warn_if_others_can_read(const char *path)
{
    static atomic_flag warned = ATOMIC_FLAG_INIT;
    struct stat st;
    if (stat(path, &st) != 0 || !(st.st_mode & (S_IRWXG | S_IRWXO)) ||
        atomic_flag_test_and_set(&warned))
        return;
    hfs_warn("the hub token file %s has mode %04o: %s can read it; run chmod 600 %s", path,
             (unsigned)(st.st_mode & 07777),
             (st.st_mode & S_IRWXO) ? "every user of this machine" : "its group", path);
}

int hfs_hub_token_resolve(hfs_hub_token *out)
{
    static const struct {
        const char *name;
        hfs_token_source source;
    } envs[] = {{"HF_TOKEN", HFS_TOKEN_ENV}, {"HUGGING_FACE_HUB_TOKEN", HFS_TOKEN_ENV_LEGACY}};
    int rc = 0;
    char *content = NULL;
    size_t len = 0;

    memset(out, 0, sizeof(*out));
    if (env_truthy("HF_HUB_DISABLE_IMPLICIT_TOKEN")) {
        out->implicit_disabled = 1;
        return 0;
    }
    for (size_t i = 0; i < HFS_ARRAY_LEN(envs); i++) {
        const char *v = getenv(envs[i].name);
        if (v && (out->value = clean_token(v, strlen(v)))) {
            out->source = envs[i].source;
            return 0;
        }
    }
    out->file = token_file_path();
    rc = hfs_read_file(&content, &len, out->file, 64 * 1024);
    if (rc == HFS_ENOTFOUND) {
        hfs_error_clear();
        rc = 0;
        goto done;
    }
    if (rc < 0) {
        rc = hfs_error_set(HFS_EAUTH,
                           "cannot read the hub token file %s: %s (fix its "
                           "permissions, or set HF_TOKEN)",
                           out->file, hfs_error_last());
        goto done;
    }
    if ((out->value = clean_token(content, len))) {
        out->source = HFS_TOKEN_FILE;
        warn_if_others_can_read(out->file);
    }
done:
    free(content);
    return rc;
}

void hfs_hub_token_clear(hfs_hub_token *token)
{
    if (!token)
        return;
    if (token->value) /* do not leave the secret lying in freed memory */
        memset(token->value, 0, strlen(token->value));
    free(token->value);
    free(token->file);
    memset(token, 0, sizeof(*token));
}

char *hfs_hub_token_describe(const hfs_hub_token *token)
{
    switch (token->source) {
    case HFS_TOKEN_EXPLICIT:
        return hfs_strdup("the token given explicitly");
    case HFS_TOKEN_ENV:
        return hfs_strdup("HF_TOKEN");
    case HFS_TOKEN_ENV_LEGACY:
        return hfs_strdup("HUGGING_FACE_HUB_TOKEN");
    case HFS_TOKEN_FILE:
        return hfs_sprintf("the token file %s", token->file);
    case HFS_TOKEN_NONE:
        break;
    }
    if (token->implicit_disabled)
        return hfs_strdup("no token (HF_HUB_DISABLE_IMPLICIT_TOKEN is set)");
    if (token->file)
        return hfs_sprintf("no token (HF_TOKEN is unset and %s does not exist or is empty)",
                           token->file);
    return hfs_strdup("no token");
}

int hfs_hub_endpoint_resolve(char **out, const char *configured)
{
    int rc = 0;
    const char *from = "HF_ENDPOINT", *value = getenv("HF_ENDPOINT");
    char *scheme = NULL, *host = NULL;
    CURLU *u = curl_url();

    *out = NULL;
    if (!value || !*value) {
        from = "the manifest's endpoint";
        value = configured;
    }
    if (!value || !*value) {
        from = "the default endpoint";
        value = HFS_HUB_DEFAULT_ENDPOINT;
    }
    size_t len = strlen(value);
    while (len > 0 && value[len - 1] == '/')
        len--;
    char *endpoint = hfs_strndup(value, len);
    if (!u || curl_url_set(u, CURLUPART_URL, endpoint, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
        rc = hfs_error_set(HFS_EINVALID,
                           "%s \"%s\" is not an http:// or https:// URL with a "
                           "host, e.g. https://huggingface.co",
                           from, value);
        free(endpoint);
        goto done;
    }
    *out = endpoint;
done:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}
