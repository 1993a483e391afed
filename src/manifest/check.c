/* Value checks shared by the manifest and the command line: sizes, durations, repo ids,
 * paths in the repo, revisions and endpoints, each with a message that says what to write. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <curl/curl.h>
#include <git2.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/hash.h"
#include "common/util.h"
#include "hfsync/manifest.h"

const char *hfs_repo_type_name(hfs_repo_type t)
{
    switch (t) {
    case HFS_REPO_DATASET:
        return "dataset";
    case HFS_REPO_SPACE:
        return "space";
    default:
        return "model";
    }
}

const char *hfs_commit_strategy_name(hfs_commit_strategy s)
{
    switch (s) {
    case HFS_STRATEGY_MULTI:
        return "multi";
    case HFS_STRATEGY_LARGE:
        return "large";
    default:
        return "single";
    }
}

const char *hfs_transport_name(hfs_transport t)
{
    return t == HFS_TRANSPORT_GIT ? "git" : "http";
}

const char *hfs_pack_format_name(hfs_pack_format f)
{
    (void)f;
    return "zip";
}

typedef struct {
    const char *name;
    uint64_t factor;
} unit;

/* Matches `text` against an anchored regex and returns the captures as offsets (ovector of
 * 2 * n entries; an unset group has PCRE2_UNSET). */
static bool match_groups(const char *re_src, const char *text, PCRE2_SIZE *ov, size_t n)
{
    int err;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)re_src, PCRE2_ZERO_TERMINATED,
                                   PCRE2_ANCHORED | PCRE2_ENDANCHORED, &err, &off, NULL);
    pcre2_match_data *md = pcre2_match_data_create((uint32_t)n, NULL);
    int rc = pcre2_match(re, (PCRE2_SPTR)text, strlen(text), 0, 0, md, NULL);
    if (rc > 0)
        memcpy(ov, pcre2_get_ovector_pointer(md), 2 * n * sizeof(*ov));
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return rc > 0;
}

/* Parses "<digits>[.<digits>] [unit]" exactly (integer arithmetic: no float rounding), in
 * multiples of the unit's factor. Returns 0, or 1 for "not whole", 2 for "too large",
 * 3 for "not that shape". */
static int parse_quantity(uint64_t *out, const char *text, const char *re_src, const unit *units,
                          size_t n_units)
{
    PCRE2_SIZE ov[8];
    if (!match_groups(re_src, text, ov, 4))
        return 3;
    uint64_t factor = units[0].factor;
    if (ov[6] != PCRE2_UNSET) {
        size_t ulen = ov[7] - ov[6];
        for (size_t i = 0; i < n_units; i++)
            if (strlen(units[i].name) == ulen && strncmp(units[i].name, text + ov[6], ulen) == 0)
                factor = units[i].factor;
    }
    uint64_t whole = 0;
    for (PCRE2_SIZE i = ov[2]; i < ov[3]; i++)
        if (__builtin_mul_overflow(whole, 10, &whole) ||
            __builtin_add_overflow(whole, (uint64_t)(text[i] - '0'), &whole))
            return 2;
    if (__builtin_mul_overflow(whole, factor, &whole))
        return 2;
    if (ov[4] != PCRE2_UNSET) {
        /* fraction * factor must come out whole: digits * factor / 10^k */
        uint64_t digits = 0, scale = 1;
        if (ov[5] - ov[4] > 18)
            return 1;
        for (PCRE2_SIZE i = ov[4]; i < ov[5]; i++) {
            digits = digits * 10 + (uint64_t)(text[i] - '0');
            scale *= 10;
        }
        uint64_t part;
        if (__builtin_mul_overflow(digits, factor, &part))
            return 2;
        if (part % scale != 0)
            return 1;
        if (__builtin_add_overflow(whole, part / scale, &whole))
            return 2;
    }
    *out = whole;
    return 0;
}

static const unit size_units[] = {
    {"B", 1},
    {"kB", 1000ULL},
    {"KB", 1000ULL},
    {"MB", 1000ULL * 1000},
    {"GB", 1000ULL * 1000 * 1000},
    {"TB", 1000ULL * 1000 * 1000 * 1000},
    {"KiB", 1ULL << 10},
    {"MiB", 1ULL << 20},
    {"GiB", 1ULL << 30},
    {"TiB", 1ULL << 40},
};

