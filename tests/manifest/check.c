/* Value checks of src/manifest/check.c: sizes, durations, repo ids (the verdicts of
 * huggingface_hub's validate_repo_id), paths in the repo, revisions and endpoints. */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "hfsync.h"
#include "tap.h"

#define KB 1000ULL
#define KiB 1024ULL

static void test_sizes(void)
{
    static const struct {
        const char *text;
        uint64_t want; /* 0: refused */
    } cases[] = {
        {"1", 1},
        {"1048576", 1048576},
        {"10B", 10},
        {"10MB", 10 * KB * KB},
        {"10 MB", 10 * KB * KB},
        {"10kB", 10 * KB},
        {"10KB", 10 * KB},
        {"10MiB", 10 * KiB * KiB},
        {"20GiB", 20 * KiB * KiB * KiB},
        {"2TB", 2 * KB * KB * KB * KB},
        {"1TiB", KiB * KiB * KiB * KiB},
        {"1.5GB", 1500 * KB * KB},
        {"1.5GiB", 1536 * KiB * KiB},
        {"0.5KiB", 512},
        {"1.001KB", 1001},
        {"16EiB", 0}, /* unknown unit */
        {"0", 0},     /* not above 0 */
        {"0MB", 0},
        {"1.5B", 0}, /* not whole bytes */
        {"1.0001KB", 0},
        {"10mb", 0}, /* units are case-sensitive: mb is not MB */
        {"10 XB", 0},
        {"MB", 0},
        {"-5MB", 0},
        {"1e6", 0},
        {"", 0},
        {"10  MB", 0}, /* one space at most */
        {"18446744073709551615", 18446744073709551615ULL},
        {"18446744073709551616", 0}, /* too large */
        {"20000000TiB", 0},
    };
    for (size_t i = 0; i < HFS_ARRAY_LEN(cases); i++) {
        uint64_t got = 0;
        int rc = hfs_size_parse(&got, cases[i].text);
        if (cases[i].want)
            tap_ok(rc == 0 && got == cases[i].want, "size \"%s\" = %llu", cases[i].text,
                   (unsigned long long)cases[i].want);
        else
            tap_ok(rc == HFS_EINVALID && strstr(hfs_error_last(), cases[i].text),
                   "size \"%s\" refused, naming it (%s)", cases[i].text, hfs_error_last());
    }
}

static void test_durations(void)
{
    static const struct {
        const char *text;
        uint64_t want;
    } cases[] = {
        {"90", 90},        {"90s", 90},  {"10m", 600}, {"1h", 3600}, {"1d", 86400}, {"1.5h", 5400},
        {"0.5m", 30},      {"2 m", 120}, {"0", 0},     {"0s", 0},    {"0.5s", 0},   {"10x", 0},
        {"10 minutes", 0}, {"1h30m", 0}, {"-1m", 0},   {"m", 0},     {"10M", 0},
    };
    for (size_t i = 0; i < HFS_ARRAY_LEN(cases); i++) {
        uint64_t got = 0;
        int rc = hfs_duration_parse(&got, cases[i].text);
        if (cases[i].want)
            tap_ok(rc == 0 && got == cases[i].want, "duration \"%s\" = %llus", cases[i].text,
                   (unsigned long long)cases[i].want);
        else
            tap_ok(rc == HFS_EINVALID, "duration \"%s\" refused (%s)", cases[i].text,
                   hfs_error_last());
    }
}

static void test_repo_ids(void)
{
    /* The verdicts are those of huggingface_hub's validate_repo_id (REPO_ID_REGEX with
     * re.ASCII, then the "--", ".." and ".git" rules), checked with Python while writing this
     * table. hfsync also requires the namespace, so "gpt2" (valid for Python) is refused. */
    char long_ok[128] = "a/", long_bad[128] = "a/";
    memset(long_ok + 2, 'b', 96);
    memset(long_bad + 2, 'b', 97);
    const struct {
        const char *id;
        bool valid;
        const char *why; /* a part of the message */
    } cases[] = {
        {"alice/my-model", true, NULL},
        {"alice/gpt2", true, NULL},
        {"a/b", true, NULL},
        {"_a/_b", true, NULL},
        {"Alice_1/model.v2_final", true, NULL},
        {"a-b/c.d", true, NULL},
        {"0/0", true, NULL},
        {"alice/_", true, NULL},
        {"a_/b", true, NULL},
        {"alice/x.gitx", true, NULL},
        {"alice/x.y.z", true, NULL},
        {long_ok, true, NULL},
        {"gpt2", false, "namespace/name"},
        {"alice/-x", false, "start and end"},
        {"alice/x-", false, "start and end"},
        {"-alice/x", false, "namespace must start and end"},
        {"alice./x", false, "namespace must start and end"},
        {"alice/.x", false, "start and end"},
        {"alice/my--model", false, "\"--\""},
        {"alice/my..model", false, "\"..\""},
        {"al--ice/x", false, "\"--\""},
        {"alice/x.git", false, ".git"},
        {"alice/.git", false, "start and end"},
        {long_bad, false, "at most 96"},
        {"alice/my model", false, "' '"},
        {"alice/caf\xc3\xa9", false, "'\xc3\xa9'"},
        {"datasets/alice/x", false, "set repo_type: dataset"},
        {"spaces/alice/x", false, "set repo_type: space"},
        {"alice/x/y", false, "one '/'"},
        {"alice/", false, "empty name"},
        {"/x", false, "empty namespace"},
        {"alice//x", false, "one '/'"},
        /* Python's `$` also matches before a final newline, so Python takes this one; a
         * repo id never holds a newline, so hfsync refuses it. */
        {"alice/x\n", false, "only letters"},
    };
    for (size_t i = 0; i < HFS_ARRAY_LEN(cases); i++) {
        int rc = hfs_repo_id_validate(cases[i].id);
        /* A TAP line must stay one line: show a newline as \n. */
        char shown[48];
        snprintf(shown, sizeof(shown), "%.40s", cases[i].id);
        char *nl = strchr(shown, '\n');
        if (nl)
            strcpy(nl, "\\n");
        if (cases[i].valid)
            tap_ok(rc == 0, "repo id \"%s\" is valid", shown);
        else if (!tap_ok(rc == HFS_EINVALID && strstr(hfs_error_last(), cases[i].why),
                         "repo id \"%s\" is refused: %s", shown, cases[i].why))
            tap_diag("message: %s", hfs_error_last());
    }
}

