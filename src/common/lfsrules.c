/* The hub's LFS-or-regular decision: .gitattributes `filter` rules with git's attribute
 * semantics (last matching line wins), the 10 MiB size rule and the binary-sample rule. */
#include "common/lfsrules.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/util.h"
#include "common/wildmatch.h"

typedef struct {
    hfs_wildmatch *wm;
    bool basename; /* no '/' in the pattern: matched against the last path segment */
    bool lfs;      /* filter=lfs (true) or filter unset / set to something else (false) */
} lfs_rule;

struct hfs_lfsrules {
    lfs_rule *rules;
    size_t count, cap;
};

/* The hub's lists (PROTOCOL.md §14), one `filter=lfs` line per pattern. Datasets add packed,
 * audio, image and video formats; spaces get the model list, as on the hub. */
#define LFS_ATTRS " filter=lfs diff=lfs merge=lfs -text\n"
// clang-format off
#define MODEL_LINES \
    "*.7z" LFS_ATTRS \
    "*.arrow" LFS_ATTRS \
    "*.bin" LFS_ATTRS \
    "*.bz2" LFS_ATTRS \
    "*.ckpt" LFS_ATTRS \
    "*.ftz" LFS_ATTRS \
    "*.gz" LFS_ATTRS \
    "*.h5" LFS_ATTRS \
    "*.joblib" LFS_ATTRS \
    "*.lfs.*" LFS_ATTRS \
    "*.mlmodel" LFS_ATTRS \
    "*.model" LFS_ATTRS \
    "*.msgpack" LFS_ATTRS \
    "*.npy" LFS_ATTRS \
    "*.npz" LFS_ATTRS \
    "*.onnx" LFS_ATTRS \
    "*.ot" LFS_ATTRS \
    "*.parquet" LFS_ATTRS \
    "*.pb" LFS_ATTRS \
    "*.pickle" LFS_ATTRS \
    "*.pkl" LFS_ATTRS \
    "*.pt" LFS_ATTRS \
    "*.pth" LFS_ATTRS \
    "*.rar" LFS_ATTRS \
    "*.safetensors" LFS_ATTRS \
    "saved_model/**/*" LFS_ATTRS \
    "*.tar.*" LFS_ATTRS \
    "*.tar" LFS_ATTRS \
    "*.tflite" LFS_ATTRS \
    "*.tgz" LFS_ATTRS \
    "*.wasm" LFS_ATTRS \
    "*.xz" LFS_ATTRS \
    "*.zip" LFS_ATTRS \
    "*.zst" LFS_ATTRS \
    "*tfevents*" LFS_ATTRS
#define DATASET_LINES \
    "*.lz4" LFS_ATTRS \
    "*.mds" LFS_ATTRS \
    "*.avro" LFS_ATTRS \
    "*.db" LFS_ATTRS \
    "*.duckdb" LFS_ATTRS \
    "*.sqlite" LFS_ATTRS \
    "*.sqlite3" LFS_ATTRS \
    "*.pcm" LFS_ATTRS \
    "*.sam" LFS_ATTRS \
    "*.raw" LFS_ATTRS \
    "*.aac" LFS_ATTRS \
    "*.flac" LFS_ATTRS \
    "*.mp3" LFS_ATTRS \
    "*.ogg" LFS_ATTRS \
    "*.wav" LFS_ATTRS \
    "*.bmp" LFS_ATTRS \
    "*.gif" LFS_ATTRS \
    "*.png" LFS_ATTRS \
    "*.tiff" LFS_ATTRS \
    "*.jpg" LFS_ATTRS \
    "*.jpeg" LFS_ATTRS \
    "*.webp" LFS_ATTRS \
    "*.avi" LFS_ATTRS \
    "*.mkv" LFS_ATTRS \
    "*.mov" LFS_ATTRS \
    "*.mp4" LFS_ATTRS \
    "*.webm" LFS_ATTRS
// clang-format on

