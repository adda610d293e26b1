"""Starting the simulator from Python, driving its /_sim/ controls, and pointing Box's SDK at it.

from boxsim.testing import start_simulator, box_client

sim = start_simulator(data_path="var/boxsim.sqlite3")       # a free port
account = sim.control.create_enterprise(name="Acme", plan="business", seats=5)
client = box_client(sim.url, account["client_id"], account["client_secret"],
                    account["enterprise_id"])
client.users.get_users()
sim.stop()
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SimulatorError(RuntimeError):
    pass


class SimControl:
    """A client for the simulator's /_sim/ test controls."""

    def __init__(self, url: str, session: requests.Session | None = None):
        self.url = url.rstrip("/")
        self.session = session or requests.Session()

    def _call(self, method: str, path: str, **kwargs):
        response = self.session.request(method, f"{self.url}/_sim/{path}", timeout=60, **kwargs)
        if response.status_code >= 400:
            raise SimulatorError(f"{method} /_sim/{path}: {response.status_code} {response.text}")
        return response.json()

    def health(self) -> dict:
        return self._call("GET", "health")

    def reset(self) -> None:
        self._call("POST", "reset")

    def create_enterprise(
        self, name: str = "Simulated Enterprise", plan: str = "business", seats: int = 10, **extra
    ) -> dict:
        """Create a verified enterprise with an authorised app.

        Extra keys: admin_login, admin_name, admin_password, app_name, client_id (authorise an
        existing app instead of creating one), jwt (also return a Box JWT `jwt_config`).
        Returns enterprise_id, client_id, client_secret, admin_login, admin_password,
        admin_user_id, service_account_id, service_account_login, name, plan, seats.
        """
        return self._call(
            "POST", "enterprises", json={"name": name, "plan": plan, "seats": seats, **extra}
        )

    def enterprise(self, enterprise_id) -> dict:
        return self._call("GET", f"enterprises/{enterprise_id}")

    def create_app(
        self, name: str = "Platform app", client_id: str | None = None, client_secret=None
    ) -> dict:
        body = {"name": name}
        if client_id:
            body["client_id"] = client_id
        if client_secret:
            body["client_secret"] = client_secret
        return self._call("POST", "apps", json=body)

    def add_public_key(self, client_id: str, public_key_pem: str) -> str:
        return self._call("POST", f"apps/{client_id}/keys", json={"public_key": public_key_pem})[
            "public_key_id"
        ]

    def bulk_users(self, enterprise_id, count: int, **extra) -> dict:
        return self._call(
            "POST",
            "users/bulk",
            json={"enterprise_id": str(enterprise_id), "count": count, **extra},
        )

    def set_space_used(self, user_id, space_used: int) -> None:
        self._call("POST", f"users/{user_id}/space_used", json={"space_used": space_used})

    def mail(self, to: str | None = None) -> list[dict]:
        return self._call("GET", "mail", params={"to": to} if to else None)["entries"]

    def set_fault(self, operation: str, **rule) -> dict:
        """Faults for one operationId (or '*'): error_500, error_429, timeout (shares of calls),
        latency_ms, retry_after, timeout_seconds, when ('before'|'after'), max_faults, seed."""
        return self._call("POST", "faults", json={"operation": operation, **rule})["faults"]

    def clear_faults(self, operation: str | None = None) -> None:
        self._call("DELETE", "faults", params={"operation": operation} if operation else None)

    def faults(self) -> dict:
        return self._call("GET", "faults")["faults"]

    def settings(self, **changes) -> dict:
        """Read, or change, rate_limit (0: off), rate_window and token_ttl (seconds)."""
        if changes:
            return self._call("POST", "settings", json=changes)
        return self._call("GET", "settings")

    def expire_tokens(self, enterprise_id=None, client_id: str | None = None) -> int:
        body = {}
        if enterprise_id is not None:
            body["enterprise_id"] = str(enterprise_id)
        if client_id:
            body["client_id"] = client_id
        return self._call("POST", "tokens/expire", json=body)["expired"]


