"""Completion hooks: how other apps learn that a job they asked for is done.

A job may carry a ``subject``, a (type, id) pair naming the caller's row, for example
``("orders.seatassignment", 42)``. An app registers functions for its subject type, usually in
its ``AppConfig.ready``::

    from provisioning import hooks

    hooks.register(
        "orders.seatassignment",
        on_succeeded=seat_provisioned,   # called as fn(job)
        on_failed=seat_provisioning_failed,
    )

``on_succeeded`` runs when the job succeeds, or when staff skip it (``job.skipped`` is then
True). ``on_failed`` runs when the job fails for good (its attempts are used up or Box refused
it; ``job.state == "failed"``) and when staff cancel it (``job.state == "cancelled"``). A job
that fails and is later retried may therefore call ``on_failed`` and then ``on_succeeded``.

Hooks run inside the transaction that records the job's new state, so the caller's rows change
together with the job's or not at all; a hook that raises rolls that transaction back (the job
then stays where it was and is tried again). Hooks must not call remote services.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Hooks:
    on_succeeded: Callable | None = None
    on_failed: Callable | None = None


_REGISTRY: dict[str, list[Hooks]] = {}


def register(
    subject_type: str,
    *,
    on_succeeded: Callable | None = None,
    on_failed: Callable | None = None,
) -> None:
    entry = Hooks(on_succeeded, on_failed)
    entries = _REGISTRY.setdefault(subject_type, [])
    if entry not in entries:
        entries.append(entry)


def unregister(subject_type: str) -> None:
    _REGISTRY.pop(subject_type, None)


def fire(job, event: str) -> None:
    """Call the hooks of ``job.subject_type`` for ``event`` ("succeeded" or "failed")."""
    if not job.subject_type:
        return
    for entry in _REGISTRY.get(job.subject_type, []):
        fn = entry.on_succeeded if event == "succeeded" else entry.on_failed
        if fn is not None:
            fn(job)
