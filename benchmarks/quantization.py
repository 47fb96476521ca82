"""Quality and size cost of table quantization (issue 16): float16, int8, vocabulary k-means.

Each option is applied as ``Encoder.save(..., quantize_to=, vocabulary_quantization=)``
does it, the folder is written and loaded back, and the loaded encoder is scored with
``benchmarks/quality.py``'s development-set harness. Size is that of the saved folder's
``model.safetensors`` and of the whole folder.

    python benchmarks/quantization.py --tasks stsb,sick,trec --vocab 2048,8192 \\
        --out benchmarks/results/quantization.md

k-means over the 32,000 rows is the slow part (FAISS, 25 iterations; about a minute per
2,048 centres on a loaded 2-core machine).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

import quality  # noqa: E402

import sememe  # noqa: E402
from sememe.quantization import quantize  # noqa: E402


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="stsb,sick,trec", help="quality.py tasks")
    parser.add_argument("--vocab", default="2048,8192", help="vocabulary_quantization sizes")
    parser.add_argument("--eval-dir", type=Path, default=quality.default_eval_dir())
    parser.add_argument("--out", type=Path, default=None, help="write the markdown table here")
    args = parser.parse_args(argv)
    tasks = [t for t in args.tasks.split(",") if t]
    sizes = [int(k) for k in args.vocab.split(",") if k]

    base = sememe.load()
    options: list[tuple[str, dict[str, object]]] = [
        ("float32", {"quantize_to": "float32"}),
        ("float16 (bundled)", {}),
        ("int8", {"quantize_to": "int8"}),
    ]
    for k in sizes:
        options.append((f"vocabulary {k}", {"vocabulary_quantization": k}))
        options.append((f"vocabulary {k} + int8", {"vocabulary_quantization": k, "int8": True}))

    rows = []
    clustered: dict[int, sememe.Encoder] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, opts) in enumerate(options):
            start = time.perf_counter()
            enc = base
            k = opts.get("vocabulary_quantization")
            if isinstance(k, int):
                if k not in clustered:
                    clustered[k] = quantize(base, vocabulary_quantization=k)
                enc = clustered[k]
            dtype = "int8" if opts.get("int8") else opts.get("quantize_to")
            folder = enc.save(Path(tmp) / str(i), quantize_to=dtype)  # type: ignore[arg-type]
            seconds = time.perf_counter() - start
            loaded = sememe.load(folder)
            print(f"{name}: saved in {seconds:.1f}s", file=sys.stderr, flush=True)
            scores = quality.evaluate(loaded.encode, args.eval_dir, tasks)
            rows.append(
                (
                    name,
                    (folder / "model.safetensors").stat().st_size,
                    _folder_bytes(folder),
                    seconds,
                    scores,
                )
            )

    head = "| option | table MB | folder MB | quantize+save s | " + " | ".join(tasks) + " | mean |"
    lines = [head, "|" + "---|" * (5 + len(tasks))]
    for name, table, folder, seconds, scores in rows:
        cells = " | ".join(f"{scores.get(t, float('nan')):.2f}" for t in tasks)
        lines.append(
            f"| {name} | {table / 1e6:.2f} | {folder / 1e6:.2f} | {seconds:.1f} | {cells} | "
            f"{scores.get('mean', float('nan')):.2f} |"
        )
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(
            "# Quantization: size and quality (sememe-base)\n\n"
            f"`python benchmarks/quantization.py --tasks {','.join(tasks)} "
            f"--vocab {','.join(map(str, sizes))} --out {args.out}`\n\n"
            "Development splits of `shared/eval` (benchmarks/quality.py). Each option is "
            "saved with `Encoder.save(quantize_to=..., vocabulary_quantization=...)`, loaded "
            "back and scored. The bundled table is float16; float32 is the reference.\n\n"
            + table
            + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
