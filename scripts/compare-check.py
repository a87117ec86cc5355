#!/usr/bin/env python3
"""Times `cyoa check FILE` for several cyoa builds, run alternately so that
the machine's changes of speed fall on all of them alike; prints the wall
clock and CPU time (min, p25, median) of each. Used for the story loading
figures of docs/performance.md:

    N=30 scripts/compare-check.py old/cyoa target/release/cyoa big.toml
"""
import os
import resource
import statistics
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: compare-check.py CYOA... STORY.toml")
    builds, story = sys.argv[1:-1], sys.argv[-1]
    runs = int(os.environ.get("N", "20"))
    wall = {b: [] for b in builds}
    cpu = {b: [] for b in builds}
    for _ in range(runs):
        for b in builds:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([b, "check", story], stdout=subprocess.DEVNULL, check=False)
            wall[b].append((time.perf_counter() - start) * 1000)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            cpu[b].append(used * 1000)
    for b in builds:
        for name, values in (("wall", wall[b]), ("CPU", cpu[b])):
            v = sorted(values)
            print(f"{b}: {name} min {v[0]:.1f}, p25 {v[len(v) // 4]:.1f}, median {statistics.median(v):.1f} ms")


if __name__ == "__main__":
    main()
