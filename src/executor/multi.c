/* strategy multi: a sync's commits go to one pull request, opened as a draft through the
 * discussions API, ticked off step by step, resumable by the plan's id, merged at the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/util.h"
#include "executor/executor.h"
#include "executor/state.h"

/* The only branch a pull request opened through the discussions API merges into; for
 * another revision the pull request is opened by the first step's commit instead. */
#define MULTI_BASE "main"
/* The hub refuses titles shorter or longer than these. */
#define TITLE_MIN 3
#define TITLE_MAX 200
/* Room for the message in the draft's title, beside "[hfsync] " and " (plan …)". */
#define TITLE_MESSAGE_MAX 160
/* The description line that tells this plan's pull request from any other. */
#define PLAN_LINE "**hfsync plan:**"
/* Commits of refs/pr/N read beyond the steps before deciding the base is not there. */
#define WALK_SLACK 20
/* Commits of the revision read, newest first, looking for an earlier apply's merge. */
#define APPLIED_WALK_MAX 1000
/* The description grows with the steps and is sent whole at every tick: past this many
 * steps, boxes are ticked at most every TICK_INTERVAL seconds (and at the end), so the
 * bytes sent stay linear in the steps. */
#define TICK_EVERY_STEP_MAX 100
#define TICK_INTERVAL 5.0

typedef struct {
    const hfs_plan_commit *commit;
    size_t index;            /* in the sync's commits, for "commit i/n" */
    char id[HFS_SHA256_HEX]; /* sha256 of the group's operations */
    char oid[HFS_SHA1_HEX];  /* the step's commit on refs/pr/N; "" when none */
    bool done;               /* committed, or found to leave nothing to commit */
} multi_step;

typedef struct {
    exec_sync *s;
    const hfs_plan_sync *ps;
    const char *plan_id;
    multi_step *steps;
    size_t n_steps;
    char *message;           /* the sync's commit message, without " (part i/N)" */
    char *draft_title;       /* "[hfsync] <message> (plan <id>)": how a resumed apply finds it */
    char *final_title;       /* the title once every step is in */
    char base[HFS_SHA1_HEX]; /* the pinned head of the revision, where the PR starts */
    long num;                /* the pull request; 0 before it is found or opened */
    char *url;
    char *status;          /* draft, open */
    char *title;           /* as on the hub */
    char *comment_id;      /* the description's comment */
    char *posted;          /* the description as on the hub */
    double ticked;         /* when it was last edited */
    hfs_journal *journal;  /* NULL: the apply keeps none */
    const char *state_dir; /* where it is saved */
} multi_run;

/* Over http a pull request against a revision other than main is opened by a commit with
 * create_pr (the discussions API has no base branch); a push cannot open one. */
static bool opens_by_commit(const hfs_plan_sync *s)
{
    return strcmp(s->revision, MULTI_BASE) != 0;
}

int exec_multi_check(const hfs_plan_sync *s)
{
    if (s->strategy != HFS_STRATEGY_MULTI || !opens_by_commit(s) ||
        s->transport != HFS_TRANSPORT_GIT)
        return 0;
    return hfs_error_set(HFS_EINVALID,
                         "sync %s: `strategy: multi` over git opens its pull request through the "
                         "hub's discussions API, which bases it on %s only, but the sync's "
                         "revision is \"%s\": set `transport: http` (its pull request is then "
                         "opened against %s by the first step's commit) or `revision: %s`, and "
                         "plan again",
                         s->name, MULTI_BASE, s->revision, s->revision, MULTI_BASE);
}

/* ---- what the pull request says ------------------------------------------------------- */

/* Every field of every operation, NUL-separated so no path can pass for another field. */
static void step_id(char out[HFS_SHA256_HEX], const hfs_plan_commit *c)
{
    hfs_buf b = HFS_BUF_INIT;
    for (size_t i = 0; i < c->n_ops; i++) {
        const hfs_plan_op *op = &c->ops[i];
        const char *oid = op->kind == HFS_OP_DELETE ? op->remote_oid
                          : op->lfs                 ? op->sha256
                                                    : op->sha1;
        const char *fields[] = {hfs_op_kind_name(op->kind), op->path, oid,
                                op->from ? op->from : ""};
        for (size_t f = 0; f < HFS_ARRAY_LEN(fields); f++)
            hfs_buf_add(&b, fields[f], strlen(fields[f]) + 1);
    }
    hfs_sha256_hex(out, hfs_buf_cstr(&b), b.len);
    hfs_buf_free(&b);
}

