/* The local hub's discussions and pull requests: one JSON file per discussion under
 * ROOT/discussions/{models,datasets,spaces}/NS/NAME/N.json, plus the git side of a PR
 * (refs/pr/N, its commits, diff, conflicts and squash-merge). No HTTP here.
 *
 * Numbers are shared by discussions and PRs of a repo and handed out under a per-repo lock
 * file (flock on DIR/.lock), the same lock every change to a discussion file takes; files
 * are replaced atomically. Callers always open the repository before taking that lock, so
 * the two locks are taken in one order everywhere. Answers are JSON in the hub's shapes
 * (huggingface_hub's Discussion, DiscussionWithDetails and deserialize_event). */
#ifndef HUBD_DISCUSSIONS_H
#define HUBD_DISCUSSIONS_H

#include <git2.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "hubd/repo.h"

/* The list answers pages of this many discussions, newest first. */
#define HUBD_DISCUSSIONS_PAGE 50

/* What a new discussion or pull request starts with. */
typedef struct {
    const char *title;       /* trimmed; 3 to 200 characters (the hub's rule) */
    const char *description; /* becomes the first comment; NULL or "" for an empty one */
    const char *author;
    bool pull_request;
    bool draft;           /* PRs opened through the API start as drafts */
    const char *base_ref; /* PRs: the branch they merge into, "refs/heads/main" */
} hubd_discussion_new;

/* ROOT/discussions/{models,...}/ns/name for a repo, lowercased like its storage (the caller
 * frees it). */
char *hubd_discussions_dir(const char *root, hfs_repo_kind kind, const char *id);

/* Opens a discussion, or a pull request whose refs/pr/N starts at the head of its base
 * branch. *out gets the new number. HFS_EINVALID for a bad title, HFS_ENOTFOUND when the
 * repo or the base branch does not exist. */
int hubd_discussion_create(int *out, hubd_repos *repos, hfs_repo_kind kind, const char *id,
                           const hubd_discussion_new *d);

/* For a commit with create_pr, inside its open repository: allocates N, creates refs/pr/N
 * at `head` (a ref that must not exist yet) and records the PR, based on commit `base`. */
int hubd_discussion_open_pr(int *out, git_repository *repo, hubd_repos *repos, hfs_repo_kind kind,
                            const char *id, const hubd_discussion_new *d, const git_oid *head,
                            const git_oid *base);

/* The details of discussion `num`: title, num, author, createdAt, status, repo,
 * isPullRequest, events (comments, status and title changes, and a PR's commits), and for
 * a PR changes{base, mergeCommitId?}, filesWithConflicts and, with with_diff, diff.
 * HFS_ENOTFOUND when there is no such discussion. */
int hubd_discussion_get(json_t **out, hubd_repos *repos, hfs_repo_kind kind, const char *id,
                        int num, bool with_diff);

typedef struct {
    const char *type;   /* NULL/"all", "discussion", "pull_request" */
    const char *status; /* NULL/"all", "open" (with drafts), "closed" (with merged),
                         * "merged", "draft" */
    const char *author; /* NULL: anyone */
} hubd_discussion_filter;

/* {count, start, discussions[]}: page `page` (0-based) of the discussions that pass the
 * filter, newest first. HFS_EINVALID for an unknown type or status. */
int hubd_discussion_list(json_t **out, hubd_repos *repos, hfs_repo_kind kind, const char *id,
                         const hubd_discussion_filter *filter, size_t page);

/* Each change below returns the event it adds or updates in *out (the caller owns it),
 * in the shape huggingface_hub's deserialize_event reads. HFS_ENOTFOUND for a missing
 * discussion or comment. */
int hubd_discussion_comment(json_t **out, hubd_repos *repos, hfs_repo_kind kind, const char *id,
                            int num, const char *author, const char *text);
int hubd_discussion_edit_comment(json_t **out, hubd_repos *repos, hfs_repo_kind kind,
                                 const char *id, int num, const char *comment_id,
                                 const char *author, const char *text);
/* Hiding is for good: the content is dropped, as on the hub. */
int hubd_discussion_hide_comment(json_t **out, hubd_repos *repos, hfs_repo_kind kind,
                                 const char *id, int num, const char *comment_id,
                                 const char *author);
int hubd_discussion_rename(json_t **out, hubd_repos *repos, hfs_repo_kind kind, const char *id,
                           int num, const char *author, const char *title);
/* status is "open" or "closed"; a comment (may be NULL) is added first. A merged PR
 * cannot change status any more (HFS_EINVALID). */
int hubd_discussion_set_status(json_t **out, hubd_repos *repos, hfs_repo_kind kind, const char *id,
                               int num, const char *author, const char *status,
                               const char *comment);

typedef struct {
    char commit_oid[41]; /* the merge commit on the base branch */
    char **conflicts;    /* when the merge is refused for conflicts: the paths */
    size_t n_conflicts;
} hubd_merge_result;
void hubd_merge_result_clear(hubd_merge_result *r);

/* Squash-merges PR `num`: the three-way merge of its tree into the base branch's head
 * (merge base as ancestor; .gitattributes lines added on both sides are kept) lands as ONE
 * commit, the branch moves by compare-and-swap, the PR becomes merged with
 * changes.mergeCommitId. HFS_EINVALID when it is not an open PR (a draft, closed, merged,
 * or a discussion), "no associated changes" when it changes nothing, and for conflicts
 * (out->conflicts names the files). */
int hubd_discussion_merge(hubd_merge_result *out, hubd_repos *repos, hfs_repo_kind kind,
                          const char *id, int num, const char *author, const char *comment);

#endif
