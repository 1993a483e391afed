/* Fuzz target: .gitignore rules (git's semantics compiled to PCRE2) — the text as a root
 * file and as a nested one, then matched against fixed paths and against its own lines. */
#include <stdint.h>

#include "../fuzz.h"
#include "planner/gitignore.h"

static const char *const paths[] = {
    "a",
    "a/b",
    "build",
    "build/x.o",
    "sub/dir/x",
    "sub/dir",
    "logs/app.log",
    "keep.log",
    "docs/a/b/c.pdf",
    "foo ",
    "#notacomment",
    "a/x/y/b",
    "tmp",
    "deep/tmp/x",
    "[abc].txt",
    "b.txt",
    "\xc3\xa9/\xe2\x82\xac.bin",
    "*",
    "\\",
    ".hidden",
    "x/.git/y",
};

static void check(const hfs_gitignore *m, const char *path)
{
    for (int dir = 0; dir < 2; dir++) {
        bool whole = hfs_gitignore_is_ignored(m, path, dir);
        bool alone = hfs_gitignore_match_entry(m, path, dir);
        /* The verdict for the path alone ignores what its parents say, so whatever it
         * ignores, the whole check ignores too. */
        if (alone && !whole)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    hfs_gitignore *root = NULL;
    if (hfs_gitignore_from_string(&root, text) == 0) {
        size_t n = 0;
        hfs_gitignore *nested = hfs_gitignore_new();
        int rc =
            hfs_gitignore_add(nested, "sub/dir", (const char *)data, size, "sub/dir/.gitignore");
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
            check(root, paths[i]);
            if (rc == 0)
                check(nested, paths[i]);
        }
        char **lines = fuzz_lines(text, &n);
        for (size_t i = 0; i < n; i++)
            if (*lines[i])
                check(root, lines[i]);
        free(lines);
        hfs_gitignore_free(nested);
    }
    hfs_gitignore_free(root);
    free(text);
    return 0;
}
