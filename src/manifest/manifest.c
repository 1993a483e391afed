/* hfsync.yaml → a validated hfs_manifest: reads the YAML tree section by section, reports every
 * problem with its place and key path, applies `defaults`, then checks each sync as a whole. */
#include "manifest/manifest.h"

#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "common/hash.h"
#include "common/util.h"
#include "manifest/diag.h"
#include "manifest/yaml.h"

/* Every setting of a sync, in the order of the schema; the names are the manifest keys. */
typedef enum {
    F_REPO_ID,
    F_REPO_TYPE,
    F_REVISION,
    F_CREATE,
    F_CREATE_PRIVATE,
    F_SPACE_SDK,
    F_FOLDER_PATH,
    F_PATH_IN_REPO,
    F_ALLOW,
    F_IGNORE,
    F_DELETE,
    F_GITIGNORE,
    F_MESSAGE,
    F_DESCRIPTION,
    F_STRATEGY,
    F_MAX_FILES,
    F_MAX_BYTES,
    F_CREATE_PR,
    F_TRANSPORT,
    F_MAX_DELETE,
    F_SCHEDULE,
    F_EVERY,
    F_APPEND_ONLY,
    F_SQUASH,
    F_PACK,
    F_PACK_PATTERNS,
    F_PACK_FORMAT,
    F_PACK_NAME,
    F_PACK_REMOVE,
    F_COUNT
} field;

static const char *const field_key[F_COUNT] = {
    [F_REPO_ID] = "repo_id",
    [F_REPO_TYPE] = "repo_type",
    [F_REVISION] = "revision",
    [F_CREATE] = "create",
    [F_CREATE_PRIVATE] = "create.private",
    [F_SPACE_SDK] = "create.space_sdk",
    [F_FOLDER_PATH] = "folder_path",
    [F_PATH_IN_REPO] = "path_in_repo",
    [F_ALLOW] = "allow_patterns",
    [F_IGNORE] = "ignore_patterns",
    [F_DELETE] = "delete_patterns",
    [F_GITIGNORE] = "gitignore",
    [F_MESSAGE] = "commit.message",
    [F_DESCRIPTION] = "commit.description",
    [F_STRATEGY] = "commit.strategy",
    [F_MAX_FILES] = "commit.max_files",
    [F_MAX_BYTES] = "commit.max_bytes",
    [F_CREATE_PR] = "commit.create_pr",
    [F_TRANSPORT] = "transport",
    [F_MAX_DELETE] = "max_delete",
    [F_SCHEDULE] = "schedule",
    [F_EVERY] = "schedule.every",
    [F_APPEND_ONLY] = "schedule.append_only",
    [F_SQUASH] = "schedule.squash_history",
    [F_PACK] = "schedule.pack",
    [F_PACK_PATTERNS] = "schedule.pack.patterns",
    [F_PACK_FORMAT] = "schedule.pack.format",
    [F_PACK_NAME] = "schedule.pack.name",
    [F_PACK_REMOVE] = "schedule.pack.remove_local",
};

typedef struct {
    bool set;           /* written in the file (or given in a spec) */
    bool bad;           /* written, but the value was refused (already reported) */
    bool from_defaults; /* inherited from `defaults` */
    hfs_srcpos pos;     /* where the value is written */
} field_src;

struct hfs_sync_extra {
    field_src src[F_COUNT];
    hfs_pattern_set *allow, *ignore, *delete_set, *pack_set;
};

/* Section keys, for unknown-key messages and "did you mean". */
static const char *const top_keys[] = {"version", "endpoint", "defaults", "syncs", NULL};
static const char *const sync_keys[] = {
    "repo_id",      "repo_type",      "revision",        "create",          "folder_path",
    "path_in_repo", "allow_patterns", "ignore_patterns", "delete_patterns", "gitignore",
    "commit",       "transport",      "max_delete",      "schedule",        NULL};
static const char *const create_keys[] = {"private", "space_sdk", NULL};
static const char *const commit_keys[] = {"message",   "description", "strategy", "max_files",
                                          "max_bytes", "create_pr",   NULL};
static const char *const schedule_keys[] = {"every", "append_only", "squash_history", "pack",
                                            NULL};
static const char *const pack_keys[] = {"patterns", "format", "name", "remove_local", NULL};

static const char *const repo_type_names[] = {"model", "dataset", "space", NULL};
static const char *const strategy_names[] = {"single", "multi", "large", NULL};
static const char *const transport_names[] = {"http", "git", NULL};
static const char *const space_sdk_names[] = {"gradio", "streamlit", "docker", "static", NULL};
static const char *const pack_format_names[] = {"zip", NULL};

typedef struct {
    const char *file; /* as the user named it */
    const char *dir;  /* absolute; relative folder_paths start here */
    hfs_diag_list *diags;
    bool defaults_every; /* `defaults.schedule.every` is set, so syncs may leave it out */
    bool defaults_pack_patterns; /* `defaults.schedule.pack.patterns` is set: the same */
} ctx;

