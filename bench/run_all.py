"""Run every benchmark, one after the other, and print one table of all the figures.

Each script runs in its own process (its own servers, its own Django set-up) exactly as when run alone:
ingest.py (ack latency; ack throughput of the adapter and the view as a share of the floor, 3 interleaved
rounds per body shape, with the worker busy and stopped; end to end, 3 runs each with one message per
POST and batched), pages.py (generates the 1M-message data set the first time, ~1-2 min),
browser_latency.py. Sized to finish in about 20 minutes.

    .venv/bin/python bench/run_all.py [--only ingest,pages,browser] [--strict]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common as c

# name: (script, extra arguments for the all-in-one run, results file)
SCRIPTS = {
    "ingest": ("ingest.py", ["--messages", "10000", "--contacts", "1000"], "ingest.json"),
    "pages": ("pages.py", [], "pages.json"),
    "browser": ("browser_latency.py", [], "browser_latency.json"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description="Run all benchmarks and print one table.")
    parser.add_argument("--only", default=",".join(SCRIPTS), help=f"comma-separated subset of {', '.join(SCRIPTS)}")
    parser.add_argument("--strict", action="store_true", help="exit 3 when a target is missed")
    parser.add_argument("--wait-quiet", type=float, default=60)
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SCRIPTS]
    if unknown:
        raise c.BenchError(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(SCRIPTS)}")

    started = time.monotonic()
    rows: list[c.Row] = []
    failures: list[str] = []
    for name in chosen:
        script, extra, result_file = SCRIPTS[name]
        result_path = c.RESULTS_DIR / result_file
        if result_path.exists():
            result_path.unlink()  # never report a previous run's figures as this run's
        c.log(f"=== {name}: bench/{script} {' '.join(extra)}")
        code = subprocess.call([sys.executable, str(c.BENCH_DIR / script), *extra,
                                "--wait-quiet", str(args.wait_quiet)], cwd=c.ROOT)
        if code != 0 or not result_path.exists():
            failures.append(f"{name} (exit {code})")
            rows.append(c.Row(name, "did not complete", f"exit {code}", "", "", False))
            continue
        data = json.loads(result_path.read_text())
        rows += [c.Row(**{k: row[k] for k in ("bench", "metric", "value", "unit", "target", "ok")})
                 for row in data["rows"]]
    info = c.machine_info()
    c.print_table(rows, f"All benchmarks — {info['nproc']} cores, {info['ram_gib']} GiB, {info['cpu_model']} "
                        f"({time.monotonic() - started:.0f} s)")
    path = c.write_results("summary", rows, {"failures": failures})
    print(f"results: {path.relative_to(c.ROOT)}")
    if failures:
        print("did not complete: " + ", ".join(failures), file=sys.stderr)
        return 2
    return c.exit_code(rows, strict=args.strict)


if __name__ == "__main__":
    c.main_guard(main)
