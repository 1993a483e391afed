/* hfs_apply: a plan carried out over HTTP, in the order the data flows — pins checked for every
 * sync first, then per sync: repo creation, and per commit: preupload, LFS uploads, the commit. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "executor/executor.h"
#include "legacy-git/lgit.h"

void exec_emit(exec_ctx *x, const hfs_plan_sync *s, hfs_apply_event *ev)
{
    if (!x->opts->event)
        return;
    if (s) {
        ev->sync = s->name;
        ev->repo_id = s->repo_id;
        ev->repo_type = s->repo_type;
        ev->revision = s->revision;
    }
    x->opts->event(x->opts->event_ctx, ev);
}

void exec_emit_pr(exec_sync *s, long num, const char *url, const char *state)
{
    hfs_apply_event ev = {
        .kind = HFS_APPLY_EVENT_PULL_REQUEST, .pr_num = num, .url = url, .pr_state = state};
    exec_emit(s->x, s->sync, &ev);
}

int exec_check_cancel(const exec_ctx *x)
{
    if (x->opts->cancel && *x->opts->cancel)
        return hfs_error_set(HFS_ERROR, "interrupted: the apply was stopped before it finished");
    return 0;
}

char *exec_local_path(const hfs_plan_sync *s, const hfs_plan_op *op)
{
    return hfs_path_join(s->folder, op->local);
}

void hfs_apply_result_clear(hfs_apply_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_commits; i++) {
        hfs_apply_commit *c = &r->commits[i];
        free(c->sync);
        free(c->repo_id);
        free(c->revision);
        free(c->commit_url);
        free(c->pr_url);
    }
    free(r->commits);
    memset(r, 0, sizeof(*r));
}

void exec_record_commit(exec_sync *s, const exec_commit_result *c)
{
    hfs_apply_result *r = s->x->result;
    r->commits = hfs_realloc(r->commits, (r->n_commits + 1) * sizeof(*r->commits));
    hfs_apply_commit *out = &r->commits[r->n_commits++];
    memset(out, 0, sizeof(*out));
    out->sync = hfs_strdup(s->sync->name);
    out->repo_id = hfs_strdup(s->sync->repo_id);
    out->repo_type = s->sync->repo_type;
    out->revision = hfs_strdup(s->revision);
    memcpy(out->commit_oid, c->commit_oid, sizeof(out->commit_oid));
    out->commit_url = c->commit_url ? hfs_strdup(c->commit_url) : NULL;
    out->pr_url = c->pr_url ? hfs_strdup(c->pr_url) : NULL;
    out->recovered = c->recovered;
}

/* ---- checks made before anything changes ------------------------------------------------ */

/* The commit's inline (regular) content: what the hub takes in one request body. */
static uint64_t inline_bytes(const hfs_plan_commit *c)
{
    uint64_t total = 0;
    for (size_t i = 0; i < c->n_ops; i++)
        if (c->ops[i].kind != HFS_OP_DELETE && !c->ops[i].lfs)
            total += c->ops[i].size;
    return total;
}

static int check_limits(const hfs_plan_sync *s)
{
    if (exec_multi_check(s) < 0)
        return hfs_error_last_code();
    /* Over git a commit is a push: the commit endpoint's inline limit does not apply. */
    if (s->transport == HFS_TRANSPORT_GIT)
        return 0;
    for (size_t c = 0; c < s->n_commits; c++) {
        uint64_t bytes = inline_bytes(&s->commits[c]);
        if (bytes > HFS_GROUP_MAX_INLINE_BYTES)
            return hfs_group_inline_refusal(s->name, c + 1, s->n_commits, bytes);
    }
    return 0;
}

/* The plan names its hub: sending it anywhere else would apply pins taken elsewhere. */
static int check_endpoint(const hfs_plan *plan)
{
    const char *env = getenv("HF_ENDPOINT");
    if (!env || !*env)
        return 0;
    char *resolved = NULL;
    int rc = hfs_hub_endpoint_resolve(&resolved, NULL);
    if (rc == 0 && strcmp(resolved, plan->endpoint) != 0)
        rc = hfs_error_set(HFS_EINVALID,
                           "the plan was made against %s but HF_ENDPOINT is %s: unset "
                           "HF_ENDPOINT to apply it there, or plan again against %s",
                           plan->endpoint, resolved, resolved);
    free(resolved);
    return rc;
}

