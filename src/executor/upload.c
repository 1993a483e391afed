/* hfs_upload: `huggingface-cli upload` as hfsync does it — a one-sync manifest in memory for a
 * file or folder, planned and applied at once through the same planner and executor. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"
#include "executor/executor.h"

/* A single file is uploaded as the only file of a scratch folder, under the name it gets in
 * the repo: the planner then sees exactly that file (not its whole directory) and the name
 * may differ from the local one. */
typedef struct {
    char *dir;
    char *file;
} scratch;

static void scratch_remove(scratch *s)
{
    if (s->file)
        unlink(s->file);
    if (s->dir)
        rmdir(s->dir);
    free(s->file);
    free(s->dir);
    memset(s, 0, sizeof(*s));
}

/* Copies src into dst with the kernel's copy (no user-space buffer of the file's size). */
static int copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    int out = in < 0 ? -1 : open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = 0;
    if (in < 0 || out < 0) {
        rc = hfs_error_set(HFS_ERROR, "cannot copy %s to %s to upload it: %s", src, dst,
                           strerror(errno));
        goto done;
    }
    for (;;) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = hfs_error_set(HFS_ERROR, "cannot copy %s to %s to upload it: %s", src, dst,
                               strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
    }
done:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return rc;
}

/* Makes `parent`/.hfsync-upload-XXXXXX holding `name`: a hard link to the file (free, and
 * it keeps the file's identity), else a copy when `copy` is allowed. */
static int scratch_try(scratch *s, const char *parent, const char *file, const char *name,
                       bool copy)
{
    char *tmpl = hfs_sprintf("%s/.hfsync-upload-XXXXXX", parent);
    if (!mkdtemp(tmpl)) {
        free(tmpl);
        return -1;
    }
    s->dir = tmpl;
    s->file = hfs_path_join(tmpl, name);
    if (link(file, s->file) == 0)
        return 0;
    int err = errno;
    if (copy && copy_file(file, s->file) == 0)
        return 0;
    scratch_remove(s);
    errno = err;
    return -1;
}

static int scratch_make(scratch *s, const char *file, const char *name)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    char *dir_copy = hfs_strdup(file);
    const char *own_dir = dirname(dir_copy);
    /* The link must stay on the file's filesystem: the temp dir first, the file's own
     * directory next, and a copy into the temp dir only when neither can hold a link. */
    int rc = scratch_try(s, tmp, file, name, false);
    if (rc < 0)
        rc = scratch_try(s, own_dir, file, name, false);
    if (rc < 0)
        rc = scratch_try(s, tmp, file, name, true);
    if (rc < 0)
        rc = hfs_error_set(HFS_ERROR,
                           "cannot stage %s for upload: neither a link nor a copy in a scratch "
                           "folder under %s or %s works (%s)",
                           file, tmp, own_dir, strerror(errno));
    free(dir_copy);
    return rc;
}

static void warn(const hfs_apply_options *opts, const char *message)
{
    if (!opts->event)
        return;
    hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_WARNING, .message = message};
    opts->event(opts->event_ctx, &ev);
}

void exec_plan_progress_event(void *ctx, const hfs_plan_progress *p)
{
    const hfs_apply_options *opts = ctx;
    hfs_apply_event ev = {.kind = HFS_APPLY_EVENT_HASH_PROGRESS,
                          .sync = p->sync,
                          .files_done = p->files_done,
                          .files_total = p->files_total,
                          .bytes_done = p->bytes_done,
                          .bytes_total = p->bytes_total,
                          .seconds = p->seconds};
    opts->event(opts->event_ctx, &ev);
}

/* The URL the upload leads to: the pull request, else the last commit, else (nothing to
 * commit) the head the plan found, else the repo. */
static char *result_url(const hfs_apply_result *r, const hfs_plan *plan)
{
    if (r->n_commits > 0) {
        const hfs_apply_commit *c = &r->commits[r->n_commits - 1];
        return hfs_strdup(c->pr_url ? c->pr_url : c->commit_url);
    }
    const hfs_plan_sync *s = &plan->syncs[0];
    if (s->remote_head[0])
        return hfs_sprintf("%s/%s%s/commit/%s", plan->endpoint, hfs_hub_type_prefix(s->repo_type),
                           s->repo_id, s->remote_head);
    return hfs_sprintf("%s/%s%s", plan->endpoint, hfs_hub_type_prefix(s->repo_type), s->repo_id);
}

void exec_upload_sync_spec(hfs_sync_spec *out, const hfs_upload_spec *spec, const char *folder)
{
    *out = (hfs_sync_spec)HFS_SYNC_SPEC_INIT;
    out->repo_id = spec->repo_id;
    out->repo_type = spec->repo_type;
    out->revision = spec->revision;
    out->create = true;
    out->create_private = spec->create_private;
    out->commit_message = spec->commit_message;
    out->commit_description = spec->commit_description;
    out->create_pr = spec->create_pr;
    out->strategy = HFS_STRATEGY_SINGLE;
    if (!folder)
        return;
    out->folder_path = folder;
    out->path_in_repo = spec->path_in_repo;
    out->allow_patterns = spec->include;
    out->n_allow_patterns = spec->n_include;
    out->ignore_patterns = spec->exclude;
    out->n_ignore_patterns = spec->n_exclude;
    out->delete_patterns = spec->delete_patterns;
    out->n_delete_patterns = spec->n_delete;
}

