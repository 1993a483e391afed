/* The plan file: built from each sync's diff and commit groups, written as pretty JSON with
 * sorted keys, read back strictly, and sealed by plan_id, the sha256 of its canonical form. */
#include "planner/plan.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/util.h"

const char *hfs_plan_mode_name(bool lfs)
{
    return lfs ? "lfs" : "regular";
}

hfs_plan *hfs_plan_new(const char *manifest_path, const char *manifest_digest, const char *endpoint)
{
    hfs_plan *p = hfs_calloc(1, sizeof(*p));
    p->format_version = HFS_PLAN_FORMAT_VERSION;
    p->tool = hfs_sprintf("hfsync %s", hfs_version());
    p->manifest_path = hfs_strdup(manifest_path);
    snprintf(p->manifest_digest, sizeof(p->manifest_digest), "%s", manifest_digest);
    p->endpoint = hfs_strdup(endpoint);
    return p;
}

static void op_free(hfs_plan_op *op)
{
    free(op->path);
    free(op->local);
    free(op->from);
}

static void sync_free(hfs_plan_sync *s)
{
    free(s->name);
    free(s->repo_id);
    free(s->revision);
    free(s->path_in_repo);
    free(s->folder);
    free(s->folder_path);
    free(s->create_sdk);
    for (size_t i = 0; i < s->n_warnings; i++)
        free(s->warnings[i]);
    free(s->warnings);
    for (size_t c = 0; c < s->n_commits; c++) {
        hfs_plan_commit *commit = &s->commits[c];
        for (size_t i = 0; i < commit->n_ops; i++)
            op_free(&commit->ops[i]);
        free(commit->ops);
        free(commit->message);
        free(commit->description);
    }
    free(s->commits);
}

void hfs_plan_free(hfs_plan *plan)
{
    if (!plan)
        return;
    for (size_t i = 0; i < plan->n_syncs; i++)
        sync_free(&plan->syncs[i]);
    free(plan->syncs);
    free(plan->tool);
    free(plan->manifest_path);
    free(plan->endpoint);
    free(plan);
}

/* ---- building from the diff ------------------------------------------------------------ */

static void op_from_diff(hfs_plan_op *dst, const hfs_op *op)
{
    memset(dst, 0, sizeof(*dst));
    dst->kind = op->kind;
    dst->lfs = op->lfs;
    dst->upload = op->upload;
    dst->path = hfs_strdup(op->path);
    if (op->remote)
        hfs_remote_entry_oid_hex(op->remote, dst->remote_oid);
    if (op->kind == HFS_OP_DELETE)
        return;
    const hfs_local_file *f = op->local;
    dst->local = hfs_strdup(f->rel_path);
    dst->size = f->size;
    dst->has_mtime = true;
    dst->mtime_ns = f->mtime_ns;
    if (f->has_sha1)
        memcpy(dst->sha1, f->sha1, sizeof(dst->sha1));
    if (f->has_sha256)
        memcpy(dst->sha256, f->sha256, sizeof(dst->sha256));
    if (f->has_check)
        memcpy(dst->check, f->check, sizeof(dst->check));
    if (op->kind == HFS_OP_COPY)
        dst->from = hfs_strdup(op->from->path);
}

void hfs_plan_add_sync(hfs_plan *plan, const hfs_plan_sync_input *in)
{
    const hfs_sync *sync = in->sync;
    const hfs_diff_result *d = in->diff;
    plan->syncs = hfs_realloc(plan->syncs, (plan->n_syncs + 1) * sizeof(*plan->syncs));
    hfs_plan_sync *s = &plan->syncs[plan->n_syncs++];
    memset(s, 0, sizeof(*s));

    s->name = hfs_strdup(sync->name);
    s->repo_id = hfs_strdup(sync->repo_id);
    s->repo_type = sync->repo_type;
    s->revision = hfs_strdup(sync->revision);
    s->path_in_repo = hfs_strdup(sync->path_in_repo ? sync->path_in_repo : "");
    s->folder = hfs_strdup(sync->folder_abs);
    s->folder_path = hfs_strdup(sync->folder_path);
    s->transport = sync->transport;
    s->strategy = sync->commit.strategy;
    s->create_pr = sync->commit.create_pr;
    /* Recorded where they bound the commits: strategy large cuts its own commits within
     * them when it is applied. */
    s->has_limits = s->strategy != HFS_STRATEGY_SINGLE;
    if (s->has_limits) {
        s->max_files = sync->commit.max_files;
        s->max_bytes = sync->commit.max_bytes;
    }
    if (!in->remote || !in->remote->exists) {
        s->create = true;
        s->create_private = sync->create_private;
        if (sync->repo_type == HFS_REPO_SPACE)
            s->create_sdk = hfs_strdup(sync->space_sdk ? sync->space_sdk : "static");
    } else {
        memcpy(s->remote_head, in->remote->head, sizeof(s->remote_head));
    }
    s->summary.n_add = d->n_add;
    s->summary.n_update = d->n_update;
    s->summary.n_delete = d->n_delete;
    s->summary.n_copy = d->n_copy;
    s->summary.n_unchanged = d->n_unchanged;
    s->summary.upload_files = d->upload_files;
    s->summary.upload_bytes = d->upload_bytes;
    s->summary.commits = in->groups->n_groups;
    if (in->n_warnings) {
        s->warnings = hfs_calloc(in->n_warnings, sizeof(*s->warnings));
        for (size_t i = 0; i < in->n_warnings; i++)
            s->warnings[s->n_warnings++] = hfs_strdup(in->warnings[i]);
    }

    size_t n_groups = in->groups->n_groups;
    s->commits = n_groups ? hfs_calloc(n_groups, sizeof(*s->commits)) : NULL;
    for (size_t g = 0; g < n_groups; g++) {
        const hfs_commit_group *group = &in->groups->groups[g];
        hfs_plan_commit *c = &s->commits[s->n_commits++];
        c->message = n_groups > 1
                         ? hfs_sprintf("%s (part %zu/%zu)", sync->commit.message, g + 1, n_groups)
                         : hfs_strdup(sync->commit.message);
        c->description = hfs_strdup(sync->commit.description ? sync->commit.description : "");
        c->ops = hfs_calloc(group->n_ops ? group->n_ops : 1, sizeof(*c->ops));
        for (size_t k = 0; k < group->n_ops; k++)
            op_from_diff(&c->ops[c->n_ops++], &d->ops[group->ops[k]]);
    }
}

