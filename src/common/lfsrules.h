/* The hub's LFS-or-regular decision (PROTOCOL.md §4, §14): the root .gitattributes
 * `filter=lfs` rules (or the hub's default ones for a new repo), size over 10 MiB, binary
 * content in the sample; empty files are always regular. Shared by the local hub's
 * preupload and the planner, so both decide exactly alike. */
#ifndef HFS_LFSRULES_H
#define HFS_LFSRULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HFS_REGULAR_MAX_BYTES (10u * 1024u * 1024u) /* larger regular files are refused */

#include "hfsync/manifest.h" /* hfs_repo_type: HFS_REPO_MODEL, HFS_REPO_DATASET, HFS_REPO_SPACE */

/* The repo kinds are the manifest's repo types (one enum for the whole project). */
typedef hfs_repo_type hfs_repo_kind;

typedef struct hfs_lfsrules hfs_lfsrules;

/* Parses .gitattributes content with git's attribute semantics: for a path, the last line
 * whose pattern matches and that mentions `filter` decides (`filter=lfs` → LFS; `-filter`,
 * `!filter`, `filter` or `filter=other` → not LFS). A pattern without `/` matches the
 * basename at any depth, one with `/` the whole path from the root (git wildmatch: `**`
 * spans directories). Quoted patterns ("a b.bin") are unquoted; `[attr]` macros, negative
 * and directory-only (`dir/`) patterns are ignored as git ignores them for files. Never fails
 * on content; a NULL text gives an empty rule set. */
int hfs_lfsrules_parse(hfs_lfsrules **out, const char *gitattributes, size_t len);
/* The content of the .gitattributes file the hub writes into a new repo of that kind. */
const char *hfs_lfsrules_default_gitattributes(hfs_repo_kind kind);
/* Does a .gitattributes rule track this repo path as LFS? */
bool hfs_lfsrules_match(const hfs_lfsrules *rules, const char *path);
void hfs_lfsrules_free(hfs_lfsrules *rules);

/* The line the hub appends to .gitattributes for an LFS file no rule covers:
 * "<path> filter=lfs diff=lfs merge=lfs -text\n", the path escaped so that it matches
 * itself literally (whitespace as `[[:space:]]`, as `git lfs track` writes it; `\ * ? [` and
 * a leading `#` or `!` or `"` with a backslash). The caller frees it. */
char *hfs_lfsrules_track_line(const char *path);

/* Is this sample binary, as the hub judges it? The hub's rule is not published; ours:
 * binary when the sample holds a NUL byte or is not valid UTF-8 (overlongs, surrogates and
 * stray continuation bytes included). Control characters alone do not make text binary.
 * The sample is a prefix of the file, so one multi-byte character cut off at its end is
 * not held against it (hfs_lfsrules_is_lfs allows that only when the file is longer than
 * the sample). */
bool hfs_lfsrules_sample_is_binary(const void *sample, size_t len);

/* The whole decision for one file: rules (may be NULL), its repo path, its size and the
 * first <= 512 bytes of content. Returns true for "lfs", false for "regular", in this order:
 * size 0 → regular (even when a rule matches: S3 refuses empty objects); size over
 * HFS_REGULAR_MAX_BYTES → lfs; a `filter=lfs` rule → lfs; a binary sample → lfs; else
 * regular. */
bool hfs_lfsrules_is_lfs(const hfs_lfsrules *rules, const char *path, uint64_t size,
                         const void *sample, size_t sample_len);

#endif
