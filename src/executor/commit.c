/* The commit POST and what follows a failed one: the POST is never blindly resent; the branch
 * is read to learn whether the commit landed (its description carries the plan's id). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/util.h"
#include "executor/executor.h"

/* Commits read from the branch when looking for our own: more would mean someone else made
 * that many commits since ours, and then the branch moved anyway. */
#define RECOVER_MAX_COMMITS 100
/* Pull requests looked at when a create_pr commit failed: the newest ones. */
#define RECOVER_MAX_PRS 20

bool exec_has_line(const char *text, const char *line)
{
    size_t len = strlen(line);
    for (const char *p = text; p && (p = strstr(p, line)) != NULL; p++) {
        bool starts = p == text || p[-1] == '\n';
        bool ends = p[len] == '\0' || p[len] == '\n' || p[len] == '\r';
        if (starts && ends)
            return true;
    }
    return false;
}

void exec_commit_result_clear(exec_commit_result *r)
{
    if (!r)
        return;
    free(r->commit_url);
    free(r->pr_url);
    memset(r, 0, sizeof(*r));
}

typedef struct {
    const char *trailer; /* the lines that mark our commit */
    const char *parent;  /* the walk stops here: older commits cannot be ours */
    size_t seen;
    char head[HFS_SHA1_HEX];
    char found[HFS_SHA1_HEX];
} find_walk;

/* The trailer is one or two lines ("hfsync-plan: …\nhfsync-step: …"): each must be there. */
static bool has_trailer(const char *message, const char *trailer)
{
    bool all = true;
    char *copy = hfs_strdup(trailer);
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line && all;
         line = strtok_r(NULL, "\n", &save))
        all = exec_has_line(message, line);
    free(copy);
    return all;
}

static int on_commit(void *ctx, const hfs_hub_commit_entry *c)
{
    find_walk *w = ctx;
    if (w->seen++ == 0 && c->id)
        snprintf(w->head, sizeof(w->head), "%s", c->id);
    if (!c->id || (w->parent && *w->parent && strcmp(c->id, w->parent) == 0))
        return 1;
    const char *text = c->message ? c->message : c->title;
    if (text && has_trailer(text, w->trailer)) {
        snprintf(w->found, sizeof(w->found), "%s", c->id);
        return 1;
    }
    return w->seen >= RECOVER_MAX_COMMITS ? 1 : 0;
}

static int walk_revision(find_walk *w, exec_sync *s, const char *revision)
{
    int rc = hfs_hub_list_commits(s->x->hub, &s->repo, revision, on_commit, w);
    return rc > 0 ? 0 : rc;
}

static char *commit_url(const exec_sync *s, const char *oid)
{
    return hfs_sprintf("%s/%s%s/commit/%s", hfs_hub_endpoint(s->x->hub),
                       hfs_hub_type_prefix(s->repo.type), s->repo.id, oid);
}

/* A failed create_pr commit: is our commit at the head of one of the newest PRs? */
static int find_in_prs(exec_commit_result *out, exec_sync *s, const char *trailer)
{
    hfs_hub_refs refs = {0};
    int rc = hfs_hub_list_refs(&refs, s->x->hub, &s->repo, true);
    if (rc < 0)
        return rc;
    /* Newest first: the highest numbers. */
    long *nums = hfs_calloc(refs.n_pull_requests ? refs.n_pull_requests : 1, sizeof(long));
    size_t n = 0;
    for (size_t i = 0; i < refs.n_pull_requests; i++) {
        const char *name = refs.pull_requests[i].name;
        if (hfs_str_starts_with(name, "refs/pr/"))
            nums[n++] = strtol(name + strlen("refs/pr/"), NULL, 10);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (nums[j] > nums[i]) {
                long t = nums[i];
                nums[i] = nums[j];
                nums[j] = t;
            }
    for (size_t i = 0; i < n && i < RECOVER_MAX_PRS && rc == 0 && !out->commit_oid[0]; i++) {
        char *rev = hfs_sprintf("refs/pr/%ld", nums[i]);
        find_walk w = {trailer, s->parent, 0, "", ""};
        rc = walk_revision(&w, s, rev);
        if (rc == 0 && w.found[0]) {
            snprintf(out->commit_oid, sizeof(out->commit_oid), "%s", w.found);
            out->pr_num = nums[i];
            out->pr_url = hfs_sprintf("%s/%s%s/discussions/%ld", hfs_hub_endpoint(s->x->hub),
                                      hfs_hub_type_prefix(s->repo.type), s->repo.id, nums[i]);
        }
        free(rev);
    }
    free(nums);
    hfs_hub_refs_clear(&refs);
    return rc;
}

/* Could the commit have landed despite this failure? The hub may have carried out the
 * request and then failed to answer (5xx, 408, 429, a timeout, a dropped connection), or
 * answered 2xx with a body that could not be read. */
static bool may_have_landed(int rc, long status)
{
    if (rc == HFS_ENET || status == 0)
        return true;
    return (status >= 200 && status < 300) || status == 408 || status == 429 || status >= 500;
}

typedef struct {
    exec_sync *s;
    double started;
} commit_relay;

static void on_body_progress(void *ctx, uint64_t done, uint64_t total)
{
    commit_relay *r = ctx;
    hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_COMMIT_PROGRESS,
                          .bytes_done = done,
                          .bytes_total = total,
                          .seconds = hfs_now() - r->started};
    exec_emit(r->s->x, r->s->sync, &ev);
}

