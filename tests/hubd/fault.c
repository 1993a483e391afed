/* Tests src/hubd/fault.c: the --fault grammar and which request each rule hits. */
#include <string.h>

#include "common/error.h"
#include "hubd/fault.h"
#include "tap.h"

static int parse_fails(const char *spec, const char *needle)
{
    hubd_faults *f = NULL;
    int rc = hubd_faults_parse(&f, spec);
    bool ok = rc == HFS_EINVALID && f == NULL && strstr(hfs_error_last(), needle) != NULL;
    if (!tap_ok(ok, "refused: %s", spec))
        tap_diag("  rc %d, message: %s", rc, hfs_error_last());
    hubd_faults_free(f);
    return rc;
}

int main(void)
{
    hubd_faults *f = NULL;
    tap_is_int(hubd_faults_parse(&f, "commit:status=500,nth=2"), 0, "parse status rule");
    hubd_fault_action a = hubd_faults_next(f, HUBD_EP_COMMIT);
    tap_is_int(a.kind, HUBD_FAULT_NONE, "first commit passes");
    a = hubd_faults_next(f, HUBD_EP_PREUPLOAD);
    tap_is_int(a.kind, HUBD_FAULT_NONE, "other endpoints do not count");
    a = hubd_faults_next(f, HUBD_EP_COMMIT);
    tap_ok(a.kind == HUBD_FAULT_STATUS && a.status == 500, "second commit gets 500");
    a = hubd_faults_next(f, HUBD_EP_COMMIT);
    tap_is_int(a.kind, HUBD_FAULT_NONE, "times defaults to 1");
    hubd_faults_free(f);

    tap_is_int(hubd_faults_parse(&f, "lfs-put:drop=1048576; preupload:status=429,retry_after=3,"
                                     "times=2;resolve:delay=5"),
               0, "parse several rules separated by ';'");
    a = hubd_faults_next(f, HUBD_EP_LFS_PUT);
    tap_ok(a.kind == HUBD_FAULT_DROP && a.bytes == 1048576, "drop after 1 MiB of the first PUT");
    a = hubd_faults_next(f, HUBD_EP_PREUPLOAD);
    tap_ok(a.kind == HUBD_FAULT_STATUS && a.status == 429 && a.retry_after == 3,
           "429 with Retry-After");
    a = hubd_faults_next(f, HUBD_EP_PREUPLOAD);
    tap_ok(a.kind == HUBD_FAULT_STATUS, "times=2 hits the second one too");
    a = hubd_faults_next(f, HUBD_EP_PREUPLOAD);
    tap_is_int(a.kind, HUBD_FAULT_NONE, "... and not the third");
    a = hubd_faults_next(f, HUBD_EP_RESOLVE);
    tap_ok(a.kind == HUBD_FAULT_DELAY && a.delay_ms == 5, "delay");
    hubd_faults_free(f);

    tap_is_int(hubd_faults_parse(&f, "commit:land_then_status=500"), 0, "parse land_then_status");
    a = hubd_faults_next(f, HUBD_EP_COMMIT);
    tap_ok(a.kind == HUBD_FAULT_LAND_THEN_STATUS && a.status == 500, "commit lands, then 500");
    hubd_faults_free(f);

    tap_is_int(hubd_faults_parse(&f, "any:status=503,nth=3,times=0"), 0, "parse any, times=0");
    int hits = 0;
    for (int i = 0; i < 6; i++)
        hits += hubd_faults_next(f, i % 2 ? HUBD_EP_TREE : HUBD_EP_COMMIT).kind != HUBD_FAULT_NONE;
    tap_is_int(hits, 4, "any counts every request; times=0 keeps firing from nth on");
    hubd_faults_free(f);

    tap_is_int(hubd_faults_parse(&f, ""), 0, "an empty spec has no rules");
    tap_is_int(hubd_faults_next(f, HUBD_EP_COMMIT).kind, HUBD_FAULT_NONE, "... and no faults");
    hubd_faults_free(f);
    tap_is_int(hubd_faults_next(NULL, HUBD_EP_COMMIT).kind, HUBD_FAULT_NONE, "NULL has no faults");

    parse_fails("commit", "expected ENDPOINT:");
    parse_fails("comit:status=500", "unknown endpoint 'comit'");
    parse_fails("commit:status=99", "not an HTTP status");
    parse_fails("commit:nth=2", "says when but not what");
    parse_fails("commit:status=500,drop=3", "one of status");
    parse_fails("commit:status=abc", "KEY=NUMBER");
    parse_fails("commit:status=500,nth=0", "counts from 1");
    parse_fails("commit:bogus=1", "unknown key 'bogus'");
    parse_fails("tree:land_then_status=500", "land_then_status applies");
    parse_fails("commit:drop=5,retry_after=1", "retry_after goes with status");
    return tap_done();
}
