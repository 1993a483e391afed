/* Builds the node tree from libyaml events: core-schema typing of plain scalars, anchors shared
 * rather than copied, `<<` merges, duplicate keys, and limits that stop alias bombs early. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "manifest/yaml.h"

#include <errno.h>
#include <math.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/error.h"
#include "common/util.h"

struct hfs_ydoc {
    hfs_ynode **nodes; /* every node, so shared (aliased) nodes are freed exactly once */
    size_t n_nodes, cap_nodes;
    hfs_ynode *root;
};

typedef struct {
    char *name;
    hfs_ynode *node; /* NULL while the anchored collection is still open */
} anchor;

typedef struct {
    hfs_ynode *node;
    hfs_ynode *key;    /* mappings: the key waiting for its value */
    bool skip_value;   /* mappings: the key was not a scalar, so its value is dropped */
    bool merge_key;    /* mappings: the pending key is a plain `<<` */
    size_t cap;        /* capacity of node->items or node->pairs */
    bool *merge_flags; /* mappings: which pairs came in with a plain `<<` key */
    size_t merge_cap;
    size_t anchor_index; /* index into anchors + 1, 0 when the node has no anchor */
} frame;

enum { RE_INT10, RE_INT8, RE_INT16, RE_FLOAT, RE_INF, RE_NAN, RE_COUNT };

/* The YAML 1.2 core schema's regular expressions for plain scalars (spec §10.3.2). */
static const char *const core_re[RE_COUNT] = {
    "[-+]?[0-9]+",           "0o[0-7]+",
    "0x[0-9a-fA-F]+",        "[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?",
    "[-+]?\\.(inf|Inf|INF)", "\\.(nan|NaN|NAN)",
};

typedef struct {
    hfs_ydoc *doc;
    const char *file;
    hfs_diag_list *diags;
    frame *stack;
    size_t depth, cap;
    anchor *anchors;
    size_t n_anchors, cap_anchors;
    uint64_t alias_nodes; /* nodes reached through aliases and merges, counted with repeats */
    pcre2_code *re[RE_COUNT];
    pcre2_match_data *md;
    int documents;
    bool fatal;
} builder;

const char *hfs_ykind_name(hfs_ykind kind)
{
    switch (kind) {
    case HFS_YNULL:
        return "an empty value";
    case HFS_YBOOL:
        return "a boolean";
    case HFS_YINT:
    case HFS_YFLOAT:
        return "a number";
    case HFS_YSTR:
        return "a string";
    case HFS_YSEQ:
        return "a list";
    case HFS_YMAP:
        return "a mapping";
    }
    return "a value";
}

const hfs_ynode *hfs_ydoc_root(const hfs_ydoc *doc)
{
    return doc ? doc->root : NULL;
}

const hfs_ynode *hfs_ynode_get(const hfs_ynode *map, const char *key)
{
    if (!map || map->kind != HFS_YMAP)
        return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < map->n_pairs; i++)
        if (map->pairs[i].key->len == n && memcmp(map->pairs[i].key->text, key, n) == 0)
            return map->pairs[i].value;
    return NULL;
}

void hfs_ydoc_free(hfs_ydoc *doc)
{
    if (!doc)
        return;
    for (size_t i = 0; i < doc->n_nodes; i++) {
        free(doc->nodes[i]->text);
        free(doc->nodes[i]->items);
        free(doc->nodes[i]->pairs);
        free(doc->nodes[i]);
    }
    free(doc->nodes);
    free(doc);
}

static hfs_ynode *node_new(builder *b, hfs_ykind kind, const yaml_mark_t *mark)
{
    hfs_ynode *n = hfs_calloc(1, sizeof(*n));
    n->kind = kind;
    n->line = (int)mark->line + 1;
    n->col = (int)mark->column + 1;
    n->expanded = 1;
    n->height = 1;
    HFS_PUSH(b->doc->nodes, b->doc->n_nodes, b->doc->cap_nodes, n);
    return n;
}

