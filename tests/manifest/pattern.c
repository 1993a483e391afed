/* Pattern semantics, from huggingface_hub's documented filter_repo_objects behaviour
 * (fnmatch: `*` crosses `/`, trailing `/` means everything below, `\` read as `/`). */
#include <stdlib.h>

#include "common/util.h"
#include "manifest/pattern.h"
#include "tap.h"

static const struct {
    const char *pattern, *path;
    bool match;
} cases[] = {
    {"*.json", "config.json", true},
    {"*.json", "sub/dir/config.json", true}, /* `*` also matches `/` */
    {"data/*.json", "data/sub/x.json", true},
    {"data/*.json", "other/data/x.json", false},
    {"*.safetensors", "model.safetensors.index.json", false},
    {"logs/", "logs/a.txt", true},          /* trailing `/` = everything below */
    {"logs/", "logs/deep/b.txt", true},
    {"logs/", "logs", false},
    {"logs/", "mylogs/a.txt", false},
    {"logs\\", "logs/a.txt", true},         /* `\` normalised to `/` */
    {"data\\*.csv", "data/x.csv", true},
    {"?.txt", "a.txt", true},
    {"?.txt", "ab.txt", false},
    {"?.txt", "/.txt", true},               /* `?` matches any one character, `/` too */
    {"[abc].bin", "b.bin", true},
    {"[abc].bin", "d.bin", false},
    {"[!abc].bin", "d.bin", true},
    {"[!abc].bin", "a.bin", false},
    {"[a-c]*", "cat", true},
    {"[a-c]*", "dog", false},
    {"[", "[", true},                        /* unclosed bracket is literal */
    {"a[", "a[", true},
    {"[]]", "]", true},
    {"[!]]", "a", true},
    {"*.JSON", "config.json", false},        /* case-sensitive (huggingface_hub >= 1.22) */
    {"file.txt", "file.txt", true},
    {"file.txt", "fileXtxt", false},         /* `.` is literal */
    {"a+b(c).txt", "a+b(c).txt", true},      /* regex characters are literal */
    {"**/logs/*.txt", "x/logs/a.txt", true},
    {"**/logs/*.txt", "logs/a.txt", false},  /* the double star still needs a slash before logs */
    {"*", "anything/at/all", true},
    {".git/*", ".git/config", true},
    {"*/.git", "sub/.git", true},
    {"caf\xc3\xa9*", "caf\xc3\xa9.txt", true},
    {"sp ace?.txt", "sp ace1.txt", true},
    {"$x^.txt", "$x^.txt", true},
};

int main(void)
{
    for (size_t i = 0; i < HFS_ARRAY_LEN(cases); i++) {
        hfs_pattern_set *set = NULL;
        const char *p = cases[i].pattern;
        int rc = hfs_pattern_set_compile(&set, &p, 1, NULL);
        tap_ok(rc == 0 && hfs_pattern_set_match(set, cases[i].path) == cases[i].match,
               "'%s' %s '%s'", cases[i].pattern, cases[i].match ? "matches" : "does not match",
               cases[i].path);
        hfs_pattern_set_free(set);
    }

    const char *allow[] = {"*.json", "*.safetensors"};
    const char *ignore[] = {"secret*"};
    hfs_pattern_set *a = NULL, *g = NULL;
    hfs_pattern_set_compile(&a, allow, 2, NULL);
    hfs_pattern_set_compile(&g, ignore, 1, NULL);
    tap_ok(hfs_pattern_filter(a, g, "model.safetensors"), "filter: allowed");
    tap_ok(!hfs_pattern_filter(a, g, "README.md"), "filter: not in allow list");
    tap_ok(!hfs_pattern_filter(a, g, "secret.json"), "filter: ignore wins over allow");
    tap_ok(hfs_pattern_filter(NULL, NULL, "x"), "filter: no patterns pass everything");
    tap_ok(hfs_pattern_filter(NULL, g, "x.json") && !hfs_pattern_filter(NULL, g, "secrets"),
           "filter: ignore only");
    tap_ok(!hfs_pattern_set_match(NULL, "x") && hfs_pattern_set_empty(NULL), "NULL set is empty");
    hfs_pattern_set_free(a);
    hfs_pattern_set_free(g);
    return tap_done();
}
