/* .gitignore rules with git's semantics (git is the oracle): nested files where the deeper
 * one wins, `!` negation, anchoring, directory-only rules, `**`, escapes, excluded parents. */
#ifndef HFS_GITIGNORE_H
#define HFS_GITIGNORE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct hfs_gitignore hfs_gitignore;

/* An empty matcher: ignores nothing until rules are added. */
hfs_gitignore *hfs_gitignore_new(void);

/* Adds the rules of one .gitignore file whose directory is `base`: a path relative to the
 * root, '/'-separated, "" for the root itself. `source` names the file in error messages.
 * Files may be added in any order; each applies only to paths below its base. */
int hfs_gitignore_add(hfs_gitignore *m, const char *base, const char *content, size_t len,
                      const char *source);
/* Reads and adds the .gitignore at `path` (a small file) as the rules of `base`. */
int hfs_gitignore_add_file(hfs_gitignore *m, const char *base, const char *path);

/* A matcher holding only a root .gitignore given as text: the copy at the remote revision
 * (upload_folder's behaviour) or the `gitIgnore` of a preupload request (the hub's). */
int hfs_gitignore_from_string(hfs_gitignore **out, const char *content);

/* Is this path (relative to the root, '/'-separated, no leading or trailing '/') ignored?
 * A path below an ignored directory is ignored whatever the deeper rules say, as in git. */
bool hfs_gitignore_is_ignored(const hfs_gitignore *m, const char *rel_path, bool is_dir);

/* The verdict for the path alone, its directories assumed not ignored: for a walk that never
 * enters an ignored directory, so it need not re-check every ancestor of every entry. */
bool hfs_gitignore_match_entry(const hfs_gitignore *m, const char *rel_path, bool is_dir);

/* Does the matcher hold a rules file for this base ("" = the root)? */
bool hfs_gitignore_has_base(const hfs_gitignore *m, const char *base);

void hfs_gitignore_free(hfs_gitignore *m);

#endif
