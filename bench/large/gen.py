#!/usr/bin/env python3
"""The large-upload benchmark's data: N small text files of 1-10 KB in nested folders,
generated from a seed (the same bytes on every machine), written once and kept.

usage: gen.py DIR N"""
import os
import random
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    root, n = sys.argv[1], int(sys.argv[2])
    stamp = root.rstrip("/") + ".complete"  # beside the folder: not part of the upload
    if os.path.exists(stamp):
        return
    rnd = random.Random(100000)
    words = ["w%05d" % i for i in range(5000)]
    for i in range(n):
        # 100 folders of 10 subfolders, as a sharded data set lays files out
        d = os.path.join(root, "shard-%03d" % (i % 100), "part-%d" % (i // 100 % 10))
        os.makedirs(d, exist_ok=True)
        size = rnd.randint(1000, 10000)
        text = []
        total = 0
        while total < size:
            w = rnd.choice(words)
            text.append(w)
            total += len(w) + 1
        data = (" ".join(text))[: size - 1] + "\n"
        with open(os.path.join(d, "row-%06d.txt" % i), "w") as f:
            f.write(data)
    open(stamp, "w").close()


main()
