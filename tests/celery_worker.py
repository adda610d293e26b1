"""Real Celery workers for tests: ``celery -A portal worker`` subprocesses that share the
test's database and a Redis broker, namespaced per run so concurrent test runs never meet.

Use the ``celery_worker`` fixture (tests/conftest.py); it needs ``transactional_db`` (the
worker only sees committed rows) and Redis at ``TEST_REDIS_URL`` (default
``redis://127.0.0.1:6379/14``)::

    def test_something(celery_worker):
        worker = celery_worker.start(queues=["provisioning"], env={"BOX_API_BASE_URL": url})
        ...                      # enqueue work: tasks now go to the worker through Redis
        worker.kill()            # SIGKILL, as a crash would
        celery_worker.start()    # a fresh worker takes over
        celery_worker.send("provisioning.tasks.jobs_sweep")   # what beat would send

While the fixture is active, the test process's Celery app publishes to the same broker (not
eagerly), so ``.delay()`` and ``transaction.on_commit`` dispatches reach the workers. At the end
every worker is stopped and the run's Redis keys are deleted.

The worker's environment says which broker, key prefix and test database to use (read by
``portal.settings.test``): ``PORTAL_TEST_BROKER_URL``, ``PORTAL_TEST_BROKER_PREFIX``,
``PORTAL_TEST_DATABASE_NAME``; ``DATABASE_URL`` is passed on, so PostgreSQL runs use
``test_<name>`` like the test. Anything in ``env`` is added (e.g. Box settings).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"


def redis_url_for_tests() -> str:
    return os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL)


class WorkerProcess:
    def __init__(self, process: subprocess.Popen, name: str, log_path: Path) -> None:
        self.process = process
        self.name = name
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log():
                return
            if not self.running:
                raise RuntimeError(f"worker {self.name} exited:\n{self.log()[-3000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"worker {self.name} not ready in {timeout}s:\n{self.log()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once, as a crash would."""
        if self.running:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(15)

    def stop(self, timeout: float = 20.0) -> None:
        """Warm shutdown (SIGTERM: finish the current tasks), then SIGKILL if it hangs."""
        if self.running:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()


class CeleryWorkers:
    def __init__(self, *, log_dir: Path, redis_url: str | None = None, env: dict | None = None):
        from django.db import connection

        self.redis_url = redis_url or redis_url_for_tests()
        self.prefix = f"test-{uuid.uuid4().hex[:12]}:"
        self.log_dir = Path(log_dir)
        self.base_env = dict(env or {})
        self.database_name = str(connection.settings_dict["NAME"])
        self.workers: list[WorkerProcess] = []
        self._count = 0

    # --- workers ----------------------------------------------------------------------------

    def environment(self, extra: dict | None = None) -> dict:
        env = dict(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "portal.settings.test",
                "PORTAL_TEST_BROKER_URL": self.redis_url,
                "PORTAL_TEST_BROKER_PREFIX": self.prefix,
                "PORTAL_TEST_DATABASE_NAME": self.database_name,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update({k: str(v) for k, v in self.base_env.items()})
        env.update({k: str(v) for k, v in (extra or {}).items()})
        return env

    def start(
        self,
        *,
        queues=("provisioning",),
        concurrency: int = 2,
        env: dict | None = None,
        wait: bool = True,
    ) -> WorkerProcess:
        self._count += 1
        name = f"w{self._count}-{self.prefix.rstrip(':')}"
        log_path = self.log_dir / f"{name}.log"
        argv = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "-n",
            f"{name}@%h",
            "-Q",
            ",".join(queues),
            "-c",
            str(concurrency),
            "-l",
            "info",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=self.environment(env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so kill() takes the pool too
            )
        worker = WorkerProcess(process, name, log_path)
        self.workers.append(worker)
        if wait:
            worker.wait_ready()
        return worker

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop()

    # --- the test process's side ------------------------------------------------------------

    def send(self, task_name: str, *args, **kwargs) -> None:
        from portal.celery import app

        app.send_task(task_name, args=args, kwargs=kwargs)

    @contextmanager
    def publishing(self):
        """Point the test process's Celery app at the workers' broker for the duration."""
        from portal.celery import app

        keys = ("broker_url", "broker_transport_options", "task_always_eager")
        saved = {key: app.conf.get(key) for key in keys}
        app.conf.update(
            broker_url=self.redis_url,
            broker_transport_options={"global_keyprefix": self.prefix},
            task_always_eager=False,
        )
        _reset_pools(app)
        try:
            yield self
        finally:
            app.conf.update(**saved)
            _reset_pools(app)

    def cleanup_redis(self) -> None:
        import redis

        client = redis.Redis.from_url(self.redis_url)
        keys = list(client.scan_iter(match=f"{self.prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
        client.close()


def _reset_pools(app) -> None:
    from kombu import pools

    pool = app._pool
    if pool is not None:
        pool.force_close_all()
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
    # kombu keeps producer pools in a global registry keyed by connection; one still pointing
    # at the closed pool would break the next task sent (even an eager one: Celery serialises
    # eager calls through a producer).
    pools.reset()