/* The planner names the commits of a sync "<message> (part i/N)"; the pull request is
 * named after the message itself. */
static char *sync_message(const hfs_plan_sync *ps, const hfs_plan_commit *first)
{
    const char *m = first->message;
    char *suffix = hfs_sprintf(" (part 1/%zu)", ps->n_commits);
    char *out = ps->n_commits > 1 && hfs_str_ends_with(m, suffix)
                    ? hfs_strndup(m, strlen(m) - strlen(suffix))
                    : hfs_strdup(m);
    free(suffix);
    return out;
}

/* At most `max` bytes, cut on a UTF-8 character boundary, "…" marking the cut. */
static char *fit(const char *text, size_t max)
{
    size_t len = strlen(text);
    if (len <= max)
        return hfs_strdup(text);
    size_t cut = max - strlen("…");
    while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80)
        cut--;
    return hfs_sprintf("%.*s…", (int)cut, text);
}

static void describe_step(hfs_buf *b, const multi_step *st)
{
    size_t files = 0, deleted = 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < st->commit->n_ops; i++) {
        const hfs_plan_op *op = &st->commit->ops[i];
        if (op->kind == HFS_OP_DELETE) {
            deleted++;
        } else {
            files++;
            bytes += op->size;
        }
    }
    char size[32];
    hfs_human_size(size, sizeof(size), bytes);
    hfs_buf_printf(b, "- [%c] ", st->done ? 'x' : ' ');
    if (files)
        hfs_buf_printf(b, "Upload %zu file(s) totalling %s", files, size);
    if (files && deleted)
        hfs_buf_printf(b, ", delete %zu", deleted);
    else if (deleted)
        hfs_buf_printf(b, "Delete %zu file(s)", deleted);
    hfs_buf_printf(b, " (%s)\n", st->id);
}

/* The description: what the plan does, its id, and a checklist with a box per step. The
 * same plan and progress always give the same text, so it is edited only when it changes. */
static char *describe(const multi_run *r)
{
    hfs_buf b = HFS_BUF_INIT;
    const char *description = r->steps[0].commit->description;
    hfs_buf_printf(&b, "## %s\n\n", r->message);
    if (description && *description)
        hfs_buf_printf(&b, "%s\n\n", description);
    hfs_buf_printf(&b, "%s %s\n\n", PLAN_LINE, r->plan_id);
    for (size_t i = 0; i < r->n_steps; i++)
        describe_step(&b, &r->steps[i]);
    hfs_buf_printf(&b,
                   "\nOpened by hfsync (`strategy: multi`): each step is one commit on this pull "
                   "request, ticked off when it is in. ");
    if (r->ps->create_pr)
        hfs_buf_printf(&b, "Once every step is in, the pull request is left open for review "
                           "(`create_pr: true`).\n");
    else
        hfs_buf_printf(&b, "Once every step is in, the pull request is merged into `%s`.\n",
                       r->ps->revision);
    return hfs_buf_detach(&b);
}

static char *pr_url(const exec_sync *s, long num)
{
    return hfs_sprintf("%s/%s%s/discussions/%ld", hfs_hub_endpoint(s->x->hub),
                       hfs_hub_type_prefix(s->repo.type), s->repo.id, num);
}

static char *commit_url(const exec_sync *s, const char *oid)
{
    return hfs_sprintf("%s/%s%s/commit/%s", hfs_hub_endpoint(s->x->hub),
                       hfs_hub_type_prefix(s->repo.type), s->repo.id, oid);
}

static void warn(const multi_run *r, const char *message)
{
    hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_WARNING, .message = message};
    exec_emit(r->s->x, r->ps, &ev);
}

/* ---- the journal ------------------------------------------------------------------------ */

/* The journal only spares a resumed apply the search: the hub (the PR's title and
 * description, the step trailers on refs/pr/N) is the truth, so a journal that cannot be
 * written costs a warning, not the apply. */
static void journal_save(const multi_run *r)
{
    if (!r->journal || !r->state_dir)
        return;
    if (hfs_journal_save(r->journal, r->state_dir, r->s->state_name) < 0) {
        char *msg = hfs_sprintf("cannot record progress (%s); a resumed apply finds its pull "
                                "request on the hub instead",
                                hfs_error_last());
        warn(r, msg);
        free(msg);
        hfs_error_clear();
    }
}

