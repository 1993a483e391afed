/* Tests the full-disk fault of src/hubd/fault.c: the enospc=BYTES grammar and the per-request
 * disk budget the hub's stores draw on (hubd_disk_*), which the shell cases drive end to end. */
#include <string.h>

#include "common/error.h"
#include "hubd/fault.h"
#include "tap.h"

static void refused(const char *spec, const char *needle)
{
    hubd_faults *f = NULL;
    int rc = hubd_faults_parse(&f, spec);
    if (!tap_ok(rc == HFS_EINVALID && !f && strstr(hfs_error_last(), needle), "refused: %s", spec))
        tap_diag("  rc %d, message: %s", rc, hfs_error_last());
    hubd_faults_free(f);
}

int main(void)
{
    hubd_faults *f = NULL;
    tap_is_int(hubd_faults_parse(&f, "lfs-put:enospc=100,nth=2,times=0;commit:enospc=0"), 0,
               "parse enospc rules");
    hubd_fault_action a = hubd_faults_next(f, HUBD_EP_LFS_PUT);
    tap_is_int(a.kind, HUBD_FAULT_NONE, "the first PUT has the whole disk");
    a = hubd_faults_next(f, HUBD_EP_LFS_PUT);
    tap_ok(a.kind == HUBD_FAULT_ENOSPC && a.bytes == 100, "the second PUT has 100 bytes left");
    a = hubd_faults_next(f, HUBD_EP_LFS_PUT);
    tap_ok(a.kind == HUBD_FAULT_ENOSPC, "times=0: and every PUT after it");
    hubd_fault_action c = hubd_faults_next(f, HUBD_EP_COMMIT);
    tap_ok(c.kind == HUBD_FAULT_ENOSPC && c.bytes == 0, "the commit finds the disk full");
    hubd_faults_free(f);

    refused("tree:enospc=10", "enospc applies to lfs-put, lfs-part and commit");
    refused("lfs-complete:enospc=10", "enospc applies to");
    refused("commit:enospc=10,delay=5", "give one of status, drop, land_then_status, delay or enospc");
    refused("commit:enospc=lots", "is not KEY=NUMBER");

    /* Outside a request nothing is counted. */
    tap_is_int((int)hubd_disk_take(4096), 4096, "no request: every byte is taken");

    hubd_disk unlimited = hubd_disk_for(NULL);
    hubd_disk_enter(&unlimited);
    tap_is_int((int)hubd_disk_take(1 << 20), 1 << 20, "no fault: the disk takes everything");
    tap_ok(!unlimited.full, "... and is never full");
    hubd_disk_leave();

    hubd_disk d = hubd_disk_for(&a); /* 100 bytes */
    hubd_disk_enter(&d);
    tap_is_int((int)hubd_disk_take(60), 60, "60 of 100 bytes fit");
    tap_ok(!d.full, "... the disk is not full yet");
    tap_is_int((int)hubd_disk_take(60), 40, "of the next 60, 40 fit");
    tap_ok(d.full, "... and the disk is full");
    tap_is_int((int)hubd_disk_take(1), 0, "then nothing fits");
    tap_is_int((int)hubd_disk_take(0), 0, "an empty write still succeeds");
    hubd_disk_leave();
    tap_is_int((int)hubd_disk_take(10), 10, "after leave the thread writes freely again");

    hubd_disk real = hubd_disk_for(NULL);
    hubd_disk_enter(&real);
    hubd_disk_note_full();
    tap_ok(real.full, "a real ENOSPC marks the request's disk full too");
    hubd_disk_leave();
    return tap_done();
}
