"""What every benchmark of bench/run shares: the release build and the tools it needs, a local
hub started fresh on loopback, and one timed run of a program with its peak RSS.

Nothing here decides what is measured; bench/run does, bench/datasets.py makes the data and
bench/report.py writes the table and the chart.
"""
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent
BENCH = SRC / "bench"
NODE_DIR = SRC / "tests" / "node"
JS_CLIENT = NODE_DIR / "node_modules" / "@huggingface" / "hub"
TOKEN = "hf_benchtoken0123456789"
GIT_CREDENTIAL_USER = "bench"

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30


class BenchError(Exception):
    """A benchmark that cannot go on: the message says what failed and where to look."""


def say(msg):
    print(f"bench: [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_quiet(cmd, what, **kw):
    """Runs a setup step (not timed); a failure stops the benchmark with the step's output."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if p.returncode != 0:
        tail = "\n".join(p.stdout.splitlines()[-15:])
        raise BenchError(f"{what} failed (exit {p.returncode}): {' '.join(map(str, cmd))}\n{tail}")
    return p.stdout


# ---- tools and the build ------------------------------------------------------------------------

# Debian packages of the programs bench/run calls, installed when missing (the machine is root
# and reaches Debian's mirror; see scripts/install-deps.sh for the build's own).
DEBIAN_TOOLS = {"gnuplot": "gnuplot-nox", "git": "git", "git-lfs": "git-lfs", "curl": "curl",
                "openssl": "openssl", "node": "nodejs", "npm": "npm", "cc": "gcc",
                "meson": "meson", "ninja": "ninja-build", "pkg-config": "pkg-config"}


def ensure_tools():
    missing = sorted({pkg for tool, pkg in DEBIAN_TOOLS.items() if not shutil.which(tool)})
    if missing:
        if os.geteuid() != 0:
            raise BenchError(f"missing Debian packages {' '.join(missing)}: install them "
                             "(apt-get install) or run bench/run as root")
        say(f"installing from Debian: {' '.join(missing)}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run_quiet(["apt-get", "update", "-qq"], "apt-get update", env=env)
        run_quiet(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                  "apt-get install", env=env)
    lock = NODE_DIR / "package-lock.json"
    stamp = NODE_DIR / "node_modules" / ".package-lock.json"
    if not JS_CLIENT.is_dir() or not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        say("installing the pinned JS client: npm ci in tests/node")
        run_quiet(["npm", "ci", "--no-audit", "--no-fund"], "npm ci in tests/node", cwd=NODE_DIR)


def check_space(work, need):
    """Stops before a run that would fill the disk halfway through."""
    st = os.statvfs(work)
    free = st.f_bavail * st.f_frsize
    if free < need:
        raise BenchError(f"{work} has {free / GiB:.1f} GiB free; this run needs about "
                         f"{need / GiB:.1f} GiB (data sets, hub stores, the git clone): free "
                         "some space or pick another --work")


def build_release(build_dir):
    """The release build of hfsync (and libhfsync.a for the probes in bench/plan)."""
    if not (build_dir / "build.ninja").exists():
        say(f"setting up the release build in {build_dir}")
        run_quiet(["meson", "setup", str(build_dir), str(SRC), "--buildtype=release"],
                  "meson setup")
    info = build_dir / "meson-info" / "intro-buildoptions.json"
    opts = {o["name"]: o["value"] for o in json.loads(info.read_text())}
    if opts.get("buildtype") != "release" or opts.get("b_sanitize") not in ("none", None):
        raise BenchError(f"{build_dir} is not a plain release build (buildtype "
                         f"{opts.get('buildtype')}, sanitize {opts.get('b_sanitize')}): "
                         "give --build-dir a fresh directory")
    say(f"building hfsync in {build_dir}")
    run_quiet(["ninja", "-C", str(build_dir), "hfsync", "libhfsync.a"], "the release build")
    return build_dir / "hfsync"


def compile_probe(build_dir, source, out):
    """A C program of bench/ linked against the build's static library (it may use the
    library's internal headers: it measures one stage of the pipeline alone)."""
    libs = run_quiet(["pkg-config", "--cflags", "--libs", "libcurl", "openssl", "yaml-0.1",
                      "libpcre2-8", "libgit2", "jansson", "libmicrohttpd"], "pkg-config").split()
    run_quiet(["cc", "-std=c11", "-O2", "-D_GNU_SOURCE", f"-I{SRC / 'include'}", f"-I{SRC / 'src'}",
               str(source), str(build_dir / "libhfsync.a"), *libs, "-lpthread", "-o", str(out)],
              f"compiling {source.relative_to(SRC)}")
    return out


# ---- one timed run ------------------------------------------------------------------------------

class Run:
    """The outcome of one timed program: wall seconds, peak RSS in KiB (the largest of the
    program and the children it waited for: a shell's steps, never the benchmark itself), its
    CPU seconds (user + system, its waited-for children included) and, when it talked to a
    local hub, the hub's CPU seconds meanwhile (None when not measured)."""

    def __init__(self, secs, rss_kib, cpu=None, hub_cpu=None):
        self.secs = secs
        self.rss_kib = rss_kib
        self.cpu = cpu  # (user, system) seconds
        self.hub_cpu = hub_cpu  # (user, system) seconds

    def cpu_text(self):
        """"client 3.6u+2.0s, hub 3.6u+3.3s": where the CPU went, or "" when not measured."""
        parts = [f"{who} {c[0]:.1f}u+{c[1]:.1f}s"
                 for who, c in (("client", self.cpu), ("hub", self.hub_cpu)) if c]
        return ", ".join(parts)


def add_cpu(a, b):
    """The sum of two (user, system) pairs; None when either is."""
    return (a[0] + b[0], a[1] + b[1]) if a and b else None


def process_cpu(pid):
    """A running process's (user, system) CPU seconds so far, from /proc; None once it is gone."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


# bench/rss.c, compiled by bench/run: the peak RSS of a child forked straight from Python would
# start at Python's own (the high-water mark survives fork and exec), so programs are started
# from this small launcher and their wait4() figure is read back.
LAUNCHER = None


def build_launcher(out):
    global LAUNCHER
    run_quiet(["cc", "-O2", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
               str(BENCH / "rss.c"), "-o", str(out)], "compiling bench/rss.c")
    LAUNCHER = out


def timed(cmd, log_path, cwd=None, env=None, timeout=3600, stdout_path=None, hub=None):
    """Runs cmd with its output in log_path (its standard output alone in stdout_path when
    given) and returns its wall time, peak RSS and CPU time: the tool's own (node, not an npm
    wrapper; curl, not a shell), and the CPU time `hub` (a running Hub) spent meanwhile. A
    failure or a run past `timeout` seconds raises BenchError naming the log."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    rss_path = log_path.with_suffix(".rss")
    # Every run starts with nothing left to write back: a run that follows one that wrote
    # gigabytes (an upload's store, git's copies) would otherwise wait on that run's writeback
    # in every fsync, and the tool that comes first in a repetition would pay for the last.
    os.sync()
    hub_before = process_cpu(hub.proc.pid) if hub else None
    with open(log_path, "w") as log, open(stdout_path or os.devnull, "w") as out:
        t0 = time.monotonic()
        p = subprocess.Popen([str(c) for c in (LAUNCHER, rss_path, *cmd)], cwd=cwd, env=env,
                             stdin=subprocess.DEVNULL, stdout=out if stdout_path else log,
                             stderr=log, start_new_session=True)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        secs = time.monotonic() - t0
    hub_after = process_cpu(hub.proc.pid) if hub else None
    if p.returncode != 0:
        tail = "".join(open(log_path, errors="replace").readlines()[-15:])
        why = f"was stopped after {timeout} s" if p.returncode == -signal.SIGKILL else \
            f"failed (exit {p.returncode})"
        raise BenchError(f"{' '.join(map(str, cmd))} {why}; its log {log_path}:\n{tail}")
    rss, user, system = rss_path.read_text().split()
    rss_path.unlink()
    hub_cpu = (hub_after[0] - hub_before[0], hub_after[1] - hub_before[1]) \
        if hub_before and hub_after else None
    return Run(secs, int(rss), (float(user), float(system)), hub_cpu)


