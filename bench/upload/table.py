#!/usr/bin/env python3
"""Prints the upload benchmark's Markdown table from run.sh's results.

usage: table.py RESULTS.tsv INFO.tsv
  RESULTS.tsv: "run<TAB>rep<TAB>seconds" per timed run
  INFO.tsv:    "key<TAB>value": mode, reps, cores, folder_bytes, folder_files, large_bytes,
               huge_bytes, rss_kb, jobs, threshold
"""
import statistics
import sys

RUNS = [
    # key, tool, what was uploaded, which byte count gives the rate
    ("hfsync-folder", "hfsync upload", "the folder (hash cache cold)", "folder_bytes"),
    ("js-folder", "JS uploadFiles, useXet false", "the folder", "folder_bytes"),
    ("hfsync-large", "hfsync upload", "the 2 large files, multipart (hash cache warm)", "large_bytes"),
    ("curl-large", "curl -T, --parallel", "the same parts to the same hrefs, then the completions",
     "large_bytes"),
    ("hfsync-large-basic", "hfsync upload", "the 2 large files, basic PUT (hash cache warm)",
     "large_bytes"),
    ("curl-large-basic", "curl -T, --parallel", "the 2 large files, basic PUT", "large_bytes"),
]


def size(n):
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n} B"


def main():
    times = {}
    for line in open(sys.argv[1]):
        run, _, secs = line.rstrip("\n").split("\t")
        times.setdefault(run, []).append(float(secs))
    info = dict(line.rstrip("\n").split("\t", 1) for line in open(sys.argv[2]))
    num = lambda k: int(info.get(k, "0"))
    med = {k: statistics.median(v) for k, v in times.items()}

    print(f"## Upload to the local hub: {info['mode']} size, {info['reps']} repetitions, "
          f"{info['cores']} cores")
    print()
    print(f"Folder: {size(num('folder_bytes'))} in {num('folder_files'):,} files (2 large files of "
          f"{size(num('large_bytes') // 2)}, over the hub's multipart threshold of "
          f"{info['threshold']}); hfsync --jobs {info['jobs']}. Runs alternate in order; each "
          f"starts a fresh hub with an empty store.")
    print()
    print("| tool | uploads | median | min – max | rate (median) |")
    print("| --- | --- | ---: | ---: | ---: |")
    for key, tool, what, bytes_key in RUNS:
        if key not in times:
            continue
        v = times[key]
        rate = num(bytes_key) / med[key] / (1 << 20)
        print(f"| {tool} | {what} | {med[key]:.2f} s | {min(v):.2f} – {max(v):.2f} s | "
              f"{rate:.0f} MiB/s |")
    print()
    print("| comparison | result | target |")
    print("| --- | ---: | --- |")
    if "hfsync-folder" in med and "js-folder" in med:
        r = med["js-folder"] / med["hfsync-folder"]
        print(f"| hfsync vs JS client, whole folder (JS time / hfsync time) | {r:.2f}× | ≥ 3× |")
    for key, limit, label in (("hfsync-large", "curl-large", "multipart"),
                              ("hfsync-large-basic", "curl-large-basic", "basic PUT")):
        if key in med and limit in med:
            r = med[limit] / med[key] * 100
            print(f"| hfsync large files vs raw curl -T throughput ({label}) | {r:.0f} % | ≥ 80 % |")
    if num("rss_kb"):
        print(f"| peak RSS of hfsync uploading a {size(num('huge_bytes'))} file | "
              f"{num('rss_kb') / 1024:.1f} MiB | < 100 MiB (5 GiB file) |")


if __name__ == "__main__":
    main()