class SimulatorHandle:
    """A running `python -m boxsim` process."""

    def __init__(self, process: subprocess.Popen, url: str, options: dict):
        self.process = process
        self.url = url
        self.port = int(url.rsplit(":", 1)[1])
        self.options = options
        self.data_path = options["data_path"]
        self.log_path = options["log_path"]
        self.control = SimControl(url)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15) -> None:
        """Stop the process cleanly (SIGTERM), killing it if it does not stop in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self.control.session.close()

    def kill(self) -> None:
        """Kill the process at once (SIGKILL), as a crash would."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(15)
        self.control.session.close()

    def restart(self, *, same_port: bool = True) -> "SimulatorHandle":
        """Stop this process and start a new one on the same data file (and port)."""
        self.stop()
        options = dict(self.options)
        if same_port:
            options["port"] = self.port
        return start_simulator(**options)


def start_simulator(
    *,
    data_path: str | os.PathLike,
    port: int = 0,
    host: str = "127.0.0.1",
    rate_limit: int = 1000,
    rate_window: float = 60.0,
    token_ttl: float = 3600.0,
    seed: int = 0,
    log_path: str | os.PathLike | None = None,
    startup_timeout: float = 20.0,
) -> SimulatorHandle:
    """Start `python -m boxsim` as a subprocess and wait until it answers.

    `port=0` lets the system pick a free port; the handle's `.url` tells which. Output goes to
    `log_path` (default: the data file's name with `.log`).
    """
    data_path = str(Path(data_path).resolve())
    log_path = str(log_path or data_path + ".log")
    ready_file = data_path + ".url"
    Path(ready_file).unlink(missing_ok=True)
    options = {
        "data_path": data_path,
        "port": port,
        "host": host,
        "rate_limit": rate_limit,
        "rate_window": rate_window,
        "token_ttl": token_ttl,
        "seed": seed,
        "log_path": log_path,
        "startup_timeout": startup_timeout,
    }
    command = [
        sys.executable,
        "-m",
        "boxsim",
        f"--host={host}",
        f"--port={port}",
        f"--data={data_path}",
        f"--rate-limit={rate_limit}",
        f"--rate-window={rate_window}",
        f"--token-ttl={token_ttl}",
        f"--seed={seed}",
        f"--ready-file={ready_file}",
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    with open(log_path, "ab") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=PROJECT_ROOT
        )
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SimulatorError(f"the simulator exited with {process.returncode}; see {log_path}")
        if os.path.exists(ready_file):
            url = Path(ready_file).read_text().strip()
            try:
                if requests.get(f"{url}/_sim/health", timeout=2).ok:
                    return SimulatorHandle(process, url, options)
            except requests.ConnectionError:
                pass
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise SimulatorError(f"the simulator did not answer within {startup_timeout}s; see {log_path}")


def box_client(
    url: str,
    client_id: str,
    client_secret: str,
    enterprise_id,
    *,
    requests_session: requests.Session | None = None,
    retry_strategy=None,
    timeout_config=None,
):
    """A `box_sdk_gen.BoxClient` that talks to the simulator at `url` with the CCG grant.

    Box's SDK builds every API URL as `base_url + "/2.0/..."` and posts token requests to
    `base_url + "/oauth2/token"`, so `base_url` is the simulator's origin itself.
    """
    from box_sdk_gen import BaseUrls, BoxCCGAuth, BoxClient, CCGConfig, NetworkSession
    from box_sdk_gen.networking.box_network_client import BoxNetworkClient

    url = url.rstrip("/")
    session_options = {
        "base_urls": BaseUrls(
            base_url=url, upload_url=f"{url}/api", oauth_2_url=f"{url}/api/oauth2"
        ),
    }
    if requests_session is not None:
        session_options["network_client"] = BoxNetworkClient(requests_session=requests_session)
    if retry_strategy is not None:
        session_options["retry_strategy"] = retry_strategy
    if timeout_config is not None:
        session_options["timeout_config"] = timeout_config
    network_session = NetworkSession(**session_options)
    auth = BoxCCGAuth(
        CCGConfig(
            client_id=client_id, client_secret=client_secret, enterprise_id=str(enterprise_id)
        )
    )
    return BoxClient(auth=auth, network_session=network_session)
