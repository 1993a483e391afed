/* Tests for src/planner/plan.c and render.c: a plan built from in-memory diffs round-trips
 * through its JSON byte for byte, is deterministic, detects edits, and renders as expected. */
#include <jansson.h>

#include "common/error.h"
#include "corefixture.h"
#include "planner/plan.h"
#include "tap.h"

static hfs_sync make_sync(const char *name, hfs_commit_strategy strategy)
{
    hfs_sync s = {0};
    s.name = (char *)name;
    s.repo_id = "alice/my-model";
    s.repo_type = HFS_REPO_MODEL;
    s.revision = "main";
    s.folder_path = "./checkpoints";
    s.folder_abs = "/work/checkpoints";
    s.path_in_repo = "";
    s.commit.message = "Sync checkpoints";
    s.commit.description = "";
    s.commit.strategy = strategy;
    s.commit.max_files = 2;
    s.commit.max_bytes = 1ull << 40;
    s.create_private = true;
    return s;
}

typedef struct {
    local_list local;
    hfs_remote_snapshot *remote;
    hfs_diff_result diff;
    hfs_group_result groups;
    hfs_pattern_set *del;
} sync_input;

/* The README's example: adds (one LFS), an update, a move (copy + delete), a delete. */
static void example_input(sync_input *in, hfs_commit_strategy strategy, bool exists)
{
    memset(in, 0, sizeof(*in));
    local_add_sized(&in->local, "README.md", "readme v2", 2000, false);
    local_add_sized(&in->local, "config.json", "{}", 1200, false);
    local_add_sized(&in->local, "model.safetensors", "weights", 4200000000ull, true);
    local_add_sized(&in->local, "same.txt", "same", 4, false);
    local_add_sized(&in->local, "weights/new.bin", "old weights", 1000000000ull, true);
    in->remote = hfs_remote_snapshot_new(exists ? TEST_HEAD : NULL);
    if (exists) {
        remote_add_sized(in->remote, "README.md", "readme v1", 1900, false);
        remote_add_sized(in->remote, "same.txt", "same", 4, false);
        remote_add(in->remote, "stale.txt", "stale", false);
        remote_add_sized(in->remote, "weights/old.bin", "old weights", 1000000000ull, true);
    }
    hfs_remote_snapshot_finish(in->remote);
    const char *pattern = "*";
    hfs_pattern_set_compile(&in->del, &pattern, 1, NULL);
    hfs_diff_settings ds = {"", in->del};
    if (hfs_diff(&in->diff, in->local.files, in->local.modes, in->local.n, in->remote, &ds) < 0)
        tap_diag("diff: %s", hfs_error_last());
    hfs_sync s = make_sync("checkpoints", strategy);
    hfs_group_settings gs = {strategy, s.commit.max_files, s.commit.max_bytes, 0};
    hfs_group(&in->groups, in->diff.ops, in->diff.n_ops, &gs);
}

static void input_free(sync_input *in)
{
    hfs_group_result_clear(&in->groups);
    hfs_diff_result_clear(&in->diff);
    hfs_remote_snapshot_free(in->remote);
    hfs_pattern_set_free(in->del);
    local_free(&in->local);
}

static hfs_plan *example_plan(hfs_commit_strategy strategy, bool exists)
{
    sync_input in;
    example_input(&in, strategy, exists);
    hfs_sync s = make_sync("checkpoints", strategy);
    hfs_plan *p = hfs_plan_new("hfsync.yaml",
                               "e64c6ef76674644904f8af31c710d2c835b287cece366ec5f22c9cc19d79d0b8",
                               "http://127.0.0.1:8765");
    const char *warnings[] = {"just so you know"};
    hfs_plan_sync_input psi = {&s, in.remote, &in.diff, &in.groups, warnings, 0};
    hfs_plan_add_sync(p, &psi);
    hfs_plan_seal(p);
    input_free(&in);
    return p;
}

static const char *expected_text =
    "sync checkpoints: ./checkpoints -> alice/my-model (model@main), remote 0123456\n"
    "  + config.json             1.2 KB\n"
    "  + model.safetensors [lfs] 4.2 GB\n"
    "  ~ README.md               2.0 KB\n"
    "  > weights/old.bin -> weights/new.bin [lfs] 1.0 GB (server-side copy)\n"
    "  - stale.txt\n"
    "  - weights/old.bin\n"
    "  1 commit: \"Sync checkpoints\"\n"
    "Plan: 2 to add, 1 to update, 2 to delete, 1 to copy, 1 unchanged; 4.2 GB to upload in 1 "
    "commit.\n";

