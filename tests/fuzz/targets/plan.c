/* Fuzz target: the plan-file reader (hfs_plan_parse) and the renderers of what it reads. The
 * input is parsed as given (the plan_id seal must hold) and once more re-sealed with the id of
 * its own content, so edits reach the strict reader behind the seal. A plan that reads must
 * write back to a file that reads again to the same plan. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "planner/plan.h"

/* The fields the writer leaves out by design: the hash an operation's mode does not go by,
 * and everything of a delete but what names it. */
static void drop_unwritten(json_t *root)
{
    static const char *const not_of_delete[] = {"size", "local",  "mtime_ns", "upload",
                                                "sha1", "sha256", "from"};
    size_t i, j, k;
    json_t *sync, *commit, *op;
    json_array_foreach(json_object_get(root, "syncs"), i, sync)
    {
        json_array_foreach(json_object_get(sync, "commits"), j, commit)
        {
            json_array_foreach(json_object_get(commit, "operations"), k, op)
            {
                const char *mode = json_string_value(json_object_get(op, "mode"));
                const char *kind = json_string_value(json_object_get(op, "op"));
                if (mode && strcmp(mode, "lfs") == 0)
                    json_object_del(op, "sha1");
                if (mode && strcmp(mode, "regular") == 0)
                    json_object_del(op, "sha256");
                for (size_t f = 0; kind && strcmp(kind, "delete") == 0 && f < 7; f++)
                    json_object_del(op, not_of_delete[f]);
            }
        }
    }
}

/* The plan's file with its plan_id replaced by the id of its own content (after dropping
 * what the writer never writes, when `drop`). Caller frees. */
static char *reseal(const char *text, size_t len, bool drop)
{
    json_t *root = json_loadb(text, len, 0, NULL);
    char *sealed = NULL;
    if (json_is_object(root)) {
        char id[HFS_SHA256_HEX];
        if (drop)
            drop_unwritten(root);
        json_object_del(root, "plan_id");
        hfs_plan_canonical_id(id, root);
        json_object_set_new(root, "plan_id", json_string(id));
        sealed = json_dumps(root, JSON_COMPACT);
    }
    json_decref(root);
    return sealed;
}
/* The written plan without its "plan_id" line (the id is the file's, not the content's). */
static char *without_id(const char *written)
{
    char *copy = strdup(written);
    char *id = copy ? strstr(copy, "\"plan_id\"") : NULL;
    char *eol = id ? strchr(id, '\n') : NULL;
    if (eol)
        memmove(id, eol + 1, strlen(eol + 1) + 1);
    return copy;
}

/* Reads the plan, renders it every way, and checks that writing it is stable. With `exact`
 * (nothing in the file the writer leaves out), it must also write back to its own plan_id:
 * a field the reader passed over would change it. */
static void parse_and_render(const char *text, size_t len, bool exact)
{
    hfs_plan *plan = NULL;
    if (hfs_plan_parse(&plan, text, len, "fuzz-plan.json") < 0)
        return;
    static const hfs_plan_format formats[] = {HFS_PLAN_TEXT, HFS_PLAN_JSON, HFS_PLAN_MARKDOWN};
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        char *out = NULL;
        if (hfs_plan_render(&out, plan, formats[i]) == 0 && !out)
            abort();
        free(out);
    }
    hfs_plan_summary sum;
    hfs_plan_get_summary(&sum, plan);
    hfs_plan_has_changes(plan);

    /* What the reader keeps, the writer writes, and the reader reads again: writing a plan
     * that was read (re-sealed: the writer drops what it never writes, such as the hash an
     * LFS file is not known by) reads back to the same plan. */
    char *first = hfs_plan_to_json(plan);
    hfs_plan *same = NULL;
    if (exact && (hfs_plan_parse(&same, first, strlen(first), "written-plan.json") < 0 ||
                  strcmp(hfs_plan_id(same), hfs_plan_id(plan)) != 0)) {
        fprintf(stderr, "fuzz: the plan read does not write back to its plan_id: %s\n",
                hfs_error_last());
        abort();
    }
    hfs_plan_free(same);
    char *sealed = reseal(first, strlen(first), false);
    hfs_plan *again = NULL;
    if (!sealed || hfs_plan_parse(&again, sealed, strlen(sealed), "rewritten-plan.json") < 0) {
        fprintf(stderr, "fuzz: a plan that reads does not read back after writing: %s\n",
                hfs_error_last());
        abort();
    }
    char *second = hfs_plan_to_json(again);
    char *a = without_id(first), *b = without_id(second);
    if (!a || !b || strcmp(a, b) != 0) {
        fprintf(stderr, "fuzz: a plan written, read and written again changed\n");
        abort();
    }
    free(a);
    free(b);
    free(second);
    hfs_plan_free(again);
    free(sealed);
    free(first);
    hfs_plan_free(plan);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse_and_render((const char *)data, size, false);
    for (int drop = 0; drop < 2; drop++) {
        char *sealed = reseal((const char *)data, size, drop);
        if (sealed)
            parse_and_render(sealed, strlen(sealed), drop);
        free(sealed);
    }
    return 0;
}
