/* Test helper: prints a YAML file as JSON, read by hfsync's own YAML layer (core-schema types,
 * anchors, merges), so the schema test feeds ajv exactly the values the C validator sees.
 * Exit 0 with JSON on stdout; exit 3 when the file has no JSON form (a YAML-level problem). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/util.h"
#include "manifest/yaml.h"

static json_t *to_json(const hfs_ynode *n)
{
    switch (n->kind) {
    case HFS_YNULL:
        return json_null();
    case HFS_YBOOL:
        return json_boolean(n->boolean);
    case HFS_YINT:
        return json_integer((json_int_t)n->integer);
    case HFS_YFLOAT:
        return isfinite(n->real) ? json_real(n->real) : NULL; /* JSON has no inf or nan */
    case HFS_YSTR:
        return json_stringn(n->text, n->len);
    case HFS_YSEQ: {
        json_t *a = json_array();
        for (size_t i = 0; i < n->n_items; i++) {
            json_t *v = to_json(n->items[i]);
            if (!v) {
                json_decref(a);
                return NULL;
            }
            json_array_append_new(a, v);
        }
        return a;
    }
    case HFS_YMAP: {
        json_t *o = json_object();
        for (size_t i = 0; i < n->n_pairs; i++) {
            json_t *v = to_json(n->pairs[i].value);
            if (!v) {
                json_decref(o);
                return NULL;
            }
            json_object_setn_new(o, n->pairs[i].key->text, n->pairs[i].key->len, v);
        }
        return o;
    }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    char *text = NULL;
    size_t len = 0;
    hfs_ydoc *doc = NULL;
    hfs_diag_list diags = HFS_DIAG_LIST_INIT;
    json_t *j = NULL;
    int rc = 3;
    if (argc != 2) {
        fprintf(stderr, "usage: yaml2json FILE\n");
        return 2;
    }
    if (hfs_read_file(&text, &len, argv[1], HFS_MANIFEST_MAX_BYTES) != 0) {
        fprintf(stderr, "yaml2json: cannot read %s\n", argv[1]);
        return 2;
    }
    /* Duplicate keys and tags are problems the JSON form would hide, so they count too. */
    if (hfs_yaml_parse(&doc, text, len, argv[1], &diags) != 0 || diags.count > 0)
        goto done;
    j = hfs_ydoc_root(doc) ? to_json(hfs_ydoc_root(doc)) : json_null();
    if (!j)
        goto done;
    if (json_dumpf(j, stdout, JSON_ENCODE_ANY | JSON_COMPACT) == 0)
        rc = 0;
    putchar('\n');
done:
    json_decref(j);
    hfs_diag_list_free(&diags);
    hfs_ydoc_free(doc);
    free(text);
    return rc;
}