static const char model_gitattributes[] = MODEL_LINES;
static const char dataset_gitattributes[] = MODEL_LINES DATASET_LINES;

const char *hfs_lfsrules_default_gitattributes(hfs_repo_kind kind)
{
    return kind == HFS_REPO_DATASET ? dataset_gitattributes : model_gitattributes;
}

/* The characters git's attribute parser splits lines on (attr.c: " \t\r\n"). */
static bool attr_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* git's C-style quoted pattern ("a b.bin"): returns the unquoted text and advances *p past
 * the closing quote; NULL when the quote is not closed (git then ignores the line). */
static char *unquote_c_style(const char **p, const char *end)
{
    hfs_buf b = HFS_BUF_INIT;
    const char *s = *p + 1;
    while (s < end && *s != '"') {
        char c = *s++;
        if (c != '\\') {
            hfs_buf_putc(&b, c);
            continue;
        }
        if (s >= end)
            break;
        c = *s++;
        switch (c) {
        case 'a':
            hfs_buf_putc(&b, '\a');
            break;
        case 'b':
            hfs_buf_putc(&b, '\b');
            break;
        case 'f':
            hfs_buf_putc(&b, '\f');
            break;
        case 'n':
            hfs_buf_putc(&b, '\n');
            break;
        case 'r':
            hfs_buf_putc(&b, '\r');
            break;
        case 't':
            hfs_buf_putc(&b, '\t');
            break;
        case 'v':
            hfs_buf_putc(&b, '\v');
            break;
        case '0':
        case '1':
        case '2':
        case '3': {
            int v = c - '0';
            for (int i = 0; i < 2 && s < end && *s >= '0' && *s <= '7'; i++)
                v = v * 8 + (*s++ - '0');
            hfs_buf_putc(&b, (char)v);
            break;
        }
        default:
            hfs_buf_putc(&b, c);
            break;
        }
    }
    if (s >= end) {
        hfs_buf_free(&b);
        return NULL;
    }
    *p = s + 1;
    return hfs_buf_detach(&b);
}

/* What one line says about `filter`: 1 = lfs, 0 = set/unset to anything else, -1 = silent.
 * Within a line the last mention wins, as in git. */
static int line_filter_state(const char *p, const char *end)
{
    int state = -1;
    while (p < end) {
        while (p < end && attr_blank(*p))
            p++;
        const char *tok = p;
        while (p < end && !attr_blank(*p))
            p++;
        size_t n = (size_t)(p - tok);
        if (n == 0)
            break;
        if (n == 10 && memcmp(tok, "filter=lfs", 10) == 0)
            state = 1;
        else if ((n == 7 && (memcmp(tok, "-filter", 7) == 0 || memcmp(tok, "!filter", 7) == 0)) ||
                 (n == 6 && memcmp(tok, "filter", 6) == 0) ||
                 (n > 7 && memcmp(tok, "filter=", 7) == 0))
            state = 0;
    }
    return state;
}

static void add_rule(hfs_lfsrules *set, char *pattern, int state)
{
    size_t n = strlen(pattern);
    /* A pattern ending in '/' matches directories only, and attributes never apply to a
     * directory's contents through it, so it can never decide a file. */
    if (n == 0 || pattern[n - 1] == '/')
        return;
    /* Negative patterns are forbidden in .gitattributes; git ignores the line. */
    if (pattern[0] == '!')
        return;
    bool basename = strchr(pattern, '/') == NULL;
    const char *pat = pattern[0] == '/' ? pattern + 1 : pattern;
    hfs_wildmatch *wm = NULL;
    /* A pattern that does not compile can match nothing; git ignores it the same way. */
    if (*pat == '\0' || hfs_wildmatch_compile(&wm, pat) != 0)
        return;
    lfs_rule r = {.wm = wm, .basename = basename, .lfs = state == 1};
    HFS_PUSH(set->rules, set->count, set->cap, r);
}

