/* hfs_path_stays_inside, the check every path from outside (a hub listing, a plan file)
 * passes before it is joined to a folder or sent to the hub. */
#include "common/util.h"
#include "tap.h"

int main(void)
{
    static const char *const inside[] = {"a",   "a/b",       "a.b/c..d",        "...",  "..a",
                                         "a..", ".hidden/x", "日本語/ファイル", "a b/c"};
    static const char *const outside[] = {"",     "/",      "/abs",      "..",  "../x",
                                          "a/..", "a/../b", "a/../../b", ".",   "./a",
                                          "a/.",  "a//b",   "a/",        "//a", "a/./b"};
    for (size_t i = 0; i < sizeof(inside) / sizeof(*inside); i++)
        tap_ok(hfs_path_stays_inside(inside[i]), "\"%s\" stays inside", inside[i]);
    for (size_t i = 0; i < sizeof(outside) / sizeof(*outside); i++)
        tap_ok(!hfs_path_stays_inside(outside[i]), "\"%s\" is refused", outside[i]);
    tap_ok(!hfs_path_stays_inside(NULL), "NULL is refused");
    return tap_done();
}
