/* Loading manifests (src/manifest/manifest.c): built-in defaults, inheritance from `defaults`,
 * places of settings, pattern sets, digests, diagnostics, and the in-memory one-sync manifest. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/hash.h"
#include "common/util.h"
#include "hfsync.h"
#include "manifest/manifest.h"
#include "tap.h"

static char tmp[PATH_MAX];

static char *write_manifest(const char *name, const char *text)
{
    char *path = hfs_path_join(tmp, name);
    hfs_write_file_atomic(path, text, strlen(text), 0644);
    return path;
}

static hfs_manifest *load(const char *name, const char *text, hfs_diag_list *d)
{
    char *path = write_manifest(name, text);
    hfs_manifest *m = NULL;
    hfs_manifest_load(&m, path, d);
    free(path);
    return m;
}

static void test_builtin_defaults(void)
{
    hfs_manifest *m =
        load("min.yaml", "version: 1\nsyncs:\n  ckpt:\n    repo_id: alice/m\n    folder_path: a\n",
             NULL);
    if (!tap_ok(m != NULL, "minimal manifest loads")) {
        tap_diag("%s", hfs_error_last());
        return;
    }
    const hfs_sync *s = &m->syncs[0];
    tap_is_str(s->name, "ckpt", "sync name");
    tap_is_int(s->repo_type, HFS_REPO_MODEL, "repo_type defaults to model");
    tap_is_str(s->revision, "main", "revision defaults to main");
    tap_ok(!s->create && !s->create_private && !s->space_sdk, "no create by default");
    char *abs = hfs_path_join(tmp, "a");
    tap_is_str(s->folder_abs, abs, "folder_abs is absolute");
    free(abs);
    tap_is_str(s->folder_path, "a", "folder_path as written");
    tap_is_str(s->path_in_repo, "", "path_in_repo defaults to the root");
    tap_ok(s->n_allow_patterns == 0 && s->n_ignore_patterns == 0 && s->n_delete_patterns == 0,
           "no patterns by default");
    tap_ok(s->gitignore, "gitignore defaults to true");
    tap_is_str(s->commit.message, HFS_DEFAULT_COMMIT_MESSAGE, "default commit message");
    tap_is_str(s->commit.description, "", "default description");
    tap_is_int(s->commit.strategy, HFS_STRATEGY_SINGLE, "strategy defaults to single");
    tap_is_int((long long)s->commit.max_files, 1000, "max_files defaults to 1000");
    tap_ok(s->commit.max_bytes == 20ULL * 1024 * 1024 * 1024, "max_bytes defaults to 20GiB");
    tap_ok(!s->commit.create_pr, "create_pr defaults to false");
    tap_is_int(s->transport, HFS_TRANSPORT_HTTP, "transport defaults to http");
    tap_is_int((long long)s->max_delete, 100, "max_delete defaults to 100");
    tap_ok(!s->scheduled && s->schedule_every == 0, "not scheduled by default");
    tap_ok(s->pos.line == 3 && s->pos.col == 3, "the sync's place is its name");
    tap_ok(m->endpoint == NULL && m->version == 1, "no endpoint; version 1");
    tap_ok(hfs_pattern_set_empty(hfs_sync_allow_set(s)) && hfs_sync_allow_set(s) != NULL,
           "empty allow set, not NULL");
    tap_ok(hfs_pattern_filter(hfs_sync_allow_set(s), hfs_sync_ignore_set(s), "any/file.bin"),
           "no patterns let every file through");
    hfs_srcpos p = hfs_sync_where(s, "max_delete", NULL);
    tap_ok(p.line == 0, "a built-in default has no place");
    hfs_manifest_free(m);
}

static const char inherit_yaml[] =
    "version: 1\n"
    "endpoint: http://127.0.0.1:9999/\n"
    "defaults:\n"
    "  repo_id: alice/shared\n"
    "  repo_type: dataset\n"
    "  create: {private: true}\n"
    "  allow_patterns: [\"*.json\", \"logs/\"]\n"
    "  commit: {strategy: multi, max_files: 50, max_bytes: 1GB, create_pr: true}\n"
    "  schedule: {every: 10m}\n"
    "  max_delete: 7\n"
    "syncs:\n"
    "  a:\n"
    "    folder_path: a\n"
    "  b:\n"
    "    repo_id: alice/b\n"
    "    folder_path: b\n"
    "    path_in_repo: ./sub/dir/\n"
    "    allow_patterns: \"*.bin\"\n"
    "    commit: {max_files: 5}\n"
    "    schedule: {append_only: true}\n"
    "    create: false\n";

static void test_inheritance(void)
{
    hfs_diag_list d = HFS_DIAG_LIST_INIT;
    hfs_manifest *m = load("inherit.yaml", inherit_yaml, &d);
    if (!tap_ok(m && d.count == 0, "manifest with defaults loads")) {
        for (size_t i = 0; i < d.count; i++)
            tap_diag("%s", d.items[i].message);
        hfs_diag_list_free(&d);
        return;
    }
    tap_is_str(m->endpoint, "http://127.0.0.1:9999", "endpoint without trailing slash");
    const hfs_sync *a = hfs_manifest_find_sync(m, "a"), *b = hfs_manifest_find_sync(m, "b");
    tap_ok(a && b && !hfs_manifest_find_sync(m, "c"), "find_sync");
    tap_is_str(a->repo_id, "alice/shared", "a inherits repo_id");
    tap_is_int(a->repo_type, HFS_REPO_DATASET, "a inherits repo_type");
    tap_ok(a->create && a->create_private, "a inherits create {private: true}");
    tap_ok(a->n_allow_patterns == 2 && strcmp(a->allow_patterns[1], "logs/") == 0,
           "a inherits allow_patterns");
    tap_ok(hfs_pattern_set_match(hfs_sync_allow_set(a), "logs/deep/x.txt") &&
               !hfs_pattern_set_match(hfs_sync_allow_set(a), "model.bin"),
           "a's compiled allow set comes from defaults");
    tap_ok(a->commit.strategy == HFS_STRATEGY_MULTI && a->commit.max_files == 50 &&
               a->commit.max_bytes == 1000000000ULL && a->commit.create_pr,
           "a inherits every commit setting");
    tap_ok(a->scheduled && a->schedule_every == 600 && !a->schedule_append_only,
           "a inherits the schedule");
    tap_is_int((long long)a->max_delete, 7, "a inherits max_delete");
    bool from_defaults = false;
    hfs_srcpos p = hfs_sync_where(a, "commit.max_files", &from_defaults);
    tap_ok(p.line == 8 && from_defaults, "place of an inherited setting is in defaults");

    tap_is_str(b->repo_id, "alice/b", "b's own repo_id wins");
    tap_is_int(b->repo_type, HFS_REPO_DATASET, "b still inherits repo_type");
    tap_is_str(b->path_in_repo, "sub/dir", "path_in_repo normalised");
    tap_ok(b->n_allow_patterns == 1 && strcmp(b->allow_patterns[0], "*.bin") == 0,
           "a sync's list replaces the defaults' list; one string is a one-item list");
    tap_ok(b->commit.max_files == 5 && b->commit.strategy == HFS_STRATEGY_MULTI &&
               b->commit.max_bytes == 1000000000ULL,
           "commit settings merge key by key");
    tap_ok(b->scheduled && b->schedule_every == 600 && b->schedule_append_only,
           "schedule merges key by key (every from defaults)");
    tap_ok(!b->create && b->create_private, "create: false wins; private still inherited");
    p = hfs_sync_where(b, "commit.max_files", &from_defaults);
    tap_ok(p.line == 19 && p.col == 25 && !from_defaults, "place of a sync's own setting");
    hfs_manifest_free(m);
    hfs_diag_list_free(&d);
}

static void test_digest_and_string(void)
{
    const char *text = "version: 1\nsyncs:\n  x: {repo_id: alice/x, folder_path: .}\n";
    hfs_manifest *m = load("digest.yaml", text, NULL);
    char want[HFS_SHA256_HEX];
    hfs_sha256_hex(want, text, strlen(text));
    tap_ok(m && strcmp(hfs_manifest_digest(m), want) == 0, "digest is the sha256 of the bytes");
    hfs_manifest_free(m);

    hfs_diag_list d = HFS_DIAG_LIST_INIT;
    int rc = hfs_manifest_load_string(&m, text, strlen(text), "inline.yaml", tmp, &d);
    tap_ok(rc == 0 && m && strcmp(m->path, "inline.yaml") == 0 &&
               strcmp(m->syncs[0].folder_abs, tmp) == 0,
           "load_string: folder_path relative to base_dir");
    hfs_manifest_free(m);

    const char *bad = "version: 1\nsyncs:\n  x: {repo_id: x, folder_path: .}\n";
    rc = hfs_manifest_load_string(&m, bad, strlen(bad), "inline.yaml", tmp, &d);
    tap_ok(rc == HFS_EINVALID && !m && d.count == 1 && d.items[0].line == 3 &&
               strcmp(d.items[0].file, "inline.yaml") == 0 &&
               strcmp(d.items[0].key_path, "syncs.x.repo_id") == 0,
           "load_string: problems name the given file name");
    char *line = hfs_diag_format(&d.items[0]);
    tap_ok(hfs_str_starts_with(line, "inline.yaml:3:16: syncs.x.repo_id: expected a repo id"),
           "diag format FILE:LINE:COL: key.path: message");
    free(line);
    tap_ok(strstr(hfs_error_last(), "1 problem, the first: expected a repo id") != NULL,
           "the last error summarises the problems");
    hfs_diag_list_free(&d);
    tap_ok(d.count == 0 && d.items == NULL, "diag_list_free empties the list");
    hfs_diag_list_free(NULL);

    rc = hfs_manifest_load(&m, "/nonexistent/hfsync.yaml", &d);
    tap_ok(rc == HFS_ENOTFOUND && d.count == 0 && strstr(hfs_error_last(), "/nonexistent"),
           "a missing file is an error, not a diagnostic");
    hfs_manifest_free(NULL);
}

static void test_many_problems(void)
{
    /* 300 bad syncs: the list keeps the first 200 and counts the rest. */
    hfs_buf b = HFS_BUF_INIT;
    hfs_buf_puts(&b, "version: 1\nsyncs:\n");
    for (int i = 0; i < 300; i++)
        hfs_buf_printf(&b, "  s%d: {repo_id: bad, folder_path: .}\n", i);
    hfs_diag_list d = HFS_DIAG_LIST_INIT;
    hfs_manifest *m = load("many.yaml", b.ptr, &d);
    tap_ok(!m && d.count == HFS_MANIFEST_MAX_DIAGS && d.dropped == 100,
           "problems are capped at %d, the rest counted", HFS_MANIFEST_MAX_DIAGS);
    tap_ok(d.items[0].line == 3 && d.items[199].line == 202, "kept in file order");
    hfs_diag_list_free(&d);
    hfs_buf_free(&b);
}