/* The key path of the node being built at the top of the stack: "syncs.ckpt.allow_patterns[2]". */
static char *stack_path(const builder *b, size_t n_frames)
{
    hfs_buf p = HFS_BUF_INIT;
    for (size_t i = 0; i < n_frames; i++) {
        const frame *f = &b->stack[i];
        if (f->node->kind == HFS_YSEQ) {
            hfs_buf_printf(&p, "[%zu]", f->node->n_items);
        } else if (f->key) {
            if (p.len)
                hfs_buf_putc(&p, '.');
            hfs_buf_add(&p, f->key->text, f->key->len);
        }
    }
    return hfs_buf_detach(&p);
}

static bool re_match(builder *b, int which, const char *s, size_t len)
{
    return pcre2_match(b->re[which], (PCRE2_SPTR)s, len, 0, 0, b->md, NULL) >= 0;
}

/* Types a plain scalar by the core schema. Integers too large for 64 bits become numbers with
 * a fraction (as most YAML libraries do), so they still read as "a number" in messages. */
static void resolve_plain(builder *b, hfs_ynode *n)
{
    const char *s = n->text;
    size_t len = n->len;
    if (len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
        strcmp(s, "NULL") == 0) {
        n->kind = HFS_YNULL;
    } else if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0) {
        n->kind = HFS_YBOOL;
        n->boolean = true;
    } else if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0) {
        n->kind = HFS_YBOOL;
        n->boolean = false;
    } else if (re_match(b, RE_INT10, s, len) || re_match(b, RE_INT8, s, len) ||
               re_match(b, RE_INT16, s, len)) {
        int base = 10;
        const char *digits = s;
        if (len > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
            base = s[1] == 'o' ? 8 : 16;
            digits = s + 2;
        }
        errno = 0;
        long long v = strtoll(digits, NULL, base);
        if (errno == ERANGE) {
            n->kind = HFS_YFLOAT;
            n->real = strtod(s, NULL);
        } else {
            n->kind = HFS_YINT;
            n->integer = v;
        }
    } else if (re_match(b, RE_FLOAT, s, len)) {
        n->kind = HFS_YFLOAT;
        n->real = strtod(s, NULL);
    } else if (re_match(b, RE_INF, s, len)) {
        n->kind = HFS_YFLOAT;
        n->real = s[0] == '-' ? -HUGE_VAL : HUGE_VAL;
    } else if (re_match(b, RE_NAN, s, len)) {
        n->kind = HFS_YFLOAT;
        n->real = NAN;
    } else {
        n->kind = HFS_YSTR;
    }
}

#define TAG_PREFIX "tag:yaml.org,2002:"

/* Applies an explicit tag. Only the core schema's tags are understood; anything else would
 * mean a value hfsync cannot interpret, so it is reported rather than guessed at. */
static void apply_tag(builder *b, hfs_ynode *n, const char *tag, bool plain)
{
    if (!tag || strcmp(tag, "!") == 0) {
        if (plain)
            resolve_plain(b, n);
        return;
    }
    const char *want = hfs_str_starts_with(tag, TAG_PREFIX) ? tag + strlen(TAG_PREFIX) : NULL;
    if (want && strcmp(want, "str") == 0)
        return;
    if (want && (strcmp(want, "int") == 0 || strcmp(want, "float") == 0 ||
                 strcmp(want, "bool") == 0 || strcmp(want, "null") == 0)) {
        resolve_plain(b, n);
        bool ok = (strcmp(want, "int") == 0 && n->kind == HFS_YINT) ||
                  (strcmp(want, "float") == 0 && (n->kind == HFS_YFLOAT || n->kind == HFS_YINT)) ||
                  (strcmp(want, "bool") == 0 && n->kind == HFS_YBOOL) ||
                  (strcmp(want, "null") == 0 && n->kind == HFS_YNULL);
        if (ok)
            return;
        char *path = stack_path(b, b->depth);
        hfs_diag_add(b->diags, b->file, n->line, n->col, path, "\"%s\" is not a valid !!%s",
                     n->text, want);
        free(path);
        n->kind = HFS_YSTR;
        return;
    }
    char *path = stack_path(b, b->depth);
    hfs_diag_add(b->diags, b->file, n->line, n->col, path,
                 "unsupported YAML tag %s%s; remove the tag", want ? "!!" : "", want ? want : tag);
    free(path);
    n->kind = HFS_YSTR;
}

