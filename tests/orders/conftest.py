"""Ordering tests: the tree, a priced catalog, and provisioning run in-process by a recording
connector (the simulator and a real worker are in the end-to-end tests)."""

from __future__ import annotations

from datetime import date

from catalog import services as catalog_services
from orders import services
from portal import clock
from provisioning import engine
from provisioning.connector.base import AccountState
from tests.factories import SYSTEM
from tests.provisioning.fakes import FakeConnector


class ManyAccountsConnector(FakeConnector):
    """The recording connector, giving each signed-up admin an enterprise of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.enterprises: dict[str, str] = {}

    def _enterprise(self, login: str) -> str:
        return self.enterprises.setdefault(login, str(70_000_000 + len(self.enterprises)))

    def account_verify_email(self, admin):
        super().account_verify_email(admin)
        return AccountState(enterprise_id=self._enterprise(admin.login), enterprise_name="Fake")

    def account_authorize_app(self, admin, client_id):
        super().account_authorize_app(admin, client_id)
        return AccountState(enterprise_id=self._enterprise(admin.login), authorized=True)


def run_jobs(fake) -> int:
    """Carry out every due provisioning job now, with the recording connector."""
    return engine.run_until_idle(connector=fake, timeout=20)


def subscribe(
    tree,
    catalog,
    fake,
    *,
    customer="PC1",
    offer="P.business",
    quantity=5,
    term="monthly",
    day=date(2027, 1, 1),
    trial=False,
    code="",
):
    """A running subscription bought through a real order (its trial used up beforehand
    unless ``trial``)."""
    clock.set_today(day)
    org = tree[customer]
    if not trial and catalog[offer].trial_days:
        catalog_services.trial_redeem(
            actor=SYSTEM, customer=org, offer=catalog[offer], started_on=date(2026, 1, 1)
        )
    order = services.order_create(
        actor=tree[f"{customer}.admin"],
        customer=org,
        offer=catalog[offer],
        quantity=quantity,
        term=term,
        promotion_code=code,
        submit=True,
    )
    run_jobs(fake)
    order.refresh_from_db()
    return order.subscription
