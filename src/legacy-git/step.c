/* One commit group over git, in the order it runs: preupload and LFS uploads as over HTTP,
 * the parent fetched into the cache when missing, the tree and commit built there, the push. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/util.h"
#include "legacy-git/lgit.h"

struct lgit_session {
    lgit_remote *remote;
    git_signature *sig;
};

void lgit_session_free(lgit_session *g)
{
    if (!g)
        return;
    lgit_remote_free(g->remote);
    git_signature_free(g->sig);
    free(g);
    git_libgit2_shutdown();
}

/* ---- opening the session -------------------------------------------------------------------- */

/* The token, resolved as the hub client resolves it: the caller's, else HF_TOKEN or the
 * token file. */
static int token_of(char **out, const exec_ctx *x)
{
    *out = NULL;
    if (x->opts->token) {
        *out = *x->opts->token ? hfs_strdup(x->opts->token) : NULL;
        return 0;
    }
    hfs_hub_token t = HFS_HUB_TOKEN_INIT;
    int rc = hfs_hub_token_resolve(&t);
    if (rc == 0 && t.value)
        *out = hfs_strdup(t.value);
    hfs_hub_token_clear(&t);
    return rc;
}

/* The commits' author: the token's user, as the hub names the author of its own commits. */
static int signature_of(git_signature **out, exec_sync *s)
{
    json_t *me = NULL;
    const char *name = NULL;
    int rc = hfs_hub_whoami(&me, s->x->hub);
    if (rc == 0)
        name = json_string_value(json_object_get(me, "name"));
    if (rc < 0 || !name || !*name) {
        /* The message is formatted into the buffer the last error lives in: copy it first. */
        char *why = hfs_strdup(rc < 0 ? hfs_error_last() : "gave no name");
        rc = hfs_error_set(rc < 0 ? rc : HFS_ERROR,
                           "cannot name the author of the git commits for %s: whoami %s",
                           s->sync->repo_id, why);
        free(why);
        goto done;
    }
    char *email = hfs_sprintf("%s@users.noreply.huggingface.co", name);
    if (git_signature_now(out, name, email) < 0) {
        const git_error *e = git_error_last();
        rc = hfs_error_set(HFS_ERROR, "cannot make a git author of \"%s\": %s", name,
                           e && e->message ? e->message : "libgit2 error");
        git_error_clear();
    }
    free(email);
done:
    json_decref(me);
    return rc;
}

static int session_open(lgit_session **out, exec_sync *s)
{
    const hfs_plan_sync *ps = s->sync;
    lgit_session *g = hfs_calloc(1, sizeof(*g));
    git_libgit2_init(); /* counted: lgit_session_free shuts it down */
    /* The push reads the commit's blobs back from the pack lgit_blobs_from_files wrote; by
     * default libgit2 keeps up to 8 GiB of packs mapped (1 GiB windows), all of it resident
     * once read (the 4 GiB benchmark tree's push: 279 MB of RSS, 51 MB with these). */
    git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, (size_t)8 << 20);
    git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, (size_t)32 << 20);
    const char *prefix = hfs_hub_type_prefix(ps->repo_type);
    /* Beside the locks and journals: .hfsync/git/{prefix}{id}.git. */
    char *rel = hfs_sprintf("git/%s%s.git", prefix, ps->repo_id);
    char *cache = hfs_path_join(s->x->state_dir, rel);
    char *url = hfs_sprintf("%s/%s%s.git", hfs_hub_endpoint(s->x->hub), prefix, ps->repo_id);
    char *what = hfs_sprintf("%s %s", hfs_repo_type_name(ps->repo_type), ps->repo_id);
    char *token = NULL;
    int rc = token_of(&token, s->x);
    if (rc == 0)
        rc = signature_of(&g->sig, s);
    if (rc == 0) {
        lgit_remote_options ro = {.cache_dir = cache,
                                  .url = url,
                                  .token = token,
                                  .token_source = hfs_hub_token_source(s->x->hub),
                                  .what = what};
        rc = lgit_remote_open(&g->remote, &ro);
    }
    if (token) {
        memset(token, 0, strlen(token));
        free(token);
    }
    free(what);
    free(url);
    free(cache);
    free(rel);
    if (rc < 0) {
        lgit_session_free(g);
        g = NULL;
    }
    *out = g;
    return rc;
}

/* ---- the parent ----------------------------------------------------------------------------- */

/* "main" → "refs/heads/main"; refs/pr/N and other full names stay. Caller frees. */
static char *remote_ref_of(const char *revision)
{
    if (hfs_str_starts_with(revision, "refs/"))
        return hfs_strdup(revision);
    return hfs_sprintf("refs/heads/%s", revision);
}

