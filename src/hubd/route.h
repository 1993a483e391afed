/* The local hub's URL grammar: which endpoint a raw request path names, with the repo and
 * the remaining path segments. Segments are split BEFORE percent-decoding, so a quoted
 * revision (refs%2Fpr%2F1) stays one segment while a raw one (refs/pr/1) is several. */
#ifndef HUBD_ROUTE_H
#define HUBD_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/lfsrules.h" /* hfs_repo_kind */

typedef enum {
    HUBD_R_NONE,          /* no such endpoint */
    HUBD_R_WHOAMI,        /* GET  /api/whoami-v2 */
    HUBD_R_REPO_CREATE,   /* POST /api/repos/create */
    HUBD_R_REPO_DELETE,   /* DELETE /api/repos/delete */
    HUBD_R_VALIDATE_YAML, /* POST /api/validate-yaml */
    HUBD_R_REPO_INFO,     /* GET  /api/{t}s/{id}[/revision/{rev}] */
    HUBD_R_REFS,          /* GET  /api/{t}s/{id}/refs */
    HUBD_R_COMMITS,       /* GET  /api/{t}s/{id}/commits/{rev} */
    HUBD_R_BRANCH,        /* POST|DELETE /api/{t}s/{id}/branch/{rev} */
    HUBD_R_TREE,          /* GET  /api/{t}s/{id}/tree/{rev}[/{path}] */
    HUBD_R_PATHS_INFO,    /* POST /api/{t}s/{id}/paths-info/{rev} */
    HUBD_R_PREUPLOAD,     /* POST /api/{t}s/{id}/preupload/{rev} */
    HUBD_R_COMMIT,        /* POST /api/{t}s/{id}/commit/{rev} */
    HUBD_R_LFS_BATCH,     /* POST /{prefix}{id}.git/info/lfs/objects/batch */
    HUBD_R_LFS_VERIFY,    /* POST /{prefix}{id}.git/info/lfs/objects/verify */
    HUBD_R_LFS_LOCKS,     /* /{prefix}{id}.git/info/lfs/locks[/...] (not offered: 404) */
    HUBD_R_LFS_UPLOAD,    /* PUT|POST /lfs-upload/{oid}?... (signed) */
    HUBD_R_LFS_DOWNLOAD,  /* GET|HEAD /lfs-files/{oid}?... (signed) */
    HUBD_R_RESOLVE,       /* GET|HEAD /{prefix}{id}/resolve/{rev}/{path} */
    HUBD_R_RAW,           /* GET|HEAD /{prefix}{id}/raw/{rev}/{path}: the git blob itself */
    HUBD_R_GIT_REFS,      /* GET  /{prefix}{id}[.git]/info/refs?service=git-... (smart HTTP) */
    HUBD_R_GIT_RPC,       /* POST /{prefix}{id}[.git]/git-{upload,receive}-pack (rest[0]) */
    HUBD_R_DISCUSSIONS,   /* GET|POST /api/{t}s/{id}/discussions[/{num}[/...]] */
    HUBD_R_SUPER_SQUASH,  /* POST /api/{t}s/{id}/super-squash/{branch} */
    HUBD_R_TAG,           /* POST /api/{t}s/{id}/tag/{rev}, DELETE /api/{t}s/{id}/tag/{tag} */
} hubd_route_kind;

typedef struct {
    hubd_route_kind kind;
    hfs_repo_kind repo_kind;
    char *ns;
    char *name;
    char *repo_id;  /* "ns/name" */
    char **rest;    /* decoded segments after the endpoint's keyword (revision, path) */
    size_t n_rest;
    char *oid;      /* LFS_UPLOAD, LFS_DOWNLOAD */
} hubd_route;

/* Parses a raw request path (no query string). HFS_EINVALID when a segment is badly
 * percent-encoded or decodes to a NUL byte; an unknown path gives kind HUBD_R_NONE. */
int hubd_route_parse(hubd_route *out, const char *raw_path);
void hubd_route_clear(hubd_route *route);

/* rest[from..to) joined with '/' (caller frees); "" when the range is empty. */
char *hubd_route_join(const hubd_route *route, size_t from, size_t to);

/* Percent-decodes s[0..len); '+' becomes a space when plus_is_space (forms, queries).
 * NULL when an escape is malformed or decodes to a NUL byte. */
char *hubd_url_decode(const char *s, size_t len, bool plus_is_space);
/* Percent-encodes everything but unreserved characters, keeping '/' when keep_slash. */
char *hubd_url_encode(const char *s, bool keep_slash);

/* The repo type's names: "model" / "models" and the URL prefix "" / "datasets/" / "spaces/". */
const char *hubd_kind_name(hfs_repo_kind kind);
const char *hubd_kind_plural(hfs_repo_kind kind);
const char *hubd_kind_prefix(hfs_repo_kind kind);
/* Parses "model", "dataset" or "space" (NULL means model). false when unknown. */
bool hubd_kind_parse(hfs_repo_kind *out, const char *name);

/* Is this a valid repo namespace or name, as the hub accepts them ([\w.-], 1..96, no "--"
 * or "..", starting and ending with a letter, digit or "_", not ending in ".git")? */
bool hubd_repo_part_valid(const char *part);

#endif
