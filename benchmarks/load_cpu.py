"""CPU seconds of ``sememe.load()`` in fresh processes (what every script pays once).

Each run is a new Python process that imports sememe (not timed), then times
``sememe.load()`` (and, as a second row, ``sememe.load(max_tokens=256)``, which builds a
second encoder through ``with_options``) in CPU seconds (``time.process_time``), a figure
machine load disturbs little. Prints the median of ``--repeats`` processes per row.

    python benchmarks/load_cpu.py --repeats 5
    python benchmarks/load_cpu.py --repeats 5 --compare /path/to/other/checkout/src

With ``--compare`` the other checkout's ``src`` runs interleaved with this one (same
load on the machine for both), labelled by path.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
ROWS = ("load()", "load(max_tokens=256)")


def child(row: str) -> None:
    """Time one load in this fresh process; print its CPU seconds as JSON."""
    import time

    import sememe

    t0 = time.process_time()
    if row == "load()":
        sememe.load()
    else:
        sememe.load(max_tokens=256)
    cpu = time.process_time() - t0
    print(json.dumps({"cpu": cpu, "src": str(Path(sememe.__file__).parent.parent)}))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--compare", type=Path, help="another checkout's src folder, run interleaved")
    ap.add_argument("--child", choices=ROWS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child)
        return
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    srcs = [SRC] + ([args.compare.resolve()] if args.compare else [])
    got: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.repeats):
        for src in srcs:
            for row in ROWS:
                env = dict(os.environ, PYTHONPATH=str(src))
                cmd = [sys.executable, __file__, "--child", row]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
                res = json.loads(out.stdout.strip().splitlines()[-1])
                got.setdefault((res["src"], row), []).append(res["cpu"])
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"median of {args.repeats} fresh processes; load average {load}\n")
    print("| sememe from | row | CPU s (median) | min | max |")
    print("|---|---|---:|---:|---:|")
    for (src, row), runs in got.items():
        med = statistics.median(runs)
        print(f"| {src} | {row} | {med:.3f} | {min(runs):.3f} | {max(runs):.3f} |")


if __name__ == "__main__":
    main()