/* The commit the group builds on, s->parent, in the cache: already there after an earlier
 * apply or commit (the push then checks the ref still points at it), else fetched — and then
 * the revision's head must be that very commit. */
static int load_parent(git_commit **out, lgit_session *g, exec_sync *s)
{
    git_repository *repo = lgit_remote_repo(g->remote);
    git_oid want, head;
    char *ref = NULL;
    int rc = 0;
    *out = NULL;
    if (git_oid_fromstr(&want, s->parent) < 0) {
        git_error_clear();
        return hfs_error_set(HFS_ERROR, "sync %s: the commit to build on (\"%s\") is not an oid",
                             s->sync->name, s->parent);
    }
    if (git_commit_lookup(out, repo, &want) == 0)
        return 0;
    git_error_clear();
    ref = remote_ref_of(s->revision);
    if ((rc = lgit_remote_fetch(&head, g->remote, ref)) < 0)
        goto done;
    if (!git_oid_equal(&head, &want)) {
        char now[GIT_OID_HEXSZ + 1];
        git_oid_tostr(now, sizeof(now), &head);
        rc = hfs_error_set(HFS_ESTALE,
                           "plan is stale: %s@%s moved from %.7s to %.7s since the plan was "
                           "written; run `hfsync plan` again",
                           s->sync->repo_id, s->revision, s->parent, now);
        goto done;
    }
    if (git_commit_lookup(out, repo, &want) < 0) {
        const git_error *e = git_error_last();
        rc = hfs_error_set(HFS_ERROR, "the git cache lacks commit %.7s after fetching %s: %s",
                           s->parent, ref, e && e->message ? e->message : "libgit2 error");
        git_error_clear();
    }
done:
    free(ref);
    return rc;
}

/* ---- the changes ---------------------------------------------------------------------------- */

/* The tree change of each live entry: deletes, LFS pointers, and regular blobs read from
 * disk (lgit_blobs_from_files: one pack for a big commit; a regular copy reuses the
 * source's blob in the parent). *inline_bytes gets what the regular files weigh. */
static int changes_of(lgit_change *out, size_t *n_out, uint64_t *inline_bytes, exec_sync *s,
                      git_repository *repo, const git_tree *base, const exec_entry *entries,
                      size_t n)
{
    size_t m = 0, n_files = 0;
    int rc = 0;
    lgit_blob_file *files = hfs_calloc(n ? n : 1, sizeof(*files));
    *inline_bytes = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const hfs_plan_op *op = entries[i].op;
        if (entries[i].ignored)
            continue;
        lgit_change *c = &out[m];
        memset(c, 0, sizeof(*c));
        c->path = op->path;
        if (op->kind == HFS_OP_DELETE) {
            c->remove = true;
        } else if (op->lfs) {
            c->lfs = true;
            rc = lgit_blob_pointer(&c->blob, repo, op->sha256, op->size);
        } else if (op->kind == HFS_OP_COPY) {
            rc = lgit_blob_at(&c->blob, base, op->from);
            char hex[GIT_OID_HEXSZ + 1];
            git_oid_tostr(hex, sizeof(hex), &c->blob);
            if (rc == 0 && op->sha1[0] && strcmp(hex, op->sha1) != 0)
                rc = hfs_error_set(HFS_ESTALE,
                                   "plan is stale: %s, which the plan copies to %s, changed in "
                                   "the repo since the plan was written; run `hfsync plan` again",
                                   op->from, op->path);
            *inline_bytes += op->size;
        } else {
            files[n_files++] =
                (lgit_blob_file){exec_local_path(s->sync, op), op->size, op->sha1, &c->blob};
            *inline_bytes += op->size;
        }
        m++;
    }
    if (rc == 0)
        rc = lgit_blobs_from_files(repo, files, n_files, s->x->opts->allow_growth);
    for (size_t i = 0; i < n_files; i++)
        free((char *)files[i].path);
    free(files);
    *n_out = m;
    return rc;
}

/* ---- the pull request ----------------------------------------------------------------------- */

/* create_pr over git: the pull request is opened through the discussions API (the hub makes
 * refs/pr/N at the branch's head) and the commit goes there. */
