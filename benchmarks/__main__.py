"""``make bench``: run every ``benchmarks/bench_*.py`` against a fresh database and print the
figures each one measures. PostgreSQL when ``DATABASE_URL`` is set, a SQLite file otherwise.

Each benchmark module defines ``run(ctx: BenchContext) -> None`` and prints its own figures
through ``ctx.report``. ``python -m benchmarks --only storefront`` runs one of them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="run only the benchmark with this name (bench_<name>.py)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smaller sizes, for checking that the benchmarks still run",
    )
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    from benchmarks.harness import BenchContext

    names = sorted(
        m.name[len("bench_") :]
        for m in pkgutil.iter_modules([str(ROOT / "benchmarks")])
        if m.name.startswith("bench_")
    )
    if args.only:
        unknown = set(args.only) - set(names)
        if unknown:
            parser.error(
                f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {', '.join(names)}"
            )
        names = [n for n in names if n in args.only]
    print(f"Benchmarks on {connection.vendor}: {', '.join(names) or 'none'}\n")
    db_config = setup_databases(verbosity=0, interactive=False)
    try:
        for name in names:
            module = importlib.import_module(f"benchmarks.bench_{name}")
            ctx = BenchContext(name=name, quick=args.quick)
            started = time.perf_counter()
            print(f"== {name} " + "=" * max(0, 70 - len(name)))
            module.run(ctx)
            print(f"   ({time.perf_counter() - started:.1f} s)\n")
    finally:
        teardown_databases(db_config, verbosity=0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
