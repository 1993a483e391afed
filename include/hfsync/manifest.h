/* hfsync public API: the manifest (hfsync.yaml) as typed, validated settings per sync,
 * with every problem of a file reported as a "FILE:LINE:COL: key.path: message" diagnostic. */
#ifndef HFSYNC_MANIFEST_H
#define HFSYNC_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Built-in defaults (also documented in schema/hfsync.schema.json). */
#define HFS_MANIFEST_VERSION 1
#define HFS_DEFAULT_REVISION "main"
#define HFS_DEFAULT_COMMIT_MESSAGE "Upload folder using hfsync"
/* The message of a scheduled sync's commits when the manifest sets none (CommitScheduler's). */
#define HFS_DEFAULT_SCHEDULED_MESSAGE "Scheduled commit"
/* schedule.pack.name when the manifest sets none; {timestamp} becomes the run's UTC time. */
#define HFS_DEFAULT_PACK_NAME "pack-{timestamp}.zip"
#define HFS_DEFAULT_MAX_FILES 1000
#define HFS_DEFAULT_MAX_BYTES (20ULL << 30) /* 20 GiB */
#define HFS_DEFAULT_MAX_DELETE 100
#define HFS_DEFAULT_SPACE_SDK "static"

/* Limits of the manifest reader: a manifest is a small config file, and these keep a
 * hostile one (an alias bomb, a deep nest) from costing more than a moment. */
#define HFS_MANIFEST_MAX_BYTES (1u << 20)
#define HFS_MANIFEST_MAX_ALIAS_NODES 100000
#define HFS_MANIFEST_MAX_DEPTH 64
#define HFS_MANIFEST_MAX_DIAGS 200

typedef enum { HFS_REPO_MODEL, HFS_REPO_DATASET, HFS_REPO_SPACE } hfs_repo_type;
typedef enum { HFS_STRATEGY_SINGLE, HFS_STRATEGY_MULTI, HFS_STRATEGY_LARGE } hfs_commit_strategy;
typedef enum { HFS_TRANSPORT_HTTP, HFS_TRANSPORT_GIT } hfs_transport;
typedef enum { HFS_PACK_ZIP } hfs_pack_format;

/* "model", "dataset", "space"; "single", "multi", "large"; "http", "git". */
const char *hfs_repo_type_name(hfs_repo_type t);
const char *hfs_commit_strategy_name(hfs_commit_strategy s);
const char *hfs_transport_name(hfs_transport t);
/* "zip". */
const char *hfs_pack_format_name(hfs_pack_format f);

/* A place in the manifest file; line 0 means "not from a file" (a default, or built in memory). */
typedef struct {
    int line, col; /* 1-based */
} hfs_srcpos;

/* One problem found in a manifest. */
typedef struct {
    char *file;     /* as the user named it */
    int line, col;  /* 1-based; 0 when the problem has no place (a missing file) */
    char *key_path; /* "syncs.ckpt.commit.strategy"; "" for file-level problems */
    char *message;  /* what was expected and what was found */
} hfs_diag;

/* Every problem of one load, sorted by place. Zero-initialise or use HFS_DIAG_LIST_INIT. */
typedef struct {
    hfs_diag *items;
    size_t count, cap;
    size_t dropped; /* problems beyond HFS_MANIFEST_MAX_DIAGS, counted but not kept */
} hfs_diag_list;
#define HFS_DIAG_LIST_INIT                                                                         \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

/* "FILE:LINE:COL: key.path: message" (parts without a value are left out). Caller frees. */
char *hfs_diag_format(const hfs_diag *d);
/* Frees the diagnostics and empties the list (the list itself may live on the stack). */
void hfs_diag_list_free(hfs_diag_list *list);

/* The commit settings of a sync. */
typedef struct {
    char *message;     /* default HFS_DEFAULT_COMMIT_MESSAGE (a scheduled sync: "Scheduled commit") */
    char *description; /* default "" */
    hfs_commit_strategy strategy;
    uint64_t max_files; /* per commit, for multi and large; default 1000 */
    uint64_t max_bytes; /* per commit, for multi and large; default 20 GiB */
    bool create_pr;
} hfs_commit_settings;

