/* What every call of the commit API starts with: its options checked, a session on the hub
 * resolved like the command line's (endpoint, token), events and cancellation; and
 * hfs_create_repo. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/error.h"
#include "common/util.h"

int api_call_begin(api_call *call, const hfs_commit_options *opts)
{
    memset(call, 0, sizeof(*call));
    call->opts = opts;
    if (!opts)
        return hfs_error_set(HFS_EINVALID, "commit options are missing (NULL): start from "
                                           "HFS_COMMIT_OPTIONS_INIT and set repo_id");
    if (opts->version != HFS_COMMIT_OPTIONS_VERSION)
        return hfs_error_set(HFS_EINVALID,
                             "commit options: version %d is not supported (expected %d): start "
                             "from HFS_COMMIT_OPTIONS_INIT",
                             opts->version, HFS_COMMIT_OPTIONS_VERSION);
    if (!opts->repo_id)
        return hfs_error_set(HFS_EINVALID, "commit options: repo_id is missing: name the repo "
                                           "(\"namespace/name\")");
    int rc = hfs_repo_id_validate(opts->repo_id);
    if (rc < 0)
        return rc;
    if (opts->repo_type != HFS_REPO_MODEL && opts->repo_type != HFS_REPO_DATASET &&
        opts->repo_type != HFS_REPO_SPACE)
        return hfs_error_set(HFS_EINVALID,
                             "commit options: repo_type %d is not HFS_REPO_MODEL, "
                             "HFS_REPO_DATASET or HFS_REPO_SPACE",
                             (int)opts->repo_type);
    call->revision = opts->revision ? opts->revision : HFS_DEFAULT_REVISION;
    if (opts->revision && (rc = hfs_revision_validate(opts->revision)) < 0)
        return rc;
    call->repo = (hfs_hub_repo){opts->repo_type, opts->repo_id};

    hfs_hub_options ho = HFS_HUB_OPTIONS_INIT;
    ho.endpoint = opts->endpoint;
    ho.token = opts->token;
    ho.verbose = opts->verbose;
    return hfs_hub_new(&call->hub, &ho);
}

void api_call_end(api_call *call)
{
    hfs_hub_free(call->hub);
    call->hub = NULL;
}

void api_emit(const api_call *call, hfs_apply_event *ev)
{
    if (!call->opts->event)
        return;
    /* No sync here: the repo stands in for it, so printers have a name to show. */
    ev->sync = call->opts->repo_id;
    ev->repo_id = call->opts->repo_id;
    ev->repo_type = call->opts->repo_type;
    ev->revision = call->revision;
    call->opts->event(call->opts->event_ctx, ev);
}

int api_check_cancel(const api_call *call)
{
    if (call->opts->cancel && *call->opts->cancel)
        return hfs_error_set(HFS_ERROR,
                             "interrupted: the commit to %s was stopped before it was made",
                             call->opts->repo_id);
    return 0;
}

int hfs_create_repo(char **url, const hfs_commit_options *opts, bool private_repo, bool exist_ok)
{
    api_call call;
    char *got = NULL;
    if (url)
        *url = NULL;
    int rc = api_call_begin(&call, opts);
    if (rc < 0)
        goto done;
    hfs_hub_create_options co = HFS_HUB_CREATE_OPTIONS_INIT;
    co.visibility = private_repo ? "private" : "public";
    rc = hfs_hub_repo_create(&got, call.hub, &call.repo, &co);
    if (rc == HFS_EEXISTS && exist_ok) {
        hfs_error_clear();
        rc = 0;
    }
    if (rc == 0 && url)
        *url = got ? got
                   : hfs_sprintf("%s/%s%s", hfs_hub_endpoint(call.hub),
                                 hfs_hub_type_prefix(opts->repo_type), opts->repo_id);
    else
        free(got);
done:
    api_call_end(&call);
    return rc;
}
