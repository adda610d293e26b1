"""Demo orders and subscriptions, placed through the real services so the demo's worker
provisions them at the Box simulator (in Chromium for each new Box account) once it starts:

* Acme Manufacturing (Northwind's) ordered Business itself; four people have seats.
* Contoso Dental (Skyline's) had Business Plus ordered for it by Skyline's sales person; three
  people have seats.
* Evergreen Law (Harbor's) ordered Business; two people have seats.
* Fjord Design Studio (Harbor's) has a draft order; Delta Freight (Skyline's) an order waiting for
  Skyline's approval (Skyline approves its customers' orders).

Changes (upgrades, more seats) need a subscription that is running, so the demo leaves them to
the person trying it: docs/demo.md says what to try.
"""

from __future__ import annotations

from allauth.account.models import EmailAddress

from catalog.models import Offer
from orders import services
from orders.models import Order, SellerPolicy
from portal.actors import system

SEED = system("demo-seed")


def _offer(seller, plan_code):
    return Offer.objects.filter(seller=seller, plan__code=plan_code, is_active=True).first()


def _say(message: str) -> None:
    print(f"  orders: {message}")  # noqa: T201 - the demo launcher's output


def seed(world) -> None:
    customers, users = world.customers, world.users
    if Order.objects.filter(customer__in=customers.values()).exists():
        return  # seeded before
    EmailAddress.objects.filter(user__in=users.values()).update(verified=True)
    people = {
        "acme": ["Ada Park", "Ben Ortiz", "Cleo Grant", "Dev Shah"],
        "contoso": ["Fay Lund", "Gus Reed", "Hana Iqbal"],
        "evergreen": ["Ida Voss", "Jon Bell"],
    }
    plans = {
        "acme": ("business", 10, users["admin@acme.example"]),
        "contoso": ("business_plus", 5, users["sales@skyline.localhost"]),
        "evergreen": ("business", 3, users["admin@evergreen.example"]),
    }
    from payments.services.accounts import invoice_terms_set

    for key, (plan, seats, actor) in plans.items():
        customer = customers[key]
        # Their sellers trust these customers: they pay within 30 days of each invoice, so
        # their orders are provisioned at once (new customers pay by card first).
        invoice_terms_set(actor=SEED, buyer=customer, days=30)
        offer = _offer(customer.parent, plan)
        if offer is None:
            _say(f"{customer.parent.name} sells no {plan}; {customer.name} gets no subscription.")
            continue
        order = services.order_create(
            actor=actor,
            customer=customer,
            offer=offer,
            quantity=seats,
            term="monthly",
            submit=True,
        )
        sub = order.subscription
        domain = customer.contact_email.split("@")[1]
        for person in people[key]:
            first, last = person.lower().split()
            services.seat_assign(
                actor=SEED,
                subscription=sub,
                email=f"{first}.{last}@{domain}",
                name=person,
                quota_gb=None,
            )
        _say(
            f"{customer.name}: {offer.plan.name}, {seats} seats, {len(people[key])} assigned; "
            "the worker sets it up at Box."
        )
    fjord_offer = _offer(customers["fjord"].parent, "business")
    if fjord_offer is not None:
        services.order_create(
            actor=users["admin@fjord.example"],
            customer=customers["fjord"],
            offer=fjord_offer,
            quantity=3,
            term="annual",
        )
    skyline = customers["delta"].parent
    SellerPolicy.objects.get_or_create(seller=skyline, defaults={"approve_orders": True})
    delta_offer = _offer(skyline, "business")
    if delta_offer is not None:
        services.order_create(
            actor=users["admin@delta.example"],
            customer=customers["delta"],
            offer=delta_offer,
            quantity=3,
            term="monthly",
            submit=True,
        )