/* ---- finding or opening the pull request ------------------------------------------------ */

static bool usable_status(const char *status)
{
    return status && (strcmp(status, "draft") == 0 || strcmp(status, "open") == 0);
}

/* The description's text: the comment event the hub names as the description. */
static const char *description_of(const hfs_hub_discussion *d)
{
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(d->json, "events"), i, ev)
    {
        const char *id = json_string_value(json_object_get(ev, "id"));
        if (id && d->description_comment_id && strcmp(id, d->description_comment_id) == 0)
            return json_string_value(
                json_object_get(json_object_get(json_object_get(ev, "data"), "latest"), "raw"));
    }
    return NULL;
}

/* Reads pull request `num`; *mine tells whether it is this plan's, still open or a draft. */
static int adopt(multi_run *r, long num, bool *mine)
{
    exec_sync *s = r->s;
    hfs_hub_discussion d = {0};
    *mine = false;
    int rc = hfs_hub_discussion_get(&d, s->x->hub, &s->repo, num, false);
    if (rc == HFS_ENOTFOUND) {
        hfs_error_clear();
        rc = 0;
        goto done;
    }
    if (rc < 0)
        goto done;
    const char *text = description_of(&d);
    char *line = hfs_sprintf("%s %s", PLAN_LINE, r->plan_id);
    *mine = d.is_pull_request && usable_status(d.status) && text && exec_has_line(text, line);
    free(line);
    if (!*mine)
        goto done;
    r->num = num;
    free(r->url);
    r->url = pr_url(s, num);
    free(r->status);
    r->status = hfs_strdup(d.status);
    free(r->title);
    r->title = hfs_strdup(d.title);
    free(r->comment_id);
    r->comment_id = hfs_strdup(d.description_comment_id);
    free(r->posted);
    r->posted = hfs_strdup(text);
done:
    hfs_hub_discussion_clear(&d);
    return rc;
}

typedef struct {
    const multi_run *r;
    const char *tag; /* "(plan 0123456789ab)" */
    long *nums;
    size_t n, cap;
} pr_search;

static int on_discussion(void *ctx, const hfs_hub_discussion_entry *d)
{
    pr_search *q = ctx;
    if (d->is_pull_request && usable_status(d->status) &&
        (strstr(d->title, q->tag) || strcmp(d->title, q->r->final_title) == 0))
        HFS_PUSH(q->nums, q->n, q->cap, d->num);
    return 0;
}

/* The pull request an earlier apply of this plan opened: its number in the journal, else
 * one whose title carries the plan's id (or, once renamed, the message) and whose
 * description names the whole id. r->num stays 0 when there is none. */
static int find_pr(multi_run *r)
{
    exec_sync *s = r->s;
    bool mine = false;
    int rc = 0;
    if (r->journal && r->journal->pr_num > 0 && (rc = adopt(r, r->journal->pr_num, &mine)) < 0)
        return rc;
    if (mine)
        return 0;
    char *tag = hfs_sprintf("(plan %.12s)", r->plan_id);
    pr_search q = {r, tag, NULL, 0, 0};
    rc =
        hfs_hub_discussion_list(s->x->hub, &s->repo, "pull_request", NULL, NULL, on_discussion, &q);
    for (size_t i = 0; i < q.n && rc == 0 && !mine; i++)
        rc = adopt(r, q.nums[i], &mine);
    free(q.nums);
    free(tag);
    return rc;
}

static int open_pr(multi_run *r)
{
    exec_sync *s = r->s;
    char *description = describe(r);
    long num = 0;
    bool mine = false;
    int rc =
        hfs_hub_discussion_create(&num, s->x->hub, &s->repo, r->draft_title, description, true);
    if (rc < 0) {
        /* Sent once: it may have been opened all the same. */
        char *why = hfs_strdup(hfs_error_last());
        int first = rc;
        rc = find_pr(r) == 0 && r->num != 0 ? 0 : hfs_error_set(first, "%s", why);
        free(why);
        goto done;
    }
    if ((rc = adopt(r, num, &mine)) < 0)
        goto done;
    if (!mine)
        rc = hfs_error_set(HFS_ERROR,
                           "the hub opened pull request #%ld on %s, but reading it back does not "
                           "show it as a draft with this plan's description: look at %s",
                           num, s->repo.id, r->url ? r->url : "the repo's pull requests");
done:
    free(description);
    return rc;
}

/* ---- the steps already on refs/pr/N ----------------------------------------------------- */

