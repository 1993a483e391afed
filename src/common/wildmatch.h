/* git's wildmatch semantics for .gitignore and .gitattributes patterns: `*` and `?` and
 * `[...]` never match `/`; `**` matches across directories only as a whole segment
 * (`**` + `/` at the start, `/` + `**` at the end, `/` + `**` + `/` in the middle);
 * `\` escapes. Patterns are compiled once to PCRE2. */
#ifndef HFS_WILDMATCH_H
#define HFS_WILDMATCH_H

#include <stdbool.h>

typedef struct hfs_wildmatch hfs_wildmatch;

/* Compiles one wildmatch pattern (no gitignore prefix handling: no `!`, no trailing-`/`
 * rule, no anchoring decisions; callers strip those first). Returns HFS_EINVALID with a
 * message naming the pattern when it cannot compile. */
int hfs_wildmatch_compile(hfs_wildmatch **out, const char *pattern);
/* Does the pattern match the whole of `text`? */
bool hfs_wildmatch_match(const hfs_wildmatch *wm, const char *text);
void hfs_wildmatch_free(hfs_wildmatch *wm);

#endif
