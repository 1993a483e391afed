/* The job queue (src/api/jobs.c): jobs run in order on one worker; poll, wait and cancel
 * (pending and running); hfs_jobs_free drains the queue; and real applies, uploads and
 * commits queued against an in-process local hub. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"
#include "hfsync.h"
#include "hub/hub.h"
#include "tap.h"

#define TOKEN "hf_apijobstest0123456789"

/* ---- work that reports what happened -------------------------------------------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static char order[64]; /* the ids of the calls that ran, in the order they ran */
static bool gate_open, gate_reached;

typedef struct {
    char id;
    bool gated; /* waits for open_gate() before finishing */
} step;

static int run_step(void *ctx, volatile int *cancel)
{
    (void)cancel;
    const step *s = ctx;
    pthread_mutex_lock(&mu);
    size_t len = strlen(order);
    order[len] = s->id;
    order[len + 1] = '\0';
    if (s->gated) {
        gate_reached = true;
        pthread_cond_broadcast(&cv);
        while (!gate_open)
            pthread_cond_wait(&cv, &mu);
    }
    pthread_mutex_unlock(&mu);
    return 0;
}

static void wait_gate_reached(void)
{
    pthread_mutex_lock(&mu);
    while (!gate_reached)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static void open_gate(void)
{
    pthread_mutex_lock(&mu);
    gate_open = true;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void reset_gate(void)
{
    pthread_mutex_lock(&mu);
    gate_open = gate_reached = false;
    order[0] = '\0';
    pthread_mutex_unlock(&mu);
}

/* Runs until cancelled (or 10 s, so a broken cancel fails instead of hanging). */
static int run_until_cancelled(void *ctx, volatile int *cancel)
{
    (void)ctx;
    for (int i = 0; i < 1000 && !*cancel; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (*cancel)
        return hfs_error_set(HFS_ERROR, "stopped: asked to");
    return 0;
}

static int run_failing(void *ctx, volatile int *cancel)
{
    (void)cancel;
    return hfs_error_set(HFS_ENOTFOUND, "nothing at %s", (const char *)ctx);
}

static void test_order_poll_cancel(void)
{
    hfs_jobs *q = NULL;
    tap_is_int(hfs_jobs_new(&q), 0, "a job queue with its worker");
    reset_gate();
    step a = {'a', true}, b = {'b', false}, c = {'c', false};
    hfs_job *ja = hfs_jobs_call(q, run_step, &a);
    hfs_job *jb = hfs_jobs_call(q, run_step, &b);
    hfs_job *jc = hfs_jobs_call(q, run_step, &c);
    wait_gate_reached();
    tap_is_str(hfs_job_state_name(hfs_job_poll(ja)), "running", "the first job is running");
    tap_is_str(hfs_job_state_name(hfs_job_poll(jb)), "pending", "the second waits its turn");
    tap_is_str(hfs_job_state_name(hfs_job_poll(jc)), "pending", "so does the third");
    tap_is_int(hfs_job_cancel(jb), HFS_JOB_CANCELLED, "cancelling a pending job is immediate");
    hfs_job_result r;
    tap_is_int(hfs_job_wait(&r, jb), HFS_ERROR, "waiting for it returns at once, HFS_ERROR");
    tap_ok(r.state == HFS_JOB_CANCELLED && strstr(r.message, "cancelled"), "... cancelled: %s",
           r.message);
    open_gate();
    tap_is_int(hfs_job_wait(&r, jc), 0, "the third job finishes");
    tap_ok(r.state == HFS_JOB_DONE && r.error == 0 && *r.message == '\0', "... DONE, no error");
    tap_is_int(hfs_job_poll(ja), HFS_JOB_DONE, "the first one finished before it");
    pthread_mutex_lock(&mu);
    tap_is_str(order, "ac", "they ran in order, the cancelled one never");
    pthread_mutex_unlock(&mu);
    tap_is_int(hfs_job_wait(NULL, jc), 0, "waiting again is fine");
    tap_is_int(hfs_job_cancel(jc), HFS_JOB_DONE, "cancelling a finished job changes nothing");
    hfs_job_free(ja);
    hfs_job_free(jb);
    hfs_job_free(jc);

    hfs_job *run = hfs_jobs_call(q, run_until_cancelled, NULL);
    while (hfs_job_poll(run) == HFS_JOB_PENDING)
        usleep(1000);
    tap_is_int(hfs_job_cancel(run), HFS_JOB_RUNNING, "cancelling a running job asks it to stop");
    tap_is_int(hfs_job_wait(&r, run), HFS_ERROR, "it stops with its error");
    tap_ok(r.state == HFS_JOB_CANCELLED, "... and counts as cancelled");
    hfs_job_free(run);

    hfs_job *bad = hfs_jobs_call(q, run_failing, "the moon");
    hfs_error_clear();
    tap_is_int(hfs_job_wait(&r, bad), HFS_ENOTFOUND, "a failed job gives its error code");
    tap_is_str(hfs_error_last(), "nothing at the moon",
               "... and its message becomes the waiting thread's last error");
    tap_ok(r.state == HFS_JOB_FAILED, "... FAILED");
    hfs_job_free(bad);

    /* hfs_jobs_free lets every queued job run; handles outlive the queue */
    reset_gate();
    step d = {'d', true}, e = {'e', false}, f = {'f', false};
    hfs_job *jd = hfs_jobs_call(q, run_step, &d);
    hfs_job *je = hfs_jobs_call(q, run_step, &e);
    hfs_job *jf = hfs_jobs_call(q, run_step, &f);
    hfs_job_free(je); /* the handle only: the job still runs */
    wait_gate_reached();
    open_gate();
    hfs_jobs_free(q);
    pthread_mutex_lock(&mu);
    tap_is_str(order, "def", "hfs_jobs_free ran what was queued, in order");
    pthread_mutex_unlock(&mu);
    tap_is_int(hfs_job_poll(jf), HFS_JOB_DONE, "a handle still answers after the queue is gone");
    hfs_job_free(jd);
    hfs_job_free(jf);

    /* hfs_jobs_cancel_all before freeing: the queued ones never run */
    hfs_jobs_new(&q);
    reset_gate();
    step g = {'g', true}, h = {'h', false};
    hfs_job *jg = hfs_jobs_call(q, run_step, &g);
    hfs_job *jh = hfs_jobs_call(q, run_step, &h);
    wait_gate_reached();
    hfs_jobs_cancel_all(q);
    tap_is_int(hfs_job_poll(jh), HFS_JOB_CANCELLED, "cancel_all cancels the queued job");
    open_gate();
    hfs_jobs_free(q);
    pthread_mutex_lock(&mu);
    tap_is_str(order, "g", "only the job that was running ran");
    pthread_mutex_unlock(&mu);
    tap_is_int(hfs_job_poll(jg), HFS_JOB_DONE, "it finished (it did not look at cancel)");
    hfs_job_free(jg);
    hfs_job_free(jh);
    hfs_jobs_free(NULL);
    hfs_job_free(NULL);
    tap_ok(hfs_jobs_call(NULL, run_step, &a) == NULL, "no queue: no job");
}

/* ---- real work against the local hub ---------------------------------------------------- */

static hfs_hub *reader;

typedef struct {
    char ids[8][41];
    int n;
} commit_list;

static int on_commit(void *ctx, const hfs_hub_commit_entry *c)
{
    commit_list *l = ctx;
    if (l->n < 8)
        snprintf(l->ids[l->n], sizeof(l->ids[0]), "%s", c->id);
    l->n++;
    return 0;
}

/* Blocks the worker until released, so the jobs behind it are queued for sure. */
static int hold(void *ctx, volatile int *cancel)
{
    (void)cancel;
    step s = {'h', true};
    (void)ctx;
    return run_step(&s, cancel);
}

typedef struct {
    hfs_job *job; /* cancelled when its upload starts */
    int cancelled;
} cancel_on_upload;

static void on_event(void *ctx, const hfs_apply_event *ev)
{
    cancel_on_upload *c = ctx;
    if (ev->kind == HFS_APPLY_EVENT_UPLOAD_START && c->job) {
        hfs_job_cancel(c->job);
        c->cancelled++;
    }
}

static unsigned char *binary(size_t len, unsigned seed)
{
    unsigned char *p = hfs_malloc(len);
    uint32_t x = 2463534242u ^ (seed * 2654435761u);
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)(x | 0x80);
    }
    return p;
}

static void test_commit_jobs(const char *url)
{
    hfs_commit_options o = HFS_COMMIT_OPTIONS_INIT;
    o.repo_id = "tester/jobs";
    o.endpoint = url;
    o.token = TOKEN;
    tap_is_int(hfs_create_repo(NULL, &o, true, false), 0, "create a private model repo");
    hfs_hub_repo repo = {HFS_REPO_MODEL, "tester/jobs"};

    hfs_jobs *q = NULL;
    hfs_jobs_new(&q);
    reset_gate();
    hfs_job *held = hfs_jobs_call(q, hold, NULL);
    hfs_commit_ops *one = hfs_commit_ops_new(), *two = hfs_commit_ops_new();
    hfs_commit_ops_add_buffer(one, "one.txt", "one\n", 4, NULL);
    hfs_commit_ops_add_buffer(one, "big.bin", binary(300000, 1), 300000, free);
    hfs_commit_ops_add_buffer(two, "two.txt", "two\n", 4, NULL);
    hfs_commit_ops_delete_file(two, "one.txt");
    char summary[] = "first";
    hfs_job *j1 = hfs_jobs_commit(q, &o, one, summary, NULL, NULL);
    strcpy(summary, "XXXXX"); /* the job copied its summary */
    hfs_job *j2 = hfs_jobs_commit(q, &o, two, "second", "after the first", NULL);
    tap_ok(j1 && j2 && hfs_job_poll(j1) == HFS_JOB_PENDING && hfs_job_poll(j2) == HFS_JOB_PENDING,
           "two commits queued without blocking");
    wait_gate_reached();
    open_gate();
    hfs_job_result r2, r1;
    int rc = hfs_job_wait(&r2, j2);
    if (!tap_is_int(rc, 0, "the second commit job finishes"))
        tap_diag("%s", r2.message);
    tap_is_int(hfs_job_poll(j1), HFS_JOB_DONE, "the first finished before it");
    tap_is_int(hfs_job_wait(&r1, j1), 0, "... successfully");
    commit_list l = {0};
    hfs_hub_list_commits(reader, &repo, "main", on_commit, &l);
    tap_ok(r1.commit && r2.commit && l.n == 3 && strcmp(l.ids[0], r2.commit->commit_oid) == 0 &&
               strcmp(l.ids[1], r1.commit->commit_oid) == 0,
           "main holds first then second, on the hub's initial commit");
    tap_ok(r1.commit && r1.commit->n_lfs_uploaded == 1, "the first sent its LFS buffer");
    hfs_job_free(held);
    hfs_job_free(j1);
    hfs_job_free(j2);
    hfs_commit_ops_free(one);
    hfs_commit_ops_free(two);

    /* a commit cancelled while it uploads: stops, CANCELLED, nothing committed */
    cancel_on_upload c = {0};
    hfs_commit_options oc = o;
    oc.event = on_event;
    oc.event_ctx = &c;
    reset_gate();
    held = hfs_jobs_call(q, hold, NULL);
    hfs_commit_ops *three = hfs_commit_ops_new();
    hfs_commit_ops_add_buffer(three, "three.bin", binary(2000000, 3), 2000000, free);
    hfs_job *j3 = hfs_jobs_commit(q, &oc, three, "third", NULL, NULL);
    c.job = j3; /* set while the worker is held: the event cannot come before */
    wait_gate_reached();
    open_gate();
    hfs_job_result r3;
    rc = hfs_job_wait(&r3, j3); /* before r3 is read: argument order is unspecified */
    tap_ok(rc < 0 && r3.state == HFS_JOB_CANCELLED,
           "a commit cancelled during its upload ends CANCELLED: %s", r3.message);
    tap_ok(c.cancelled == 1 && r3.commit == NULL, "... with no commit");
    l.n = 0;
    hfs_hub_list_commits(reader, &repo, "main", on_commit, &l);
    tap_is_int(l.n, 3, "main did not move");
    hfs_job_free(held);
    hfs_job_free(j3);
    hfs_commit_ops_free(three);
    hfs_jobs_free(q);
}

static void test_apply_and_upload_jobs(const char *url, const char *root)
{
    setenv("HF_ENDPOINT", url, 1);
    setenv("HF_TOKEN", TOKEN, 1);
    char *folder = hfs_path_join(root, "folder");
    char *sub = hfs_path_join(folder, "sub");
    hfs_mkdir_p(sub);
    char *a = hfs_path_join(folder, "a.txt"), *b = hfs_path_join(sub, "b.txt");
    hfs_write_file_atomic(a, "alpha\n", 6, 0644);
    hfs_write_file_atomic(b, "beta\n", 5, 0644);

    hfs_sync_spec spec = HFS_SYNC_SPEC_INIT;
    spec.repo_id = "tester/applied";
    spec.create = true;
    spec.folder_path = folder;
    hfs_manifest *m = NULL;
    hfs_plan *plan = NULL;
    int rc = hfs_manifest_new_single(&m, root, &spec);
    if (rc == 0)
        rc = hfs_plan_compute(&plan, m, NULL);
    if (!tap_is_int(rc, 0, "plan a folder"))
        tap_diag("%s", hfs_error_last());

    hfs_jobs *q = NULL;
    hfs_jobs_new(&q);
    hfs_job *ja = plan ? hfs_jobs_apply(q, plan, NULL) : NULL;
    hfs_upload_spec up = HFS_UPLOAD_SPEC_INIT;
    up.repo_id = "tester/uploaded";
    up.local_path = a;
    up.create_private = true;
    up.base_dir = root; /* its .hfsync/ state goes there, not into the current directory */
    hfs_job *ju = hfs_jobs_upload(q, &up, NULL);
    hfs_job_result r;
    rc = ja ? hfs_job_wait(&r, ja) : -1;
    if (!tap_is_int(rc, 0, "an apply job"))
        tap_diag("%s", ja ? r.message : "not queued");
    tap_ok(ja && r.apply && r.apply->n_commits == 1 && r.apply->repos_created == 1,
           "... created the repo and made one commit");
    rc = hfs_job_wait(&r, ju);
    if (!tap_is_int(rc, 0, "an upload job, queued behind it"))
        tap_diag("%s", r.message);
    tap_ok(r.url && strstr(r.url, "/commit/"), "... gives the commit's URL: %s",
           r.url ? r.url : "(none)");
    hfs_job_free(ja);
    hfs_job_free(ju);
    hfs_jobs_free(q);
    hfs_plan_free(plan);
    hfs_manifest_free(m);
    free(a);
    free(b);
    free(sub);
    free(folder);
    unsetenv("HF_ENDPOINT");
    unsetenv("HF_TOKEN");
}

int main(void)
{
    test_order_poll_cancel();

    char root[] = "/tmp/hfsync-api-jobs.XXXXXX";
    if (!mkdtemp(root)) {
        printf("Bail out! cannot make a temp dir\n");
        return 1;
    }
    char *hub_root = hfs_path_join(root, "hub");
    char *home = hfs_path_join(root, "hf-home");
    char *log = hfs_path_join(root, "access.log");
    setenv("HF_HOME", home, 1);
    unsetenv("HUGGING_FACE_HUB_TOKEN");
    const char *tokens[] = {TOKEN};
    hfs_hubd_options ho = HFS_HUBD_OPTIONS_INIT;
    ho.root = hub_root;
    ho.listen = "127.0.0.1:0";
    ho.tokens = tokens;
    ho.n_tokens = 1;
    ho.access_log = log;
    ho.threads = 4;
    hfs_hubd *hubd = NULL;
    if (hfs_hubd_start(&hubd, &ho) < 0) {
        printf("Bail out! cannot start the local hub: %s\n", hfs_error_last());
        return 1;
    }
    hfs_hub_options ro = HFS_HUB_OPTIONS_INIT;
    ro.endpoint = hfs_hubd_url(hubd);
    ro.token = TOKEN;
    ro.max_attempts = 1;
    if (hfs_hub_new(&reader, &ro) < 0) {
        printf("Bail out! cannot open a hub session: %s\n", hfs_error_last());
        return 1;
    }
    test_commit_jobs(hfs_hubd_url(hubd));
    test_apply_and_upload_jobs(hfs_hubd_url(hubd), root);

    hfs_hub_free(reader);
    hfs_hubd_stop(hubd);
    char *cmd = hfs_sprintf("rm -rf '%s'", root);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", root);
    free(cmd);
    free(log);
    free(home);
    free(hub_root);
    return tap_done();
}
