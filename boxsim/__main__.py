"""`python -m boxsim --host 127.0.0.1 --port 8765 [--data FILE]`: run the Box simulator."""

import argparse
import logging

from boxsim.app import Settings
from boxsim.server import serve


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m boxsim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--data", default="boxsim.sqlite3", help="the SQLite file of the state")
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=1000,
        help="API calls allowed per window and service account (0: no limit)",
    )
    parser.add_argument("--rate-window", type=float, default=60.0, help="seconds")
    parser.add_argument("--token-ttl", type=float, default=3600.0, help="seconds")
    parser.add_argument("--seed", type=int, default=0, help="default seed of fault injection")
    parser.add_argument("--ready-file", help="write the base URL here once listening")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    settings = Settings(
        rate_limit=args.rate_limit,
        rate_window=args.rate_window,
        token_ttl=args.token_ttl,
        seed=args.seed,
    )
    serve(args.host, args.port, args.data, settings, ready_file=args.ready_file)


if __name__ == "__main__":
    main()
