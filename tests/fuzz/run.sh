#!/usr/bin/env bash
# Builds the fuzz targets with clang's libFuzzer (plus ASan and UBSan) and runs each one for
# SECONDS, then prints: target | seconds | executions | exec/s | crashes.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]        (default: 60 s, every target)
#
# The library is built by meson with clang into its own folder (FUZZ_BUILDDIR, default
# build-fuzz-clang; the normal gcc builds never need clang). Each target starts from its seeds
# (tests/fuzz/corpus/<target>/, written by seeds.py) and its kept crash inputs
# (tests/fuzz/regressions/<target>/); what it learns stays in FUZZ_BUILDDIR/corpus/<target>/
# for the next run. A crash, leak, timeout or sanitizer report leaves its input in
# tests/fuzz/crashes/<target>/ and fuzzing goes on for the rest of the time (at most
# FUZZ_MAX_CRASHES per target). To keep a crash as a regression test, fix it, then move its
# input to tests/fuzz/regressions/<target>/: `meson test --suite fuzz` replays it from then on.
#
# Environment: FUZZ_BUILDDIR, FUZZ_MAX_CRASHES (5), FUZZ_MAX_LEN (libFuzzer's -max_len,
# default 8192), CC (clang).
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fuzz_dir=$src/tests/fuzz
build=${FUZZ_BUILDDIR:-$src/build-fuzz-clang}
max_crashes=${FUZZ_MAX_CRASHES:-5}
max_len=${FUZZ_MAX_LEN:-8192}
cc=${CC:-clang}

secs=${1:-60}
shift || true
if ! [[ $secs =~ ^[0-9]+$ ]] || ((secs == 0)); then
    echo "run.sh: SECONDS must be a whole number above 0, got '$secs'" >&2
    echo "usage: tests/fuzz/run.sh [SECONDS] [TARGET...]" >&2
    exit 64
fi

all_targets=()
for f in "$fuzz_dir"/targets/*.c; do
    all_targets+=("$(basename "$f" .c)")
done
targets=("$@")
((${#targets[@]})) || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
    if [[ ! -f $fuzz_dir/targets/$t.c ]]; then
        echo "run.sh: no target '$t' (tests/fuzz/targets/$t.c); targets: ${all_targets[*]}" >&2
        exit 64
    fi
done

if ! command -v "$cc" >/dev/null; then
    echo "run.sh: $cc not found: install clang (Debian: apt-get install clang) or set CC" >&2
    exit 1
fi

# ---- build -----------------------------------------------------------------------------

if [[ ! -f $build/build.ninja ]]; then
    echo "== configuring $build with $cc (libFuzzer coverage, ASan, UBSan)"
    CC=$cc meson setup "$build" "$src" \
        -Dbuildtype=debugoptimized -Dwerror=false -Db_lundef=false \
        -Db_sanitize=address,undefined \
        -Dc_args="-fsanitize=fuzzer-no-link -fno-sanitize-recover=all" >"$build.setup.log" 2>&1 || {
        cat "$build.setup.log" >&2
        exit 1
    }
fi
echo "== building libhfsync in $build"
ninja -C "$build" libhfsync.a >/dev/null

deps="libcurl openssl yaml-0.1 libpcre2-8 libgit2 jansson libmicrohttpd"
mkdir -p "$build/fuzz"
version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$src/meson.build" | head -n1)
for t in "${targets[@]}"; do
    bin=$build/fuzz/$t
    # Rebuilt when the target, the shared headers or the library changed.
    if [[ -x $bin && $bin -nt $fuzz_dir/targets/$t.c && $bin -nt $fuzz_dir/fuzz.h &&
          $bin -nt $fuzz_dir/fuzz_hub.h && $bin -nt $build/libhfsync.a ]]; then
        continue
    fi
    echo "== building target $t"
    # shellcheck disable=SC2046 # pkg-config prints several words on purpose
    "$cc" -std=c11 -g -O1 -D_GNU_SOURCE "-DHFS_VERSION=\"$version\"" \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        -I"$src/include" -I"$src/src" $(pkg-config --cflags $deps) \
        "$fuzz_dir/targets/$t.c" "$build/libhfsync.a" \
        $(pkg-config --libs $deps) -lpthread -o "$bin"
done

# ---- run -------------------------------------------------------------------------------

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

count_files() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l; }

results=()
for t in "${targets[@]}"; do
    work=$build/corpus/$t
    crashes=$fuzz_dir/crashes/$t
    log=$build/fuzz/$t.log
    mkdir -p "$work" "$crashes"
    seeds=("$fuzz_dir/corpus/$t")
    [[ -d $fuzz_dir/regressions/$t ]] && seeds+=("$fuzz_dir/regressions/$t")
    before=$(count_files "$crashes")
    execs=0 used=0 runs=0
    : >"$log"
    echo "== fuzzing $t for $secs s"
    # libFuzzer stops at the first crash: start it again for the time left.
    while ((used < secs && $(count_files "$crashes") - before < max_crashes)); do
        left=$((secs - used))
        prev=$(count_files "$crashes")
        start=$(date +%s)
        set +e
        "$build/fuzz/$t" "$work" "${seeds[@]}" -max_total_time="$left" -max_len="$max_len" \
            -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$crashes/" >>"$log" 2>&1
        status=$?
        set -e
        runs=$((runs + 1))
        used=$((used + $(date +%s) - start))
        n=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -n1 | grep -o '[0-9]*$' || true)
        execs=$((execs + ${n:-0}))
        # Count each run once: later runs append to the same log.
        sed -i 's/stat::number_of_executed_units/stat::counted_executed_units/' "$log"
        if ((status == 0)); then
            break
        fi
        # No new input: a failure that is not a finding, or a crash already kept (a seed
        # that crashes, say), which another run would only hit again.
        if (($(count_files "$crashes") == prev)); then
            echo "   $t stopped with status $status and no new crash input; see $log" >&2
            break
        fi
    done
    found=$(($(count_files "$crashes") - before))
    rate=$((used > 0 ? execs / used : execs))
    results+=("$t|$used|$execs|$rate|$found")
    if ((found > 0)); then
        echo "   $found new crash input(s) in tests/fuzz/crashes/$t/ (log: $log)"
    fi
done

printf '\n%-18s | %7s | %12s | %8s | %s\n' target seconds executions exec/s crashes
printf -- '-------------------+---------+--------------+----------+--------\n'
total=0
for r in "${results[@]}"; do
    IFS='|' read -r t s e x c <<<"$r"
    printf '%-18s | %7s | %12s | %8s | %s\n' "$t" "$s" "$e" "$x" "$c"
    total=$((total + c))
done
((total == 0))
