/* Reading files back from the hub through /resolve/: the HEAD that tells which commit and
 * blob a path resolves to, and streamed downloads (PROTOCOL.md §7, §13). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "hub/request.h"

static char *resolve_url(const hfs_hub *hub, const hfs_hub_repo *repo, const char *revision,
                         const char *path)
{
    char *id = hfs_hub_quote_path(repo->id);
    char *rev = hfs_hub_quote_segment(revision ? revision : "main");
    char *qpath = hfs_hub_quote_path(path);
    char *url = hfs_sprintf("%s/%s%s/resolve/%s/%s", hub->endpoint, hfs_hub_type_prefix(repo->type),
                            id, rev, qpath);
    free(qpath);
    free(rev);
    free(id);
    return url;
}

/* W/"abc" and "abc" → abc, as huggingface_hub normalises ETags. */
static char *normalize_etag(const char *etag)
{
    if (hfs_str_starts_with(etag, "W/"))
        etag += 2;
    size_t len = strlen(etag);
    if (len >= 2 && etag[0] == '"' && etag[len - 1] == '"')
        return hfs_strndup(etag + 1, len - 2);
    return hfs_strdup(etag);
}

void hfs_hub_file_meta_clear(hfs_hub_file_meta *meta)
{
    if (!meta)
        return;
    free(meta->commit);
    free(meta->etag);
    free(meta->location);
    free(meta->xet_hash);
    memset(meta, 0, sizeof(*meta));
    meta->size = -1;
}

static char *dup_or_null(const char *s)
{
    return s ? hfs_strdup(s) : NULL;
}

int hfs_hub_file_head(hfs_hub_file_meta *out, hfs_hub *hub, const hfs_hub_repo *repo,
                      const char *revision, const char *path)
{
    char *url = resolve_url(hub, repo, revision, path);
    char *what = hfs_sprintf("look up %s in " HUB_REPO_FMT " at %s", path, HUB_REPO_ARGS(repo),
                             revision ? revision : "main");
    hub_request req = hub_api_request(what, "HEAD", url, true);
    hub_response r;

    /* Only redirects within the hub are followed (a renamed repo); a redirect to the CDN is
     * itself the answer: it carries X-Linked-Size and X-Linked-Etag. */
    req.redirects = HUB_REDIRECT_SAME_ORIGIN;
    memset(out, 0, sizeof(*out));
    out->size = -1;
    int rc = hub_send(&r, hub, &req);
    if (rc == 0) {
        const char *etag = hub_response_header(&r, "X-Linked-Etag");
        const char *size = hub_response_header(&r, "X-Linked-Size");
        if (!etag)
            etag = hub_response_header(&r, "ETag");
        if (!size)
            size = hub_response_header(&r, "Content-Length");
        out->commit = dup_or_null(hub_response_header(&r, "X-Repo-Commit"));
        out->etag = etag ? normalize_etag(etag) : NULL;
        if (size) {
            char *end;
            long long v = strtoll(size, &end, 10);
            out->size = (end != size && *end == '\0' && v >= 0) ? v : -1;
        }
        if (r.status >= 300)
            out->location = dup_or_null(hub_response_header(&r, "Location"));
        out->xet_hash = dup_or_null(hub_response_header(&r, "X-Xet-Hash"));
    }
    hub_response_clear(&r);
    free(what);
    free(url);
    return rc;
}

int hfs_hub_download(hfs_hub *hub, const hfs_hub_repo *repo, const char *revision, const char *path,
                     hfs_hub_write_fn write, int (*restart)(void *ctx), void *ctx)
{
    char *url = resolve_url(hub, repo, revision, path);
    char *what = hfs_sprintf("download %s from " HUB_REPO_FMT " at %s", path, HUB_REPO_ARGS(repo),
                             revision ? revision : "main");
    hub_request req = hub_api_request(what, "GET", url, true);

    req.write = write;
    req.restart = restart;
    req.write_ctx = ctx;
    int rc = hub_call(hub, &req, NULL);
    free(what);
    free(url);
    return rc;
}

typedef struct {
    int fd;
    off_t start;
    uint64_t written, max; /* max UINT64_MAX: no bound */
    const char *path;
} fd_sink;

static int fd_write(void *ctx, const void *data, size_t len)
{
    fd_sink *s = ctx;
    const char *p = data;
    /* A hub that sends more than the file can hold (a hostile or broken one) must not fill
     * the disk: the download stops at the size the caller expects. */
    if (len > s->max - s->written)
        return hfs_error_set(HFS_ELIMIT,
                             "the hub sent more than the %llu bytes %s can hold; the download "
                             "was stopped",
                             (unsigned long long)s->max, s->path);
    s->written += len;
    if (hfs_write_all(s->fd, p, len) < 0)
        return hfs_error_set(HFS_ERROR, "cannot write the download to fd %d: %s", s->fd,
                             strerror(errno));
    return 0;
}

static int fd_restart(void *ctx)
{
    fd_sink *s = ctx;
    s->written = 0;
    if (ftruncate(s->fd, s->start) != 0 || lseek(s->fd, s->start, SEEK_SET) < 0)
        return hfs_error_set(HFS_ERROR, "cannot rewind fd %d to retry the download: %s", s->fd,
                             strerror(errno));
    return 0;
}

int hfs_hub_download_fd(hfs_hub *hub, const hfs_hub_repo *repo, const char *revision,
                        const char *path, int fd, uint64_t max_bytes)
{
    fd_sink sink = {fd, lseek(fd, 0, SEEK_CUR), 0, max_bytes, path};
    /* A pipe cannot be rewound: such a download is sent once. */
    bool seekable = sink.start >= 0;
    if (!seekable)
        sink.start = 0;
    return hfs_hub_download(hub, repo, revision, path, fd_write, seekable ? fd_restart : NULL,
                            &sink);
}
