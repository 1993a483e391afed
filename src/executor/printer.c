/* What an apply tells people and machines: plain lines for logs, a one-line progress bar on a
 * terminal (phase, files, bytes, rate, ETA), or one JSON object per event for --json. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "executor/large.h"
#include "hfsync/apply.h"

/* Progress redraws (bar) and JSON progress events, at most this often. */
#define BAR_INTERVAL 0.1
#define JSON_INTERVAL 0.25
/* Plain progress lines, for logs: one now and then is enough. */
#define PLAIN_INTERVAL 10.0
#define BAR_WIDTH 24

struct hfs_apply_printer {
    hfs_apply_print_mode mode;
    FILE *out, *err;
    bool bar_shown;
    double last_progress;
    hfs_apply_event_kind last_kind;
    double last_large_status; /* plain mode: strategy large's status line, now and then */
};

static const char *const event_names[] = {
    [HFS_APPLY_EVENT_STALE] = "stale",
    [HFS_APPLY_EVENT_CREATE_REPO] = "create_repo",
    [HFS_APPLY_EVENT_PREUPLOAD] = "preupload",
    [HFS_APPLY_EVENT_IGNORED] = "ignored",
    [HFS_APPLY_EVENT_HASH_PROGRESS] = "hash_progress",
    [HFS_APPLY_EVENT_UPLOAD_START] = "upload_start",
    [HFS_APPLY_EVENT_UPLOAD_PROGRESS] = "upload_progress",
    [HFS_APPLY_EVENT_UPLOAD_DONE] = "upload_done",
    [HFS_APPLY_EVENT_COMMIT_PROGRESS] = "commit_progress",
    [HFS_APPLY_EVENT_COMMIT] = "commit",
    [HFS_APPLY_EVENT_DONE] = "done",
    [HFS_APPLY_EVENT_ERROR] = "error",
    [HFS_APPLY_EVENT_WARNING] = "warning",
    [HFS_APPLY_EVENT_LARGE_STATUS] = "large_status",
    [HFS_APPLY_EVENT_PULL_REQUEST] = "pull_request",
    [HFS_APPLY_EVENT_ALREADY_APPLIED] = "already_applied",
};

const char *hfs_apply_event_name(hfs_apply_event_kind kind)
{
    if ((size_t)kind < HFS_ARRAY_LEN(event_names) && event_names[kind])
        return event_names[kind];
    return "unknown";
}

static bool is_progress(hfs_apply_event_kind k)
{
    return k == HFS_APPLY_EVENT_HASH_PROGRESS || k == HFS_APPLY_EVENT_UPLOAD_PROGRESS ||
           k == HFS_APPLY_EVENT_COMMIT_PROGRESS;
}

static void set_str(json_t *o, const char *key, const char *value)
{
    if (value)
        json_object_set_new(o, key, json_string(value));
}

static void set_int(json_t *o, const char *key, uint64_t value)
{
    json_object_set_new(o, key, json_integer((json_int_t)value));
}

static double rate_of(const hfs_apply_event *ev)
{
    return ev->seconds > 0 ? (double)ev->bytes_done / ev->seconds : 0.0;
}

/* Seconds left at the current rate; negative when unknown. */
static double eta_of(const hfs_apply_event *ev)
{
    double rate = rate_of(ev);
    if (rate <= 0 || ev->bytes_total < ev->bytes_done)
        return -1;
    return (double)(ev->bytes_total - ev->bytes_done) / rate;
}

