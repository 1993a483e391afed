#!/usr/bin/env python3
"""The upload benchmark's data, generated deterministically from a seed: the same bytes on
every machine and every run, so timings compare. Content comes from an AES-128-CTR keystream
(openssl enc), which is fast and looks random: the hub stores every file through LFS.

usage: gen.py DIR full|small [SEED]
  DIR/folder/large-1.bin, large-2.bin    two files over the multipart threshold
  DIR/folder/small/dNN/fNNNNN.bin         the small files (100 per directory)
  DIR/large-only/                         hard links to the two large files
  DIR/huge/huge.bin                       the file for the peak-RSS run
  DIR/large.sha256                        "sha256  size  path" of the large files (for curl)
  DIR/STAMP                               what was generated; a matching STAMP skips the work
"""
import hashlib
import os
import random
import shutil
import subprocess
import sys

GiB = 1 << 30
MiB = 1 << 20
KiB = 1 << 10

SIZES = {
    # large files, small files (count, mean size), huge file
    "full": (1536 * MiB, 10_000, 100 * KiB, 5 * GiB),
    "small": (150 * MiB, 1_000, 100 * KiB, 512 * MiB),
}
VERSION = 1


def zero_stream(seed, name):
    """AES-CTR over zeros: openssl reads /dev/zero through its stdin."""
    key = hashlib.sha256(f"hfsync-bench/{seed}/{name}".encode()).hexdigest()[:32]
    zero = open("/dev/zero", "rb")
    p = subprocess.Popen(
        ["openssl", "enc", "-aes-128-ctr", "-nosalt", "-K", key, "-iv", "0" * 32],
        stdin=zero,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    zero.close()
    return p


def copy_exact(src, dst, size, h=None):
    left = size
    while left:
        chunk = src.read(min(left, 4 * MiB))
        if not chunk:
            sys.exit("gen.py: the keystream ended early (is openssl installed?)")
        dst.write(chunk)
        if h:
            h.update(chunk)
        left -= len(chunk)


def write_file(path, seed, size):
    """Writes `size` bytes of the stream named after the file; returns its sha256."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    p = zero_stream(seed, os.path.basename(path))
    h = hashlib.sha256()
    with open(path, "wb") as out:
        copy_exact(p.stdout, out, size, h)
    p.stdout.close()
    p.kill()
    p.wait()
    return h.hexdigest()


def main():
    if len(sys.argv) < 3 or sys.argv[2] not in SIZES:
        sys.exit(__doc__)
    root, mode = sys.argv[1], sys.argv[2]
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 20240501
    large, n_small, mean_small, huge = SIZES[mode]
    stamp = f"version={VERSION} mode={mode} seed={seed}\n"
    stamp_path = os.path.join(root, "STAMP")
    if os.path.exists(stamp_path) and open(stamp_path).read() == stamp:
        return
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    folder = os.path.join(root, "folder")
    lines = []
    for i in (1, 2):
        path = os.path.join(folder, f"large-{i}.bin")
        sha = write_file(path, seed, large)
        lines.append(f"{sha}  {large}  {path}\n")
        os.makedirs(os.path.join(root, "large-only"), exist_ok=True)
        os.link(path, os.path.join(root, "large-only", f"large-{i}.bin"))
    with open(os.path.join(root, "large.sha256"), "w") as f:
        f.writelines(lines)

    # Small files: sizes drawn from the seed (1 KiB up to twice the mean), content cut from one
    # keystream in order, so a rerun reproduces every byte.
    rng = random.Random(seed)
    p = zero_stream(seed, "small-files")
    for i in range(n_small):
        size = rng.randint(1 * KiB, 2 * mean_small - 1 * KiB)
        path = os.path.join(folder, "small", f"d{i // 100:03d}", f"f{i:05d}.bin")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as out:
            copy_exact(p.stdout, out, size)
    p.stdout.close()
    p.kill()
    p.wait()

    write_file(os.path.join(root, "huge", "huge.bin"), seed, huge)
    with open(stamp_path, "w") as f:
        f.write(stamp)


if __name__ == "__main__":
    main()