/* ---- to JSON --------------------------------------------------------------------------- */

static json_t *op_to_json(const hfs_plan_op *op)
{
    json_t *o = json_object();
    json_object_set_new(o, "op", json_string(hfs_op_kind_name(op->kind)));
    json_object_set_new(o, "path", json_string(op->path));
    json_object_set_new(o, "mode", json_string(hfs_plan_mode_name(op->lfs)));
    if (op->remote_oid[0])
        json_object_set_new(o, "remote_oid", json_string(op->remote_oid));
    if (op->kind == HFS_OP_DELETE)
        return o;
    json_object_set_new(o, "size", json_integer((json_int_t)op->size));
    json_object_set_new(o, "local", json_string(op->local));
    json_object_set_new(o, "mtime_ns", json_integer((json_int_t)op->mtime_ns));
    json_object_set_new(o, "upload", json_boolean(op->upload));
    /* Only the hash the file's mode is known by (the git sha1 of a regular file, the sha256
     * of an LFS one): another hash a warm cache happened to hold must not change the plan's
     * bytes, since the same inputs give the same plan. */
    if (op->sha1[0] && !op->lfs)
        json_object_set_new(o, "sha1", json_string(op->sha1));
    if (op->sha256[0] && op->lfs)
        json_object_set_new(o, "sha256", json_string(op->sha256));
    if (op->from)
        json_object_set_new(o, "from", json_string(op->from));
    return o;
}

static json_t *summary_to_json(const hfs_plan_summary *s)
{
    return json_pack("{sIsIsIsIsIsIsIsI}", "add", (json_int_t)s->n_add, "update",
                     (json_int_t)s->n_update, "delete", (json_int_t)s->n_delete, "copy",
                     (json_int_t)s->n_copy, "unchanged", (json_int_t)s->n_unchanged, "upload_bytes",
                     (json_int_t)s->upload_bytes, "upload_files", (json_int_t)s->upload_files,
                     "commits", (json_int_t)s->commits);
}

/* The operations of the plan's commits are written one at a time rather than as one jansson
 * tree, which would cost about 2 KB per operation: in the tree, each commit's "operations"
 * holds a marker string, replaced by the serialized operations when the text is written.
 * A control character in the marker makes jansson escape it, so the escaped form below is
 * what the text holds. */
#define OPS_MARKER "\x01hfsync-operations-"
#define OPS_MARKER_ESCAPED "\"\\u0001hfsync-operations-"

