/* nonblocking: commits that run in the background while the program goes on — two commits
 * queued on one job queue run in order on its worker thread; the program polls, then waits.
 *
 * Build against the installed library, and run against a hub:
 *
 *     cc -o nonblocking nonblocking.c $(pkg-config --cflags --libs hfsync)
 *     HF_ENDPOINT=http://127.0.0.1:8765 HF_TOKEN=hf_... ./nonblocking alice/notes
 *
 * Prints "first COMMIT_OID" and "second COMMIT_OID" on stdout once both landed (the second
 * builds on the first), and how much else it did meanwhile on stderr. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hfsync.h>

static void *copy_of(const char *text)
{
    size_t len = strlen(text);
    char *p = malloc(len);
    if (p)
        memcpy(p, text, len);
    return p;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: nonblocking NAMESPACE/NAME\n");
        return 64;
    }
    hfs_commit_options o = HFS_COMMIT_OPTIONS_INIT;
    o.repo_id = argv[1];
    if (hfs_create_repo(NULL, &o, true, true) < 0) {
        fprintf(stderr, "nonblocking: create the repo: %s\n", hfs_error_last());
        return 1;
    }

    /* Each commit's operations stay untouched until its job has finished. */
    hfs_commit_ops *first = hfs_commit_ops_new(), *second = hfs_commit_ops_new();
    const char *hello = "hello from a background commit\n";
    hfs_commit_ops_add_buffer(first, "hello.txt", copy_of(hello), strlen(hello), free);
    hfs_commit_ops_add_buffer(second, "notes/later.txt", copy_of("later\n"), 6, free);
    hfs_commit_ops_copy(second, "hello.txt", NULL, "notes/hello-copy.txt");

    hfs_jobs *queue = NULL;
    if (hfs_jobs_new(&queue) < 0) {
        fprintf(stderr, "nonblocking: %s\n", hfs_error_last());
        return 1;
    }
    hfs_job *jobs[2] = {
        hfs_jobs_commit(queue, &o, first, "Say hello", NULL, NULL),
        hfs_jobs_commit(queue, &o, second, "Add notes", "Copies hello.txt too.", NULL),
    };

    /* The calls above returned at once: other work goes on while the commits run. */
    unsigned other_work = 0;
    while (hfs_job_poll(jobs[1]) == HFS_JOB_PENDING || hfs_job_poll(jobs[1]) == HFS_JOB_RUNNING) {
        struct timespec tick = {0, 5 * 1000 * 1000};
        nanosleep(&tick, NULL);
        other_work++;
    }
    fprintf(stderr, "did %u other things while the commits ran\n", other_work);

    int status = 0;
    const char *names[2] = {"first", "second"};
    for (int i = 0; i < 2; i++) {
        hfs_job_result r;
        if (hfs_job_wait(&r, jobs[i]) < 0) {
            fprintf(stderr, "nonblocking: the %s commit %s: %s\n", names[i],
                    hfs_job_state_name(r.state), r.message);
            status = 1;
        } else {
            printf("%s %s\n", names[i], r.commit->commit_oid);
        }
        hfs_job_free(jobs[i]);
    }
    hfs_jobs_free(queue);
    hfs_commit_ops_free(first);
    hfs_commit_ops_free(second);
    return status;
}
