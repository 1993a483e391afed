/* Collecting manifest problems: each one names the file, line, column and key path, and a
 * load gathers all of them (up to a cap) so a user fixes a file in one pass. */
#ifndef HFS_MANIFEST_DIAG_H
#define HFS_MANIFEST_DIAG_H

#include "hfsync/manifest.h"

/* Adds a problem. Past HFS_MANIFEST_MAX_DIAGS it is only counted (list->dropped). */
void hfs_diag_add(hfs_diag_list *list, const char *file, int line, int col, const char *key_path,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Orders the problems by place, keeping the order of those at the same place. */
void hfs_diag_list_sort(hfs_diag_list *list);

#endif
