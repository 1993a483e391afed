/* hfsync public API: which hub the requests go to and which token they carry, resolved
 * the way huggingface_hub resolves them, so the CLI can say where both came from. */
#ifndef HFSYNC_HUB_H
#define HFSYNC_HUB_H

#ifdef __cplusplus
extern "C" {
#endif

/* The hub used when neither HF_ENDPOINT nor the manifest names one. */
#define HFS_HUB_DEFAULT_ENDPOINT "https://huggingface.co"

/* Resolves the endpoint: env HF_ENDPOINT when set and not empty, else `configured` (the
 * manifest's `endpoint`, may be NULL), else HFS_HUB_DEFAULT_ENDPOINT. Trailing `/` are
 * stripped. HFS_EINVALID, naming where the value came from, when it is not an http(s) URL
 * with a host. *out is the caller's to free. */
int hfs_hub_endpoint_resolve(char **out, const char *configured);

typedef enum {
    HFS_TOKEN_NONE = 0,   /* no token: requests are anonymous */
    HFS_TOKEN_EXPLICIT,   /* given by the caller (a --token option) */
    HFS_TOKEN_ENV,        /* env HF_TOKEN */
    HFS_TOKEN_ENV_LEGACY, /* env HUGGING_FACE_HUB_TOKEN */
    HFS_TOKEN_FILE,       /* the token file: HF_TOKEN_PATH, default $HF_HOME/token */
} hfs_token_source;

typedef struct {
    char *value; /* NULL when there is none. Never print it. */
    hfs_token_source source;
    char *file;            /* the token file that was read, or looked for (may be NULL) */
    int implicit_disabled; /* HF_HUB_DISABLE_IMPLICIT_TOKEN was set: env and file ignored */
} hfs_hub_token;

#define HFS_HUB_TOKEN_INIT                                                                         \
    {                                                                                              \
        NULL, HFS_TOKEN_NONE, NULL, 0                                                              \
    }

/* Finds the token as huggingface_hub does: env HF_TOKEN, then env HUGGING_FACE_HUB_TOKEN,
 * then the file HF_TOKEN_PATH (default $HF_HOME/token; HF_HOME defaults to
 * $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface; `~` and $VARS are expanded).
 * Surrounding whitespace, CR and LF are stripped; an empty value means "no token".
 * A missing token file is not an error (source HFS_TOKEN_NONE); an unreadable one is.
 * Release *out with hfs_hub_token_clear. */
int hfs_hub_token_resolve(hfs_hub_token *out);
void hfs_hub_token_clear(hfs_hub_token *token);

/* Where the token came from, for messages and `--verbose`: "HF_TOKEN",
 * "the token file /home/u/.cache/huggingface/token", "no token (…)". Never the value.
 * The caller frees the string. */
char *hfs_hub_token_describe(const hfs_hub_token *token);

#ifdef __cplusplus
}
#endif
#endif
