/* Hub URL building (repo prefixes, API paths, quoting) and URL inspection (origins for
 * the token rule, display forms without credentials, Link pagination headers). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hub/request.h"

const char *hfs_hub_type_prefix(hfs_repo_type type)
{
    switch (type) {
    case HFS_REPO_DATASET:
        return "datasets/";
    case HFS_REPO_SPACE:
        return "spaces/";
    case HFS_REPO_MODEL:
        break;
    }
    return "";
}

char *hfs_hub_quote_segment(const char *s)
{
    /* curl_easy_escape keeps exactly the RFC 3986 unreserved set, like Python's
     * quote(s, safe=""). */
    char *q = curl_easy_escape(NULL, s, (int)strlen(s));
    char *copy = hfs_strdup(q ? q : "");
    curl_free(q);
    return copy;
}

char *hfs_hub_quote_path(const char *s)
{
    hfs_buf b = HFS_BUF_INIT;
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t len = slash ? (size_t)(slash - s) : strlen(s);
        char *part = hfs_strndup(s, len);
        char *q = hfs_hub_quote_segment(part);
        hfs_buf_puts(&b, q);
        free(q);
        free(part);
        if (!slash)
            break;
        hfs_buf_putc(&b, '/');
        s = slash + 1;
    }
    return hfs_buf_detach(&b);
}

char *hfs_hub_api_url(const hfs_hub *hub, const hfs_hub_repo *repo)
{
    char *id = hfs_hub_quote_path(repo->id);
    char *url = hfs_sprintf("%s/api/%ss/%s", hub->endpoint, hfs_repo_type_name(repo->type), id);
    free(id);
    return url;
}

char *hub_repo_label(const hfs_hub_repo *repo)
{
    return hfs_sprintf("%s %s", hfs_repo_type_name(repo->type), repo->id);
}

char *hub_url_origin(const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *origin = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        origin = hfs_sprintf("%s://%s:%s", scheme, host, port);
        for (char *p = origin; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return origin;
}

/* Is this query parameter a credential (a signed URL's signature or token)? */
static bool secret_param(const char *key, size_t len)
{
    static const char *const names[] = {"sig",          "signature",   "x-amz-signature",
                                        "x-amz-credential", "x-amz-security-token", "token",
                                        "access_token"};
    for (size_t i = 0; i < HFS_ARRAY_LEN(names); i++)
        if (strlen(names[i]) == len && strncasecmp(key, names[i], len) == 0)
            return true;
    return false;
}

/* The query with every credential's value replaced by REDACTED (caller frees). */
static char *redact_query(const char *query)
{
    hfs_buf out = HFS_BUF_INIT;
    for (const char *p = query; *p;) {
        size_t n = strcspn(p, "&");
        size_t klen = strcspn(p, "=&");
        if (out.len)
            hfs_buf_add(&out, "&", 1);
        if (klen < n && secret_param(p, klen)) {
            hfs_buf_add(&out, p, klen);
            hfs_buf_add(&out, "=REDACTED", 9);
        } else {
            hfs_buf_add(&out, p, n);
        }
        p += n;
        if (*p == '&')
            p++;
    }
    return hfs_buf_detach(&out);
}

char *hub_url_display(const hfs_hub *hub, const char *url)
{
    CURLU *u = curl_url();
    char *shown = NULL, *result;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
        curl_url_set(u, CURLUPART_USER, NULL, 0);
        curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
        char *origin = hub_url_origin(url);
        char *query = NULL;
        if (!origin || strcmp(origin, hub->origin) != 0) {
            curl_url_set(u, CURLUPART_QUERY, NULL, 0);
        } else if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK && query) {
            /* the hub's own signed URLs (upload hrefs): their signature is a credential */
            char *safe = redact_query(query);
            curl_url_set(u, CURLUPART_QUERY, safe, 0);
            free(safe);
        }
        curl_free(query);
        free(origin);
        curl_url_get(u, CURLUPART_URL, &shown, 0);
    }
    /* A URL curl cannot parse is shown up to its query, which is where secrets go. */
    result = shown ? hfs_strdup(shown) : hfs_strndup(url, strcspn(url, "?"));
    curl_free(shown);
    curl_url_cleanup(u);
    return result;
}

char *hub_url_fix_endpoint(const hfs_hub *hub, const char *url)
{
    static const char *const hub_hosts[] = {"https://huggingface.co",
                                            "https://hub-ci.huggingface.co"};
    for (size_t i = 0; i < HFS_ARRAY_LEN(hub_hosts); i++) {
        size_t n = strlen(hub_hosts[i]);
        if (strncmp(url, hub_hosts[i], n) == 0 && (url[n] == '/' || url[n] == '\0'))
            return hfs_sprintf("%s%s", hub->endpoint, url + n);
    }
    return hfs_strdup(url);
}

char *hub_link_next(const char *link)
{
    /* Link: <url>; rel="next", <url2>; rel="prev"  (RFC 8288) */
    const char *p = link;
    while (p && *p) {
        const char *lt = strchr(p, '<');
        if (!lt)
            break;
        const char *gt = strchr(lt, '>');
        if (!gt)
            break;
        const char *end = strchr(gt, ',');
        size_t params_len = end ? (size_t)(end - gt) : strlen(gt);
        char *params = hfs_strndup(gt + 1, params_len ? params_len - 1 : 0);
        bool next = false;
        char *save = NULL;
        for (char *tok = strtok_r(params, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
            while (isspace((unsigned char)*tok))
                tok++;
            if (strncasecmp(tok, "rel", 3) != 0)
                continue;
            char *v = tok + 3;
            while (isspace((unsigned char)*v) || *v == '=')
                v++;
            if (*v == '"')
                v++;
            /* rel may list several space-separated relation types. */
            for (char *word = v; *word;) {
                size_t wl = strcspn(word, " \t\"");
                if (wl == 4 && strncasecmp(word, "next", 4) == 0)
                    next = true;
                word += wl;
                if (*word != ' ' && *word != '\t')
                    break;
                word++;
            }
        }
        free(params);
        if (next)
            return hfs_strndup(lt + 1, (size_t)(gt - lt - 1));
        p = end ? end + 1 : NULL;
    }
    return NULL;
}
