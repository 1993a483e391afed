/* Tests for src/common/lfsrules.c: .gitattributes rules with git's semantics, the hub's
 * default lists, binary samples and the whole LFS-or-regular decision. */
#include <stdlib.h>
#include <string.h>

#include "common/lfsrules.h"
#include "common/util.h"
#include "tap.h"

static hfs_lfsrules *parse(const char *text)
{
    hfs_lfsrules *r = NULL;
    if (hfs_lfsrules_parse(&r, text, text ? strlen(text) : 0) != 0)
        tap_diag("parse failed for: %s", text ? text : "(null)");
    return r;
}

typedef struct {
    const char *path;
    bool lfs;
} match_case;

static void check_cases(const hfs_lfsrules *r, const char *what, const match_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tap_ok(hfs_lfsrules_match(r, cases[i].path) == cases[i].lfs, "%s: %s is %s", what,
               cases[i].path, cases[i].lfs ? "lfs" : "not lfs");
}

static void test_defaults(void)
{
    const match_case model[] = {
        {"model.safetensors", true},
        {"sub/dir/model.safetensors", true},
        {"weights.bin", true},
        {"lfs.pkl", true},
        {"a/b/c.pt", true},
        {"archive.tar.gz", true},
        {"archive.tar", true},
        {"data.tar.xz", true},
        {"x.tar.anything", true},
        {"tar.gz.txt", false},
        {"events.out.tfevents.123.host", true},
        {"runs/1/tfevents", true},
        {"saved_model/x.pb", true},
        {"saved_model/variables/v.data", true},
        {"saved_model/a/b/c", true},
        {"sub/saved_model/x", false},
        {"saved_model", false},
        {"file.lfs.thing", true},
        {"README.md", false},
        {"config.json", false},
        {"script.py", false},
        {"image.png", false},
        {"data.parquet", true},
        {"notes.bin.txt", false},
    };
    hfs_lfsrules *r = parse(hfs_lfsrules_default_gitattributes(HFS_REPO_MODEL));
    check_cases(r, "model defaults", model, HFS_ARRAY_LEN(model));
    hfs_lfsrules_free(r);

    const match_case dataset[] = {
        {"img/cat.png", true}, {"audio/a.wav", true}, {"v.mp4", true},
        {"db.sqlite3", true},  {"x.jpeg", true},      {"model.safetensors", true},
        {"train.csv", false},  {"data.jsonl", false}, {"README.md", false},
    };
    r = parse(hfs_lfsrules_default_gitattributes(HFS_REPO_DATASET));
    check_cases(r, "dataset defaults", dataset, HFS_ARRAY_LEN(dataset));
    hfs_lfsrules_free(r);

    r = parse(hfs_lfsrules_default_gitattributes(HFS_REPO_SPACE));
    tap_ok(hfs_lfsrules_match(r, "w.bin") && !hfs_lfsrules_match(r, "pic.png"),
           "space defaults are the model list");
    hfs_lfsrules_free(r);

    const char *m = hfs_lfsrules_default_gitattributes(HFS_REPO_MODEL);
    tap_ok(hfs_str_starts_with(m, "*.7z filter=lfs diff=lfs merge=lfs -text\n"),
           "model list starts with *.7z and the hub's attributes");
    tap_ok(hfs_str_ends_with(m, "*tfevents* filter=lfs diff=lfs merge=lfs -text\n"),
           "model list ends with *tfevents*");
    tap_ok(strstr(m, "\nsaved_model/**/* filter=lfs diff=lfs merge=lfs -text\n") != NULL,
           "model list holds saved_model/**/*");
    size_t lines = 0;
    for (const char *p = m; *p; p++)
        lines += *p == '\n';
    tap_is_int((long long)lines, 35, "model list has the hub's 35 patterns");
    const char *d = hfs_lfsrules_default_gitattributes(HFS_REPO_DATASET);
    lines = 0;
    for (const char *p = d; *p; p++)
        lines += *p == '\n';
    tap_is_int((long long)lines, 35 + 27, "dataset list adds 27 patterns");
}