char *hfs_apply_event_to_json(const hfs_apply_event *ev)
{
    json_t *o = json_object();
    set_str(o, "event", hfs_apply_event_name(ev->kind));
    set_str(o, "sync", ev->sync);
    set_str(o, "repo_id", ev->repo_id);
    if (ev->repo_id)
        set_str(o, "repo_type", hfs_repo_type_name(ev->repo_type));
    set_str(o, "revision", ev->revision);
    switch (ev->kind) {
    case HFS_APPLY_EVENT_STALE:
    case HFS_APPLY_EVENT_ERROR:
        set_str(o, "message", ev->message);
        set_str(o, "path", ev->path);
        json_object_set_new(o, "code", json_integer(ev->error_code));
        break;
    case HFS_APPLY_EVENT_WARNING:
    case HFS_APPLY_EVENT_IGNORED:
        set_str(o, "message", ev->message);
        set_str(o, "path", ev->path);
        break;
    case HFS_APPLY_EVENT_CREATE_REPO:
        set_str(o, "url", ev->url);
        json_object_set_new(o, "private", json_boolean(ev->is_private));
        json_object_set_new(o, "existed", json_boolean(ev->existed));
        break;
    case HFS_APPLY_EVENT_PREUPLOAD:
        set_int(o, "files", ev->files_total);
        set_int(o, "lfs", ev->n_lfs);
        set_int(o, "regular", ev->n_regular);
        set_int(o, "ignored", ev->n_ignored);
        break;
    case HFS_APPLY_EVENT_HASH_PROGRESS:
    case HFS_APPLY_EVENT_UPLOAD_START:
    case HFS_APPLY_EVENT_UPLOAD_PROGRESS:
    case HFS_APPLY_EVENT_UPLOAD_DONE:
    case HFS_APPLY_EVENT_COMMIT_PROGRESS:
        if (ev->kind != HFS_APPLY_EVENT_COMMIT_PROGRESS) {
            set_int(o, "files_done", ev->files_done);
            set_int(o, "files_total", ev->files_total);
        }
        set_int(o, "bytes_done", ev->bytes_done);
        set_int(o, "bytes_total", ev->bytes_total);
        json_object_set_new(o, "seconds", json_real(ev->seconds));
        if (ev->kind != HFS_APPLY_EVENT_UPLOAD_START) {
            json_object_set_new(o, "rate", json_real(rate_of(ev)));
            double eta = eta_of(ev);
            json_object_set_new(o, "eta", eta >= 0 ? json_real(eta) : json_null());
        }
        break;
    case HFS_APPLY_EVENT_COMMIT:
        set_str(o, "commit", ev->commit_oid);
        set_str(o, "url", ev->url);
        json_object_set_new(o, "pr_url", ev->pr_url ? json_string(ev->pr_url) : json_null());
        set_int(o, "files", ev->files_total);
        set_int(o, "deleted", ev->n_deleted);
        set_int(o, "step", ev->step);
        set_int(o, "steps", ev->steps);
        json_object_set_new(o, "recovered", json_boolean(ev->recovered));
        break;
    case HFS_APPLY_EVENT_LARGE_STATUS:
        exec_large_status_to_json(o, ev);
        break;
    case HFS_APPLY_EVENT_PULL_REQUEST:
        json_object_set_new(o, "number", json_integer((json_int_t)ev->pr_num));
        set_str(o, "url", ev->url);
        set_str(o, "state", ev->pr_state);
        break;
    case HFS_APPLY_EVENT_ALREADY_APPLIED:
        set_str(o, "commit", ev->commit_oid);
        set_str(o, "url", ev->url);
        json_object_set_new(o, "pr_url", ev->pr_url ? json_string(ev->pr_url) : json_null());
        set_str(o, "message", ev->message);
        break;
    case HFS_APPLY_EVENT_DONE:
        set_int(o, "commits", ev->commits);
        set_int(o, "lfs_files", ev->files_done);
        set_int(o, "lfs_bytes", ev->bytes_done);
        json_object_set_new(o, "seconds", json_real(ev->seconds));
        json_object_set_new(o, "changes", json_boolean(ev->message == NULL));
        break;
    }
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        abort(); /* jansson fails only when out of memory */
    return text;
}

hfs_apply_printer *hfs_apply_printer_new(hfs_apply_print_mode mode, FILE *out, FILE *err)
{
    hfs_apply_printer *p = hfs_calloc(1, sizeof(*p));
    p->mode = mode;
    p->out = out;
    p->err = err;
    p->last_progress = -1e9;
    p->last_kind = HFS_APPLY_EVENT_DONE; /* no progress phase yet */
    p->last_large_status = -1e9;
    return p;
}

void hfs_apply_printer_finish(hfs_apply_printer *p)
{
    if (p && p->bar_shown) {
        fputs("\r\033[K", p->err);
        fflush(p->err);
        p->bar_shown = false;
    }
}

void hfs_apply_printer_free(hfs_apply_printer *p)
{
    if (!p)
        return;
    hfs_apply_printer_finish(p);
    free(p);
}