static void test_new_single(void)
{
    const char *allow[] = {"*.json"};
    hfs_sync_spec spec = HFS_SYNC_SPEC_INIT;
    spec.repo_id = "alice/up";
    spec.repo_type = HFS_REPO_SPACE;
    spec.folder_path = "a";
    spec.path_in_repo = "./docs/";
    spec.allow_patterns = allow;
    spec.n_allow_patterns = 1;
    spec.schedule_every = 300;
    hfs_manifest *m = NULL;
    int rc = hfs_manifest_new_single(&m, tmp, &spec);
    if (!tap_ok(rc == 0 && m, "new_single builds a manifest")) {
        tap_diag("%s", hfs_error_last());
        return;
    }
    const hfs_sync *s = &m->syncs[0];
    tap_ok(m->n_syncs == 1 && strcmp(s->name, "upload") == 0, "one sync named upload");
    tap_is_str(s->path_in_repo, "docs", "path_in_repo normalised");
    tap_is_str(s->revision, "main", "revision defaults to main");
    tap_is_str(s->space_sdk, "static", "a space gets the static sdk by default");
    tap_ok(s->scheduled && s->schedule_every == 300, "scheduled every 300 s");
    tap_ok(hfs_pattern_set_match(hfs_sync_allow_set(s), "x/y.json"), "allow set compiled");
    tap_ok(strlen(hfs_manifest_digest(m)) == 64, "a digest of the settings");
    char first[65];
    memcpy(first, m->digest, sizeof(first));
    hfs_manifest_free(m);
    hfs_manifest_new_single(&m, tmp, &spec);
    tap_ok(m && strcmp(m->digest, first) == 0, "the same spec gives the same digest");
    hfs_manifest_free(m);

    static const struct {
        const char *what, *message;
    } bad[] = {
        {"repo_id", "repo_id: expected a repo id"},
        {"revision", "revision: revision \"a b\""},
        {"folder", "folder_path: folder \"missing\" does not exist"},
        {"path", "path_in_repo: path \"../x\""},
        {"pattern", "allow_patterns: pattern \"[z-a]\""},
        {"create_pr", "revision: commit.create_pr opens a new pull request"},
        {"endpoint", "endpoint: expected an http"},
    };
    for (size_t i = 0; i < HFS_ARRAY_LEN(bad); i++) {
        hfs_sync_spec b = HFS_SYNC_SPEC_INIT;
        const char *bad_allow[] = {"[z-a]"};
        b.repo_id = "alice/up";
        b.folder_path = "a";
        if (strcmp(bad[i].what, "repo_id") == 0)
            b.repo_id = "up";
        else if (strcmp(bad[i].what, "revision") == 0)
            b.revision = "a b";
        else if (strcmp(bad[i].what, "folder") == 0)
            b.folder_path = "missing";
        else if (strcmp(bad[i].what, "path") == 0)
            b.path_in_repo = "../x";
        else if (strcmp(bad[i].what, "pattern") == 0) {
            b.allow_patterns = bad_allow;
            b.n_allow_patterns = 1;
        } else if (strcmp(bad[i].what, "create_pr") == 0) {
            b.revision = "refs/pr/1";
            b.create_pr = true;
        } else {
            b.endpoint = "ftp://x";
        }
        m = NULL;
        rc = hfs_manifest_new_single(&m, tmp, &b);
        if (!tap_ok(rc == HFS_EINVALID && !m &&
                        hfs_str_starts_with(hfs_error_last(), bad[i].message),
                    "new_single refuses a bad %s", bad[i].what))
            tap_diag("got: %s", hfs_error_last());
    }
}

