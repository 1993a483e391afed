/* Tests for src/planner/gitignore.c with git as the oracle: the test builds a real repo with
 * nested .gitignore files, asks `git check-ignore` about every path, and checks we agree. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"
#include "planner/gitignore.h"
#include "tap.h"

/* The .gitignore files of the test repo, by directory. */
static const struct {
    const char *base, *content;
    size_t len; /* 0: strlen */
} ignore_files[] = {
    {"",
     "# comment line\n"
     "*.o\n"
     "!keep.o\n"
     "/root-only.txt\n"
     "build/\n"
     "logs/**\n"
     "!logs/important/\n"
     "!logs/important/**\n"
     "doc/*.html\n"
     "**/tmp\n"
     "a/**/z\n"
     "\\#hash.txt\n"
     "\\!bang.txt\n"
     "trailing-space.txt   \n"
     "escaped-space.txt\\ \n"
     "excluded-dir/\n"
     "!excluded-dir/reinclude.txt\n"
     "star/*\n"
     "!star/keep/\n"
     "*.log\n"
     "qmark?.txt\n"
     "[abc]class.txt\n"
     "cache*/\n"
     "**/gen/*.c\n"
     "/*.cfg\n"
     " lead.txt\n"
     "tab.txt\t\n"
     "\n"
     "   \n",
     0},
    {"sub",
     "!important.log\n"
     "/anchored.txt\n"
     "middle/slash.txt\n"
     "nested.txt\n"
     "deep/\n"
     "crlf.txt\r\n",
     0},
    {"sub/inner", "\xef\xbb\xbf!nested.txt\n*.o", 0}, /* a BOM, and no final newline */
};

static const struct {
    const char *path;
    bool is_dir, ignored;
    const char *why;
} cases[] = {
    {"main.o", false, true, "basename pattern at the root"},
    {"keep.o", false, false, "negation after a broader pattern"},
    {"sub/deep.o", false, true, "basename pattern at any depth"},
    {"root-only.txt", false, true, "leading / anchors to the root"},
    {"sub/root-only.txt", false, false, "anchored pattern does not match deeper"},
    {"build", true, true, "directory-only pattern matches a directory"},
    {"build/out.bin", false, true, "file inside an ignored directory"},
    {"x/build", true, true, "directory-only pattern matches a directory at any depth"},
    {"y/build", false, false, "directory-only pattern does not match a file"},
    {"logs/a.txt", false, true, "trailing /** matches everything inside"},
    {"logs", true, false, "trailing /** does not match the directory itself"},
    {"logs/important", true, false, "negated directory-only pattern"},
    {"logs/important/x.txt", false, false, "re-included with /** negation"},
    {"logs/other/x.txt", false, true, "still excluded by logs/**"},
    {"doc/index.html", false, true, "middle slash: * within one level"},
    {"doc/sub/index.html", false, false, "* does not cross /"},
    {"tmp", true, true, "leading **/ matches at the root"},
    {"q/r/tmp", false, true, "leading **/ matches at any depth"},
    {"a/z", false, true, "/**/ matches zero directories"},
    {"a/b/c/z", false, true, "/**/ matches several directories"},
    {"b/a/z", false, false, "a pattern with a middle slash is anchored"},
    {"#hash.txt", false, true, "escaped # is a pattern, not a comment"},
    {"!bang.txt", false, true, "escaped ! is literal, not a negation"},
    {"trailing-space.txt", false, true, "unescaped trailing spaces are trimmed"},
    {"escaped-space.txt ", false, true, "an escaped trailing space is kept"},
    {"escaped-space.txt", false, false, "the kept space must be in the name"},
    {"excluded-dir", true, true, "excluded directory"},
    {"excluded-dir/reinclude.txt", false, true, "no re-include below an excluded parent"},
    {"star/file.txt", false, true, "dir/* excludes the contents"},
    {"star/keep", true, false, "a directory re-included after dir/*"},
    {"star/keep/f.txt", false, false, "files in the re-included directory"},
    {"app.log", false, true, "*.log at the root"},
    {"sub/important.log", false, false, "a deeper .gitignore's negation wins"},
    {"sub/other.log", false, true, "the root rule still applies in sub/"},
    {"important.log", false, true, "sub/.gitignore does not apply at the root"},
    {"sub/anchored.txt", false, true, "leading / anchors to that file's directory"},
    {"sub/x/anchored.txt", false, false, "anchored to sub/, not deeper"},
    {"anchored.txt", false, false, "sub's rule does not apply above sub/"},
    {"sub/middle/slash.txt", false, true, "middle slash relative to sub/"},
    {"sub/q/middle/slash.txt", false, false, "middle slash anchors to sub/"},
    {"sub/nested.txt", false, true, "basename rule in sub/.gitignore"},
    {"sub/inner/nested.txt", false, false, "the deepest file re-includes (after a BOM)"},
    {"sub/inner/keep.o", false, true, "the deepest file's *.o beats the root's !keep.o"},
    {"sub/deep", true, true, "directory-only rule in a nested file"},
    {"sub/deep/f.txt", false, true, "inside a directory a nested file excludes"},
    {"sub/crlf.txt", false, true, "CRLF line endings"},
    {"qmark1.txt", false, true, "? matches one character"},
    {"qmark12.txt", false, false, "? matches exactly one character"},
    {"bclass.txt", false, true, "character class"},
    {"dclass.txt", false, false, "character class miss"},
    {"# comment line", false, false, "comment lines are not patterns"},
    {"sub/inner/.gitignore", false, false, ".gitignore files themselves"},
    {"cachefoo", true, true, "wildcard with trailing /: directory"},
    {"cachebar", false, false, "wildcard with trailing /: not a file"},
    {"x/gen/a.c", false, true, "**/dir/*.c at depth"},
    {"gen/a.c", false, true, "**/dir/*.c at the root"},
    {"x/gen/y/a.c", false, false, "**/dir/*.c: * stays in one level"},
    {"a.cfg", false, true, "/*.cfg at the root"},
    {"sub/a.cfg", false, false, "/*.cfg not below the root"},
    {" lead.txt", false, true, "leading spaces are part of the pattern"},
    {"lead.txt", false, false, "the leading space must be in the name"},
    {"tab.txt", false, false, "trailing tabs are not trimmed"},
    {"plain.txt", false, false, "no rule matches"},
};

