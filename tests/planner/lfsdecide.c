/* Tests for src/planner/lfsdecide.c: the mode from name and size, from a content sample, and
 * the two steps around hashing (which hashes to ask for; which files need a sample read). */
#include "common/error.h"
#include "corefixture.h"
#include "planner/hashcache.h"
#include "planner/lfsdecide.h"
#include "tap.h"

#include <stdio.h>
#include <unistd.h>

static char *write_temp(const char *dir, const char *name, const void *data, size_t len)
{
    char *path = hfs_path_join(dir, name);
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, len, f);
    fclose(f);
    return path;
}

int main(void)
{
    hfs_lfsrules *rules = NULL;
    const char *attrs = hfs_lfsrules_default_gitattributes(HFS_REPO_MODEL);
    hfs_lfsrules_parse(&rules, attrs, strlen(attrs));

    tap_is_int(hfs_lfsdecide_by_name(rules, "model.safetensors", 0), HFS_MODE_REGULAR,
               "empty: regular even when a rule matches");
    tap_is_int(hfs_lfsdecide_by_name(rules, "model.safetensors", 5), HFS_MODE_LFS,
               "a default rule: LFS");
    tap_is_int(hfs_lfsdecide_by_name(rules, "big.txt", HFS_REGULAR_MAX_BYTES + 1ull), HFS_MODE_LFS,
               "over 10 MiB: LFS");
    tap_is_int(hfs_lfsdecide_by_name(rules, "big.txt", HFS_REGULAR_MAX_BYTES), HFS_MODE_UNDECIDED,
               "10 MiB exactly, no rule: the content decides");
    tap_is_int(hfs_lfsdecide_by_name(NULL, "x.bin", 3), HFS_MODE_UNDECIDED,
               "no rules at all (a repo without .gitattributes)");

    char tmpl[] = "/tmp/hfsync-lfsdecide.XXXXXX";
    char *dir = mkdtemp(tmpl);
    static const unsigned char binary[] = {'P', 'K', 3, 4, 0, 0, 0xff, 0xfe};
    char *text_path = write_temp(dir, "notes.txt", "plain text\n", 11);
    char *bin_path = write_temp(dir, "blob.dat", binary, sizeof(binary));

    local_list l = {0};
    local_add(&l, "blob.dat", "blob", false);
    local_add(&l, "notes.txt", "plain text\n", false);
    local_add(&l, "same.dat", "same", false);
    free(l.files[0].local_path);
    l.files[0].local_path = hfs_strdup(bin_path);
    l.files[0].size = sizeof(binary);
    free(l.files[1].local_path);
    l.files[1].local_path = hfs_strdup(text_path);
    free(l.files[2].local_path);
    l.files[2].local_path = hfs_sprintf("%s/does-not-exist", dir);

    hfs_file_mode mode;
    tap_ok(hfs_lfsdecide_by_content(&mode, rules, &l.files[0]) == 0 && mode == HFS_MODE_LFS,
           "a binary sample: LFS");
    tap_ok(hfs_lfsdecide_by_content(&mode, rules, &l.files[1]) == 0 && mode == HFS_MODE_REGULAR,
           "a text sample: regular");
    tap_ok(hfs_lfsdecide_by_content(&mode, rules, &l.files[2]) == HFS_ENOTFOUND &&
               strstr(hfs_error_last(), "does-not-exist"),
           "a missing file is an error naming it");

    /* same.dat equals the remote file: its mode comes from the remote, nothing is read
     * (its local_path does not even exist). */
    hfs_remote_snapshot *r = hfs_remote_snapshot_new(TEST_HEAD);
    remote_add(r, "same.dat", "same", true);
    remote_add(r, "x.safetensors", "x", false);
    hfs_remote_snapshot_finish(r);
    unsigned char modes[4], want[4];
    hfs_lfsdecide_prepare(modes, want, l.files, l.n, rules, r);
    tap_ok(modes[0] == HFS_MODE_UNDECIDED && want[0] == HFS_HASH_BOTH && want[2] == HFS_HASH_BOTH,
           "undecided files ask for both hashes");
    tap_is_int(hfs_lfsdecide_finish(modes, l.files, l.n, rules, r), 0, "finish");
    tap_ok(modes[0] == HFS_MODE_LFS && modes[1] == HFS_MODE_REGULAR && modes[2] == HFS_MODE_LFS,
           "samples decide new content; content equal to the remote keeps its mode unread");
    local_free(&l);

    /* A decided file whose remote copy has the other mode also gets both hashes, so equal
     * content is recognised. */
    local_add(&l, "x.safetensors", "x", true);
    local_add(&l, "y.safetensors", "y", true);
    hfs_lfsdecide_prepare(modes, want, l.files, l.n, rules, r);
    tap_ok(modes[0] == HFS_MODE_LFS && want[0] == HFS_HASH_BOTH && want[1] == HFS_HASH_SHA256,
           "mode differs from the remote: both hashes; otherwise the mode's own");
    local_free(&l);
    local_add(&l, "e.txt", "", false);
    hfs_lfsdecide_prepare(modes, want, l.files, l.n, rules, r);
    tap_ok(modes[0] == HFS_MODE_REGULAR && want[0] == HFS_HASH_SHA1, "empty: regular, sha1");
    local_free(&l);

    hfs_remote_snapshot_free(r);
    unlink(text_path);
    unlink(bin_path);
    rmdir(dir);
    free(text_path);
    free(bin_path);
    hfs_lfsrules_free(rules);
    return tap_done();
}
