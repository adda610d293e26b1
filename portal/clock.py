"""The portal's idea of "today". Everything that dates a business event (periods, prorations,
price versions) asks here, so tests can move the calendar for the whole process at once, and a
sandbox customer's work can run on its own day (``on_day``) without moving anyone else's."""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from datetime import date, datetime, timedelta

from django.utils import timezone

_frozen: date | None = None
_moves_now = False
# The day of the work running in this context (a thread, a task): a sandbox customer's page or
# its Advance. Set only by ``on_day``; never seen by another request or task.
_context_day: contextvars.ContextVar[date | None] = contextvars.ContextVar(
    "portal_clock_day", default=None
)


def today() -> date:
    return _context_day.get() or _frozen or timezone.localdate()


def now() -> datetime:
    """The current moment; inside ``on_day(day)`` or ``frozen_today(day, move_now=True)``, this
    time of day on that day (so what is stamped there is dated that day). Tests that only
    move the calendar keep the real moment, which is what ``auto_now`` fields hold."""
    moment = timezone.now()
    day = _context_day.get()
    if day is None:
        if _frozen is None or not _moves_now:
            return moment
        day = _frozen
    return moment + timedelta(days=(day - timezone.localdate(moment)).days)


@contextmanager
def on_day(day: date | None):
    """Make ``today()`` (and ``now()``) answer ``day`` for the work in this context only, until
    the block ends; ``None`` changes nothing. Thread- and task-safe, unlike ``frozen_today``."""
    if day is None:
        yield
        return
    token = _context_day.set(day)
    try:
        yield
    finally:
        _context_day.reset(token)


def on_day_of(organization):
    """``on_day`` of a sandbox customer's own day (its work done by staff from a console: a
    credit note, an order on its behalf); any other organization changes nothing."""
    return on_day(organization.sandbox_today if getattr(organization, "sandbox", False) else None)


@contextmanager
def frozen_today(day: date, *, move_now: bool = False):
    """Make ``today()`` answer ``day`` in this process until the block ends (tests and the
    demo's history); with ``move_now``, ``now()`` moves to that day too."""
    global _frozen, _moves_now
    previous = (_frozen, _moves_now)
    _frozen, _moves_now = day, move_now
    try:
        yield
    finally:
        _frozen, _moves_now = previous


def set_today(day: date | None) -> None:
    """Set (or, with None, clear) the frozen day; prefer ``frozen_today`` in tests."""
    global _frozen
    _frozen = day
