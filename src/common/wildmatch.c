/* git's wildmatch (with WM_PATHNAME, case-sensitive) translated once into a byte-mode PCRE2
 * regex, with fast paths for the literal and `*literal` patterns most ignore files hold. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "common/wildmatch.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/util.h"

typedef enum {
    WM_NEVER,   /* malformed in git's eyes (unclosed class, trailing `\`): matches nothing */
    WM_LITERAL, /* no special character: plain comparison */
    WM_SUFFIX,  /* `*` + literal: the text ends with the literal and has no `/` before it */
    WM_REGEX,
} wm_kind;

struct hfs_wildmatch {
    wm_kind kind;
    char *literal;
    size_t literal_len;
    pcre2_code *re;
};

static bool is_glob_special(unsigned char c)
{
    return c == '*' || c == '?' || c == '[' || c == '\\';
}

static bool has_glob_special(const char *s)
{
    for (; *s; s++)
        if (is_glob_special((unsigned char)*s))
            return true;
    return false;
}

/* One byte as a regex literal. PCRE2 runs in byte mode, so \x{hh} is exactly that byte. */
static void put_literal(hfs_buf *re, unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        hfs_buf_putc(re, (char)c);
    else
        hfs_buf_printf(re, "\\x{%02x}", c);
}

/* git's character classes are ASCII-only (its own ctype table; \v and \f are not space). */
static bool named_class(bool set[256], const char *name, size_t len)
{
    static const char *const names[] = {"alnum", "alpha", "blank", "cntrl", "digit", "graph",
                                        "lower", "print", "punct", "space", "upper", "xdigit"};
    size_t which = HFS_ARRAY_LEN(names);
    for (size_t i = 0; i < HFS_ARRAY_LEN(names); i++)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
            which = i;
    if (which == HFS_ARRAY_LEN(names))
        return false;
    for (int c = 0; c < 128; c++) {
        bool upper = c >= 'A' && c <= 'Z', lower = c >= 'a' && c <= 'z';
        bool digit = c >= '0' && c <= '9', graph = c >= 33 && c <= 126;
        bool in = false;
        switch (which) {
        case 0:
            in = upper || lower || digit;
            break;
        case 1:
            in = upper || lower;
            break;
        case 2:
            in = c == ' ' || c == '\t';
            break;
        case 3:
            in = c < 32 || c == 127;
            break;
        case 4:
            in = digit;
            break;
        case 5:
            in = graph;
            break;
        case 6:
            in = lower;
            break;
        case 7:
            in = c >= 32 && c <= 126;
            break;
        case 8:
            in = graph && !(upper || lower || digit);
            break;
        case 9:
            in = c == ' ' || c == '\t' || c == '\n' || c == '\r';
            break;
        case 10:
            in = upper;
            break;
        case 11:
            in = digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
            break;
        }
        if (in)
            set[c] = true;
    }
    return true;
}

/* Parses the class starting at p[*i] == '[' exactly as git's dowild() reads it (a `]` first
 * is a member, `-` ranges, `\` escapes, `[:name:]`), leaving *i after the closing `]`.
 * Returns false when git would abort the whole match (unclosed or unknown class). */
static bool parse_class(bool set[256], bool *negated, const unsigned char *p, size_t *i)
{
    size_t j = *i + 1;
    unsigned char p_ch = p[j], prev = 0;
    *negated = false;
    if (p_ch == '!' || p_ch == '^') {
        *negated = true;
        p_ch = p[++j];
    }
    do {
        if (!p_ch)
            return false;
        if (p_ch == '\\') {
            p_ch = p[++j];
            if (!p_ch)
                return false;
            set[p_ch] = true;
        } else if (p_ch == '-' && prev && p[j + 1] && p[j + 1] != ']') {
            p_ch = p[++j];
            if (p_ch == '\\') {
                p_ch = p[++j];
                if (!p_ch)
                    return false;
            }
            for (unsigned c = prev; c <= p_ch; c++)
                set[c] = true;
            p_ch = 0; /* a range cannot start another range */
        } else if (p_ch == '[' && p[j + 1] == ':') {
            size_t s = j + 2, k = s;
            while (p[k] && p[k] != ']')
                k++;
            if (!p[k])
                return false;
            if (k == s || p[k - 1] != ':') {
                /* No ":]": the `[` is an ordinary member and reading resumes after it. */
                set['['] = true;
                p_ch = '[';
                goto next;
            }
            if (!named_class(set, (const char *)p + s, k - s - 1))
                return false;
            j = k;
            p_ch = 0;
        } else {
            set[p_ch] = true;
        }
    next:
        prev = p_ch;
    } while ((p_ch = p[++j]) != ']');
    *i = j + 1;
    return true;
}

/* Emits the class as a regex: never `/` (WM_PATHNAME), bytes as \x{hh}, runs as ranges.
 * Returns false for a class that can match nothing. */