static int open_pull_request(char **out_ref, exec_sync *s, const hfs_plan_commit *c)
{
    long num = 0;
    *out_ref = NULL;
    if (strcmp(s->revision, "main") != 0 && strcmp(s->revision, "refs/heads/main") != 0)
        return hfs_error_set(HFS_EINVALID,
                             "sync %s: over git a pull request is opened through the discussions "
                             "API, which bases it on main, but the sync's revision is %s: set "
                             "`revision: main`, or `transport: http` to open it against %s",
                             s->sync->name, s->revision, s->revision);
    int rc = hfs_hub_discussion_create(&num, s->x->hub, &s->repo, c->message,
                                       c->description ? c->description : "", true);
    if (rc < 0)
        return rc;
    *out_ref = hfs_sprintf("refs/pr/%ld", num);
    free(s->pr_url);
    s->pr_url = hfs_sprintf("%s/%s%s/discussions/%ld", hfs_hub_endpoint(s->x->hub),
                            hfs_hub_type_prefix(s->sync->repo_type), s->sync->repo_id, num);
    return 0;
}

/* ---- one commit ----------------------------------------------------------------------------- */

static char *trailer_of(const exec_sync *s, size_t step, size_t steps)
{
    const char *plan_id = hfs_plan_id(s->x->plan);
    if (s->step_id)
        return hfs_sprintf("%s %s\n%s %s", HFS_APPLY_PLAN_TRAILER, plan_id, HFS_APPLY_STEP_TRAILER,
                           s->step_id);
    if (steps > 1)
        return hfs_sprintf("%s %s\n%s %zu/%zu", HFS_APPLY_PLAN_TRAILER, plan_id,
                           HFS_APPLY_STEP_TRAILER, step, steps);
    return hfs_sprintf("%s %s", HFS_APPLY_PLAN_TRAILER, plan_id);
}

/* The message the hub writes for a commit: the summary, and the description after a blank
 * line. */
static char *message_of(const hfs_plan_commit *c, const char *trailer)
{
    if (c->description && *c->description)
        return hfs_sprintf("%s\n\n%s\n\n%s", c->message, c->description, trailer);
    return hfs_sprintf("%s\n\n%s", c->message, trailer);
}

static void record(exec_sync *s, const char *oid, size_t step, size_t steps, size_t files,
                   size_t deleted, bool recovered)
{
    exec_commit_result res = {.recovered = recovered};
    snprintf(res.commit_oid, sizeof(res.commit_oid), "%s", oid);
    res.commit_url = hfs_sprintf("%s/%s%s/commit/%s", hfs_hub_endpoint(s->x->hub),
                                 hfs_hub_type_prefix(s->sync->repo_type), s->sync->repo_id, oid);
    res.pr_url = s->pr_url ? hfs_strdup(s->pr_url) : NULL;
    exec_record_commit(s, &res);
    hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_COMMIT,
                          .commit_oid = res.commit_oid,
                          .url = res.commit_url,
                          .pr_url = res.pr_url,
                          .step = step,
                          .steps = steps,
                          .files_total = files,
                          .n_deleted = deleted,
                          .recovered = recovered};
    exec_emit(s->x, s->sync, &ev);
    exec_commit_result_clear(&res);
}

/* After a push refused as a non-fast-forward: did the ref move to this very commit, made by
 * an earlier apply of the plan that was killed while its push was under way and landed
 * only now? It is recognised by building on the same parent with the same trailer lines
 * (so the same changes); *out gets it. Anything else leaves the push stale. */
static int landed_meanwhile(git_oid *out, exec_sync *s, const char *remote_ref, const char *trailer,
                            bool *found)
{
    git_repository *repo = lgit_remote_repo(s->git->remote);
    git_commit *head = NULL;
    git_oid parent;
    *found = false;
    int rc = lgit_remote_fetch(out, s->git->remote, remote_ref);
    if (rc < 0 || git_oid_fromstr(&parent, s->parent) < 0 ||
        git_commit_lookup(&head, repo, out) < 0 || git_commit_parentcount(head) != 1 ||
        !git_oid_equal(git_commit_parent_id(head, 0), &parent))
        goto done;
    bool all = true;
    char *lines = hfs_strdup(trailer), *save = NULL;
    for (char *l = strtok_r(lines, "\n", &save); l && all; l = strtok_r(NULL, "\n", &save))
        all = exec_has_line(git_commit_message(head), l);
    free(lines);
    *found = all;
done:
    git_error_clear();
    git_commit_free(head);
    return rc;
}

static void warn(exec_sync *s, const char *message)
{
    hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_WARNING, .message = message};
    exec_emit(s->x, s->sync, &ev);
}

