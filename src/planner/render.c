/* Renderings of a plan for people: text for terminals (`+ ~ > -` per path and a summary
 * line) and Markdown for a pull-request comment (collapsible per sync, long lists cut). */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/util.h"
#include "planner/plan.h"

/* Rows of one sync's table in Markdown; the rest is counted, not listed, so the comment stays
 * under the 65,536 characters a GitHub comment may hold. */
#define MARKDOWN_MAX_ROWS 100
#define TEXT_MAX_PATH_COLUMN 60

/* The order operations are listed in: what arrives, what changes, what is reused, what goes. */
static int kind_rank(hfs_op_kind kind)
{
    switch (kind) {
    case HFS_OP_ADD:
        return 0;
    case HFS_OP_UPDATE:
        return 1;
    case HFS_OP_COPY:
        return 2;
    case HFS_OP_DELETE:
        return 3;
    }
    return 4;
}

static int compare_listed(const void *pa, const void *pb)
{
    const hfs_plan_op *a = *(const hfs_plan_op *const *)pa, *b = *(const hfs_plan_op *const *)pb;
    int c = kind_rank(a->kind) - kind_rank(b->kind);
    return c ? c : strcmp(a->path, b->path);
}

/* Every op of a sync, in listing order. Caller frees the array (not the ops). */
static const hfs_plan_op **listed_ops(const hfs_plan_sync *s, size_t *n)
{
    size_t total = 0;
    for (size_t c = 0; c < s->n_commits; c++)
        total += s->commits[c].n_ops;
    const hfs_plan_op **ops = hfs_malloc((total ? total : 1) * sizeof(*ops));
    *n = 0;
    for (size_t c = 0; c < s->n_commits; c++)
        for (size_t i = 0; i < s->commits[c].n_ops; i++)
            ops[(*n)++] = &s->commits[c].ops[i];
    qsort(ops, *n, sizeof(*ops), compare_listed);
    return ops;
}

static char op_sign(hfs_op_kind kind)
{
    return kind == HFS_OP_ADD ? '+' : kind == HFS_OP_UPDATE ? '~' : kind == HFS_OP_COPY ? '>' : '-';
}

static void human(char out[32], uint64_t bytes)
{
    hfs_human_size(out, 32, bytes);
}

/* "2 to add, 1 to update, 1 to delete, 1 to copy, 120 unchanged" */
static void put_counts(hfs_buf *b, const hfs_plan_summary *s)
{
    hfs_buf_printf(b, "%llu to add, %llu to update, %llu to delete, %llu to copy, %llu unchanged",
                   (unsigned long long)s->n_add, (unsigned long long)s->n_update,
                   (unsigned long long)s->n_delete, (unsigned long long)s->n_copy,
                   (unsigned long long)s->n_unchanged);
}

/* "4.2 GB to upload in 2 commits" */
static void put_upload(hfs_buf *b, const hfs_plan_summary *s)
{
    char size[32];
    human(size, s->upload_bytes);
    hfs_buf_printf(b, "%s to upload in %llu commit%s", size, (unsigned long long)s->commits,
                   s->commits == 1 ? "" : "s");
}

static void put_total_line(hfs_buf *b, const hfs_plan *plan, bool markdown)
{
    hfs_plan_summary total;
    hfs_plan_get_summary(&total, plan);
    if (!hfs_plan_has_changes(plan)) {
        hfs_buf_puts(b, markdown ? "**No changes.**" : "No changes.");
        return;
    }
    hfs_buf_puts(b, markdown ? "**Plan:** " : "Plan: ");
    if (total.n_create)
        hfs_buf_printf(b, "%llu repo%s to create, ", (unsigned long long)total.n_create,
                       total.n_create == 1 ? "" : "s");
    put_counts(b, &total);
    hfs_buf_puts(b, "; ");
    put_upload(b, &total);
    hfs_buf_putc(b, '.');
}

static const char *short_oid(const char *oid)
{
    static _Thread_local char out[8];
    snprintf(out, sizeof(out), "%.7s", oid);
    return out;
}

/* ---- text ------------------------------------------------------------------------------ */

