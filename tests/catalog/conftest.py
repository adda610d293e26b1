import pytest
from freezegun import freeze_time

from portal.actors import system

SYSTEM = system("tests")

# The worked billing cases happen in 2027; their prices are set up shortly before.
CASES_SET_UP_ON = "2026-12-01"


@pytest.fixture
def cases(tree):
    """The world of docs/billing-cases.md: Business at 15.00 retail and 12.00 wholesale, the
    reseller R1 selling it at 16.00, 10 % tax, set up on 2026-12-01."""
    from catalog import services
    from tests.catalog.builders import price

    with freeze_time(CASES_SET_UP_ON):
        plans = {p.code: p for p in services.plan_seed_defaults(actor=SYSTEM)}
        provider, r1 = tree["P"], tree["R1"]
        business = plans["business"]
        services.tax_rate_create(actor=SYSTEM, seller=provider, name="Sales tax", rate="10.00")
        services.tax_rate_create(actor=SYSTEM, seller=r1, name="Sales tax", rate="10.00")
        price(provider, business, "15.00")
        price(provider, business, "12.00", audience="wholesale")
        offer = services.offer_publish(
            actor=SYSTEM, seller=provider, plan=business, available_to_all_resellers=True
        )
        r1_offer = services.offer_publish(actor=SYSTEM, seller=r1, plan=business)
        price(r1, business, "16.00")
    return {"plans": plans, "offer": offer, "r1_offer": r1_offer}
