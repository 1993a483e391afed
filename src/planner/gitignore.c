/* .gitignore parsing and matching, following git's dir.c: per-file pattern lists searched
 * last line first, deeper files before shallower ones, patterns compiled with wildmatch. */
#include "planner/gitignore.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/util.h"
#include "common/wildmatch.h"

#define GITIGNORE_MAX_BYTES (16u << 20) /* an ignore file this big is a mistake, not rules */

enum {
    PAT_NEGATIVE = 1,  /* `!pattern`: re-include */
    PAT_MUSTBEDIR = 2, /* `pattern/`: directories only */
    PAT_NODIR = 4,     /* no `/` inside: matched against the basename at any depth */
};

typedef struct {
    hfs_wildmatch *wm;
    unsigned flags;
} gi_pattern;

typedef struct {
    char *base; /* "" for the root, else "dir/sub" */
    size_t base_len;
    gi_pattern *patterns;
    size_t count, cap;
} gi_list;

struct hfs_gitignore {
    gi_list *lists; /* sorted by base, bytewise */
    size_t count, cap;
};

hfs_gitignore *hfs_gitignore_new(void)
{
    return hfs_calloc(1, sizeof(hfs_gitignore));
}

static void list_clear(gi_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        hfs_wildmatch_free(l->patterns[i].wm);
    free(l->patterns);
    free(l->base);
}

void hfs_gitignore_free(hfs_gitignore *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->count; i++)
        list_clear(&m->lists[i]);
    free(m->lists);
    free(m);
}

