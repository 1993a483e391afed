/* The YAML layer of src/manifest/yaml.c: core-schema typing, anchors, merges, duplicate keys,
 * and the limits that refuse alias bombs and deep nests quickly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/util.h"
#include "manifest/yaml.h"
#include "tap.h"

static hfs_ydoc *parse(const char *text, hfs_diag_list *diags)
{
    hfs_ydoc *doc = NULL;
    hfs_yaml_parse(&doc, text, strlen(text), "t.yaml", diags);
    return doc;
}

static void test_core_schema(void)
{
    static const struct {
        const char *value;
        hfs_ykind kind;
    } cases[] = {
        {"true", HFS_YBOOL},
        {"True", HFS_YBOOL},
        {"FALSE", HFS_YBOOL},
        {"yes", HFS_YSTR},
        {"no", HFS_YSTR},
        {"on", HFS_YSTR},
        {"12", HFS_YINT},
        {"-3", HFS_YINT},
        {"0x1F", HFS_YINT},
        {"0o17", HFS_YINT},
        {"1.5", HFS_YFLOAT},
        {"1e3", HFS_YFLOAT},
        {".inf", HFS_YFLOAT},
        {"-.Inf", HFS_YFLOAT},
        {".nan", HFS_YFLOAT},
        {"~", HFS_YNULL},
        {"null", HFS_YNULL},
        {"", HFS_YNULL},
        {"\"12\"", HFS_YSTR},
        {"'true'", HFS_YSTR},
        {"10MB", HFS_YSTR},
        {"!!str 12", HFS_YSTR},
        {"1_000", HFS_YSTR},
        {"0b101", HFS_YSTR},
        {"99999999999999999999", HFS_YFLOAT}, /* past 64 bits: still a number */
    };
    for (size_t i = 0; i < HFS_ARRAY_LEN(cases); i++) {
        char *text = hfs_sprintf("k: %s\n", cases[i].value);
        hfs_diag_list d = HFS_DIAG_LIST_INIT;
        hfs_ydoc *doc = parse(text, &d);
        const hfs_ynode *v = hfs_ynode_get(hfs_ydoc_root(doc), "k");
        tap_ok(v && v->kind == cases[i].kind && d.count == 0, "'%s' is %s", cases[i].value,
               hfs_ykind_name(cases[i].kind));
        hfs_ydoc_free(doc);
        hfs_diag_list_free(&d);
        free(text);
    }
    hfs_diag_list d = HFS_DIAG_LIST_INIT;
    hfs_ydoc *doc = parse("a: 0x1F\nb: 0o17\nc: -3\nd: true\n", &d);
    const hfs_ynode *r = hfs_ydoc_root(doc);
    tap_ok(hfs_ynode_get(r, "a")->integer == 31 && hfs_ynode_get(r, "b")->integer == 15 &&
               hfs_ynode_get(r, "c")->integer == -3 && hfs_ynode_get(r, "d")->boolean,
           "integer and boolean values");
    hfs_ydoc_free(doc);
    hfs_diag_list_free(&d);
}

static void test_positions(void)
{
    hfs_diag_list d = HFS_DIAG_LIST_INIT;
    hfs_ydoc *doc = parse("# comment\ntop:\n  caf\xc3\xa9: x\n  key:   value\n", &d);
    const hfs_ynode *top = hfs_ynode_get(hfs_ydoc_root(doc), "top");
    const hfs_ynode *v = hfs_ynode_get(top, "key");
    tap_ok(v && v->line == 4 && v->col == 10, "value place is 1-based line and column");
    tap_ok(top->pairs[0].key->line == 3 && top->pairs[0].key->col == 3, "key place");
    tap_ok(top->pairs[1].key->col == 3, "columns count characters, not bytes");
    hfs_ydoc_free(doc);
    hfs_diag_list_free(&d);
}

static void test_anchors_and_merges(void)
{
    hfs_diag_list d = HFS_DIAG_LIST_INIT;
    hfs_ydoc *doc = parse("base: &b {x: 1, y: 2}\n"
                          "other: &o {y: 3, z: 4}\n"
                          "list: &l [a, b]\n"
                          "use: *l\n"
                          "m:\n  <<: [*b, *o]\n  x: 9\n"
                          "quoted:\n  \"<<\": *b\n",
                          &d);
    const hfs_ynode *r = hfs_ydoc_root(doc);
    tap_ok(hfs_ynode_get(r, "use") == hfs_ynode_get(r, "list"), "an alias shares its node");
    const hfs_ynode *m = hfs_ynode_get(r, "m");
    tap_ok(m && m->n_pairs == 3, "merge: three keys");
    tap_ok(hfs_ynode_get(m, "x")->integer == 9, "merge: the mapping's own key wins");
    tap_ok(hfs_ynode_get(m, "y")->integer == 2, "merge: the first merged mapping wins");
    tap_ok(hfs_ynode_get(m, "z")->integer == 4, "merge: keys of the later mapping come in");
    tap_ok(!hfs_ynode_get(m, "<<"), "merge: the << key itself is gone");
    tap_ok(hfs_ynode_get(hfs_ynode_get(r, "quoted"), "<<") != NULL,
           "a quoted \"<<\" is an ordinary key");
    tap_is_int((long long)d.count, 0, "no problems");
    hfs_ydoc_free(doc);
    hfs_diag_list_free(&d);
}

