"""The demo's orders: placed through the services, waiting for the worker; seeding twice adds
nothing."""

import pytest

from orders.models import Order, SeatAssignment, Subscription
from portal.demo import seed
from provisioning.models import BoxAccount

pytestmark = pytest.mark.django_db


def test_demo_orders():
    seed()
    orders = {o.customer.name: o for o in Order.objects.select_related("customer")}
    assert {name: o.state for name, o in orders.items()} == {
        "Acme Manufacturing": "provisioning",
        "Contoso Dental": "provisioning",
        "Evergreen Law": "provisioning",
        "Fjord Design Studio": "draft",
        "Delta Freight": "awaiting_approval",
        # the sandbox customer's Business, ordered on terms after the played story
        "Sandbox Trading": "provisioning",
    }
    assert orders["Contoso Dental"].placed_as == "reseller_sales"
    assert Subscription.objects.count() == 4
    assert SeatAssignment.objects.count() == 9
    assert BoxAccount.objects.filter(status="pending").count() == 4
    seed()
    assert (Order.objects.count(), SeatAssignment.objects.count()) == (6, 9)
