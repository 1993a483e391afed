/* Replays fuzz inputs without libFuzzer: runs one target's LLVMFuzzerTestOneInput over every
 * file of the folders given (its seed corpus and its kept crash inputs), printing TAP. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Fuzz inputs are small (libFuzzer's -max_len); a replay refuses anything else. */
#define INPUT_MAX (1u << 20)

typedef struct {
    char **paths;
    size_t n, cap;
} file_list;

static void list_add(file_list *l, char *path)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->paths = realloc(l->paths, l->cap * sizeof(char *));
        if (!l->paths)
            abort();
    }
    l->paths[l->n++] = path;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files of dir, sorted by name (a missing folder has none). */
static void list_dir(file_list *l, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        printf("# %s: %s (no inputs there)\n", dir, strerror(errno));
        return;
    }
    size_t first = l->n;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *path = malloc(len);
        if (!path)
            abort();
        snprintf(path, len, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            list_add(l, path);
        else
            free(path);
    }
    closedir(d);
    qsort(l->paths + first, l->n - first, sizeof(char *), cmp_str);
}

/* Reads a whole input (at most INPUT_MAX bytes) into *out; -1 with a TAP diagnostic. */
static int read_input(unsigned char **out, size_t *len, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("# cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    unsigned char *buf = malloc(INPUT_MAX + 1);
    if (!buf)
        abort();
    size_t n = fread(buf, 1, INPUT_MAX + 1, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || n > INPUT_MAX) {
        printf("# %s: %s\n", path, failed ? "read error" : "larger than 1 MiB: not a fuzz input");
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

int main(int argc, char **argv)
{
    file_list files = {0};
    int failures = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
        return 64;
    }
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISREG(st.st_mode)) {
            char *copy = strdup(argv[i]);
            if (!copy)
                abort();
            list_add(&files, copy);
        } else {
            list_dir(&files, argv[i]);
        }
    }
    printf("1..%zu\n", files.n);
    for (size_t i = 0; i < files.n; i++) {
        unsigned char *data = NULL;
        size_t len = 0;
        /* Named before the run: if the input crashes the process, the log says which. */
        printf("# %s\n", files.paths[i]);
        fflush(stdout);
        int ok = read_input(&data, &len, files.paths[i]) == 0;
        if (ok)
            LLVMFuzzerTestOneInput(data, len);
        printf("%s %zu - %s (%zu bytes)\n", ok ? "ok" : "not ok", i + 1, files.paths[i], len);
        failures += !ok;
        free(data);
        free(files.paths[i]);
    }
    free(files.paths);
    return failures ? 1 : 0;
}