static json_t *sync_to_json(const hfs_plan_sync *s, size_t *commit_index)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(s->name));
    json_object_set_new(o, "repo_id", json_string(s->repo_id));
    json_object_set_new(o, "repo_type", json_string(hfs_repo_type_name(s->repo_type)));
    json_object_set_new(o, "revision", json_string(s->revision));
    json_object_set_new(o, "path_in_repo", json_string(s->path_in_repo));
    json_object_set_new(o, "folder", json_string(s->folder));
    json_object_set_new(o, "folder_path", json_string(s->folder_path));
    json_object_set_new(o, "transport", json_string(hfs_transport_name(s->transport)));
    json_object_set_new(o, "strategy", json_string(hfs_commit_strategy_name(s->strategy)));
    json_object_set_new(o, "create_pr", json_boolean(s->create_pr));
    if (s->has_limits) {
        json_object_set_new(o, "max_files", json_integer((json_int_t)s->max_files));
        json_object_set_new(o, "max_bytes", json_integer((json_int_t)s->max_bytes));
    }
    if (s->create) {
        json_t *create = json_object();
        json_object_set_new(create, "private", json_boolean(s->create_private));
        if (s->create_sdk)
            json_object_set_new(create, "sdk", json_string(s->create_sdk));
        json_object_set_new(o, "create", create);
        json_object_set_new(o, "remote_head", json_null());
    } else {
        json_object_set_new(o, "create", json_null());
        json_object_set_new(o, "remote_head", json_string(s->remote_head));
    }
    json_object_set_new(o, "summary", summary_to_json(&s->summary));
    json_t *warnings = json_array();
    for (size_t i = 0; i < s->n_warnings; i++)
        json_array_append_new(warnings, json_string(s->warnings[i]));
    json_object_set_new(o, "warnings", warnings);
    json_t *commits = json_array();
    for (size_t c = 0; c < s->n_commits; c++) {
        const hfs_plan_commit *commit = &s->commits[c];
        char marker[64];
        snprintf(marker, sizeof(marker), OPS_MARKER "%zu", (*commit_index)++);
        json_array_append_new(commits,
                              json_pack("{ssssss}", "message", commit->message, "description",
                                        commit->description, "operations", marker));
    }
    json_object_set_new(o, "commits", commits);
    return o;
}

/* Everything but plan_id, each commit's operations left as a marker. */
static json_t *plan_skeleton(const hfs_plan *p)
{
    json_t *o = json_object();
    size_t commit_index = 0;
    json_object_set_new(o, "format_version", json_integer(p->format_version));
    json_object_set_new(o, "tool", json_string(p->tool));
    json_object_set_new(
        o, "manifest", json_pack("{ssss}", "path", p->manifest_path, "digest", p->manifest_digest));
    json_object_set_new(o, "endpoint", json_string(p->endpoint));
    json_t *syncs = json_array();
    for (size_t i = 0; i < p->n_syncs; i++)
        json_array_append_new(syncs, sync_to_json(&p->syncs[i], &commit_index));
    json_object_set_new(o, "syncs", syncs);
    return o;
}

/* Where serialized text goes: the plan file's buffer, or the hasher that makes plan_id. */
typedef struct {
    hfs_buf *buf;
    hfs_hasher *hasher;
} text_sink;

static void sink_put(text_sink *s, const char *data, size_t len)
{
    if (s->buf)
        hfs_buf_add(s->buf, data, len);
    else
        hfs_hasher_update(s->hasher, data, len);
}

static char *dump_or_abort(const json_t *value, size_t flags)
{
    char *text = json_dumps(value, flags);
    if (!text)
        abort(); /* jansson fails only when out of memory */
    return text;
}

static void add_spaces(hfs_buf *b, size_t n)
{
    static const char spaces[] = "                                ";
    for (; n > sizeof(spaces) - 1; n -= sizeof(spaces) - 1)
        hfs_buf_add(b, spaces, sizeof(spaces) - 1);
    hfs_buf_add(b, spaces, n);
}

/* One commit's operations as a JSON array, pretty (items indented below `indent` spaces, as
 * jansson indents a nested array) or compact. */