# ---- trees a run leaves behind ------------------------------------------------------------------

def retired_dir(work):
    return Path(work) / "retired"


def retire(path, work):
    """Sets a tree a run made (a hub's store, git's clone) aside until the end of the benchmark
    instead of deleting it now: its files are emptied (the space and the page cache come back
    at once) and the tree is moved under work/retired, which `clear_retired` deletes.
    Why: on ext4 without a journal (this machine's disk), every file creation skips, one
    lookup each, the inodes freed in the last one to six minutes; deleting a 10,000-file store
    just before the next run made that run's hub spend seconds of CPU creating files (its
    system time 7.5 s -> 4 s for the upload of the 4 GiB tree, for every client alike).
    Files with other links (the dataset hard-linked into git's work tree) are left whole."""
    path = Path(path)
    if not path.exists():
        return
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            p = os.path.join(dirpath, name)
            try:
                st = os.lstat(p)
                if stat.S_ISREG(st.st_mode) and st.st_nlink == 1 and st.st_size:
                    os.truncate(p, 0)
            except OSError:
                pass
    dest = retired_dir(work)
    dest.mkdir(parents=True, exist_ok=True)
    path.rename(dest / f"{path.name}-{time.monotonic_ns()}")


def clear_retired(work):
    shutil.rmtree(retired_dir(work), ignore_errors=True)


