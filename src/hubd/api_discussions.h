/* The local hub's endpoints for discussions and pull requests, and for the history rewrites
 * that go with them (super-squash, tags): the handlers the server's route table names. */
#ifndef HUBD_API_DISCUSSIONS_H
#define HUBD_API_DISCUSSIONS_H

#include "hubd/server.h"

/* GET  /api/{t}s/{id}/discussions[?p=&type=&status=&author=]     the list, 50 a page
 * POST /api/{t}s/{id}/discussions {title, description, pullRequest}
 * GET  …/discussions/{num}[?diff=1]                              the details
 * POST …/discussions/{num}/{comment,title,status,merge}
 * POST …/discussions/{num}/comment/{id}/{edit,hide} */
void hubd_handle_discussions(hubd_request *req);
/* POST /api/{t}s/{id}/super-squash/{branch} {message} */
void hubd_handle_super_squash(hubd_request *req);
/* POST /api/{t}s/{id}/tag/{rev} {tag, message?}; DELETE /api/{t}s/{id}/tag/{tag} */
void hubd_handle_tag(hubd_request *req);

#endif