static void emit_operations(text_sink *out, const hfs_plan_commit *c, size_t indent, bool pretty)
{
    if (c->n_ops == 0) {
        sink_put(out, "[]", 2);
        return;
    }
    sink_put(out, pretty ? "[\n" : "[", pretty ? 2 : 1);
    hfs_buf item = HFS_BUF_INIT;
    for (size_t i = 0; i < c->n_ops; i++) {
        json_t *op = op_to_json(&c->ops[i]);
        char *text = dump_or_abort(op, pretty ? JSON_INDENT(2) | JSON_SORT_KEYS
                                              : JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(op);
        hfs_buf_clear(&item);
        if (pretty) {
            /* Each line of the item moves right by the array's indentation. */
            add_spaces(&item, indent + 2);
            for (const char *p = text, *nl; *p; p = nl + 1) {
                nl = strchr(p, '\n');
                if (!nl) {
                    hfs_buf_puts(&item, p);
                    break;
                }
                hfs_buf_add(&item, p, (size_t)(nl - p) + 1);
                add_spaces(&item, indent + 2);
            }
            hfs_buf_puts(&item, i + 1 < c->n_ops ? ",\n" : "\n");
        } else {
            hfs_buf_puts(&item, text);
            if (i + 1 < c->n_ops)
                hfs_buf_putc(&item, ',');
        }
        sink_put(out, item.ptr, item.len);
        free(text);
    }
    hfs_buf_clear(&item);
    if (pretty)
        add_spaces(&item, indent);
    hfs_buf_putc(&item, ']');
    sink_put(out, item.ptr, item.len);
    hfs_buf_free(&item);
}

static size_t count_occurrences(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The plan as JSON text: pretty with plan_id (the file), or compact without it (what plan_id
 * is the hash of). Keys sorted in both, so the text is canonical for its content. */
static void emit_plan(text_sink *out, const hfs_plan *p, bool pretty)
{
    const hfs_plan_commit **commits = NULL;
    size_t n_commits = 0, cap = 0;
    for (size_t i = 0; i < p->n_syncs; i++)
        for (size_t c = 0; c < p->syncs[i].n_commits; c++)
            HFS_PUSH(commits, n_commits, cap, &p->syncs[i].commits[c]);

    json_t *root = plan_skeleton(p);
    if (pretty)
        json_object_set_new(root, "plan_id", json_string(p->plan_id));
    size_t flags = pretty ? JSON_INDENT(2) | JSON_SORT_KEYS : JSON_COMPACT | JSON_SORT_KEYS;
    char *text = dump_or_abort(root, flags);
    const char *pos = text;
    if (count_occurrences(text, OPS_MARKER_ESCAPED) == n_commits) {
        for (const char *m; (m = strstr(pos, OPS_MARKER_ESCAPED));) {
            char *end;
            size_t k = strtoul(m + strlen(OPS_MARKER_ESCAPED), &end, 10);
            const char *line = m;
            while (line > text && line[-1] != '\n')
                line--;
            size_t indent = 0;
            while (line[indent] == ' ')
                indent++;
            sink_put(out, pos, (size_t)(m - pos));
            emit_operations(out, commits[k], indent, pretty);
            pos = end + 1; /* past the marker's closing quote */
        }
        sink_put(out, pos, strlen(pos));
    } else {
        /* A string of the plan happens to hold the marker: build the whole tree instead. */
        free(text);
        for (size_t k = 0; k < n_commits; k++) {
            json_t *ops = json_array();
            for (size_t i = 0; i < commits[k]->n_ops; i++)
                json_array_append_new(ops, op_to_json(&commits[k]->ops[i]));
            json_t *syncs = json_object_get(root, "syncs");
            size_t base = 0;
            for (size_t i = 0; i < p->n_syncs; i++) {
                if (k < base + p->syncs[i].n_commits) {
                    json_t *commit = json_array_get(
                        json_object_get(json_array_get(syncs, i), "commits"), k - base);
                    json_object_set_new(commit, "operations", ops);
                    break;
                }
                base += p->syncs[i].n_commits;
            }
        }
        text = dump_or_abort(root, flags);
        sink_put(out, text, strlen(text));
    }
    free(text);
    json_decref(root);
    free(commits);
}

/* plan_id: the sha256 of the compact, key-sorted serialization of everything else. The form
 * is canonical, so re-indenting a plan keeps it valid while changing any value does not. */
void hfs_plan_canonical_id(char out[HFS_SHA256_HEX], const json_t *body)
{
    char *canonical = dump_or_abort(body, JSON_COMPACT | JSON_SORT_KEYS);
    hfs_sha256_hex(out, canonical, strlen(canonical));
    free(canonical);
}

void hfs_plan_seal(hfs_plan *plan)
{
    text_sink out = {NULL, hfs_hasher_new(true, false, 0)};
    emit_plan(&out, plan, false);
    hfs_hasher_final(out.hasher, plan->plan_id, NULL);
    hfs_hasher_free(out.hasher);
}

char *hfs_plan_to_json(const hfs_plan *plan)
{
    hfs_buf buf = HFS_BUF_INIT;
    text_sink out = {&buf, NULL};
    emit_plan(&out, plan, true);
    hfs_buf_putc(&buf, '\n');
    return hfs_buf_detach(&buf);
}

int hfs_plan_write(const hfs_plan *plan, const char *path)
{
    char *text = hfs_plan_to_json(plan);
    int rc = hfs_write_file_atomic(path, text, strlen(text), 0644);
    free(text);
    return rc;
}

/* ---- from JSON -------------------------------------------------------------------------- */

typedef struct {
    const char *file;
    char where[160]; /* the field being read, "syncs[0].commits[1].operations[2]" */
} reader;

static int bad(const reader *r, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(const reader *r, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *what = hfs_vsprintf(fmt, ap);
    va_end(ap);
    int rc = hfs_error_set(HFS_EINVALID, "%s: %s%s%s: %s (is this a plan written by hfsync?)",
                           r->file, r->where, r->where[0] && key ? "." : "", key ? key : "", what);
    free(what);
    return rc;
}

static int get_str(const char **out, const reader *r, const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        return bad(r, key, v ? "expected a string" : "missing");
    *out = json_string_value(v);
    return 0;
}

static int get_dup(char **out, const reader *r, const json_t *o, const char *key)
{
    const char *s = NULL;
    int rc = get_str(&s, r, o, key);
    if (rc == 0)
        *out = hfs_strdup(s);
    return rc;
}

static int get_hex(char *out, size_t digits, const reader *r, const json_t *o, const char *key)
{
    const char *s = NULL;
    int rc = get_str(&s, r, o, key);
    if (rc < 0)
        return rc;
    if (strlen(s) != digits || !hfs_is_hex(s, digits))
        return bad(r, key, "expected %zu lowercase hex digits, got \"%s\"", digits, s);
    memcpy(out, s, digits + 1);
    return 0;
}

static int get_u64(uint64_t *out, const reader *r, const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return bad(r, key, v ? "expected a whole number >= 0" : "missing");
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int get_bool(bool *out, const reader *r, const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_boolean(v))
        return bad(r, key, v ? "expected true or false" : "missing");
    *out = json_is_true(v);
    return 0;
}

static int get_choice(int *out, const reader *r, const json_t *o, const char *key,
                      const char *const *names, size_t n)
{
    const char *s = NULL;
    int rc = get_str(&s, r, o, key);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    hfs_buf choices = HFS_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        hfs_buf_printf(&choices, "%s%s", i ? ", " : "", names[i]);
    rc = bad(r, key, "expected one of %s, got \"%s\"", choices.ptr, s);
    hfs_buf_free(&choices);
    return rc;
}

static void enter(reader *r, size_t *saved, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends one step to r->where; *saved remembers where to cut back to. */
static void enter(reader *r, size_t *saved, const char *fmt, ...)
{
    *saved = strlen(r->where);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->where + *saved, sizeof(r->where) - *saved, fmt, ap);
    va_end(ap);
}

static void leave(reader *r, size_t saved)
{
    r->where[saved] = '\0';
}

/* The fields of each object of a plan file. Any other is refused: a plan is applied exactly
 * as written, so a field this version does not know (from a newer hfsync, or an edit) must
 * not be passed over in silence. */
static const char *const root_keys[] = {"format_version", "plan_id", "tool", "manifest",
                                        "endpoint",       "syncs",   NULL};
static const char *const manifest_keys[] = {"path", "digest", NULL};
static const char *const sync_keys[] = {
    "name",        "repo_id",   "repo_type", "revision",  "path_in_repo", "folder",
    "folder_path", "transport", "strategy",  "create_pr", "create",       "remote_head",
    "summary",     "warnings",  "commits",   "max_files", "max_bytes",    NULL};
static const char *const create_keys[] = {"private", "sdk", NULL};
static const char *const summary_keys[] = {"add",          "update",    "delete",
                                           "copy",         "unchanged", "upload_bytes",
                                           "upload_files", "commits",   NULL};
static const char *const commit_keys[] = {"message", "description", "operations", NULL};
static const char *const op_keys[] = {"op",       "path",   "mode", "remote_oid", "size", "local",
                                      "mtime_ns", "upload", "sha1", "sha256",     "from", NULL};

static int check_keys(const reader *r, const json_t *o, const char *const *known)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v)
    {
        size_t i = 0;
        while (known[i] && strcmp(known[i], key) != 0)
            i++;
        if (!known[i])
            return bad(r, key, "not a field of a plan this hfsync (%s) reads", hfs_version());
    }
    return 0;
}

/* A path the plan joins to the folder or sends to the hub must stay inside them: a plan
 * edited to read ../../.ssh/id_rsa, or to write outside the repo, is refused here (plan_id
 * is a checksum anyone can recompute, not a signature). */
static int check_inside(const reader *r, const char *key, const char *path)
{
    if (hfs_path_stays_inside(path))
        return 0;
    return bad(r, key,
               "\"%s\" is not a path inside the %s (empty, a leading '/', or an empty, \".\" or "
               "\"..\" segment)",
               path, strcmp(key, "local") == 0 ? "folder" : "repo");
}

static const char *const op_names[] = {"add", "update", "delete", "copy"};
static const char *const mode_names[] = {"regular", "lfs"};
static const char *const type_names[] = {"model", "dataset", "space"};
static const char *const strategy_names[] = {"single", "multi", "large"};
static const char *const transport_names[] = {"http", "git"};

static int read_op(hfs_plan_op *op, reader *r, const json_t *o)
{
    int kind = 0, mode = 0, rc;
    if (!json_is_object(o))
        return bad(r, NULL, "expected an object");
    if ((rc = check_keys(r, o, op_keys)) < 0 ||
        (rc = get_choice(&kind, r, o, "op", op_names, 4)) < 0 ||
        (rc = get_dup(&op->path, r, o, "path")) < 0 ||
        (rc = check_inside(r, "path", op->path)) < 0 ||
        (rc = get_choice(&mode, r, o, "mode", mode_names, 2)) < 0)
        return rc;
    op->kind = (hfs_op_kind)kind;
    op->lfs = mode == 1;
    bool needs_remote = op->kind == HFS_OP_UPDATE || op->kind == HFS_OP_DELETE;
    if (needs_remote || json_object_get(o, "remote_oid"))
        if ((rc = get_hex(op->remote_oid, 40, r, o, "remote_oid")) < 0)
            return rc;
    if (op->kind == HFS_OP_DELETE)
        return 0;
    uint64_t mtime;
    json_t *m = json_object_get(o, "mtime_ns");
    if (!json_is_integer(m))
        return bad(r, "mtime_ns", m ? "expected a whole number" : "missing");
    mtime = (uint64_t)json_integer_value(m);
    op->has_mtime = true;
    op->mtime_ns = (int64_t)mtime;
    if ((rc = get_u64(&op->size, r, o, "size")) < 0 ||
        (rc = get_dup(&op->local, r, o, "local")) < 0 ||
        (rc = check_inside(r, "local", op->local)) < 0 ||
        (rc = get_bool(&op->upload, r, o, "upload")) < 0)
        return rc;
    if ((!op->lfs || json_object_get(o, "sha1")) && (rc = get_hex(op->sha1, 40, r, o, "sha1")) < 0)
        return rc;
    if ((op->lfs || json_object_get(o, "sha256")) &&
        (rc = get_hex(op->sha256, 64, r, o, "sha256")) < 0)
        return rc;
    if (op->kind == HFS_OP_COPY) {
        if (!op->lfs)
            return bad(r, "mode", "a copy reuses an LFS object, so its mode must be \"lfs\"");
        if ((rc = get_dup(&op->from, r, o, "from")) < 0 ||
            (rc = check_inside(r, "from", op->from)) < 0)
            return rc;
        if (op->upload)
            return bad(r, "upload", "a copy uploads nothing, expected false");
    }
    return 0;
}

static int read_summary(hfs_plan_summary *s, reader *r, const json_t *o)
{
    int rc;
    if (!json_is_object(o))
        return bad(r, "summary", "expected an object");
    size_t saved;
    enter(r, &saved, "%ssummary", r->where[0] ? "." : "");
    if ((rc = check_keys(r, o, summary_keys)) < 0 || (rc = get_u64(&s->n_add, r, o, "add")) < 0 ||
        (rc = get_u64(&s->n_update, r, o, "update")) < 0 ||
        (rc = get_u64(&s->n_delete, r, o, "delete")) < 0 ||
        (rc = get_u64(&s->n_copy, r, o, "copy")) < 0 ||
        (rc = get_u64(&s->n_unchanged, r, o, "unchanged")) < 0 ||
        (rc = get_u64(&s->upload_bytes, r, o, "upload_bytes")) < 0 ||
        (rc = get_u64(&s->upload_files, r, o, "upload_files")) < 0 ||
        (rc = get_u64(&s->commits, r, o, "commits")) < 0)
        return rc;
    leave(r, saved);
    return 0;
}

/* The summary is redundant with the operations; a plan whose two disagree was edited. */
static int check_summary(const hfs_plan_sync *s, reader *r)
{
    hfs_plan_summary got = {0};
    got.commits = s->n_commits;
    for (size_t c = 0; c < s->n_commits; c++)
        for (size_t i = 0; i < s->commits[c].n_ops; i++) {
            const hfs_plan_op *op = &s->commits[c].ops[i];
            uint64_t *count[] = {&got.n_add, &got.n_update, &got.n_delete, &got.n_copy};
            (*count[op->kind])++;
            if (op->upload) {
                got.upload_files++;
                got.upload_bytes += op->size;
            }
        }
    const hfs_plan_summary *want = &s->summary;
    if (got.n_add != want->n_add || got.n_update != want->n_update ||
        got.n_delete != want->n_delete || got.n_copy != want->n_copy ||
        got.upload_files != want->upload_files || got.upload_bytes != want->upload_bytes ||
        got.commits != want->commits)
        return bad(r, "summary", "does not match the operations listed");
    return 0;
}

static int read_sync(hfs_plan_sync *s, reader *r, const json_t *o)
{
    int rc, type = 0, strategy = 0, transport = 0;
    size_t saved;
    if (!json_is_object(o))
        return bad(r, NULL, "expected an object");
    if ((rc = check_keys(r, o, sync_keys)) < 0 || (rc = get_dup(&s->name, r, o, "name")) < 0 ||
        (rc = get_dup(&s->repo_id, r, o, "repo_id")) < 0 ||
        (rc = get_choice(&type, r, o, "repo_type", type_names, 3)) < 0 ||
        (rc = get_dup(&s->revision, r, o, "revision")) < 0 ||
        (rc = get_dup(&s->path_in_repo, r, o, "path_in_repo")) < 0 ||
        (rc = get_dup(&s->folder, r, o, "folder")) < 0 ||
        (rc = get_dup(&s->folder_path, r, o, "folder_path")) < 0 ||
        (rc = get_choice(&transport, r, o, "transport", transport_names, 2)) < 0 ||
        (rc = get_choice(&strategy, r, o, "strategy", strategy_names, 3)) < 0 ||
        (rc = get_bool(&s->create_pr, r, o, "create_pr")) < 0)
        return rc;
    /* The name names the sync's state folder (.hfsync/state/NAME), the folder is where
     * every local path starts: neither may point anywhere else. */
    if (!hfs_path_stays_inside(s->name) || strchr(s->name, '/'))
        return bad(r, "name", "\"%s\" is not a sync name", s->name);
    if (*s->path_in_repo && (rc = check_inside(r, "path_in_repo", s->path_in_repo)) < 0)
        return rc;
    if (s->folder[0] != '/')
        return bad(r, "folder", "\"%s\" is not an absolute path", s->folder);
    s->repo_type = (hfs_repo_type)type;
    s->strategy = (hfs_commit_strategy)strategy;
    s->transport = (hfs_transport)transport;
    /* The commit bounds came with format 1's later writers: optional, so plans from before
     * stay readable (strategy large then infers them from the groups). Both or neither. */
    json_t *max_files = json_object_get(o, "max_files"),
           *max_bytes = json_object_get(o, "max_bytes");
    if (max_files || max_bytes) {
        if (!max_files || !max_bytes)
            return bad(r, max_files ? "max_bytes" : "max_files",
                       "missing (a plan records max_files and max_bytes together)");
        if ((rc = get_u64(&s->max_files, r, o, "max_files")) < 0 ||
            (rc = get_u64(&s->max_bytes, r, o, "max_bytes")) < 0)
            return rc;
        s->has_limits = true;
    }

    json_t *create = json_object_get(o, "create"), *head = json_object_get(o, "remote_head");
    if (json_is_object(create)) {
        s->create = true;
        enter(r, &saved, ".create");
        if ((rc = check_keys(r, create, create_keys)) < 0 ||
            (rc = get_bool(&s->create_private, r, create, "private")) < 0)
            return rc;
        if (json_object_get(create, "sdk") && (rc = get_dup(&s->create_sdk, r, create, "sdk")) < 0)
            return rc;
        leave(r, saved);
        if (!json_is_null(head))
            return bad(r, "remote_head", "must be null when the repo is to be created");
    } else if (json_is_null(create)) {
        if ((rc = get_hex(s->remote_head, 40, r, o, "remote_head")) < 0)
            return rc;
    } else {
        return bad(r, "create", create ? "expected null or an object" : "missing");
    }
    if ((rc = read_summary(&s->summary, r, json_object_get(o, "summary"))) < 0)
        return rc;

    json_t *warnings = json_object_get(o, "warnings"), *item;
    if (!json_is_array(warnings))
        return bad(r, "warnings", warnings ? "expected a list" : "missing");
    size_t i;
    s->warnings = hfs_calloc(json_array_size(warnings) + 1, sizeof(*s->warnings));
    json_array_foreach(warnings, i, item)
    {
        if (!json_is_string(item))
            return bad(r, "warnings", "expected a list of strings");
        s->warnings[s->n_warnings++] = hfs_strdup(json_string_value(item));
    }

    json_t *commits = json_object_get(o, "commits"), *commit;
    if (!json_is_array(commits))
        return bad(r, "commits", commits ? "expected a list" : "missing");
    s->commits = hfs_calloc(json_array_size(commits) + 1, sizeof(*s->commits));
    json_array_foreach(commits, i, commit)
    {
        hfs_plan_commit *c = &s->commits[s->n_commits++];
        enter(r, &saved, ".commits[%zu]", i);
        if (!json_is_object(commit))
            return bad(r, NULL, "expected an object");
        if ((rc = check_keys(r, commit, commit_keys)) < 0 ||
            (rc = get_dup(&c->message, r, commit, "message")) < 0 ||
            (rc = get_dup(&c->description, r, commit, "description")) < 0)
            return rc;
        json_t *ops = json_object_get(commit, "operations"), *op;
        if (!json_is_array(ops))
            return bad(r, "operations", ops ? "expected a list" : "missing");
        c->ops = hfs_calloc(json_array_size(ops) + 1, sizeof(*c->ops));
        size_t k;
        json_array_foreach(ops, k, op)
        {
            size_t op_saved;
            enter(r, &op_saved, ".operations[%zu]", k);
            rc = read_op(&c->ops[c->n_ops++], r, op);
            if (rc < 0)
                return rc;
            if (k > 0 && strcmp(c->ops[k - 1].path, c->ops[k].path) >= 0)
                return bad(r, "path", "operations are not sorted by path (\"%s\" after \"%s\")",
                           c->ops[k].path, c->ops[k - 1].path);
            leave(r, op_saved);
        }
        leave(r, saved);
    }
    return check_summary(s, r);
}

static int read_plan(hfs_plan *p, reader *r, const json_t *root)
{
    int rc;
    const char *digest = NULL;
    json_t *manifest = json_object_get(root, "manifest");
    if (!json_is_object(manifest))
        return bad(r, "manifest", manifest ? "expected an object" : "missing");
    if ((rc = check_keys(r, root, root_keys)) < 0 ||
        (rc = get_dup(&p->tool, r, root, "tool")) < 0 ||
        (rc = get_dup(&p->endpoint, r, root, "endpoint")) < 0 ||
        (rc = get_hex(p->plan_id, 64, r, root, "plan_id")) < 0)
        return rc;
    size_t saved;
    enter(r, &saved, "manifest");
    if ((rc = check_keys(r, manifest, manifest_keys)) < 0 ||
        (rc = get_dup(&p->manifest_path, r, manifest, "path")) < 0 ||
        (rc = get_str(&digest, r, manifest, "digest")) < 0)
        return rc;
    if (strlen(digest) != 64 || !hfs_is_hex(digest, 64))
        return bad(r, "digest", "expected 64 lowercase hex digits, got \"%s\"", digest);
    memcpy(p->manifest_digest, digest, sizeof(p->manifest_digest));
    leave(r, saved);

    json_t *syncs = json_object_get(root, "syncs"), *item;
    if (!json_is_array(syncs))
        return bad(r, "syncs", syncs ? "expected a list" : "missing");
    p->syncs = hfs_calloc(json_array_size(syncs) + 1, sizeof(*p->syncs));
    size_t i;
    json_array_foreach(syncs, i, item)
    {
        enter(r, &saved, "syncs[%zu]", i);
        rc = read_sync(&p->syncs[p->n_syncs++], r, item);
        if (rc < 0)
            return rc;
        leave(r, saved);
    }
    return 0;
}

int hfs_plan_parse(hfs_plan **out, const char *text, size_t len, const char *name)
{
    json_error_t jerr;
    hfs_plan *plan = NULL;
    reader r = {name, ""};
    int rc = 0;
    char id[HFS_SHA256_HEX];

    *out = NULL;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return hfs_error_set(HFS_EINVALID, "%s:%d:%d: not valid JSON: %s", name, jerr.line,
                             jerr.column, jerr.text);
    if (!json_is_object(root)) {
        rc = hfs_error_set(HFS_EINVALID, "%s: a plan is a JSON object, this is not one", name);
        goto done;
    }
    json_t *version = json_object_get(root, "format_version");
    if (!json_is_integer(version)) {
        rc = bad(&r, "format_version", version ? "expected a whole number" : "missing");
        goto done;
    }
    if (json_integer_value(version) != HFS_PLAN_FORMAT_VERSION) {
        rc = hfs_error_set(HFS_EINVALID,
                           "%s: plan format_version %lld is not one this hfsync (%s) reads "
                           "(it reads %d): re-create the plan with this version",
                           name, (long long)json_integer_value(version), hfs_version(),
                           HFS_PLAN_FORMAT_VERSION);
        goto done;
    }
    json_t *given = json_object_get(root, "plan_id");
    if (!json_is_string(given)) {
        rc = bad(&r, "plan_id", given ? "expected a string" : "missing");
        goto done;
    }
    json_incref(given);
    json_object_del(root, "plan_id");
    hfs_plan_canonical_id(id, root);
    json_object_set_new(root, "plan_id", given);
    if (strcmp(id, json_string_value(given)) != 0) {
        rc = hfs_error_set(HFS_EINVALID,
                           "%s was modified after it was written (plan_id does not match its "
                           "content): review the changes, or make a new plan with hfsync plan",
                           name);
        goto done;
    }
    plan = hfs_calloc(1, sizeof(*plan));
    plan->format_version = HFS_PLAN_FORMAT_VERSION;
    rc = read_plan(plan, &r, root);
    if (rc == 0) {
        *out = plan;
        plan = NULL;
    }
done:
    hfs_plan_free(plan);
    json_decref(root);
    return rc;
}

int hfs_plan_read(hfs_plan **out, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    /* A plan holds a few hundred bytes per file; 1 GiB covers millions of files. */
    int rc = hfs_read_file(&text, &len, path, (size_t)1 << 30);
    if (rc == 0)
        rc = hfs_plan_parse(out, text, len, path);
    free(text);
    return rc;
}

/* ---- questions about a plan -------------------------------------------------------------- */

void hfs_plan_get_summary(hfs_plan_summary *out, const hfs_plan *plan)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < plan->n_syncs; i++) {
        const hfs_plan_sync *s = &plan->syncs[i];
        out->n_syncs++;
        out->n_create += s->create;
        out->n_add += s->summary.n_add;
        out->n_update += s->summary.n_update;
        out->n_delete += s->summary.n_delete;
        out->n_copy += s->summary.n_copy;
        out->n_unchanged += s->summary.n_unchanged;
        out->upload_files += s->summary.upload_files;
        out->upload_bytes += s->summary.upload_bytes;
        out->commits += s->summary.commits;
    }
}

bool hfs_plan_has_changes(const hfs_plan *plan)
{
    for (size_t i = 0; i < plan->n_syncs; i++)
        if (plan->syncs[i].create || plan->syncs[i].n_commits > 0)
            return true;
    return false;
}

const char *hfs_plan_id(const hfs_plan *plan)
{
    return plan->plan_id;
}

int hfs_plan_format_parse(hfs_plan_format *out, const char *name)
{
    if (strcmp(name, "text") == 0)
        *out = HFS_PLAN_TEXT;
    else if (strcmp(name, "json") == 0)
        *out = HFS_PLAN_JSON;
    else if (strcmp(name, "markdown") == 0 || strcmp(name, "md") == 0)
        *out = HFS_PLAN_MARKDOWN;
    else
        return hfs_error_set(HFS_EINVALID, "unknown format \"%s\": expected text, json or markdown",
                             name);
    return 0;
}
