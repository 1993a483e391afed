#!/usr/bin/env bash
# The manifest corpus, through the real command: each bad/NN-name.yaml must make
# `hfsync validate -f` exit 1 with exactly the lines of NN-name.expected on stderr; each
# good/NN-name.yaml must exit 0 printing NN-name.expected; every example must validate.
source "$SRCDIR/tests/lib.sh"

corpus="$SRCDIR/tests/manifest"

# run DIR FILE: runs `hfsync validate -f FILE` inside DIR; sets rc, out, err.
run() {
    (cd "$1" && "$HFSYNC" validate -f "$2" >"$TEST_TMP/out" 2>"$TEST_TMP/err")
    rc=$?
    out=$(cat "$TEST_TMP/out")
    err=$(cat "$TEST_TMP/err")
}

n_bad=0
for yaml in "$corpus"/bad/*.yaml; do
    name=$(basename "$yaml")
    want=$(cat "${yaml%.yaml}.expected")
    run "$corpus/bad" "$name"
    n_bad=$((n_bad + 1))
    if [ "$rc" -eq 1 ] && [ -z "$out" ] && [ "$err" = "$want" ]; then
        ok 0 "bad/$name: exit 1 with the expected lines"
    else
        ok 1 "bad/$name: exit 1 with the expected lines"
        diag "exit code: $rc" "stdout: $out" "got:" "$err" "want:" "$want"
    fi
done
[ "$n_bad" -ge 30 ]
ok $? "at least 30 bad manifests ($n_bad)"

for yaml in "$corpus"/good/*.yaml; do
    name=$(basename "$yaml")
    want=$(cat "${yaml%.yaml}.expected")
    run "$corpus/good" "$name"
    if [ "$rc" -eq 0 ] && [ -z "$err" ] && [ "$out" = "$want" ]; then
        ok 0 "good/$name: exit 0 with one line per sync"
    else
        ok 1 "good/$name: exit 0 with one line per sync"
        diag "exit code: $rc" "stderr: $err" "got:" "$out" "want:" "$want"
    fi
done

# Examples are validated the way a user runs them: from their folder, default file name.
# (examples/c holds C programs for the library, not a manifest.)
shopt -s nullglob
for manifest in "$SRCDIR"/examples/*/hfsync.yaml; do
    dir=$(dirname "$manifest")
    name=$(basename "$dir")
    (cd "$dir" && "$HFSYNC" validate >"$TEST_TMP/out" 2>"$TEST_TMP/err")
    rc=$?
    if [ "$rc" -eq 0 ] && [ -s "$TEST_TMP/out" ] && [ ! -s "$TEST_TMP/err" ]; then
        ok 0 "examples/$name validates"
    else
        ok 1 "examples/$name validates"
        diag "exit code: $rc" "$(cat "$TEST_TMP/err")"
    fi
done

# Without -f, ./hfsync.yaml is read; when it is missing the message says which file.
(cd "$TEST_TMP" && "$HFSYNC" validate >"$TEST_TMP/out" 2>"$TEST_TMP/err")
rc=$?
expect_eq "$rc" 1 "no ./hfsync.yaml: exit 1"
expect_contains "$(cat "$TEST_TMP/err")" "cannot open hfsync.yaml" "no ./hfsync.yaml: names the file"

# A path given with folders is echoed as given, and folder_path starts at the manifest.
mkdir -p "$TEST_TMP/proj/data"
printf 'version: 1\nsyncs:\n  d: {repo_id: alice/d, folder_path: data, max_delete: x}\n' >"$TEST_TMP/proj/m.yaml"
(cd "$TEST_TMP" && "$HFSYNC" validate -f proj/m.yaml >"$TEST_TMP/out" 2>"$TEST_TMP/err")
rc=$?
expect_eq "$rc:$(cat "$TEST_TMP/err")" \
    "1:proj/m.yaml:3:56: syncs.d.max_delete: expected a whole number of at least 0; got \"x\"" \
    "errors name the file as given; folder_path is relative to the manifest"

"$HFSYNC" validate --help >"$TEST_TMP/out" 2>&1
rc=$?
expect_eq "$rc" 0 "validate --help: exit 0"
expect_contains "$(cat "$TEST_TMP/out")" "-f, --file FILE" "validate --help lists -f"

"$HFSYNC" validate extra-arg >/dev/null 2>&1
expect_eq "$?" 64 "an unexpected argument is a usage error (64)"

done_testing