static void test_semantics(void)
{
    hfs_lfsrules *r = parse("# comment\n"
                            "\n"
                            "   *.bin filter=lfs diff=lfs merge=lfs -text\n"
                            "keep.bin -filter\n"
                            "docs/*.pdf filter=lfs\n"
                            "/top.dat filter=lfs\n"
                            "nested/**/deep.x filter=lfs\n"
                            "*.txt filter=lfs\n"
                            "*.txt !filter\n"
                            "*.csv filter=other\n"
                            "*.csv filter=lfs -filter\n"
                            "*.h5 -filter filter=lfs\n"
                            "\"with space.ext\" filter=lfs\n"
                            "with[[:space:]]class.ext filter=lfs\n"
                            "!neg.bin filter=lfs\n"
                            "dironly/ filter=lfs\n"
                            "[attr]mylfs filter=lfs\n"
                            "*.md text\n");
    const match_case cases[] = {
        {"a.bin", true},             /* basename pattern, root */
        {"x/y/z.bin", true},         /* basename pattern at any depth */
        {"keep.bin", false},         /* later -filter wins */
        {"sub/keep.bin", false},     /* ... at any depth too */
        {"docs/a.pdf", true},        /* path pattern */
        {"docs/sub/a.pdf", false},   /* `*` does not cross '/' in a path pattern */
        {"other/docs/a.pdf", false}, /* path patterns are anchored at the root */
        {"top.dat", true},           /* leading '/' anchors */
        {"sub/top.dat", false},
        {"nested/deep.x", true},     /* `**` spans zero directories */
        {"nested/a/b/deep.x", true}, /* ... or several */
        {"a.txt", false},            /* unset with !filter on a later line */
        {"a.csv", false},            /* last attribute on a line wins */
        {"a.h5", true},
        {"with space.ext", true}, /* quoted pattern */
        {"with class.ext", true}, /* [[:space:]] as git lfs track writes it */
        {"neg.bin", true},        /* negative pattern ignored; *.bin still applies */
        {"dironly/file", false},  /* directory-only patterns never decide files */
        {"README.md", false},     /* a line without filter says nothing */
    };
    check_cases(r, "semantics", cases, HFS_ARRAY_LEN(cases));
    hfs_lfsrules_free(r);

    r = parse("sep.ext\tfilter=lfs\r\nnext.ext filter=lfs\r\n");
    tap_ok(hfs_lfsrules_match(r, "sep.ext") && hfs_lfsrules_match(r, "next.ext"),
           "a tab separates pattern and attributes; CRLF line endings are fine");
    hfs_lfsrules_free(r);

    r = parse(NULL);
    tap_ok(r != NULL && !hfs_lfsrules_match(r, "a.bin"), "no .gitattributes: nothing is lfs");
    hfs_lfsrules_free(r);
    tap_ok(!hfs_lfsrules_match(NULL, "a.bin"), "NULL rules match nothing");
    hfs_lfsrules_free(NULL);

    r = parse("[unclosed filter=lfs\n*.ok filter=lfs");
    tap_ok(hfs_lfsrules_match(r, "f.ok") && !hfs_lfsrules_match(r, "[unclosed"),
           "a malformed pattern is skipped, a last line without newline counts");
    hfs_lfsrules_free(r);
}

static void test_track_line(void)
{
    const struct {
        const char *path, *want;
    } cases[] = {
        {"data/big.dat", "data/big.dat filter=lfs diff=lfs merge=lfs -text\n"},
        {"my file.dat", "my[[:space:]]file.dat filter=lfs diff=lfs merge=lfs -text\n"},
        {"a*b?[c].x", "a\\*b\\?\\[c].x filter=lfs diff=lfs merge=lfs -text\n"},
        {"#hash", "\\#hash filter=lfs diff=lfs merge=lfs -text\n"},
        {"!bang", "\\!bang filter=lfs diff=lfs merge=lfs -text\n"},
    };
    for (size_t i = 0; i < HFS_ARRAY_LEN(cases); i++) {
        char *line = hfs_lfsrules_track_line(cases[i].path);
        char name[96];
        snprintf(name, sizeof(name), "track line for \"%s\"", cases[i].path);
        tap_is_str(line, cases[i].want, name);
        /* The appended line must bring the path under a rule, and only that path. */
        hfs_lfsrules *r = parse(line);
        tap_ok(hfs_lfsrules_match(r, cases[i].path), "its line matches \"%s\"", cases[i].path);
        hfs_lfsrules_free(r);
        free(line);
    }
    char *line = hfs_lfsrules_track_line("a*b?[c].x");
    hfs_lfsrules *r = parse(line);
    tap_ok(!hfs_lfsrules_match(r, "aXXbY[c].x") && !hfs_lfsrules_match(r, "azbzc.x"),
           "an escaped path matches no other name");
    hfs_lfsrules_free(r);
    free(line);
}