static void test_text(void)
{
    hfs_plan *p = example_plan(HFS_STRATEGY_SINGLE, true);
    char *text = NULL;
    tap_is_int(hfs_plan_render(&text, p, HFS_PLAN_TEXT), 0, "renders as text");
    tap_is_str(text, expected_text, "text: + ~ > - per path, LFS marked, sizes, commit, total");
    free(text);
    hfs_plan_summary sum;
    hfs_plan_get_summary(&sum, p);
    tap_ok(sum.n_syncs == 1 && sum.n_add == 2 && sum.n_update == 1 && sum.n_delete == 2 &&
               sum.n_copy == 1 && sum.n_unchanged == 1 && sum.upload_files == 3 &&
               sum.commits == 1 && hfs_plan_has_changes(p),
           "summary and has_changes");
    hfs_plan_free(p);

    p = example_plan(HFS_STRATEGY_MULTI, true);
    hfs_plan_render(&text, p, HFS_PLAN_TEXT);
    tap_ok(strstr(text,
                  "  2 commits (strategy multi):\n"
                  "    \"Sync checkpoints (part 1/2)\": 4 operations, 3.2 KB to upload\n"
                  "    \"Sync checkpoints (part 2/2)\": 2 operations, 4.2 GB to upload\n") != NULL,
           "multi: numbered parts; the first one carries the deletes");
    tap_diag("%s", text);
    free(text);
    tap_ok(p->syncs[0].n_commits == 2 &&
               strcmp(p->syncs[0].commits[1].message, "Sync checkpoints (part 2/2)") == 0 &&
               p->syncs[0].summary.commits == 2,
           "part i/N messages in the plan itself");
    hfs_plan_free(p);

    p = example_plan(HFS_STRATEGY_SINGLE, false);
    hfs_plan_render(&text, p, HFS_PLAN_TEXT);
    tap_ok(strstr(text, "new private repo (created by apply)") &&
               strstr(text, "Plan: 1 repo to create, 5 to add"),
           "a repo to create says so, in the header and the total");
    free(text);
    char *json = hfs_plan_to_json(p);
    tap_ok(strstr(json, "\"create\": {\n        \"private\": true\n      }") &&
               strstr(json, "\"remote_head\": null"),
           "create {private} and remote_head null in the file");
    free(json);
    hfs_plan_free(p);

    /* No operations at all. */
    hfs_plan *empty = hfs_plan_new(
        "m.yaml", "e64c6ef76674644904f8af31c710d2c835b287cece366ec5f22c9cc19d79d0b8", "http://h");
    hfs_remote_snapshot *r = hfs_remote_snapshot_new(TEST_HEAD);
    hfs_diff_result d = {0};
    d.n_unchanged = 7;
    hfs_group_result g = {0};
    hfs_sync s = make_sync("logs", HFS_STRATEGY_SINGLE);
    hfs_plan_sync_input psi = {&s, r, &d, &g, NULL, 0};
    hfs_plan_add_sync(empty, &psi);
    hfs_plan_seal(empty);
    hfs_plan_render(&text, empty, HFS_PLAN_TEXT);
    tap_ok(strstr(text, "  no changes (7 unchanged)\nNo changes.\n") != NULL &&
               !hfs_plan_has_changes(empty),
           "nothing to do: \"No changes.\"");
    free(text);
    hfs_plan_free(empty);
    hfs_remote_snapshot_free(r);
}