typedef struct {
    multi_run *r;
    char *plan_line;
    size_t seen, limit;
    bool reached; /* the walk came to the pinned base */
    char head[HFS_SHA1_HEX];
    char foreign[HFS_SHA1_HEX]; /* a commit that is not one of the plan's steps */
} pr_walk;

/* The step a commit's "hfsync-step: <id>" line names, if it is one of the plan's. */
static multi_step *step_of(multi_run *r, const char *text)
{
    const char *key = HFS_APPLY_STEP_TRAILER " ";
    for (const char *p = text; (p = strstr(p, key)) != NULL; p++) {
        const char *id = p + strlen(key);
        if ((p != text && p[-1] != '\n') || strcspn(id, "\r\n") != HFS_SHA256_HEX - 1)
            continue;
        for (size_t i = 0; i < r->n_steps; i++)
            if (memcmp(r->steps[i].id, id, HFS_SHA256_HEX - 1) == 0)
                return &r->steps[i];
    }
    return NULL;
}

static int on_pr_commit(void *ctx, const hfs_hub_commit_entry *c)
{
    pr_walk *w = ctx;
    if (!c->id)
        return 0;
    if (w->seen++ == 0)
        snprintf(w->head, sizeof(w->head), "%s", c->id);
    if (strcmp(c->id, w->r->base) == 0) {
        w->reached = true;
        return 1;
    }
    const char *text = c->message ? c->message : c->title;
    multi_step *st = text && exec_has_line(text, w->plan_line) ? step_of(w->r, text) : NULL;
    if (!st) {
        snprintf(w->foreign, sizeof(w->foreign), "%s", c->id);
        return 1;
    }
    /* Newest first: a step found twice keeps its newest commit. */
    if (!st->done) {
        st->done = true;
        snprintf(st->oid, sizeof(st->oid), "%s", c->id);
    }
    return w->seen >= w->limit ? 1 : 0;
}

/* Which steps are in: the commits of refs/pr/N down to the pinned base, each carrying this
 * plan's id and a step's id. Anything else on the pull request stops the apply. */
static int scan_steps(multi_run *r)
{
    exec_sync *s = r->s;
    pr_walk w = {.r = r, .limit = r->n_steps + WALK_SLACK};
    w.plan_line = hfs_sprintf("%s %s", HFS_APPLY_PLAN_TRAILER, r->plan_id);
    char *ref = hfs_sprintf("refs/pr/%ld", r->num);
    int rc = hfs_hub_list_commits(s->x->hub, &s->repo, ref, on_pr_commit, &w);
    if (rc > 0)
        rc = 0;
    if (rc < 0)
        goto done;
    if (w.foreign[0]) {
        rc = hfs_error_set(HFS_ESTALE,
                           "pull request #%ld (%s) has commit %.7s, which is not a step of this "
                           "plan: someone else committed to it; nothing more was committed: "
                           "review the pull request, then close it and plan again",
                           r->num, r->url, w.foreign);
        goto done;
    }
    if (!w.reached) {
        rc = hfs_error_set(HFS_ESTALE,
                           "pull request #%ld (%s) does not build on %.7s, the head of %s the "
                           "plan was made against; nothing more was committed: close it and "
                           "plan again",
                           r->num, r->url, r->base, r->ps->revision);
        goto done;
    }
    memcpy(s->parent, w.head, sizeof(s->parent));
    /* The journal learns what the hub showed (an apply killed mid-commit left it behind). */
    for (size_t i = 0; r->journal && i < r->n_steps; i++)
        if (r->steps[i].oid[0] && !hfs_journal_find_commit(r->journal, r->steps[i].id))
            hfs_journal_add_commit(r->journal, r->steps[i].id, r->steps[i].oid);
done:
    free(ref);
    free(w.plan_line);
    return rc;
}

/* ---- the steps -------------------------------------------------------------------------- */

/* Ticks the boxes of the finished steps (an edit only when the text changes); unless
 * `now`, a long checklist waits for TICK_INTERVAL since the last edit. */
