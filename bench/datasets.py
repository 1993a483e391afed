"""The benchmark's data sets, made deterministically from a seed: the same paths, sizes and bytes
on every machine and every run, so timings compare. Each set is written once under the work
dir and reused while its MANIFEST.json (generator version, seed, scale) matches.

Binary content is an AES-128-CTR keystream (openssl enc over zeros: fast, incompressible, keyed
by the seed); text files are base64 lines of the same kind of stream, so the hub sees text.
"""
import base64
import hashlib
import json
import os
import random
import shutil
import subprocess
from pathlib import Path

from common import GiB, KiB, MiB, BenchError, git_env, run_quiet, say

VERSION = 1  # bump when a generator changes its output


class Keystream:
    """An endless deterministic byte stream named by (seed, name)."""

    def __init__(self, seed, name):
        key = hashlib.sha256(f"hfsync-bench/{seed}/{name}".encode()).hexdigest()[:32]
        zero = open("/dev/zero", "rb")
        self.proc = subprocess.Popen(
            ["openssl", "enc", "-aes-128-ctr", "-nosalt", "-K", key, "-iv", "0" * 32],
            stdin=zero, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        zero.close()

    def read(self, n):
        out = self.proc.stdout.read(n)
        if len(out) != n:
            raise BenchError("the openssl keystream ended early (is openssl enc working?)")
        return out

    def copy_to(self, path, size):
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            left = size
            while left:
                n = min(left, 4 * MiB)
                f.write(self.read(n))
                left -= n

    def text_to(self, path, size):
        """`size` bytes of base64 lines ending in a newline: valid UTF-8 text the hub keeps as a
        regular file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = base64.encodebytes(self.read(size * 3 // 4 + 3))[: size - 1] + b"\n"
        path.write_bytes(raw)

    def close(self):
        self.proc.stdout.close()
        self.proc.kill()
        self.proc.wait()


class DataSet:
    """One generated tree: DIR/tree holds the files the tools see, the rest of DIR is ours."""

    def __init__(self, work, name, seed, scale):
        tag = "full" if scale == 1 else f"1-{round(1 / scale)}"
        self.dir = Path(work) / "data" / f"{name}-{tag}"
        self.tree = self.dir / "tree"
        self.name, self.seed, self.scale = name, seed, scale
        self.info = {}

    def _manifest(self):
        return {"generator": VERSION, "set": self.name, "seed": self.seed, "scale": self.scale}

    def ready(self):
        path = self.dir / "MANIFEST.json"
        if not path.exists():
            return False
        data = json.loads(path.read_text())
        if {k: data.get(k) for k in self._manifest()} != self._manifest():
            return False
        self.info = data
        return True

    def make(self, generate):
        if self.ready():
            say(f"data set {self.name}: reusing {self.dir} (seed {self.seed})")
            return self
        say(f"data set {self.name}: generating {self.dir} (seed {self.seed}, once)")
        shutil.rmtree(self.dir, ignore_errors=True)
        self.tree.mkdir(parents=True)
        extra = generate(self) or {}
        files = bytes_ = 0
        for root, dirs, names in os.walk(self.tree):
            dirs[:] = [d for d in dirs if d != ".git"]
            for n in names:
                files += 1
                bytes_ += os.lstat(os.path.join(root, n)).st_size
        self.info = dict(self._manifest(), files=files, bytes=bytes_, **extra)
        # Written last: a generation that stopped halfway is never taken as ready.
        (self.dir / "MANIFEST.json").write_text(json.dumps(self.info, indent=1) + "\n")
        return self


# Disk space of each set at full scale (generated files, git objects, the curl parts).
FOOTPRINT = {"mixed": 7 * GiB, "replan": GiB // 2, "many": 3 * GiB // 4, "blob": GiB,
             "huge": 5 * GiB}


def missing_bytes(work, seed, scale, names):
    """What generating the sets of `names` that are not on disk yet would take."""
    return sum(int(FOOTPRINT[n] * scale) for n in names
               if not DataSet(work, n, seed, scale).ready())


def _scaled(n, scale, least=1):
    return max(least, round(n * scale))


def mixed(work, seed, scale):
    """The 4 GiB mixed tree: two 1.5 GiB safetensors shards (over the multipart threshold),
    10,000 small files (1–100 KiB, half JSON text kept regular, half .npy binary sent through
    LFS by the hub's rules) and 1–10 MiB parquet files making up the rest. Beside the tree:
    large/ (hard links to the two shards) and large.sha256 ("sha256 size path") for curl."""
    def generate(ds):
        total = _scaled(4 * GiB, scale) // KiB * KiB
        large = _scaled(1536 * MiB, scale) // KiB * KiB
        rng = random.Random(seed)
        lines = []
        (ds.dir / "large").mkdir()
        for i in (1, 2):
            name = f"model-{i:05d}-of-00002.safetensors"
            ks = Keystream(seed, name)
            h = hashlib.sha256()
            path = ds.tree / name
            ks.copy_to(path, large)
            ks.close()
            with open(path, "rb") as f:
                while chunk := f.read(4 * MiB):
                    h.update(chunk)
            os.link(path, ds.dir / "large" / name)
            lines.append(f"{h.hexdigest()} {large} {ds.dir / 'large' / name}\n")
        (ds.dir / "large.sha256").write_text("".join(lines))
        used = 2 * large
        ks = Keystream(seed, "mixed")
        for i in range(_scaled(10_000, scale)):
            size = rng.randint(1 * KiB, 100 * KiB)
            if i % 2 == 0:
                ks.text_to(ds.tree / "small" / f"{i // 100:03d}" / f"{i:05d}.json", size)
            else:
                ks.copy_to(ds.tree / "small" / f"{i // 100:03d}" / f"{i:05d}.npy", size)
            used += size
        i = 0
        while used < total:
            size = min(rng.randint(1 * MiB, 10 * MiB), total - used)
            ks.copy_to(ds.tree / "data" / f"train-{i:05d}.parquet", size)
            used += size
            i += 1
        ks.close()
        return {"large_files": 2, "large_bytes": 2 * large}

    return DataSet(work, "mixed", seed, scale).make(generate)


def _small_text_tree(ds, count, lo, hi, layout):
    rng = random.Random(ds.seed)
    ks = Keystream(ds.seed, ds.name)
    for i in range(count):
        ks.text_to(ds.tree / layout(i), rng.randint(lo, hi))
    ks.close()


def replan(work, seed, scale):
    """100,000 small text files (256 B – 4 KiB, 100 per folder) for the warm re-plan, committed
    in a git repository in the tree itself, so `git status` compares the same files."""
    def generate(ds):
        _small_text_tree(ds, _scaled(100_000, scale), 256, 4 * KiB,
                         lambda i: f"part-{i // 100:04d}/record-{i:07d}.json")
        env = git_env(ds.dir.parent.parent)
        for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "the re-plan tree"],
                    ["status", "--porcelain"]):
            run_quiet(["git", "-C", str(ds.tree), *cmd], f"git {cmd[0]} in {ds.tree}", env=env)
        return {}

    return DataSet(work, "replan", seed, scale).make(generate)


def many(work, seed, scale):
    """100,000 small text files of 1–10 KB, laid out as a sharded data set (100 folders of 10
    subfolders), for strategy large."""
    def generate(ds):
        _small_text_tree(ds, _scaled(100_000, scale), 1000, 10_000,
                         lambda i: f"shard-{i % 100:03d}/part-{i // 100 % 10}/row-{i:06d}.txt")
        return {}

    return DataSet(work, "many", seed, scale).make(generate)


def blob(work, seed, scale):
    """One 1 GiB binary file for the hub's receive path (basic PUT)."""
    def generate(ds):
        ks = Keystream(seed, "blob")
        ks.copy_to(ds.tree / "blob.bin", _scaled(GiB, scale) // KiB * KiB)
        ks.close()
        sha = run_quiet(["sha256sum", str(ds.tree / "blob.bin")], "sha256sum").split()[0]
        return {"sha256": sha}

    return DataSet(work, "blob", seed, scale).make(generate)


def huge(work, seed, scale):
    """One 5 GiB binary file (a checkpoint), for the client's peak memory while it uploads."""
    def generate(ds):
        ks = Keystream(seed, "huge")
        ks.copy_to(ds.tree / "checkpoint.safetensors", _scaled(5 * GiB, scale) // KiB * KiB)
        ks.close()
        return {}

    return DataSet(work, "huge", seed, scale).make(generate)
