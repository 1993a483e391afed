/* The local hub's URL grammar: raw path → endpoint, repo and decoded trailing segments. */
#include "hubd/route.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/util.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *hubd_url_decode(const char *s, size_t len, bool plus_is_space)
{
    char *out = hfs_malloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
            continue;
        }
        if (c == '\0') {
            free(out);
            return NULL;
        }
        out[o++] = (plus_is_space && c == '+') ? ' ' : c;
    }
    out[o] = '\0';
    return out;
}

char *hubd_url_encode(const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    hfs_buf b = HFS_BUF_INIT;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
            hfs_buf_putc(&b, (char)c);
        } else {
            hfs_buf_putc(&b, '%');
            hfs_buf_putc(&b, hex[c >> 4]);
            hfs_buf_putc(&b, hex[c & 15]);
        }
    }
    return hfs_buf_detach(&b);
}

const char *hubd_kind_name(hfs_repo_kind kind)
{
    return kind == HFS_REPO_DATASET ? "dataset" : kind == HFS_REPO_SPACE ? "space" : "model";
}

const char *hubd_kind_plural(hfs_repo_kind kind)
{
    return kind == HFS_REPO_DATASET ? "datasets" : kind == HFS_REPO_SPACE ? "spaces" : "models";
}

const char *hubd_kind_prefix(hfs_repo_kind kind)
{
    return kind == HFS_REPO_DATASET ? "datasets/" : kind == HFS_REPO_SPACE ? "spaces/" : "";
}

bool hubd_kind_parse(hfs_repo_kind *out, const char *name)
{
    if (!name || strcmp(name, "model") == 0)
        *out = HFS_REPO_MODEL;
    else if (strcmp(name, "dataset") == 0)
        *out = HFS_REPO_DATASET;
    else if (strcmp(name, "space") == 0)
        *out = HFS_REPO_SPACE;
    else
        return false;
    return true;
}

static bool kind_from_plural(hfs_repo_kind *out, const char *s)
{
    if (strcmp(s, "models") == 0)
        *out = HFS_REPO_MODEL;
    else if (strcmp(s, "datasets") == 0)
        *out = HFS_REPO_DATASET;
    else if (strcmp(s, "spaces") == 0)
        *out = HFS_REPO_SPACE;
    else
        return false;
    return true;
}