static int update_description(multi_run *r, bool now)
{
    if (!now && r->n_steps > TICK_EVERY_STEP_MAX && hfs_now() - r->ticked < TICK_INTERVAL)
        return 0;
    char *want = describe(r);
    int rc = 0;
    if (!r->posted || strcmp(want, r->posted) != 0) {
        if (!r->comment_id)
            rc = hfs_error_set(HFS_ERROR,
                               "pull request #%ld (%s) has no description comment to tick the "
                               "steps off in",
                               r->num, r->url);
        else
            rc = hfs_hub_discussion_edit_comment(r->s->x->hub, &r->s->repo, r->num, r->comment_id,
                                                 want);
        if (rc == 0) {
            free(r->posted);
            r->posted = want;
            want = NULL;
            r->ticked = hfs_now();
        }
    }
    free(want);
    return rc;
}

static int run_step(multi_run *r, multi_step *st)
{
    exec_sync *s = r->s;
    char before[HFS_SHA1_HEX];
    memcpy(before, s->parent, sizeof(before));
    s->step_id = st->id;
    int rc = exec_apply_commit(s, st->commit, st->index + 1, r->ps->n_commits);
    s->step_id = NULL;
    if (rc < 0)
        return rc;
    st->done = true;
    /* No new head: the hub's .gitignore left nothing of this step to commit. */
    if (strcmp(before, s->parent) != 0) {
        memcpy(st->oid, s->parent, sizeof(st->oid));
        if (r->journal) {
            hfs_journal_add_commit(r->journal, st->id, st->oid);
            journal_save(r);
        }
    }
    return update_description(r, false);
}

/* ---- the end: open, merge ---------------------------------------------------------------- */

/* The pull request's changes were committed on top of the pinned head of the revision;
 * merged onto anything else, they would land on changes nobody reviewed with the plan. */
static int check_base(const multi_run *r)
{
    exec_sync *s = r->s;
    hfs_hub_repo_info info = {0};
    int rc = hfs_hub_repo_head_get(&info, s->x->hub, &s->repo, r->ps->revision);
    if (rc == 0 && (!info.sha || strcmp(info.sha, r->base) != 0))
        rc = hfs_error_set(HFS_ESTALE,
                           "plan is stale: %s@%s moved from %.7s to %.7s while the steps went to "
                           "pull request #%ld, so it was not merged; it is left as a draft with "
                           "every step in: review and merge it there (%s), or close it and run "
                           "`hfsync plan` again",
                           s->repo.id, r->ps->revision, r->base, info.sha ? info.sha : "(none)",
                           r->num, r->url);
    hfs_hub_repo_info_clear(&info);
    return rc;
}

static void record_merge(multi_run *r, const char *oid)
{
    exec_sync *s = r->s;
    char *url = commit_url(s, oid);
    exec_commit_result res = {.commit_url = url, .pr_url = r->url};
    snprintf(res.commit_oid, sizeof(res.commit_oid), "%s", oid);
    exec_record_commit(s, &res);
    /* The merge lands on the revision: the line names its commit, not the pull request. */
    hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_COMMIT, .commit_oid = oid, .url = url};
    exec_emit(s->x, r->ps, &ev);
    free(url);
}

/* Merged (as one commit on the revision) unless the hub has nothing to merge; a merge
 * whose answer was lost is recognised by the pull request's status. */
static int merge(multi_run *r)
{
    exec_sync *s = r->s;
    const char *rev = r->ps->revision;
    char *comment = hfs_sprintf("Merged by hfsync: every step of plan %s is in.", r->plan_id);
    hfs_hub_discussion d = {0};
    int rc = hfs_hub_discussion_merge(s->x->hub, &s->repo, r->num, comment);
    long status = hfs_hub_last_status();
    if (rc == HFS_EINVALID && strstr(hfs_error_last(), "no associated changes")) {
        hfs_error_clear();
        char *why = hfs_sprintf("Nothing to merge: %s already has what this plan changes (or "
                                "the repo's .gitignore left nothing of it). Closed by hfsync.",
                                rev);
        rc = hfs_hub_discussion_set_status(s->x->hub, &s->repo, r->num, "closed", why);
        free(why);
        if (rc == 0) {
            char *msg = hfs_sprintf("pull request #%ld had nothing to merge (%s already has "
                                    "what it changes): closed it: %s",
                                    r->num, rev, r->url);
            warn(r, msg);
            free(msg);
        }
        goto done;
    }
    if (rc == HFS_EEXISTS) {
        rc = hfs_error_set(HFS_ESTALE,
                           "plan is stale: pull request #%ld (%s) cannot be merged into %s: %s; "
                           "it is left open: resolve it there, or close it and run `hfsync "
                           "plan` again",
                           r->num, r->url, rev, hfs_error_last());
        goto done;
    }
    if (rc < 0 && status != 0 && status < 500 && status != 408 && status != 429)
        goto done;
    char *why = rc < 0 ? hfs_strdup(hfs_error_last()) : NULL;
    int look = hfs_hub_discussion_get(&d, s->x->hub, &s->repo, r->num, false);
    bool merged = look == 0 && d.status && strcmp(d.status, "merged") == 0;
    if (merged && d.merge_commit_id) {
        rc = 0;
        record_merge(r, d.merge_commit_id);
        exec_emit_pr(s, r->num, r->url, "merged");
    } else if (rc == 0) {
        rc = hfs_error_set(HFS_ERROR,
                           "the hub merged pull request #%ld (%s) but does not show it merged "
                           "with a merge commit: look at the pull request",
                           r->num, r->url);
    } else {
        rc = hfs_error_set(rc, "%s; pull request #%ld (%s) %s: apply the plan again to merge it",
                           why, r->num, r->url,
                           look == 0 ? "is not merged" : "may or may not be merged");
    }
    free(why);
done:
    hfs_hub_discussion_clear(&d);
    free(comment);
    return rc;
}