/* schedule: the default message of scheduled commits, squash_history, and pack settings
 * (inherited key by key, compiled patterns, default name, the name's {timestamp}). */
static const char schedule_yaml[] =
    "version: 1\n"
    "defaults:\n"
    "  schedule: {every: 1m, pack: {patterns: [\"*.png\", \"shots/\"]}}\n"
    "syncs:\n"
    "  imgs:\n"
    "    repo_id: alice/imgs\n"
    "    folder_path: a\n"
    "    schedule: {squash_history: true, pack: {name: \"png/{timestamp}.zip\", "
    "remove_local: true}}\n"
    "  logs:\n"
    "    repo_id: alice/logs\n"
    "    folder_path: b\n"
    "    commit: {message: \"Push logs\"}\n"
    "  plain:\n"
    "    repo_id: alice/plain\n"
    "    folder_path: b\n"
    "    schedule: {every: 10s, pack: {patterns: \"*.jpg\"}}\n";

static void test_schedule(void)
{
    hfs_diag_list d = HFS_DIAG_LIST_INIT;
    hfs_manifest *m = load("schedule.yaml", schedule_yaml, &d);
    if (!tap_ok(m && d.count == 0, "manifest with pack and squash_history loads")) {
        for (size_t i = 0; i < d.count; i++)
            tap_diag("%s", d.items[i].message);
        hfs_diag_list_free(&d);
        return;
    }
    const hfs_sync *imgs = hfs_manifest_find_sync(m, "imgs");
    const hfs_sync *logs = hfs_manifest_find_sync(m, "logs");
    const hfs_sync *plain = hfs_manifest_find_sync(m, "plain");
    tap_is_str(imgs->commit.message, HFS_DEFAULT_SCHEDULED_MESSAGE,
               "a scheduled sync without a message says \"Scheduled commit\"");
    tap_is_str(logs->commit.message, "Push logs", "... unless the manifest sets one");
    tap_ok(imgs->schedule_squash_history && !logs->schedule_squash_history,
           "squash_history is read, default false");
    const hfs_pack_settings *p = &imgs->schedule_pack;
    tap_ok(p->enabled && p->n_patterns == 2 && strcmp(p->patterns[1], "shots/") == 0,
           "pack patterns are inherited from defaults");
    tap_ok(p->format == HFS_PACK_ZIP && strcmp(hfs_pack_format_name(p->format), "zip") == 0,
           "format defaults to zip");
    tap_ok(strcmp(p->name, "png/{timestamp}.zip") == 0 && p->remove_local,
           "the sync's own name and remove_local");
    tap_ok(hfs_pattern_set_match(hfs_sync_pack_set(imgs), "shots/a/b.jpg") &&
               hfs_pattern_set_match(hfs_sync_pack_set(imgs), "x.png") &&
               !hfs_pattern_set_match(hfs_sync_pack_set(imgs), "x.jpg"),
           "the pack set is compiled with the allow_patterns rules");
    tap_ok(logs->schedule_pack.enabled && strcmp(logs->schedule_pack.name, HFS_DEFAULT_PACK_NAME) == 0 &&
               !logs->schedule_pack.remove_local,
           "a sync inheriting the pack gets the default name and keeps local files");
    tap_ok(plain->schedule_pack.n_patterns == 1 &&
               hfs_pattern_set_match(hfs_sync_pack_set(plain), "a.jpg"),
           "a sync's own patterns replace the defaults' (one string is a one-item list)");
    bool from_defaults = false;
    hfs_srcpos pos = hfs_sync_where(imgs, "schedule.pack.patterns", &from_defaults);
    tap_ok(pos.line == 3 && from_defaults, "place of the inherited pack patterns");
    hfs_manifest_free(m);

    m = load("unscheduled.yaml", "version: 1\nsyncs:\n  a: {repo_id: a/b, folder_path: a}\n", NULL);
    tap_ok(m && !m->syncs[0].schedule_pack.enabled &&
               hfs_pattern_set_empty(hfs_sync_pack_set(&m->syncs[0])),
           "no pack without schedule.pack: an empty set, not NULL");
    hfs_manifest_free(m);

    char *name = NULL;
    int rc = hfs_pack_name_expand(&name, "./img/{timestamp}-{timestamp}.zip", "20260126T034000Z");
    tap_ok(rc == 0 && strcmp(name, "img/20260126T034000Z-20260126T034000Z.zip") == 0,
           "the name is normalised and every {timestamp} replaced");
    free(name);
    static const struct {
        const char *name, *message;
    } bad[] = {
        {"img.zip", "has no {timestamp}"},
        {"img-{time}.zip", "has a '{' that is not part of {timestamp}"},
        {"img-{timestamp}/", "names a folder"},
        {"../{timestamp}.zip", "path \"../{timestamp}.zip\""},
    };
    for (size_t i = 0; i < HFS_ARRAY_LEN(bad); i++) {
        name = NULL;
        rc = hfs_pack_name_expand(&name, bad[i].name, "20260126T034000Z");
        if (!tap_ok(rc == HFS_EINVALID && !name && strstr(hfs_error_last(), bad[i].message),
                    "pack name %s is refused", bad[i].name))
            tap_diag("got: %s", hfs_error_last());
        free(name);
    }

    hfs_sync_spec spec = HFS_SYNC_SPEC_INIT;
    spec.repo_id = "alice/up";
    spec.folder_path = "a";
    spec.schedule_every = 60;
    m = NULL;
    rc = hfs_manifest_new_single(&m, tmp, &spec);
    tap_ok(rc == 0 && strcmp(m->syncs[0].commit.message, HFS_DEFAULT_SCHEDULED_MESSAGE) == 0 &&
               !m->syncs[0].schedule_pack.enabled,
           "a scheduled one-sync manifest says \"Scheduled commit\" and packs nothing");
    hfs_manifest_free(m);
}

int main(void)
{
    snprintf(tmp, sizeof(tmp), "%s/hfsync-manifest-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp))
        return 1;
    char *real = realpath(tmp, NULL);
    snprintf(tmp, sizeof(tmp), "%s", real);
    free(real);
    const char *dirs[] = {"a", "b"};
    for (size_t i = 0; i < HFS_ARRAY_LEN(dirs); i++) {
        char *p = hfs_path_join(tmp, dirs[i]);
        hfs_mkdir_p(p);
        free(p);
    }
    test_builtin_defaults();
    test_inheritance();
    test_digest_and_string();
    test_many_problems();
    test_new_single();
    test_schedule();
    char *cmd = hfs_sprintf("rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", tmp);
    free(cmd);
    return tap_done();
}
