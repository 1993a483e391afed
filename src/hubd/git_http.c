/* The local hub's git smart HTTP: each request runs `git http-backend` (CGI) on the repo with
 * the caller's rights; bodies stream through it, and a push is checked by the hub's
 * pre-receive hook, answered here over a socket while the backend waits. */
#include "hubd/git_http.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "hubd/git_hooks.h"

extern char **environ;

/* A backend silent this long (no byte in or out) is stopped: the hub's connection timeout. */
#define IDLE_TIMEOUT_MS (600 * 1000)
/* git's CGI headers are a few hundred bytes. */
#define HEADERS_MAX (64 * 1024)
/* Output read ahead while the request body is still going in. git reads a whole request
 * before it answers, so this only guards against a backend that does not. */
#define READ_AHEAD_MAX (16u * 1024 * 1024)
#define READ_CHUNK (64 * 1024)
/* The hook's message is one line per pushed ref. */
#define HOOK_MSG_MAX (4u * 1024 * 1024)
/* A backend that has closed its output gets this long to exit; one asked to stop (SIGTERM,
 * which lets git remove its lock files and quarantine) this long before SIGKILL. */
#define EXIT_WAIT_MS 5000
#define TERM_WAIT_MS 2000

struct hubd_git_cgi {
    pid_t pid;      /* `git http-backend`, leader of its own process group */
    int in_fd;      /* our end of its stdin (a socket, so a gone reader is EPIPE, not SIGPIPE) */
    int out_fd;     /* the read end of its stdout */
    int hook_fd;    /* our end of the pre-receive hook's socket (pushes only), else -1 */
    bool in_broken; /* it stopped reading: the rest of the body is dropped, its answer says why */
    bool out_eof;
    hfs_buf ahead; /* output read but not relayed yet (the CGI headers, read-ahead) */
    size_t ahead_off;
    hfs_buf hook_msg; /* what the hook has sent so far */
    hubd_server *srv;
    hfs_repo_kind kind;
    char *repo_id;
    uint64_t *bytes_out; /* the request's count of body bytes sent, for the access log */
};

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Moves a descriptor to 10 or above (close-on-exec), so none of the child's dup2 targets
 * (0, 1, 3) is ever one of our own descriptors. */
static int fd_high(int fd)
{
    if (fd < 0 || fd >= 10)
        return fd;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    close(fd);
    return moved;
}

/* ---- the backend's process ----------------------------------------------------------------- */

static bool wait_exit(pid_t pid, int ms, int *status)
{
    for (int waited = 0;; waited += 10) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            return true;
        if (waited >= ms)
            return false;
        usleep(10 * 1000);
    }
}

