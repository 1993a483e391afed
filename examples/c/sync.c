/* sync: `hfsync apply -f MANIFEST --yes` in a few lines of the library — load the manifest,
 * plan, show the plan, apply it with a progress callback of our own.
 *
 * Build against the installed library, and run against a hub:
 *
 *     cc -o sync sync.c $(pkg-config --cflags --libs hfsync)
 *     HF_ENDPOINT=http://127.0.0.1:8765 HF_TOKEN=hf_... ./sync hfsync.yaml
 *
 * The plan goes to stdout as text, then one line per commit made ("committed OID URL");
 * progress goes to stderr. Exit status: 0 done or nothing to do, 1 error. */
#include <stdio.h>
#include <stdlib.h>

#include <hfsync.h>

/* The apply's events: LFS progress as a percentage, commits as they land. */
static void on_event(void *ctx, const hfs_apply_event *ev)
{
    (void)ctx;
    switch (ev->kind) {
    case HFS_APPLY_EVENT_UPLOAD_PROGRESS:
        if (ev->bytes_total > 0)
            fprintf(stderr, "%s: %3.0f%% of the LFS bytes sent\n", ev->sync,
                    100.0 * (double)ev->bytes_done / (double)ev->bytes_total);
        break;
    case HFS_APPLY_EVENT_COMMIT:
        fprintf(stderr, "%s: commit %zu/%zu landed\n", ev->sync, ev->step, ev->steps);
        break;
    case HFS_APPLY_EVENT_WARNING:
        fprintf(stderr, "warning: %s\n", ev->message);
        break;
    default:
        break;
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: sync MANIFEST\n");
        return 64;
    }
    hfs_manifest *m = NULL;
    hfs_plan *plan = NULL;
    hfs_diag_list diags = HFS_DIAG_LIST_INIT;
    int status = 1;

    /* 1. The manifest: every problem comes back as FILE:LINE:COL. */
    if (hfs_manifest_load(&m, argv[1], &diags) < 0) {
        for (size_t i = 0; i < diags.count; i++) {
            char *line = hfs_diag_format(&diags.items[i]);
            fprintf(stderr, "%s\n", line);
            free(line);
        }
        if (diags.count == 0)
            fprintf(stderr, "sync: %s\n", hfs_error_last());
        goto done;
    }
    /* 2. The plan: what would change, pinned to the remote as it is now. */
    if (hfs_plan_compute(&plan, m, NULL) < 0) {
        fprintf(stderr, "sync: %s\n", hfs_error_last());
        goto done;
    }
    hfs_plan_print(stdout, plan, HFS_PLAN_TEXT);
    if (!hfs_plan_has_changes(plan)) {
        status = 0;
        goto done;
    }
    /* 3. The apply, exactly that plan, reporting to our callback. */
    hfs_apply_options opts = HFS_APPLY_OPTIONS_INIT;
    opts.event = on_event;
    hfs_apply_result result;
    if (hfs_apply(&result, plan, &opts) < 0) {
        fprintf(stderr, "sync: %s\n", hfs_error_last());
    } else {
        for (size_t i = 0; i < result.n_commits; i++)
            printf("committed %s %s\n", result.commits[i].commit_oid, result.commits[i].commit_url);
        status = 0;
    }
    hfs_apply_result_clear(&result);
done:
    hfs_diag_list_free(&diags);
    hfs_plan_free(plan);
    hfs_manifest_free(m);
    return status;
}
