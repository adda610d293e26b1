"""Who acts. Every service acts for an actor: a person (a ``User`` who signed in) or the portal
itself (a ``SystemActor``) for background work: tasks, provisioning hooks, renewals, billing
runs, the demo seed, management commands. No actor is a refusal, never a permission
(ARCHITECTURE.md, Invariants).

A ``SystemActor`` is made only by code (``system("billing-run")``); nothing a request carries
can become one, so the access rules may trust it. The audit log records it as the system,
with the process that acted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, TypeAlias

from portal.errors import PermissionDenied

if TYPE_CHECKING:
    from portal.models import User


@dataclass(frozen=True)
class SystemActor:
    """The portal acting on its own, for the named background process."""

    process: str
    is_system: ClassVar[bool] = True
    # Never a signed-in person: code that asks a person's questions of it gets "no".
    is_authenticated: ClassVar[bool] = False
    is_active: ClassVar[bool] = False
    pk: ClassVar[None] = None

    def __post_init__(self) -> None:
        if not self.process or not isinstance(self.process, str):
            raise ValueError("Name the process the system acts for.")

    def __str__(self) -> str:
        return f"System ({self.process})"


Actor: TypeAlias = "User | SystemActor"


class NoActor(PermissionDenied):
    """A service was called with no one acting. A programming error on our side, refused."""

    code = "no_actor"

    def __init__(self, message: str = "No one is acting; this cannot be done anonymously.", **kw):
        super().__init__(message, **kw)


def system(process: str) -> SystemActor:
    return SystemActor(process)


def is_system(actor) -> bool:
    return isinstance(actor, SystemActor)


def require_actor(actor):
    """``actor`` when it is a signed-in person or the system; anything else is refused."""
    if isinstance(actor, SystemActor):
        return actor
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise NoActor()
    return actor


def person(actor) -> User | None:
    """The person behind ``actor``, for columns that name who did something; None for the
    system (the audit log says which process)."""
    require_actor(actor)
    return None if isinstance(actor, SystemActor) else actor


def label(actor) -> str:
    """How messages name the actor."""
    if isinstance(actor, SystemActor):
        return "The portal"
    return getattr(actor, "email", "") or "Someone"