static char root[64];

static void make_dirs(const char *rel)
{
    char *full = hfs_path_join(root, rel);
    hfs_mkdir_p(full);
    free(full);
}

static void make_file(const char *rel, const char *content, size_t len)
{
    char *full = hfs_path_join(root, rel);
    char *slash = strrchr(full, '/');
    *slash = '\0';
    hfs_mkdir_p(full);
    *slash = '/';
    int fd = open(full, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, content, len) != (ssize_t)len)
        tap_diag("cannot write %s: %s", full, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(full);
}

/* Runs git check-ignore over every case path; ignored[i] says what git answered.
 * Returns false when git cannot run (then only the table's answers are checked). */
static bool ask_git(bool *ignored)
{
    hfs_buf in = HFS_BUF_INIT;
    for (size_t i = 0; i < HFS_ARRAY_LEN(cases); i++)
        hfs_buf_add(&in, cases[i].path, strlen(cases[i].path) + 1);
    char *in_path = hfs_path_join(root, ".git/hfs-paths");
    char *out_path = hfs_path_join(root, ".git/hfs-ignored");
    hfs_write_file_atomic(in_path, in.ptr, in.len, 0644);
    /* No global or system excludes: only the files this test writes may decide. */
    char *cmd = hfs_sprintf("cd '%s' && HOME='%s' XDG_CONFIG_HOME='%s' GIT_CONFIG_NOSYSTEM=1 "
                            "git -c core.excludesFile=/dev/null check-ignore --no-index "
                            "--stdin -z <'%s' >'%s' 2>/dev/null",
                            root, root, root, in_path, out_path);
    int status = system(cmd);
    char *out = NULL;
    size_t out_len = 0;
    bool ran = WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 1) &&
               hfs_read_file(&out, &out_len, out_path, 1 << 20) == 0;
    for (size_t i = 0; ran && i < HFS_ARRAY_LEN(cases); i++) {
        ignored[i] = false;
        for (size_t off = 0; off < out_len; off += strlen(out + off) + 1)
            if (strcmp(out + off, cases[i].path) == 0)
                ignored[i] = true;
    }
    free(out);
    free(cmd);
    free(in_path);
    free(out_path);
    hfs_buf_free(&in);
    return ran;
}

