/* The hub API client shared by the planner and the executors: one function per hub
 * endpoint. Auth, redirects, retries and error mapping live here and nowhere else.
 *
 * Conventions
 * - Every function returns 0 or a negative hfs_error_code; the message (what failed, the
 *   server's words, METHOD URL, HTTP status, request id) is in hfs_error_last().
 *   401/403 → HFS_EAUTH, 404 → HFS_ENOTFOUND, 409 → HFS_EEXISTS, 412 → HFS_ESTALE,
 *   400/416/422 → HFS_EINVALID, 413 → HFS_ELIMIT, 429 after retries → HFS_ENET, 5xx after retries and network
 *   failures → HFS_ENET, a response that breaks the protocol → HFS_ERROR.
 *   hfs_hub_last_status() gives the HTTP status of this thread's last response.
 * - `revision` NULL means "main". Revisions travel as ONE quoted path segment
 *   (refs/pr/3 → refs%2Fpr%2F3); paths in resolve URLs are quoted keeping `/`.
 * - The token is sent only to the endpoint's scheme+host+port, as
 *   `Authorization: Bearer …`. Redirects are followed by this module, hop by hop, so the
 *   header never reaches another host; verbose logs redact it.
 * - Retries (408, 429, 500, 502, 503, 504 and network errors; exponential backoff, the
 *   server's RateLimit / Retry-After honoured) apply to the calls documented as retried.
 *   The commit POST and the calls that create things are sent once.
 *
 * Threads: an hfs_hub is immutable after hfs_hub_new and may be used from any number of
 * threads at once; each call uses its own curl easy handle, and the handles share one
 * connection cache, DNS cache and TLS session cache. Free it after every thread is done. */
#ifndef HFS_HUB_H
#define HFS_HUB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hfsync/hub.h"
#include "hfsync/manifest.h" /* hfs_repo_type */

typedef struct hfs_hub hfs_hub;

/* ---- session ------------------------------------------------------------------------ */

typedef struct {
    int version;
    /* NULL: hfs_hub_endpoint_resolve(manifest_endpoint) — HF_ENDPOINT, the manifest's
     * value, https://huggingface.co. A value given here wins over all of them. */
    const char *endpoint;
    const char *manifest_endpoint;
    /* NULL: hfs_hub_token_resolve(). "" sends no token at all. */
    const char *token;
    const char *user_agent;  /* NULL: "hfsync/<version>" */
    long connect_timeout_ms; /* 10000 */
    long stall_timeout_ms;   /* give up when no byte moved for this long (120000); 0 = never;
                                the environment's HFSYNC_STALL_TIMEOUT (seconds) wins */
    int max_attempts;        /* 6: one try plus 5 retries */
    long retry_base_ms;      /* 1000: the first backoff, doubled after every attempt… */
    long retry_max_ms;       /* 8000: …up to this */
    /* Waits between attempts; NULL sleeps. Tests record the delays instead. */
    void (*sleep_ms)(void *ctx, long ms);
    void *sleep_ctx;
    /* Log every request, response status and header (Authorization redacted). */
    bool verbose;
    /* Where log lines go (verbose lines and retry notices); NULL: hfs_log to stderr. */
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
} hfs_hub_options;

#define HFS_HUB_OPTIONS_VERSION 1
#define HFS_HUB_OPTIONS_INIT                                                                       \
    {                                                                                              \
        HFS_HUB_OPTIONS_VERSION, NULL, NULL, NULL, NULL, 10000, 120000, 6, 1000, 8000, NULL, NULL, \
            false, NULL, NULL                                                                      \
    }

/* Opens a session. opts may be NULL (all defaults). */
int hfs_hub_new(hfs_hub **out, const hfs_hub_options *opts);
void hfs_hub_free(hfs_hub *hub);

