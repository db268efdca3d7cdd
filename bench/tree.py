#!/usr/bin/env python3
"""Writes the benchmark's file trees, the same bytes on every run (seeded): the tree the sync and
davfs2 workloads copy, and the tree restic backs up.

  tree.py small DIR [COUNT] [SEED]      # COUNT (3000) files of 0-64 KiB, one in ten empty,
                                        # spread over folders up to four levels deep
  tree.py large DIR [TOTAL_MIB] [SEED]  # 200 files of random sizes summing to TOTAL_MIB (400)

Prints one JSON object: {"files": N, "folders": N, "bytes": N}. Contents are random bytes
(incompressible, so restic's compression does not shrink them).
"""

import json
import os
import random
import sys

# folders per parent at depth 1, 2, 3, 4: 4 + 16 + 48 + 96 folders below the root
FANOUT = (4, 4, 3, 2)


def folders(rng):
    """Relative folder paths, the root ("") first, parents before children."""
    out, level = [""], [""]
    for depth, n in enumerate(FANOUT, 1):
        nxt = []
        for parent in level:
            for i in range(n):
                nxt.append(os.path.join(parent, f"d{depth}-{i}-{rng.randrange(1000):03d}"))
        out += nxt
        level = nxt
    return out


def write(root, dirs, sizes, rng):
    for d in dirs:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    total = 0
    for i, size in enumerate(sizes):
        d = rng.choice(dirs)
        with open(os.path.join(root, d, f"f{i:05d}.bin"), "wb") as f:
            f.write(rng.randbytes(size))
        total += size
    return {"files": len(sizes), "folders": len(dirs) - 1, "bytes": total}


def main():
    kind, root = sys.argv[1], sys.argv[2]
    if kind == "small":
        count = int(sys.argv[3]) if len(sys.argv) > 3 else 3000
        rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 15)
        dirs = folders(rng)
        sizes = [0 if rng.random() < 0.1 else rng.randint(1, 64 * 1024) for _ in range(count)]
    elif kind == "large":
        total = (int(sys.argv[3]) if len(sys.argv) > 3 else 400) * 1024 * 1024
        rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 16)
        dirs = folders(rng)[:5]
        cuts = sorted(rng.randrange(total) for _ in range(199))
        sizes = [b - a for a, b in zip([0, *cuts], [*cuts, total])]
    else:
        sys.exit(f"tree.py: small or large, not {kind!r}")
    print(json.dumps(write(root, dirs, sizes, rng)))


if __name__ == "__main__":
    main()
