/* The local hub's git smart HTTP: clone, fetch and push at /{prefix}{id} and /{prefix}{id}.git
 * through git's own `git http-backend`, one CGI process per request, bodies streamed both ways. */
#ifndef HUBD_GIT_HTTP_H
#define HUBD_GIT_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "hubd/server.h"

/* Sent with every 401 of a git route: without a challenge curl (inside git) never offers the
 * credentials it has, and git never asks its credential helpers for them. */
#define HUBD_GIT_CHALLENGE "Basic realm=\"hfsync hub\""

typedef struct hubd_git_cgi hubd_git_cgi;

/* GET …/info/refs?service=git-upload-pack|git-receive-pack: the ref advertisement. */
void hubd_handle_git_refs(hubd_request *req);

/* POST …/git-upload-pack and …/git-receive-pack. begin() runs once the headers are in: it
 * checks access and starts the backend, or answers and returns false. sink() streams each
 * piece of the body into the backend; the handler then relays the backend's answer. */
bool hubd_git_rpc_begin(hubd_request *req);
int hubd_git_rpc_sink(hubd_request *req, const char *data, size_t len);
void hubd_handle_git_rpc(hubd_request *req);

/* Ends a backend that is still running (SIGTERM, so git removes its lock files, then
 * SIGKILL), reaps it and frees everything; NULL is fine. */
void hubd_git_cgi_free(hubd_git_cgi *cgi);

#endif
