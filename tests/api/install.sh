#!/usr/bin/env bash
# `meson install` of this build into a scratch DESTDIR, then programs built against what was
# installed, with pkg-config alone: every public header on its own (C11 and C++), and the
# programs of examples/c, run against a local hub. Argument: this build's b_sanitize.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/hubd/hub.sh"
. "$SRCDIR/tests/executor/exec.sh"
: "${BUILDDIR:?BUILDDIR must point at the build directory}"

# A program linked with an instrumented library needs the same sanitizers.
SAN=
case "${1:-none}" in none | '') ;; *) SAN="-fsanitize=$1" ;; esac
DEST=$TEST_TMP/dest

out=$(meson install -C "$BUILDDIR" --no-rebuild --quiet --destdir "$DEST" 2>&1)
rc=$?
ok $rc "meson install into a DESTDIR"
[ $rc -eq 0 ] || diag "$out"

pc=$(find "$DEST" -name hfsync.pc | head -1)
expect_contains "$pc" "/pkgconfig/hfsync.pc" "hfsync.pc is installed"
prefix=$(sed -n 's/^prefix=//p' "$pc")
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
# The .pc names the real prefix; the files are under DEST until a package moves them there.
pc_() { pkg-config --define-variable=prefix="$DEST$prefix" "$@" hfsync; }
libdir=$(pc_ --variable=libdir)
includedir=$(pc_ --variable=includedir)
[ -f "$libdir/libhfsync.a" ]
ok $? "libhfsync.a is in the .pc's libdir ($libdir)"
expect_contains "$(pc_ --libs)" "-lhfsync" "pkg-config --libs names the library"
expect_contains "$(pc_ --libs)" "-lcurl" "... and, the library being static, its dependencies"
[ -x "$DEST$prefix/bin/hfsync" ]
ok $? "the hfsync command is installed"