/* The endpoint requests go to, without a trailing `/`. */
const char *hfs_hub_endpoint(const hfs_hub *hub);
/* Where the token came from ("HF_TOKEN", "the token file …", "no token …"); never the value. */
const char *hfs_hub_token_source(const hfs_hub *hub);
bool hfs_hub_has_token(const hfs_hub *hub);

/* HTTP status of the last response this thread received (0: none, or a network error). */
long hfs_hub_last_status(void);
/* The CA certificates named by the environment, as the Python clients read it: the first of
 * CURL_CA_BUNDLE, REQUESTS_CA_BUNDLE, SSL_CERT_FILE (*file, and which variable in *file_var),
 * and SSL_CERT_DIR (*dir); NULL for what is not set. */
void hfs_hub_ca_env(const char **file_var, const char **file, const char **dir);
/* What this thread's last response (a 429 or 503) asked to wait before trying again, from its
 * Retry-After or RateLimit header, in milliseconds; 0 when it asked nothing. */
long hfs_hub_last_retry_wait_ms(void);

/* ---- repositories and URLs --------------------------------------------------------- */

typedef struct {
    hfs_repo_type type;
    const char *id; /* "namespace/name" */
} hfs_hub_repo;

/* "" for models, "datasets/", "spaces/": the prefix of web, resolve and LFS URLs. */
const char *hfs_hub_type_prefix(hfs_repo_type type);
/* {endpoint}/api/{type}s/{id}: the base of the repo's API URLs. Caller frees. */
char *hfs_hub_api_url(const hfs_hub *hub, const hfs_hub_repo *repo);
/* One path segment: every byte but A-Z a-z 0-9 - . _ ~ percent-encoded. Caller frees. */
char *hfs_hub_quote_segment(const char *s);
/* A path: like hfs_hub_quote_segment, keeping `/`. Caller frees. */
char *hfs_hub_quote_path(const char *s);

/* GET /api/whoami-v2: the account behind the token (name, type, orgs, auth{…}). */
int hfs_hub_whoami(json_t **out, hfs_hub *hub);

typedef struct {
    int version;
    /* "public", "private" or "protected" (Spaces only); NULL leaves it to the hub (public). */
    const char *visibility;
    const char *space_sdk; /* Spaces: gradio, streamlit, docker, static (NULL: static) */
} hfs_hub_create_options;
#define HFS_HUB_CREATE_OPTIONS_VERSION 1
#define HFS_HUB_CREATE_OPTIONS_INIT                                                                \
    {                                                                                              \
        HFS_HUB_CREATE_OPTIONS_VERSION, NULL, NULL                                                 \
    }

/* POST /api/repos/create. *out is the repo's URL. When the repo exists (409) the result is
 * HFS_EEXISTS and *out is still set to the URL the hub returned (NULL if it sent none),
 * so a caller that only wants the repo to exist can carry on. Sent once. */
int hfs_hub_repo_create(char **out, hfs_hub *hub, const hfs_hub_repo *repo,
                        const hfs_hub_create_options *opts);
/* DELETE /api/repos/delete. HFS_ENOTFOUND when there is no such repo. Sent once. */
int hfs_hub_repo_delete(hfs_hub *hub, const hfs_hub_repo *repo);

typedef struct {
    char *path;    /* rfilename */
    int64_t size;  /* -1 when not asked for (blobs=false) */
    char *blob_id; /* git blob sha1, or NULL */
    bool is_lfs;
    char lfs_sha256[65];
} hfs_hub_sibling;

typedef struct {
    char *id;
    char *sha; /* the head commit of the revision; NULL if the hub sent none */
    bool is_private;
    bool disabled;
    char *gated; /* NULL when not gated, else "auto"/"manual" */
    hfs_hub_sibling *siblings;
    size_t n_siblings;
    json_t *json; /* the whole response, for the other fields */
} hfs_hub_repo_info;

/* GET /api/{type}s/{id} (revision NULL) or …/revision/{quoted revision}, with
 * `?blobs=true` when `blobs` (sizes, blob ids and LFS hashes of the siblings). Retried.
 * Clear *out with hfs_hub_repo_info_clear. */
