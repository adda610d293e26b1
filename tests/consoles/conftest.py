"""Dashboard test data: invoices made directly (numbered clear of the services' series) and a
tree where something waits in every to-do."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import Invoice
from orders import services
from portal import clock
from portal.models import Organization, OrgKind
from provisioning.connector.base import PermanentError
from provisioning.models import DriftItem, DriftKind
from tests.factories import make_org
from tests.orders.conftest import run_jobs

_numbers = iter(range(90_000, 99_999))  # clear of the numbers the services take


def invoice(seller, buyer, *, state="issued", due_in=14, subtotal="100.00", source="period"):
    n = next(_numbers)
    today = clock.today()
    return Invoice.objects.create(
        seller=seller,
        buyer=buyer,
        currency="USD",
        source=source,
        state=state,
        billing_day=today - timedelta(days=20),
        number=f"T-{n:05d}",
        sequence=n,
        issued_at=timezone.now() - timedelta(days=20),
        due_on=today + timedelta(days=due_in),
        subtotal=Decimal(subtotal),
        total=Decimal(subtotal),
    )


@pytest.fixture
def busy(tree, catalog, fake):
    """Something waiting in every to-do of R1, less in R2's, and some for the provider."""
    r1, r2 = tree["R1"], tree["R2"]
    # A Box step that fails for good, on C11 (R1's customer), with drift on its account.
    fake.fail("account.signup", PermanentError("Box refused the sign-up page"))
    failed = services.order_create(
        actor=tree["C11.admin"],
        customer=tree["C11"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
        submit=True,
    )
    run_jobs(fake)
    failed.refresh_from_db()
    account = failed.subscription.box_account
    for key in ("a", "b"):
        DriftItem.objects.create(account=account, kind=DriftKind.UNKNOWN_IN_BOX, key=key)
    DriftItem.objects.create(
        account=account, kind=DriftKind.UNKNOWN_IN_BOX, key="old", resolved_at=timezone.now()
    )
    # An order waiting for R1's approval, and a new customer of R1 waiting too.
    services.seller_policy_update(
        actor=tree["R1.admin"], seller=r1, approve_orders=True, approve_new_customers=False
    )
    services.order_create(
        actor=tree["C12.admin"],
        customer=tree["C12"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
        submit=True,
    )
    pending = make_org(r1, OrgKind.CUSTOMER, "Waiting Ltd")
    Organization.objects.filter(pk=pending.pk).update(status="pending")
    # Overdue invoices: two of R1's, one of R2's; a paid one, a void one and one not yet due
    # do not count.
    invoice(r1, tree["C11"], due_in=-5)
    invoice(r1, tree["C12"], due_in=-1)
    invoice(r1, tree["C12"], due_in=-9, state="paid")
    invoice(r1, tree["C12"], due_in=-9, state="void")
    invoice(r1, tree["C11"], due_in=0)
    invoice(r2, tree["C21"], due_in=-3)
    # A suspended customer of R2.
    Organization.objects.filter(pk=tree["C22"].pk).update(status="suspended")
    return tree