static int finish(multi_run *r)
{
    exec_sync *s = r->s;
    int rc = 0;
    if ((rc = update_description(r, true)) < 0)
        return rc;
    if (!r->ps->create_pr && (rc = check_base(r)) < 0)
        return rc;
    if (strcmp(r->title, r->final_title) != 0 &&
        (rc = hfs_hub_discussion_rename(s->x->hub, &s->repo, r->num, r->final_title)) < 0)
        return rc;
    if (strcmp(r->status, "draft") == 0) {
        char *comment = hfs_sprintf("All %zu step(s) of plan %s are in.%s", r->n_steps, r->plan_id,
                                    r->ps->create_pr ? " Left open for review." : " Merging.");
        rc = hfs_hub_discussion_set_status(s->x->hub, &s->repo, r->num, "open", comment);
        free(comment);
        if (rc < 0)
            return rc;
        free(r->status);
        r->status = hfs_strdup("open");
        exec_emit_pr(s, r->num, r->url, r->status);
    }
    if (r->ps->create_pr)
        return 0;
    /* The merge is a commit on the revision, and is recorded as one. */
    free(s->revision);
    s->revision = hfs_strdup(r->ps->revision);
    return merge(r);
}

/* ---- the whole sync --------------------------------------------------------------------- */

static void run_clear(multi_run *r)
{
    free(r->steps);
    free(r->message);
    free(r->draft_title);
    free(r->final_title);
    free(r->url);
    free(r->status);
    free(r->title);
    free(r->comment_id);
    free(r->posted);
}

/* The steps (the plan's non-empty commits, with their ids) and the pull request's titles.
 * Returns false when the sync has no step. */
static bool run_setup(multi_run *r)
{
    const hfs_plan_sync *ps = r->ps;
    r->steps = hfs_calloc(ps->n_commits ? ps->n_commits : 1, sizeof(*r->steps));
    for (size_t c = 0; c < ps->n_commits; c++) {
        if (ps->commits[c].n_ops == 0)
            continue;
        multi_step *st = &r->steps[r->n_steps++];
        st->commit = &ps->commits[c];
        st->index = c;
        step_id(st->id, st->commit);
    }
    if (r->n_steps == 0)
        return false;
    r->message = sync_message(ps, r->steps[0].commit);
    char *short_message = fit(r->message, TITLE_MESSAGE_MAX);
    r->draft_title = hfs_sprintf("[hfsync] %s (plan %.12s)", short_message, r->plan_id);
    free(short_message);
    r->final_title = fit(r->message, TITLE_MAX);
    if (strlen(r->final_title) < TITLE_MIN) {
        /* The hub refuses a title under 3 characters, which would only show at the very
         * end, after every upload: a short message is prefixed instead. */
        char *longer = hfs_sprintf("hfsync: %s", *r->final_title ? r->final_title : "upload");
        free(r->final_title);
        r->final_title = longer;
    }
    return true;
}

/* The commits go to the pull request from now on: its number in the journal, its URL on
 * every commit event, refs/pr/N as the revision. */
static void use_pr(multi_run *r)
{
    exec_sync *s = r->s;
    if (r->journal && r->journal->pr_num != r->num) {
        r->journal->pr_num = r->num;
        journal_save(r);
    }
    free(s->pr_url);
    s->pr_url = hfs_strdup(r->url);
    free(s->revision);
    s->revision = hfs_sprintf("refs/pr/%ld", r->num);
    s->create_pr = false;
}

