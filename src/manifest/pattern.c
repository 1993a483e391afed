/* Glob → PCRE2 translation with fnmatch semantics, as huggingface_hub matches patterns. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "manifest/pattern.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/util.h"

struct hfs_pattern_set {
    size_t count;
    pcre2_code *re;
};

static void add_escaped(hfs_buf *b, char c)
{
    if (strchr("\\^$.|?*+()[]{}", c) && c != '\0')
        hfs_buf_putc(b, '\\');
    hfs_buf_putc(b, c);
}

char *hfs_glob_to_regex(const char *glob)
{
    hfs_buf b = HFS_BUF_INIT;
    /* `\` is normalised to `/` and a trailing `/` means "everything below" (logs/ = logs/ + "*"). */
    char *g = hfs_strdup(glob);
    for (char *p = g; *p; p++)
        if (*p == '\\')
            *p = '/';
    size_t n = strlen(g);
    if (n > 0 && g[n - 1] == '/') {
        char *h = hfs_sprintf("%s*", g);
        free(g);
        g = h;
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        char c = g[i];
        if (c == '*') {
            while (i + 1 < n && g[i + 1] == '*')
                i++;
            hfs_buf_puts(&b, ".*");
        } else if (c == '?') {
            hfs_buf_putc(&b, '.');
        } else if (c == '[') {
            /* Find the closing bracket as fnmatch does: a `]` right after `[` or `[!` is literal. */
            size_t j = i + 1;
            if (j < n && g[j] == '!')
                j++;
            if (j < n && g[j] == ']')
                j++;
            while (j < n && g[j] != ']')
                j++;
            if (j >= n) {
                hfs_buf_puts(&b, "\\[");
                continue;
            }
            hfs_buf_putc(&b, '[');
            size_t k = i + 1;
            if (g[k] == '!') {
                hfs_buf_putc(&b, '^');
                k++;
            } else if (g[k] == '^') {
                hfs_buf_puts(&b, "\\^");
                k++;
            }
            for (; k < j; k++) {
                if (g[k] == '\\' || g[k] == '[' || (g[k] == ']' && k != i + 1))
                    hfs_buf_putc(&b, '\\');
                hfs_buf_putc(&b, g[k]);
            }
            hfs_buf_putc(&b, ']');
            i = j;
        } else {
            add_escaped(&b, c);
        }
    }
    free(g);
    return hfs_buf_detach(&b);
}

int hfs_pattern_set_compile(hfs_pattern_set **out, const char *const *patterns, size_t count,
                            size_t *bad_index)
{
    *out = NULL;
    hfs_buf all = HFS_BUF_INIT;
    int rc = 0;
    int err;
    PCRE2_SIZE off;
    hfs_buf_puts(&all, "\\A(?:");
    for (size_t i = 0; i < count; i++) {
        char *re = hfs_glob_to_regex(patterns[i]);
        /* Compile each alone first, so an error names the pattern that caused it. */
        pcre2_code *one = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
                                        PCRE2_DOTALL | PCRE2_UTF, &err, &off, NULL);
        if (!one) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof(msg));
            if (bad_index)
                *bad_index = i;
            rc = hfs_error_set(HFS_EINVALID, "pattern \"%s\" does not compile: %s", patterns[i],
                               (char *)msg);
            free(re);
            goto done;
        }
        pcre2_code_free(one);
        hfs_buf_printf(&all, "%s(?:%s)", i ? "|" : "", re);
        free(re);
    }
    hfs_buf_puts(&all, ")\\z");
    hfs_pattern_set *set = hfs_calloc(1, sizeof(*set));
    set->count = count;
    if (count > 0) {
        set->re = pcre2_compile((PCRE2_SPTR)all.ptr, PCRE2_ZERO_TERMINATED,
                                PCRE2_DOTALL | PCRE2_UTF, &err, &off, NULL);
        if (!set->re) {
            free(set);
            rc = hfs_error_set(HFS_EINVALID, "patterns do not compile together");
            goto done;
        }
        pcre2_jit_compile(set->re, PCRE2_JIT_COMPLETE); /* best effort: falls back to the interpreter */
    }
    *out = set;
done:
    hfs_buf_free(&all);
    return rc;
}

bool hfs_pattern_set_match(const hfs_pattern_set *set, const char *path)
{
    if (!set || set->count == 0)
        return false;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(set->re, NULL);
    int r = pcre2_match(set->re, (PCRE2_SPTR)path, strlen(path), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return r >= 0;
}

bool hfs_pattern_set_empty(const hfs_pattern_set *set)
{
    return !set || set->count == 0;
}

void hfs_pattern_set_free(hfs_pattern_set *set)
{
    if (!set)
        return;
    pcre2_code_free(set->re);
    free(set);
}

bool hfs_pattern_filter(const hfs_pattern_set *allow, const hfs_pattern_set *ignore,
                        const char *path)
{
    if (!hfs_pattern_set_empty(allow) && !hfs_pattern_set_match(allow, path))
        return false;
    return !hfs_pattern_set_match(ignore, path);
}
