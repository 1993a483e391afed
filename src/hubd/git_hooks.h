/* The hub's rules for a git push, checked by a pre-receive hook before any ref moves: which
 * refs may change, and what the pushed trees may hold (paths, 10 MiB, LFS pointers). */
#ifndef HUBD_GIT_HOOKS_H
#define HUBD_GIT_HOOKS_H

#include <stdbool.h>
#include <stddef.h>

#include "hubd/lfs_store.h"
#include "hubd/repo.h"

/* The file descriptor the hook talks to the hub on (a socket the hub hands to git). */
#define HUBD_HOOK_FD 3
/* Set in the hook's environment by the hub, so the hook refuses to run anywhere else. */
#define HUBD_HOOK_ENV "HFSYNC_HUB_HOOK"

/* One ref update, as git hands it to pre-receive: "<old> <new> <ref>". */
typedef struct {
    char old_oid[41];
    char new_oid[41];
    char *ref;
} hubd_push_update;

/* What the hook sends the hub: the quarantine directory holding the pushed objects (git's
 * GIT_QUARANTINE_PATH; NULL when git used none) and the ref updates. */
typedef struct {
    char *quarantine;
    hubd_push_update *updates;
    size_t n_updates;
} hubd_push;

/* Parses the hook's message: "quarantine PATH\n", one "<old> <new> <ref>\n" line per update,
 * then ".\n". Returns 1 when `text` holds the whole message (out filled), 0 when more bytes
 * are needed, HFS_EINVALID when it is malformed. */
int hubd_push_parse(hubd_push *out, const char *text, size_t len);
void hubd_push_clear(hubd_push *push);

/* Checks a push against the hub's rules. Refs: branches (refs/heads/...) and tags may be
 * created, moved (also by force) and deleted, except that main cannot be deleted; refs/pr/N
 * may only move, and only when the pull request exists; nothing else. Content, for every
 * object new in this push: no path segment "", ".", "..", ".git" (any case) or with a NUL or
 * control character, UTF-8 names, at most 10,000 entries per folder, no submodules, no
 * regular file over 10 MiB, and every LFS pointer names an object in the store with its
 * size. Returns 0 when the push may land, HFS_EINVALID or HFS_ELIMIT with the text for the
 * pusher in hfs_error_last() when it breaks a rule, another error when it cannot be checked. */
int hubd_push_check(hubd_repos *repos, const hubd_lfs_store *lfs, hfs_repo_kind kind,
                    const char *id, const hubd_push *push);

/* Writes ROOT/git-hooks/pre-receive (when missing or outdated) and returns that directory,
 * absolute, in *out (caller frees): the backend runs with core.hooksPath pointing there. */
int hubd_git_hooks_install(char **out, const char *root);

#endif