static bool put_class(hfs_buf *re, const bool set[256], bool negated)
{
    bool any = false;
    hfs_buf_putc(re, '[');
    for (int c = 1; c < 256;) {
        bool in = (set[c] != negated) && c != '/';
        if (!in) {
            c++;
            continue;
        }
        int end = c;
        while (end + 1 < 256 && (set[end + 1] != negated) && end + 1 != '/')
            end++;
        if (end == c)
            hfs_buf_printf(re, "\\x{%02x}", c);
        else
            hfs_buf_printf(re, "\\x{%02x}-\\x{%02x}", c, end);
        any = true;
        c = end + 1;
    }
    hfs_buf_putc(re, ']');
    return any;
}

/* Translates to a regex; false when git would never match (see wm_kind WM_NEVER). */
static bool translate(hfs_buf *re, const char *pattern)
{
    const unsigned char *p = (const unsigned char *)pattern;
    size_t n = strlen(pattern), i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c == '\\') {
            if (i + 1 >= n)
                return false; /* a trailing `\` escapes nothing: git never matches */
            put_literal(re, p[i + 1]);
            i += 2;
        } else if (c == '?') {
            hfs_buf_puts(re, "[^/]");
            i++;
        } else if (c == '*') {
            size_t start = i;
            while (p[i] == '*')
                i++;
            /* `**` is special only as a whole segment; otherwise it is one `*`. */
            bool whole = i - start >= 2 && (start == 0 || p[start - 1] == '/') &&
                         (p[i] == '\0' || p[i] == '/' || (p[i] == '\\' && p[i + 1] == '/'));
            if (!whole) {
                hfs_buf_puts(re, "[^/]*");
            } else if (p[i] == '/') {
                hfs_buf_puts(re, "(?:.*/)?"); /* zero or more whole directories */
                i++;
            } else {
                hfs_buf_puts(re, ".*");
            }
        } else if (c == '[') {
            bool set[256] = {false}, negated;
            if (!parse_class(set, &negated, p, &i))
                return false;
            if (!put_class(re, set, negated))
                return false;
        } else {
            put_literal(re, c);
            i++;
        }
    }
    return true;
}

int hfs_wildmatch_compile(hfs_wildmatch **out, const char *pattern)
{
    int rc = 0;
    hfs_buf re = HFS_BUF_INIT;
    hfs_wildmatch *wm = hfs_calloc(1, sizeof(*wm));
    *out = NULL;
    if (!has_glob_special(pattern)) {
        wm->kind = WM_LITERAL;
        wm->literal = hfs_strdup(pattern);
        wm->literal_len = strlen(pattern);
    } else if (pattern[0] == '*' && pattern[1] != '*' && !has_glob_special(pattern + 1)) {
        wm->kind = WM_SUFFIX;
        wm->literal = hfs_strdup(pattern + 1);
        wm->literal_len = strlen(pattern + 1);
    } else if (!translate(&re, pattern)) {
        wm->kind = WM_NEVER;
    } else {
        int err;
        PCRE2_SIZE off;
        wm->kind = WM_REGEX;
        /* Byte mode (no PCRE2_UTF): git matches bytes, so `?` is one byte of a UTF-8 name. */
        wm->re = pcre2_compile((PCRE2_SPTR)re.ptr, re.len,
                               PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOTALL, &err, &off, NULL);
        if (!wm->re) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof(msg));
            rc = hfs_error_set(HFS_EINVALID, "pattern \"%s\" does not compile: %s", pattern,
                               (char *)msg);
            goto done;
        }
        pcre2_jit_compile(wm->re,
                          PCRE2_JIT_COMPLETE); /* best effort: falls back to the interpreter */
    }
    *out = wm;
    wm = NULL;
done:
    hfs_wildmatch_free(wm);
    hfs_buf_free(&re);
    return rc;
}

bool hfs_wildmatch_match(const hfs_wildmatch *wm, const char *text)
{
    size_t len = strlen(text);
    switch (wm->kind) {
    case WM_NEVER:
        return false;
    case WM_LITERAL:
        return len == wm->literal_len && memcmp(text, wm->literal, len) == 0;
    case WM_SUFFIX:
        return len >= wm->literal_len &&
               memcmp(text + len - wm->literal_len, wm->literal, wm->literal_len) == 0 &&
               !memchr(text, '/', len - wm->literal_len);
    case WM_REGEX:
        break;
    }
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md)
        abort(); /* out of memory, as hfs_malloc would */
    int r = pcre2_match(wm->re, (PCRE2_SPTR)text, len, 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return r >= 0;
}

void hfs_wildmatch_free(hfs_wildmatch *wm)
{
    if (!wm)
        return;
    free(wm->literal);
    pcre2_code_free(wm->re);
    free(wm);
}
