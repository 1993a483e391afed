#!/usr/bin/env bash
# Runs CLI shell tests with every hfsync command under valgrind's memcheck (definite leaks and
# memory errors), the local hub they start running natively, and reports per script: its TAP
# result and what memcheck found. Not part of the default suite: it takes minutes.
#
# usage: tests/valgrind.sh [-B BUILDDIR] [SCRIPT...]
#   BUILDDIR  a normal (non-sanitizer) build; default: build
#   SCRIPT    test scripts relative to tests/ (default: the manifest, planner and executor CLI
#             tests listed below)
# Exit status: 0 when memcheck reported nothing and every script passed, 1 otherwise.
# VALGRIND_KEEP=1 keeps the per-process logs (printed at the end) for a closer look.
set -u
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
BUILDDIR=$SRCDIR/build
if [ "${1:-}" = -B ]; then
    BUILDDIR=$(cd "$2" && pwd)
    shift 2
fi
SCRIPTS=("$@")
[ ${#SCRIPTS[@]} -gt 0 ] || SCRIPTS=(manifest/corpus.sh planner/plan_cli.sh planner/plan_hashes.sh
    executor/apply.sh executor/upload.sh executor/stale.sh executor/faults.sh executor/lock.sh
    executor/large.sh executor/cron.sh hostile/local.sh hostile/secrets.sh)
REAL=$BUILDDIR/hfsync
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
[ -x "$REAL" ] || { echo "no hfsync in $BUILDDIR (build it first)" >&2; exit 1; }
if grep -q -- '-fsanitize' "$BUILDDIR/build.ninja" 2>/dev/null; then
    echo "$BUILDDIR is a sanitizer build: valgrind needs a normal one" >&2
    exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hfsync-valgrind.XXXXXX")
trap '[ -n "${VALGRIND_KEEP:-}" ] || rm -rf "$WORK"' EXIT
# A copy, so a rebuild while the (long) run goes on does not change the binary under test.
cp "$REAL" "$WORK/hfsync.bin"
REAL=$WORK/hfsync.bin
# The wrapper the test scripts run as $HFSYNC. `hub serve` is the test's server, not the CLI
# under test, and would slow every request down: it runs natively.
cat >"$WORK/hfsync" <<EOF
#!/bin/sh
if [ "\${1:-}" = hub ] && [ "\${2:-}" = serve ]; then exec "$REAL" "\$@"; fi
exec valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite \\
    --show-leak-kinds=definite --error-exitcode=99 --num-callers=30 \\
    --suppressions="$SRCDIR/tests/valgrind.supp" \\
    --log-file="$WORK/logs/%p.log" "$REAL" "\$@"
EOF
chmod +x "$WORK/hfsync"

failed=0
printf '%-28s %-22s %s\n' script tests memcheck
for s in "${SCRIPTS[@]}"; do
    rm -rf "$WORK/logs" && mkdir -p "$WORK/logs"
    out=$WORK/$(echo "$s" | tr / _).tap
    HFSYNC=$WORK/hfsync SRCDIR=$SRCDIR BUILDDIR=$BUILDDIR ASAN_OPTIONS= \
        bash "$SRCDIR/tests/$s" >"$out" 2>&1
    pass=$(grep -c '^ok ' "$out")
    fail=$(grep -c '^not ok ' "$out")
    runs=$(ls "$WORK/logs" | wc -l)
    # Each process's log ends with "ERROR SUMMARY: N errors": memory errors, and definite
    # leaks (--errors-for-leak-kinds=definite). A process the test killed on purpose (a
    # SIGKILL, a Ctrl-C test) ends without one.
    reported=$(grep -l -E 'ERROR SUMMARY: [1-9]|^==[0-9]+== (Invalid|Conditional|Use of uninit|Syscall param|Mismatched|Source and destination|Argument)' \
        "$WORK/logs"/*.log 2>/dev/null)
    killed=$(grep -L -E 'ERROR SUMMARY' "$WORK/logs"/*.log 2>/dev/null | wc -l)
    errors=$(grep -h -o -E 'ERROR SUMMARY: [0-9]+' "$WORK/logs"/*.log 2>/dev/null |
        awk '{n += $3} END {print n + 0}')
    leaks=$(grep -h -c -E 'definitely lost in' "$WORK/logs"/*.log 2>/dev/null |
        awk '{n += $1} END {print n + 0}')
    verdict="$runs runs clean"
    if [ -n "$reported" ]; then
        verdict="$runs runs, $(echo "$reported" | wc -l) with reports: $errors errors ($leaks definite leaks)"
        failed=1
        mkdir -p "$WORK/reports"
        for l in $reported; do
            cat "$l" >>"$WORK/reports/$(echo "$s" | tr / _).log"
        done
    fi
    [ "$killed" -eq 0 ] || verdict="$verdict; $killed killed before their summary"
    [ "$fail" -eq 0 ] || failed=1
    printf '%-28s %-22s %s\n' "$s" "$pass ok, $fail not ok" "$verdict"
    grep '^not ok' "$out" | head -5 | sed 's/^/    /'
done
if [ -d "$WORK/reports" ]; then
    echo
    for r in "$WORK/reports"/*.log; do
        echo "==== $(basename "$r" .log)"
        grep -v -E '^==[0-9]+== *$|Memcheck|Copyright|Using Valgrind|Command:|Parent PID' "$r" | head -80
    done
fi
[ -n "${VALGRIND_KEEP:-}" ] && echo "logs kept in $WORK"
exit $failed
