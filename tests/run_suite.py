#!/usr/bin/env python3
"""Runs the whole test suite in each given build directory and prints one summary.

Every test prints TAP; this counts each "ok"/"not ok" line across all builds, so the
last line reads "N passed, N failed" (", N skipped" when any were skipped). A test that
crashed or timed out without reporting a failure of its own counts as one failure.
"""
import json
import os
import re
import stat
import subprocess
import sys

# Diagnostic lines repeated under each failed subtest at the end, and at most this many
# lines of failures in all.
FAILURE_DETAIL_LINES = 12
MAX_FAILURE_LINES = 120
RESULT = re.compile(r"^(not )?ok\b[^#]*(#\s*(SKIP|TODO)\b)?", re.IGNORECASE)


def run_build(build, extra):
    log = os.path.join(build, "meson-logs", "testlog.json")
    if os.path.exists(log):
        os.remove(log)
    cmd = ["meson", "test", "-C", build, "--print-errorlogs", "--no-rebuild"] + extra
    subprocess.run(cmd, check=False)
    passed = failed = skipped = 0
    failures = []
    if not os.path.exists(log):
        print(f"# {build}: meson wrote no test log", flush=True)
        return 0, 1, 0, [f"# {build}: meson wrote no test log"]
    for line in open(log, encoding="utf-8"):
        entry = json.loads(line)
        p = f = s = 0
        detail = 0  # diagnostic lines still to keep after a "not ok"
        for out_line in (entry.get("stdout") or "").splitlines():
            m = RESULT.match(out_line.strip())
            if not m:
                if detail and out_line.startswith("#"):
                    failures.append(f"#   {out_line}")
                    detail -= 1
                else:
                    detail = 0
                continue
            detail = 0
            if m.group(3):
                s += 1
            elif m.group(1):
                f += 1
                failures.append(f"# {build}: {entry['name']}: {out_line.strip()}")
                detail = FAILURE_DETAIL_LINES
            else:
                p += 1
        if entry["result"] not in ("OK", "SKIP", "EXPECTEDFAIL") and f == 0:
            f = 1
            print(f"# {build}: {entry['name']} ended with {entry['result']}", flush=True)
            failures.append(f"# {build}: {entry['name']} ended with {entry['result']}")
        passed, failed, skipped = passed + p, failed + f, skipped + s
    # A test that renames a file over /dev/null (git writing a "global" config set to it, as
    # root) would break every later command on the machine: catch it here.
    if not stat.S_ISCHR(os.stat("/dev/null").st_mode):
        print(f"# {build}: /dev/null is no longer a character device after the suite", flush=True)
        failures.append(f"# {build}: /dev/null is no longer a character device after the suite")
        failed += 1
    print(f"# {build}: {passed} passed, {failed} failed, {skipped} skipped", flush=True)
    return passed, failed, skipped, failures


def main():
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        i = args.index("--")
        args, extra = args[:i], args[i + 1:]
    totals = [0, 0, 0]
    failures = []
    for build in args:
        passed, failed, skipped, failed_lines = run_build(build, extra)
        for i, n in enumerate((passed, failed, skipped)):
            totals[i] += n
        failures += failed_lines
    # The failures once more, next to the summary: a CI page that keeps only the end of the
    # output still says which subtests failed and why.
    if failures:
        print("# the failed subtests, with their first lines of diagnostics:")
        for line in failures[:MAX_FAILURE_LINES]:
            print(line)
        if len(failures) > MAX_FAILURE_LINES:
            print(f"# ... and {len(failures) - MAX_FAILURE_LINES} more lines (see the logs above)")
    summary = f"{totals[0]} passed, {totals[1]} failed"
    if totals[2]:
        summary += f", {totals[2]} skipped"
    print(summary)
    return 1 if totals[1] or totals[0] == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