static int select_syncs(const hfs_plan_sync ***out, size_t *n, const hfs_plan *plan,
                        const hfs_apply_options *opts)
{
    *out = hfs_calloc(plan->n_syncs ? plan->n_syncs : 1, sizeof(**out));
    *n = 0;
    for (size_t k = 0; k < opts->n_syncs; k++) {
        bool known = false;
        for (size_t i = 0; i < plan->n_syncs; i++)
            known |= strcmp(plan->syncs[i].name, opts->syncs[k]) == 0;
        if (!known) {
            hfs_buf names = HFS_BUF_INIT;
            for (size_t i = 0; i < plan->n_syncs; i++)
                hfs_buf_printf(&names, "%s%s", i ? ", " : "", plan->syncs[i].name);
            int rc =
                hfs_error_set(HFS_EINVALID, "the plan has no sync named \"%s\" (its syncs: %s)",
                              opts->syncs[k], hfs_buf_cstr(&names));
            hfs_buf_free(&names);
            return rc;
        }
    }
    for (size_t i = 0; i < plan->n_syncs; i++) {
        bool wanted = opts->n_syncs == 0;
        for (size_t k = 0; k < opts->n_syncs; k++)
            wanted |= strcmp(plan->syncs[i].name, opts->syncs[k]) == 0;
        const hfs_plan_sync *s = &plan->syncs[i];
        bool changes = s->create;
        for (size_t c = 0; c < s->n_commits; c++)
            changes |= s->commits[c].n_ops > 0;
        if (wanted && changes)
            (*out)[(*n)++] = s;
    }
    return 0;
}

/* ---- one sync ------------------------------------------------------------------------- */

static int create_repo(exec_sync *s, exec_pin *pin)
{
    const hfs_plan_sync *ps = s->sync;
    hfs_hub_create_options co = HFS_HUB_CREATE_OPTIONS_INIT;
    co.visibility = ps->create_private ? "private" : "public";
    co.space_sdk = ps->create_sdk;
    char *url = NULL;
    int rc = hfs_hub_repo_create(&url, s->x->hub, &s->repo, &co);
    bool existed = rc == HFS_EEXISTS;
    if (existed) {
        hfs_error_clear();
        rc = 0;
    }
    if (rc < 0)
        goto done;
    if (!existed)
        s->x->result->repos_created++;
    if (!url)
        url = hfs_sprintf("%s/%s%s", hfs_hub_endpoint(s->x->hub),
                          hfs_hub_type_prefix(ps->repo_type), ps->repo_id);
    hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_CREATE_REPO,
                          .url = url,
                          .is_private = ps->create_private,
                          .existed = existed};
    exec_emit(s->x, ps, &ev);

    /* The first commit builds on the hub's own first commit: pinning it keeps a commit
     * racing ours from being overwritten. */
    hfs_hub_repo_info info = {0};
    rc = hfs_hub_repo_head_get(&info, s->x->hub, &s->repo, ps->revision);
    if (rc == 0 && info.sha)
        snprintf(pin->head, sizeof(pin->head), "%s", info.sha);
    else if (rc == HFS_ENOTFOUND)
        rc = hfs_error_set(HFS_ENOTFOUND,
                           "%s %s was created, but it has no revision \"%s\": create that branch, "
                           "then apply again",
                           hfs_repo_type_name(ps->repo_type), ps->repo_id, ps->revision);
    hfs_hub_repo_info_clear(&info);
    pin->exists = rc == 0;
done:
    free(url);
    return rc;
}

int exec_fetch_copy(exec_entry *e, hfs_hub *hub, const hfs_hub_repo *repo, const char *revision)
{
    const char *dir = getenv("TMPDIR");
    char *tmpl = hfs_sprintf("%s/hfsync-copy-XXXXXX", dir && *dir ? dir : "/tmp");
    /* Close-on-exec: a process the embedding program starts meanwhile does not inherit it. */
    int fd = mkostemp(tmpl, O_CLOEXEC);
    int rc = 0;
    if (fd < 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot create a temp file (%s) to copy %s: %s", tmpl,
                           e->op->from, strerror(errno));
        goto done;
    }
    unlink(tmpl);
    rc = hfs_hub_download_fd(hub, repo, revision, e->op->from, fd, e->op->size);
    if (rc < 0) {
        close(fd);
        goto done;
    }
    e->fd = fd;