static void test_round_trip(void)
{
    hfs_plan *p = example_plan(HFS_STRATEGY_MULTI, true);
    hfs_plan *q = example_plan(HFS_STRATEGY_MULTI, true);
    char *a = hfs_plan_to_json(p), *b = hfs_plan_to_json(q);
    tap_is_str(a, b, "deterministic: the same inputs give byte-identical plans");
    tap_ok(a[strlen(a) - 1] == '\n' && strncmp(a, "{\n  \"endpoint\"", 14) == 0,
           "pretty-printed, keys sorted, trailing newline");
    hfs_plan *back = NULL;
    tap_is_int(hfs_plan_parse(&back, a, strlen(a), "plan.json"), 0, "the file parses back");
    if (!back)
        tap_diag("%s", hfs_error_last());
    char *again = back ? hfs_plan_to_json(back) : hfs_strdup("");
    tap_is_str(again, a, "written again, byte for byte the same");
    tap_is_str(back ? hfs_plan_id(back) : "", hfs_plan_id(p), "same plan_id");
    char *t1 = NULL, *t2 = NULL;
    hfs_plan_render(&t1, p, HFS_PLAN_MARKDOWN);
    if (back)
        hfs_plan_render(&t2, back, HFS_PLAN_MARKDOWN);
    tap_is_str(t2, t1, "a loaded plan renders like the computed one");
    free(t1);
    free(t2);
    free(again);
    hfs_plan_free(back);

    /* The same content indented differently is the same plan. */
    json_t *root = json_loads(a, 0, NULL);
    char *compact = json_dumps(root, JSON_COMPACT);
    tap_is_int(hfs_plan_parse(&back, compact, strlen(compact), "compact.json"), 0,
               "re-indented: still valid (plan_id is over canonical content)");
    hfs_plan_free(back);
    free(compact);

    /* Any edited value is refused. */
    json_object_set_new(
        json_object_get(root, "syncs") ? json_array_get(json_object_get(root, "syncs"), 0) : root,
        "revision", json_string("dev"));
    char *edited = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    tap_is_int(hfs_plan_parse(&back, edited, strlen(edited), "plan.json"), HFS_EINVALID,
               "an edited plan is refused");
    tap_is_str(hfs_error_last(),
               "plan.json was modified after it was written (plan_id does not match its "
               "content): review the changes, or make a new plan with hfsync plan",
               "with the message that says why");
    free(edited);

    /* A consistent-looking forgery (plan_id recomputed) still has to add up. */
    json_t *sync0 = json_array_get(json_object_get(root, "syncs"), 0);
    json_object_set_new(json_object_get(sync0, "summary"), "add", json_integer(99));
    json_object_del(root, "plan_id");
    char *canonical = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    char id[HFS_SHA256_HEX];
    hfs_sha256_hex(id, canonical, strlen(canonical));
    json_object_set_new(root, "plan_id", json_string(id));
    edited = json_dumps(root, JSON_INDENT(2));
    tap_is_int(hfs_plan_parse(&back, edited, strlen(edited), "plan.json"), HFS_EINVALID,
               "a summary that disagrees with the operations is refused");
    tap_ok(strstr(hfs_error_last(), "syncs[0].summary") != NULL, "naming the field: %s",
           hfs_error_last());
    free(edited);
    free(canonical);

    /* A missing field names its place. */
    json_object_set_new(json_object_get(sync0, "summary"), "add", json_integer(2));
    json_t *op = json_array_get(
        json_object_get(json_array_get(json_object_get(sync0, "commits"), 1), "operations"), 0);
    /* commits[1] starts with model.safetensors, an LFS add. */
    json_object_del(op, "sha256");
    json_object_del(root, "plan_id");
    canonical = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    hfs_sha256_hex(id, canonical, strlen(canonical));
    json_object_set_new(root, "plan_id", json_string(id));
    edited = json_dumps(root, JSON_INDENT(2));
    tap_is_int(hfs_plan_parse(&back, edited, strlen(edited), "plan.json"), HFS_EINVALID,
               "an LFS operation without sha256 is refused");
    tap_ok(strstr(hfs_error_last(),
                  "plan.json: syncs[0].commits[1].operations[0].sha256: missing") != NULL,
           "naming the field: %s", hfs_error_last());
    free(edited);
    free(canonical);

    json_object_set_new(root, "format_version", json_integer(2));
    edited = json_dumps(root, 0);
    tap_is_int(hfs_plan_parse(&back, edited, strlen(edited), "plan.json"), HFS_EINVALID,
               "another format_version is refused");
    tap_ok(strstr(hfs_error_last(), "format_version 2") != NULL, "saying which: %s",
           hfs_error_last());
    free(edited);
    tap_is_int(hfs_plan_parse(&back, "[1]", 3, "x.json"), HFS_EINVALID, "not an object");
    tap_is_int(hfs_plan_parse(&back, "{", 1, "x.json"), HFS_EINVALID, "not JSON");
    tap_ok(strstr(hfs_error_last(), "x.json:") == hfs_error_last(),
           "the error starts with the file");
    json_decref(root);
    free(a);
    free(b);
    hfs_plan_free(p);
    hfs_plan_free(q);
    hfs_plan_free(NULL);
}

