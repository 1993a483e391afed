/* The local hub's access tokens, kept in ROOT/tokens.json: each hf_… token names a user,
 * a role (read or write) and the namespaces it may see privately and write to. */
#ifndef HUBD_TOKENS_H
#define HUBD_TOKENS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct hubd_tokens hubd_tokens;

/* What a request's token grants; a copy, so it outlives a reload of the file. */
typedef struct {
    bool valid;
    char *user;
    bool write;
    char **namespaces; /* "*" means every namespace */
    size_t n_namespaces;
    char *created_at;
} hubd_grant;

void hubd_grant_clear(hubd_grant *grant);
/* May this grant see private repos of, and (with the write role) write to, namespace ns? */
bool hubd_grant_has_namespace(const hubd_grant *grant, const char *ns);

/* Loads ROOT/tokens.json (a missing file is an empty set). */
int hubd_tokens_open(hubd_tokens **out, const char *root);
void hubd_tokens_free(hubd_tokens *tokens);

/* Adds `token` (must start with "hf_") unless it is already there; saves the file. */
int hubd_tokens_add(hubd_tokens *tokens, const char *token, const char *user, bool write,
                    const char *const *namespaces, size_t n_namespaces);
/* Generates a fresh token, adds it and returns it in *out (caller frees). */
int hubd_tokens_create(char **out, hubd_tokens *tokens, const char *user, bool write,
                       const char *const *namespaces, size_t n_namespaces);
/* Looks a token up, re-reading the file first when it changed on disk (so tokens created
 * by `hfsync hub token create` work without a restart). out->valid false when unknown. */
void hubd_tokens_lookup(hubd_grant *out, hubd_tokens *tokens, const char *token);

#endif