done:
    free(tmpl);
    return rc;
}

static char *describe(const hfs_plan_commit *c, const char *trailer)
{
    if (c->description && *c->description)
        return hfs_sprintf("%s\n\n%s", c->description, trailer);
    return hfs_strdup(trailer);
}

int exec_apply_commit(exec_sync *s, const hfs_plan_commit *c, size_t step, size_t steps)
{
    if (s->sync->transport == HFS_TRANSPORT_GIT)
        return lgit_apply_commit(s, c, step, steps);
    exec_entry *entries = hfs_calloc(c->n_ops ? c->n_ops : 1, sizeof(*entries));
    exec_commit_result res = {0};
    char *trailer = NULL, *description = NULL;
    size_t live = 0, deleted = 0;
    int rc = 0;

    for (size_t i = 0; i < c->n_ops; i++) {
        entries[i].op = &c->ops[i];
        entries[i].fd = -1;
    }
    for (size_t i = 0; i < c->n_ops && rc == 0; i++)
        if (c->ops[i].kind == HFS_OP_COPY && !c->ops[i].lfs)
            rc = exec_fetch_copy(&entries[i], s->x->hub, &s->repo, s->parent);
    if (rc == 0)
        rc = exec_check_cancel(s->x);
    if (rc == 0)
        rc = exec_preupload(s, entries, c->n_ops);
    if (rc < 0)
        goto done;
    for (size_t i = 0; i < c->n_ops; i++) {
        if (entries[i].ignored)
            continue;
        live++;
        if (c->ops[i].kind == HFS_OP_DELETE)
            deleted++;
        else if (!c->ops[i].lfs)
            s->x->result->inline_files++;
    }
    if (live == 0) {
        /* The hub ignores everything left: an empty commit is never made. */
        hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_WARNING,
                              .message = "nothing left to commit: the hub's .gitignore excludes "
                                         "every file of this commit"};
        exec_emit(s->x, s->sync, &ev);
        goto done;
    }
    if ((rc = exec_upload_lfs(s, entries, c->n_ops, NULL)) < 0 ||
        (rc = exec_check_cancel(s->x)) < 0)
        goto done;

    if (s->step_id)
        trailer = hfs_sprintf("%s %s\n%s %s", HFS_APPLY_PLAN_TRAILER, hfs_plan_id(s->x->plan),
                              HFS_APPLY_STEP_TRAILER, s->step_id);
    else if (steps > 1)
        trailer = hfs_sprintf("%s %s\n%s %zu/%zu", HFS_APPLY_PLAN_TRAILER, hfs_plan_id(s->x->plan),
                              HFS_APPLY_STEP_TRAILER, step, steps);
    else
        trailer = hfs_sprintf("%s %s", HFS_APPLY_PLAN_TRAILER, hfs_plan_id(s->x->plan));
    description = describe(c, trailer);
    rc = exec_commit(&res, s, entries, c->n_ops, c->message, description, trailer);
    if (rc < 0)
        goto done;
    /* Commits after the first go to refs/pr/N; the hub names the PR only when opening it. */
    if (res.pr_url && !s->pr_url)
        s->pr_url = hfs_strdup(res.pr_url);
    else if (!res.pr_url && s->pr_url)
        res.pr_url = hfs_strdup(s->pr_url);
    exec_record_commit(s, &res);
    hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_COMMIT,
                          .commit_oid = res.commit_oid,
                          .url = res.commit_url,
                          .pr_url = res.pr_url,
                          .recovered = res.recovered,
                          .step = step,
                          .steps = steps,
                          .files_total = live - deleted,
                          .n_deleted = deleted};
    exec_emit(s->x, s->sync, &ev);

    /* The next commit builds on this one; after a new pull request, it goes there. */
    memcpy(s->parent, res.commit_oid, sizeof(s->parent));
    if (s->create_pr && res.pr_num > 0) {
        /* A pull request a commit opens is open at once (not a draft). */
        exec_emit_pr(s, res.pr_num, s->pr_url, "open");
        free(s->revision);
        s->revision = hfs_sprintf("refs/pr/%ld", res.pr_num);
        s->create_pr = false;
    }
