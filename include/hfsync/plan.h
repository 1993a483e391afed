/* hfsync public API: plans. Compute one for a manifest, save it to and load it from a JSON
 * file (pinned, deterministic, tamper-evident), render it as text, JSON or Markdown. */
#ifndef HFSYNC_PLAN_H
#define HFSYNC_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hfsync/manifest.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The plan file's format_version written (and the only one read) by this hfsync. */
#define HFS_PLAN_FORMAT_VERSION 1

typedef struct hfs_plan hfs_plan;

typedef enum { HFS_PLAN_TEXT, HFS_PLAN_JSON, HFS_PLAN_MARKDOWN } hfs_plan_format;

/* "text", "json" or "markdown" (also "md"); HFS_EINVALID naming the choices otherwise. */
int hfs_plan_format_parse(hfs_plan_format *out, const char *name);

/* Hashing progress of the sync being planned. */
typedef struct {
    const char *sync;
    uint64_t files_done, files_total; /* files that must be read (not in the hash cache) */
    uint64_t bytes_done, bytes_total;
    double seconds; /* since hashing of this sync began */
} hfs_plan_progress;

/* Called on the planning thread, about ten times a second while files are hashed. */
typedef void (*hfs_plan_progress_fn)(void *ctx, const hfs_plan_progress *progress);

/* One progress line: "hashing ckpt: 120/5000 files, 1.2 GB of 4.5 GB, 310 MB/s". */
void hfs_plan_progress_format(char *out, size_t out_size, const hfs_plan_progress *progress);

typedef struct {
    int version;
    const char *const *syncs; /* plan only these syncs (names); n_syncs 0: every sync */
    size_t n_syncs;
    unsigned jobs;         /* hashing threads; 0: one per core */
    const char *state_dir; /* the hash cache's folder; NULL: .hfsync beside the manifest */
    hfs_plan_progress_fn progress;
    void *progress_ctx;
} hfs_plan_options;

#define HFS_PLAN_OPTIONS_VERSION 1
#define HFS_PLAN_OPTIONS_INIT                                                                      \
    {                                                                                              \
        HFS_PLAN_OPTIONS_VERSION, NULL, 0, 0, NULL, NULL, NULL                                     \
    }

/* Plans every selected sync of the manifest, in manifest order: the remote snapshot (the
 * endpoint is HF_ENDPOINT, else the manifest's; the token HF_TOKEN, else the token file under
 * HF_HOME), the local scan and hashes, the diff, the limits and the commits.
 * Errors: HFS_EINVALID for a sync name the manifest does not have; HFS_ENOTFOUND for a
 * missing repo (without `create:`) or revision; HFS_ELIMIT when a sync breaks max_delete or
 * a hub limit (the message names the first 20 offending paths and the count); HFS_ESTALE
 * when a file changes while it is hashed; network and auth errors from the hub. */
int hfs_plan_compute(hfs_plan **out, const hfs_manifest *m, const hfs_plan_options *opts);

/* Writes the plan file (pretty JSON with sorted keys and a trailing newline) atomically. */
int hfs_plan_write(const hfs_plan *plan, const char *path);
/* The plan file's exact bytes. Caller frees. */
char *hfs_plan_to_json(const hfs_plan *plan);

/* Reads a plan file. HFS_EINVALID naming the file and the field when it is not a plan this
 * version understands, or "FILE was modified after it was written (plan_id does not match
 * its content)" when its plan_id does not match. */
int hfs_plan_read(hfs_plan **out, const char *path);
/* The same from text in memory; `name` stands for the file in messages. */
int hfs_plan_parse(hfs_plan **out, const char *text, size_t len, const char *name);

/* Renders the plan. JSON is the plan file itself; text is for terminals (`+` add, `~` update,
 * `-` delete, `>` copy, and a summary); Markdown is for a pull-request comment. */
int hfs_plan_render(char **out, const hfs_plan *plan, hfs_plan_format format);
int hfs_plan_print(FILE *f, const hfs_plan *plan, hfs_plan_format format);

typedef struct {
    uint64_t n_syncs;
    uint64_t n_create; /* repos that will be created */
    uint64_t n_add, n_update, n_delete, n_copy, n_unchanged;
    uint64_t upload_files, upload_bytes;
    uint64_t commits;
} hfs_plan_summary;

/* The totals over every sync of the plan. */
void hfs_plan_get_summary(hfs_plan_summary *out, const hfs_plan *plan);
/* Does applying the plan change anything (a repo to create or any operation)? */
bool hfs_plan_has_changes(const hfs_plan *plan);
/* The plan's id: the sha256 hex of its canonical content. */
const char *hfs_plan_id(const hfs_plan *plan);

void hfs_plan_free(hfs_plan *plan);

#ifdef __cplusplus
}
#endif
#endif