static void test_markdown(void)
{
    hfs_plan *p = example_plan(HFS_STRATEGY_SINGLE, true);
    char *md = NULL;
    hfs_plan_render(&md, p, HFS_PLAN_MARKDOWN);
    tap_ok(strstr(md, "**Plan:** 2 to add, 1 to update, 2 to delete, 1 to copy, 1 unchanged; "
                      "4.2 GB to upload in 1 commit.") != NULL,
           "markdown: the total first");
    tap_ok(strstr(md, "<details>\n<summary><b>checkpoints</b>: <code>./checkpoints</code> → "
                      "<code>alice/my-model</code> (model@main)") != NULL &&
               strstr(md, "</details>"),
           "one collapsible section per sync");
    tap_ok(strstr(md, "| &gt; | <code>weights/new.bin</code> ← <code>weights/old.bin</code> "
                      "(server-side copy) | lfs | 1.0 GB |") != NULL,
           "a table row per operation");
    free(md);
    hfs_plan_free(p);

    /* 150 adds: 100 rows and the count of the rest; awkward names escaped. */
    local_list l = {0};
    char path[64];
    local_add(&l, "a|b<c>.txt", "x", false);
    for (int i = 0; i < 149; i++) {
        snprintf(path, sizeof(path), "f%03d", i);
        local_add(&l, path, path, false);
    }
    hfs_remote_snapshot *r = hfs_remote_snapshot_new(TEST_HEAD);
    hfs_remote_snapshot_finish(r);
    hfs_diff_result d;
    hfs_diff(&d, l.files, l.modes, l.n, r, NULL);
    hfs_group_result g;
    hfs_sync s = make_sync("many", HFS_STRATEGY_SINGLE);
    hfs_group_settings gs = {HFS_STRATEGY_SINGLE, 0, 0, 0};
    hfs_group(&g, d.ops, d.n_ops, &gs);
    p = hfs_plan_new("m.yaml", "e64c6ef76674644904f8af31c710d2c835b287cece366ec5f22c9cc19d79d0b8",
                     "http://h");
    hfs_plan_sync_input psi = {&s, r, &d, &g, NULL, 0};
    hfs_plan_add_sync(p, &psi);
    hfs_plan_seal(p);
    hfs_plan_render(&md, p, HFS_PLAN_MARKDOWN);
    tap_ok(strstr(md, "… and 50 more operations (150 in all)") && !strstr(md, "f099") &&
               strstr(md, "f098"),
           "long lists are cut at 100 rows with the full count");
    tap_ok(strstr(md, "<code>a&#124;b&lt;c&gt;.txt</code>") != NULL,
           "paths are escaped for HTML and tables");
    free(md);
    char *json = hfs_plan_to_json(p);
    hfs_plan *back = NULL;
    tap_ok(hfs_plan_parse(&back, json, strlen(json), "many.json") == 0 &&
               back->syncs[0].commits[0].n_ops == 150,
           "150 operations round-trip");
    hfs_plan_free(back);
    free(json);
    hfs_plan_free(p);
    hfs_group_result_clear(&g);
    hfs_diff_result_clear(&d);
    hfs_remote_snapshot_free(r);
    local_free(&l);
}

/* A path holding the writer's internal marker still gives the right file. */
static void test_marker_in_content(void)
{
    local_list l = {0};
    local_add(&l, "\x01hfsync-operations-0", "x", false);
    local_add(&l, "b", "y", false);
    hfs_remote_snapshot *r = hfs_remote_snapshot_new(TEST_HEAD);
    hfs_remote_snapshot_finish(r);
    hfs_diff_result d;
    hfs_diff(&d, l.files, l.modes, l.n, r, NULL);
    hfs_group_result g;
    hfs_sync s = make_sync("odd", HFS_STRATEGY_SINGLE);
    hfs_group_settings gs = {HFS_STRATEGY_SINGLE, 0, 0, 0};
    hfs_group(&g, d.ops, d.n_ops, &gs);
    hfs_plan *p = hfs_plan_new(
        "m.yaml", "e64c6ef76674644904f8af31c710d2c835b287cece366ec5f22c9cc19d79d0b8", "http://h");
    hfs_plan_sync_input psi = {&s, r, &d, &g, NULL, 0};
    hfs_plan_add_sync(p, &psi);
    hfs_plan_seal(p);
    char *json = hfs_plan_to_json(p);
    hfs_plan *back = NULL;
    int rc = hfs_plan_parse(&back, json, strlen(json), "odd.json");
    tap_ok(rc == 0 && back->syncs[0].commits[0].n_ops == 2 &&
               strcmp(back->syncs[0].commits[0].ops[0].path, "\x01hfsync-operations-0") == 0,
           "a path that looks like the writer's marker is written and read back intact");
    char *again = back ? hfs_plan_to_json(back) : hfs_strdup("");
    tap_is_str(again, json, "and written again identically");
    free(again);
    free(json);
    hfs_plan_free(back);
    hfs_plan_free(p);
    hfs_group_result_clear(&g);
    hfs_diff_result_clear(&d);
    hfs_remote_snapshot_free(r);
    local_free(&l);
}

static void test_formats(void)
{
    hfs_plan_format f;
    tap_ok(hfs_plan_format_parse(&f, "markdown") == 0 && f == HFS_PLAN_MARKDOWN &&
               hfs_plan_format_parse(&f, "json") == 0 && f == HFS_PLAN_JSON,
           "format names");
    tap_is_int(hfs_plan_format_parse(&f, "yaml"), HFS_EINVALID, "an unknown format is refused");
    hfs_plan_progress pr = {"ckpt", 12, 50, 2000000000ull, 4500000000ull, 4.0};
    char line[128];
    hfs_plan_progress_format(line, sizeof(line), &pr);
    tap_is_str(line, "hashing ckpt: 12/50 files, 2.0 GB of 4.5 GB, 500.0 MB/s", "progress line");
}

int main(void)
{
    test_text();
    test_round_trip();
    test_markdown();
    test_marker_in_content();
    test_formats();
    return tap_done();
}