done:
    for (size_t i = 0; i < c->n_ops; i++)
        if (entries[i].fd >= 0)
            close(entries[i].fd);
    exec_commit_result_clear(&res);
    free(description);
    free(trailer);
    free(entries);
    return rc;
}

static char *state_name_of(const exec_ctx *x, const hfs_plan_sync *ps)
{
    return hfs_state_name(x->plan->manifest_path, ps->name, ps->repo_type, ps->repo_id,
                          ps->revision, ps->path_in_repo);
}

static int apply_sync(exec_ctx *x, const hfs_plan_sync *ps, exec_pin *pin)
{
    exec_sync s = {.x = x, .sync = ps, .repo = {ps->repo_type, ps->repo_id}};
    int rc = 0;
    hfs_journal journal = {0};
    char *state_name = state_name_of(x, ps);
    s.journal = &journal;
    s.state_name = state_name;
    if ((rc = hfs_journal_load(&journal, x->state_dir, state_name, hfs_plan_id(x->plan))) < 0 ||
        (rc = exec_plan_gitattributes(&s.gitattributes, &s)) < 0)
        goto done;
    s.revision = hfs_strdup(ps->revision);
    s.create_pr = ps->create_pr;
    if (ps->create && !pin->exists && (rc = create_repo(&s, pin)) < 0)
        goto done;
    memcpy(s.parent, pin->head, sizeof(s.parent));
    if (ps->strategy == HFS_STRATEGY_MULTI) {
        rc = exec_multi_apply(&s);
        goto done;
    }
    if (ps->strategy == HFS_STRATEGY_LARGE && ps->transport == HFS_TRANSPORT_HTTP) {
        rc = exec_large_apply(&s);
        goto done;
    }
    for (size_t c = 0; c < ps->n_commits && rc == 0; c++) {
        if (ps->commits[c].n_ops == 0)
            continue;
        rc = exec_check_cancel(x);
        if (rc == 0)
            rc = exec_apply_commit(&s, &ps->commits[c], c + 1, ps->n_commits);
    }
done:
    /* Finished: nothing is left to resume. */
    if (rc == 0 && hfs_journal_remove(x->state_dir, state_name) < 0) {
        hfs_warn("%s", hfs_error_last());
        hfs_error_clear();
    }
    hfs_journal_clear(&journal);
    free(state_name);
    lgit_session_free(s.git);
    free(s.gitattributes);
    free(s.pr_url);
    free(s.revision);
    return rc;
}

/* ---- an earlier apply that finished --------------------------------------------------- */

/* Commits of the revision read, newest first, looking for the plan's last commit. */
#define APPLIED_WALK_MAX 1000

typedef struct {
    const char *plan_line; /* "hfsync-plan: <id>" */
    const char *last_step; /* "hfsync-step: n/n" when the plan has several commits, else NULL */
    const char *stop;      /* the pinned head: the plan's commits are above it; NULL: none */
    size_t seen;
    char found[HFS_SHA1_HEX];
} trailer_walk;

static int on_trailer_commit(void *ctx, const hfs_hub_commit_entry *c)
{
    trailer_walk *w = ctx;
    if (!c->id)
        return 0;
    if ((w->stop && strcmp(c->id, w->stop) == 0) || w->seen++ >= APPLIED_WALK_MAX)
        return 1;
    const char *text = c->message ? c->message : c->title;
    if (text && exec_has_line(text, w->plan_line) &&
        (!w->last_step || exec_has_line(text, w->last_step))) {
        snprintf(w->found, sizeof(w->found), "%s", c->id);
        return 1;
    }
    return 0;
}

/* An apply whose commit or push landed but which was cut short before it said so leaves
 * the revision at the plan's last commit (its message carries the plan's id and, with
 * several commits, the last step), or at a descendant of it. */