int hfs_hub_repo_info_get(hfs_hub_repo_info *out, hfs_hub *hub, const hfs_hub_repo *repo,
                          const char *revision, bool blobs);
/* The same request asking only for the head (`?expand=sha`): id and sha are set, no
 * siblings. What a caller that needs the revision's head commit should use. */
int hfs_hub_repo_head_get(hfs_hub_repo_info *out, hfs_hub *hub, const hfs_hub_repo *repo,
                          const char *revision);
void hfs_hub_repo_info_clear(hfs_hub_repo_info *info);

/* ---- refs, commits, branches ------------------------------------------------------- */

typedef struct {
    char *name; /* "main", "v1.0", "refs/pr/3" */
    char *ref;  /* "refs/heads/main" */
    char target_commit[41];
} hfs_hub_ref;

typedef struct {
    hfs_hub_ref *branches, *tags, *converts, *pull_requests;
    size_t n_branches, n_tags, n_converts, n_pull_requests;
} hfs_hub_refs;

/* GET …/refs[?include_prs=1]. Retried. Clear *out with hfs_hub_refs_clear. */
int hfs_hub_list_refs(hfs_hub_refs *out, hfs_hub *hub, const hfs_hub_repo *repo, bool include_prs);
void hfs_hub_refs_clear(hfs_hub_refs *refs);

typedef struct {
    const char *id; /* commit oid */
    const char *title;
    const char *message;
    const char *date;   /* ISO 8601 */
    const json_t *json; /* the item, for authors and the rest */
} hfs_hub_commit_entry;

/* Called once per commit, newest first; return non-zero to stop (that value is returned). */
typedef int (*hfs_hub_commit_fn)(void *ctx, const hfs_hub_commit_entry *commit);

/* GET …/commits/{quoted revision}, following `Link: <…>; rel="next"` pages. Retried. */
int hfs_hub_list_commits(hfs_hub *hub, const hfs_hub_repo *repo, const char *revision,
                         hfs_hub_commit_fn fn, void *ctx);

/* POST …/branch/{quoted branch} {startingPoint?}. HFS_EEXISTS when it exists. Sent once. */
int hfs_hub_branch_create(hfs_hub *hub, const hfs_hub_repo *repo, const char *branch,
                          const char *starting_point);
/* DELETE …/branch/{quoted branch}. HFS_ENOTFOUND when missing. Sent once. */
int hfs_hub_branch_delete(hfs_hub *hub, const hfs_hub_repo *repo, const char *branch);

/* ---- tree listing and paths-info --------------------------------------------------- */

typedef enum { HFS_HUB_ENTRY_FILE, HFS_HUB_ENTRY_DIR, HFS_HUB_ENTRY_UNKNOWN } hfs_hub_entry_type;

typedef struct {
    hfs_hub_entry_type type;
    const char *path; /* relative to the repo root, no leading `/` */
    char oid[41];     /* git blob sha1 (of the pointer for LFS files) or tree sha1 */
    uint64_t size;    /* real content size, LFS files included; 0 for folders */
    bool is_lfs;
    char lfs_sha256[65]; /* lfs.oid */
    uint64_t lfs_pointer_size;
    char xet_hash[65]; /* "" unless the hub says the file is Xet-backed */
} hfs_hub_entry;

/* Called once per page with that page's entries (valid during the call only). Return
 * non-zero to stop; that value is returned. Memory stays proportional to one page. */
typedef int (*hfs_hub_entry_fn)(void *ctx, const hfs_hub_entry *entries, size_t n);

/* GET /api/{type}s/{id}/tree/{quoted revision}[/{quoted path}]?recursive=…&expand=false,
 * following Link pages (1000 entries each). `path` NULL or "" lists the root. Retried. */
int hfs_hub_list_tree(hfs_hub *hub, const hfs_hub_repo *repo, const char *revision,
                      const char *path, bool recursive, hfs_hub_entry_fn fn, void *ctx);

