/* Tests for src/executor/state.c: the per-sync flock (refused with the holder's pid, waited
 * for with `wait`) and the apply journal (round trip, another plan's, a corrupt one). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/hash.h"
#include "common/util.h"
#include "executor/state.h"
#include "tap.h"

static char dir[256];

static char *state_file(const char *sync, const char *name)
{
    return hfs_sprintf("%s/state/%s/%s", dir, sync, name);
}

static void test_state_dir(void)
{
    char *d = hfs_state_dir_for("/srv/conf/hfsync.yaml");
    tap_is_str(d, "/srv/conf/.hfsync", "state dir beside the manifest");
    free(d);
    d = hfs_state_dir_for("hfsync.yaml");
    tap_is_str(d, ".hfsync", "a bare manifest name: the current directory");
    free(d);
    d = hfs_state_dir_for("<upload>");
    tap_is_str(d, ".hfsync", "an in-memory manifest: the current directory");
    free(d);
}

static void test_lock(void)
{
    hfs_sync_lock *a = NULL, *b = NULL;
    tap_is_int(hfs_sync_lock_acquire(&a, dir, "ckpt", false), 0, "first lock taken");
    tap_ok(a != NULL, "lock handle returned");

    char *path = state_file("ckpt", "lock"), *text = NULL;
    size_t len = 0;
    hfs_read_file(&text, &len, path, 4096);
    char *want = hfs_sprintf("pid %ld\n", (long)getpid());
    tap_ok(text && hfs_str_starts_with(text, want), "lock file names the holder's pid");
    tap_ok(text && strstr(text, "\nsince ") && strstr(text, "\ncommand "),
           "lock file has start time and command line");
    free(text);
    free(want);

    /* A second open file description conflicts even within one process, as another
     * process would. */
    int rc = hfs_sync_lock_acquire(&b, dir, "ckpt", false);
    tap_is_int(rc, HFS_ELOCKED, "second lock refused with HFS_ELOCKED");
    tap_ok(b == NULL, "no handle when refused");
    char *pid = hfs_sprintf("(pid %ld, since ", (long)getpid());
    const char *msg = hfs_error_last();
    tap_ok(strstr(msg, "sync ckpt is being applied by another hfsync") && strstr(msg, pid) &&
               strstr(msg, "use --wait"),
           "message names the sync and the holder's pid");
    tap_diag("%s", msg);
    free(pid);

    hfs_sync_lock *other = NULL;
    tap_is_int(hfs_sync_lock_acquire(&other, dir, "other", false), 0,
               "another sync has its own lock");
    hfs_sync_lock_release(other);

    hfs_sync_lock_release(a);
    hfs_read_file(&text, &len, path, 4096);
    tap_is_int((long long)len, 0, "released lock file is emptied");
    free(text);
    /* the temp file of a journal save a kill cut short goes when the lock is taken (an
     * apply with nothing to do never loads the journal) */
    char *torn = state_file("ckpt", "journal.json.tmp.K1ll3d");
    hfs_write_file_atomic(torn, "{", 1, 0644);
    tap_is_int(hfs_sync_lock_acquire(&b, dir, "ckpt", false), 0, "lock taken again after release");
    tap_ok(access(torn, F_OK) != 0, "... which clears a torn journal save");
    free(torn);
    hfs_sync_lock_release(b);
    hfs_sync_lock_release(NULL);
    free(path);

    tap_is_int(hfs_sync_lock_acquire(&b, dir, "../x", false), HFS_EINVALID,
               "a name climbing out of the state folder is refused");
}