/* A revision other than main: the first step's commit opens the pull request against it
 * (create_pr), titled and described as a draft opened through the discussions API would
 * be, so that a resumed apply finds it the same way. A step the hub's .gitignore empties
 * opens nothing; the next one tries. */
static int open_by_commit(multi_run *r, multi_step *st)
{
    exec_sync *s = r->s;
    hfs_plan_commit c = *st->commit;
    char *description = describe(r);
    c.message = r->draft_title;
    c.description = description;
    s->create_pr = true;
    s->step_id = st->id;
    int rc = exec_apply_commit(s, &c, st->index + 1, r->ps->n_commits);
    s->step_id = NULL;
    free(description);
    if (rc < 0)
        return rc;
    st->done = true;
    if (s->create_pr) {
        s->create_pr = false;
        return 0;
    }
    /* exec_apply_commit moved s->revision to the new pull request's refs/pr/N. */
    long num = strtol(s->revision + strlen("refs/pr/"), NULL, 10);
    bool mine = false;
    memcpy(st->oid, s->parent, sizeof(st->oid));
    if ((rc = adopt(r, num, &mine)) < 0)
        return rc;
    if (!mine)
        return hfs_error_set(HFS_ERROR,
                             "the hub opened pull request #%ld on %s with the first step's commit, "
                             "but reading it back does not show it open with this plan's "
                             "description: look at %s",
                             num, s->repo.id, s->pr_url ? s->pr_url : "the repo's pull requests");
    use_pr(r);
    if (r->journal) {
        hfs_journal_add_commit(r->journal, st->id, st->oid);
        journal_save(r);
    }
    return update_description(r, true);
}

int exec_multi_apply(exec_sync *s)
{
    const hfs_plan_sync *ps = s->sync;
    multi_run r = {.s = s,
                   .ps = ps,
                   .plan_id = hfs_plan_id(s->x->plan),
                   .journal = s->journal,
                   .state_dir = s->x->state_dir};
    int rc = 0;

    if (!run_setup(&r))
        goto done;
    memcpy(r.base, s->parent, sizeof(r.base));

    if ((rc = find_pr(&r)) < 0)
        goto done;
    if (r.num == 0 && !opens_by_commit(ps) && (rc = open_pr(&r)) < 0)
        goto done;
    if (r.num != 0) {
        use_pr(&r);
        exec_emit_pr(s, r.num, r.url, r.status);
        if ((rc = scan_steps(&r)) < 0)
            goto done;
        journal_save(&r);
        /* A resumed apply finds the boxes of the steps killed between commit and tick. */
        if ((rc = update_description(&r, true)) < 0)
            goto done;
    }

    for (size_t i = 0; i < r.n_steps && rc == 0; i++) {
        if (r.steps[i].done)
            continue;
        rc = exec_check_cancel(s->x);
        if (rc == 0)
            rc = r.num == 0 ? open_by_commit(&r, &r.steps[i]) : run_step(&r, &r.steps[i]);
    }
    if (rc == 0)
        rc = exec_check_cancel(s->x);
    /* No pull request: the hub's .gitignore left nothing of any step to commit. */
    if (rc == 0 && r.num != 0)
        rc = finish(&r);
done:
    run_clear(&r);
    return rc;
}

/* ---- an apply that finished already ------------------------------------------------------ */

typedef struct {
    const char *tag;         /* "(plan 0123456789ab)", in the draft's title */
    const char *final_title; /* the title once every step was in */
    long *nums;
    size_t n, cap;
} merged_search;

static int on_merged(void *ctx, const hfs_hub_discussion_entry *d)
{
    merged_search *q = ctx;
    if (d->is_pull_request && d->status && strcmp(d->status, "merged") == 0 && d->title &&
        (strstr(d->title, q->tag) || strcmp(d->title, q->final_title) == 0))
        HFS_PUSH(q->nums, q->n, q->cap, d->num);
    return 0;
}

/* Pull request `num`, if it is this plan's (its description names the plan), merged into
 * the sync's revision: *merge gets its merge commit; else "". */
