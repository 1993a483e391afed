/* Tests for src/hub/token.c: the endpoint (HF_ENDPOINT, manifest, default) and the token
 * sources in huggingface_hub's order, with the environment set in this process. */
#include <sys/stat.h>
#include <unistd.h>

#include "hubtest.h"

static char tmp[256];

static void clean_env(void)
{
    const char *vars[] = {"HF_TOKEN",   "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH",
                          "HF_HOME",    "XDG_CACHE_HOME",         "HF_HUB_DISABLE_IMPLICIT_TOKEN",
                          "HF_ENDPOINT"};
    for (size_t i = 0; i < HFS_ARRAY_LEN(vars); i++)
        unsetenv(vars[i]);
    setenv("HOME", tmp, 1);
}

static void write_file(const char *dir_and_name, const char *content)
{
    char *copy = hfs_strdup(dir_and_name);
    *strrchr(copy, '/') = '\0';
    hfs_mkdir_p(copy);
    free(copy);
    if (hfs_write_file_atomic(dir_and_name, content, strlen(content), 0600) != 0)
        tap_diag("cannot write %s: %s", dir_and_name, hfs_error_last());
}

/* Resolves and checks value, source and the token file looked at. */
static void expect_token(const char *want_value, hfs_token_source want_source,
                         const char *want_file, const char *name)
{
    hfs_hub_token t = HFS_HUB_TOKEN_INIT;
    int rc = hfs_hub_token_resolve(&t);
    char label[256];
    snprintf(label, sizeof(label), "%s: resolves", name);
    tap_is_int(rc, 0, label);
    snprintf(label, sizeof(label), "%s: value", name);
    tap_is_str(t.value, want_value, label);
    snprintf(label, sizeof(label), "%s: source", name);
    tap_is_int(t.source, want_source, label);
    if (want_file) {
        snprintf(label, sizeof(label), "%s: token file", name);
        tap_is_str(t.file, want_file, label);
    }
    char *why = hfs_hub_token_describe(&t);
    snprintf(label, sizeof(label), "%s: the description never holds the token (%s)", name, why);
    tap_ok(!t.value || !strstr(why, t.value), "%s", label);
    free(why);
    hfs_hub_token_clear(&t);
}

static void test_token_order(void)
{
    char path[512], other[512];
    clean_env();
    snprintf(path, sizeof(path), "%s/.cache/huggingface/token", tmp);
    expect_token(NULL, HFS_TOKEN_NONE, path, "nothing anywhere");

    write_file(path, "  hf_fromfile \r\n");
    expect_token("hf_fromfile", HFS_TOKEN_FILE, path, "default token file, whitespace stripped");

    write_file(path, "\n\n");
    expect_token(NULL, HFS_TOKEN_NONE, path, "an empty token file means no token");
    write_file(path, "hf_fromfile\n");

    snprintf(other, sizeof(other), "%s/xdg", tmp);
    setenv("XDG_CACHE_HOME", other, 1);
    snprintf(path, sizeof(path), "%s/xdg/huggingface/token", tmp);
    write_file(path, "hf_xdg");
    expect_token("hf_xdg", HFS_TOKEN_FILE, path, "XDG_CACHE_HOME/huggingface/token");

    setenv("HF_HOME", "~/hfhome", 1);
    snprintf(path, sizeof(path), "%s/hfhome/token", tmp);
    write_file(path, "hf_home\n");
    expect_token("hf_home", HFS_TOKEN_FILE, path, "HF_HOME wins over XDG_CACHE_HOME, ~ expanded");

    setenv("SUBDIR_FOR_TEST", "custom", 1);
    setenv("HF_TOKEN_PATH", "$HOME/${SUBDIR_FOR_TEST}/tok", 1);
    snprintf(path, sizeof(path), "%s/custom/tok", tmp);
    write_file(path, "hf_custom_path");
    expect_token("hf_custom_path", HFS_TOKEN_FILE, path, "HF_TOKEN_PATH wins, $VARS expanded");

    setenv("HUGGING_FACE_HUB_TOKEN", " hf_legacy\n", 1);
    expect_token("hf_legacy", HFS_TOKEN_ENV_LEGACY, NULL, "HUGGING_FACE_HUB_TOKEN wins over files");

    setenv("HF_TOKEN", "hf_env", 1);
    expect_token("hf_env", HFS_TOKEN_ENV, NULL, "HF_TOKEN wins over everything");

    setenv("HF_TOKEN", " \t\r\n", 1);
    expect_token("hf_legacy", HFS_TOKEN_ENV_LEGACY, NULL, "a blank HF_TOKEN counts as unset");

    setenv("HF_TOKEN", "hf_env", 1);
    setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1", 1);
    expect_token(NULL, HFS_TOKEN_NONE, NULL, "HF_HUB_DISABLE_IMPLICIT_TOKEN ignores env and file");

    clean_env();
    snprintf(path, sizeof(path), "%s/tokdir", tmp);
    mkdir(path, 0700);
    setenv("HF_TOKEN_PATH", path, 1);
    hfs_hub_token t = HFS_HUB_TOKEN_INIT;
    tap_is_int(hfs_hub_token_resolve(&t), HFS_EAUTH, "an unreadable token file is an error");
    error_has(path, "the error names the token file");
    hfs_hub_token_clear(&t);
    hfs_hub_token_clear(NULL);
}

