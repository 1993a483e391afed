/* Fuzz target: git's wildmatch compiled to PCRE2 — the first input line is the pattern, the
 * others are texts to match, with a few fixed ones. */
#include <stdint.h>

#include "../fuzz.h"
#include "common/wildmatch.h"

static const char *const texts[] = {
    "foo",     "foo/bar/baz", "a/foo", "aec*", "x/1ab",    "",          "/",
    "a/b/c/d", "\\",          "[",     "*",    "\xc3\xa9", ".hidden/x",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    size_t n = 0;
    char **lines = fuzz_lines(text, &n);
    hfs_wildmatch *wm = NULL;

    if (hfs_wildmatch_compile(&wm, lines[0]) == 0) {
        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
            hfs_wildmatch_match(wm, texts[i]);
        for (size_t i = 0; i < n; i++)
            hfs_wildmatch_match(wm, lines[i]);
    }
    hfs_wildmatch_free(wm);
    free(lines);
    free(text);
    return 0;
}
