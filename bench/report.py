"""bench/run's output: RESULTS.md (the machine, one Markdown table of every benchmark, the notes
that say how each was measured) and results.svg (gnuplot: grouped bars of each tool's time
relative to hfsync's in the same benchmark).
"""
import subprocess
from pathlib import Path

from common import GiB, MiB, BenchError, median

# Chart series: one colour per kind of tool, the same in every group.
SERIES = [("hfsync", "hfsync", "#1f77b4"),
          ("hfsync-git", "hfsync, transport git", "#6baed6"),
          ("limit", "the limit (openssl, curl -T, a plain sink)", "#7f7f7f"),
          ("git", "git (status; add + lfs push + push)", "#d62728"),
          ("js", "JS client @huggingface/hub (uploadFiles)", "#ff7f0e"),
          ("hfjs", "hfjs upload (its CLI)", "#2ca02c")]
FLAG_LIMIT = 0.80  # below this share of the limit's throughput, hfsync is flagged


def fmt_secs(s):
    if s < 1:
        return f"{s:.3f} s"
    if s < 100:
        return f"{s:.1f} s"
    return f"{s:.0f} s"


def fmt_size(n):
    for unit, div in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n} B"


class Summary:
    """Per benchmark and tool: the median, min, max of the wall times, the peak RSS."""

    def __init__(self, benches, records):
        self.benches = benches
        self.times, self.rss, self.notes = {}, {}, {}
        self.cpu, self.hub_cpu = {}, {}  # user + system seconds of each repetition
        for r in records:
            key = (r["bench"], r["tool"])
            self.times.setdefault(key, []).append(r["secs"])
            if r.get("cpu"):
                self.cpu.setdefault(key, []).append(sum(r["cpu"]))
            if r.get("hub_cpu"):
                self.hub_cpu.setdefault(key, []).append(sum(r["hub_cpu"]))
            self.rss[key] = max(self.rss.get(key, 0), r["rss_kib"])
            if r.get("note"):
                self.notes[key] = r["note"]

    def med(self, bench, tool):
        t = self.times.get((bench, tool))
        return median(t) if t else None

    def cpu_text(self, bench, tool):
        """The medians of the tool's CPU seconds and of the local hub's in the same runs."""
        c, h = self.cpu.get((bench, tool)), self.hub_cpu.get((bench, tool))
        if not c:
            return ""
        return f"{median(c):.1f} s" + (f" + hub {median(h):.1f} s" if h else "")

    def limit_share(self, bench, tool):
        """The tool's throughput as a share of the limit's (same bytes: the time ratio)."""
        b = self.benches[bench]
        if not b.limit:
            return None
        lb, lt = b.limit
        limit_t, t = self.med(lb, lt), self.med(bench, tool)
        if limit_t is None or t is None or (lb, lt) == (bench, tool):
            return None
        limit_bytes = self.benches[lb].bytes if lb != bench else b.bytes
        return (b.bytes / t) / (limit_bytes / limit_t)

    def targets(self):
        """The upload issue's targets, each with the figure this run measured, where the run
        had the benchmark: (what, figure, met)."""
        out = []
        h, js = self.med("upload", "hfsync"), self.med("upload", "js")
        if h and js:
            out.append((f"{self.benches['upload'].title}: hfsync at least 3× faster than the "
                        "JS client (`uploadFiles`)",
                        f"{js / h:.2f}× ({fmt_secs(h)} vs {fmt_secs(js)})", js / h >= 3))
        share = self.limit_share("upload-large", "hfsync") if "upload-large" in self.benches \
            else None
        if share is not None:
            out.append((f"{self.benches['upload-large'].title}: hfsync at least 80 % of "
                        "`curl -T`'s throughput to the same hub", f"{share:.0%}",
                        share >= 0.80))
        rss = self.rss.get(("memory", "hfsync"))
        if rss and "memory" in self.benches:
            out.append((f"{self.benches['memory'].title}: hfsync's peak RSS under 100 MiB",
                        fmt_size(rss * 1024), rss * 1024 < 100 * MiB))
        return out

    def behind(self):
        """Where hfsync is slower than a peer or below FLAG_LIMIT of the limit."""
        out = []
        for key, b in self.benches.items():
            for tool in b.tools:
                if tool.series not in ("hfsync", "hfsync-git"):
                    continue
                t = self.med(key, tool.key)
                if t is None:
                    continue
                for peer in b.tools:
                    pt = self.med(key, peer.key)
                    if peer.series in ("git", "js", "hfjs") and pt is not None and pt < t:
                        out.append(f"{b.title}: {tool.label} ({fmt_secs(t)}) is slower than "
                                   f"{peer.label} ({fmt_secs(pt)}), {t / pt:.2f}×")
                # flagged against a limit on the same bytes only: the whole tree's share of
                # curl's speed on its two large files is there to read, not a target
                share = self.limit_share(key, tool.key)
                if share is not None and share < FLAG_LIMIT and b.limit[0] == key:
                    out.append(f"{b.title}: {tool.label} reaches {share:.0%} of the limit's "
                               f"throughput (target ≥ {FLAG_LIMIT:.0%})")
        return out