bool hubd_repo_part_valid(const char *part)
{
    size_t len = part ? strlen(part) : 0;
    if (len == 0 || len > 96)
        return false;
    for (const char *p = part; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.'))
            return false;
    if (strstr(part, "--") || strstr(part, "..") || hfs_str_ends_with(part, ".git"))
        return false;
    /* starts and ends with a word character, like huggingface_hub's REPO_ID_REGEX */
    char first = part[0], last = part[len - 1];
    return first != '-' && first != '.' && last != '-' && last != '.';
}

void hubd_route_clear(hubd_route *r)
{
    if (!r)
        return;
    free(r->ns);
    free(r->name);
    free(r->repo_id);
    for (size_t i = 0; i < r->n_rest; i++)
        free(r->rest[i]);
    free(r->rest);
    free(r->oid);
    memset(r, 0, sizeof(*r));
}

char *hubd_route_join(const hubd_route *r, size_t from, size_t to)
{
    hfs_buf b = HFS_BUF_INIT;
    for (size_t i = from; i < to && i < r->n_rest; i++) {
        if (i > from)
            hfs_buf_putc(&b, '/');
        hfs_buf_puts(&b, r->rest[i]);
    }
    return hfs_buf_detach(&b);
}

static void set_repo(hubd_route *r, hfs_repo_kind kind, const char *ns, const char *name)
{
    r->repo_kind = kind;
    r->ns = hfs_strdup(ns);
    r->name = hfs_strdup(name);
    r->repo_id = hfs_sprintf("%s/%s", ns, name);
}

static void set_rest(hubd_route *r, char **segs, size_t from, size_t n)
{
    r->n_rest = from < n ? n - from : 0;
    r->rest = hfs_calloc(r->n_rest + 1, sizeof(char *));
    for (size_t i = 0; i < r->n_rest; i++)
        r->rest[i] = hfs_strdup(segs[from + i]);
}

static void route_api(hubd_route *r, char **s, size_t n)
{
    if (n == 2 && strcmp(s[1], "whoami-v2") == 0) {
        r->kind = HUBD_R_WHOAMI;
        return;
    }
    if (n == 2 && strcmp(s[1], "validate-yaml") == 0) {
        r->kind = HUBD_R_VALIDATE_YAML;
        return;
    }
    if (n == 3 && strcmp(s[1], "repos") == 0) {
        if (strcmp(s[2], "create") == 0)
            r->kind = HUBD_R_REPO_CREATE;
        else if (strcmp(s[2], "delete") == 0)
            r->kind = HUBD_R_REPO_DELETE;
        return;
    }
    hfs_repo_kind kind;
    if (n < 4 || !kind_from_plural(&kind, s[1]))
        return;
    if (n == 4) {
        r->kind = HUBD_R_REPO_INFO;
    } else {
        static const struct {
            const char *word;
            hubd_route_kind kind;
            bool needs_rest;
        } words[] = {
            {"revision", HUBD_R_REPO_INFO, true}, {"refs", HUBD_R_REFS, false},
            {"commits", HUBD_R_COMMITS, true},    {"branch", HUBD_R_BRANCH, true},
            {"tree", HUBD_R_TREE, true},          {"paths-info", HUBD_R_PATHS_INFO, true},
            {"preupload", HUBD_R_PREUPLOAD, true}, {"commit", HUBD_R_COMMIT, true},
            {"super-squash", HUBD_R_SUPER_SQUASH, true}, {"tag", HUBD_R_TAG, true},
        };
        /* the list (no rest) as well as one discussion and its actions */
        if (strcmp(s[4], "discussions") == 0)
            r->kind = HUBD_R_DISCUSSIONS;
        for (size_t i = 0; i < HFS_ARRAY_LEN(words); i++) {
            if (strcmp(s[4], words[i].word) != 0)
                continue;
            if (words[i].needs_rest ? n < 6 : n != 5)
                return;
            r->kind = words[i].kind;
        }
        if (r->kind == HUBD_R_NONE)
            return;
    }
    set_repo(r, kind, s[2], s[3]);
    set_rest(r, s, 5, n);
}

/* /{prefix}{ns}/{name}.git/info/lfs/... and /{prefix}{ns}/{name}/{resolve,raw}/{rev}/{path} */
static bool route_repo_path(hubd_route *r, char **s, size_t n, size_t off, hfs_repo_kind kind)
{
    if (n < off + 3)
        return false;
    const char *ns = s[off], *name = s[off + 1];
    if (hfs_str_ends_with(name, ".git") && n >= off + 5 && strcmp(s[off + 2], "info") == 0 &&
        strcmp(s[off + 3], "lfs") == 0) {
        char *bare = hfs_strndup(name, strlen(name) - 4);
        if (n == off + 6 && strcmp(s[off + 4], "objects") == 0 && strcmp(s[off + 5], "batch") == 0)
            r->kind = HUBD_R_LFS_BATCH;
        else if (n == off + 6 && strcmp(s[off + 4], "objects") == 0 &&
                 strcmp(s[off + 5], "verify") == 0)
            r->kind = HUBD_R_LFS_VERIFY;
        else if (strcmp(s[off + 4], "locks") == 0)
            r->kind = HUBD_R_LFS_LOCKS;
        if (r->kind != HUBD_R_NONE)
            set_repo(r, kind, ns, bare);
        free(bare);
        return r->kind != HUBD_R_NONE;
    }
    /* git smart HTTP: /{prefix}{ns}/{name}[.git]/info/refs and .../git-{upload,receive}-pack */
    bool refs =
        n == off + 4 && strcmp(s[off + 2], "info") == 0 && strcmp(s[off + 3], "refs") == 0;
    if (refs || (n == off + 3 && (strcmp(s[off + 2], "git-upload-pack") == 0 ||
                                  strcmp(s[off + 2], "git-receive-pack") == 0))) {
        r->kind = refs ? HUBD_R_GIT_REFS : HUBD_R_GIT_RPC;
        size_t len = strlen(name) - (hfs_str_ends_with(name, ".git") ? 4 : 0);
        char *bare = hfs_strndup(name, len);
        set_repo(r, kind, ns, bare);
        set_rest(r, s, off + 2, n);
        free(bare);
        return true;
    }
    if (n >= off + 5 && (strcmp(s[off + 2], "resolve") == 0 || strcmp(s[off + 2], "raw") == 0)) {
        r->kind = s[off + 2][1] == 'e' ? HUBD_R_RESOLVE : HUBD_R_RAW;
        set_repo(r, kind, ns, name);
        set_rest(r, s, off + 3, n);
        return true;
    }
    return false;
}

int hubd_route_parse(hubd_route *out, const char *raw_path)
{
    int rc = 0;
    memset(out, 0, sizeof(*out));
    char **segs = NULL;
    size_t n = 0, cap = 0;
    if (!raw_path || raw_path[0] != '/')
        return hfs_error_set(HFS_EINVALID, "request path '%.200s' does not start with '/'",
                             raw_path ? raw_path : "");
    const char *p = raw_path + 1;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        char *seg = hubd_url_decode(p, len, false);
        if (!seg) {
            rc = hfs_error_set(HFS_EINVALID,
                               "request path '%.200s' has a malformed %%-escape (or an encoded "
                               "NUL) in segment '%.*s'",
                               raw_path, (int)len, p);
            goto done;
        }
        HFS_PUSH(segs, n, cap, seg);
        if (!slash)
            break;
        p = slash + 1;
        if (!*p) /* a trailing '/' adds no segment */
            break;
    }
    if (n == 0)
        goto done;
    if (strcmp(segs[0], "api") == 0) {
        route_api(out, segs, n);
    } else if (n == 2 && (strcmp(segs[0], "lfs-upload") == 0 || strcmp(segs[0], "lfs-files") == 0)) {
        out->kind = segs[0][4] == 'u' ? HUBD_R_LFS_UPLOAD : HUBD_R_LFS_DOWNLOAD;
        out->oid = hfs_strdup(segs[1]);
    } else {
        hfs_repo_kind kind;
        bool prefixed = kind_from_plural(&kind, segs[0]) && kind != HFS_REPO_MODEL;
        if (!(prefixed && route_repo_path(out, segs, n, 1, kind)))
            route_repo_path(out, segs, n, 0, HFS_REPO_MODEL);
    }
done:
    for (size_t i = 0; i < n; i++)
        free(segs[i]);
    free(segs);
    if (rc < 0)
        hubd_route_clear(out);
    return rc;
}