static void test_problems(void)
{
    hfs_diag_list d = HFS_DIAG_LIST_INIT;
    hfs_ydoc *doc = parse("a:\n  b: 1\n  c: 2\n  b: 3\n  [x]: 4\n", &d);
    tap_ok(doc != NULL, "duplicate keys still give a document");
    hfs_diag_list_sort(&d);
    tap_ok(d.count == 2 && strcmp(d.items[0].key_path, "a.b") == 0 && d.items[0].line == 4 &&
               strstr(d.items[0].message, "first written at line 2"),
           "duplicate key reported at the second one, naming the first");
    tap_ok(d.count == 2 && strstr(d.items[1].message, "a key must be a plain value"),
           "a list as a key is reported");
    tap_is_int(hfs_ynode_get(hfs_ynode_get(hfs_ydoc_root(doc), "a"), "b")->integer, 1,
               "the first of duplicate keys is kept");
    hfs_ydoc_free(doc);
    hfs_diag_list_free(&d);

    static const struct {
        const char *text, *message;
    } fatal[] = {
        {"a: *nope\n", "refers to no anchor"},
        {"a: &x [*x]\n", "a cycle"},
        {"a: 1\n---\nb: 2\n", "second YAML document"},
        {"a: [1, 2\n", "YAML syntax error"},
        {"a:\n\t- b\n", "not tabs"},
        {"a: \"\x01\"\n", "control character 0x01"},
        {"a: caf\xe9\n", "not UTF-8"},
    };
    for (size_t i = 0; i < HFS_ARRAY_LEN(fatal); i++) {
        hfs_diag_list f = HFS_DIAG_LIST_INIT;
        hfs_ydoc *bad = parse(fatal[i].text, &f);
        tap_ok(!bad && f.count == 1 && strstr(f.items[0].message, fatal[i].message),
               "refused with one problem: %s", fatal[i].message);
        hfs_ydoc_free(bad);
        hfs_diag_list_free(&f);
    }
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void test_limits(void)
{
    /* Billion laughs: ten levels of ten aliases would be 10^10 nodes when expanded. */
    hfs_buf b = HFS_BUF_INIT;
    hfs_buf_puts(&b, "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (int i = 1; i <= 10; i++) {
        hfs_buf_printf(&b, "l%d: &l%d [", i, i);
        for (int j = 0; j < 10; j++)
            hfs_buf_printf(&b, "%s*l%d", j ? ", " : "", i - 1);
        hfs_buf_puts(&b, "]\n");
    }
    hfs_diag_list d = HFS_DIAG_LIST_INIT;
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    double t0 = cpu_seconds();
    hfs_ydoc *doc = parse(b.ptr, &d);
    double spent = cpu_seconds() - t0;
    getrusage(RUSAGE_SELF, &after);
    tap_ok(!doc && d.count == 1 && strstr(d.items[0].message, "alias bomb"),
           "billion laughs refused");
    tap_ok(spent < 0.5, "and quickly (%.3f s of CPU)", spent);
    long grown_kib = after.ru_maxrss - before.ru_maxrss;
    tap_ok(grown_kib < 16 * 1024, "with bounded memory (peak grew %ld KiB)", grown_kib);
    hfs_diag_list_free(&d);
    hfs_buf_free(&b);

    /* Merges count too: each mapping merging the previous doubles the keys. */
    hfs_buf_puts(&b, "m0: &m0 {a0: 1, b0: 2}\n");
    for (int i = 1; i <= 40; i++)
        hfs_buf_printf(&b, "m%d: &m%d {<<: [*m%d], a%d: 1, b%d: *m%d}\n", i, i, i - 1, i, i, i - 1);
    doc = parse(b.ptr, &d);
    tap_ok(!doc && d.count == 1 && strstr(d.items[0].message, "alias bomb"),
           "merge-key bomb refused");
    hfs_diag_list_free(&d);
    hfs_buf_free(&b);

    /* Legitimate reuse below the limit is fine. */
    hfs_buf_puts(&b, "p: &p [\"*.json\", \"*.bin\"]\n");
    for (int i = 0; i < 200; i++)
        hfs_buf_printf(&b, "s%d: {allow: *p}\n", i);
    doc = parse(b.ptr, &d);
    tap_ok(doc && d.count == 0, "200 aliases of a small list are fine");
    hfs_ydoc_free(doc);
    hfs_diag_list_free(&d);
    hfs_buf_free(&b);

    for (int i = 0; i < 100; i++)
        hfs_buf_putc(&b, '[');
    for (int i = 0; i < 100; i++)
        hfs_buf_putc(&b, ']');
    doc = parse(b.ptr, &d);
    tap_ok(!doc && d.count == 1 && strstr(d.items[0].message, "64 levels"), "deep nest refused");
    hfs_diag_list_free(&d);
    hfs_buf_free(&b);

    /* Nesting built through aliases counts as nesting. */
    hfs_buf_puts(&b, "a0: &a0 [x]\n");
    for (int i = 1; i < 70; i++)
        hfs_buf_printf(&b, "a%d: &a%d [*a%d]\n", i, i, i - 1);
    doc = parse(b.ptr, &d);
    tap_ok(!doc && d.count == 1 && strstr(d.items[0].message, "64 levels"),
           "deep nest through aliases refused");
    hfs_diag_list_free(&d);
    hfs_buf_free(&b);
}

static void test_empty(void)
{
    hfs_diag_list d = HFS_DIAG_LIST_INIT;
    hfs_ydoc *doc = parse("# nothing but a comment\n", &d);
    tap_ok(doc && hfs_ydoc_root(doc) == NULL && d.count == 0, "comments only: no root");
    hfs_ydoc_free(doc);
    doc = parse("---\n", &d);
    tap_ok(doc && hfs_ydoc_root(doc) && hfs_ydoc_root(doc)->kind == HFS_YNULL,
           "an empty document is a null root");
    hfs_ydoc_free(doc);
    hfs_diag_list_free(&d);
}

int main(void)
{
    test_core_schema();
    test_positions();
    test_anchors_and_merges();
    test_problems();
    test_limits();
    test_empty();
    return tap_done();
}
