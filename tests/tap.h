/* A tiny TAP producer for the C unit tests: each check prints "ok N - name" or
 * "not ok N - name"; tests/run_suite.py counts them across the whole suite. */
#ifndef HFS_TAP_H
#define HFS_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_count, tap_failures;

static inline bool tap_vok(bool cond, const char *fmt, va_list ap)
{
    char name[1024];
    tap_count++;
    printf("%sok %d - ", cond ? "" : "not ", tap_count);
    vsnprintf(name, sizeof(name), fmt, ap);
    /* a name is one line: a newline in it (a test of paths with one) would end the line */
    for (const char *c = name; *c; c++)
        fputs(*c == '\n' ? "\\n" : *c == '\r' ? "\\r" : (char[]){*c, 0}, stdout);
    putchar('\n');
    fflush(stdout);
    if (!cond)
        tap_failures++;
    return cond;
}

/* One result line. Returns cond, so a caller can add a diagnostic on failure. */
static inline __attribute__((format(printf, 2, 3))) bool tap_ok(bool cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool r = tap_vok(cond, fmt, ap);
    va_end(ap);
    return r;
}

/* A diagnostic line ("# …"): shown in the log, not counted. */
/* A diagnostic: every line of it starts with "# ", so a multi-line message (a plan's text,
 * an error listing paths) stays TAP. */
static inline __attribute__((format(printf, 1, 2))) void tap_diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    for (const char *line = text;;) {
        const char *nl = strchr(line, '\n');
        printf("# %.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
        if (!nl)
            break;
        line = nl + 1;
    }
    free(text);
}

static inline bool tap_is_str(const char *got, const char *want, const char *name)
{
    bool same = (got == NULL && want == NULL) || (got && want && strcmp(got, want) == 0);
    if (!tap_ok(same, "%s", name)) {
        tap_diag("  got:  %s%s%s", got ? "\"" : "", got ? got : "NULL", got ? "\"" : "");
        tap_diag("  want: %s%s%s", want ? "\"" : "", want ? want : "NULL", want ? "\"" : "");
    }
    return same;
}

static inline bool tap_is_int(long long got, long long want, const char *name)
{
    if (!tap_ok(got == want, "%s", name)) {
        tap_diag("  got:  %lld", got);
        tap_diag("  want: %lld", want);
    }
    return got == want;
}

static inline void tap_skip(const char *why)
{
    tap_count++;
    printf("ok %d # SKIP %s\n", tap_count, why);
}

/* Prints the plan line and gives main's return value. */
static inline int tap_done(void)
{
    printf("1..%d\n", tap_count);
    return tap_failures ? 1 : 0;
}

#endif