/* POST …/paths-info/{quoted revision}, form body paths=a&paths=b&expand=false, at most
 * HFS_HUB_PATHS_INFO_BATCH paths per request. Paths that do not exist are left out of
 * the answer (not an error). Retried (it reads only). */
#define HFS_HUB_PATHS_INFO_BATCH 500
int hfs_hub_paths_info(hfs_hub *hub, const hfs_hub_repo *repo, const char *revision,
                       const char *const *paths, size_t n, hfs_hub_entry_fn fn, void *ctx);

/* ---- preupload --------------------------------------------------------------------- */

#define HFS_HUB_PREUPLOAD_BATCH 256
#define HFS_HUB_SAMPLE_MAX 512

typedef struct {
    const char *path;
    uint64_t size;
    const void *sample; /* the first min(size, 512) bytes of the content */
    size_t sample_len;
} hfs_hub_preupload_file;

typedef enum { HFS_HUB_UPLOAD_REGULAR, HFS_HUB_UPLOAD_LFS } hfs_hub_upload_mode;

typedef struct {
    hfs_hub_upload_mode mode;
    bool should_ignore; /* the hub's root .gitignore excludes it: neither upload nor commit */
    char *oid;          /* the remote file's oid when the path exists (git sha1 for regular,
                         * sha256 for LFS files), else NULL */
} hfs_hub_preupload_result;

/* POST …/preupload/{quoted revision}[?create_pr=1] in batches of 256 files. results[i]
 * answers files[i] (the caller passes an array of n). `gitignore` (NULL: none) is the
 * content of a root .gitignore that is part of the commit (sent as "gitIgnore", as
 * huggingface_hub does); `gitattributes` (NULL: none) that of a root .gitattributes the
 * upload brings (sent as "gitAttributes", as huggingface.js does), so that the hub decides
 * LFS by the new rules rather than by the revision's. Every answer is checked:
 * uploadMode must be "lfs" or "regular" and shouldIgnore must be there. Empty files are
 * always regular (S3 refuses empty LFS objects), as huggingface_hub does. Retried.
 * Release each result with hfs_hub_preupload_result_clear. */
int hfs_hub_preupload(hfs_hub_preupload_result *results, hfs_hub *hub, const hfs_hub_repo *repo,
                      const char *revision, const hfs_hub_preupload_file *files, size_t n,
                      const char *gitignore, const char *gitattributes, bool create_pr);
void hfs_hub_preupload_result_clear(hfs_hub_preupload_result *result);

/* How hfs_hub_preupload_each learns about items 0..n of the caller's own list. */
typedef struct {
    /* Whether the hub is to be asked about item i. */
    bool (*wanted)(void *ctx, size_t i);
    /* Fills *file for item i, its sample read into `sample` (room for HFS_HUB_SAMPLE_MAX
     * bytes, kept until the hub answered); a negative error stops the run. */
    int (*sample)(void *ctx, size_t i, hfs_hub_preupload_file *file, unsigned char *sample);
    /* Before each request; a negative error (e.g. cancelled) stops the run. NULL: none. */
    int (*before_request)(void *ctx);
    /* The hub's answer about item i; `result` is cleared after the call. */
    void (*answer)(void *ctx, size_t i, const hfs_hub_preupload_result *result);
    void *ctx;
} hfs_hub_preupload_fns;

/* What hfs_hub_preupload_each asked, and what the hub said: files it ignores
 * (shouldIgnore), and of the others, those that go through LFS and the regular ones. */
typedef struct {
    size_t asked, ignored, lfs, regular;
} hfs_hub_preupload_counts;

/* hfs_hub_preupload about the wanted items of a caller's list of n, in order, one batch of
 * HFS_HUB_PREUPLOAD_BATCH at a time, so that no more samples than that are held at once.
 * An error stops the run; the answers given before it stand. */