static int merged_pr(char merge[HFS_SHA1_HEX], const multi_run *r, long num)
{
    exec_sync *s = r->s;
    hfs_hub_discussion d = {0};
    merge[0] = '\0';
    int rc = hfs_hub_discussion_get(&d, s->x->hub, &s->repo, num, false);
    if (rc == HFS_ENOTFOUND) {
        hfs_error_clear();
        rc = 0;
    }
    if (rc < 0 || !d.is_pull_request || !d.status || strcmp(d.status, "merged") != 0 ||
        !d.merge_commit_id || strlen(d.merge_commit_id) != HFS_SHA1_HEX - 1)
        goto done;
    const char *text = description_of(&d);
    char *line = hfs_sprintf("%s %s", PLAN_LINE, r->plan_id);
    const char *base =
        json_string_value(json_object_get(json_object_get(d.json, "changes"), "base"));
    char *want_base = hfs_sprintf("refs/heads/%s", r->ps->revision);
    /* A hub that does not say where the pull request went is taken at its word. */
    bool ours = text && exec_has_line(text, line) &&
                (!base || strcmp(base, want_base) == 0 || strcmp(base, r->ps->revision) == 0);
    if (ours)
        snprintf(merge, HFS_SHA1_HEX, "%s", d.merge_commit_id);
    free(want_base);
    free(line);
done:
    hfs_hub_discussion_clear(&d);
    return rc;
}

typedef struct {
    const char *want; /* the merge commit */
    const char *stop; /* the pinned head: the merge cannot be below it; NULL: none */
    size_t seen;
    bool found;
} merge_walk;

static int on_revision_commit(void *ctx, const hfs_hub_commit_entry *c)
{
    merge_walk *w = ctx;
    if (!c->id)
        return 0;
    if (strcmp(c->id, w->want) == 0) {
        w->found = true;
        return 1;
    }
    if ((w->stop && strcmp(c->id, w->stop) == 0) || ++w->seen >= APPLIED_WALK_MAX)
        return 1;
    return 0;
}

int exec_multi_applied(exec_applied *out, exec_ctx *x, const hfs_plan_sync *ps, long pr_hint)
{
    memset(out, 0, sizeof(*out));
    exec_sync s = {.x = x, .sync = ps, .repo = {ps->repo_type, ps->repo_id}};
    multi_run r = {.s = &s, .ps = ps, .plan_id = hfs_plan_id(x->plan)};
    hfs_hub_repo_info info = {0};
    merged_search q = {0};
    char *tag = NULL;
    int rc = 0;
    if (ps->strategy != HFS_STRATEGY_MULTI || ps->create_pr || !run_setup(&r))
        goto done;
    rc = hfs_hub_repo_head_get(&info, x->hub, &s.repo, ps->revision);
    if (rc == HFS_ENOTFOUND) {
        /* No repo or no revision: nothing was applied; the pin check says the rest. */
        hfs_error_clear();
        rc = 0;
        goto done;
    }
    if (rc < 0 || !info.sha || strlen(info.sha) != HFS_SHA1_HEX - 1 ||
        (!ps->create && strcmp(info.sha, ps->remote_head) == 0))
        goto done;

    char merge[HFS_SHA1_HEX] = "";
    if (pr_hint > 0 && (rc = merged_pr(merge, &r, pr_hint)) < 0)
        goto done;
    if (merge[0]) {
        out->pr_num = pr_hint;
    } else {
        tag = hfs_sprintf("(plan %.12s)", r.plan_id);
        q.tag = tag;
        q.final_title = r.final_title;
        /* The hub filters on "open" or "closed" only: merged ones are picked out here. */
        rc = hfs_hub_discussion_list(x->hub, &s.repo, "pull_request", NULL, NULL, on_merged, &q);
        for (size_t i = 0; i < q.n && rc == 0 && !merge[0]; i++)
            if ((rc = merged_pr(merge, &r, q.nums[i])) == 0 && merge[0])
                out->pr_num = q.nums[i];
        if (rc < 0 || !merge[0])
            goto done;
    }
    merge_walk w = {.want = merge, .stop = ps->create ? NULL : ps->remote_head};
    rc = hfs_hub_list_commits(x->hub, &s.repo, info.sha, on_revision_commit, &w);
    if (rc > 0)
        rc = 0;
    if (rc == 0 && w.found) {
        out->applied = true;
        snprintf(out->commit_oid, sizeof(out->commit_oid), "%s", merge);
        snprintf(out->head, sizeof(out->head), "%s", info.sha);
    }
done:
    free(q.nums);
    free(tag);
    hfs_hub_repo_info_clear(&info);
    run_clear(&r);
    return rc;
}
