/* YAML text → a small tree of typed nodes with source positions, on libyaml's event parser.
 * Aliases share nodes; merge keys (`<<`) are applied; duplicate keys and alias bombs are caught. */
#ifndef HFS_YAML_H
#define HFS_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manifest/diag.h"

/* Plain scalars are typed by the YAML 1.2 core schema (what editors use): `true`, `12`,
 * `1.5`, `~` and the empty value are not strings; quoted scalars always are. */
typedef enum {
    HFS_YNULL,
    HFS_YBOOL,
    HFS_YINT,
    HFS_YFLOAT,
    HFS_YSTR,
    HFS_YSEQ,
    HFS_YMAP,
} hfs_ykind;

typedef struct hfs_ynode hfs_ynode;

typedef struct {
    hfs_ynode *key; /* always a scalar */
    hfs_ynode *value;
} hfs_ypair;

struct hfs_ynode {
    hfs_ykind kind;
    int line, col;     /* 1-based place of the node (for an alias: of the anchored node) */
    char *text;        /* scalars: the value as written (strings: the string) */
    size_t len;        /* length of text (a string may hold NUL bytes) */
    bool boolean;      /* HFS_YBOOL */
    int64_t integer;   /* HFS_YINT */
    double real;       /* HFS_YFLOAT */
    hfs_ynode **items; /* HFS_YSEQ */
    size_t n_items;
    hfs_ypair *pairs; /* HFS_YMAP: explicit keys first, then merged ones, no duplicates */
    size_t n_pairs;
    uint64_t expanded; /* nodes in this subtree with aliases expanded (bookkeeping) */
    int height;        /* nesting levels below and including this node (bookkeeping) */
};

typedef struct hfs_ydoc hfs_ydoc;

/* Parses one YAML document. Problems go to `diags` under the name `file`. A problem that
 * stops parsing (bad UTF-8, a syntax error, an alias bomb, more than one document) returns
 * HFS_EINVALID and no document; duplicate keys and unsupported tags are recorded and the
 * document is still returned (the first of duplicate keys is kept), so the caller can report
 * more problems of the same file. */
int hfs_yaml_parse(hfs_ydoc **out, const char *text, size_t len, const char *file,
                   hfs_diag_list *diags);
/* The document's root node; NULL for a file with no document at all (empty, or comments). */
const hfs_ynode *hfs_ydoc_root(const hfs_ydoc *doc);
void hfs_ydoc_free(hfs_ydoc *doc);

/* The value under `key` in a mapping, or NULL. */
const hfs_ynode *hfs_ynode_get(const hfs_ynode *map, const char *key);
/* "a string", "a number", "a mapping", … for messages. */
const char *hfs_ykind_name(hfs_ykind kind);

#endif