/* schedule.pack: each scheduled run packs the new files matching `patterns` into one archive
 * and uploads the archive instead of them. */
typedef struct {
    bool enabled;    /* schedule.pack is set */
    char **patterns; /* matched against paths relative to folder_path, like allow_patterns */
    size_t n_patterns;
    hfs_pack_format format; /* default zip */
    char *name;        /* the archive's path under path_in_repo; "{timestamp}" is replaced */
    bool remove_local; /* delete the packed files once the commit has landed; default false */
} hfs_pack_settings;

typedef struct hfs_sync_extra hfs_sync_extra; /* compiled patterns and field places (internal) */

/* One sync: a local folder kept in step with (a folder of) one repo at one revision.
 * Every field holds its effective value: defaults are already applied. */
typedef struct {
    char *name;    /* the key under `syncs`: the stable id in plans, state and logs */
    char *repo_id; /* "namespace/name" */
    hfs_repo_type repo_type;
    char *revision; /* a branch, or refs/pr/N; default "main" */
    bool create;    /* create the repo when it is missing */
    bool create_private;
    char *space_sdk;    /* spaces only (default "static"); NULL for models and datasets */
    char *folder_path;  /* as written */
    char *folder_abs;   /* absolute, symlinks resolved */
    char *path_in_repo; /* normalised: "" for the root, no leading or trailing '/' */
    char **allow_patterns;
    size_t n_allow_patterns;
    char **ignore_patterns;
    size_t n_ignore_patterns;
    char **delete_patterns;
    size_t n_delete_patterns;
    bool gitignore; /* honour the folder's .gitignore files; default true */
    hfs_commit_settings commit;
    hfs_transport transport;
    uint64_t max_delete;     /* refuse a plan deleting more files; default 100 */
    bool scheduled;          /* a `schedule` is set */
    uint64_t schedule_every; /* seconds, > 0 when scheduled */
    bool schedule_append_only;
    bool schedule_squash_history; /* squash the branch's history after each scheduled push */
    hfs_pack_settings schedule_pack;
    hfs_srcpos pos; /* where the sync's name is written */
    hfs_sync_extra *extra;
} hfs_sync;

typedef struct {
    char *path;      /* as the user named it ("hfsync.yaml", "<upload>" when built in memory) */
    char *dir;       /* absolute folder that relative folder_paths start from */
    int version;     /* always HFS_MANIFEST_VERSION */
    char *endpoint;  /* without a trailing '/'; NULL when the manifest sets none */
    hfs_sync *syncs; /* in the order of the file */
    size_t n_syncs;
    char digest[65]; /* sha256 hex of the file's bytes (of a canonical text when in memory) */
} hfs_manifest;

/* Reads and validates a manifest file. On success *out is the manifest (free it with
 * hfs_manifest_free). When the file has problems, returns HFS_EINVALID, *out is NULL and
 * `diags` holds every problem found (diags may be NULL to just get the first through the
 * last error). A file that cannot be read gives HFS_ENOTFOUND or HFS_ERROR, no diagnostics. */
int hfs_manifest_load(hfs_manifest **out, const char *path, hfs_diag_list *diags);

/* The same, from YAML text in memory: `name` stands for the file in messages, and relative
 * folder_paths start from `base_dir`. */
int hfs_manifest_load_string(hfs_manifest **out, const char *text, size_t len, const char *name,
                             const char *base_dir, hfs_diag_list *diags);

void hfs_manifest_free(hfs_manifest *m);

/* The sync of that name, or NULL. */
const hfs_sync *hfs_manifest_find_sync(const hfs_manifest *m, const char *name);

/* The sha256 hex of the manifest's bytes: a plan pins it to notice an edited manifest. */
const char *hfs_manifest_digest(const hfs_manifest *m);