void hubd_git_cgi_free(hubd_git_cgi *cgi)
{
    if (!cgi)
        return;
    bool finished = cgi->out_eof;
    close_fd(&cgi->in_fd);
    close_fd(&cgi->out_fd);
    close_fd(&cgi->hook_fd);
    if (cgi->pid > 0) {
        int status = 0;
        /* not finished: the client went away or the hub gave up; the whole group goes
         * (receive-pack, index-pack and the hook run under the backend) */
        if (!finished)
            killpg(cgi->pid, SIGTERM);
        if (!wait_exit(cgi->pid, finished ? EXIT_WAIT_MS : TERM_WAIT_MS, &status)) {
            killpg(cgi->pid, SIGKILL);
            while (waitpid(cgi->pid, &status, 0) < 0 && errno == EINTR)
                ;
        }
        if (finished && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            hfs_debug("hub: git http-backend for %s ended with status 0x%x", cgi->repo_id,
                      (unsigned)status);
    }
    hfs_buf_free(&cgi->ahead);
    hfs_buf_free(&cgi->hook_msg);
    free(cgi->repo_id);
    free(cgi);
}

/* The hub's own environment must not steer the backend (a GIT_DIR or GIT_CONFIG_* of the
 * shell that started the hub) nor pose as this request's CGI variables. */
static bool env_inherited(const char *entry)
{
    static const char *const dropped[] = {
        "GIT_",    "HTTP_",      "CONTENT_",         "REQUEST_",      "REMOTE_",         "SCRIPT_",
        "SERVER_", "PATH_INFO=", "PATH_TRANSLATED=", "QUERY_STRING=", HUBD_HOOK_ENV "=",
    };
    for (size_t i = 0; i < HFS_ARRAY_LEN(dropped); i++)
        if (hfs_str_starts_with(entry, dropped[i]))
            return false;
    return true;
}

typedef struct {
    char **items;
    size_t len, cap;
} env_list;

static void env_add(env_list *env, const char *name, const char *value)
{
    char *entry = hfs_sprintf("%s=%s", name, value);
    HFS_PUSH(env->items, env->len, env->cap, entry);
}

static void env_free(env_list *env)
{
    for (size_t i = 0; i < env->len; i++)
        free(env->items[i]);
    free(env->items);
}

static void env_build(env_list *env, hubd_request *req, const char *project_root,
                      const char *path_info, bool push)
{
    for (char **e = environ; e && *e; e++)
        if (env_inherited(*e))
            HFS_PUSH(env->items, env->len, env->cap, hfs_strdup(*e));
    env_add(env, "GIT_PROJECT_ROOT", project_root);
    env_add(env, "PATH_INFO", path_info);
    env_add(env, "GIT_HTTP_EXPORT_ALL", "1"); /* access was decided by the hub already */
    env_add(env, "REQUEST_METHOD", req->method);
    env_add(env, "QUERY_STRING", req->raw_query);
    const char *v;
    if ((v = hubd_header(req, "Content-Type")))
        env_add(env, "CONTENT_TYPE", v);
    /* a chunked body has no length: the backend then reads its input to the end */
    if ((v = hubd_header(req, "Content-Length")) && !hubd_header(req, "Transfer-Encoding"))
        env_add(env, "CONTENT_LENGTH", v);
    if ((v = hubd_header(req, "Content-Encoding"))) /* git gzips large fetch requests */
        env_add(env, "HTTP_CONTENT_ENCODING", v);
    if ((v = hubd_header(req, "Git-Protocol"))) /* protocol v2 for fetches */
        env_add(env, "HTTP_GIT_PROTOCOL", v);
    if (req->grant.valid)
        env_add(env, "REMOTE_USER", req->grant.user);
    /* only the settings on the command line count, not the system's or the hub user's */
    env_add(env, "GIT_CONFIG_NOSYSTEM", "1");
    /* An empty file of the hub's own, not /dev/null: anything git might write to its
     * "global" config then lands there, and /dev/null can never be replaced by a rename. */
    char *global = hfs_path_join(req->srv->root, "git-global-config");
    int gfd = open(global, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (gfd >= 0)
        close(gfd);
    env_add(env, "GIT_CONFIG_GLOBAL", global);
    free(global);
    if (push)
        env_add(env, HUBD_HOOK_ENV, "1");
    HFS_PUSH(env->items, env->len, env->cap, NULL);
}

/* Starts `git http-backend` for the request's repo; `rest` is what follows NAME.git/. */
static int cgi_start(hubd_git_cgi **out, hubd_request *req, const char *rest, bool push)
{
    int rc = 0;
    int in[2] = {-1, -1}, outp[2] = {-1, -1}, hook[2] = {-1, -1};
    char *repos = NULL, *project_root = NULL, *path_info = NULL, *hooks_dir = NULL;
    char *hooks_opt = NULL;
    env_list env = {0};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    bool fa_init = false, attr_init = false;
    char abs_repos[PATH_MAX];
    *out = NULL;

    /* layout as repo.h has it: ROOT/repos/{models,datasets,spaces}/NS/NAME.git */
    repos = hfs_path_join(req->srv->root, "repos");
    if (!realpath(repos, abs_repos)) {
        rc = hfs_error_set(HFS_ERROR, "cannot resolve the hub's repos folder %s: %s", repos,
                           strerror(errno));
        goto done;
    }
    project_root = hfs_path_join(abs_repos, hubd_kind_plural(req->route.repo_kind));
    /* repos live under their lowercased id (repo.h: ids are case-insensitive) */
    path_info = hfs_sprintf("/%s.git/%s", req->route.repo_id, rest);
    for (char *p = path_info; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (push && (rc = hubd_git_hooks_install(&hooks_dir, req->srv->root)) < 0)
        goto done;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0 || pipe2(outp, O_CLOEXEC) < 0 ||
        (push && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, hook) < 0)) {
        rc = hfs_error_set(HFS_ERROR, "cannot create the pipes for git http-backend: %s",
                           strerror(errno));
        goto done;
    }
    int *fds[] = {&in[0], &in[1], &outp[0], &outp[1], &hook[0], &hook[1]};
    for (size_t i = 0; i < HFS_ARRAY_LEN(fds); i++) {
        if (*fds[i] >= 0 && (*fds[i] = fd_high(*fds[i])) < 0) {
            rc = hfs_error_set(HFS_ERROR, "cannot set up the pipes for git http-backend: %s",
                               strerror(errno));
            goto done;
        }
    }
    env_build(&env, req, project_root, path_info, push);
    /* settings as `git -c`, which every git version hands on to the receive-pack or
     * upload-pack the backend runs */
    const char *argv[12];
    size_t argc = 0;
    argv[argc++] = "git";
    argv[argc++] = "-c";
    argv[argc++] = "http.uploadpack=true";
    argv[argc++] = "-c"; /* the hub decided who may push; git would let anyone authenticated */
    argv[argc++] = push ? "http.receivepack=true" : "http.receivepack=false";
    argv[argc++] = "-c"; /* no detached gc outliving the request */
    argv[argc++] = "receive.autogc=false";
    if (push) { /* the hub's rules, checked by its pre-receive hook */
        hooks_opt = hfs_sprintf("core.hooksPath=%s", hooks_dir);
        argv[argc++] = "-c";
        argv[argc++] = hooks_opt;
    }
    argv[argc++] = "http-backend";
    argv[argc] = NULL;

    posix_spawn_file_actions_init(&fa);
    fa_init = true;
    posix_spawn_file_actions_adddup2(&fa, in[1], 0);
    posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
    if (push)
        posix_spawn_file_actions_adddup2(&fa, hook[1], HUBD_HOOK_FD);
    /* nothing else of the hub's (client sockets, repo files) leaks into git */
    posix_spawn_file_actions_addclosefrom_np(&fa, push ? HUBD_HOOK_FD + 1 : 3);
    posix_spawnattr_init(&attr);
    attr_init = true;
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    /* the hub blocks SIGINT/SIGTERM in its threads and ignores SIGPIPE: git needs them back */
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    pid_t pid = 0;
    int err = posix_spawnp(&pid, "git", &fa, &attr, (char *const *)argv, env.items);
    if (err != 0) {
        rc = hfs_error_set(HFS_ERROR,
                           "cannot run 'git http-backend' (is git installed and on "
                           "PATH?): %s",
                           strerror(err));
        goto done;
    }
    hubd_git_cgi *cgi = hfs_calloc(1, sizeof(*cgi));
    cgi->pid = pid;
    cgi->in_fd = in[0];
    cgi->out_fd = outp[0];
    cgi->hook_fd = hook[0];
    in[0] = outp[0] = hook[0] = -1;
    cgi->srv = req->srv;
    cgi->kind = req->route.repo_kind;
    cgi->repo_id = hfs_strdup(req->route.repo_id);
    *out = cgi;
done:
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    if (attr_init)
        posix_spawnattr_destroy(&attr);
    int *all[] = {&in[0], &in[1], &outp[0], &outp[1], &hook[0], &hook[1]};
    for (size_t i = 0; i < HFS_ARRAY_LEN(all); i++)
        close_fd(all[i]);
    env_free(&env);
    free(hooks_opt);
    free(hooks_dir);
    free(path_info);
    free(project_root);
    free(repos);
    return rc;
}

/* ---- the pre-receive hook's channel ------------------------------------------------------- */

static void hook_reply(hubd_git_cgi *cgi, const char *text)
{
    size_t len = strlen(text);
    while (len > 0) {
        ssize_t n = send(cgi->hook_fd, text, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* the hook is gone: git refuses the push without its verdict anyway */
        text += n;
        len -= (size_t)n;
    }
    /* one verdict per push; closing our end is the hook's end of input */
    close_fd(&cgi->hook_fd);
}

/* Reads what the hook sent; once its message is whole, checks the push and answers. The
 * backend waits for the hook, and the hook for us, so nothing moves meanwhile. */
static void serve_hook(hubd_git_cgi *cgi)
{
    char buf[4096];
    ssize_t n = recv(cgi->hook_fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        close_fd(&cgi->hook_fd);
        return;
    }
    if (cgi->hook_msg.len + (size_t)n > HOOK_MSG_MAX) {
        hook_reply(cgi, "rejected\nYour push was rejected: it updates too many refs at once.\n");
        return;
    }
    hfs_buf_add(&cgi->hook_msg, buf, (size_t)n);
    hubd_push push;
    int rc = hubd_push_parse(&push, cgi->hook_msg.ptr, cgi->hook_msg.len);
    if (rc == 0)
        return;
    if (rc > 0)
        rc = hubd_push_check(cgi->srv->repos, cgi->srv->lfs, cgi->kind, cgi->repo_id, &push);
    /* accepted, the refs move: the LFS objects the push names are durable first */
    if (rc == 0 && hubd_lfs_sync(cgi->srv->lfs) < 0)
        rc = HFS_ERROR;
    hfs_buf reply = HFS_BUF_INIT;
    if (rc == 0) {
        hfs_buf_puts(&reply, "accepted\n");
    } else if (rc == HFS_EINVALID || rc == HFS_ELIMIT) {
        hfs_buf_printf(&reply, "rejected\n%s\n", hfs_error_last());
    } else {
        hfs_warn("hub: cannot check a push to %s: %s", cgi->repo_id, hfs_error_last());
        hfs_buf_printf(&reply, "rejected\nthe hub could not check this push: %s\n",
                       hfs_error_last());
    }
    hook_reply(cgi, reply.ptr);
    hfs_buf_free(&reply);
    hubd_push_clear(&push);
}

/* ---- moving bytes ---------------------------------------------------------------------------- */

/* Waits until the backend's stdin takes bytes (want_in) or its stdout has some (want_out),
 * answering the hook meanwhile. */
static int cgi_wait(hubd_git_cgi *cgi, bool want_in, bool want_out, bool *in_ready, bool *out_ready)
{
    *in_ready = *out_ready = false;
    for (;;) {
        struct pollfd p[3];
        nfds_t n = 0;
        int i_in = -1, i_out = -1, i_hook = -1;
        if (want_in && cgi->in_fd >= 0) {
            i_in = (int)n;
            p[n++] = (struct pollfd){.fd = cgi->in_fd, .events = POLLOUT};
        }
        if (want_out && cgi->out_fd >= 0) {
            i_out = (int)n;
            p[n++] = (struct pollfd){.fd = cgi->out_fd, .events = POLLIN};
        }
        if (cgi->hook_fd >= 0) {
            i_hook = (int)n;
            p[n++] = (struct pollfd){.fd = cgi->hook_fd, .events = POLLIN};
        }
        if (i_in < 0 && i_out < 0)
            return hfs_error_set(HFS_ERROR, "git http-backend for %s closed its pipes",
                                 cgi->repo_id);
        int r = poll(p, n, IDLE_TIMEOUT_MS);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return hfs_error_set(HFS_ERROR, "cannot wait for git http-backend: %s",
                                 strerror(errno));
        if (r == 0)
            return hfs_error_set(HFS_ENET,
                                 "git http-backend for %s did nothing for %d s; it was stopped",
                                 cgi->repo_id, IDLE_TIMEOUT_MS / 1000);
        if (i_hook >= 0 && p[i_hook].revents)
            serve_hook(cgi);
        /* errors and hang-ups count as ready: the read or write that follows reports them */
        *in_ready = i_in >= 0 && p[i_in].revents;
        *out_ready = i_out >= 0 && p[i_out].revents;
        if (*in_ready || *out_ready)
            return 0;
    }
}

/* Reads the next piece of output into `ahead` (sets out_eof at its end). */
static int read_ahead(hubd_git_cgi *cgi)
{
    for (;;) {
        hfs_buf_grow(&cgi->ahead, READ_CHUNK);
        ssize_t n = read(cgi->out_fd, cgi->ahead.ptr + cgi->ahead.len, READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return hfs_error_set(HFS_ERROR, "cannot read from git http-backend: %s",
                                 strerror(errno));
        if (n == 0)
            cgi->out_eof = true;
        cgi->ahead.len += (size_t)n;
        cgi->ahead.ptr[cgi->ahead.len] = '\0';
        return 0;
    }
}

/* Writes a piece of the request body to the backend's stdin. */
static int cgi_write(hubd_git_cgi *cgi, const char *data, size_t len)
{
    while (len > 0 && !cgi->in_broken && cgi->in_fd >= 0) {
        bool in_ready, out_ready;
        bool room = !cgi->out_eof && cgi->ahead.len < READ_AHEAD_MAX;
        int rc = cgi_wait(cgi, true, room, &in_ready, &out_ready);
        if (rc < 0)
            return rc;
        if (out_ready && (rc = read_ahead(cgi)) < 0)
            return rc;
        if (!in_ready)
            continue;
        ssize_t n = send(cgi->in_fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            if (errno == EPIPE || errno == ECONNRESET) {
                cgi->in_broken = true;
                break;
            }
            return hfs_error_set(HFS_ERROR, "cannot pass the request to git http-backend: %s",
                                 strerror(errno));
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Up to max bytes of the backend's output, waiting for them; 0 at its end. */
static ssize_t cgi_read(hubd_git_cgi *cgi, char *buf, size_t max)
{
    if (cgi->ahead_off < cgi->ahead.len) {
        size_t n = cgi->ahead.len - cgi->ahead_off;
        if (n > max)
            n = max;
        memcpy(buf, cgi->ahead.ptr + cgi->ahead_off, n);
        cgi->ahead_off += n;
        if (cgi->ahead_off == cgi->ahead.len) {
            hfs_buf_clear(&cgi->ahead);
            cgi->ahead_off = 0;
        }
        return (ssize_t)n;
    }
    while (!cgi->out_eof) {
        bool in_ready, out_ready;
        int rc = cgi_wait(cgi, false, true, &in_ready, &out_ready);
        if (rc < 0)
            return rc;
        ssize_t n = read(cgi->out_fd, buf, max);
        if (n > 0)
            return n;
        if (n == 0)
            cgi->out_eof = true;
        else if (errno != EINTR && errno != EAGAIN)
            return hfs_error_set(HFS_ERROR, "cannot read from git http-backend: %s",
                                 strerror(errno));
    }
    return 0;
}

static ssize_t cgi_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    hubd_git_cgi *cgi = cls;
    ssize_t n = cgi_read(cgi, buf, max);
    if (n > 0) {
        if (cgi->bytes_out)
            *cgi->bytes_out += (uint64_t)n;
        return n;
    }
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    hfs_warn("hub: %s", hfs_error_last());
    return MHD_CONTENT_READER_END_WITH_ERROR; /* the client sees a cut-off answer */
}

static void cgi_release(void *cls)
{
    hubd_git_cgi_free(cls);
}

/* Reads the backend's CGI headers (into `ahead`); *len is their length with the blank line. */
static int read_headers(hubd_git_cgi *cgi, size_t *len)
{
    for (;;) {
        const char *crlf =
            memmem(cgi->ahead.ptr ? cgi->ahead.ptr : "", cgi->ahead.len, "\r\n\r\n", 4);
        const char *lf = memmem(cgi->ahead.ptr ? cgi->ahead.ptr : "", cgi->ahead.len, "\n\n", 2);
        if (crlf && (!lf || crlf < lf)) {
            *len = (size_t)(crlf - cgi->ahead.ptr) + 4;
            return 0;
        }
        if (lf) {
            *len = (size_t)(lf - cgi->ahead.ptr) + 2;
            return 0;
        }
        if (cgi->ahead.len > HEADERS_MAX)
            return hfs_error_set(HFS_ERROR, "git http-backend sent more than %d bytes of headers",
                                 HEADERS_MAX);
        if (cgi->out_eof)
            return hfs_error_set(HFS_ERROR,
                                 "git http-backend ended without an answer (its error is in the "
                                 "hub's log)");
        bool in_ready, out_ready;
        int rc = cgi_wait(cgi, false, true, &in_ready, &out_ready);
        if (rc == 0)
            rc = read_ahead(cgi);
        if (rc < 0)
            return rc;
    }
}

/* Answers the request with the backend's output: its headers, then its body streamed as
 * it comes. Takes cgi. */
static void cgi_respond(hubd_request *req, hubd_git_cgi *cgi)
{
    size_t hlen = 0;
    if (read_headers(cgi, &hlen) < 0) {
        hubd_respond_error(req, 500, NULL, "git %s on %s failed: %s", req->method,
                           req->route.repo_id, hfs_error_last());
        hubd_git_cgi_free(cgi);
        return;
    }
    unsigned status = 200;
    char *headers = hfs_strndup(cgi->ahead.ptr, hlen);
    cgi->ahead_off = hlen;
    if (cgi->ahead_off == cgi->ahead.len) {
        hfs_buf_clear(&cgi->ahead);
        cgi->ahead_off = 0;
    }
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, READ_CHUNK,
                                                               cgi_reader, cgi, cgi_release);
    if (!r) {
        hubd_git_cgi_free(cgi);
        free(headers);
        hubd_respond_error(req, 500, NULL, "cannot create the answer to git %s on %s", req->method,
                           req->route.repo_id);
        return;
    }
    char *save = NULL;
    for (char *line = strtok_r(headers, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line[strcspn(line, "\r")] = '\0';
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        const char *value = colon + 1 + strspn(colon + 1, " \t");
        if (strcasecmp(line, "Status") == 0) {
            unsigned code = (unsigned)strtoul(value, NULL, 10);
            if (code >= 100 && code <= 599)
                status = code;
        } else if (strcasecmp(line, "Content-Length") != 0 &&
                   strcasecmp(line, "Transfer-Encoding") != 0 &&
                   strcasecmp(line, "Connection") != 0) {
            /* MHD frames the body itself (chunked, as the length is not known up front) */
            MHD_add_response_header(r, line, value);
        }
    }
    free(headers);
    hubd_respond(req, status, r, 0);
    cgi->bytes_out = &req->resp_bytes;
}

/* ---- the endpoints -------------------------------------------------------------------------- */

/* May the caller fetch (push false) or push to the route's repo? Answers as the API does
 * (401 to anonymous callers, with a Basic challenge here; 403 read-only token; 404) and
 * returns false when not. */
static bool git_access(hubd_request *req, bool push)
{
    hubd_repo_meta meta;
    bool ok = hubd_repo_visible(req, &meta);
    if (ok) {
        ok = !push ||
             hubd_can_write(req, req->route.ns, "push with git (the token is the password)");
        hubd_repo_meta_clear(&meta);
    }
    if (!ok && req->status == 401)
        hubd_add_header(req, "WWW-Authenticate", HUBD_GIT_CHALLENGE);
    return ok;
}

void hubd_handle_git_refs(hubd_request *req)
{
    const char *service = hubd_query(req, "service");
    bool push = service && strcmp(service, "git-receive-pack") == 0;
    if (!push && !(service && strcmp(service, "git-upload-pack") == 0)) {
        hubd_respond_error(req, 403, NULL,
                           "%s: this hub speaks git's smart HTTP protocol only (ask for "
                           "?service=git-upload-pack or ?service=git-receive-pack, as git does)",
                           req->raw_path);
        return;
    }
    if (!git_access(req, push))
        return;
    hubd_git_cgi *cgi = NULL;
    if (cgi_start(&cgi, req, "info/refs", push) < 0) {
        hubd_respond_error(req, 500, NULL, "%s", hfs_error_last());
        return;
    }
    cgi_respond(req, cgi);
}

bool hubd_git_rpc_begin(hubd_request *req)
{
    const char *service = req->route.n_rest ? req->route.rest[0] : "";
    bool push = strcmp(service, "git-receive-pack") == 0;
    if (!git_access(req, push))
        return false;
    if (cgi_start(&req->git, req, service, push) < 0) {
        hubd_respond_error(req, 500, NULL, "%s", hfs_error_last());
        return false;
    }
    return true;
}

int hubd_git_rpc_sink(hubd_request *req, const char *data, size_t len)
{
    return req->git ? cgi_write(req->git, data, len) : 0;
}

void hubd_handle_git_rpc(hubd_request *req)
{
    hubd_git_cgi *cgi = req->git;
    req->git = NULL;
    if (!cgi) {
        hubd_respond_error(req, 500, NULL, "git %s: the backend was not started", req->raw_path);
        return;
    }
    if (req->upload_rc < 0) {
        hubd_respond_error(req, 500, NULL, "%s",
                           req->upload_error ? req->upload_error
                                             : "cannot pass the request "
                                               "to git http-backend");
        hubd_git_cgi_free(cgi);
        return;
    }
    close_fd(&cgi->in_fd); /* the whole body is in: the backend sees the end of its input */
    cgi_respond(req, cgi);
}