int hfs_hub_preupload_each(hfs_hub_preupload_counts *out, hfs_hub *hub, const hfs_hub_repo *repo,
                           const char *revision, size_t n, const char *gitignore,
                           const char *gitattributes, bool create_pr,
                           const hfs_hub_preupload_fns *fns);

/* Reads a file's sample, its first min(size, HFS_HUB_SAMPLE_MAX) bytes, into buf: returns
 * how many bytes were read (fewer when the file is now shorter, or a read failed), or -1
 * with errno set when it cannot be opened. The caller words the error, since what the file
 * was to match (a plan, a hash) differs. */
ssize_t hfs_hub_sample_read(unsigned char *buf, const char *path, uint64_t size);

/* ---- LFS batch and transfers ------------------------------------------------------- */

#define HFS_HUB_LFS_BATCH 256

typedef struct {
    const char *oid; /* sha256 hex */
    uint64_t size;
} hfs_hub_lfs_object;

typedef struct {
    char *name;
    char *value;
} hfs_hub_header;

typedef enum {
    HFS_HUB_LFS_PRESENT,   /* no actions: the hub has it already; nothing to send */
    HFS_HUB_LFS_BASIC,     /* one PUT of the whole object to upload_href */
    HFS_HUB_LFS_MULTIPART, /* PUT each chunk to part_urls[i], then POST to upload_href */
    HFS_HUB_LFS_ERROR,     /* the hub refused this object: error_code, error_message */
} hfs_hub_lfs_kind;

typedef struct {
    char oid[65];
    uint64_t size;
    hfs_hub_lfs_kind kind;
    char *upload_href;
    hfs_hub_header *upload_headers; /* the `header` map as sent (multipart: chunk_size and
                                     * the part numbers too) */
    size_t n_upload_headers;
    uint64_t chunk_size; /* multipart only */
    char **part_urls;    /* multipart: part 1 first, sorted by part number */
    size_t n_parts;
    char *verify_href; /* NULL when the hub asks for no verify call */
    hfs_hub_header *verify_headers;
    size_t n_verify_headers;
    int error_code;
    char *error_message;
} hfs_hub_lfs_action;

/* POST {endpoint}/{prefix}{id}.git/info/lfs/objects/batch, ≤256 objects per request,
 * offering the basic and multipart transfers. `revision` names the branch the objects
 * are for (sent unquoted as ref.name); pass NULL with create_pr (no ref: read access is
 * enough to open a PR). actions[i] answers objects[i] (the caller passes an array of n).
 * Upload and verify hrefs on https://huggingface.co are rewritten to the endpoint.
 * An object with error is HFS_HUB_LFS_ERROR, not a failure of the call. Retried.
 * Release each action with hfs_hub_lfs_action_clear. */
int hfs_hub_lfs_batch(hfs_hub_lfs_action *actions, hfs_hub *hub, const hfs_hub_repo *repo,
                      const char *revision, const hfs_hub_lfs_object *objects, size_t n);
void hfs_hub_lfs_action_clear(hfs_hub_lfs_action *action);

/* Progress of one transfer: bytes sent so far in this attempt, out of total. */
typedef void (*hfs_hub_progress_fn)(void *ctx, uint64_t sent, uint64_t total);

/* PUT `length` bytes of fd from `offset` to url (a basic upload_href or a part URL), with
 * the given extra headers (may be NULL/0). No token: these URLs carry their own
 * credentials. The file is read with pread, never whole. *out is the response's ETag,
 * verbatim (quotes kept); a missing ETag is an error only when `need_etag`. Retried. */
int hfs_hub_lfs_put(char **out, hfs_hub *hub, const char *url, const hfs_hub_header *headers,
                    size_t n_headers, int fd, uint64_t offset, uint64_t length, bool need_etag,
                    hfs_hub_progress_fn progress, void *progress_ctx);
/* POST {"oid":…,"parts":[{"partNumber":1,"etag":…},…]} to a multipart upload_href, with
 * the LFS media type and no token. etags[i] is part i+1's ETag. Retried. */