static int post_once(exec_commit_result *out, exec_sync *s, const exec_entry *entries, size_t n,
                     const char *summary, const char *description, bool *body_failed)
{
    commit_relay relay = {s, hfs_now()};
    exec_ndjson_spec spec = {summary, description, s->parent,        s->sync,
                             entries, n,           on_body_progress, &relay};
    exec_ndjson *nd = exec_ndjson_new(&spec);
    hfs_hub_body body = exec_ndjson_body(nd);
    hfs_hub_commit_result res = {0};
    int rc = hfs_hub_commit(&res, s->x->hub, &s->repo, s->revision, &body, s->create_pr);
    *body_failed = exec_ndjson_failed(nd);
    if (rc == 0) {
        memcpy(out->commit_oid, res.commit_oid, sizeof(out->commit_oid));
        out->commit_url =
            res.commit_url ? hfs_strdup(res.commit_url) : commit_url(s, res.commit_oid);
        out->pr_url = res.pull_request_url ? hfs_strdup(res.pull_request_url) : NULL;
        out->pr_num = res.pr_num;
        s->x->result->inline_bytes += exec_ndjson_inline_bytes(nd);
    }
    hfs_hub_commit_result_clear(&res);
    exec_ndjson_free(nd);
    return rc;
}

int exec_commit(exec_commit_result *out, exec_sync *s, const exec_entry *entries, size_t n,
                const char *summary, const char *description, const char *trailer)
{
    memset(out, 0, sizeof(*out));
    for (int attempt = 1;; attempt++) {
        bool body_failed = false;
        int rc = post_once(out, s, entries, n, summary, description, &body_failed);
        if (rc == 0)
            return 0;
        long status = hfs_hub_last_status();
        long wait_ms = hfs_hub_last_retry_wait_ms(); /* before the lookups below replace it */
        /* A body that failed (a file changed under it) was cut short: the hub has nothing
         * it could commit. */
        if (body_failed)
            return rc;
        if (status == 412)
            return hfs_error_set(HFS_ESTALE,
                                 "plan is stale (the branch moved during apply): %s@%s is no "
                                 "longer at %.7s; nothing was committed: run `hfsync plan` again",
                                 s->repo.id, s->revision, s->parent);
        if (!may_have_landed(rc, status))
            return rc;

        char *why = hfs_strdup(hfs_error_last());
        hfs_apply_event warn = {.kind = HFS_APPLY_EVENT_WARNING};
        char *msg = hfs_sprintf("the commit failed (%s); looking at %s@%s to see whether it "
                                "landed anyway",
                                why, s->repo.id, s->revision);
        warn.message = msg;
        exec_emit(s->x, s->sync, &warn);
        free(msg);

        find_walk w = {trailer, s->parent, 0, "", ""};
        int look = walk_revision(&w, s, s->revision);
        if (look == 0 && s->create_pr && !w.found[0])
            look = find_in_prs(out, s, trailer);
        if (look < 0) {
            char *lookwhy = hfs_strdup(hfs_error_last());
            rc = hfs_error_set(rc,
                               "%s; and whether the commit landed is unknown, because %s: "
                               "look at the repo before applying again",
                               why, lookwhy);
            free(lookwhy);
            free(why);
            return rc;
        }
        if (w.found[0] && !s->create_pr) {
            memcpy(out->commit_oid, w.found, sizeof(out->commit_oid));
            out->commit_url = commit_url(s, w.found);
        }
        if (out->commit_oid[0]) {
            if (!out->commit_url)
                out->commit_url = commit_url(s, out->commit_oid);
            out->recovered = true;
            free(why);
            return 0;
        }
        bool moved = w.head[0] && s->parent[0] && strcmp(w.head, s->parent) != 0;
        if (moved) {
            rc = hfs_error_set(HFS_ESTALE,
                               "plan is stale (the branch moved during apply): the commit "
                               "failed (%s) and %s@%s moved from %.7s to %.7s, not by this "
                               "apply: run `hfsync plan` again",
                               why, s->repo.id, s->revision, s->parent, w.head);
            free(why);
            return rc;
        }
        if (attempt >= 2) {
            rc =
                hfs_error_set(rc, "%s (sent twice; the commit did not land: nothing changed)", why);
            free(why);
            return rc;
        }
        /* It never landed and the branch is where it was: sending it again cannot make a
         * second commit — after the wait the hub asked for, if it asked (429, 503). */
        free(why);
        if (wait_ms > 0) {
            struct timespec ts = {wait_ms / 1000, (wait_ms % 1000) * 1000000L};
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
        }
    }
}