missing=
for h in "$SRCDIR"/include/hfsync.h "$SRCDIR"/include/hfsync/*.h; do
    rel=${h#"$SRCDIR/include/"}
    cmp -s "$h" "$includedir/$rel" || missing="$missing $rel"
done
expect_eq "$missing" "" "every public header is installed under includedir"

# Each header compiles alone, in strict C11 and in C++ (extern "C", nothing C-only leaks).
headers_compile() { # headers_compile COMPILER FLAGS...
    local bad= h rel compiler=$1
    shift
    for h in "$includedir"/hfsync.h "$includedir"/hfsync/*.h; do
        rel=${h#"$includedir/"}
        printf '#include <%s>\nint main(void) { return 0; }\n' "$rel" >"$TEST_TMP/h.c"
        "$compiler" "$@" -Wall -Wextra -Werror $(pc_ --cflags) -c "$TEST_TMP/h.c" \
            -o "$TEST_TMP/h.o" 2>>"$TEST_TMP/headers.err" || bad="$bad $rel"
    done
    echo "$bad"
}
expect_eq "$(headers_compile cc -std=c11 -pedantic)" "" \
    "each installed header compiles on its own (C11, -pedantic)"
if command -v c++ >/dev/null; then
    expect_eq "$(headers_compile c++ -std=c++11 -x c++)" "" \
        "each installed header compiles on its own as C++11"
else
    skip "no C++ compiler (g++) to check the headers as C++ with"
fi
[ -s "$TEST_TMP/headers.err" ] && diag "$(head -20 "$TEST_TMP/headers.err")"

# The command line is a client of the same API.
private=$(grep -h '^#include "' "$SRCDIR"/src/cli/*.[ch] | grep -v -e '"cli.h"' \
    -e '"hfsync.h"' -e '"hfsync/' | sort -u | tr '\n' ' ')
expect_eq "$private" "" "the CLI includes only cli.h and the public headers"

# The examples, built the way their comments say, against the installed library only.
for ex in upload_shards nonblocking sync; do
    cc -std=c11 -Wall -Wextra -Werror $SAN "$SRCDIR/examples/c/$ex.c" -o "$TEST_TMP/$ex" \
        $(pc_ --cflags --libs) 2>"$TEST_TMP/$ex.err"
    ok $? "examples/c/$ex.c builds with \$(pkg-config --cflags --libs hfsync)"
    [ -s "$TEST_TMP/$ex.err" ] && diag "$(head -20 "$TEST_TMP/$ex.err")"
done

hub_start || { done_testing; exit 1; }
exec_env

# upload_shards: N shards from memory, one commit, the LFS objects are the printed ones.
"$TEST_TMP/upload_shards" tester/corpus 3 >"$TEST_TMP/shards.out" 2>"$TEST_TMP/shards.err"
rc=$?
ok $rc "upload_shards runs against the local hub"
[ $rc -eq 0 ] || diag "$(cat "$TEST_TMP/shards.err")"
expect_eq "$(grep -c '^data/shard-' "$TEST_TMP/shards.out")" 3 "it reports three shards"
expect_eq "$(grep -c 'tester/corpus: uploaded 1 LFS file' "$TEST_TMP/shards.err")" 3 \
    "the apply printer shows each shard's upload, one at a time"
expect_contains "$(tail -1 "$TEST_TMP/shards.out")" "$HUB_URL/datasets/tester/corpus/commit/" \
    "it prints the commit's URL"
expect_eq "$(commit_count datasets/tester/corpus)" 2 "one commit on top of the hub's first"
areq GET "/api/datasets/tester/corpus/tree/main/data"
listed=$(jq_ '"\n".join("%s %s" % (e["path"], e["lfs"]["oid"]) for e in j if "lfs" in e)')
expect_eq "$listed" "$(grep '^data/' "$TEST_TMP/shards.out")" \
    "the hub holds each shard as LFS with the sha256 printed"
curl -sfL -H "Authorization: Bearer $TOKEN" -o "$TEST_TMP/shard1" \
    "$HUB_URL/datasets/tester/corpus/resolve/main/data/shard-00001.bin"
expect_eq "data/shard-00001.bin $(sha256_of "$TEST_TMP/shard1")" \
    "$(sed -n 2p "$TEST_TMP/shards.out")" "a shard downloads with those bytes"

# nonblocking: two queued commits land in order.
"$TEST_TMP/nonblocking" tester/notes >"$TEST_TMP/nb.out" 2>"$TEST_TMP/nb.err"
rc=$?
ok $rc "nonblocking runs against the local hub"
[ $rc -eq 0 ] || diag "$(cat "$TEST_TMP/nb.err")"
first=$(sed -n 's/^first //p' "$TEST_TMP/nb.out")
second=$(sed -n 's/^second //p' "$TEST_TMP/nb.out")
areq GET "/api/models/tester/notes/commits/main"
expect_eq "$(jq_ '" ".join(c["id"] for c in j[:2])')" "$second $first" \
    "main has the second commit on top of the first"
curl -sfL -H "Authorization: Bearer $TOKEN" -o "$TEST_TMP/copy" \
    "$HUB_URL/tester/notes/resolve/main/notes/hello-copy.txt"
expect_eq "$(cat "$TEST_TMP/copy")" "hello from a background commit" \
    "the second commit copied the first one's file"

# sync: manifest → plan → apply with a progress callback, as `hfsync apply -f M --yes`.
mkdir -p "$TEST_TMP/proj/model/sub"
printf 'config\n' >"$TEST_TMP/proj/model/config.json"
head -c 300000 /dev/urandom >"$TEST_TMP/proj/model/sub/weights.bin"
cat >"$TEST_TMP/proj/hfsync.yaml" <<'YAML'
version: 1
syncs:
  model:
    repo_id: tester/synced
    folder_path: ./model
    create: { private: true }
YAML
"$TEST_TMP/sync" "$TEST_TMP/proj/hfsync.yaml" >"$TEST_TMP/sync.out" 2>"$TEST_TMP/sync.err"
rc=$?
ok $rc "sync applies a manifest"
[ $rc -eq 0 ] || diag "$(cat "$TEST_TMP/sync.err")"
expect_contains "$(cat "$TEST_TMP/sync.out")" "+ sub/weights.bin" "it prints the plan first"
expect_contains "$(cat "$TEST_TMP/sync.out")" "committed $(head_of models/tester/synced)" \
    "then the commit it made, the repo's head"
expect_contains "$(cat "$TEST_TMP/sync.err")" "100% of the LFS bytes sent" \
    "its own progress callback saw the upload through"
expect_eq "$(resolve_check "$TEST_TMP/proj/model" tester/synced)" "" \
    "the repo holds the folder byte for byte"

hub_stop
done_testing
