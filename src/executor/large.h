/* How strategy large's status event reads: a line for people and the fields of its JSON
 * form, shared by the printer (src/executor/printer.c) and the pipeline (large.c). */
#ifndef HFS_EXECUTOR_LARGE_H
#define HFS_EXECUTOR_LARGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "hfsync/apply.h"

/* The pipeline sends its status every 5 s; a log (plain lines) gets one this often. */
#define EXEC_LARGE_STATUS_PLAIN_INTERVAL 30.0

/* "hashed 600 (1.2 MB) · uploaded 420/600 (900 kB) · committed 400/600 (850 kB) in 8
 * commits, next 75 · skipped 0 · workers: hash 0, preupload 1, upload 8, commit 1". */
void exec_large_status_format(char *out, size_t size, const hfs_apply_event *ev);
/* Adds the status's fields to the event's JSON object. */
void exec_large_status_to_json(json_t *o, const hfs_apply_event *ev);
/* The sync's last status: everything is committed (or was already). */
bool exec_large_status_final(const hfs_apply_event *ev);

#endif
