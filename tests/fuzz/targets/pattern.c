/* Fuzz target: huggingface_hub's fnmatch-style pattern sets (allow/ignore/delete patterns of
 * the manifest) — one pattern per input line, compiled into one PCRE2 set, then matched. */
#include <stdint.h>

#include "../fuzz.h"
#include "manifest/pattern.h"

static const char *const paths[] = {
    "model.safetensors", "a/logs/x.txt", "data/", "data/x/y",     "ab.bin", "[]", "\\x", "x",
    "checkpoints/1.pt",  "config.json",  "",      "\xc3\xa9.bin", "a\nb",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    size_t n = 0, bad = 0;
    char **lines = fuzz_lines(text, &n);
    hfs_pattern_set *set = NULL;

    for (size_t i = 0; i < n; i++)
        free(hfs_glob_to_regex(lines[i]));
    if (hfs_pattern_set_compile(&set, (const char *const *)lines, n, &bad) == 0) {
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
            bool m = hfs_pattern_set_match(set, paths[i]);
            /* A path the ignore set matches never passes the filter. */
            if (m && hfs_pattern_filter(NULL, set, paths[i]))
                abort();
            /* An allow set passes what it matches (every path when it is empty). */
            if (hfs_pattern_filter(set, NULL, paths[i]) != (m || hfs_pattern_set_empty(set)))
                abort();
        }
        for (size_t i = 0; i < n; i++)
            hfs_pattern_set_match(set, lines[i]);
    } else if (bad >= n) {
        abort(); /* the failing pattern must be one of those given */
    }
    hfs_pattern_set_free(set);
    free(lines);
    free(text);
    return 0;
}