int hfs_upload(char **url, hfs_apply_result *out, const hfs_upload_spec *spec,
               const hfs_apply_options *opts)
{
    static const hfs_apply_options defaults = HFS_APPLY_OPTIONS_INIT;
    hfs_manifest *m = NULL;
    hfs_plan *plan = NULL;
    scratch tmp = {0};
    char *base = NULL, *local = NULL, *target = NULL, *message = NULL, *prefix = NULL;
    int rc = 0;

    if (url)
        *url = NULL;
    if (!opts)
        opts = &defaults;
    if (!spec->repo_id || (rc = hfs_repo_id_validate(spec->repo_id)) < 0) {
        if (!spec->repo_id)
            rc = hfs_error_set(HFS_EINVALID, "upload: a repo id (namespace/name) is required");
        goto done;
    }
    base = spec->base_dir ? hfs_strdup(spec->base_dir) : getcwd(NULL, 0);
    if (!base) {
        rc = hfs_error_set(HFS_ERROR, "cannot read the current directory: %s", strerror(errno));
        goto done;
    }
    if (spec->local_path) {
        local = spec->local_path[0] == '/' ? hfs_strdup(spec->local_path)
                                           : hfs_path_join(base, spec->local_path);
    } else {
        const char *name = strchr(spec->repo_id, '/') + 1;
        local = hfs_path_join(base, name);
        if (access(local, F_OK) != 0) {
            rc = hfs_error_set(HFS_ENOTFOUND,
                               "no LOCAL_PATH was given, and there is no file or folder named "
                               "\"%s\" (the repo's name) in %s: name the file or folder to "
                               "upload, e.g. `hfsync upload %s ./%s`",
                               name, base, spec->repo_id, name);
            goto done;
        }
    }
    struct stat st;
    if (stat(local, &st) != 0) {
        rc = hfs_error_set(errno == ENOENT ? HFS_ENOTFOUND : HFS_ERROR, "cannot upload %s: %s",
                           local, strerror(errno));
        goto done;
    }

    hfs_sync_spec ms;
    exec_upload_sync_spec(&ms, spec, S_ISDIR(st.st_mode) ? local : NULL);
    if (S_ISREG(st.st_mode)) {
        char *copy = hfs_strdup(local);
        const char *file_name = basename(copy);
        rc = hfs_path_in_repo_normalize(&target,
                                        spec->path_in_repo ? spec->path_in_repo : file_name);
        free(copy);
        if (rc == 0 && !*target)
            rc = hfs_error_set(HFS_EINVALID,
                               "PATH_IN_REPO for the file %s must name a file in the repo, "
                               "not the root",
                               local);
        if (rc < 0)
            goto done;
        if (spec->n_include || spec->n_exclude || spec->n_delete)
            warn(opts, "--include, --exclude and --delete apply to folders; a single file is "
                       "uploaded as it is");
        const char *slash = strrchr(target, '/');
        prefix = slash ? hfs_strndup(target, (size_t)(slash - target)) : NULL;
        if ((rc = scratch_make(&tmp, local, slash ? slash + 1 : target)) < 0)
            goto done;
        ms.folder_path = tmp.dir;
        ms.path_in_repo = prefix;
        /* The file was named explicitly: no .gitignore of the scratch folder applies. */
        ms.gitignore = false;
        message = hfs_sprintf("Upload %s with hfsync", target);
        ms.commit_message = spec->commit_message ? spec->commit_message : message;
    } else if (!S_ISDIR(st.st_mode)) {
        rc = hfs_error_set(HFS_EINVALID, "cannot upload %s: it is neither a file nor a folder",
                           local);
        goto done;
    }
    if ((rc = hfs_manifest_new_single(&m, base, &ms)) < 0)
        goto done;

    hfs_plan_options po = HFS_PLAN_OPTIONS_INIT;
    if (opts->event) {
        po.progress = exec_plan_progress_event;
        po.progress_ctx = (void *)opts;
    }
    if ((rc = hfs_plan_compute(&plan, m, &po)) < 0)
        goto done;
    hfs_apply_result mine = {0};
    rc = hfs_apply(out ? out : &mine, plan, opts);
    if (rc == 0 && url)
        *url = result_url(out ? out : &mine, plan);
    hfs_apply_result_clear(&mine);
done:
    scratch_remove(&tmp);
    hfs_plan_free(plan);
    hfs_manifest_free(m);
    free(prefix);
    free(message);
    free(target);
    free(local);
    free(base);
    return rc;
}