int hfs_hub_lfs_complete(hfs_hub *hub, const char *href, const char *oid, const char *const *etags,
                         size_t n_parts);
/* POST {"oid","size"} to verify_href with its headers. Retried. */
int hfs_hub_lfs_verify(hfs_hub *hub, const hfs_hub_lfs_action *action);

/* ---- request bodies ---------------------------------------------------------------- */

/* A request body the client pulls as it sends. With `rewind`, the client rewinds it before
 * every attempt (so it may be retried, or resent after a 307/308); without, the body must
 * be at its start and the request is sent at most once. */
typedef struct {
    /* Fills buf with up to len bytes: returns the count, 0 at the end, or -1 after
     * hfs_error_set (the request then fails with that error). */
    ssize_t (*read)(void *ctx, char *buf, size_t len);
    /* Back to the first byte; 0 or a negative hfs_error_code. May be NULL. */
    int (*rewind)(void *ctx);
    void *ctx;
    int64_t length; /* total bytes if known (sent with Content-Length), else -1 (chunked) */
} hfs_hub_body;

/* ---- commit ------------------------------------------------------------------------ */

typedef struct {
    char commit_oid[41];
    char *commit_url;
    char *pull_request_url; /* with create_pr */
    long pr_num;            /* N of …/discussions/N with create_pr, else 0 */
} hfs_hub_commit_result;

/* POST /api/{type}s/{id}/commit/{quoted revision}[?create_pr=1], Content-Type
 * application/x-ndjson, the body streamed from `ndjson` (header line first: the caller
 * writes the lines, e.g. base64 file content straight from disk). Sent ONCE, never
 * retried: after a failure the caller looks at the branch head to learn whether its commit
 * landed. Clear *out with hfs_hub_commit_result_clear. */
int hfs_hub_commit(hfs_hub_commit_result *out, hfs_hub *hub, const hfs_hub_repo *repo,
                   const char *revision, const hfs_hub_body *ndjson, bool create_pr);
void hfs_hub_commit_result_clear(hfs_hub_commit_result *result);

/* ---- downloads --------------------------------------------------------------------- */

typedef struct {
    char *commit;   /* X-Repo-Commit */
    char *etag;     /* X-Linked-Etag, else ETag, without W/ and quotes: the git blob
                     * sha1 of a regular file, the sha256 of an LFS file */
    int64_t size;   /* X-Linked-Size, else Content-Length; -1 when unknown */
    char *location; /* where the content lives when the hub redirects (CDN), else NULL */
    char *xet_hash; /* X-Xet-Hash, or NULL */
} hfs_hub_file_meta;

/* HEAD {endpoint}/{prefix}{id}/resolve/{quoted revision}/{quoted path}, following only
 * redirects that stay on the endpoint (a renamed repo), as huggingface_hub does. Retried.
 * Clear *out with hfs_hub_file_meta_clear. */
int hfs_hub_file_head(hfs_hub_file_meta *out, hfs_hub *hub, const hfs_hub_repo *repo,
                      const char *revision, const char *path);
void hfs_hub_file_meta_clear(hfs_hub_file_meta *meta);

/* Receives downloaded bytes: return 0, or -1 after hfs_error_set. */
typedef int (*hfs_hub_write_fn)(void *ctx, const void *data, size_t len);

/* GET …/resolve/{quoted revision}/{quoted path}, following redirects (the CDN gets no
 * token), streaming the content to `write`. `restart` (may be NULL) is called before a
 * retry after some bytes were delivered; without it such a download is not retried.
 * Retried. */
int hfs_hub_download(hfs_hub *hub, const hfs_hub_repo *repo, const char *revision, const char *path,
                     hfs_hub_write_fn write, int (*restart)(void *ctx), void *ctx);
/* The same into a file descriptor, from its current offset; a retry truncates back. More
 * than max_bytes (UINT64_MAX: no bound) stops it with HFS_ELIMIT. */
