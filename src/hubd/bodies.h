/* The local hub's request-body parsers: the bytes a client sent in, plain structs out, and no
 * server state, so the handlers stay short and each parser can be fuzzed alone (tests/fuzz). */
#ifndef HUBD_BODIES_H
#define HUBD_BODIES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubd/repo.h" /* hubd_op */

/* Why a body is refused: the HTTP status and X-Error-Code (NULL: none) to answer with. The
 * message is hfs_error_last(). */
typedef struct {
    unsigned status;
    const char *code;
} hubd_refusal;

/* The body as a JSON object. HFS_EINVALID ("the request body is not valid JSON: … (line L,
 * column C)", or "… must be a JSON object") when it is not one; the hub answers 400. */
int hubd_parse_json_object(json_t **out, const char *data, size_t len);

/* Decodes base64 text into memory (caller frees *out). HFS_EINVALID when it is not base64. */
int hubd_base64_decode(unsigned char **out, size_t *out_len, const char *text, size_t len);

/* ---- paths-info ------------------------------------------------------------------------ */

typedef struct {
    char **paths; /* as sent, decoded; not checked (missing paths are simply left out) */
    size_t n_paths, cap_paths;
    bool expand;
} hubd_paths_query;

/* huggingface_hub's form body: paths=a&paths=b&expand=false (`paths[]` too, booleans as
 * true/True/1 or false/False/0). HFS_EINVALID (400) on a bad %-escape or expand value. */
int hubd_parse_paths_form(hubd_paths_query *out, const char *body, size_t len);
/* The JS client's JSON body: {"paths": [...], "expand": bool}. HFS_EINVALID (400). */
int hubd_parse_paths_json(hubd_paths_query *out, const char *body, size_t len);
void hubd_paths_query_clear(hubd_paths_query *q);

/* ---- preupload ----------------------------------------------------------------------------- */

#define HUBD_PREUPLOAD_MAX_FILES 256
#define HUBD_PREUPLOAD_SAMPLE_MAX 1024 /* bytes of a file's sample, decoded */

typedef struct {
    hubd_preupload_file *files; /* paths point into the body (keep the request alive) */
    unsigned char **samples;    /* decoded samples, owned */
    size_t n_files;
    const char *git_attributes; /* "gitAttributes" and "gitIgnore": NULL when absent or null */
    const char *git_ignore;
    json_t *body; /* owns the strings above */
} hubd_preupload_request;

/* The preupload body {"files": [{path, size, sample}], "gitAttributes"?, "gitIgnore"?}.
 * Refused with *why: 400 not a JSON object, a file without path/size/base64 sample, a
 * sample over HUBD_PREUPLOAD_SAMPLE_MAX or more than HUBD_PREUPLOAD_MAX_FILES files; 422 an
 * invalid path. The message names the file. Clear *out either way. */
int hubd_parse_preupload(hubd_preupload_request *out, hubd_refusal *why, const char *body,
                         size_t len);
void hubd_preupload_request_clear(hubd_preupload_request *r);

/* ---- LFS batch --------------------------------------------------------------------------- */

typedef struct {
    char *oid;    /* as sent; NULL when it is not a string */
    int64_t size; /* -1 when missing or not a whole number */
    bool valid;   /* a 64-lowercase-hex oid and a size >= 0 */
} hubd_lfs_batch_object;

typedef struct {
    bool upload;           /* "operation": "upload"; else "download" */
    bool offers_multipart; /* "multipart" is among the transfers */
    char *ref_name;        /* ref.name; NULL without a ref (create_pr) */
    hubd_lfs_batch_object *objects;
    size_t n_objects;
} hubd_lfs_batch_request;

/* The batch request. A bad object is kept (valid false: it gets a per-object error); a bad
 * body is refused with *why: 400 not a JSON object, 422 no operation/objects or no transfer
 * this hub offers, 409 a hash_algo other than sha256/sha_256, 413 too many objects. */
int hubd_parse_lfs_batch(hubd_lfs_batch_request *out, hubd_refusal *why, const char *body,
                         size_t len);
void hubd_lfs_batch_request_clear(hubd_lfs_batch_request *b);

/* ---- NDJSON commit ----------------------------------------------------------------------- */

typedef struct {
    char *summary;
    char *description; /* "" when none */
    char *parent;      /* parentCommit, or NULL */
    hubd_op *ops;
    size_t n_ops, cap_ops;
} hubd_commit_body;

/* What the commit parser asks of the server. Every hook may be NULL. */
typedef struct {
    void *ctx;
    /* Is the LFS object stored, and with what size? NULL: every lfsFile is missing. */
    bool (*lfs_has)(void *ctx, const char *oid, uint64_t *size);
    /* A file line with oldPath and no content (the JS client's rename): fill op from the old
     * file at the head. 0, or a negative code after hfs_error_set with *why filled. NULL:
     * such a line is refused. */
    int (*rename)(void *ctx, hubd_op *op, const char *old_path, unsigned line_no,
                  hubd_refusal *why);
    /* A temp file for a large inline file, or -1 after hfs_error_set. NULL: kept in memory. */
    int (*spool)(void *ctx);
} hubd_commit_hooks;

/* Parses the NDJSON commit body — from data[0..len), or from the file fd (read from its
 * start) when fd >= 0 — into the header and the operations, line by line (blank lines are
 * skipped; a renamed file also deletes its old path). On a bad line, *why gets 400 (422 for an
 * invalid path, 404 EntryNotFound for a rename of a missing file) and the message names the
 * line. Clear *out with hubd_commit_body_clear either way. */
int hubd_parse_commit(hubd_commit_body *out, hubd_refusal *why, const char *data, size_t len,
                      int fd, const hubd_commit_hooks *hooks);
/* A long plain-base64 "content" is taken out of its line before jansson parses the rest (the
 * same result, several times faster). Tests set this false to compare with jansson alone. */
extern bool hubd_commit_lift;
/* Where that content is in a line: [*at, *at + *len) between its quotes, when the line is an
 * object whose one "value" member holds one "content" member, a string of LIFT_MIN (4096) or
 * more base64 characters, and no key is written with escapes. False otherwise. */
bool hubd_commit_content_span(const char *line, size_t len, size_t *at, size_t *span_len);
void hubd_commit_body_clear(hubd_commit_body *b);

#endif