int hfs_lfsrules_parse(hfs_lfsrules **out, const char *gitattributes, size_t len)
{
    hfs_lfsrules *set = hfs_calloc(1, sizeof(*set));
    const char *p = gitattributes ? gitattributes : "", *end = p + (gitattributes ? len : 0);
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        const char *s = p;
        p = eol + (eol < end);
        while (s < eol && attr_blank(*s))
            s++;
        if (s == eol || *s == '#')
            continue;
        char *pattern;
        if (*s == '"') {
            pattern = unquote_c_style(&s, eol);
            if (!pattern)
                continue;
        } else {
            const char *tok = s;
            while (s < eol && !attr_blank(*s))
                s++;
            pattern = hfs_strndup(tok, (size_t)(s - tok));
        }
        /* Macro definitions ([attr]name ...) only name attribute sets; ours never use one. */
        int state = hfs_str_starts_with(pattern, "[attr]") ? -1 : line_filter_state(s, eol);
        if (state >= 0)
            add_rule(set, pattern, state);
        free(pattern);
    }
    *out = set;
    return 0;
}

bool hfs_lfsrules_match(const hfs_lfsrules *rules, const char *path)
{
    if (!rules || !path)
        return false;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    /* git's attribute lookup: the last line whose pattern matches decides. */
    for (size_t i = rules->count; i-- > 0;) {
        const lfs_rule *r = &rules->rules[i];
        if (hfs_wildmatch_match(r->wm, r->basename ? base : path))
            return r->lfs;
    }
    return false;
}

void hfs_lfsrules_free(hfs_lfsrules *rules)
{
    if (!rules)
        return;
    for (size_t i = 0; i < rules->count; i++)
        hfs_wildmatch_free(rules->rules[i].wm);
    free(rules->rules);
    free(rules);
}

char *hfs_lfsrules_track_line(const char *path)
{
    hfs_buf b = HFS_BUF_INIT;
    for (const char *p = path; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (attr_blank((char)c))
            hfs_buf_puts(&b, "[[:space:]]");
        else if (c == '\\' || c == '*' || c == '?' || c == '[' ||
                 (p == path && (c == '#' || c == '!' || c == '"')))
            hfs_buf_printf(&b, "\\%c", c);
        else
            hfs_buf_putc(&b, (char)c);
    }
    hfs_buf_puts(&b, LFS_ATTRS);
    return hfs_buf_detach(&b);
}

/* Length of the UTF-8 sequence a lead byte starts (0 for a byte that cannot lead one). */
static size_t utf8_seq_len(unsigned char c)
{
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF)
        return 3;
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    return 0;
}

static bool sample_is_binary(const unsigned char *s, size_t len, bool maybe_truncated)
{
    if (memchr(s, '\0', len))
        return true;
    if (hfs_utf8_valid((const char *)s, len))
        return false;
    if (!maybe_truncated)
        return true;
    /* The sample was cut at a byte count, possibly inside a character: accept a valid text
     * followed by the start of one multi-byte sequence. */
    for (size_t k = 1; k <= 3 && k <= len; k++) {
        unsigned char c = s[len - k];
        if ((c & 0xC0) == 0x80)
            continue; /* a continuation byte: look further back for the lead byte */
        size_t need = utf8_seq_len(c);
        return need <= k || !hfs_utf8_valid((const char *)s, len - k);
    }
    return true;
}

bool hfs_lfsrules_sample_is_binary(const void *sample, size_t len)
{
    return sample && len > 0 && sample_is_binary(sample, len, true);
}

bool hfs_lfsrules_is_lfs(const hfs_lfsrules *rules, const char *path, uint64_t size,
                         const void *sample, size_t sample_len)
{
    if (size == 0)
        return false; /* empty objects cannot be stored in LFS (S3 refuses them) */
    if (size > HFS_REGULAR_MAX_BYTES)
        return true;
    if (hfs_lfsrules_match(rules, path))
        return true;
    if (!sample || sample_len == 0)
        return false;
    return sample_is_binary(sample, sample_len, size > sample_len);
}