/* Where a sync's setting was written, by its manifest key ("repo_id", "commit.max_files",
 * "schedule.every", …): in the sync itself or in `defaults`. {0, 0} for a built-in default
 * or an unknown key. `*from_defaults` (may be NULL) tells which. */
hfs_srcpos hfs_sync_where(const hfs_sync *s, const char *key, bool *from_defaults);

/* A one-sync manifest built in memory (`hfsync upload`): the same checks as a file. */
typedef struct {
    int version;
    const char *name;    /* default "upload" */
    const char *repo_id; /* required */
    hfs_repo_type repo_type;
    const char *revision; /* NULL: "main" */
    bool create, create_private;
    const char *space_sdk;    /* NULL: "static" for spaces */
    const char *folder_path;  /* required; relative to base_dir or absolute */
    const char *path_in_repo; /* NULL: the root */
    const char *const *allow_patterns;
    size_t n_allow_patterns;
    const char *const *ignore_patterns;
    size_t n_ignore_patterns;
    const char *const *delete_patterns;
    size_t n_delete_patterns;
    bool gitignore;
    const char *commit_message;     /* NULL: the default message */
    const char *commit_description; /* NULL: "" */
    hfs_commit_strategy strategy;
    uint64_t max_files, max_bytes, max_delete;
    bool create_pr;
    hfs_transport transport;
    uint64_t schedule_every; /* 0: not scheduled */
    bool schedule_append_only;
    const char *endpoint; /* NULL: none */
} hfs_sync_spec;
#define HFS_SYNC_SPEC_VERSION 1
#define HFS_SYNC_SPEC_INIT                                                                         \
    {                                                                                              \
        .version = HFS_SYNC_SPEC_VERSION, .gitignore = true, .max_files = HFS_DEFAULT_MAX_FILES,   \
        .max_bytes = HFS_DEFAULT_MAX_BYTES, .max_delete = HFS_DEFAULT_MAX_DELETE                   \
    }

/* Builds and checks a one-sync manifest from `spec`. Returns HFS_EINVALID with the last
 * error naming the setting ("repo_id: …") when a value is not acceptable. */
int hfs_manifest_new_single(hfs_manifest **out, const char *base_dir, const hfs_sync_spec *spec);

/* Value checks shared by the manifest and the command line. Each returns 0, or HFS_EINVALID
 * with a last error that says what is wrong with the value. */

/* A size: whole bytes ("1048576"), or a number with a unit: B, kB/KB, MB, GB, TB (powers of
 * 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. "10MB", "1.5 GiB". Must be > 0 and a
 * whole number of bytes. */
int hfs_size_parse(uint64_t *out, const char *text);
/* A duration: whole seconds ("600"), or a number with a unit s, m, h or d, e.g. "90s", "10m",
 * "1.5h". Must be > 0 and a whole number of seconds. */
int hfs_duration_parse(uint64_t *out, const char *text);
/* A repo id as the hub checks it: "namespace/name", each part of letters, digits, '-', '_'
 * and '.', starting and ending with a letter, digit or '_'; a name of at most 96 characters;
 * no "--" or ".."; not ending in ".git". hfsync requires the namespace. */
int hfs_repo_id_validate(const char *repo_id);
/* Normalises a folder inside the repo: a leading "./" and trailing '/' are dropped, "" or "."
 * is the root; a leading '/', empty, "." or ".." segments and ".git" or ".cache" segments
 * are refused. *out is the normalised path (caller frees). */
int hfs_path_in_repo_normalize(char **out, const char *path);
/* A revision to commit to: a branch name or refs/pr/N, as git accepts ref names. */
int hfs_revision_validate(const char *revision);
/* An http(s) URL with a host, without credentials, query or fragment; *out (caller frees) has
 * no trailing '/'. */
int hfs_endpoint_normalize(char **out, const char *url);

#ifdef __cplusplus
}
#endif
#endif