static void test_lock_wait(void)
{
    int ready[2];
    if (pipe(ready) != 0)
        return;
    pid_t child = fork();
    if (child == 0) {
        hfs_sync_lock *l = NULL;
        if (hfs_sync_lock_acquire(&l, dir, "waited", false) != 0)
            _exit(1);
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        usleep(300 * 1000);
        hfs_sync_lock_release(l);
        _exit(0);
    }
    char c;
    tap_ok(read(ready[0], &c, 1) == 1, "child holds the lock");
    close(ready[0]);
    close(ready[1]);

    hfs_sync_lock *l = NULL;
    tap_is_int(hfs_sync_lock_acquire(&l, dir, "waited", false), HFS_ELOCKED,
               "held by another process: refused");
    char *pid = hfs_sprintf("pid %ld,", (long)child);
    tap_ok(strstr(hfs_error_last(), pid) != NULL, "refusal names the child's pid");
    free(pid);
    double t0 = hfs_now();
    tap_is_int(hfs_sync_lock_acquire(&l, dir, "waited", true), 0, "with wait: taken once freed");
    tap_ok(hfs_now() - t0 > 0.1, "with wait: it did wait");
    hfs_sync_lock_release(l);
    int status = 0;
    waitpid(child, &status, 0);
    tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child ran cleanly");

    /* A holder killed with SIGKILL leaves its pid in the file but no lock: the kernel drops
     * the flock with the process. */
    child = fork();
    if (child == 0) {
        hfs_sync_lock *k = NULL;
        hfs_sync_lock_acquire(&k, dir, "killed", false);
        pause();
        _exit(0);
    }
    for (int i = 0; i < 200; i++) {
        char *path = state_file("killed", "lock"), *text = NULL;
        size_t len = 0;
        bool written = hfs_read_file(&text, &len, path, 4096) == 0 && len > 0;
        free(text);
        free(path);
        if (written)
            break;
        usleep(10 * 1000);
    }
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    tap_is_int(hfs_sync_lock_acquire(&l, dir, "killed", false), 0,
               "a SIGKILLed holder's lock is free");
    hfs_sync_lock_release(l);
}

static const char *PLAN = "1111111111111111111111111111111111111111111111111111111111111111";
static const char *PLAN2 = "2222222222222222222222222222222222222222222222222222222222222222";
static const char *OBJ1 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char *OBJ2 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
static const char *C1 = "0123456789abcdef0123456789abcdef01234567";
static const char *C2 = "89abcdef0123456789abcdef0123456789abcdef";

