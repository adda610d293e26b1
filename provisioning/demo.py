"""Demo data for the provisioning console: Box accounts for a few demo customers, in the Box
simulator the demo launcher starts.

* The provider's platform app is registered in the simulator (at Box it is made once in the
  developer console).
* Acme and Contoso get an existing enterprise (made directly in the simulator) linked to their
  account, with a handful of users whose creation jobs the demo's worker runs.
* Evergreen Law gets a brand-new account opened the real way: the worker signs it up in
  Chromium, verifies the e-mail, authorises the app and records the admin.

The launcher sets ``PORTAL_DEMO_BOXSIM_URL`` once the simulator answers; without it
(``--seed-only``, tests) or when the simulator does not answer, nothing is created and a note
says so.
"""

from __future__ import annotations

import contextlib
import os
import secrets

from django.conf import settings

from provisioning import services
from provisioning.models import BoxAccount

LINKED = {
    "acme": ("business", 25, ["Ada Park", "Ben Ortiz", "Cleo Grant", "Dev Shah", "Eli Moss"]),
    "contoso": ("business_plus", 10, ["Fay Lund", "Gus Reed", "Hana Iqbal"]),
}
OPENED = {"evergreen": ("business", 5)}


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
    admin = world.users.get("admin@northwind.localhost")
    for key, (plan, seats, people) in LINKED.items():
        customer = world.customers.get(key)
        if customer is None or BoxAccount.objects.filter(customer=customer).exists():
            continue
        suffix = secrets.token_hex(3)
        enterprise = control.create_enterprise(
            name=customer.name,
            plan=plan,
            seats=seats,
            admin_login=f"box-admin-{suffix}@{key}.example",
            admin_name=f"{customer.name.split()[0]} Box Admin",
            client_id=settings.BOX_PLATFORM_CLIENT_ID,
        )
        account = services.box_account_link(
            customer=customer,
            box_enterprise_id=enterprise["enterprise_id"],
            plan_code=plan,
            seats=seats,
            admin_login=enterprise["admin_login"],
            admin_name=f"{customer.name.split()[0]} Box Admin",
            admin_password=enterprise["admin_password"],
            actor=admin,
            reference="demo subscription",
        )
        for n, person in enumerate(people):
            first, last = person.lower().split()
            services.box_user_create(
                account=account,
                login=f"{first}.{last}-{suffix}@{key}.example",
                name=person,
                external_app_user_id=f"demo-seat-{n + 1}",
                space_amount=-1,
            )
        _note(
            f"{customer.name}: Box enterprise {enterprise['enterprise_id']}, {len(people)} users."
        )
    for key, (plan, seats) in OPENED.items():
        customer = world.customers.get(key)
        if customer is None or BoxAccount.objects.filter(customer=customer).exists():
            continue
        services.box_account_open(
            customer=customer,
            plan_code=plan,
            seats=seats,
            admin_email=f"box-admin-{secrets.token_hex(3)}@{key}.example",
            admin_name=f"{customer.name.split()[0]} Box Admin",
            actor=admin,
            reference="demo subscription",
        )
        _note(f"{customer.name}: a new Box account is being opened by the worker (in Chromium).")
