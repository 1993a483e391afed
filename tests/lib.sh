# Shared helpers for the shell integration tests: TAP output, a temp dir, the local hub.
# Source it from a test script run by meson (HFSYNC and SRCDIR come from the environment).
set -u
: "${HFSYNC:?HFSYNC must point at the hfsync binary}"
: "${SRCDIR:?SRCDIR must point at the source tree}"

TAP_N=0
TAP_FAILED=0
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/hfsync-test.XXXXXX")
_hub_pids=()

_cleanup() {
    for p in "${_hub_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$TEST_TMP"
}
trap _cleanup EXIT

ok() {       # ok COND-EXIT-CODE NAME
    TAP_N=$((TAP_N + 1))
    if [ "$1" -eq 0 ]; then echo "ok $TAP_N - $2"; else echo "not ok $TAP_N - $2"; TAP_FAILED=$((TAP_FAILED + 1)); fi
}
diag() { # every line of every argument starts with "# " (multi-line output stays TAP)
    local a
    for a in "$@"; do printf '%s\n' "$a" | sed 's/^/# /'; done
}
skip() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N # SKIP $1"; }

# expect_eq GOT WANT NAME
expect_eq() {
    if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3"; diag "got:  $1" "want: $2"; fi
}
# expect_contains HAYSTACK NEEDLE NAME
expect_contains() {
    case "$1" in *"$2"*) ok 0 "$3" ;; *) ok 1 "$3"; diag "in: $1" "missing: $2" ;; esac
}

done_testing() {
    echo "1..$TAP_N"
    [ "$TAP_FAILED" -eq 0 ]
}
