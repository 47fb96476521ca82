"""sememe.spark.dedupe on a local Spark session (local[2]): time, shuffle, memory, recall.

Input. Base lines: every line of ``../shared/corpus/sentences/*.txt.gz`` and
``../shared/bench/corpus_100k.txt.gz`` of 20 to 400 characters, distinct (795,657 on this checkout). A run
of N rows takes the first N base lines of a fixed shuffled order and replaces a seeded 20% of
them (and fills every row past the base lines) with a *perturbed copy* of a uniformly sampled
one of those N lines: one of an exact
copy, a case/whitespace change (an exact duplicate after normalisation), a dropped word, a
doubled word, two adjacent words swapped, or a word replaced by another line's word (seed 0,
equal probabilities). So 1M rows hold about 20% planted copies, and 10M rows are mostly copies
of the base lines, one to a dozen each. The rows are written to Parquet (``--work``), one
``id`` and one ``text`` column, and Spark reads them back as a job would.

Measured, per size: the Spark dedupe's wall time (session start excluded), shuffle bytes
written per row (summed from Spark's event log, ``Shuffle Bytes Written`` of every task),
the peak resident memory of the whole local cluster (this driver process, the JVM, which is
the executor in local mode, and its Python workers, sampled every 0.5 s from /proc) and of the
JVM alone. With ``--local`` (default at 1M), the same rows with the single-process
``sememe.dedupe`` in this process: time, peak RSS, and agreement of the removed sets.
``--check N`` (default 20,000 rows) compares the Spark default plan with ``sememe.dedupe(...,
search="exact")`` on the first N rows: the precision and recall of its removed records, and
whether ``search="exact"`` on Spark gives the identical kept set.

    python benchmarks/spark_dedupe.py --rows 1000000            # the 1M run (+ local, + check)
    python benchmarks/spark_dedupe.py --rows 10000000 --no-local --check 0
    python benchmarks/spark_dedupe.py --rows 200000 --check 20000   # a quick look

Results are appended to ``benchmarks/results/spark_dedupe.md`` (``--out``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT / "src"))


def base_lines() -> list[str]:
    """Distinct lines of 20-400 characters from the shared corpus and bench files."""
    files = sorted((SHARED / "corpus" / "sentences").glob("*.txt.gz"))
    files.append(SHARED / "bench" / "corpus_100k.txt.gz")
    seen: dict[str, None] = {}
    for f in files:
        with gzip.open(f, "rt", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                line = line.strip()
                if 20 <= len(line) <= 400:
                    seen.setdefault(line, None)
    lines = list(seen)
    random.Random(0).shuffle(lines)
    return lines


def perturb(line: str, rng: random.Random, donor: str) -> str:
    words = line.split()
    kind = rng.randrange(6)
    if kind == 0 or len(words) < 3:
        return line
    if kind == 1:
        return "  ".join(w.upper() if rng.random() < 0.5 else w for w in words)
    k = rng.randrange(len(words))
    if kind == 2:
        words.pop(k)
    elif kind == 3:
        words.insert(k, words[k])
    elif kind == 4:
        k = min(k, len(words) - 2)
        words[k], words[k + 1] = words[k + 1], words[k]
    else:
        other = donor.split()
        words[k] = other[rng.randrange(len(other))] if other else words[k]
    return " ".join(words)


def make_rows(n: int, lines: list[str], copy_share: float = 0.2) -> list[str]:
    """``n`` rows: the first ``n`` base lines with a seeded ``copy_share`` of them (and every
    row past the base lines) replaced by a perturbed copy of one of those first lines, so a
    copy's original is usually in the same rows."""
    rng = random.Random(0)
    pool = lines[: min(n, len(lines))]
    out = []
    for i in range(n):
        if i < len(pool) and rng.random() >= copy_share:
            out.append(pool[i])
        else:
            src, donor = pool[rng.randrange(len(pool))], pool[rng.randrange(len(pool))]
            out.append(perturb(src, rng, donor))
    return out


def write_parquet(rows: list[str], path: Path, per_file: int = 250_000) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.mkdir(parents=True, exist_ok=True)
    for k, s in enumerate(range(0, len(rows), per_file)):
        chunk = rows[s : s + per_file]
        table = pa.table({"id": pa.array(np.arange(s, s + len(chunk))), "text": chunk})
        pq.write_table(table, path / f"part-{k:05d}.parquet", row_group_size=50_000)


