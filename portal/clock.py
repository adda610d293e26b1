"""The portal's idea of "today". Everything that dates a business event (periods, prorations,
price versions) asks here, so tests can move the calendar for the whole process at once."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime, timedelta

from django.utils import timezone

_frozen: date | None = None
_moves_now = False


def today() -> date:
    return _frozen or timezone.localdate()


def now() -> datetime:
    """The current moment; inside ``frozen_today(day, move_now=True)``, this time of day on that
    day (so what is stamped while the demo plays its history is dated that day). Tests that
    only move the calendar keep the real moment, which is what ``auto_now`` fields hold."""
    moment = timezone.now()
    if _frozen is None or not _moves_now:
        return moment
    return moment + timedelta(days=(_frozen - timezone.localdate(moment)).days)


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