static void report(ctx *c, int line, int col, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void report(ctx *c, int line, int col, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = hfs_vsprintf(fmt, ap);
    va_end(ap);
    hfs_diag_add(c->diags, c->file, line, col, path, "%s", msg);
    free(msg);
}

static char *key_join(const char *prefix, const char *key)
{
    return *prefix ? hfs_sprintf("%s.%s", prefix, key) : hfs_strdup(key);
}

/* A value as a message shows it: strings quoted (escaped, cut at 80 bytes), others by kind. */
static char *found(const hfs_ynode *n)
{
    if (n->kind == HFS_YNULL)
        return hfs_strdup("an empty value");
    if (n->kind == HFS_YSEQ || n->kind == HFS_YMAP)
        return hfs_strdup(hfs_ykind_name(n->kind));
    if (n->kind != HFS_YSTR)
        return hfs_sprintf("%s (%s)", n->text, hfs_ykind_name(n->kind));
    hfs_buf b = HFS_BUF_INIT;
    hfs_buf_putc(&b, '"');
    for (size_t i = 0; i < n->len; i++) {
        unsigned char ch = (unsigned char)n->text[i];
        if (i >= 80 && (ch & 0xC0) != 0x80) {
            hfs_buf_puts(&b, "...");
            break;
        }
        if (ch == '"' || ch == '\\')
            hfs_buf_printf(&b, "\\%c", ch);
        else if (ch == '\n')
            hfs_buf_puts(&b, "\\n");
        else if (ch == '\t')
            hfs_buf_puts(&b, "\\t");
        else if (ch < 0x20 || ch == 0x7F)
            hfs_buf_printf(&b, "\\x%02X", ch);
        else
            hfs_buf_putc(&b, (char)ch);
    }
    hfs_buf_putc(&b, '"');
    return hfs_buf_detach(&b);
}

/* "expected X; got Y", with a hint when the value is a plain scalar YAML typed differently. */
static void report_type(ctx *c, const hfs_ynode *n, const char *path, const char *expected)
{
    char *got = found(n);
    const char *hint = "";
    if (strcmp(expected, "a string") == 0 &&
        (n->kind == HFS_YINT || n->kind == HFS_YFLOAT || n->kind == HFS_YBOOL))
        hint = "; quote it to use it as text";
    else if (strcmp(expected, "true or false") == 0 && n->kind == HFS_YSTR &&
             (strcmp(n->text, "yes") == 0 || strcmp(n->text, "no") == 0 ||
              strcmp(n->text, "on") == 0 || strcmp(n->text, "off") == 0))
        hint = " (YAML 1.2 reads yes/no/on/off as text)";
    else if (n->kind == HFS_YSTR && n->len > 0 &&
             (strcmp(n->text, "true") == 0 || strcmp(n->text, "false") == 0 ||
              strspn(n->text, "0123456789") == n->len))
        hint = " (quoted, so it is text; remove the quotes)";
    report(c, n->line, n->col, path, "expected %s; got %s%s", expected, got, hint);
    free(got);
}

/* Reports the last error (set by a value check) as the problem of this value. */
static void report_last(ctx *c, const hfs_ynode *n, const char *path)
{
    report(c, n->line, n->col, path, "%s", hfs_error_last());
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

typedef struct {
    const char *const *keys;
    const char *where; /* how to say "under this section" */
} section;

static const section all_sections[] = {
    {top_keys, "the top level"}, {sync_keys, "a sync (or defaults)"}, {create_keys, "create:"},
    {commit_keys, "commit:"},    {schedule_keys, "schedule:"},
    {pack_keys, "schedule.pack:"},
};

static void report_unknown(ctx *c, const hfs_ynode *key, const char *prefix,
                           const char *const *known)
{
    char *path = key_join(prefix, key->text);
    const char *best = NULL;
    size_t best_d = SIZE_MAX, klen = strlen(key->text);
    for (size_t i = 0; known[i]; i++) {
        size_t d = edit_distance(key->text, known[i]);
        bool prefix_of = klen >= 4 && hfs_str_starts_with(known[i], key->text);
        if (prefix_of && d > 2)
            d = 2;
        if (d < best_d) {
            best_d = d;
            best = known[i];
        }
    }
    if (best && best_d <= (klen <= 4 ? 1u : 2u)) {
        report(c, key->line, key->col, path, "unknown key; did you mean \"%s\"?", best);
        goto done;
    }
    for (size_t s = 0; s < HFS_ARRAY_LEN(all_sections); s++) {
        if (all_sections[s].keys == known)
            continue;
        for (size_t i = 0; all_sections[s].keys[i]; i++)
            if (strcmp(all_sections[s].keys[i], key->text) == 0) {
                report(c, key->line, key->col, path, "unknown key here; \"%s\" belongs under %s",
                       key->text, all_sections[s].where);
                goto done;
            }
    }
    hfs_buf list = HFS_BUF_INIT;
    for (size_t i = 0; known[i]; i++)
        hfs_buf_printf(&list, "%s%s", i ? ", " : "", known[i]);
    report(c, key->line, key->col, path, "unknown key; expected one of %s", list.ptr);
    hfs_buf_free(&list);
done:
    free(path);
}

/* A string value. Control characters are refused (they would garble messages and paths);
 * only a commit description may span lines. */
static bool get_string(ctx *c, const hfs_ynode *n, const char *path, bool multiline, char **out)
{
    if (n->kind != HFS_YSTR) {
        report_type(c, n, path, "a string");
        return false;
    }
    for (size_t i = 0; i < n->len; i++) {
        unsigned char ch = (unsigned char)n->text[i];
        if ((ch < 0x20 || ch == 0x7F) && !(multiline && (ch == '\n' || ch == '\t'))) {
            char *got = found(n);
            report(c, n->line, n->col, path, "control characters are not allowed here; got %s",
                   got);
            free(got);
            return false;
        }
    }
    *out = hfs_strdup(n->text);
    return true;
}

static bool get_bool(ctx *c, const hfs_ynode *n, const char *path, bool *out)
{
    if (n->kind != HFS_YBOOL) {
        report_type(c, n, path, "true or false");
        return false;
    }
    *out = n->boolean;
    return true;
}

static bool get_enum(ctx *c, const hfs_ynode *n, const char *path, const char *const *names,
                     int *out)
{
    if (n->kind == HFS_YSTR)
        for (int i = 0; names[i]; i++)
            if (strcmp(n->text, names[i]) == 0) {
                *out = i;
                return true;
            }
    hfs_buf list = HFS_BUF_INIT;
    for (size_t i = 0; names[i]; i++)
        hfs_buf_printf(&list, "%s%s", i ? ", " : "", names[i]);
    char *got = found(n);
    report(c, n->line, n->col, path, "expected one of %s; got %s", list.ptr, got);
    free(got);
    hfs_buf_free(&list);
    return false;
}

static bool get_count(ctx *c, const hfs_ynode *n, const char *path, int64_t min, uint64_t *out)
{
    if (n->kind != HFS_YINT || n->integer < min) {
        char *want = hfs_sprintf("a whole number of at least %lld", (long long)min);
        report_type(c, n, path, want);
        free(want);
        return false;
    }
    *out = (uint64_t)n->integer;
    return true;
}

/* Sizes and durations: a whole number, or a string with a unit. */
static bool get_quantity(ctx *c, const hfs_ynode *n, const char *path, bool is_size, uint64_t *out)
{
    const char *what = is_size ? "a size like 500MB, 1.5GiB or a number of bytes"
                               : "a duration like 90s, 10m, 1h, 1d or a number of seconds";
    if (n->kind == HFS_YINT) {
        if (n->integer <= 0) {
            report(c, n->line, n->col, path, "expected %s above 0; got %s",
                   is_size ? "a size" : "a duration", n->text);
            return false;
        }
        *out = (uint64_t)n->integer;
        return true;
    }
    if (n->kind != HFS_YSTR) {
        report_type(c, n, path, what);
        return false;
    }
    int rc = is_size ? hfs_size_parse(out, n->text) : hfs_duration_parse(out, n->text);
    if (rc) {
        report_last(c, n, path);
        return false;
    }
    return true;
}

static int check_pattern(const char *pattern)
{
    if (!*pattern)
        return hfs_error_set(HFS_EINVALID, "an empty pattern matches no file; remove it");
    hfs_pattern_set *set = NULL;
    int rc = hfs_pattern_set_compile(&set, &pattern, 1, NULL);
    hfs_pattern_set_free(set);
    return rc;
}

static void free_list(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

/* A list of glob patterns; a single string stands for a one-item list. */
static bool get_patterns(ctx *c, const hfs_ynode *n, const char *path, bool allow_empty,
                         char ***out, size_t *count)
{
    const hfs_ynode *const *items = (const hfs_ynode *const *)&n;
    size_t n_items = 1;
    if (n->kind == HFS_YSEQ) {
        items = (const hfs_ynode *const *)n->items;
        n_items = n->n_items;
    } else if (n->kind != HFS_YSTR) {
        report_type(c, n, path, "a pattern or a list of patterns");
        return false;
    }
    if (n_items == 0 && !allow_empty) {
        report(c, n->line, n->col, path,
               "an empty list allows no file at all; leave the key out to allow every file");
        return false;
    }
    bool ok = true;
    char **list = hfs_calloc(n_items ? n_items : 1, sizeof(*list));
    size_t got = 0;
    for (size_t i = 0; i < n_items; i++) {
        char *ipath = n->kind == HFS_YSEQ ? hfs_sprintf("%s[%zu]", path, i) : hfs_strdup(path);
        char *p = NULL;
        if (!get_string(c, items[i], ipath, false, &p)) {
            ok = false;
        } else if (check_pattern(p)) {
            report_last(c, items[i], ipath);
            free(p);
            ok = false;
        } else {
            list[got++] = p;
        }
        free(ipath);
    }
    if (!ok) {
        free_list(list, got);
        return false;
    }
    *out = list;
    *count = got;
    return true;
}

/* Resolves a folder_path against the manifest's folder and checks it is a folder. */
static int resolve_folder(char **out, const char *dir, const char *path)
{
    *out = NULL;
    if (!*path)
        return hfs_error_set(HFS_EINVALID, "expected a folder path; got \"\" (use \".\" for the "
                                           "manifest's own folder)");
    char *joined = path[0] == '/' ? hfs_strdup(path) : hfs_path_join(dir, path);
    struct stat st;
    int rc = 0;
    if (stat(joined, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            rc = hfs_error_set(HFS_EINVALID,
                               "folder \"%s\" does not exist (relative paths start at the "
                               "manifest's folder)%s",
                               path, path[0] == '~' ? "; '~' is not expanded" : "");
        else
            rc = hfs_error_set(HFS_EINVALID, "cannot use folder \"%s\": %s", path, strerror(errno));
    } else if (!S_ISDIR(st.st_mode)) {
        rc = hfs_error_set(HFS_EINVALID, "\"%s\" is not a folder", path);
    } else {
        char *real = realpath(joined, NULL);
        if (!real)
            rc = hfs_error_set(HFS_EINVALID, "cannot resolve folder \"%s\": %s", path,
                               strerror(errno));
        else if (strcmp(real, "/") == 0)
            /* Through ".." chains or a symlink: never what a sync means, and its scan would
             * offer the whole machine for upload. */
            rc = hfs_error_set(HFS_EINVALID,
                               "folder \"%s\" is the filesystem root \"/\": name the folder "
                               "to sync",
                               path);
        else
            *out = hfs_strdup(real);
        free(real);
    }
    free(joined);
    return rc;
}

static void sync_clear(hfs_sync *s)
{
    free(s->name);
    free(s->repo_id);
    free(s->revision);
    free(s->space_sdk);
    free(s->folder_path);
    free(s->folder_abs);
    free(s->path_in_repo);
    free_list(s->allow_patterns, s->n_allow_patterns);
    free_list(s->ignore_patterns, s->n_ignore_patterns);
    free_list(s->delete_patterns, s->n_delete_patterns);
    free(s->commit.message);
    free(s->commit.description);
    free_list(s->schedule_pack.patterns, s->schedule_pack.n_patterns);
    free(s->schedule_pack.name);
    if (s->extra) {
        hfs_pattern_set_free(s->extra->allow);
        hfs_pattern_set_free(s->extra->ignore);
        hfs_pattern_set_free(s->extra->delete_set);
        hfs_pattern_set_free(s->extra->pack_set);
        free(s->extra);
    }
    memset(s, 0, sizeof(*s));
}

static void mark(hfs_sync *s, field f, const hfs_ynode *n, bool ok)
{
    s->extra->src[f].set = true;
    s->extra->src[f].bad = !ok;
    s->extra->src[f].pos = (hfs_srcpos){n->line, n->col};
}

static void parse_create(ctx *c, const hfs_ynode *n, const char *path, hfs_sync *s)
{
    if (n->kind == HFS_YBOOL) {
        s->create = n->boolean;
        mark(s, F_CREATE, n, true);
        return;
    }
    if (n->kind != HFS_YMAP) {
        report_type(c, n, path, "true, false or a mapping like { private: true }");
        mark(s, F_CREATE, n, false);
        return;
    }
    s->create = true;
    mark(s, F_CREATE, n, true);
    for (size_t i = 0; i < n->n_pairs; i++) {
        const hfs_ynode *k = n->pairs[i].key, *v = n->pairs[i].value;
        char *kp = key_join(path, k->text);
        if (strcmp(k->text, "private") == 0) {
            mark(s, F_CREATE_PRIVATE, v, get_bool(c, v, kp, &s->create_private));
        } else if (strcmp(k->text, "space_sdk") == 0) {
            int sdk;
            bool ok = get_enum(c, v, kp, space_sdk_names, &sdk);
            if (ok)
                s->space_sdk = hfs_strdup(space_sdk_names[sdk]);
            mark(s, F_SPACE_SDK, v, ok);
        } else {
            report_unknown(c, k, path, create_keys);
        }
        free(kp);
    }
}

static void parse_commit(ctx *c, const hfs_ynode *n, const char *path, hfs_sync *s)
{
    if (n->kind != HFS_YMAP) {
        report_type(c, n, path, "a mapping of commit settings");
        return;
    }
    for (size_t i = 0; i < n->n_pairs; i++) {
        const hfs_ynode *k = n->pairs[i].key, *v = n->pairs[i].value;
        char *kp = key_join(path, k->text);
        bool ok;
        int e;
        if (strcmp(k->text, "message") == 0) {
            ok = get_string(c, v, kp, false, &s->commit.message);
            if (ok && !*s->commit.message) {
                report(c, v->line, v->col, kp,
                       "expected a commit message; got \"\" (the hub refuses empty ones)");
                ok = false;
            }
            mark(s, F_MESSAGE, v, ok);
        } else if (strcmp(k->text, "description") == 0) {
            mark(s, F_DESCRIPTION, v, get_string(c, v, kp, true, &s->commit.description));
        } else if (strcmp(k->text, "strategy") == 0) {
            ok = get_enum(c, v, kp, strategy_names, &e);
            s->commit.strategy = ok ? (hfs_commit_strategy)e : HFS_STRATEGY_SINGLE;
            mark(s, F_STRATEGY, v, ok);
        } else if (strcmp(k->text, "max_files") == 0) {
            mark(s, F_MAX_FILES, v, get_count(c, v, kp, 1, &s->commit.max_files));
        } else if (strcmp(k->text, "max_bytes") == 0) {
            mark(s, F_MAX_BYTES, v, get_quantity(c, v, kp, true, &s->commit.max_bytes));
        } else if (strcmp(k->text, "create_pr") == 0) {
            mark(s, F_CREATE_PR, v, get_bool(c, v, kp, &s->commit.create_pr));
        } else {
            report_unknown(c, k, path, commit_keys);
        }
        free(kp);
    }
}

static void parse_pack(ctx *c, const hfs_ynode *n, const char *path, hfs_sync *s,
                       bool in_defaults)
{
    hfs_pack_settings *p = &s->schedule_pack;
    if (n->kind != HFS_YMAP) {
        report_type(c, n, path, "a mapping like { patterns: [\"*.png\"] }");
        mark(s, F_PACK, n, false);
        return;
    }
    p->enabled = true;
    mark(s, F_PACK, n, true);
    for (size_t i = 0; i < n->n_pairs; i++) {
        const hfs_ynode *k = n->pairs[i].key, *v = n->pairs[i].value;
        char *kp = key_join(path, k->text);
        bool ok;
        int e;
        if (strcmp(k->text, "patterns") == 0) {
            ok = get_patterns(c, v, kp, true, &p->patterns, &p->n_patterns);
            if (ok && p->n_patterns == 0) {
                report(c, v->line, v->col, kp,
                       "an empty list packs nothing; list the files to pack, e.g. [\"*.png\"]");
                ok = false;
            }
            mark(s, F_PACK_PATTERNS, v, ok);
        } else if (strcmp(k->text, "format") == 0) {
            ok = get_enum(c, v, kp, pack_format_names, &e);
            p->format = ok ? (hfs_pack_format)e : HFS_PACK_ZIP;
            mark(s, F_PACK_FORMAT, v, ok);
        } else if (strcmp(k->text, "name") == 0) {
            ok = get_string(c, v, kp, false, &p->name);
            char *sample = NULL;
            if (ok && hfs_pack_name_expand(&sample, p->name, "20260101T000000Z")) {
                report_last(c, v, kp);
                ok = false;
            }
            free(sample);
            mark(s, F_PACK_NAME, v, ok);
        } else if (strcmp(k->text, "remove_local") == 0) {
            mark(s, F_PACK_REMOVE, v, get_bool(c, v, kp, &p->remove_local));
        } else {
            report_unknown(c, k, path, pack_keys);
        }
        free(kp);
    }
    /* Without patterns a pack would take nothing, or everything: neither is meant. */
    if (!s->extra->src[F_PACK_PATTERNS].set && (in_defaults || !c->defaults_pack_patterns))
        report(c, n->line, n->col, path,
               "missing required key \"patterns\" (the files to pack, e.g. patterns: "
               "[\"*.png\"])");
}

static void parse_schedule(ctx *c, const hfs_ynode *n, const char *path, hfs_sync *s,
                           bool in_defaults)
{
    if (n->kind != HFS_YMAP) {
        report_type(c, n, path, "a mapping like { every: 10m }");
        mark(s, F_SCHEDULE, n, false);
        return;
    }
    s->scheduled = true;
    mark(s, F_SCHEDULE, n, true);
    for (size_t i = 0; i < n->n_pairs; i++) {
        const hfs_ynode *k = n->pairs[i].key, *v = n->pairs[i].value;
        char *kp = key_join(path, k->text);
        if (strcmp(k->text, "every") == 0)
            mark(s, F_EVERY, v, get_quantity(c, v, kp, false, &s->schedule_every));
        else if (strcmp(k->text, "append_only") == 0)
            mark(s, F_APPEND_ONLY, v, get_bool(c, v, kp, &s->schedule_append_only));
        else if (strcmp(k->text, "squash_history") == 0)
            mark(s, F_SQUASH, v, get_bool(c, v, kp, &s->schedule_squash_history));
        else if (strcmp(k->text, "pack") == 0)
            parse_pack(c, v, kp, s, in_defaults);
        else
            report_unknown(c, k, path, schedule_keys);
        free(kp);
    }
    /* A schedule needs its period, from here or from defaults.schedule. */
    if (!s->extra->src[F_EVERY].set && (in_defaults || !c->defaults_every))
        report(c, n->line, n->col, path, "missing required key \"every\" (e.g. every: 10m)");
}

/* Reads the settings of one sync (or of `defaults`) into s; problems are reported as found. */
static void parse_sync_fields(ctx *c, const hfs_ynode *map, const char *prefix, hfs_sync *s,
                              bool in_defaults)
{
    for (size_t i = 0; i < map->n_pairs; i++) {
        const hfs_ynode *k = map->pairs[i].key, *v = map->pairs[i].value;
        const char *key = k->text;
        char *kp = key_join(prefix, key);
        bool ok;
        int e;
        if (strcmp(key, "repo_id") == 0) {
            ok = get_string(c, v, kp, false, &s->repo_id);
            if (ok && hfs_repo_id_validate(s->repo_id)) {
                report_last(c, v, kp);
                ok = false;
            }
            mark(s, F_REPO_ID, v, ok);
        } else if (strcmp(key, "repo_type") == 0) {
            ok = get_enum(c, v, kp, repo_type_names, &e);
            s->repo_type = ok ? (hfs_repo_type)e : HFS_REPO_MODEL;
            mark(s, F_REPO_TYPE, v, ok);
        } else if (strcmp(key, "revision") == 0) {
            ok = get_string(c, v, kp, false, &s->revision);
            if (ok && hfs_revision_validate(s->revision)) {
                report_last(c, v, kp);
                ok = false;
            }
            mark(s, F_REVISION, v, ok);
        } else if (strcmp(key, "create") == 0) {
            parse_create(c, v, kp, s);
        } else if (strcmp(key, "folder_path") == 0) {
            ok = get_string(c, v, kp, false, &s->folder_path);
            if (ok && resolve_folder(&s->folder_abs, c->dir, s->folder_path)) {
                report_last(c, v, kp);
                ok = false;
            }
            mark(s, F_FOLDER_PATH, v, ok);
        } else if (strcmp(key, "path_in_repo") == 0) {
            char *raw = NULL;
            ok = get_string(c, v, kp, false, &raw);
            if (ok && hfs_path_in_repo_normalize(&s->path_in_repo, raw)) {
                report_last(c, v, kp);
                ok = false;
            }
            free(raw);
            mark(s, F_PATH_IN_REPO, v, ok);
        } else if (strcmp(key, "allow_patterns") == 0) {
            mark(s, F_ALLOW, v,
                 get_patterns(c, v, kp, false, &s->allow_patterns, &s->n_allow_patterns));
        } else if (strcmp(key, "ignore_patterns") == 0) {
            mark(s, F_IGNORE, v,
                 get_patterns(c, v, kp, true, &s->ignore_patterns, &s->n_ignore_patterns));
        } else if (strcmp(key, "delete_patterns") == 0) {
            mark(s, F_DELETE, v,
                 get_patterns(c, v, kp, true, &s->delete_patterns, &s->n_delete_patterns));
        } else if (strcmp(key, "gitignore") == 0) {
            mark(s, F_GITIGNORE, v, get_bool(c, v, kp, &s->gitignore));
        } else if (strcmp(key, "commit") == 0) {
            parse_commit(c, v, kp, s);
        } else if (strcmp(key, "transport") == 0) {
            ok = get_enum(c, v, kp, transport_names, &e);
            s->transport = ok ? (hfs_transport)e : HFS_TRANSPORT_HTTP;
            mark(s, F_TRANSPORT, v, ok);
        } else if (strcmp(key, "max_delete") == 0) {
            mark(s, F_MAX_DELETE, v, get_count(c, v, kp, 0, &s->max_delete));
        } else if (strcmp(key, "schedule") == 0) {
            parse_schedule(c, v, kp, s, in_defaults);
        } else {
            report_unknown(c, k, prefix, sync_keys);
        }
        free(kp);
    }
}

static char **copy_list(char **items, size_t n)
{
    char **out = hfs_calloc(n ? n : 1, sizeof(*out));
    for (size_t i = 0; i < n; i++)
        out[i] = hfs_strdup(items[i]);
    return out;
}

static char *dup_or_null(const char *s)
{
    return s ? hfs_strdup(s) : NULL;
}

/* Copies one setting from `defaults` into a sync that does not set it. */
static void inherit_field(hfs_sync *s, const hfs_sync *d, field f)
{
    switch (f) {
    case F_REPO_ID:
        s->repo_id = dup_or_null(d->repo_id);
        break;
    case F_REPO_TYPE:
        s->repo_type = d->repo_type;
        break;
    case F_REVISION:
        s->revision = dup_or_null(d->revision);
        break;
    case F_CREATE:
        s->create = d->create;
        break;
    case F_CREATE_PRIVATE:
        s->create_private = d->create_private;
        break;
    case F_SPACE_SDK:
        s->space_sdk = dup_or_null(d->space_sdk);
        break;
    case F_FOLDER_PATH:
        s->folder_path = dup_or_null(d->folder_path);
        s->folder_abs = dup_or_null(d->folder_abs);
        break;
    case F_PATH_IN_REPO:
        s->path_in_repo = dup_or_null(d->path_in_repo);
        break;
    case F_ALLOW:
        s->allow_patterns = copy_list(d->allow_patterns, d->n_allow_patterns);
        s->n_allow_patterns = d->n_allow_patterns;
        break;
    case F_IGNORE:
        s->ignore_patterns = copy_list(d->ignore_patterns, d->n_ignore_patterns);
        s->n_ignore_patterns = d->n_ignore_patterns;
        break;
    case F_DELETE:
        s->delete_patterns = copy_list(d->delete_patterns, d->n_delete_patterns);
        s->n_delete_patterns = d->n_delete_patterns;
        break;
    case F_GITIGNORE:
        s->gitignore = d->gitignore;
        break;
    case F_MESSAGE:
        s->commit.message = dup_or_null(d->commit.message);
        break;
    case F_DESCRIPTION:
        s->commit.description = dup_or_null(d->commit.description);
        break;
    case F_STRATEGY:
        s->commit.strategy = d->commit.strategy;
        break;
    case F_MAX_FILES:
        s->commit.max_files = d->commit.max_files;
        break;
    case F_MAX_BYTES:
        s->commit.max_bytes = d->commit.max_bytes;
        break;
    case F_CREATE_PR:
        s->commit.create_pr = d->commit.create_pr;
        break;
    case F_TRANSPORT:
        s->transport = d->transport;
        break;
    case F_MAX_DELETE:
        s->max_delete = d->max_delete;
        break;
    case F_SCHEDULE:
        s->scheduled = d->scheduled;
        break;
    case F_EVERY:
        s->schedule_every = d->schedule_every;
        break;
    case F_APPEND_ONLY:
        s->schedule_append_only = d->schedule_append_only;
        break;
    case F_SQUASH:
        s->schedule_squash_history = d->schedule_squash_history;
        break;
    case F_PACK:
        s->schedule_pack.enabled = d->schedule_pack.enabled;
        break;
    case F_PACK_PATTERNS:
        s->schedule_pack.patterns =
            copy_list(d->schedule_pack.patterns, d->schedule_pack.n_patterns);
        s->schedule_pack.n_patterns = d->schedule_pack.n_patterns;
        break;
    case F_PACK_FORMAT:
        s->schedule_pack.format = d->schedule_pack.format;
        break;
    case F_PACK_NAME:
        s->schedule_pack.name = dup_or_null(d->schedule_pack.name);
        break;
    case F_PACK_REMOVE:
        s->schedule_pack.remove_local = d->schedule_pack.remove_local;
        break;
    case F_COUNT:
        break;
    }
}

/* Settings neither the sync nor `defaults` wrote get hfsync's built-in values. */
static void apply_builtin_defaults(hfs_sync *s)
{
    const field_src *src = s->extra->src;
    if (!src[F_REVISION].set)
        s->revision = hfs_strdup(HFS_DEFAULT_REVISION);
    if (!src[F_PATH_IN_REPO].set)
        s->path_in_repo = hfs_strdup("");
    if (!src[F_GITIGNORE].set)
        s->gitignore = true;
    if (!src[F_MESSAGE].set)
        s->commit.message = hfs_strdup(s->scheduled ? HFS_DEFAULT_SCHEDULED_MESSAGE
                                                    : HFS_DEFAULT_COMMIT_MESSAGE);
    if (!src[F_DESCRIPTION].set)
        s->commit.description = hfs_strdup("");
    if (!src[F_MAX_FILES].set)
        s->commit.max_files = HFS_DEFAULT_MAX_FILES;
    if (!src[F_MAX_BYTES].set)
        s->commit.max_bytes = HFS_DEFAULT_MAX_BYTES;
    if (!src[F_MAX_DELETE].set)
        s->max_delete = HFS_DEFAULT_MAX_DELETE;
    if (s->repo_type == HFS_REPO_SPACE && !s->space_sdk)
        s->space_sdk = hfs_strdup(HFS_DEFAULT_SPACE_SDK);
    /* Bad values were reported already; give their fields something freeable. */
    if (!s->revision)
        s->revision = hfs_strdup(HFS_DEFAULT_REVISION);
    if (!s->path_in_repo)
        s->path_in_repo = hfs_strdup("");
    if (!s->commit.message)
        s->commit.message = hfs_strdup(HFS_DEFAULT_COMMIT_MESSAGE);
    if (!s->commit.description)
        s->commit.description = hfs_strdup("");
    if (!s->allow_patterns)
        s->allow_patterns = hfs_calloc(1, sizeof(char *));
    if (!s->ignore_patterns)
        s->ignore_patterns = hfs_calloc(1, sizeof(char *));
    if (!s->delete_patterns)
        s->delete_patterns = hfs_calloc(1, sizeof(char *));
    if (!s->schedule_pack.name)
        s->schedule_pack.name = hfs_strdup(HFS_DEFAULT_PACK_NAME);
    if (!s->schedule_pack.patterns)
        s->schedule_pack.patterns = hfs_calloc(1, sizeof(char *));
}

/* The key path of where a setting of this sync is written: "syncs.NAME.x" or "defaults.x". */
static char *field_path(const hfs_sync *s, field f)
{
    if (s->extra->src[f].from_defaults)
        return hfs_sprintf("defaults.%s", field_key[f]);
    if (!s->name)
        return hfs_strdup(field_key[f]);
    return hfs_sprintf("syncs.%s.%s", s->name, field_key[f]);
}

static void report_field(ctx *c, const hfs_sync *s, field f, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void report_field(ctx *c, const hfs_sync *s, field f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = hfs_vsprintf(fmt, ap);
    va_end(ap);
    char *path = field_path(s, f);
    hfs_srcpos p = s->extra->src[f].pos;
    report(c, p.line, p.col, path, "%s", msg);
    free(path);
    free(msg);
}

/* Of two settings that clash, the one written in the sync itself is the one to point at. */
static field pick(const hfs_sync *s, field a, field b)
{
    return s->extra->src[a].from_defaults && !s->extra->src[b].from_defaults ? b : a;
}

/* Checks that need the whole sync (after defaults): required keys and settings that clash.
 * `where` is the place of the sync's name, for missing keys. */
static void check_sync(ctx *c, hfs_sync *s, hfs_srcpos where, const char *path)
{
    const field_src *src = s->extra->src;
    static const field required[] = {F_REPO_ID, F_FOLDER_PATH};
    for (size_t i = 0; i < HFS_ARRAY_LEN(required); i++)
        if (!src[required[i]].set)
            report(c, where.line, where.col, path, "missing required key \"%s\"",
                   field_key[required[i]]);
    bool usable = true;
    for (int f = 0; f < F_COUNT; f++)
        usable = usable && !src[f].bad;
    if (!usable)
        return; /* a clash with a refused value would only repeat the first problem */
    if (s->commit.create_pr && hfs_str_starts_with(s->revision, "refs/pr/")) {
        field f = pick(s, F_REVISION, F_CREATE_PR);
        report_field(c, s, f,
                     "commit.create_pr opens a new pull request, but revision \"%s\" already is "
                     "one; set create_pr: false to add commits to it",
                     s->revision);
    }
    if (s->commit.create_pr && s->commit.strategy == HFS_STRATEGY_LARGE)
        report_field(c, s, pick(s, F_CREATE_PR, F_STRATEGY),
                     "strategy large commits straight to the branch, so create_pr cannot be "
                     "true; use strategy multi to go through a pull request");
    if (src[F_SPACE_SDK].set && s->repo_type != HFS_REPO_SPACE)
        report_field(c, s, F_SPACE_SDK,
                     "space_sdk is only for repo_type: space (this repo is a %s)",
                     hfs_repo_type_name(s->repo_type));
    if (s->scheduled && s->schedule_append_only && s->n_delete_patterns > 0)
        report_field(c, s, pick(s, F_DELETE, F_APPEND_ONLY),
                     "delete_patterns cannot be used with schedule.append_only: true (an "
                     "append-only sync never deletes)");
    if (s->scheduled && s->schedule_squash_history && s->commit.create_pr)
        report_field(c, s, pick(s, F_SQUASH, F_CREATE_PR),
                     "schedule.squash_history squashes the branch each push lands on, but with "
                     "commit.create_pr the pushes land in pull requests; set create_pr: false");
}

static int compile_sets(hfs_sync *s)
{
    int rc = hfs_pattern_set_compile(&s->extra->allow, (const char *const *)s->allow_patterns,
                                     s->n_allow_patterns, NULL);
    if (rc == 0)
        rc = hfs_pattern_set_compile(&s->extra->ignore, (const char *const *)s->ignore_patterns,
                                     s->n_ignore_patterns, NULL);
    if (rc == 0)
        rc = hfs_pattern_set_compile(&s->extra->delete_set, (const char *const *)s->delete_patterns,
                                     s->n_delete_patterns, NULL);
    if (rc == 0)
        rc = hfs_pattern_set_compile(&s->extra->pack_set,
                                     (const char *const *)s->schedule_pack.patterns,
                                     s->schedule_pack.n_patterns, NULL);
    return rc;
}

static bool valid_sync_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        bool alnum =
            (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        if (!alnum && (i == 0 || (ch != '.' && ch != '_' && ch != '-')))
            return false;
    }
    return true;
}

static void manifest_free_syncs(hfs_manifest *m)
{
    for (size_t i = 0; i < m->n_syncs; i++)
        sync_clear(&m->syncs[i]);
    free(m->syncs);
    m->syncs = NULL;
    m->n_syncs = 0;
}

void hfs_manifest_free(hfs_manifest *m)
{
    if (!m)
        return;
    manifest_free_syncs(m);
    free(m->path);
    free(m->dir);
    free(m->endpoint);
    free(m);
}

/* Reads the top level and every sync of a parsed document into m. */
static void read_document(ctx *c, const hfs_ynode *root, hfs_manifest *m)
{
    if (!root || root->kind == HFS_YNULL) {
        report(c, 1, 1, "",
               "the file is empty; a manifest needs \"version: 1\" and a \"syncs\" mapping");
        return;
    }
    if (root->kind != HFS_YMAP) {
        report(c, root->line, root->col, "",
               "expected a mapping with \"version\" and \"syncs\" at the top level; got %s",
               hfs_ykind_name(root->kind));
        return;
    }
    const hfs_ynode *version = NULL, *syncs = NULL, *defaults = NULL;
    for (size_t i = 0; i < root->n_pairs; i++) {
        const hfs_ynode *k = root->pairs[i].key, *v = root->pairs[i].value;
        if (strcmp(k->text, "version") == 0)
            version = v;
        else if (strcmp(k->text, "syncs") == 0)
            syncs = v;
        else if (strcmp(k->text, "defaults") == 0)
            defaults = v;
        else if (strcmp(k->text, "endpoint") == 0) {
            char *url = NULL;
            if (get_string(c, v, "endpoint", false, &url) &&
                hfs_endpoint_normalize(&m->endpoint, url))
                report_last(c, v, "endpoint");
            free(url);
        } else if (!hfs_str_starts_with(k->text, "x-")) {
            /* x-… keys are free for the user's own anchors, as in docker-compose files. */
            report_unknown(c, k, "", top_keys);
        }
    }
    if (!version)
        report(c, root->line, root->col, "",
               "missing required key \"version\" (add \"version: 1\" at the top)");
    else if (version->kind != HFS_YINT || version->integer != HFS_MANIFEST_VERSION)
        report_type(c, version, "version", "1 (the only manifest version)");
    m->version = HFS_MANIFEST_VERSION;

    hfs_sync d = {0};
    d.extra = hfs_calloc(1, sizeof(*d.extra));
    if (defaults && defaults->kind == HFS_YMAP) {
        parse_sync_fields(c, defaults, "defaults", &d, true);
        c->defaults_every = d.extra->src[F_EVERY].set;
        c->defaults_pack_patterns = d.extra->src[F_PACK_PATTERNS].set;
    } else if (defaults && defaults->kind != HFS_YNULL) {
        /* An empty `defaults:` (everything under it commented out) is fine. */
        report_type(c, defaults, "defaults", "a mapping of settings every sync inherits");
    }

    if (!syncs) {
        report(c, root->line, root->col, "",
               "missing required key \"syncs\" (a mapping of sync names to settings)");
    } else if (syncs->kind != HFS_YMAP) {
        report_type(c, syncs, "syncs", "a mapping of sync names to settings");
    } else if (syncs->n_pairs == 0) {
        report(c, syncs->line, syncs->col, "syncs", "expected at least one sync");
    } else {
        m->syncs = hfs_calloc(syncs->n_pairs, sizeof(*m->syncs));
        for (size_t i = 0; i < syncs->n_pairs; i++) {
            const hfs_ynode *k = syncs->pairs[i].key, *v = syncs->pairs[i].value;
            char *path = hfs_sprintf("syncs.%s", k->text);
            hfs_sync *s = &m->syncs[m->n_syncs++];
            s->name = hfs_strdup(k->text);
            s->pos = (hfs_srcpos){k->line, k->col};
            s->extra = hfs_calloc(1, sizeof(*s->extra));
            if (!valid_sync_name(k->text)) {
                char *got = found(k);
                report(c, k->line, k->col, path,
                       "a sync name is 1 to 64 letters, digits, '.', '_' or '-', starting with a "
                       "letter or digit; got %s",
                       got);
                free(got);
            }
            if (v->kind != HFS_YMAP) {
                report_type(c, v, path, "a mapping of settings");
                free(path);
                continue;
            }
            parse_sync_fields(c, v, path, s, false);
            for (int f = 0; f < F_COUNT; f++)
                if (!s->extra->src[f].set && d.extra->src[f].set) {
                    inherit_field(s, &d, (field)f);
                    s->extra->src[f] = d.extra->src[f];
                    s->extra->src[f].from_defaults = true;
                }
            apply_builtin_defaults(s);
            check_sync(c, s, s->pos, path);
            free(path);
        }
    }
    sync_clear(&d);
}

/* Drops repeats: a problem in `defaults` or in an aliased value is found once per sync. */
static void dedupe_diags(hfs_diag_list *l, size_t from)
{
    size_t out = from;
    for (size_t i = from; i < l->count; i++) {
        bool seen = false;
        for (size_t j = from; j < out && !seen; j++)
            seen = l->items[j].line == l->items[i].line && l->items[j].col == l->items[i].col &&
                   strcmp(l->items[j].key_path, l->items[i].key_path) == 0 &&
                   strcmp(l->items[j].message, l->items[i].message) == 0;
        if (seen) {
            free(l->items[i].file);
            free(l->items[i].key_path);
            free(l->items[i].message);
        } else {
            l->items[out++] = l->items[i];
        }
    }
    l->count = out;
}

static int load_text(hfs_manifest **out, const char *text, size_t len, const char *name,
                     const char *dir, hfs_diag_list *user_diags)
{
    hfs_diag_list local = HFS_DIAG_LIST_INIT;
    hfs_diag_list *diags = user_diags ? user_diags : &local;
    size_t first = diags->count;
    hfs_ydoc *doc = NULL;
    hfs_manifest *m = hfs_calloc(1, sizeof(*m));
    int rc = 0;
    *out = NULL;
    m->path = hfs_strdup(name);
    m->dir = hfs_strdup(dir);
    hfs_sha256_hex(m->digest, text, len);

    ctx c = {name, dir, diags, false, false};
    if (len == 0) {
        report(&c, 1, 1, "",
               "the file is empty; a manifest needs \"version: 1\" and a \"syncs\" mapping");
    } else if ((rc = hfs_yaml_parse(&doc, text, len, name, diags)) == 0) {
        read_document(&c, hfs_ydoc_root(doc), m);
    } else if (diags->count == first && !diags->dropped) {
        goto done; /* not a problem of the file (out of memory): the last error says what */
    }
    if (diags->count > first || diags->dropped) {
        dedupe_diags(diags, first);
        hfs_diag_list_sort(diags);
        size_t n = diags->count - first + diags->dropped;
        rc = hfs_error_set(HFS_EINVALID, "%s: %zu problem%s, the first: %s", name, n,
                           n == 1 ? "" : "s", diags->items[first].message);
        goto done;
    }
    for (size_t i = 0; i < m->n_syncs; i++)
        if ((rc = compile_sets(&m->syncs[i])) != 0)
            goto done;
    *out = m;
    m = NULL;
done:
    hfs_manifest_free(m);
    hfs_ydoc_free(doc);
    hfs_diag_list_free(&local);
    return rc;
}

int hfs_manifest_load_string(hfs_manifest **out, const char *text, size_t len, const char *name,
                             const char *base_dir, hfs_diag_list *diags)
{
    *out = NULL;
    char *dir = realpath(base_dir, NULL);
    if (!dir)
        return hfs_error_set(HFS_ENOTFOUND, "cannot use folder %s: %s", base_dir, strerror(errno));
    int rc = load_text(out, text, len, name, dir, diags);
    free(dir);
    return rc;
}

int hfs_manifest_load(hfs_manifest **out, const char *path, hfs_diag_list *diags)
{
    char *text = NULL, *copy = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = hfs_read_file(&text, &len, path, HFS_MANIFEST_MAX_BYTES);
    if (rc == HFS_ELIMIT)
        rc = hfs_error_set(HFS_EINVALID,
                           "%s is larger than %u bytes; a manifest is a small settings file", path,
                           HFS_MANIFEST_MAX_BYTES);
    if (rc)
        goto done;
    copy = hfs_strdup(path);
    rc = hfs_manifest_load_string(out, text, len, path, dirname(copy), diags);
done:
    free(copy);
    free(text);
    return rc;
}

const hfs_sync *hfs_manifest_find_sync(const hfs_manifest *m, const char *name)
{
    for (size_t i = 0; m && i < m->n_syncs; i++)
        if (strcmp(m->syncs[i].name, name) == 0)
            return &m->syncs[i];
    return NULL;
}

const char *hfs_manifest_digest(const hfs_manifest *m)
{
    return m->digest;
}

hfs_srcpos hfs_sync_where(const hfs_sync *s, const char *key, bool *from_defaults)
{
    if (from_defaults)
        *from_defaults = false;
    for (int f = 0; f < F_COUNT; f++)
        if (strcmp(field_key[f], key) == 0 && s->extra && s->extra->src[f].set) {
            if (from_defaults)
                *from_defaults = s->extra->src[f].from_defaults;
            return s->extra->src[f].pos;
        }
    return (hfs_srcpos){0, 0};
}

const hfs_pattern_set *hfs_sync_allow_set(const hfs_sync *s)
{
    return s->extra->allow;
}

const hfs_pattern_set *hfs_sync_ignore_set(const hfs_sync *s)
{
    return s->extra->ignore;
}

const hfs_pattern_set *hfs_sync_delete_set(const hfs_sync *s)
{
    return s->extra->delete_set;
}

const hfs_pattern_set *hfs_sync_pack_set(const hfs_sync *s)
{
    return s->extra->pack_set;
}

int hfs_pack_name_expand(char **out, const char *name, const char *stamp)
{
    hfs_buf b = HFS_BUF_INIT;
    char *path = NULL;
    bool stamped = false;
    int rc = 0;
    *out = NULL;
    /* Checked as written, so a message quotes what the user wrote; expanded afterwards. */
    size_t len = strlen(name);
    if (len > 0 && name[len - 1] == '/') {
        rc = hfs_error_set(HFS_EINVALID, "\"%s\" names a folder; a pack name names a file", name);
        goto done;
    }
    if ((rc = hfs_path_in_repo_normalize(&path, name)) != 0)
        goto done;
    for (const char *p = path; *p;) {
        if (hfs_str_starts_with(p, HFS_PACK_TIMESTAMP)) {
            hfs_buf_puts(&b, stamp);
            p += strlen(HFS_PACK_TIMESTAMP);
            stamped = true;
        } else if (*p == '{' || *p == '}') {
            rc = hfs_error_set(HFS_EINVALID,
                               "\"%s\" has a '%c' that is not part of {timestamp}, the only "
                               "placeholder a pack name may hold",
                               name, *p);
            goto done;
        } else {
            hfs_buf_putc(&b, *p++);
        }
    }
    if (!stamped) {
        rc = hfs_error_set(HFS_EINVALID,
                           "\"%s\" has no {timestamp}: every run needs an archive of its own, "
                           "e.g. \"images-{timestamp}.zip\"",
                           name);
        goto done;
    }
    *out = hfs_buf_detach(&b);
done:
    free(path);
    hfs_buf_free(&b);
    return rc;
}

/* Puts "key: " in front of the last error (copied first: the message lives in the buffer
 * that hfs_error_set writes). */
static int prefix_error(int rc, const char *key)
{
    char *msg = hfs_strdup(hfs_error_last());
    rc = hfs_error_set(rc, "%s: %s", key, msg);
    free(msg);
    return rc;
}

/* Patterns of a spec, checked one by one so the error names the bad one. */
static int spec_patterns(char ***out, size_t *count, const char *const *items, size_t n,
                         const char *key)
{
    *out = hfs_calloc(n ? n : 1, sizeof(**out));
    *count = 0;
    for (size_t i = 0; i < n; i++) {
        if (check_pattern(items[i]))
            return prefix_error(HFS_EINVALID, key);
        (*out)[(*count)++] = hfs_strdup(items[i]);
    }
    return 0;
}

/* The canonical text a spec-built manifest's digest is taken over: its settings as JSON. */
static void spec_digest(hfs_manifest *m)
{
    const hfs_sync *s = &m->syncs[0];
    json_t *lists[3] = {json_array(), json_array(), json_array()};
    for (size_t i = 0; i < s->n_allow_patterns; i++)
        json_array_append_new(lists[0], json_string(s->allow_patterns[i]));
    for (size_t i = 0; i < s->n_ignore_patterns; i++)
        json_array_append_new(lists[1], json_string(s->ignore_patterns[i]));
    for (size_t i = 0; i < s->n_delete_patterns; i++)
        json_array_append_new(lists[2], json_string(s->delete_patterns[i]));
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:b, s:b, s:s?, s:s, s:s, s:o, s:o, s:o, s:b, s:s, s:s, s:s, s:I, "
        "s:I, s:b, s:s, s:I, s:I, s:b, s:s?}",
        "name", s->name, "repo_id", s->repo_id, "repo_type", hfs_repo_type_name(s->repo_type),
        "revision", s->revision, "create", s->create, "private", s->create_private, "space_sdk",
        s->space_sdk, "folder", s->folder_abs, "path_in_repo", s->path_in_repo, "allow", lists[0],
        "ignore", lists[1], "delete", lists[2], "gitignore", s->gitignore, "message",
        s->commit.message, "description", s->commit.description, "strategy",
        hfs_commit_strategy_name(s->commit.strategy), "max_files", (json_int_t)s->commit.max_files,
        "max_bytes", (json_int_t)s->commit.max_bytes, "create_pr", s->commit.create_pr, "transport",
        hfs_transport_name(s->transport), "max_delete", (json_int_t)s->max_delete, "every",
        (json_int_t)s->schedule_every, "append_only", s->schedule_append_only, "endpoint",
        m->endpoint);
    char *text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    hfs_sha256_hex(m->digest, text, strlen(text));
    free(text);
    json_decref(j);
}

static void spec_string(char **out, const char *value, const char *fallback)
{
    *out = hfs_strdup(value ? value : fallback);
}

int hfs_manifest_new_single(hfs_manifest **out, const char *base_dir, const hfs_sync_spec *spec)
{
    hfs_manifest *m = hfs_calloc(1, sizeof(*m));
    hfs_diag_list diags = HFS_DIAG_LIST_INIT;
    int rc = 0;
    *out = NULL;
    m->path = hfs_strdup("<upload>");
    m->version = HFS_MANIFEST_VERSION;
    m->syncs = hfs_calloc(1, sizeof(*m->syncs));
    m->n_syncs = 1;
    hfs_sync *s = &m->syncs[0];
    s->extra = hfs_calloc(1, sizeof(*s->extra));
    if (spec->version != HFS_SYNC_SPEC_VERSION) {
        rc = hfs_error_set(HFS_EINVALID, "hfs_sync_spec version %d is not supported (expected %d)",
                           spec->version, HFS_SYNC_SPEC_VERSION);
        goto done;
    }
    m->dir = realpath(base_dir, NULL);
    if (!m->dir) {
        rc = hfs_error_set(HFS_ENOTFOUND, "cannot use folder %s: %s", base_dir, strerror(errno));
        goto done;
    }
    s->name = hfs_strdup(spec->name ? spec->name : "upload");
    if (!valid_sync_name(s->name)) {
        rc = hfs_error_set(HFS_EINVALID, "name: \"%s\" is not a valid sync name", s->name);
        goto done;
    }
#define CHECK(key, call)                                                                           \
    do {                                                                                           \
        if ((rc = (call)) != 0) {                                                                  \
            rc = prefix_error(rc, key);                                                            \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)
    if (!spec->repo_id) {
        rc = hfs_error_set(HFS_EINVALID, "repo_id: a repo id is required");
        goto done;
    }
    CHECK("repo_id", hfs_repo_id_validate(spec->repo_id));
    s->repo_id = hfs_strdup(spec->repo_id);
    s->repo_type = spec->repo_type;
    if (spec->revision)
        CHECK("revision", hfs_revision_validate(spec->revision));
    spec_string(&s->revision, spec->revision, HFS_DEFAULT_REVISION);
    s->create = spec->create;
    s->create_private = spec->create_private;
    if (spec->space_sdk) {
        bool known = false;
        for (size_t i = 0; space_sdk_names[i]; i++)
            known = known || strcmp(space_sdk_names[i], spec->space_sdk) == 0;
        if (!known) {
            rc = hfs_error_set(HFS_EINVALID,
                               "space_sdk: expected one of gradio, streamlit, docker, static; got "
                               "\"%s\"",
                               spec->space_sdk);
            goto done;
        }
        s->space_sdk = hfs_strdup(spec->space_sdk);
        s->extra->src[F_SPACE_SDK].set = true;
    }
    if (!spec->folder_path) {
        rc = hfs_error_set(HFS_EINVALID, "folder_path: a local folder is required");
        goto done;
    }
    CHECK("folder_path", resolve_folder(&s->folder_abs, m->dir, spec->folder_path));
    s->folder_path = hfs_strdup(spec->folder_path);
    CHECK("path_in_repo", hfs_path_in_repo_normalize(&s->path_in_repo,
                                                     spec->path_in_repo ? spec->path_in_repo : ""));
    if ((rc = spec_patterns(&s->allow_patterns, &s->n_allow_patterns, spec->allow_patterns,
                            spec->n_allow_patterns, "allow_patterns")) != 0 ||
        (rc = spec_patterns(&s->ignore_patterns, &s->n_ignore_patterns, spec->ignore_patterns,
                            spec->n_ignore_patterns, "ignore_patterns")) != 0 ||
        (rc = spec_patterns(&s->delete_patterns, &s->n_delete_patterns, spec->delete_patterns,
                            spec->n_delete_patterns, "delete_patterns")) != 0)
        goto done;
#undef CHECK
    s->gitignore = spec->gitignore;
    spec_string(&s->commit.message, spec->commit_message,
                spec->schedule_every > 0 ? HFS_DEFAULT_SCHEDULED_MESSAGE
                                         : HFS_DEFAULT_COMMIT_MESSAGE);
    spec_string(&s->commit.description, spec->commit_description, "");
    if (!*s->commit.message) {
        rc = hfs_error_set(HFS_EINVALID, "commit message: the hub refuses an empty one");
        goto done;
    }
    s->commit.strategy = spec->strategy;
    s->commit.max_files = spec->max_files;
    s->commit.max_bytes = spec->max_bytes;
    s->commit.create_pr = spec->create_pr;
    if (s->commit.max_files == 0 || s->commit.max_bytes == 0) {
        rc = hfs_error_set(HFS_EINVALID, "%s: must be above 0",
                           s->commit.max_files == 0 ? "max_files" : "max_bytes");
        goto done;
    }
    s->transport = spec->transport;
    s->max_delete = spec->max_delete;
    s->scheduled = spec->schedule_every > 0;
    s->schedule_every = spec->schedule_every;
    s->schedule_append_only = spec->schedule_append_only;
    s->schedule_pack.patterns = hfs_calloc(1, sizeof(char *));
    s->schedule_pack.name = hfs_strdup(HFS_DEFAULT_PACK_NAME);
    if (s->repo_type == HFS_REPO_SPACE && !s->space_sdk)
        s->space_sdk = hfs_strdup(HFS_DEFAULT_SPACE_SDK);
    if (spec->endpoint && (rc = hfs_endpoint_normalize(&m->endpoint, spec->endpoint)) != 0) {
        rc = prefix_error(rc, "endpoint");
        goto done;
    }

    /* The checks that need the whole sync are the manifest's own; their first problem
     * becomes the error. */
    ctx c = {m->path, m->dir, &diags, false, false};
    s->extra->src[F_REVISION].set = spec->revision != NULL;
    hfs_sync named = *s;
    named.name = NULL; /* key paths without "syncs.NAME." */
    hfs_srcpos nowhere = {0, 0};
    s->extra->src[F_REPO_ID].set = s->extra->src[F_FOLDER_PATH].set = true;
    check_sync(&c, &named, nowhere, "");
    if (diags.count > 0) {
        rc = hfs_error_set(HFS_EINVALID, "%s: %s", diags.items[0].key_path, diags.items[0].message);
        goto done;
    }
    if ((rc = compile_sets(s)) != 0)
        goto done;
    spec_digest(m);
    *out = m;
    m = NULL;
done:
    hfs_diag_list_free(&diags);
    hfs_manifest_free(m);
    return rc;
}