static void test_paths(void)
{
    static const struct {
        const char *path, *want; /* want NULL: refused */
    } cases[] = {
        {"", ""},
        {".", ""},
        {"./", ""},
        {"experiment/ckpt", "experiment/ckpt"},
        {"experiment/ckpt/", "experiment/ckpt"},
        {"./experiment/ckpt", "experiment/ckpt"},
        {"a/b/c//", "a/b/c"},
        {".gitignore-dir/x", ".gitignore-dir/x"},
        {"x/.github", "x/.github"},
        {"caches/.cachex", "caches/.cachex"},
        {"/experiment", NULL},
        {"..", NULL},
        {"../x", NULL},
        {"a/../b", NULL},
        {"a/..", NULL},
        {"a/./b", NULL},
        {"././a", NULL},
        {"a//b", NULL},
        {".git", NULL},
        {".git/hooks", NULL},
        {"sub/.git", NULL},
        {".cache/huggingface", NULL},
        {"a/.cache/b", NULL},
    };
    for (size_t i = 0; i < HFS_ARRAY_LEN(cases); i++) {
        char *got = NULL;
        int rc = hfs_path_in_repo_normalize(&got, cases[i].path);
        if (cases[i].want) {
            tap_ok(rc == 0 && got && strcmp(got, cases[i].want) == 0,
                   "path_in_repo \"%s\" -> \"%s\"", cases[i].path, cases[i].want);
        } else {
            tap_ok(rc == HFS_EINVALID && !got && strstr(hfs_error_last(), cases[i].path),
                   "path_in_repo \"%s\" refused (%s)", cases[i].path, hfs_error_last());
        }
        free(got);
    }
}

static void test_revisions(void)
{
    static const struct {
        const char *rev;
        bool valid;
    } cases[] = {
        {"main", true},
        {"feature/x", true},
        {"v1.0", true},
        {"refs/pr/3", true},
        {"refs/pr/123", true},
        {"", false},
        {"my branch", false},
        {"a..b", false},
        {"x.lock", false},
        {"feature/", false},
        {"~x", false},
        {"a:b", false},
        {"refs/heads/main", false},
        {"refs/pr/", false},
        {"refs/pr/x", false},
        {"refs/tags/v1", false},
        {"0123456789abcdef0123456789abcdef01234567", false},
    };
    for (size_t i = 0; i < HFS_ARRAY_LEN(cases); i++) {
        int rc = hfs_revision_validate(cases[i].rev);
        tap_ok((rc == 0) == cases[i].valid, "revision \"%s\" is %s", cases[i].rev,
               cases[i].valid ? "valid" : "refused");
    }
}

static void test_endpoints(void)
{
    static const struct {
        const char *url, *want;
    } cases[] = {
        {"https://huggingface.co", "https://huggingface.co"},
        {"https://huggingface.co/", "https://huggingface.co"},
        {"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
        {"http://localhost:8080/hub/", "http://localhost:8080/hub"},
        {"ftp://hub.example.com", NULL},
        {"huggingface.co", NULL},
        {"https://", NULL},
        {"https://user:pw@hub.example.com", NULL},
        {"https://hub.example.com/?x=1", NULL},
        {"https://hub.example.com/#top", NULL},
        {"https://hub example.com", NULL},
    };
    for (size_t i = 0; i < HFS_ARRAY_LEN(cases); i++) {
        char *got = NULL;
        int rc = hfs_endpoint_normalize(&got, cases[i].url);
        if (cases[i].want)
            tap_ok(rc == 0 && got && strcmp(got, cases[i].want) == 0, "endpoint \"%s\" -> %s",
                   cases[i].url, cases[i].want);
        else
            tap_ok(rc == HFS_EINVALID && !got, "endpoint \"%s\" refused (%s)", cases[i].url,
                   hfs_error_last());
        free(got);
    }
}

int main(void)
{
    test_sizes();
    test_durations();
    test_repo_ids();
    test_paths();
    test_revisions();
    test_endpoints();
    tap_is_str(hfs_repo_type_name(HFS_REPO_DATASET), "dataset", "repo type names");
    tap_is_str(hfs_commit_strategy_name(HFS_STRATEGY_LARGE), "large", "strategy names");
    tap_is_str(hfs_transport_name(HFS_TRANSPORT_GIT), "git", "transport names");
    return tap_done();
}