static void test_journal(void)
{
    hfs_journal j;
    tap_is_int(hfs_journal_load(&j, dir, "ckpt", PLAN), 0, "missing journal loads");
    tap_is_str(j.plan_id, PLAN, "empty journal carries the plan id");
    tap_ok(j.n_uploaded == 0 && j.n_commits == 0 && j.pr_num == 0, "and nothing done");

    hfs_journal_add_uploaded(&j, OBJ1);
    hfs_journal_add_uploaded(&j, OBJ2);
    hfs_journal_add_uploaded(&j, OBJ1);
    tap_is_int((long long)j.n_uploaded, 2, "an object is recorded once");
    hfs_journal_add_commit(&j, "a.txt..m.txt", C1);
    hfs_journal_add_commit(&j, "n.txt..z.txt", C2);
    j.pr_num = 7;
    tap_is_int(hfs_journal_save(&j, dir, "ckpt"), 0, "journal saved");
    hfs_journal_clear(&j);
    tap_is_str(j.plan_id, PLAN, "clear keeps the plan id");
    tap_ok(j.n_uploaded == 0 && j.n_commits == 0 && !j.uploaded, "clear empties it");

    tap_is_int(hfs_journal_load(&j, dir, "ckpt", PLAN), 0, "saved journal loads");
    tap_is_int(j.pr_num, 7, "pr number round trip");
    tap_ok(hfs_journal_has_uploaded(&j, OBJ1) && hfs_journal_has_uploaded(&j, OBJ2) &&
               !hfs_journal_has_uploaded(&j, PLAN),
           "uploaded objects round trip");
    const hfs_journal_commit *c = hfs_journal_find_commit(&j, "n.txt..z.txt");
    tap_ok(c && strcmp(c->commit_oid, C2) == 0, "commit found by step id");
    tap_ok(hfs_journal_find_commit(&j, "nope") == NULL, "unknown step id not found");
    tap_ok(j.n_commits == 2 && strcmp(j.commits[0].step_id, "a.txt..m.txt") == 0,
           "commits keep their order");
    hfs_journal_clear(&j);

    tap_is_int(hfs_journal_load(&j, dir, "ckpt", PLAN2), 0, "another plan's journal loads");
    tap_ok(strcmp(j.plan_id, PLAN2) == 0 && j.n_uploaded == 0 && j.n_commits == 0 && j.pr_num == 0,
           "another plan's journal starts empty");
    hfs_journal_clear(&j);

    char *path = state_file("ckpt", "journal.json");
    hfs_write_file_atomic(path, "{\"plan_id\": \"1111", 17, 0644);
    tap_is_int(hfs_journal_load(&j, dir, "ckpt", PLAN), 0, "corrupt journal is not an error");
    tap_ok(j.n_uploaded == 0 && j.n_commits == 0, "corrupt journal is discarded");
    hfs_journal_clear(&j);

    char *bad = hfs_sprintf("{\"version\":1,\"plan_id\":\"%s\",\"pr_num\":0,\"uploaded\":[\"zz\"],"
                            "\"commits\":[]}",
                            PLAN);
    hfs_write_file_atomic(path, bad, strlen(bad), 0644);
    free(bad);
    tap_is_int(hfs_journal_load(&j, dir, "ckpt", PLAN), 0, "journal with a bad oid loads");
    tap_ok(j.n_uploaded == 0 && j.n_commits == 0, "and is discarded whole");
    hfs_journal_clear(&j);

    /* A save killed between write and rename leaves its temp file: the next load (under
     * the lock) clears it. */
    char *torn = state_file("ckpt", "journal.json.tmp.AbC123");
    hfs_write_file_atomic(torn, "{", 1, 0644);
    tap_is_int(hfs_journal_load(&j, dir, "ckpt", PLAN), 0, "journal loads beside a torn save");
    tap_ok(access(torn, F_OK) != 0, "the torn save's temp file is removed");
    hfs_journal_clear(&j);
    free(torn);

    /* Many objects: the index keeps lookups right as it grows. */
    hfs_journal_load(&j, dir, "many", PLAN);
    char sha[HFS_SHA256_HEX];
    bool all = true;
    for (int i = 0; i < 5000; i++) {
        hfs_sha256_hex(sha, &i, sizeof(i));
        hfs_journal_add_uploaded(&j, sha);
    }
    for (int i = 0; i < 5000 && all; i++) {
        hfs_sha256_hex(sha, &i, sizeof(i));
        all = hfs_journal_has_uploaded(&j, sha);
    }
    int other = 5000;
    hfs_sha256_hex(sha, &other, sizeof(other));
    tap_ok(all && !hfs_journal_has_uploaded(&j, sha) && j.n_uploaded == 5000,
           "5000 objects: each found, an unknown one not");
    hfs_journal_save(&j, dir, "many");
    hfs_journal_clear(&j);
    hfs_journal_load(&j, dir, "many", PLAN);
    hfs_sha256_hex(sha, &(int){4999}, sizeof(int));
    tap_ok(j.n_uploaded == 5000 && hfs_journal_has_uploaded(&j, sha),
           "5000 objects round trip through the file");
    hfs_journal_clear(&j);

    tap_is_int(hfs_journal_remove(dir, "ckpt"), 0, "journal removed");
    tap_ok(access(path, F_OK) != 0, "journal file gone");
    tap_is_int(hfs_journal_remove(dir, "ckpt"), 0, "removing a missing journal is fine");
    free(path);

    /* No temp files left beside it by the atomic writes. */
    char *cmd = hfs_sprintf("ls %s/state/ckpt | grep -c tmp", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p && fscanf(p, "%d", &n) != 1)
        n = -1;
    if (p)
        pclose(p);
    tap_is_int(n, 0, "no temp files left in the state folder");
    free(cmd);
}

int main(void)
{
    snprintf(dir, sizeof(dir), "/tmp/hfsync-state-test-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_state_dir();
    test_lock();
    test_lock_wait();
    test_journal();
    char *cmd = hfs_sprintf("rm -rf %s", dir);
    if (system(cmd) != 0)
        tap_diag("cannot remove %s", dir);
    free(cmd);
    return tap_done();
}
