/* Deterministic benchmark trees for bench/plan/run.sh: the same seed always gives the same
 * paths, sizes and bytes, so every run and every machine hashes the same data. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (1u << 20)
#define MiB (1ull << 20)

/* splitmix64: tiny, fast, and good enough to make content that neither compresses nor
 * repeats across files. */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t between(uint64_t *s, uint64_t lo, uint64_t hi)
{
    return lo + next(s) % (hi - lo + 1);
}

static void die(const char *what, const char *path)
{
    fprintf(stderr, "gentree: %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

static void mkdirs(char *path)
{
    for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            die("cannot create", path);
        *p = '/';
    }
}

/* Writes `size` bytes to root/rel: random binary, or JSON-lines text (valid UTF-8, no NUL,
 * so the hub's content sniffing calls it text). */
static void write_file(const char *root, const char *rel, uint64_t size, bool text, uint64_t seed,
                       unsigned char *buf)
{
    static const char alphabet[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \n";
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    mkdirs(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        die("cannot create", path);
    uint64_t s = seed;
    for (uint64_t left = size; left > 0;) {
        size_t n = left < CHUNK ? (size_t)left : CHUNK;
        for (size_t i = 0; i < n; i += 8) {
            uint64_t r = next(&s);
            for (size_t k = 0; k < 8 && i + k < n; k++, r >>= 8)
                buf[i + k] = text ? (unsigned char)alphabet[r & 63] : (unsigned char)r;
        }
        for (size_t done = 0; done < n;) {
            ssize_t w = write(fd, buf + done, n - done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                die("cannot write", path);
            done += (size_t)w;
        }
        left -= n;
    }
    if (close(fd) != 0)
        die("cannot write", path);
}

/* The hashing tree, `total` bytes: half in 256 MiB safetensors shards (LFS by name), about
 * 40 % in 1–10 MiB files, the rest in 1–128 KiB files. The 1–10 MiB and small files mix
 * names an LFS rule claims (.parquet), text the hub keeps regular (.jsonl, .json) and
 * binary only the content sample sends to LFS (.dat, .png), so every branch of the
 * LFS-or-regular decision is hashed. */
static void gen_mixed(const char *root, uint64_t total, uint64_t seed, unsigned char *buf)
{
    uint64_t s = seed, used = 0;
    char rel[256];
    unsigned shards = (unsigned)(total / 2 / (256 * MiB));
    for (unsigned i = 0; i < shards; i++) {
        snprintf(rel, sizeof(rel), "model-%05u-of-%05u.safetensors", i + 1, shards);
        write_file(root, rel, 256 * MiB, false, next(&s), buf);
        used += 256 * MiB;
    }
    uint64_t mid_end = used + (total - used) * 4 / 5;
    for (unsigned i = 0; used < mid_end; i++) {
        uint64_t size = between(&s, 1 * MiB, 10 * MiB);
        if (size > mid_end - used)
            size = mid_end - used;
        static const char *const kinds[] = {"data/train-%05u.parquet", "data/shard-%05u.jsonl",
                                            "blobs/%05u.dat"};
        snprintf(rel, sizeof(rel), kinds[i % 3], i);
        write_file(root, rel, size, i % 3 == 1, next(&s), buf);
        used += size;
    }
    for (unsigned i = 0; used < total; i++) {
        uint64_t size = between(&s, 1024, 128 * 1024);
        if (size > total - used)
            size = total - used;
        bool text = i % 2 == 0;
        snprintf(rel, sizeof(rel), text ? "docs/%03u/%05u.json" : "images/%03u/%05u.png", i / 100,
                 i);
        write_file(root, rel, size, text, next(&s), buf);
        used += size;
    }
}

/* The re-plan tree: `count` small text files, 100 per directory (1,000 directories for
 * 100,000 files), as a dataset of JSON records would be laid out. */
static void gen_small(const char *root, uint64_t count, uint64_t seed, unsigned char *buf)
{
    uint64_t s = seed;
    char rel[256];
    for (uint64_t i = 0; i < count; i++) {
        snprintf(rel, sizeof(rel), "part-%04llu/record-%07llu.json",
                 (unsigned long long)(i / 100), (unsigned long long)i);
        write_file(root, rel, between(&s, 64, 2048), true, next(&s), buf);
    }
}

int main(int argc, char **argv)
{
    if (argc != 5 || (strcmp(argv[1], "mixed") != 0 && strcmp(argv[1], "small") != 0)) {
        fprintf(stderr, "usage: gentree mixed DIR TOTAL_BYTES SEED\n"
                        "       gentree small DIR FILE_COUNT SEED\n");
        return 64;
    }
    const char *root = argv[2];
    uint64_t amount = strtoull(argv[3], NULL, 10), seed = strtoull(argv[4], NULL, 10);
    unsigned char *buf = malloc(CHUNK);
    if (!buf)
        return 1;
    if (mkdir(root, 0755) != 0 && errno != EEXIST)
        die("cannot create", root);
    if (strcmp(argv[1], "mixed") == 0)
        gen_mixed(root, amount, seed, buf);
    else
        gen_small(root, amount, seed, buf);
    free(buf);
    return 0;
}