static void test_against_git(void)
{
    snprintf(root, sizeof(root), "/tmp/hfs-gitignore-XXXXXX");
    if (!mkdtemp(root)) {
        tap_ok(false, "mkdtemp: %s", strerror(errno));
        return;
    }
    char *init = hfs_sprintf("git init -q '%s' 2>/dev/null", root);
    bool have_git = system(init) == 0;
    free(init);
    if (!have_git)
        make_dirs(".git");

    hfs_gitignore *m = hfs_gitignore_new();
    for (size_t i = 0; i < HFS_ARRAY_LEN(ignore_files); i++) {
        const char *c = ignore_files[i].content;
        size_t len = ignore_files[i].len ? ignore_files[i].len : strlen(c);
        char *rel = hfs_path_join(ignore_files[i].base, ".gitignore");
        make_file(rel, c, len);
        char *full = hfs_path_join(root, rel);
        tap_is_int(hfs_gitignore_add_file(m, ignore_files[i].base, full), 0, rel);
        free(full);
        free(rel);
    }
    for (size_t i = 0; i < HFS_ARRAY_LEN(cases); i++) {
        if (cases[i].is_dir)
            make_dirs(cases[i].path);
        else if (!hfs_str_ends_with(cases[i].path, ".gitignore"))
            make_file(cases[i].path, "x\n", 2);
    }

    bool git_says[HFS_ARRAY_LEN(cases)];
    bool asked = have_git && ask_git(git_says);
    if (!asked)
        tap_diag("git is not available: checking against the table's answers only");
    for (size_t i = 0; i < HFS_ARRAY_LEN(cases); i++) {
        bool ours = hfs_gitignore_is_ignored(m, cases[i].path, cases[i].is_dir);
        bool git = asked ? git_says[i] : cases[i].ignored;
        if (!tap_ok(ours == git && git == cases[i].ignored, "%s: '%s' %s", cases[i].why,
                    cases[i].path, cases[i].ignored ? "ignored" : "not ignored"))
            tap_diag("  hfsync: %s, git: %s, table: %s", ours ? "ignored" : "kept",
                     git ? "ignored" : "kept", cases[i].ignored ? "ignored" : "kept");
    }
    hfs_gitignore_free(m);
    char *rm = hfs_sprintf("rm -rf '%s'", root);
    if (system(rm) != 0)
        tap_diag("could not remove %s", root);
    free(rm);
}

/* The remote root .gitignore and the hub's preupload `gitIgnore` come as text. */
static void test_from_string(void)
{
    hfs_gitignore *m = NULL;
    tap_is_int(hfs_gitignore_from_string(&m, "*.tmp\n!keep.tmp\n/only-root\ncache/\n"), 0,
               "from_string parses");
    tap_ok(hfs_gitignore_is_ignored(m, "a/b.tmp", false), "from_string: *.tmp at depth");
    tap_ok(!hfs_gitignore_is_ignored(m, "keep.tmp", false), "from_string: negation");
    tap_ok(hfs_gitignore_is_ignored(m, "only-root", false), "from_string: anchored");
    tap_ok(!hfs_gitignore_is_ignored(m, "x/only-root", false), "from_string: anchored, deeper");
    tap_ok(hfs_gitignore_is_ignored(m, "cache/x.bin", false), "from_string: below ignored dir");
    tap_ok(hfs_gitignore_has_base(m, "") && !hfs_gitignore_has_base(m, "sub"), "has_base");
    hfs_gitignore_free(m);

    hfs_gitignore *empty = hfs_gitignore_new();
    tap_ok(!hfs_gitignore_is_ignored(empty, "anything", false), "an empty matcher ignores nothing");
    hfs_gitignore_free(empty);
    hfs_gitignore_free(NULL);

    hfs_gitignore *missing = hfs_gitignore_new();
    tap_is_int(hfs_gitignore_add_file(missing, "", "/nonexistent/.gitignore"), HFS_ENOTFOUND,
               "a missing rules file is an error");
    tap_ok(strstr(hfs_error_last(), "/nonexistent/.gitignore") != NULL, "the error names the file");
    hfs_gitignore_free(missing);
}

int main(void)
{
    test_against_git();
    test_from_string();
    return tap_done();
}