class PeakRSS:
    """Peak summed RSS of a process and its descendants (and of the ``java`` ones among them:
    the JVM), sampled from /proc."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.peak_root = pid, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _rss(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            return 0

    @staticmethod
    def _comm(pid: int) -> str:
        try:
            with open(f"/proc/{pid}/comm") as f:
                return f.read().strip()
        except OSError:
            return ""

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat") as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                    children.setdefault(ppid, []).append(int(d))
                except OSError:
                    pass
        out, todo = [], [self.pid]
        while todo:
            p = todo.pop()
            out.append(p)
            todo.extend(children.get(p, []))
        return out

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            pids = self._tree()
            self.peak = max(self.peak, sum(self._rss(p) for p in pids))
            java = sum(self._rss(p) for p in pids if self._comm(p) == "java")
            self.peak_root = max(self.peak_root, java)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid``'s descendants, the ones that exited
    and were waited for included (the JVM, which is the executor in local mode, and the
    Python workers it forks): the load-independent cost of the Spark run."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[tuple[int, int]]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    rest = f.read().rsplit(")", 1)[1].split()
                used = sum(int(x) for x in rest[11:15])  # utime stime cutime cstime
                children.setdefault(int(rest[1]), []).append((int(d), used))
            except (OSError, IndexError, ValueError):
                pass
    total, todo = 0, [pid]
    while todo:
        for child, used in children.get(todo.pop(), []):
            total += used
            todo.append(child)
    return total / tick


def load() -> str:
    """The 1/5/15-minute load averages, as ``uptime`` prints them."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def event_counts(log_dir: Path) -> dict[str, int]:
    """From the event logs under ``log_dir``: ``shuffle`` (sum of ``Shuffle Bytes Written``
    over every task), and the numbers of ``jobs``, ``stages`` (completed) and ``tasks``."""
    counts = {"shuffle": 0, "jobs": 0, "stages": 0, "tasks": 0}
    kinds = {
        '"SparkListenerJobStart"': "jobs",
        '"SparkListenerStageCompleted"': "stages",
        '"SparkListenerTaskEnd"': "tasks",
    }
    for f in sorted(log_dir.rglob("*")):  # Spark 4 writes a folder per application
        if not f.is_file() or f.name.startswith("."):
            continue
        with open(f, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                kind = next((k for tag, k in kinds.items() if tag in line[:60]), None)
                if kind is None:
                    continue
                counts[kind] += 1
                if kind == "tasks":
                    m = json.loads(line).get("Task Metrics") or {}
                    written = (m.get("Shuffle Write Metrics") or {}).get("Shuffle Bytes Written", 0)
                    counts["shuffle"] += int(written)
    return counts


def spark_run(spark, path: Path, threshold: float, **options) -> tuple[dict, object]:
    from sememe.spark import dedupe

    df = spark.read.parquet(str(path))
    t, cpu = time.perf_counter(), time.process_time() + tree_cpu(os.getpid())
    out = dedupe(df, "text", threshold=threshold, id="id", **options)
    res = out.select("id", "kept").toArrow()
    elapsed = time.perf_counter() - t
    cpu = time.process_time() + tree_cpu(os.getpid()) - cpu
    return {"seconds": elapsed, "cpu": cpu}, res


def removed_ids(res) -> set[int]:
    ids = res.column("id").to_numpy()
    kept = res.column("kept").to_numpy(zero_copy_only=False)
    return set(ids[~kept].tolist())


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--threshold", type=float, default=0.9)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--driver-memory", default="6g")
    ap.add_argument("--local", dest="local", action="store_true", default=None)
    ap.add_argument("--no-local", dest="local", action="store_false")
    ap.add_argument("--check", type=int, default=20_000, help="rows of the exact check (0: none)")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp dir)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "spark_dedupe.md")
    args = ap.parse_args()

    import sememe
    from sememe.spark import local_session

    work = args.work or Path(tempfile.mkdtemp(prefix="sememe-spark-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    logs = work / "eventlog"
    t = time.perf_counter()
    lines = base_lines()
    print(f"{len(lines)} base lines ({time.perf_counter() - t:.0f} s)", flush=True)
    report = [
        f"\n## Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
        f"local[{args.cores}], threshold {args.threshold}, {os.cpu_count()} CPUs shared with "
        f"other jobs (load average at the start: {load()})\n",
        f"Command: `python benchmarks/spark_dedupe.py {' '.join(sys.argv[1:])}`\n",
    ]

    def session():
        if logs.exists():
            shutil.rmtree(logs)
        logs.mkdir()
        spark = local_session(
            args.cores,
            app_name="sememe-bench",
            shuffle_partitions=max(4, 2 * args.cores),
            driver_memory=args.driver_memory,
            conf={
                "spark.eventLog.enabled": "true",
                "spark.eventLog.dir": str(logs),
                "spark.eventLog.compress": "false",  # plain JSON lines, read back below
            },
        )
        spark.sparkContext.setLogLevel("ERROR")
        return spark

    if args.check:
        rows = make_rows(args.check, lines)
        path = work / f"check_{args.check}"
        write_parquet(rows, path)
        t, c = time.perf_counter(), time.process_time()
        exact = sememe.dedupe(rows, threshold=args.threshold, search="exact")
        t_exact, c_exact = time.perf_counter() - t, time.process_time() - c
        want = set(range(len(rows))) - set(exact.kept)
        spark = session()
        info, res = spark_run(spark, path, args.threshold)
        got = removed_ids(res)
        info_x, res_x = spark_run(spark, path, args.threshold, search="exact")
        same = removed_ids(res_x) == want
        spark.stop()
        precision = len(got & want) / len(got) if got else 1.0
        recall = len(got & want) / len(want) if want else 1.0
        report += [
            f"\nExact check on {len(rows):,} rows ({len(want):,} removed by "
            f"`sememe.dedupe(search='exact')`, {t_exact:.0f} s and {c_exact:.0f} CPU s in one "
            f"process; load average after: {load()}):\n\n",
            "| plan | time (s) | CPU (s, all processes) | removed | precision | recall | "
            "kept set equal to exact |\n",
            "|---|---:|---:|---:|---:|---:|---|\n",
            f"| spark default cells | {info['seconds']:.0f} | {info['cpu']:.0f} | {len(got):,} | "
            f"{precision:.4f} | {recall:.4f} | {got == want} |\n",
            f"| spark search='exact' | {info_x['seconds']:.0f} | {info_x['cpu']:.0f} | "
            f"{len(removed_ids(res_x)):,} | - | - | {same} |\n",
        ]
        print("".join(report[-6:]), flush=True)

    table = [
        "\n| rows | distinct base lines | spark time (s) | spark CPU (s) | rows/s | jobs / "
        "stages / tasks | shuffle bytes/row | peak RSS cluster (GB) | peak RSS JVM (GB) | removed | local time (s) | "
        "local CPU (s) | local peak RSS (GB) | removed local | removed by both | load after |\n",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    ]
    for n in args.rows:
        rows = make_rows(n, lines)
        path = work / f"rows_{n}"
        if not path.exists():
            write_parquet(rows, path)
        print(f"{n:,} rows written to {path}", flush=True)
        spark = session()
        with PeakRSS(os.getpid()) as mem:
            info, res = spark_run(spark, path, args.threshold)
        spark.stop()
        got = removed_ids(res)
        events = event_counts(logs)
        shuffled = events["shuffle"]
        local_cells = ["-", "-", "-", "-", "-"]
        do_local = args.local if args.local is not None else n <= 1_000_000
        if do_local:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            t, c = time.perf_counter(), time.process_time()
            result = sememe.dedupe(rows, threshold=args.threshold)
            t_local, c_local = time.perf_counter() - t, time.process_time() - c
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            lost = set(range(n)) - set(result.kept)
            local_cells = [
                f"{t_local:.0f}",
                f"{c_local:.0f}",
                f"{peak / 1e9:.1f}" + ("" if before * 1024 < peak else " (process peak)"),
                f"{len(lost):,}",
                f"{len(lost & got):,}",
            ]
        row = (
            f"| {n:,} | {min(n, len(lines)):,} | {info['seconds']:.0f} | {info['cpu']:.0f} | "
            f"{n / info['seconds']:,.0f} | {events['jobs']} / {events['stages']} / "
            f"{events['tasks']} | "
            f"{shuffled / n:,.0f} | {mem.peak / 1e9:.1f} | {mem.peak_root / 1e9:.1f} | {len(got):,} | "
            + " | ".join(local_cells)
            + f" | {load()} |\n"
        )
        table.append(row)
        print(table[0] + table[1] + row, flush=True)
    report += table
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a", encoding="utf-8") as f:
        f.write("".join(report))
    print(f"appended to {args.out}")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
