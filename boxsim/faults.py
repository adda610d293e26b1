"""Per-client rate limiting and per-operation fault injection."""

import collections
import math
import random
import threading
import time
from dataclasses import dataclass, field, fields


class RateLimiter:
    """At most `limit` API calls per `window` seconds for each key (a sliding window).

    The key is the calling token's user, that is the app's service account in one enterprise.
    A limit of 0 turns limiting off.
    """

    def __init__(self, limit: int, window: float):
        self.limit = limit
        self.window = window
        self._calls: dict[object, collections.deque] = {}
        self._lock = threading.Lock()

    def configure(self, limit: int, window: float) -> None:
        with self._lock:
            self.limit, self.window = limit, window
            self._calls.clear()

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()

    def hit(self, key) -> int | None:
        """Count one call; return the seconds to wait when over the limit, else None."""
        if self.limit <= 0:
            return None
        current = time.monotonic()
        with self._lock:
            calls = self._calls.setdefault(key, collections.deque())
            while calls and calls[0] <= current - self.window:
                calls.popleft()
            if len(calls) >= self.limit:
                return max(1, math.ceil(calls[0] + self.window - current))
            calls.append(current)
            return None


FAULT_KINDS = ("error_500", "error_429", "timeout")


@dataclass
class FaultRule:
    """What to do to calls of one operation.

    Each call draws one number from a generator seeded with `seed`: below `error_500` it fails
    with a 500, then below `error_500 + error_429` with a 429 (and `Retry-After: retry_after`),
    then below the sum with all three with a timeout (the answer is held `timeout_seconds`, then
    a 504). `latency_ms` is added to every call. `when="after"` fails a call only after its
    change is committed, as a lost response would. `max_faults` caps the faults injected.
    """

    error_500: float = 0.0
    error_429: float = 0.0
    timeout: float = 0.0
    latency_ms: int = 0
    retry_after: int = 1
    timeout_seconds: float = 30.0
    when: str = "before"
    max_faults: int | None = None
    seed: int = 0
    injected: int = 0
    _rng: random.Random = field(default=None, repr=False, compare=False)  # type: ignore[assignment]
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self):
        total = self.error_500 + self.error_429 + self.timeout
        shares = (self.error_500, self.error_429, self.timeout)
        if any(share < 0 for share in shares) or total > 1:
            raise ValueError("fault shares must be between 0 and 1 and add up to at most 1")
        if self.when not in ("before", "after"):
            raise ValueError("'when' is 'before' or 'after'")
        if self.latency_ms < 0 or self.retry_after < 0 or self.timeout_seconds < 0:
            raise ValueError("latency_ms, retry_after and timeout_seconds must not be negative")
        self._rng = random.Random(self.seed)

    def draw(self) -> str | None:
        with self._lock:
            if self.max_faults is not None and self.injected >= self.max_faults:
                return None
            roll = self._rng.random()
            kind = None
            if roll < self.error_500:
                kind = "error_500"
            elif roll < self.error_500 + self.error_429:
                kind = "error_429"
            elif roll < self.error_500 + self.error_429 + self.timeout:
                kind = "timeout"
            if kind is not None:
                self.injected += 1
            return kind

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}


class Faults:
    """The fault rules by operation id; `*` applies to operations without a rule of their own."""

    def __init__(self):
        self._rules: dict[str, FaultRule] = {}
        self._lock = threading.Lock()

    def set(self, operation: str, rule: FaultRule) -> None:
        with self._lock:
            self._rules[operation] = rule

    def clear(self, operation: str | None = None) -> None:
        with self._lock:
            if operation is None:
                self._rules.clear()
            else:
                self._rules.pop(operation, None)

    def rule_for(self, operation: str) -> FaultRule | None:
        rules = self._rules
        return rules.get(operation) or rules.get("*")

    def as_dict(self) -> dict:
        with self._lock:
            return {op: rule.as_dict() for op, rule in self._rules.items()}
