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

RESULT = re.compile(r"^(not )?ok\b[^#]*(#\s*(SKIP|TODO)\b)?", re.IGNORECASE)


def run_build(build, extra):
    log = os.path.join(build, "meson-logs", "testlog.json")
    if os.path.exists(log):
        os.remove(log)
    cmd = ["meson", "test", "-C", build, "--print-errorlogs", "--no-rebuild"] + extra
    subprocess.run(cmd, check=False)
    passed = failed = skipped = 0
    if not os.path.exists(log):
        print(f"# {build}: meson wrote no test log", flush=True)
        return 0, 1, 0
    for line in open(log, encoding="utf-8"):
        entry = json.loads(line)
        p = f = s = 0
        for out_line in (entry.get("stdout") or "").splitlines():
            m = RESULT.match(out_line.strip())
            if not m:
                continue
            if m.group(3):
                s += 1
            elif m.group(1):
                f += 1
            else:
                p += 1
        if entry["result"] not in ("OK", "SKIP", "EXPECTEDFAIL") and f == 0:
            f = 1
            print(f"# {build}: {entry['name']} ended with {entry['result']}", flush=True)
        passed, failed, skipped = passed + p, failed + f, skipped + s
    # A test that renames a file over /dev/null (git writing a "global" config set to it, as
    # root) would break every later command on the machine: catch it here.
    if not stat.S_ISCHR(os.stat("/dev/null").st_mode):
        print(f"# {build}: /dev/null is no longer a character device after the suite", flush=True)
        failed += 1
    print(f"# {build}: {passed} passed, {failed} failed, {skipped} skipped", flush=True)
    return passed, failed, skipped


def main():
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        i = args.index("--")
        args, extra = args[:i], args[i + 1:]
    totals = [0, 0, 0]
    for build in args:
        for i, n in enumerate(run_build(build, extra)):
            totals[i] += n
    summary = f"{totals[0]} passed, {totals[1]} failed"
    if totals[2]:
        summary += f", {totals[2]} skipped"
    print(summary)
    return 1 if totals[1] or totals[0] == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