static int base_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* Index of the list for this base, or where it would be inserted (with *found false). */
static size_t find_list(const hfs_gitignore *m, const char *base, size_t len, bool *found)
{
    size_t lo = 0, hi = m->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = base_cmp(m->lists[mid].base, m->lists[mid].base_len, base, len);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

bool hfs_gitignore_has_base(const hfs_gitignore *m, const char *base)
{
    bool found;
    find_list(m, base, strlen(base), &found);
    return found;
}

/* git's trim_trailing_spaces: unescaped trailing spaces (not tabs) go; `\ ` keeps one. */
static void trim_trailing_spaces(char *s)
{
    char *last_space = NULL;
    for (char *p = s; *p; p++) {
        if (*p == ' ') {
            if (!last_space)
                last_space = p;
            continue;
        }
        if (*p == '\\') {
            p++;
            if (!*p)
                return;
        }
        last_space = NULL;
    }
    if (last_space)
        *last_space = '\0';
}

/* One line, already trimmed: parse the `!`, trailing `/` and anchoring as git's
 * parse_path_pattern does, then compile what is left. */
static int add_pattern(gi_list *l, char *line, const char *source, unsigned lineno)
{
    unsigned flags = 0;
    char *p = line;
    if (*p == '!') {
        flags |= PAT_NEGATIVE;
        p++;
    }
    size_t len = strlen(p);
    if (len && p[len - 1] == '/') {
        p[--len] = '\0'; /* only one: `a//` keeps a `/` and then matches nothing, as in git */
        flags |= PAT_MUSTBEDIR;
    }
    if (!memchr(p, '/', len))
        flags |= PAT_NODIR;
    else if (*p == '/')
        p++; /* a leading `/` only anchors; the pattern has the base implicitly in front */
    if (!*p)
        return 0; /* an empty pattern matches no name */
    gi_pattern pat = {NULL, flags};
    if (hfs_wildmatch_compile(&pat.wm, p) != 0)
        return hfs_error_set(HFS_EINVALID, "%s:%u: %s", source, lineno, hfs_error_last());
    HFS_PUSH(l->patterns, l->count, l->cap, pat);
    return 0;
}

int hfs_gitignore_add(hfs_gitignore *m, const char *base, const char *content, size_t len,
                      const char *source)
{
    int rc = 0;
    bool found;
    size_t base_len = strlen(base);
    size_t at = find_list(m, base, base_len, &found);
    if (!found) {
        gi_list l = {hfs_strndup(base, base_len), base_len, NULL, 0, 0};
        hfs_grow((void **)&m->lists, &m->cap, m->count + 1, sizeof(*m->lists));
        memmove(&m->lists[at + 1], &m->lists[at], (m->count - at) * sizeof(*m->lists));
        m->lists[at] = l;
        m->count++;
    }
    gi_list *l = &m->lists[at];
    if (len >= 3 && memcmp(content, "\xef\xbb\xbf", 3) == 0) { /* git skips a UTF-8 BOM */
        content += 3;
        len -= 3;
    }
    hfs_buf line = HFS_BUF_INIT;
    unsigned lineno = 0;
    size_t start = 0;
    while (start < len) {
        const char *nl = memchr(content + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - content) : len;
        size_t n = end - start;
        lineno++;
        if (n > 0 && content[end - 1] == '\r') /* CRLF files: the CR is not part of the rule */
            n--;
        if (n > 0 && content[start] != '#') {
            hfs_buf_clear(&line);
            hfs_buf_add(&line, content + start, n);
            /* A NUL inside a line ends the rule there, as git's C-string handling does. */
            trim_trailing_spaces(line.ptr);
            rc = add_pattern(l, line.ptr, source, lineno);
            if (rc)
                break;
        }
        start = end + 1;
    }
    hfs_buf_free(&line);
    return rc;
}

int hfs_gitignore_add_file(hfs_gitignore *m, const char *base, const char *path)
{
    char *content = NULL;
    size_t len = 0;
    int rc = hfs_read_file(&content, &len, path, GITIGNORE_MAX_BYTES);
    if (rc == 0)
        rc = hfs_gitignore_add(m, base, content, len, path);
    free(content);
    return rc;
}

int hfs_gitignore_from_string(hfs_gitignore **out, const char *content)
{
    hfs_gitignore *m = hfs_gitignore_new();
    int rc = hfs_gitignore_add(m, "", content, strlen(content), ".gitignore");
    if (rc) {
        hfs_gitignore_free(m);
        m = NULL;
    }
    *out = m;
    return rc;
}

/* The last pattern of one list that matches, as git's last_matching_pattern_from_list;
 * returns 1 ignored, 0 re-included, -1 no pattern matched. */
static int list_verdict(const gi_list *l, const char *path, size_t path_len, bool is_dir)
{
    const char *slash = memrchr(path, '/', path_len);
    const char *basename = slash ? slash + 1 : path;
    const char *relative = l->base_len ? path + l->base_len + 1 : path;
    for (size_t i = l->count; i-- > 0;) {
        const gi_pattern *pat = &l->patterns[i];
        if ((pat->flags & PAT_MUSTBEDIR) && !is_dir)
            continue;
        const char *subject = (pat->flags & PAT_NODIR) ? basename : relative;
        if (hfs_wildmatch_match(pat->wm, subject))
            return (pat->flags & PAT_NEGATIVE) ? 0 : 1;
    }
    return -1;
}

bool hfs_gitignore_match_entry(const hfs_gitignore *m, const char *rel_path, bool is_dir)
{
    size_t len = strlen(rel_path);
    if (m->count == 0 || len == 0)
        return false;
    /* The rules of the deepest directory holding a .gitignore speak first. Each candidate
     * base is a proper prefix of the path ending before a '/', then the root. */
    size_t cut = len;
    for (;;) {
        const char *slash = cut ? memrchr(rel_path, '/', cut) : NULL;
        size_t base_len = slash ? (size_t)(slash - rel_path) : 0;
        bool found;
        size_t at = find_list(m, rel_path, base_len, &found);
        if (found) {
            int v = list_verdict(&m->lists[at], rel_path, len, is_dir);
            if (v >= 0)
                return v == 1;
        }
        if (!slash)
            return false;
        cut = base_len;
    }
}

bool hfs_gitignore_is_ignored(const hfs_gitignore *m, const char *rel_path, bool is_dir)
{
    if (m->count == 0)
        return false;
    /* "It is not possible to re-include a file if a parent directory of that file is
     * excluded": git never reads below an excluded directory, so check each one first. */
    char *dir = hfs_strdup(rel_path);
    bool ignored = false;
    for (char *p = strchr(dir, '/'); p && !ignored; p = strchr(p + 1, '/')) {
        *p = '\0';
        ignored = hfs_gitignore_match_entry(m, dir, true);
        *p = '/';
    }
    if (!ignored)
        ignored = hfs_gitignore_match_entry(m, rel_path, is_dir);
    free(dir);
    return ignored;
}