static void clock_text(char *out, size_t size, double seconds)
{
    long s = (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(out, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(out, size, "%ld:%02ld", s / 60, s % 60);
}

static const char *phase_of(hfs_apply_event_kind k)
{
    return k == HFS_APPLY_EVENT_HASH_PROGRESS     ? "hash"
           : k == HFS_APPLY_EVENT_UPLOAD_PROGRESS ? "upload"
                                                  : "commit";
}

/* "upload  3/10 files  1.2 GB/4.2 GB  85.3 MB/s  ETA 0:36" (files left out for the commit
 * phase, which is one request). */
static void progress_text(char *out, size_t size, const hfs_apply_event *ev)
{
    char done[32], total[32], rate[32], eta[64] = "";
    hfs_human_size(done, sizeof(done), ev->bytes_done);
    hfs_human_size(total, sizeof(total), ev->bytes_total);
    hfs_human_size(rate, sizeof(rate), (uint64_t)rate_of(ev));
    double left = eta_of(ev);
    if (left >= 0) {
        char clock[48];
        clock_text(clock, sizeof(clock), left);
        snprintf(eta, sizeof(eta), "  ETA %s", clock);
    }
    if (ev->kind == HFS_APPLY_EVENT_COMMIT_PROGRESS)
        snprintf(out, size, "%-6s  %s/%s  %s/s%s", phase_of(ev->kind), done, total, rate, eta);
    else
        snprintf(out, size, "%-6s  %llu/%llu files  %s/%s  %s/s%s", phase_of(ev->kind),
                 (unsigned long long)ev->files_done, (unsigned long long)ev->files_total, done,
                 total, rate, eta);
}

static void draw_bar(hfs_apply_printer *p, const hfs_apply_event *ev)
{
    char text[256], bar[BAR_WIDTH + 1];
    double frac = ev->bytes_total ? (double)ev->bytes_done / (double)ev->bytes_total : 1.0;
    int filled = (int)(frac * BAR_WIDTH + 0.5);
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < filled ? '#' : '-';
    bar[BAR_WIDTH] = '\0';
    progress_text(text, sizeof(text), ev);
    fprintf(p->err, "\r\033[K[%s] %s", bar, text);
    fflush(p->err);
    p->bar_shown = true;
}

/* "model alice/x@main" */
static void where_text(char *out, size_t size, const hfs_apply_event *ev)
{
    if (ev->repo_type == HFS_REPO_MODEL)
        snprintf(out, size, "%s@%s", ev->repo_id, ev->revision);
    else
        snprintf(out, size, "%s %s@%s", hfs_repo_type_name(ev->repo_type), ev->repo_id,
                 ev->revision);
}

static void print_line(hfs_apply_printer *p, const hfs_apply_event *ev)
{
    char a[32], b[32], where[512];
    FILE *err = p->err, *out = p->out;
    if (ev->repo_id)
        where_text(where, sizeof(where), ev);
    else
        where[0] = '\0';
    switch (ev->kind) {
    case HFS_APPLY_EVENT_STALE:
    case HFS_APPLY_EVENT_ERROR:
        /* The command prints the error itself, with the exit code. */
        break;
    case HFS_APPLY_EVENT_WARNING:
        fprintf(err, "warning: %s%s%s\n", ev->sync ? ev->sync : "", ev->sync ? ": " : "",
                ev->message);
        break;
    case HFS_APPLY_EVENT_IGNORED:
        fprintf(err, "%s: %s left out: %s\n", ev->sync, ev->path, ev->message);
        break;
    case HFS_APPLY_EVENT_CREATE_REPO:
        if (ev->existed)
            fprintf(err, "%s: %s %s exists already: %s\n", ev->sync,
                    hfs_repo_type_name(ev->repo_type), ev->repo_id, ev->url);
        else
            fprintf(err, "%s: created %s %s %s: %s\n", ev->sync,
                    ev->is_private ? "private" : "public", hfs_repo_type_name(ev->repo_type),
                    ev->repo_id, ev->url);
        break;
    case HFS_APPLY_EVENT_PREUPLOAD:
        fprintf(err, "%s: the hub confirmed how %llu file(s) upload: %zu LFS, %zu regular",
                ev->sync, (unsigned long long)ev->files_total, ev->n_lfs, ev->n_regular);
        if (ev->n_ignored)
            fprintf(err, ", %zu ignored by the repo's .gitignore", ev->n_ignored);
        fputc('\n', err);
        break;
    case HFS_APPLY_EVENT_HASH_PROGRESS:
        if (ev->files_total > 0 && ev->files_done == ev->files_total) {
            hfs_human_size(a, sizeof(a), ev->bytes_total);
            if (ev->sync)
                fprintf(err, "%s: hashed %llu file(s) (%s)\n", ev->sync,
                        (unsigned long long)ev->files_total, a);
            else
                fprintf(err, "hashed %llu file(s) whose mtime moved since the plan (%s)\n",
                        (unsigned long long)ev->files_total, a);
        }
        break;
    case HFS_APPLY_EVENT_UPLOAD_START:
        hfs_human_size(a, sizeof(a), ev->bytes_total);
        fprintf(err, "%s: uploading %llu LFS file(s) (%s)…\n", ev->sync,
                (unsigned long long)ev->files_total, a);
        break;
    case HFS_APPLY_EVENT_UPLOAD_PROGRESS:
    case HFS_APPLY_EVENT_COMMIT_PROGRESS: {
        char text[256];
        progress_text(text, sizeof(text), ev);
        fprintf(err, "%s: %s\n", ev->sync, text);
        break;
    }
    case HFS_APPLY_EVENT_UPLOAD_DONE:
        hfs_human_size(a, sizeof(a), ev->bytes_total);
        hfs_human_size(b, sizeof(b), (uint64_t)rate_of(ev));
        fprintf(err, "%s: uploaded %llu LFS file(s) (%s) in %.1f s (%s/s)\n", ev->sync,
                (unsigned long long)ev->files_total, a, ev->seconds, b);
        break;
    case HFS_APPLY_EVENT_COMMIT: {
        char step[48] = "";
        if (ev->steps > 1)
            snprintf(step, sizeof(step), " (commit %zu/%zu)", ev->step, ev->steps);
        if (ev->pr_url)
            fprintf(out, "pull request with commit %.7s on %s%s: %s\n", ev->commit_oid, where, step,
                    ev->pr_url);
        else
            fprintf(out, "committed %.7s to %s%s: %s\n", ev->commit_oid, where, step, ev->url);
        if (ev->recovered)
            fprintf(err,
                    "%s: the commit had landed already (the hub answered it with an error, or "
                    "an interrupted apply of this plan made it): it was found on the branch by "
                    "the plan's id, and not made again\n",
                    ev->sync);
        break;
    }
    case HFS_APPLY_EVENT_LARGE_STATUS: {
        char text[512];
        exec_large_status_format(text, sizeof(text), ev);
        fprintf(err, "%s: %s\n", ev->sync, text);
        break;
    }
    case HFS_APPLY_EVENT_PULL_REQUEST:
        fprintf(out, "pull request #%ld (%s) on %s: %s\n", ev->pr_num, ev->pr_state, where,
                ev->url);
        break;
    case HFS_APPLY_EVENT_ALREADY_APPLIED:
        fprintf(out, "%s: already applied: %s\n", ev->sync, ev->message);
        break;
    case HFS_APPLY_EVENT_DONE:
        if (ev->message) {
            fprintf(out, "%s\n", ev->message);
        } else {
            hfs_human_size(a, sizeof(a), ev->bytes_done);
            fprintf(out, "Applied: %zu commit(s), %llu LFS file(s) uploaded (%s), in %.1f s.\n",
                    ev->commits, (unsigned long long)ev->files_done, a, ev->seconds);
        }
        break;
    }
    fflush(err);
    fflush(out);
}

void hfs_apply_printer_event(void *printer, const hfs_apply_event *ev)
{
    hfs_apply_printer *p = printer;
    double now = hfs_now();
    bool progress = is_progress(ev->kind);
    bool final = progress && ev->bytes_done >= ev->bytes_total &&
                 (ev->kind == HFS_APPLY_EVENT_COMMIT_PROGRESS || ev->files_done >= ev->files_total);
    switch (p->mode) {
    case HFS_APPLY_PRINT_QUIET:
        return;
    case HFS_APPLY_PRINT_JSON:
        if (progress && !final && now - p->last_progress < JSON_INTERVAL &&
            p->last_kind == ev->kind)
            return;
        if (progress) {
            p->last_progress = now;
            p->last_kind = ev->kind;
        }
        char *line = hfs_apply_event_to_json(ev);
        fprintf(p->out, "%s\n", line);
        fflush(p->out);
        free(line);
        return;
    case HFS_APPLY_PRINT_BAR:
        if (progress) {
            if (now - p->last_progress >= BAR_INTERVAL || final) {
                p->last_progress = now;
                draw_bar(p, ev);
            }
            /* The hash phase still says when it is over. */
            if (!(final && ev->kind == HFS_APPLY_EVENT_HASH_PROGRESS))
                return;
        }
        hfs_apply_printer_finish(p);
        print_line(p, ev);
        return;
    case HFS_APPLY_PRINT_PLAIN:
        if (ev->kind == HFS_APPLY_EVENT_LARGE_STATUS) {
            if (now - p->last_large_status < EXEC_LARGE_STATUS_PLAIN_INTERVAL &&
                !exec_large_status_final(ev))
                return;
            p->last_large_status = now;
        }
        if (progress && ev->kind != HFS_APPLY_EVENT_HASH_PROGRESS) {
            /* A line now and then for a long transfer (none for a short one); the upload's
             * start and end have lines of their own. */
            if (p->last_kind != ev->kind) {
                p->last_kind = ev->kind;
                p->last_progress = now;
            }
            if (now - p->last_progress < PLAIN_INTERVAL || final)
                return;
            p->last_progress = now;
        }
        print_line(p, ev);
        return;
    }
}