static void fatal_at(builder *b, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fatal_at(builder *b, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = hfs_vsprintf(fmt, ap);
    va_end(ap);
    hfs_diag_add(b->diags, b->file, line, col, "", "%s", msg);
    free(msg);
    b->fatal = true;
}

static void count_alias_nodes(builder *b, uint64_t n, int line, int col)
{
    b->alias_nodes = b->alias_nodes + n < b->alias_nodes ? UINT64_MAX : b->alias_nodes + n;
    if (b->alias_nodes > HFS_MANIFEST_MAX_ALIAS_NODES && !b->fatal)
        fatal_at(b, line, col,
                 "aliases here expand to more than %d nodes; refusing the file (an alias bomb?)",
                 HFS_MANIFEST_MAX_ALIAS_NODES);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

/* Hangs a finished node into its parent (or makes it the root). */
static void add_child(builder *b, hfs_ynode *n, bool merge_key)
{
    if (b->depth == 0) {
        b->doc->root = n;
        return;
    }
    frame *f = &b->stack[b->depth - 1];
    hfs_ynode *parent = f->node;
    if (parent->kind == HFS_YSEQ) {
        hfs_grow((void **)&parent->items, &f->cap, parent->n_items + 1, sizeof(*parent->items));
        parent->items[parent->n_items++] = n;
        return;
    }
    if (!f->key && !f->skip_value) {
        if (n->kind == HFS_YSEQ || n->kind == HFS_YMAP) {
            char *path = stack_path(b, b->depth - 1);
            hfs_diag_add(b->diags, b->file, n->line, n->col, path,
                         "a key must be a plain value, not %s", hfs_ykind_name(n->kind));
            free(path);
            f->skip_value = true;
            return;
        }
        f->key = n;
        f->merge_key = merge_key;
        return;
    }
    if (f->skip_value) {
        f->skip_value = false;
        return;
    }
    hfs_grow((void **)&parent->pairs, &f->cap, parent->n_pairs + 1, sizeof(*parent->pairs));
    hfs_grow((void **)&f->merge_flags, &f->merge_cap, parent->n_pairs + 1, sizeof(bool));
    f->merge_flags[parent->n_pairs] = f->merge_key;
    parent->pairs[parent->n_pairs++] = (hfs_ypair){f->key, n};
    f->key = NULL;
    f->merge_key = false;
}

typedef struct {
    hfs_ypair pair;
    size_t order;
    bool explicit_key;
} keyed;

static int keyed_cmp(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    size_t lx = x->pair.key->len, ly = y->pair.key->len;
    int c = memcmp(x->pair.key->text, y->pair.key->text, lx < ly ? lx : ly);
    if (c)
        return c;
    if (lx != ly)
        return lx < ly ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

static int order_cmp(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    return (x->order > y->order) - (x->order < y->order);
}

/* Keeps the first pair of each key. Sorting makes this O(n log n): a large mapping must not
 * cost quadratic time. Later explicit duplicates are reported; merged ones simply lose. */
static size_t dedupe(builder *b, keyed *k, size_t n, const char *path)
{
    qsort(k, n, sizeof(*k), keyed_cmp);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (kept > 0) {
            const hfs_ynode *prev = k[kept - 1].pair.key, *cur = k[i].pair.key;
            if (prev->len == cur->len && memcmp(prev->text, cur->text, cur->len) == 0) {
                if (k[i].explicit_key) {
                    char *kp =
                        *path ? hfs_sprintf("%s.%s", path, cur->text) : hfs_strdup(cur->text);
                    hfs_diag_add(b->diags, b->file, cur->line, cur->col, kp,
                                 "duplicate key (first written at line %d, column %d)", prev->line,
                                 prev->col);
                    free(kp);
                }
                continue;
            }
        }
        k[kept++] = k[i];
    }
    return kept;
}

/* Finishes a mapping: duplicate keys, then `<<` merges (YAML 1.1 merge keys, which editors
 * and most YAML tools accept): keys written in the mapping win over merged ones, and earlier
 * merged mappings win over later ones. */
static void finish_map(builder *b, frame *f)
{
    hfs_ynode *m = f->node;
    size_t n = m->n_pairs;
    if (n == 0)
        return;
    char *path = stack_path(b, b->depth);
    keyed *k = hfs_calloc(n, sizeof(*k));
    for (size_t i = 0; i < n; i++)
        k[i] = (keyed){m->pairs[i], i, true};
    size_t kept = dedupe(b, k, n, path);
    qsort(k, kept, sizeof(*k), order_cmp);

    const hfs_ynode *merge = NULL, *merge_key = NULL;
    size_t out = 0;
    for (size_t i = 0; i < kept; i++) {
        if (f->merge_flags[k[i].order]) {
            merge = k[i].pair.value;
            merge_key = k[i].pair.key;
            continue;
        }
        k[out++] = k[i];
    }
    if (merge) {
        const hfs_ynode *const *sources = &merge;
        size_t n_sources = 1;
        bool ok = merge->kind == HFS_YMAP;
        if (merge->kind == HFS_YSEQ) {
            sources = (const hfs_ynode *const *)merge->items;
            n_sources = merge->n_items;
            ok = true;
            for (size_t i = 0; i < n_sources; i++)
                ok = ok && sources[i]->kind == HFS_YMAP;
        }
        if (!ok) {
            char *kp = *path ? hfs_sprintf("%s.<<", path) : hfs_strdup("<<");
            hfs_diag_add(b->diags, b->file, merge_key->line, merge_key->col, kp,
                         "expected a mapping (or a list of mappings) to merge; got %s",
                         hfs_ykind_name(merge->kind));
            free(kp);
        } else {
            size_t total = out;
            for (size_t i = 0; i < n_sources; i++)
                total += sources[i]->n_pairs;
            k = hfs_realloc(k, total * sizeof(*k));
            size_t order = n;
            for (size_t i = 0; i < n_sources && !b->fatal; i++)
                for (size_t j = 0; j < sources[i]->n_pairs && !b->fatal; j++) {
                    hfs_ypair p = sources[i]->pairs[j];
                    count_alias_nodes(b, sat_add(p.key->expanded, p.value->expanded), m->line,
                                      m->col);
                    k[out++] = (keyed){p, order++, false};
                }
            out = dedupe(b, k, out, path);
            qsort(k, out, sizeof(*k), order_cmp);
        }
    }
    if (out > f->cap) {
        m->pairs = hfs_realloc(m->pairs, out * sizeof(*m->pairs));
        f->cap = out;
    }
    for (size_t i = 0; i < out; i++)
        m->pairs[i] = k[i].pair;
    m->n_pairs = out;
    free(k);
    free(path);
}

/* Sizes a finished collection and enforces the nesting limit (aliases included, so nothing
 * that walks the tree recursively can be driven deep). */
static void measure(builder *b, hfs_ynode *n)
{
    uint64_t expanded = 1;
    int height = 0;
    for (size_t i = 0; i < n->n_items; i++) {
        expanded = sat_add(expanded, n->items[i]->expanded);
        height = n->items[i]->height > height ? n->items[i]->height : height;
    }
    for (size_t i = 0; i < n->n_pairs; i++) {
        expanded =
            sat_add(expanded, sat_add(n->pairs[i].key->expanded, n->pairs[i].value->expanded));
        height = n->pairs[i].value->height > height ? n->pairs[i].value->height : height;
    }
    n->expanded = expanded;
    n->height = height + 1;
    if (n->height > HFS_MANIFEST_MAX_DEPTH && !b->fatal)
        fatal_at(b, n->line, n->col, "values nest more than %d levels deep; refusing the file",
                 HFS_MANIFEST_MAX_DEPTH);
}

static size_t anchor_add(builder *b, const char *name, hfs_ynode *node)
{
    anchor a = {hfs_strdup(name), node};
    HFS_PUSH(b->anchors, b->n_anchors, b->cap_anchors, a);
    return b->n_anchors;
}

static void on_alias(builder *b, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    /* The latest anchor of a name wins, as YAML says an anchor may be redefined. */
    for (size_t i = b->n_anchors; i-- > 0;) {
        if (strcmp(b->anchors[i].name, name) != 0)
            continue;
        if (!b->anchors[i].node) {
            fatal_at(b, line, col, "alias *%s is used inside the value it names (a cycle)", name);
            return;
        }
        count_alias_nodes(b, b->anchors[i].node->expanded, line, col);
        if (!b->fatal)
            add_child(b, b->anchors[i].node, false);
        return;
    }
    fatal_at(b, line, col,
             "alias *%s refers to no anchor &%s above it (a value that starts with '*' must be "
             "quoted, e.g. \"*.json\")",
             name, name);
}

static void on_scalar(builder *b, const yaml_event_t *ev)
{
    hfs_ynode *n = node_new(b, HFS_YSTR, &ev->start_mark);
    n->text = hfs_strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
    n->len = ev->data.scalar.length;
    bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    apply_tag(b, n, (const char *)ev->data.scalar.tag, plain);
    bool merge_key = plain && !ev->data.scalar.tag && strcmp(n->text, "<<") == 0;
    if (ev->data.scalar.anchor)
        anchor_add(b, (const char *)ev->data.scalar.anchor, n);
    add_child(b, n, merge_key);
}

static void on_start(builder *b, const yaml_event_t *ev, hfs_ykind kind)
{
    const yaml_char_t *anchor_name =
        kind == HFS_YMAP ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
    const char *tag =
        (const char *)(kind == HFS_YMAP ? ev->data.mapping_start.tag : ev->data.sequence_start.tag);
    hfs_ynode *n = node_new(b, kind, &ev->start_mark);
    if (b->depth >= HFS_MANIFEST_MAX_DEPTH) {
        fatal_at(b, n->line, n->col, "values nest more than %d levels deep; refusing the file",
                 HFS_MANIFEST_MAX_DEPTH);
        return;
    }
    if (tag && strcmp(tag, "!") != 0 &&
        strcmp(tag, kind == HFS_YMAP ? TAG_PREFIX "map" : TAG_PREFIX "seq") != 0) {
        char *path = stack_path(b, b->depth);
        hfs_diag_add(b->diags, b->file, n->line, n->col, path,
                     "unsupported YAML tag %s; remove the tag", tag);
        free(path);
    }
    frame f = {n, NULL, false, false, 0, NULL, 0, 0};
    if (anchor_name)
        f.anchor_index = anchor_add(b, (const char *)anchor_name, NULL);
    hfs_grow((void **)&b->stack, &b->cap, b->depth + 1, sizeof(*b->stack));
    b->stack[b->depth++] = f;
}

static void on_end(builder *b)
{
    frame f = b->stack[--b->depth];
    if (f.node->kind == HFS_YMAP)
        finish_map(b, &f);
    free(f.merge_flags);
    if (b->fatal)
        return;
    measure(b, f.node);
    if (f.anchor_index)
        b->anchors[f.anchor_index - 1].node = f.node;
    add_child(b, f.node, false);
}

/* Line and column (1-based, in characters) of a byte offset in valid UTF-8 text. */
static void place_of(const char *text, size_t offset, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < offset; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

/* Finds the first byte that is not UTF-8 with PCRE2's own UTF check. Returns false when the
 * text is valid. */
static bool find_bad_utf8(const char *text, size_t len, size_t *offset)
{
    int err;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR) "", 0, PCRE2_UTF, &err, &erroff, NULL);
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    int rc = pcre2_match(re, (PCRE2_SPTR)text, len, 0, 0, md, NULL);
    bool bad = rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21;
    if (bad)
        *offset = pcre2_get_startchar(md);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return bad;
}

static void report_parser_error(builder *b, const yaml_parser_t *p, const char *text)
{
    int line, col;
    if (p->error == YAML_READER_ERROR) {
        place_of(text, p->problem_offset, &line, &col);
        if (p->problem_value >= 0 && strstr(p->problem, "control characters"))
            fatal_at(b, line, col, "control character 0x%02X is not allowed in YAML text",
                     (unsigned)p->problem_value);
        else
            fatal_at(b, line, col, "cannot read the file as YAML text: %s", p->problem);
        return;
    }
    if (p->error == YAML_MEMORY_ERROR) {
        fatal_at(b, 1, 1, "out of memory while parsing");
        return;
    }
    line = (int)p->problem_mark.line + 1;
    col = (int)p->problem_mark.column + 1;
    hfs_buf msg = HFS_BUF_INIT;
    hfs_buf_printf(&msg, "YAML syntax error: %s", p->problem ? p->problem : "unknown problem");
    if (p->context)
        hfs_buf_printf(&msg, " (%s at line %d, column %d)", p->context,
                       (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    if (p->context && (strstr(p->context, "alias") || strstr(p->context, "anchor")))
        hfs_buf_puts(&msg, "; a value that starts with '*' or '&' must be quoted, e.g. \"*.json\"");
    else if (p->problem && strstr(p->problem, "cannot start any token") &&
             text[p->problem_mark.index] == '\t')
        hfs_buf_puts(&msg, "; indent with spaces, not tabs");
    fatal_at(b, line, col, "%s", hfs_buf_cstr(&msg));
    hfs_buf_free(&msg);
}

int hfs_yaml_parse(hfs_ydoc **out, const char *text, size_t len, const char *file,
                   hfs_diag_list *diags)
{
    builder b = {0};
    yaml_parser_t parser;
    bool parser_ready = false;
    int rc = 0;
    *out = NULL;
    b.doc = hfs_calloc(1, sizeof(*b.doc));
    b.file = file;
    b.diags = diags;

    size_t bad_at;
    if (find_bad_utf8(text, len, &bad_at)) {
        int line, col;
        place_of(text, bad_at, &line, &col);
        fatal_at(&b, line, col, "the file is not UTF-8 text (byte 0x%02X here); save it as UTF-8",
                 (unsigned char)text[bad_at]);
        goto done;
    }
    for (int i = 0; i < RE_COUNT; i++) {
        int err;
        PCRE2_SIZE off;
        b.re[i] = pcre2_compile((PCRE2_SPTR)core_re[i], PCRE2_ZERO_TERMINATED,
                                PCRE2_ANCHORED | PCRE2_ENDANCHORED, &err, &off, NULL);
    }
    b.md = pcre2_match_data_create(1, NULL);

    if (!yaml_parser_initialize(&parser)) {
        rc = hfs_error_set(HFS_ERROR, "cannot start the YAML parser (out of memory)");
        goto done;
    }
    parser_ready = true;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    for (bool end = false; !end && !b.fatal;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            report_parser_error(&b, &parser, text);
            break;
        }
        switch (ev.type) {
        case YAML_DOCUMENT_START_EVENT:
            if (++b.documents > 1)
                fatal_at(&b, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
                         "a second YAML document starts here; a manifest is a single document");
            break;
        case YAML_SCALAR_EVENT:
            on_scalar(&b, &ev);
            break;
        case YAML_ALIAS_EVENT:
            on_alias(&b, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            on_start(&b, &ev, HFS_YSEQ);
            break;
        case YAML_MAPPING_START_EVENT:
            on_start(&b, &ev, HFS_YMAP);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            on_end(&b);
            break;
        case YAML_STREAM_END_EVENT:
            end = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }

done:
    if (b.fatal && rc == 0)
        rc = hfs_error_set(HFS_EINVALID, "%s: not a readable YAML manifest", file);
    if (rc == 0)
        *out = b.doc;
    else
        hfs_ydoc_free(b.doc);
    if (parser_ready)
        yaml_parser_delete(&parser);
    for (size_t i = 0; i < b.depth; i++)
        free(b.stack[i].merge_flags);
    free(b.stack);
    for (size_t i = 0; i < b.n_anchors; i++)
        free(b.anchors[i].name);
    free(b.anchors);
    for (int i = 0; i < RE_COUNT; i++)
        pcre2_code_free(b.re[i]);
    pcre2_match_data_free(b.md);
    return rc;
}
