"""Serving the simulator: a threaded Werkzeug server around one store."""

import logging
import os
import signal
import sys

from werkzeug.serving import WSGIRequestHandler, make_server

from boxsim.app import Settings, Simulator
from boxsim.store import Store


class QuietHandler(WSGIRequestHandler):
    """No access log line per request: it costs time and says nothing a test needs."""

    def log_request(self, code="-", size="-"):
        pass


def serve(
    host: str,
    port: int,
    data_path: str,
    settings: Settings,
    ready_file: str | None = None,
) -> None:
    store = Store(data_path)
    simulator = Simulator(store, settings)
    server = make_server(host, port, simulator, threaded=True, request_handler=QuietHandler)
    server.daemon_threads = True
    url = f"http://{host}:{server.server_port}"

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"boxsim listening on {url}", flush=True)  # noqa: T201 - the CLI's one line of output
    if ready_file:
        tmp = ready_file + ".tmp"
        with open(tmp, "w") as handle:
            handle.write(url)
        os.replace(tmp, ready_file)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        store.close()
        logging.getLogger("boxsim").info("stopped")
        sys.stdout.flush()
