"""The portal's idea of "today". Everything that dates a business event (periods, prorations,
price versions) asks here, so tests can move the calendar for the whole process at once."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime

from django.utils import timezone

_frozen: date | None = None


def today() -> date:
    return _frozen or timezone.localdate()


def now() -> datetime:
    return timezone.now()


@contextmanager
def frozen_today(day: date):
    """Make ``today()`` answer ``day`` in this process until the block ends (tests only)."""
    global _frozen
    previous, _frozen = _frozen, day
    try:
        yield
    finally:
        _frozen = previous


def set_today(day: date | None) -> None:
    """Set (or, with None, clear) the frozen day; prefer ``frozen_today`` in tests."""
    global _frozen
    _frozen = day