static void expect_endpoint(const char *configured, const char *want, const char *name)
{
    char *got = NULL;
    int rc = hfs_hub_endpoint_resolve(&got, configured);
    if (want) {
        tap_is_int(rc, 0, name);
        tap_is_str(got, want, name);
    } else {
        tap_is_int(rc, HFS_EINVALID, name);
    }
    free(got);
}

static void test_endpoint(void)
{
    clean_env();
    expect_endpoint(NULL, "https://huggingface.co", "default endpoint");
    expect_endpoint("", "https://huggingface.co", "empty manifest value: default");
    expect_endpoint("http://127.0.0.1:8080/", "http://127.0.0.1:8080",
                    "manifest endpoint, / stripped");
    setenv("HF_ENDPOINT", "https://mirror.example//", 1);
    expect_endpoint("http://127.0.0.1:8080", "https://mirror.example",
                    "HF_ENDPOINT overrides the manifest");
    setenv("HF_ENDPOINT", "ftp://mirror.example", 1);
    expect_endpoint(NULL, NULL, "an ftp:// HF_ENDPOINT is refused");
    error_has("HF_ENDPOINT \"ftp://mirror.example\"", "the error names HF_ENDPOINT and its value");
    unsetenv("HF_ENDPOINT");
    expect_endpoint("huggingface.co", NULL, "a manifest endpoint without scheme is refused");
    error_has("the manifest's endpoint", "the error names the manifest");
}

/* A session without an explicit token uses the resolved one and says where it came from. */
static void test_session_token(void)
{
    fakehub *fh = fakehub_start();
    clean_env();
    setenv("HF_TOKEN", "hf_fromenv", 1);
    setenv("HF_ENDPOINT", fakehub_url(fh), 1);
    hfs_hub_options o = HFS_HUB_OPTIONS_INIT;
    hfs_hub *hub = NULL;
    tap_is_int(hfs_hub_new(&hub, &o), 0, "a session with every default opens");
    tap_is_str(hfs_hub_endpoint(hub), fakehub_url(fh), "its endpoint comes from HF_ENDPOINT");
    tap_is_str(hfs_hub_token_source(hub), "HF_TOKEN",
               "its token source is reported, not the value");
    tap_ok(hfs_hub_has_token(hub), "it has a token");
    static const char *const req[] = {"Authorization: Bearer hf_fromenv", NULL};
    fakehub_expect(fh, &(fh_exchange){"GET", "/api/whoami-v2", req, NULL, NULL, 200, NULL,
                                      "{\"name\":\"alice\",\"auth\":{}}"});
    json_t *me = NULL;
    tap_is_int(hfs_hub_whoami(&me, hub), 0, "whoami with the resolved token");
    tap_is_str(json_string_value(json_object_get(me, "name")), "alice", "whoami answers the name");
    json_decref(me);
    fh_check(fh, "resolved token");
    hfs_hub_free(hub);

    o.token = "";
    hfs_hub_new(&hub, &o);
    tap_ok(!hfs_hub_has_token(hub), "token \"\" means no token even with HF_TOKEN set");
    static const char *const forbid[] = {"Authorization", NULL};
    fakehub_expect(
        fh,
        &(fh_exchange){"GET", "/api/whoami-v2", NULL, forbid, NULL, 401,
                       (const char *const[]){
                           "X-Error-Message: Invalid credentials in Authorization header", NULL},
                       "{\"error\":\"Invalid credentials in Authorization header\"}"});
    tap_is_int(hfs_hub_whoami(&me, hub), HFS_EAUTH, "anonymous whoami is refused");
    fh_check(fh, "no token");
    hfs_hub_free(hub);
    hfs_hub_free(NULL);
    clean_env();
    fakehub_stop(fh);
}

int main(void)
{
    snprintf(tmp, sizeof(tmp), "/tmp/hfsync-test-token-XXXXXX");
    if (!mkdtemp(tmp)) {
        printf("Bail out! mkdtemp failed\n");
        return 1;
    }
    test_token_order();
    test_endpoint();
    test_session_token();
    char *cmd = hfs_sprintf("rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", tmp);
    free(cmd);
    return tap_done();
}