static void text_sync_header(hfs_buf *b, const hfs_plan_sync *s)
{
    hfs_buf_printf(b, "sync %s: %s -> %s (%s@%s", s->name, s->folder_path, s->repo_id,
                   hfs_repo_type_name(s->repo_type), s->revision);
    if (s->path_in_repo[0])
        hfs_buf_printf(b, ", in %s/", s->path_in_repo);
    hfs_buf_puts(b, "), ");
    if (s->create)
        hfs_buf_printf(b, "new %srepo (created by apply)", s->create_private ? "private " : "");
    else
        hfs_buf_printf(b, "remote %s", short_oid(s->remote_head));
    hfs_buf_putc(b, '\n');
}

static void text_op(hfs_buf *b, const hfs_plan_op *op, int width)
{
    char size[32];
    human(size, op->size);
    const char *lfs = op->lfs ? "[lfs] " : "      ";
    switch (op->kind) {
    case HFS_OP_ADD:
    case HFS_OP_UPDATE:
        hfs_buf_printf(b, "  %c %-*s %s%s", op_sign(op->kind), width, op->path, lfs, size);
        if (!op->upload)
            hfs_buf_puts(b, " (same content as another file: uploaded once)");
        break;
    case HFS_OP_COPY:
        hfs_buf_printf(b, "  > %s -> %s [lfs] %s (server-side copy)", op->from, op->path, size);
        break;
    case HFS_OP_DELETE:
        hfs_buf_printf(b, "  - %s", op->path);
        break;
    }
    hfs_buf_putc(b, '\n');
}

static void text_commits(hfs_buf *b, const hfs_plan_sync *s)
{
    const char *pr = s->create_pr ? ", opening a pull request" : "";
    if (s->n_commits == 1) {
        hfs_buf_printf(b, "  1 commit: \"%s\"%s\n", s->commits[0].message, pr);
        return;
    }
    hfs_buf_printf(b, "  %zu commits (strategy %s%s):\n", s->n_commits,
                   hfs_commit_strategy_name(s->strategy), pr);
    for (size_t c = 0; c < s->n_commits; c++) {
        const hfs_plan_commit *commit = &s->commits[c];
        uint64_t bytes = 0;
        for (size_t i = 0; i < commit->n_ops; i++)
            bytes += commit->ops[i].upload ? commit->ops[i].size : 0;
        char size[32];
        human(size, bytes);
        hfs_buf_printf(b, "    \"%s\": %zu operation%s, %s to upload\n", commit->message,
                       commit->n_ops, commit->n_ops == 1 ? "" : "s", size);
    }
}

static void render_text(hfs_buf *b, const hfs_plan *plan)
{
    for (size_t i = 0; i < plan->n_syncs; i++) {
        const hfs_plan_sync *s = &plan->syncs[i];
        text_sync_header(b, s);
        size_t n;
        const hfs_plan_op **ops = listed_ops(s, &n);
        int width = 0;
        for (size_t k = 0; k < n; k++)
            if (ops[k]->kind == HFS_OP_ADD || ops[k]->kind == HFS_OP_UPDATE) {
                int len = (int)strlen(ops[k]->path);
                width = len > width ? len : width;
            }
        width = width > TEXT_MAX_PATH_COLUMN ? TEXT_MAX_PATH_COLUMN : width;
        for (size_t k = 0; k < n; k++)
            text_op(b, ops[k], width);
        free(ops);
        for (size_t w = 0; w < s->n_warnings; w++)
            hfs_buf_printf(b, "  warning: %s\n", s->warnings[w]);
        if (s->n_commits > 0)
            text_commits(b, s);
        else if (!s->create)
            hfs_buf_printf(b, "  no changes (%llu unchanged)\n",
                           (unsigned long long)s->summary.n_unchanged);
        if (plan->n_syncs > 1 && (s->n_commits > 0 || s->create)) {
            hfs_buf_printf(b, "  %s: ", s->name);
            put_counts(b, &s->summary);
            hfs_buf_puts(b, "; ");
            put_upload(b, &s->summary);
            hfs_buf_puts(b, ".\n");
        }
    }
    put_total_line(b, plan, false);
    hfs_buf_putc(b, '\n');
}