# ---- the local hub ------------------------------------------------------------------------------

class Hub:
    """`hfsync hub serve` on a free loopback port with its own root, so every run that needs an
    empty LFS store gets one (nothing uploaded before is ever "present")."""

    def __init__(self, hfsync, root, logs, multipart_threshold, work):
        self.hfsync, self.root, self.logs = hfsync, Path(root), Path(logs)
        self.work = work
        self.threshold = multipart_threshold
        self.proc = None
        self.url = None
        self.port = None

    def start(self):
        retire(self.root, self.work)
        self.root.mkdir(parents=True)
        port_file = self.root / "port"
        self.logs.mkdir(parents=True, exist_ok=True)
        err = open(self.logs / "hub.err", "a")
        self.proc = subprocess.Popen(
            [str(self.hfsync), "hub", "serve", "--root", str(self.root / "data"), "--listen",
             "127.0.0.1:0", "--port-file", str(port_file), "--token", TOKEN,
             "--multipart-threshold", str(self.threshold), "--access-log", "/dev/null"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        err.close()
        for _ in range(400):
            if port_file.exists() and port_file.read_text().strip():
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.025)
        if not (port_file.exists() and port_file.read_text().strip()):
            self.stop()
            tail = (self.logs / "hub.err").read_text(errors="replace")[-2000:]
            raise BenchError(f"the local hub did not start (root {self.root}); hub.err:\n{tail}")
        self.port = int(port_file.read_text())
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    def peak_rss_kib(self):
        """The hub's own peak RSS so far (VmHWM)."""
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0

    def stop(self, keep=False):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if not keep:
            retire(self.root, self.work)

    def api(self, path, body, content_type="application/json", auth=True):
        """POSTs JSON to the hub (setup only: repo creation, LFS batch); returns the answer."""
        import urllib.request
        headers = {"Content-Type": content_type, "Accept": content_type}
        if auth:
            headers["Authorization"] = f"Bearer {TOKEN}"
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=600) as r:
                return json.load(r)
        except OSError as e:
            detail = e.read().decode(errors="replace") if hasattr(e, "read") else ""
            raise BenchError(f"POST {self.url}{path} failed: {e} {detail}") from e

    def create_repo(self, name, multipart_threshold=None):
        body = {"name": name, "organization": "user"}
        if multipart_threshold:
            body["lfsmultipartthresh"] = multipart_threshold
        self.api("/api/repos/create", body)

    def git_dir(self, name):
        return self.root / "data" / "repos" / "models" / "user" / f"{name}.git"

    def git(self, name, *args):
        return run_quiet(["git", "--git-dir", str(self.git_dir(name)), *args],
                         f"reading user/{name} in the hub's store").strip()

    def repo_summary(self, name):
        """(files on main, commits on main after the repo's first, tree oid of main)."""
        paths = self.git(name, "ls-tree", "-r", "--name-only", "main").splitlines()
        files = sum(1 for p in paths if p != ".gitattributes")
        commits = int(self.git(name, "rev-list", "--count", "main")) - 1
        return files, commits, self.git(name, "rev-parse", "main^{tree}")


