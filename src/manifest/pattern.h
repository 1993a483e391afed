/* Glob patterns with huggingface_hub's semantics (fnmatch: `*` also matches `/`, `?` one
 * character, `[...]` classes; a trailing `/` means everything below; `\` read as `/`),
 * compiled once into a single PCRE2 regex per pattern set. */
#ifndef HFS_PATTERN_H
#define HFS_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

typedef struct hfs_pattern_set hfs_pattern_set;

/* Compiles the patterns into one set. On a pattern that cannot compile, returns
 * HFS_EINVALID with the last error naming the pattern; *bad_index says which one. */
int hfs_pattern_set_compile(hfs_pattern_set **out, const char *const *patterns, size_t count,
                            size_t *bad_index);
/* Does any pattern of the set match the whole path? An empty or NULL set matches nothing. */
bool hfs_pattern_set_match(const hfs_pattern_set *set, const char *path);
/* Has the set no patterns (NULL counts as empty)? */
bool hfs_pattern_set_empty(const hfs_pattern_set *set);
void hfs_pattern_set_free(hfs_pattern_set *set);

/* huggingface_hub's filter_repo_objects: a path passes when it matches some allow pattern
 * (or there are none) and no ignore pattern. Either set may be NULL. */
bool hfs_pattern_filter(const hfs_pattern_set *allow, const hfs_pattern_set *ignore,
                        const char *path);

/* The PCRE2 source for one glob, as Python's fnmatch.translate builds it (caller frees). */
char *hfs_glob_to_regex(const char *glob);

#endif
