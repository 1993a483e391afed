/* Helpers shared by the fuzz targets: inputs as C strings and lines, a scratch folder, and
 * the hub client session the response parsers need for their messages. */
#ifndef HFS_FUZZ_H
#define HFS_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The input as a NUL-terminated string (it may hold NULs of its own). Caller frees. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Splits s in place at every '\n' (a '\r' before it goes too); *n gets the count. The
 * array points into s. Caller frees the array. */
static inline char **fuzz_lines(char *s, size_t *n)
{
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == '\n';
    char **lines = calloc(cap, sizeof(char *));
    if (!lines)
        abort();
    *n = 0;
    for (char *p = s;;) {
        char *nl = strchr(p, '\n');
        if (nl) {
            *nl = '\0';
            if (nl > p && nl[-1] == '\r')
                nl[-1] = '\0';
        }
        lines[(*n)++] = p;
        if (!nl)
            break;
        p = nl + 1;
    }
    return lines;
}

#endif