def git_env(work):
    """git and git-lfs with this benchmark's own configuration only: user, LFS filters and a
    credential store holding the benchmark hub's throwaway token."""
    home = Path(work) / "home"
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="/bin/false")
    if not (home / ".gitconfig").exists():
        home.mkdir(parents=True, exist_ok=True)
        for key, value in (("user.name", "bench"), ("user.email", "bench@example.invalid"),
                           ("init.defaultBranch", "main"),
                           ("credential.helper", f"store --file={home / 'credentials'}")):
            run_quiet(["git", "config", "--global", key, value], "git config", env=env)
        run_quiet(["git", "lfs", "install", "--skip-repo"], "git lfs install", env=env)
    return env


def git_credentials(work, hub):
    """Points the credential store at this hub (git asks for a password on push)."""
    path = Path(work) / "home" / "credentials"
    path.write_text(f"http://{GIT_CREDENTIAL_USER}:{TOKEN}@127.0.0.1:{hub.port}\n")
    path.chmod(0o600)


# ---- numbers and the machine --------------------------------------------------------------------

def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def tool_version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "not found"


def machine(work, hfsync):
    """What the numbers were measured on, for RESULTS.md."""
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "unknown CPU")
    flags = next((l for l in open("/proc/cpuinfo") if l.startswith("flags")), "")
    mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    df = subprocess.run(["df", "-PT", str(work)], capture_output=True, text=True).stdout
    dev, fstype, size = "?", "?", 0
    if df.count("\n") >= 2:
        f = df.splitlines()[1].split()
        dev, fstype, size = f[0], f[1], int(f[2]) * 1024
    rotational = "?"
    base = Path(dev).name.rstrip("0123456789") if dev.startswith("/dev/") else ""
    rot = Path(f"/sys/block/{base}/queue/rotational")
    if base and rot.exists():
        rotational = "rotational" if rot.read_text().strip() == "1" else "non-rotational"
    # A VM that hands freed memory back to its host (virtio-balloon free page reporting) makes
    # memory used again slow to fill: measured here, writing 3 GiB into the page cache took
    # 0.8 s with memory freed just before, 3.2-6.6 s once the host had it back (about a second
    # later). Every run of every tool writes gigabytes (the hub's store, the clients' buffers).
    reported = Path("/sys/module/page_reporting/parameters/reported_kib")
    memory_note = ""
    if reported.exists():
        try:
            kib = int(reported.read_text())
        except ValueError:
            kib = 0
        if kib:
            memory_note = (f"; freed memory is handed back to the VM's host (free page "
                           f"reporting, {kib / (1 << 20):.0f} GiB so far), so memory used "
                           f"again is slower to fill")
    js = json.loads((JS_CLIENT / "package.json").read_text())["version"] \
        if (JS_CLIENT / "package.json").exists() else "not installed"
    return {
        "cpu": cpu + (" (SHA extensions)" if " sha_ni" in flags else ""),
        "cores": os.cpu_count(),
        "ram": f"{mem / (1 << 20):.1f} GiB{memory_note}",
        "disk": f"{dev} ({fstype}, {rotational}, {size / GiB:.0f} GiB) holding {work}",
        "kernel": f"{os.uname().sysname} {os.uname().release}",
        "hfsync": tool_version([hfsync, "--version"]) + " (release build)",
        "node": tool_version(["node", "--version"]),
        "JS client": f"@huggingface/hub {js}",
        "git": tool_version(["git", "--version"]),
        "git-lfs": tool_version(["git", "lfs", "version"]),
        "openssl": tool_version(["openssl", "version"]),
        "curl": tool_version(["curl", "--version"]),
    }
