"""Demo set-up for provisioning: the provider's platform app is registered in the Box simulator
the demo launcher starts (at Box it is made once in the developer console). The demo's Box
accounts come from the demo orders (orders/demo.py): the worker signs each one up in Chromium,
verifies the e-mail, authorises the app and creates the people's users.

With ``PORTAL_DEMO_PROVISION=inline`` (what the launcher sets) the accounts are set up here, at
once, so that the demo's history can be played from its first day.

The launcher sets ``PORTAL_DEMO_BOXSIM_URL`` once the simulator answers; without it
(``--seed-only``, tests) or when the simulator does not answer, nothing is created and a note
says so.
"""

from __future__ import annotations

import contextlib
import os

from django.conf import settings


def _note(message: str) -> None:
    print(f"  provisioning: {message}")  # noqa: T201 - the demo launcher's output


def seed(world) -> None:
    url = os.environ.get("PORTAL_DEMO_BOXSIM_URL", "")
    if not url:
        _note("no Box simulator running; no demo Box accounts were made.")
        return
    from boxsim.testing import SimControl, SimulatorError

    control = SimControl(url)
    try:
        control.health()
    except Exception:
        _note(f"the Box simulator at {url} does not answer; no demo Box accounts were made.")
        return
    with contextlib.suppress(SimulatorError):  # registered by an earlier run
        control.create_app(
            settings.BOX_PLATFORM_APP_NAME,
            client_id=settings.BOX_PLATFORM_CLIENT_ID,
            client_secret=settings.BOX_PLATFORM_CLIENT_SECRET,
        )
    _note("the provider's platform app is registered in the Box simulator.")
    if os.environ.get("PORTAL_DEMO_PROVISION") == "inline":
        _provision(world)


def _provision(world) -> None:
    """The launcher plays the demo's history (billing/demo.py), which needs the demo's Box
    accounts running from its first day: their jobs run here, in this process, as the worker
    would run them (a few seconds of Chromium per new account)."""
    from provisioning.engine import run_until_idle
    from provisioning.models import BoxAccount

    ids = list(
        BoxAccount.objects.filter(customer__in=world.customers.values())
        .exclude(status="active")
        .values_list("pk", flat=True)
    )
    if not ids:
        return
    _note(f"setting up {len(ids)} demo Box accounts at the simulator (about a minute)...")
    run_until_idle(ids, timeout=600)
    active = BoxAccount.objects.filter(pk__in=ids, status="active").count()
    _note(f"{active} of {len(ids)} demo Box accounts are active.")