static int pushed_already(exec_applied *out, exec_ctx *x, const hfs_plan_sync *ps)
{
    hfs_hub_repo repo = {ps->repo_type, ps->repo_id};
    hfs_hub_repo_info info = {0};
    char *plan_line = NULL, *last_step = NULL;
    int rc = hfs_hub_repo_head_get(&info, x->hub, &repo, ps->revision);
    if (rc == HFS_ENOTFOUND) {
        /* No repo or no revision: nothing was pushed; the pin check says the rest. */
        hfs_error_clear();
        rc = 0;
        goto done;
    }
    if (rc < 0 || !info.sha || (!ps->create && strcmp(info.sha, ps->remote_head) == 0))
        goto done;
    plan_line = hfs_sprintf("%s %s", HFS_APPLY_PLAN_TRAILER, hfs_plan_id(x->plan));
    if (ps->n_commits > 1)
        last_step = hfs_sprintf("%s %zu/%zu", HFS_APPLY_STEP_TRAILER, ps->n_commits, ps->n_commits);
    trailer_walk w = {plan_line, last_step, ps->create ? NULL : ps->remote_head, 0, ""};
    rc = hfs_hub_list_commits(x->hub, &repo, info.sha, on_trailer_commit, &w);
    if (rc > 0)
        rc = 0;
    if (rc == 0 && w.found[0]) {
        out->applied = true;
        memcpy(out->commit_oid, w.found, sizeof(out->commit_oid));
        snprintf(out->head, sizeof(out->head), "%s", info.sha);
    }
done:
    free(last_step);
    free(plan_line);
    hfs_hub_repo_info_clear(&info);
    return rc;
}

/* Whether an earlier apply of this plan already finished the sync, although it did not get
 * to say so (killed after the merge or the push landed): then its revision has moved by
 * the plan's own doing, which is not a stale plan. Only the hub's state decides. */
static int find_applied(exec_applied *out, exec_ctx *x, const hfs_plan_sync *ps)
{
    memset(out, 0, sizeof(*out));
    if (ps->strategy == HFS_STRATEGY_MULTI) {
        /* The journal, when there is one, names the pull request. */
        hfs_journal j = {0};
        char *name = state_name_of(x, ps);
        int rc = hfs_journal_load(&j, x->state_dir, name, hfs_plan_id(x->plan));
        if (rc == 0)
            rc = exec_multi_applied(out, x, ps, j.pr_num);
        hfs_journal_clear(&j);
        free(name);
        return rc;
    }
    /* Over http in one commit, as over git: the plan's commit carries its id. (Strategy
     * large recognises its own commits as it resumes.) */
    if (ps->transport == HFS_TRANSPORT_GIT || ps->strategy == HFS_STRATEGY_SINGLE)
        return pushed_already(out, x, ps);
    return 0;
}

static void report_applied(exec_ctx *x, const hfs_plan_sync *ps, const exec_applied *a)
{
    char *pr = NULL, *msg;
    char *url = hfs_sprintf("%s/%s%s/commit/%s", hfs_hub_endpoint(x->hub),
                            hfs_hub_type_prefix(ps->repo_type), ps->repo_id, a->commit_oid);
    if (a->pr_num > 0) {
        pr = hfs_sprintf("%s/%s%s/discussions/%ld", hfs_hub_endpoint(x->hub),
                         hfs_hub_type_prefix(ps->repo_type), ps->repo_id, a->pr_num);
        msg = hfs_sprintf("%s@%s holds pull request #%ld of this plan, merged as %.7s (the "
                          "head is %.7s); nothing to do: %s",
                          ps->repo_id, ps->revision, a->pr_num, a->commit_oid, a->head, pr);
    } else {
        msg = hfs_sprintf("%s@%s holds this plan's commit %.7s (the head is %.7s), made by "
                          "an earlier apply; nothing to do: %s",
                          ps->repo_id, ps->revision, a->commit_oid, a->head, url);
    }
    hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_ALREADY_APPLIED,
                          .commit_oid = a->commit_oid,
                          .url = url,
                          .pr_url = pr,
                          .message = msg};
    exec_emit(x, ps, &ev);
    /* Finished: nothing is left to resume. */
    char *name = state_name_of(x, ps);
    if (hfs_journal_remove(x->state_dir, name) < 0) {
        hfs_warn("%s", hfs_error_last());
        hfs_error_clear();
    }
    free(name);
    free(msg);
    free(pr);
    free(url);
}

/* ---- the whole apply ------------------------------------------------------------------- */