/* ---- markdown -------------------------------------------------------------------------- */

/* Writes c made safe for HTML and for a Markdown table cell; with `markdown`, Markdown's own
 * emphasis, link and code characters are neutralised too (inside <code> they are literal). */
static void md_char(hfs_buf *b, char c, bool markdown)
{
    switch (c) {
    case '&':
        hfs_buf_puts(b, "&amp;");
        return;
    case '<':
        hfs_buf_puts(b, "&lt;");
        return;
    case '>':
        hfs_buf_puts(b, "&gt;");
        return;
    case '|':
        hfs_buf_puts(b, "&#124;");
        return;
    case '\n':
    case '\r':
        hfs_buf_putc(b, ' ');
        return;
    }
    if (markdown && c == '`') {
        hfs_buf_puts(b, "&#96;");
        return;
    }
    if (markdown && strchr("*_[]\\", c))
        hfs_buf_putc(b, '\\');
    hfs_buf_putc(b, c);
}

/* Text that can hold anything (a path, a commit message), made safe for HTML and for a
 * Markdown table cell. */
static void md_escape(hfs_buf *b, const char *s)
{
    for (; *s; s++)
        md_char(b, *s, true);
}

static void md_code(hfs_buf *b, const char *s)
{
    hfs_buf_puts(b, "<code>");
    for (; *s; s++)
        md_char(b, *s, false);
    hfs_buf_puts(b, "</code>");
}

static void md_sync(hfs_buf *b, const hfs_plan_sync *s)
{
    hfs_buf_puts(b, "<details>\n<summary><b>");
    md_escape(b, s->name);
    hfs_buf_puts(b, "</b>: ");
    md_code(b, s->folder_path);
    hfs_buf_puts(b, " → ");
    md_code(b, s->repo_id);
    hfs_buf_printf(b, " (%s@", hfs_repo_type_name(s->repo_type));
    md_escape(b, s->revision);
    if (s->path_in_repo[0]) {
        hfs_buf_puts(b, ", in ");
        md_code(b, s->path_in_repo);
    }
    hfs_buf_puts(b, ") — ");
    if (s->n_commits == 0 && !s->create) {
        hfs_buf_printf(b, "no changes (%llu unchanged)",
                       (unsigned long long)s->summary.n_unchanged);
    } else {
        if (s->create)
            hfs_buf_puts(b, "new repo, ");
        put_counts(b, &s->summary);
        hfs_buf_puts(b, "; ");
        put_upload(b, &s->summary);
    }
    hfs_buf_puts(b, "</summary>\n\n");

    if (s->create)
        hfs_buf_printf(b, "The repo does not exist yet: apply creates it (%s).\n\n",
                       s->create_private ? "private" : "public");
    else
        hfs_buf_printf(b, "Planned against remote commit `%s`.\n\n", short_oid(s->remote_head));
    for (size_t w = 0; w < s->n_warnings; w++) {
        hfs_buf_puts(b, "> **Warning:** ");
        md_escape(b, s->warnings[w]);
        hfs_buf_puts(b, "\n\n");
    }

    size_t n;
    const hfs_plan_op **ops = listed_ops(s, &n);
    if (n > 0) {
        hfs_buf_puts(b, "| | Path | Mode | Size |\n|:-:|---|---|--:|\n");
        size_t shown = n > MARKDOWN_MAX_ROWS ? MARKDOWN_MAX_ROWS : n;
        for (size_t k = 0; k < shown; k++) {
            const hfs_plan_op *op = ops[k];
            char size[32] = "";
            if (op->kind != HFS_OP_DELETE)
                human(size, op->size);
            hfs_buf_printf(b, "| %s | ",
                           op->kind == HFS_OP_ADD      ? "+"
                           : op->kind == HFS_OP_UPDATE ? "~"
                           : op->kind == HFS_OP_COPY   ? "&gt;"
                                                       : "−");
            md_code(b, op->path);
            if (op->kind == HFS_OP_COPY) {
                hfs_buf_puts(b, " ← ");
                md_code(b, op->from);
                hfs_buf_puts(b, " (server-side copy)");
            } else if (!op->upload && op->kind != HFS_OP_DELETE) {
                hfs_buf_puts(b, " (same content as another file: uploaded once)");
            }
            hfs_buf_printf(b, " | %s | %s |\n",
                           op->kind == HFS_OP_DELETE ? "" : hfs_plan_mode_name(op->lfs), size);
        }
        if (shown < n)
            hfs_buf_printf(b,
                           "\n_… and %zu more operations (%zu in all); `hfsync show` on the "
                           "plan file lists every one._\n",
                           n - shown, n);
        hfs_buf_putc(b, '\n');
    }
    free(ops);

    if (s->n_commits == 1) {
        hfs_buf_puts(b, "1 commit: \"");
        md_escape(b, s->commits[0].message);
        hfs_buf_putc(b, '"');
    } else if (s->n_commits > 1) {
        hfs_buf_printf(b, "%zu commits (strategy %s): ", s->n_commits,
                       hfs_commit_strategy_name(s->strategy));
        for (size_t c = 0; c < s->n_commits; c++) {
            hfs_buf_puts(b, c ? "; \"" : "\"");
            md_escape(b, s->commits[c].message);
            hfs_buf_printf(b, "\" (%zu operation%s)", s->commits[c].n_ops,
                           s->commits[c].n_ops == 1 ? "" : "s");
        }
    }
    if (s->n_commits > 0)
        hfs_buf_printf(b, "%s.\n\n", s->create_pr ? ", opening a pull request" : "");
    hfs_buf_puts(b, "</details>\n\n");
}

