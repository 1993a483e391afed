/* bench/run's launcher: runs a program and reports its peak RSS and CPU time from wait4(). A
 * child forked by the benchmark's Python process would inherit Python's RSS high-water mark; one
 * forked from this small program starts near zero, so the figure is the tool's own (and its
 * children's). The CPU time is the program's and that of the children it waited for.
 *
 * usage: rss OUT PROGRAM [ARG]...   writes "maxrss_kib user_s system_s" to OUT, exits with
 * PROGRAM's status */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

extern char **environ;

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: rss OUT PROGRAM [ARG]...\n");
        return 64;
    }
    pid_t pid;
    int err = posix_spawnp(&pid, argv[2], NULL, NULL, argv + 2, environ);
    if (err != 0) {
        fprintf(stderr, "rss: cannot run %s: %s\n", argv[2], strerror(err));
        return 127;
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "rss: wait4: %s\n", strerror(errno));
            return 1;
        }
    }
    FILE *out = fopen(argv[1], "w");
    if (!out ||
        fprintf(out, "%ld %ld.%06ld %ld.%06ld\n", ru.ru_maxrss, (long)ru.ru_utime.tv_sec,
                (long)ru.ru_utime.tv_usec, (long)ru.ru_stime.tv_sec,
                (long)ru.ru_stime.tv_usec) < 0 ||
        fclose(out) != 0) {
        fprintf(stderr, "rss: cannot write %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    if (WIFSIGNALED(status)) {
        signal(WTERMSIG(status), SIG_DFL);
        raise(WTERMSIG(status));
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
