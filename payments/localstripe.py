"""Runs localstripe, the fake Stripe of the demo and the tests, with its state where we say.

localstripe keeps its whole state in one fixed file under /tmp, rewritten in place on every
change and read back at start: two instances on one machine overwrite each other's state, and
one killed in the middle of a write leaves a file that stops the next one from starting. Here
the state lives in the file given by ``--state`` (the demo's ``var/``), written to a temporary
file and renamed over the old one, and a file that cannot be read is set aside with a warning;
without ``--state`` (the tests) it lives in memory only.

    python -m payments.localstripe --port 8420 [--state var/localstripe.pickle]
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
from pathlib import Path


def _persist(path: Path | None) -> None:
    from localstripe import resources

    def load(store) -> None:
        if path is None:
            return
        try:
            with path.open("rb") as handle:
                saved = pickle.load(handle)  # noqa: S301 - our own file, written below
        except FileNotFoundError:
            return
        except (EOFError, pickle.UnpicklingError, AttributeError, ImportError) as exc:
            aside = path.with_suffix(".unreadable")
            os.replace(path, aside)
            print(f"localstripe: {path} could not be read ({exc}); moved to {aside}")  # noqa: T201
            return
        store.clear()
        store.update(saved)

    def dump(store) -> None:
        if path is None:
            return
        partial = path.with_suffix(".partial")
        with partial.open("wb") as handle:
            pickle.dump(dict(store), handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, path)

    resources.Store.try_load_from_disk = load
    resources.Store.dump_to_disk = dump


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--state", type=Path, default=None, help="file to keep the state in")
    args = parser.parse_args(argv)
    if args.state is not None:
        args.state.parent.mkdir(parents=True, exist_ok=True)
    _persist(args.state)
    from localstripe import server

    sys.argv = [sys.argv[0], "--port", str(args.port)]
    server.start()


if __name__ == "__main__":
    main()
