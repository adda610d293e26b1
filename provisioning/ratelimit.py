"""Keeping each Box account's service account under Box's rate limit, across every worker.

Box allows about 1,000 API calls a minute per user; the calls of an app in one enterprise are
made by that app's service account, so the limit is per (client id, enterprise). The limiter
spaces calls evenly: one call every ``60 / BOX_RATE_LIMIT_PER_MINUTE`` seconds per key, made
``BOX_RATE_LIMIT_MARGIN`` (2 %) longer, which never puts more than the limit into any window of a
minute (a sliding window such as Box's included) even when some calls reach Box a little later
than others, and does not build a burst that Box would answer with 429s.

It works by reservation (the generic cell rate algorithm): a caller reserves the next free slot
and learns how long to wait for it, one atomic step. When the wait would be longer than the
caller is willing to block, nothing is reserved and ``RateLimited`` says when to come back, so a
worker can put its job back instead of sleeping.

* ``RedisRateLimiter``: one Lua script on Redis, the clock is Redis's; shared by every worker on
  every machine. Used when ``BOX_RATE_LIMIT_REDIS_URL`` (default: ``REDIS_URL``) is set.
* ``FileRateLimiter``: the embedded default without Redis. One small file per key under
  ``VAR_DIR/ratelimit``, updated under an exclusive ``flock``; shared by the processes of one
  machine only. With workers on several machines, configure Redis.
* ``NullRateLimiter``: ``BOX_RATE_LIMIT_PER_MINUTE = 0`` turns limiting off.
"""

from __future__ import annotations

import fcntl
import hashlib
import threading
import time
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from provisioning.connector.base import RateLimited


class RateLimiter:
    def __init__(self, per_minute: int, *, prefix: str = "boxrate", margin: float = 0.0) -> None:
        self.per_minute = per_minute
        self.interval = 60.0 / per_minute * (1 + margin) if per_minute > 0 else 0.0
        self.prefix = prefix

    def key(self, client_id: str, enterprise_id: str) -> str:
        return f"{self.prefix}:{client_id}:{enterprise_id}"

    def reserve(self, key: str, *, max_wait: float) -> float:
        """Reserve the next call slot of ``key``; return the seconds to wait before making the
        call. Raise ``RateLimited`` (reserving nothing) when that is more than ``max_wait``."""
        raise NotImplementedError

    def acquire(self, key: str, *, max_wait: float) -> float:
        """Reserve a slot and sleep until it; return the seconds slept."""
        wait = self.reserve(key, max_wait=max_wait)
        if wait > 0:
            time.sleep(wait)
        return wait


class NullRateLimiter(RateLimiter):
    def __init__(self) -> None:
        super().__init__(0)

    def reserve(self, key: str, *, max_wait: float) -> float:
        return 0.0


# Times in microseconds. Lua numbers are doubles: exact for integers below 2**53, and written
# back with %.0f so that Redis never sees an exponent.
_RESERVE_SCRIPT = """
local interval = tonumber(ARGV[1])
local max_wait = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - now
if wait > max_wait then return {0, string.format('%.0f', wait)} end
local next_tat = tat + interval
local ttl = math.ceil((next_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', ttl)
return {1, string.format('%.0f', wait)}
"""


class RedisRateLimiter(RateLimiter):
    def __init__(
        self, url: str, per_minute: int, *, prefix: str = "boxrate", margin: float = 0.0
    ) -> None:
        import redis

        super().__init__(per_minute, prefix=prefix, margin=margin)
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._script = self.client.register_script(_RESERVE_SCRIPT)

    def reserve(self, key: str, *, max_wait: float) -> float:
        granted, wait_us = self._script(
            keys=[key], args=[int(self.interval * 1_000_000), int(max_wait * 1_000_000)]
        )
        wait = int(wait_us) / 1_000_000
        if not int(granted):
            raise RateLimited(
                f"The portal's rate limiter holds this account's calls for {wait:.1f} s.",
                code="local_rate_limit",
                retry_after=wait,
            )
        return wait


class FileRateLimiter(RateLimiter):
    def __init__(
        self, directory: Path, per_minute: int, *, prefix: str = "boxrate", margin: float = 0.0
    ) -> None:
        super().__init__(per_minute, prefix=prefix, margin=margin)
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # flock is per open file; threads share the process

    def reserve(self, key: str, *, max_wait: float) -> float:
        path = self.directory / hashlib.sha256(key.encode()).hexdigest()[:32]
        with self._lock, open(path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                handle.seek(0)
                text = handle.read().strip()
                now = time.time()
                tat = max(float(text) if text else 0.0, now)
                wait = tat - now
                if wait > max_wait:
                    raise RateLimited(
                        f"The portal's rate limiter holds this account's calls for {wait:.1f} s.",
                        code="local_rate_limit",
                        retry_after=wait,
                    )
                handle.seek(0)
                handle.truncate()
                handle.write(repr(tat + self.interval))
                handle.flush()
                return wait
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


@lru_cache(maxsize=8)
def _build(
    per_minute: int, redis_url: str, prefix: str, directory: str, margin: float
) -> RateLimiter:
    if per_minute <= 0:
        return NullRateLimiter()
    if redis_url:
        return RedisRateLimiter(redis_url, per_minute, prefix=prefix, margin=margin)
    return FileRateLimiter(Path(directory), per_minute, prefix=prefix, margin=margin)


def get_limiter() -> RateLimiter:
    """The limiter the settings ask for (one instance per configuration and process)."""
    return _build(
        int(settings.BOX_RATE_LIMIT_PER_MINUTE),
        settings.BOX_RATE_LIMIT_REDIS_URL or "",
        settings.BOX_RATE_LIMIT_KEY_PREFIX,
        str(Path(settings.VAR_DIR) / "ratelimit"),
        float(settings.BOX_RATE_LIMIT_MARGIN),
    )