static void test_binary(void)
{
    tap_ok(!hfs_lfsrules_sample_is_binary("hello\nworld\n", 12), "ASCII text");
    tap_ok(!hfs_lfsrules_sample_is_binary("caf\xc3\xa9 \xe2\x82\xac", 9), "UTF-8 text");
    tap_ok(!hfs_lfsrules_sample_is_binary("\x1b[0m\x07\x01", 6),
           "control characters alone are text");
    tap_ok(hfs_lfsrules_sample_is_binary("ab\0cd", 5), "a NUL byte is binary");
    tap_ok(hfs_lfsrules_sample_is_binary("ab\xff"
                                         "cd",
                                         5),
           "0xFF is binary");
    tap_ok(hfs_lfsrules_sample_is_binary("\xc0\xaf", 2), "overlong sequence is binary");
    tap_ok(hfs_lfsrules_sample_is_binary("\xed\xa0\x80", 3), "surrogate is binary");
    tap_ok(hfs_lfsrules_sample_is_binary("a\x80"
                                         "bc",
                                         4),
           "stray continuation is binary");
    tap_ok(!hfs_lfsrules_sample_is_binary("text \xe2\x82", 7),
           "a character cut at the sample's end is text");
    tap_ok(!hfs_lfsrules_sample_is_binary("text \xf0\x9f\x98", 8), "... a 4-byte one too");
    tap_ok(hfs_lfsrules_sample_is_binary("text \xe2\x82"
                                         "x",
                                         8),
           "a cut character in the middle is binary");
    tap_ok(!hfs_lfsrules_sample_is_binary("", 0), "an empty sample is not binary");
    unsigned char png[16] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13};
    tap_ok(hfs_lfsrules_sample_is_binary(png, sizeof(png)), "a PNG header is binary");
}

static void test_decision(void)
{
    hfs_lfsrules *r = parse(hfs_lfsrules_default_gitattributes(HFS_REPO_MODEL));
    const char *text = "print('hi')\n";
    tap_ok(!hfs_lfsrules_is_lfs(r, "app.py", 12, text, 12), "small text file: regular");
    tap_ok(hfs_lfsrules_is_lfs(r, "lfs.bin", 11, "hello world", 11),
           "rule match: lfs even for 11 text bytes");
    tap_ok(!hfs_lfsrules_is_lfs(r, "empty.bin", 0, NULL, 0),
           "empty file: regular even when matched");
    tap_ok(!hfs_lfsrules_is_lfs(r, "empty.txt", 0, "", 0), "empty file: regular");
    tap_ok(hfs_lfsrules_is_lfs(r, "big.txt", HFS_REGULAR_MAX_BYTES + 1ull, text, 12),
           "over 10 MiB: lfs");
    tap_ok(!hfs_lfsrules_is_lfs(r, "edge.txt", HFS_REGULAR_MAX_BYTES, text, 12),
           "exactly 10 MiB of text: regular");
    tap_ok(hfs_lfsrules_is_lfs(r, "blob.dat", 100, "a\0b", 3), "binary sample: lfs");
    tap_ok(hfs_lfsrules_is_lfs(NULL, "blob.dat", 100, "a\0b", 3),
           "binary sample without rules: lfs");
    tap_ok(!hfs_lfsrules_is_lfs(r, "u.txt", 600, "caf\xc3", 4),
           "sample cut inside a character of a longer file: regular");
    tap_ok(hfs_lfsrules_is_lfs(r, "u.txt", 4, "caf\xc3", 4),
           "the same bytes as the whole file: binary, lfs");
    tap_ok(!hfs_lfsrules_is_lfs(r, "no-sample.txt", 100, NULL, 0), "no sample, no rule: regular");
    hfs_lfsrules_free(r);
}

int main(void)
{
    test_defaults();
    test_semantics();
    test_track_line();
    test_binary();
    test_decision();
    return tap_done();
}