def table(s):
    rows = ["| benchmark | tool | median | min – max | peak RSS | CPU | share of the limit | "
            "time ÷ hfsync's | notes |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for key, b in s.benches.items():
        ref = s.med(key, b.reference)
        first = True
        for tool in b.tools:
            times = s.times.get((key, tool.key))
            if not times:
                continue
            m = median(times)
            share = s.limit_share(key, tool.key)
            ratio = "—" if tool.key == b.reference or ref is None else f"{m / ref:.2f}×"
            rows.append("| {} | {} | {} | {} – {} | {} | {} | {} | {} | {} |".format(
                f"**{b.title}**" if first else "", tool.label, fmt_secs(m), fmt_secs(min(times)),
                fmt_secs(max(times)), fmt_size(s.rss[(key, tool.key)] * 1024),
                s.cpu_text(key, tool.key),
                f"{share:.0%}" if share is not None else
                ("the limit" if tool.series == "limit" else ""),
                ratio, s.notes.get((key, tool.key), "")))
            first = False
    return "\n".join(rows)


def write_results(path, benches, records, meta):
    s = Summary(benches, records)
    lines = [f"# Benchmarks{' (quick: 1/20 scale)' if meta['quick'] else ''}", "",
             f"Produced by `{meta['command']}` on {meta['date']}: {meta['reps']} repetitions "
             "per tool, the tools of a benchmark alternating (A B C A B C …) in the same run; "
             "each timed run starts after `sync` (no writeback of an earlier run pending), "
             "and no run pays for the one before: a finished run's hub store, clone and hfsync "
             "state (the git transport's clone cache) are emptied and set aside, and deleted "
             "only when the benchmarks end (on this ext4 "
             "without a journal, files freed in the last minutes slow every file creation: "
             "deleting a 10,000-file store just before the next run cost that run's hub seconds "
             "of CPU, for every tool alike); "
             "median and min – max of the wall times; peak RSS is the largest of the repetitions "
             "(the tool's own process, from wait4(); for a pipeline of several programs, the "
             "largest of them); CPU is the median of the tool's user + system seconds (its "
             "children's included) and, where it talked to the local hub, of the hub's in the "
             "same runs (the two share this machine's cores).", "", "## Machine", ""]
    lines += [f"- {k}: {v}" for k, v in meta["machine"].items()]
    lines += [f"- load average before / after: {meta['load_before']} / {meta['load_after']}", ""]
    lines += ["## Results", "", "![time relative to hfsync](results.svg)", "", table(s), ""]
    targets = s.targets()
    if targets:
        lines += ["## Targets", "", "| target | this run | |", "| --- | ---: | --- |"]
        lines += [f"| {what} | {figure} | {'met' if met else '**missed**'} |"
                  for what, figure, met in targets]
        lines += [""]
    behind = s.behind()
    lines += ["## Where hfsync is behind", ""]
    lines += [f"- {x}" for x in behind] or ["- nowhere in this run: hfsync is ahead of every "
                                            "peer and at ≥ 80 % of every limit."]
    lines += ["", "## How each benchmark is measured", ""]
    for b in benches.values():
        if any(s.times.get((b.key, t.key)) for t in b.tools):
            lines.append(f"- **{b.title}** ({b.key}): {b.how}")
    lines += [""]
    Path(path).write_text("\n".join(lines))
    return s, behind


def write_chart(path, s, work):
    """Grouped bars: per benchmark, each tool's median time divided by hfsync's (log scale)."""
    groups = []
    for key, b in s.benches.items():
        ref = s.med(key, b.reference)
        bars = [(t, s.med(key, t.key) / ref) for t in b.tools
                if t.series and s.med(key, t.key) is not None and ref]
        if len(bars) > 1:
            groups.append((b.short, bars))
    if not groups:
        return False
    data = Path(work) / "chart.dat"
    x, tics, blocks = 0.0, [], {name: [] for name, _, _ in SERIES}
    for short, bars in groups:
        start = x
        for tool, ratio in bars:
            blocks[tool.series].append(f"{x:.2f} {ratio:.4f}")
            x += 1
        tics.append(f'"{short}" {(start + x - 1) / 2:.2f}')
        x += 1.2
    used = [(name, title, colour) for name, title, colour in SERIES if blocks[name]]
    data.write_text("\n\n\n".join("\n".join(blocks[name]) for name, _, _ in used) + "\n")
    ratios = [r for _, bars in groups for _, r in bars]
    lo, hi = min(ratios + [1]) / 1.6, max(ratios + [1]) * 2.2
    plots = ", ".join(
        f"'{data}' index {i} using 1:2 with boxes lc rgb '{colour}' title '{title}', "
        f"'{data}' index {i} using 1:2:(sprintf('%.2f', $2)) with labels offset 0,0.6 "
        "font ',9' notitle"
        for i, (_, title, colour) in enumerate(used))
    ticks = ", ".join(f"{t:g}" for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)
                      if lo <= t <= hi)
    script = f"""
set terminal svg size 1000,560 dynamic noenhanced font 'sans,12' background '#ffffff'
set output '{path}'
set title "Wall time relative to hfsync's in the same benchmark (lower is faster; log scale)"
set logscale y
set yrange [{lo}:{hi}]
set ylabel "time / hfsync's time"
set xrange [-1:{x - 0.2:.2f}]
set xtics ({", ".join(tics)}) nomirror scale 0 font ',11'
set ytics ({ticks}) nomirror
set grid ytics lc rgb '#dddddd'
set style fill solid 0.9 border -1
set boxwidth 0.85 absolute
set bmargin 7
set key below maxrows 2 width 2 Left reverse font ',10'
set arrow from -1,1 to {x - 0.2:.2f},1 nohead dt 2 lc rgb '#444444' front
plot {plots}
"""
    (Path(work) / "chart.gp").write_text(script)
    p = subprocess.run(["gnuplot", str(Path(work) / "chart.gp")], capture_output=True, text=True)
    if p.returncode != 0:
        raise BenchError(f"gnuplot failed on {work}/chart.gp: {p.stderr.strip()}")
    return True