int hfs_hub_download_fd(hfs_hub *hub, const hfs_hub_repo *repo, const char *revision,
                        const char *path, int fd, uint64_t max_bytes);

/* ---- discussions and pull requests ------------------------------------------------- */

typedef struct {
    long num;
    char *title;
    char *status; /* open, closed, merged, draft */
    bool is_pull_request;
    char *git_reference; /* "refs/pr/N" for a PR, else NULL */
    char *author;
    char *description_comment_id; /* id of the first comment event (the description) */
    char *merge_commit_id;        /* changes.mergeCommitId, when merged */
    json_t *json;                 /* the whole answer: events[], changes, diff, … */
} hfs_hub_discussion;

/* POST /api/{type}s/{id}/discussions {title, description, pullRequest}; *out is the new
 * number (a PR created this way starts as a draft). Sent once. */
int hfs_hub_discussion_create(long *out, hfs_hub *hub, const hfs_hub_repo *repo, const char *title,
                              const char *description, bool pull_request);
/* GET …/discussions/{num}?diff=1 (diff only when `with_diff`). Retried.
 * Clear *out with hfs_hub_discussion_clear. */
int hfs_hub_discussion_get(hfs_hub_discussion *out, hfs_hub *hub, const hfs_hub_repo *repo,
                           long num, bool with_diff);
void hfs_hub_discussion_clear(hfs_hub_discussion *d);

typedef struct {
    long num;
    const char *title;
    const char *status;
    bool is_pull_request;
    const char *author;
    const json_t *json;
} hfs_hub_discussion_entry;

/* Return non-zero to stop; that value is returned. */
typedef int (*hfs_hub_discussion_fn)(void *ctx, const hfs_hub_discussion_entry *d);

/* GET …/discussions?p=N[&type=…][&status=…][&author=…] page after page (each filter may
 * be NULL: type "pull_request"/"discussion", status "open"/"closed"/…). Retried. */
int hfs_hub_discussion_list(hfs_hub *hub, const hfs_hub_repo *repo, const char *type,
                            const char *status, const char *author, hfs_hub_discussion_fn fn,
                            void *ctx);
/* POST …/discussions/{num}/comment {comment}; *out (may be NULL) is the new comment's id. */
int hfs_hub_discussion_comment(char **out, hfs_hub *hub, const hfs_hub_repo *repo, long num,
                               const char *comment);
/* POST …/discussions/{num}/comment/{id}/edit {content}: edits a comment, e.g. the
 * description (hfs_hub_discussion.description_comment_id). */
int hfs_hub_discussion_edit_comment(hfs_hub *hub, const hfs_hub_repo *repo, long num,
                                    const char *comment_id, const char *content);
/* POST …/discussions/{num}/title {title}. */
int hfs_hub_discussion_rename(hfs_hub *hub, const hfs_hub_repo *repo, long num, const char *title);
/* POST …/discussions/{num}/status {status: "open"|"closed", comment?}. */
int hfs_hub_discussion_set_status(hfs_hub *hub, const hfs_hub_repo *repo, long num,
                                  const char *status, const char *comment);
/* POST …/discussions/{num}/merge {comment?}. A PR with nothing to merge is HFS_EINVALID
 * with the hub's "no associated changes" message. Sent once. */
int hfs_hub_discussion_merge(hfs_hub *hub, const hfs_hub_repo *repo, long num, const char *comment);

/* ---- history ----------------------------------------------------------------------- */

/* POST /api/{type}s/{id}/super-squash/{quoted branch} {message}: the branch becomes one
 * commit with the same tree (what CommitScheduler's squash_history calls after a push).
 * `message` NULL: "Super-squash branch '<branch>' using hfsync". Sent once. */
int hfs_hub_super_squash(hfs_hub *hub, const hfs_hub_repo *repo, const char *branch,
                         const char *message);

#endif