int hfs_size_parse(uint64_t *out, const char *text)
{
    uint64_t v = 0;
    int r =
        parse_quantity(&v, text, "([0-9]+)(?:\\.([0-9]+))?[ ]?(B|kB|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?",
                       size_units, HFS_ARRAY_LEN(size_units));
    if (r == 3)
        return hfs_error_set(HFS_EINVALID,
                             "expected a size like 500MB, 1.5GiB or a number of bytes (units B, "
                             "KB, MB, GB, TB, KiB, MiB, GiB, TiB); got \"%s\"",
                             text);
    if (r == 2)
        return hfs_error_set(HFS_EINVALID, "size \"%s\" is too large", text);
    if (r == 1)
        return hfs_error_set(HFS_EINVALID, "size \"%s\" is not a whole number of bytes", text);
    if (v == 0)
        return hfs_error_set(HFS_EINVALID, "expected a size above 0; got \"%s\"", text);
    *out = v;
    return 0;
}

static const unit duration_units[] = {{"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};

int hfs_duration_parse(uint64_t *out, const char *text)
{
    uint64_t v = 0;
    int r = parse_quantity(&v, text, "([0-9]+)(?:\\.([0-9]+))?[ ]?(s|m|h|d)?", duration_units,
                           HFS_ARRAY_LEN(duration_units));
    if (r == 3)
        return hfs_error_set(HFS_EINVALID,
                             "expected a duration like 90s, 10m, 1h, 1d or a number of seconds; "
                             "got \"%s\"",
                             text);
    if (r == 2)
        return hfs_error_set(HFS_EINVALID, "duration \"%s\" is too long", text);
    if (r == 1)
        return hfs_error_set(HFS_EINVALID, "duration \"%s\" is not a whole number of seconds",
                             text);
    if (v == 0)
        return hfs_error_set(HFS_EINVALID, "expected a duration above 0; got \"%s\"", text);
    *out = v;
    return 0;
}

static bool is_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* One part of a repo id (namespace or name). */
static int check_repo_part(const char *id, const char *part, size_t len, const char *what)
{
    if (len == 0)
        return hfs_error_set(HFS_EINVALID, "repo id \"%s\" has an empty %s", id, what);
    for (size_t i = 0; i < len; i++) {
        char c = part[i];
        if (!is_word(c) && c != '-' && c != '.') {
            /* Show the whole character, also when it is a multi-byte UTF-8 one. */
            size_t clen = 1;
            while (i + clen < len && ((unsigned char)part[i + clen] & 0xC0) == 0x80)
                clen++;
            return hfs_error_set(HFS_EINVALID,
                                 "repo id \"%s\" has '%.*s'; only letters, digits, '-', '_' and "
                                 "'.' are allowed",
                                 id, (int)clen, part + i);
        }
    }
    if (!is_word(part[0]) || !is_word(part[len - 1]))
        return hfs_error_set(HFS_EINVALID,
                             "repo id \"%s\": the %s must start and end with a letter, digit or "
                             "'_'",
                             id, what);
    return 0;
}

int hfs_repo_id_validate(const char *id)
{
    const char *slash = strchr(id, '/');
    if (!slash) {
        return hfs_error_set(HFS_EINVALID,
                             "expected a repo id \"namespace/name\"; got \"%s\" (add the user or "
                             "organisation, e.g. \"alice/%s\")",
                             id, id);
    }
    if (strchr(slash + 1, '/')) {
        static const char *const prefixes[][2] = {
            {"datasets/", "dataset"}, {"spaces/", "space"}, {"models/", "model"}};
        for (size_t i = 0; i < HFS_ARRAY_LEN(prefixes); i++)
            if (hfs_str_starts_with(id, prefixes[i][0]))
                return hfs_error_set(HFS_EINVALID,
                                     "expected a repo id \"namespace/name\"; got \"%s\" (drop "
                                     "the \"%s\" prefix and set repo_type: %s)",
                                     id, prefixes[i][0], prefixes[i][1]);
        return hfs_error_set(HFS_EINVALID,
                             "expected a repo id \"namespace/name\" with one '/'; got \"%s\"", id);
    }
    int rc = check_repo_part(id, id, (size_t)(slash - id), "namespace");
    if (rc == 0)
        rc = check_repo_part(id, slash + 1, strlen(slash + 1), "name");
    if (rc)
        return rc;
    if (strlen(slash + 1) > 96)
        return hfs_error_set(HFS_EINVALID,
                             "repo id \"%s\": the name has %zu characters; at most 96 are allowed",
                             id, strlen(slash + 1));
    if (strstr(id, "--") || strstr(id, ".."))
        return hfs_error_set(HFS_EINVALID, "repo id \"%s\" must not contain \"--\" or \"..\"", id);
    if (hfs_str_ends_with(id, ".git"))
        return hfs_error_set(HFS_EINVALID, "repo id \"%s\" must not end with \".git\"", id);
    return 0;
}

int hfs_path_in_repo_normalize(char **out, const char *path)
{
    *out = NULL;
    if (path[0] == '/')
        return hfs_error_set(HFS_EINVALID,
                             "path \"%s\" starts with '/'; write it relative to the repo root, "
                             "e.g. \"%s\"",
                             path, path + strspn(path, "/"));
    const char *p = path;
    if (strcmp(p, ".") == 0)
        p = "";
    else if (hfs_str_starts_with(p, "./"))
        p += 2;
    size_t len = strlen(p);
    while (len > 0 && p[len - 1] == '/')
        len--;
    char *norm = hfs_strndup(p, len);
    int rc = 0;
    for (char *seg = norm; len > 0;) {
        char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n == 0)
            rc = hfs_error_set(HFS_EINVALID, "path \"%s\" has an empty segment (\"//\")", path);
        else if (n == 2 && strncmp(seg, "..", 2) == 0)
            rc = hfs_error_set(HFS_EINVALID,
                               "path \"%s\" has a \"..\" segment; a path in the repo cannot leave "
                               "the repo",
                               path);
        else if (n == 1 && seg[0] == '.')
            rc = hfs_error_set(HFS_EINVALID, "path \"%s\" has a \".\" segment; remove it", path);
        else if ((n == 4 && strncmp(seg, ".git", 4) == 0) ||
                 (n == 6 && strncmp(seg, ".cache", 6) == 0))
            rc = hfs_error_set(HFS_EINVALID,
                               "path \"%s\" has a \"%.*s\" segment; the hub refuses files under "
                               ".git/ and .cache/",
                               path, (int)n, seg);
        if (rc || !end)
            break;
        seg = end + 1;
    }
    if (rc) {
        free(norm);
        return rc;
    }
    *out = norm;
    return 0;
}

int hfs_revision_validate(const char *rev)
{
    if (!*rev)
        return hfs_error_set(HFS_EINVALID, "expected a branch name or refs/pr/N; got \"\"");
    if (strlen(rev) == 40 && hfs_is_hex(rev, 40))
        return hfs_error_set(HFS_EINVALID,
                             "revision \"%s\" is a commit id; hfsync commits to a branch or to "
                             "refs/pr/N",
                             rev);
    if (hfs_str_starts_with(rev, "refs/")) {
        const char *n = rev + strlen("refs/pr/");
        if (!hfs_str_starts_with(rev, "refs/pr/") || !*n || strspn(n, "0123456789") != strlen(n))
            return hfs_error_set(HFS_EINVALID,
                                 "revision \"%s\": the only refs/ revisions are refs/pr/N (a pull "
                                 "request); name a branch without refs/heads/",
                                 rev);
        return 0;
    }
    /* git's own ref-name rules (no "..", no spaces, no trailing ".lock", …), through libgit2. */
    char *ref = hfs_sprintf("refs/heads/%s", rev);
    int valid = 0;
    git_libgit2_init();
    int rc = git_reference_name_is_valid(&valid, ref);
    git_libgit2_shutdown();
    free(ref);
    if (rc < 0 || !valid)
        return hfs_error_set(HFS_EINVALID, "revision \"%s\" is not a valid git branch name", rev);
    return 0;
}

int hfs_endpoint_normalize(char **out, const char *url)
{
    int rc = 0;
    char *scheme = NULL, *host = NULL, *part = NULL;
    *out = NULL;
    CURLU *u = curl_url();
    if (!u)
        return hfs_error_set(HFS_ERROR, "out of memory");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        rc = hfs_error_set(HFS_EINVALID,
                           "expected an http:// or https:// URL like https://huggingface.co; got "
                           "\"%s\"",
                           url);
        goto done;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
        rc = hfs_error_set(HFS_EINVALID, "URL \"%s\" has no host", url);
        goto done;
    }
    if (curl_url_get(u, CURLUPART_USER, &part, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK) {
        rc = hfs_error_set(HFS_EINVALID,
                           "URL \"%s\" holds a user name or password; give a token through "
                           "HF_TOKEN instead",
                           url);
        goto done;
    }
    if (curl_url_get(u, CURLUPART_QUERY, &part, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK) {
        rc = hfs_error_set(HFS_EINVALID, "URL \"%s\" must not have a query or fragment", url);
        goto done;
    }
    size_t len = strlen(url);
    while (len > 0 && url[len - 1] == '/')
        len--;
    *out = hfs_strndup(url, len);
done:
    curl_free(part);
    curl_free(host);
    curl_free(scheme);
    curl_url_cleanup(u);
    return rc;
}
