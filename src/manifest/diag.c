/* Manifest diagnostics: "FILE:LINE:COL: key.path: message" lines, collected and sorted. */
#include "manifest/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

void hfs_diag_add(hfs_diag_list *list, const char *file, int line, int col, const char *key_path,
                  const char *fmt, ...)
{
    if (!list)
        return;
    if (list->count >= HFS_MANIFEST_MAX_DIAGS) {
        list->dropped++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    hfs_diag d = {hfs_strdup(file ? file : ""), line, col, hfs_strdup(key_path ? key_path : ""),
                  hfs_vsprintf(fmt, ap)};
    va_end(ap);
    HFS_PUSH(list->items, list->count, list->cap, d);
}

static int by_place(const void *a, const void *b)
{
    const hfs_diag *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return (x->col > y->col) - (x->col < y->col);
}

void hfs_diag_list_sort(hfs_diag_list *list)
{
    /* A merge sort through a copy would do too; insertion sort keeps equal places in the
     * order they were found (walk order), and lists are capped at a few hundred entries. */
    for (size_t i = 1; i < list->count; i++) {
        hfs_diag d = list->items[i];
        size_t j = i;
        while (j > 0 && by_place(&list->items[j - 1], &d) > 0) {
            list->items[j] = list->items[j - 1];
            j--;
        }
        list->items[j] = d;
    }
}

char *hfs_diag_format(const hfs_diag *d)
{
    hfs_buf b = HFS_BUF_INIT;
    hfs_buf_puts(&b, d->file);
    if (d->line > 0)
        hfs_buf_printf(&b, ":%d:%d", d->line, d->col);
    hfs_buf_puts(&b, ": ");
    if (d->key_path && *d->key_path)
        hfs_buf_printf(&b, "%s: ", d->key_path);
    hfs_buf_puts(&b, d->message);
    return hfs_buf_detach(&b);
}

void hfs_diag_list_free(hfs_diag_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].file);
        free(list->items[i].key_path);
        free(list->items[i].message);
    }
    free(list->items);
    list->items = NULL;
    list->count = list->cap = list->dropped = 0;
}
