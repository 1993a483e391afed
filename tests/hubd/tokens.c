/* Tests src/hubd/tokens.c and src/hubd/sign.c: tokens.json round trips, reloads after
 * another process changes it, grants; signed URLs check out only when untouched and fresh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"
#include "hfsync/hubd.h"
#include "hubd/sign.h"
#include "hubd/tokens.h"
#include "tap.h"

int main(void)
{
    char tmpl[] = "/tmp/hfsync-tokens.XXXXXX";
    char *root = mkdtemp(tmpl);
    hubd_tokens *t = NULL;
    tap_is_int(hubd_tokens_open(&t, root), 0, "open with no tokens.json");
    hubd_grant g;
    hubd_tokens_lookup(&g, t, "hf_nothing");
    tap_ok(!g.valid, "an unknown token grants nothing");
    hubd_grant_clear(&g);

    const char *ns[] = {"org1"};
    tap_is_int(hubd_tokens_add(t, "hf_abcdefgh", "alice", true, ns, 1), 0, "add a write token");
    tap_is_int(hubd_tokens_add(t, "hf_abcdefgh", "alice", true, ns, 1), 0, "adding it again is harmless");
    hubd_tokens_lookup(&g, t, "hf_abcdefgh");
    tap_ok(g.valid && g.write && strcmp(g.user, "alice") == 0, "lookup finds user and role");
    tap_ok(hubd_grant_has_namespace(&g, "org1"), "the token's namespace");
    tap_ok(!hubd_grant_has_namespace(&g, "alice"), "namespaces given: only those");
    hubd_grant_clear(&g);
    hubd_tokens_lookup(&g, t, "hf_abcdefg");
    tap_ok(!g.valid, "a prefix of a token is not the token");
    hubd_grant_clear(&g);

    char *created = NULL;
    tap_is_int(hubd_tokens_create(&created, t, "bob", false, NULL, 0), 0, "create a read token");
    tap_ok(created && strlen(created) == 37 && strncmp(created, "hf_", 3) == 0,
           "created tokens look like the hub's: hf_ + 34 letters");
    hubd_tokens_lookup(&g, t, created);
    tap_ok(g.valid && !g.write && hubd_grant_has_namespace(&g, "bob"),
           "read token, in the user's own namespace by default");
    hubd_grant_clear(&g);

    tap_is_int(hubd_tokens_add(t, "not-a-token", "x", true, NULL, 0), HFS_EINVALID,
               "tokens must start with hf_");
    tap_is_int(hubd_tokens_add(t, "hf_validtoken", "bad name", true, NULL, 0), HFS_EINVALID,
               "user names are checked");
    const char *bad_ns[] = {"a/b"};
    tap_is_int(hubd_tokens_add(t, "hf_validtoken", "x", true, bad_ns, 1), HFS_EINVALID,
               "namespaces are checked");

    /* another process (hub token create) adds a token: the open set sees it */
    char *via_api = NULL;
    const char *every[] = {"*"};
    tap_is_int(hfs_hubd_token_create(&via_api, root, "carol", "write", every, 1), 0,
               "hfs_hubd_token_create writes to the same file");
    hubd_tokens_lookup(&g, t, via_api);
    tap_ok(g.valid && hubd_grant_has_namespace(&g, "anything"),
           "the running set reloads the file and '*' allows every namespace");
    hubd_grant_clear(&g);
    char *bad = NULL;
    tap_is_int(hfs_hubd_token_create(&bad, root, "dave", "admin", NULL, 0), HFS_EINVALID,
               "roles are read or write");

    char *path = hfs_path_join(root, "tokens.json");
    struct stat st;
    tap_ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "tokens.json is mode 0600");
    hubd_tokens_free(t);
    hubd_tokens_free(NULL);
    tap_is_int(hubd_tokens_open(&t, root), 0, "reopen");
    hubd_tokens_lookup(&g, t, created);
    tap_ok(g.valid, "tokens survive a restart");
    hubd_grant_clear(&g);
    hubd_tokens_free(t);

    FILE *f = fopen(path, "w");
    fputs("{\"tokens\": 5}", f);
    fclose(f);
    tap_is_int(hubd_tokens_open(&t, root), HFS_EINVALID, "a malformed tokens.json is an error");
    tap_ok(strstr(hfs_error_last(), "tokens.json") != NULL, "... naming the file");

    /* signed URLs */
    hubd_signer *s = NULL;
    tap_is_int(hubd_signer_open(&s, root), 0, "signer: creates the secret");
    char sig[HUBD_SIG_HEX];
    int64_t later = (int64_t)time(NULL) + 60;
    hubd_sign(sig, s, "put", "abc", 10, 0, later);
    tap_ok(hubd_sign_check(s, sig, "put", "abc", 10, 0, later), "a signature checks out");
    tap_ok(!hubd_sign_check(s, sig, "put", "abc", 11, 0, later), "another size does not");
    tap_ok(!hubd_sign_check(s, sig, "part", "abc", 10, 0, later), "another action does not");
    tap_ok(!hubd_sign_check(s, sig, "put", "abd", 10, 0, later), "another oid does not");
    tap_ok(!hubd_sign_check(s, NULL, "put", "abc", 10, 0, later), "no signature does not");
    int64_t past = (int64_t)time(NULL) - 1;
    hubd_sign(sig, s, "put", "abc", 10, 0, past);
    tap_ok(!hubd_sign_check(s, sig, "put", "abc", 10, 0, past), "an expired one does not");
    hubd_signer_free(s);
    tap_is_int(hubd_signer_open(&s, root), 0, "signer: reopens the same secret");
    hubd_sign(sig, s, "get", "abc", 0, 0, later);
    hubd_signer *s2 = NULL;
    hubd_signer_open(&s2, root);
    tap_ok(hubd_sign_check(s2, sig, "get", "abc", 0, 0, later), "signatures survive a restart");
    hubd_signer_free(s);
    hubd_signer_free(s2);

    free(path);
    free(created);
    free(via_api);
    char *cmd = hfs_sprintf("rm -rf '%s'", root);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", root);
    free(cmd);
    return tap_done();
}
