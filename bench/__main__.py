"""``python -m bench [--suite NAME ...] [--size 1M] [--quick]``: run suites, print markdown tables.

``make bench`` runs this with the repo's ``.venv``; ``SUITE=drift``, ``SIZE=10M`` and
``QUICK=1`` pass through.
"""

from __future__ import annotations

import argparse
import importlib
import time

from bench.options import Options
from bench.report import write_json
from bench.suites import SUITES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--suite", action="append", choices=SUITES,
                        help="suite to run (repeatable); all when not given")
    parser.add_argument("--size", help="drift rows per side: 1M (default), 10M, 200k ...")
    parser.add_argument("--rows", type=int, help="logged rows for the feedback and cycle suites (default 100000); "
                                                 "rows scored by the batch suite (default 10M)")
    parser.add_argument("--seconds", type=float, help="seconds of load per serve measurement (default 10)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds before a tool is stopped (1800)")
    parser.add_argument("--max-memory-gb", type=float, default=16.0,
                        help="stop a drift tool whose memory passes this (16), to spare a shared machine")
    parser.add_argument("--quick", action="store_true", help="small sizes everywhere, for a smoke run")
    args = parser.parse_args(argv)
    options = Options(drift_size=args.size, rows=args.rows, seconds=args.seconds, timeout=args.timeout,
                      max_memory_gb=args.max_memory_gb, quick=args.quick)
    printed = []
    for name in args.suite or SUITES:
        started = time.perf_counter()
        module = importlib.import_module(f"bench.suites.{name}")
        tables = module.run(options)
        for table in tables:
            print("\n" + table.markdown() + "\n", flush=True)
            printed.append(table.markdown())
        print(f"[bench] {name} done in {time.perf_counter() - started:.0f} s", flush=True)
    write_json("last-run", {"tables": printed})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
