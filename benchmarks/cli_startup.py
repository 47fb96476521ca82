"""How long the ``sememe`` command takes to start: wall and CPU seconds of short commands.

Each run is a fresh process of the installed console script; the CPU figure is the child's
user + system time (``resource.getrusage``), which machine load disturbs little. Prints the
median of ``--repeats`` runs per command as a markdown table.

    python benchmarks/cli_startup.py --repeats 5
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import time

COMMANDS = [
    ["--help"],
    ["info", "-q"],
    ["encode", "--help"],
    ["search", "--help"],
]


def run(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one ``sememe`` process."""
    exe = shutil.which("sememe")
    if exe is None:
        sys.exit("the sememe console script is not on PATH: pip install -e .")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([exe, *argv], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per command")
    args = parser.parse_args()
    print("| command | wall s (median) | CPU s (median) |")
    print("|---|---:|---:|")
    for argv in COMMANDS:
        runs = [run(argv) for _ in range(args.repeats)]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        print(f"| `sememe {' '.join(argv)}` | {wall:.2f} | {cpu:.2f} |")


if __name__ == "__main__":
    main()
