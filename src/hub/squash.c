/* Rewriting a branch's history on the hub: super-squash, which a scheduled sync calls after
 * each push (squash_history) so a repo pushed every few minutes keeps a short history. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "hub/request.h"

int hfs_hub_super_squash(hfs_hub *hub, const hfs_hub_repo *repo, const char *branch,
                         const char *message)
{
    static const char *const json_headers[] = {"Content-Type: application/json", NULL};
    const char *rev = branch ? branch : "main";
    char *label = hub_repo_label(repo);
    char *what = hfs_sprintf("squash the history of %s of %s", rev, label);
    char *base = hfs_hub_api_url(hub, repo);
    char *quoted = hfs_hub_quote_segment(rev);
    char *url = hfs_sprintf("%s/super-squash/%s", base, quoted);
    char *default_message = hfs_sprintf("Super-squash branch '%s' using hfsync", rev);
    json_t *body = json_pack("{s:s}", "message", message ? message : default_message);
    char *text = hub_json_dump(body);
    hub_mem_body mem;
    hfs_hub_body src = hub_body_from_mem(&mem, text, strlen(text));
    /* Sent once, as huggingface_hub does: the caller's next run tries again. */
    hub_request req = {.what = what,
                       .method = "POST",
                       .url = url,
                       .headers = json_headers,
                       .body = &src,
                       .auth = true,
                       .retry = false,
                       .redirects = HUB_REDIRECT_FOLLOW};
    hub_response r;
    int rc = hub_send(&r, hub, &req);
    hub_response_clear(&r);
    free(text);
    json_decref(body);
    free(default_message);
    free(url);
    free(quoted);
    free(base);
    free(what);
    free(label);
    return rc;
}
