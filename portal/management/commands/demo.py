"""``manage.py demo``: migrate, seed the demo data, start every process of the embedded default
(Box simulator, localstripe, Celery worker and beat, the web server) and keep them running
until Ctrl-C."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from portal.demo import DEMO_PASSWORD, seed

WEB_PORT = 8000
BOXSIM_PORT = 8765
STRIPE_PORT = 8420


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_for_port(port: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.2)
    return False


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


class Command(BaseCommand):
    help = "Run the whole portal locally with demo data (what `make demo` runs)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--seed-only",
            action="store_true",
            help="Migrate and seed, print the logins, start nothing.",
        )
        parser.add_argument("--port", type=int, default=WEB_PORT)

    def handle(self, *args, seed_only=False, port=WEB_PORT, **options):
        call_command("migrate", verbosity=0)
        if seed_only:
            self.stdout.write("Seeding demo data...")
            world = seed()
            self._banner(world, port, running=False)
            return
        busy = [p for p in (port, BOXSIM_PORT, STRIPE_PORT) if not _port_free(p)]
        if busy:
            raise CommandError(
                f"Port(s) {', '.join(map(str, busy))} on 127.0.0.1 are in use; stop whatever "
                "uses them (an earlier demo?) and run again."
            )
        logs = settings.VAR_DIR / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        python = sys.executable
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        processes: list[tuple[str, subprocess.Popen]] = []

        def start(name: str, argv: list[str], log: bool = True):
            out = open(logs / f"{name}.log", "ab") if log else None  # noqa: SIM115
            proc = subprocess.Popen(
                argv,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT if log else None,
                cwd=settings.BASE_DIR,
            )
            processes.append((name, proc))
            return proc

        if _module_exists("boxsim.__main__"):
            start(
                "boxsim",
                [
                    python,
                    "-m",
                    "boxsim",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(BOXSIM_PORT),
                    "--data",
                    str(settings.VAR_DIR / "boxsim.sqlite3"),
                ],
            )
            # The Box simulator is up before seeding, so the seed can make Box accounts in it.
            if _wait_for_port(BOXSIM_PORT, timeout=20):
                os.environ["PORTAL_DEMO_BOXSIM_URL"] = f"http://127.0.0.1:{BOXSIM_PORT}"
        # localstripe is up before seeding too: the sellers' Stripe keys are checked against it
        # and the demo customers' cards are saved and charged there while the history plays.
        start(
            "localstripe",
            [
                python,
                "-m",
                "payments.localstripe",
                "--port",
                str(STRIPE_PORT),
                "--state",
                str(settings.VAR_DIR / "localstripe.pickle"),
            ],
        )
        stripe_url = f"http://127.0.0.1:{STRIPE_PORT}"
        hooks = f"http://127.0.0.1:{port}"
        env["STRIPE_API_BASE"] = stripe_url
        env["STRIPE_WEBHOOK_BASE_URL"] = hooks
        settings.STRIPE_API_BASE = stripe_url
        settings.STRIPE_WEBHOOK_BASE_URL = hooks
        if _wait_for_port(STRIPE_PORT, timeout=20):
            os.environ["PORTAL_DEMO_STRIPE_URL"] = stripe_url
        os.environ["PORTAL_DEMO_PROVISION"] = "inline"
        self.stdout.write("Seeding demo data (the first time, about two minutes)...")
        world = seed()
        start(
            "worker",
            [
                python,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "-l",
                "info",
                "-Q",
                "default,provisioning,billing,pdf,payments",
                "-c",
                "2",
            ],
        )
        start("beat", [python, "-m", "celery", "-A", "portal", "beat", "-l", "info"])
        start("web", [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"])
        # A loaded machine can take a while over Django's system checks.
        if not _wait_for_port(port, timeout=180):
            self._stop(processes)
            raise CommandError(f"The web server did not start; see {logs / 'web.log'}.")
        self._banner(world, port)
        self.stdout.write(
            f"Logs of every process are in {logs.relative_to(settings.BASE_DIR)}/."
            " Press Ctrl-C to stop.\n"
        )

        def _terminate(signum, frame):
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, _terminate)
        try:
            while True:
                for name, proc in processes:
                    if proc.poll() is not None:
                        raise CommandError(
                            f"{name} stopped (exit {proc.returncode}); see "
                            f"{logs / (name + '.log')}."
                        )
                time.sleep(1)
        except KeyboardInterrupt:
            self.stdout.write("\nStopping...")
        finally:
            self._stop(processes)

    def _stop(self, processes):
        for _, proc in reversed(processes):
            if proc.poll() is None:
                proc.terminate()
        for _, proc in processes:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    def _banner(self, world, port, running=True):
        w = self.stdout.write
        w("")
        w(self.style.SUCCESS("The portal is running." if running else "The demo data is ready."))
        w("")
        w("Storefronts (each seller's brand, offers and sign-up):")
        w(f"  Northwind Cloud (provider)      http://northwind.localhost:{port}/")
        for org in world.resellers.values():
            domain = org.brand.domains.first()
            label = f"{org.brand.name} ({'sub-' if org.depth > 1 else ''}reseller)"
            w(f"  {label:<32}http://{domain.domain}:{port}/")
        w(f"  Django admin (operators)        http://northwind.localhost:{port}/admin/")
        w(f"  REST API docs                   http://northwind.localhost:{port}/api/docs/")
        if settings.DEBUG:
            w(f"  Captured e-mail                 http://northwind.localhost:{port}/_dev/mail/")
        w("")
        w(f"Logins (every password is {DEMO_PASSWORD}); sign in on the storefront shown:")
        for name, email, where in world.logins:
            w(f"  {email:<32} {name:<26} {where}")
        w("")
        w("Browsers resolve *.localhost to this machine; with curl send a Host header, e.g.")
        w(f"  curl -H 'Host: skyline.localhost' http://127.0.0.1:{port}/")
        w("")