int lgit_apply_commit(exec_sync *s, const hfs_plan_commit *c, size_t step, size_t steps)
{
    exec_entry *entries = hfs_calloc(c->n_ops ? c->n_ops : 1, sizeof(*entries));
    lgit_change *changes = hfs_calloc(c->n_ops ? c->n_ops : 1, sizeof(*changes));
    git_commit *parent = NULL;
    git_tree *base = NULL, *tree = NULL;
    char *trailer = NULL, *message = NULL, *pr_ref = NULL, *target = NULL;
    size_t live = 0, deleted = 0, regular = 0, n_changes = 0;
    uint64_t inline_bytes = 0;
    int rc = 0;

    for (size_t i = 0; i < c->n_ops; i++) {
        entries[i].op = &c->ops[i];
        entries[i].fd = -1;
    }
    if ((rc = exec_check_cancel(s->x)) < 0 || (rc = exec_preupload(s, entries, c->n_ops)) < 0)
        goto done;
    for (size_t i = 0; i < c->n_ops; i++) {
        if (entries[i].ignored)
            continue;
        live++;
        deleted += c->ops[i].kind == HFS_OP_DELETE;
        regular += c->ops[i].kind != HFS_OP_DELETE && !c->ops[i].lfs;
    }
    if (live == 0) {
        warn(s, "nothing left to commit: the hub's .gitignore excludes every file of this commit");
        goto done;
    }
    if (!s->git && (rc = session_open(&s->git, s)) < 0)
        goto done;
    git_repository *repo = lgit_remote_repo(s->git->remote);
    if ((rc = load_parent(&parent, s->git, s)) < 0)
        goto done;
    if (git_commit_tree(&base, parent) < 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot read the tree of %.7s in the git cache: %s",
                           s->parent, git_error_last() ? git_error_last()->message : "?");
        git_error_clear();
        goto done;
    }
    if ((rc = exec_upload_lfs(s, entries, c->n_ops, NULL)) < 0 ||
        (rc = exec_check_cancel(s->x)) < 0)
        goto done;

    git_oid tree_oid, commit_oid;
    if ((rc = changes_of(changes, &n_changes, &inline_bytes, s, repo, base, entries, c->n_ops)) <
            0 ||
        (rc = lgit_tree_build(&tree_oid, repo, base, changes, n_changes)) < 0)
        goto done;
    if (git_oid_equal(&tree_oid, git_tree_id(base))) {
        /* The hub makes no commit that changes nothing; neither does git's side. */
        warn(s, "nothing to commit: the repo already holds exactly these changes");
        goto done;
    }
    trailer = trailer_of(s, step, steps);
    message = message_of(c, trailer);
    const git_commit *parents[] = {parent};
    if (git_tree_lookup(&tree, repo, &tree_oid) < 0 ||
        git_commit_create(&commit_oid, repo, NULL, s->git->sig, s->git->sig, NULL, message, tree, 1,
                          parents) < 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot write the commit in the git cache: %s",
                           git_error_last() ? git_error_last()->message : "?");
        git_error_clear();
        goto done;
    }
    if (s->create_pr && (rc = open_pull_request(&pr_ref, s, c)) < 0)
        goto done;
    target = pr_ref ? hfs_strdup(pr_ref) : remote_ref_of(s->revision);
    bool recovered = false;
    if ((rc = lgit_remote_push(s->git->remote, &commit_oid, target)) == HFS_ESTALE && !pr_ref) {
        char *why = hfs_strdup(hfs_error_last());
        int look = landed_meanwhile(&commit_oid, s, target, trailer, &recovered);
        rc = look == 0 && recovered ? 0 : hfs_error_set(HFS_ESTALE, "%s", why);
        free(why);
    }
    if (rc < 0)
        goto done;

    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof(hex), &commit_oid);
    s->x->result->inline_files += regular;
    s->x->result->inline_bytes += inline_bytes;
    record(s, hex, step, steps, live - deleted, deleted, recovered);
    memcpy(s->parent, hex, sizeof(s->parent));
    if (pr_ref) {
        /* Published like a pull request a create_pr commit opens; later commits follow it. */
        long num = strtol(pr_ref + strlen("refs/pr/"), NULL, 10);
        if ((rc = hfs_hub_discussion_set_status(s->x->hub, &s->repo, num, "open", NULL)) < 0)
            goto done;
        exec_emit_pr(s, num, s->pr_url, "open");
        free(s->revision);
        s->revision = pr_ref;
        pr_ref = NULL;
        s->create_pr = false;
    }
done:
    git_tree_free(tree);
    git_tree_free(base);
    git_commit_free(parent);
    free(target);
    free(pr_ref);
    free(message);
    free(trailer);
    free(changes);
    free(entries);
    return rc;
}