static void emit_failure(exec_ctx *x, int rc)
{
    hfs_apply_event ev = {.kind = rc == HFS_ESTALE ? HFS_APPLY_EVENT_STALE : HFS_APPLY_EVENT_ERROR,
                          .message = hfs_error_last(),
                          .path = x->stale_path,
                          .error_code = rc};
    exec_emit(x, NULL, &ev);
}

int hfs_apply(hfs_apply_result *out, const hfs_plan *plan, const hfs_apply_options *opts)
{
    static const hfs_apply_options defaults = HFS_APPLY_OPTIONS_INIT;
    hfs_apply_result local = {0};
    const hfs_plan_sync **syncs = NULL;
    exec_pin *pins = NULL;
    hfs_sync_lock **locks = NULL;
    hfs_plan_sync *repinned = NULL;
    size_t n = 0, live = 0, n_applied = 0;
    exec_ctx x = {.plan = plan, .opts = opts ? opts : &defaults, .started = hfs_now()};
    x.result = out ? out : &local;
    memset(x.result, 0, sizeof(*x.result));
    int rc = select_syncs(&syncs, &n, plan, x.opts);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = check_limits(syncs[i]);
    if (rc == 0 && n > 0)
        rc = check_endpoint(plan);
    if (rc < 0 || n == 0)
        goto done;
    /* Held until the end, in plan order (so two applies waiting with --wait cannot
     * deadlock): a cron run and `hfsync watch` never apply one sync at once. */
    x.state_dir =
        x.opts->state_dir ? hfs_strdup(x.opts->state_dir) : hfs_state_dir_for(plan->manifest_path);
    locks = hfs_calloc(n, sizeof(*locks));
    for (size_t i = 0; i < n && rc == 0 && !x.opts->lock_held; i++) {
        char *name = state_name_of(&x, syncs[i]);
        rc = hfs_sync_lock_acquire_until(&locks[i], x.state_dir, name, x.opts->wait_lock,
                                         x.opts->cancel);
        free(name);
    }
    if (rc < 0)
        goto done;

    hfs_hub_options ho = HFS_HUB_OPTIONS_INIT;
    ho.endpoint = plan->endpoint;
    ho.token = x.opts->token;
    ho.verbose = x.opts->verbose;
    if ((rc = hfs_hub_new(&x.hub, &ho)) < 0)
        goto done;
    /* Syncs an earlier apply finished are reported and left out of the rest. */
    for (size_t i = 0; i < n && rc == 0; i++) {
        exec_applied a;
        rc = find_applied(&a, &x, syncs[i]);
        if (rc == 0 && a.applied) {
            report_applied(&x, syncs[i], &a);
            n_applied++;
        } else if (rc == 0) {
            syncs[live++] = syncs[i];
        }
    }
    if (rc < 0)
        goto done;
    pins = hfs_calloc(n, sizeof(*pins));
    repinned = hfs_calloc(n, sizeof(*repinned));
    if ((rc = exec_large_repin(&x, syncs, live, repinned)) < 0)
        goto done;
    if ((rc = exec_check_pins(&x, syncs, live, pins)) < 0)
        goto done;
    for (size_t i = 0; i < live && rc == 0; i++) {
        rc = exec_check_cancel(&x);
        if (rc == 0)
            rc = apply_sync(&x, syncs[i], &pins[i]);
    }
done:
    x.result->seconds = hfs_now() - x.started;
    if (rc < 0) {
        emit_failure(&x, rc);
    } else {
        const char *message = n == 0                        ? "No changes."
                              : n_applied == n && live == 0 ? "Nothing to do: already applied."
                                                            : NULL;
        hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_DONE,
                              .commits = x.result->n_commits,
                              .files_done = x.result->lfs_files_uploaded,
                              .bytes_done = x.result->lfs_bytes_uploaded,
                              .seconds = x.result->seconds,
                              .message = message};
        exec_emit(&x, NULL, &ev);
    }
    free(x.stale_path);
    for (size_t i = n; locks && i > 0; i--)
        hfs_sync_lock_release(locks[i - 1]);
    free(locks);
    free(x.state_dir);
    free(x.checks);
    free(repinned);
    free(pins);
    free(syncs);
    hfs_hub_free(x.hub);
    hfs_apply_result_clear(&local);
    return rc;
}