static void render_markdown(hfs_buf *b, const hfs_plan *plan)
{
    hfs_buf_puts(b, "### hfsync plan\n\n");
    put_total_line(b, plan, true);
    hfs_buf_puts(b, "\n\n");
    for (size_t i = 0; i < plan->n_syncs; i++)
        md_sync(b, &plan->syncs[i]);
    hfs_buf_puts(b, "<sub>Plan <code>");
    hfs_buf_printf(b, "%.12s", plan->plan_id);
    hfs_buf_puts(b, "</code> of ");
    md_code(b, plan->manifest_path);
    hfs_buf_printf(b, " (manifest <code>%.12s</code>), made by ", plan->manifest_digest);
    md_escape(b, plan->tool);
    hfs_buf_puts(b, " for ");
    md_escape(b, plan->endpoint);
    hfs_buf_puts(b, ".</sub>\n");
}

void hfs_plan_progress_format(char *out, size_t out_size, const hfs_plan_progress *p)
{
    char done[32], total[32], rate[32];
    human(done, p->bytes_done);
    human(total, p->bytes_total);
    human(rate, p->seconds > 0 ? (uint64_t)((double)p->bytes_done / p->seconds) : 0);
    snprintf(out, out_size, "hashing %s: %llu/%llu files, %s of %s, %s/s", p->sync,
             (unsigned long long)p->files_done, (unsigned long long)p->files_total, done, total,
             rate);
}

int hfs_plan_render(char **out, const hfs_plan *plan, hfs_plan_format format)
{
    hfs_buf b = HFS_BUF_INIT;
    *out = NULL;
    switch (format) {
    case HFS_PLAN_JSON:
        *out = hfs_plan_to_json(plan);
        return 0;
    case HFS_PLAN_TEXT:
        render_text(&b, plan);
        break;
    case HFS_PLAN_MARKDOWN:
        render_markdown(&b, plan);
        break;
    default:
        return hfs_error_set(HFS_EINVALID, "unknown plan format %d", (int)format);
    }
    *out = hfs_buf_detach(&b);
    return 0;
}

int hfs_plan_print(FILE *f, const hfs_plan *plan, hfs_plan_format format)
{
    char *text = NULL;
    int rc = hfs_plan_render(&text, plan, format);
    if (rc < 0)
        return rc;
    size_t len = strlen(text);
    if (fwrite(text, 1, len, f) != len || fflush(f) != 0)
        rc = hfs_error_set(HFS_ERROR, "cannot write the plan to the output");
    free(text);
    return rc;
}
