"""Orders: who places them, their state machine, freezing the price, approval, e-mail
verification, provisioning outcomes."""

from datetime import date
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress

from billing.models import Charge
from orders import services
from orders.models import Order, OrderState, SellerPolicy, Subscription, SubscriptionStatus
from portal import clock
from portal.errors import Conflict, PermissionDenied, Unprocessable, ValidationError
from portal.models import AuditEvent, Organization
from provisioning.connector.base import PermanentError
from provisioning.models import BoxAccount, ProvisioningJob
from tests.catalog.builders import price
from tests.orders.conftest import run_jobs

pytestmark = pytest.mark.django_db


def counts():
    return (
        Order.objects.count(),
        Subscription.objects.count(),
        BoxAccount.objects.count(),
        ProvisioningJob.objects.count(),
        Charge.objects.count(),
    )


def test_a_customer_orders_and_the_subscription_is_provisioned(
    tree, catalog, fake, frozen, django_capture_on_commit_callbacks
):
    # given
    frozen(date(2027, 1, 1))
    admin = tree["PC1.admin"]
    # when
    order = services.order_create(
        actor=admin,
        customer=tree["PC1"],
        offer=catalog["P.business"],
        quantity=5,
        term="monthly",
        submit=True,
    )
    # then the order is provisioning, with its subscription and Box account waiting
    assert order.state == OrderState.PROVISIONING
    assert (order.placed_by, order.placed_as, order.placed_via) == (admin, "customer", tree["PC1"])
    sub = order.subscription
    assert (sub.status, sub.quantity, sub.plan.code, sub.unit_price) == (
        "pending",
        5,
        "business",
        Decimal("15.0000"),
    )
    # a 14-day trial: the first period is the trial
    assert (sub.current_period_start, sub.current_period_end, sub.trial_ends_on) == (
        date(2027, 1, 1),
        date(2027, 1, 15),
        date(2027, 1, 15),
    )
    account = sub.box_account
    assert (account.plan_code, account.seats) == ("business", 6)  # + the provider's admin seat
    assert account.admin_login == f"box-admin-{sub.pk}@admins.northwind.localhost"
    assert list(account.jobs.order_by("sequence").values_list("operation", "subject_type")) == [
        ("account.signup", "orders.order"),
        ("account.verify_email", "orders.order"),
        ("account.authorize_app", "orders.order"),
        ("account.link_admin", "orders.order"),
    ]
    # the frozen lines are the quote's first invoice (the trial period is free)
    assert [(line.kind, line.amount) for line in order.lines.all()] == [
        ("recurring", Decimal("75.00")),
        ("tax", Decimal("7.50")),
    ]
    assert order.first_total == Decimal("82.50")
    # when the jobs are carried out
    with django_capture_on_commit_callbacks(execute=True):
        run_jobs(fake)
    order.refresh_from_db()
    sub.refresh_from_db()
    assert order.state == OrderState.COMPLETED
    assert sub.status == SubscriptionStatus.TRIAL
    actions = list(
        AuditEvent.objects.filter(object_type="orders.order", object_id=str(order.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["order.created", "order.submitted", "order.provisioning", "order.completed"]


def test_staff_order_on_behalf_and_the_record_says_so(tree, catalog, fake):
    sales = tree["P.sales"]
    order = services.order_create(
        actor=sales,
        customer=tree["C11"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
        submit=True,
    )
    assert (order.placed_by, order.placed_as, order.placed_via) == (
        sales,
        "provider_sales",
        tree["P"],
    )
    r1 = services.order_create(
        actor=tree["R1.admin"],
        customer=tree["C12"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
    )
    assert (r1.state, r1.placed_as, r1.placed_via) == ("draft", "reseller_admin", tree["R1"])
    agent = services.order_create(
        actor=tree["P.agent"],
        customer=tree["PC1"],
        offer=catalog["P.starter"],
        quantity=2,
        term="monthly",
    )
    assert agent.placed_as == "provider_agent"
    event = AuditEvent.objects.get(action="order.created", object_id=str(order.pk))
    assert event.actor == sales and event.after["placed_as"] == "provider_sales"


@pytest.mark.parametrize(
    ("actor", "customer"),
    [
        ("P.agent", "PC2"),  # not assigned to this agent
        ("R1.billing", "C11"),  # billing staff do not sell
        ("C11.member", "C11"),  # a member cannot order
        ("C11.billing", "C11"),
    ],
)
def test_who_may_not_order(tree, catalog, actor, customer):
    offer = catalog["P.business"] if customer.startswith("P") else catalog["R1.business"]
    with pytest.raises(PermissionDenied):
        services.order_create(
            actor=tree[actor], customer=tree[customer], offer=offer, quantity=3, term="monthly"
        )
    assert Order.objects.count() == 0


def test_bad_orders_are_refused_and_write_nothing(tree, catalog):
    admin = tree["C11.admin"]
    before = counts()
    with pytest.raises(ValidationError) as foreign:
        services.order_create(
            actor=admin,
            customer=tree["C11"],
            offer=catalog["R2.business"],
            quantity=3,
            term="monthly",
        )
    # another seller's offer is not named, not even confirmed to exist
    assert foreign.value.message == "No such offer is sold to this customer."
    with pytest.raises(ValidationError) as exc:
        services.order_create(
            actor=admin,
            customer=tree["C11"],
            offer=catalog["R1.business"],
            quantity=1,
            term="monthly",
        )
    assert "quantity" in exc.value.fields
    with pytest.raises(ValidationError):
        services.order_create(
            actor=admin,
            customer=tree["C11"],
            offer=catalog["R1.business"],
            quantity=3,
            term="weekly",
        )
    with pytest.raises(ValidationError, match="NOSUCHCODE is not a promotion code of Reseller R1"):
        services.order_create(
            actor=admin,
            customer=tree["C11"],
            offer=catalog["R1.business"],
            quantity=3,
            term="monthly",
            promotion_code="NOSUCHCODE",
        )
    with pytest.raises(ValidationError, match="past"):
        services.order_create(
            actor=admin,
            customer=tree["C11"],
            offer=catalog["R1.business"],
            quantity=3,
            term="monthly",
            start_date=date(2020, 1, 1),
        )
    assert counts() == before


def test_the_same_idempotency_key_gives_the_same_order(tree, catalog, fake):
    kwargs = dict(
        actor=tree["C11.admin"],
        customer=tree["C11"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
        submit=True,
        idempotency_key="k-123",
    )
    first = services.order_create(**kwargs)
    second = services.order_create(**kwargs)
    assert first.pk == second.pk
    assert (Order.objects.count(), Subscription.objects.count(), BoxAccount.objects.count()) == (
        1,
        1,
        1,
    )
    # the same key for another customer is another key: a new order, nothing of the first
    other = services.order_create(**{**kwargs, "actor": tree["C12.admin"], "customer": tree["C12"]})
    assert other.pk != first.pk and other.customer == tree["C12"]
    # the same key with another request is refused and writes nothing
    with pytest.raises(Unprocessable, match="already used for a different request"):
        services.order_create(**{**kwargs, "quantity": 4})
    assert Order.objects.count() == 2


def test_drafts_are_edited_then_submitted_with_a_fresh_price(tree, catalog, fake):
    draft = services.order_create(
        actor=tree["R1.sales"],
        customer=tree["C11"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
    )
    assert (draft.state, draft.first_total) == ("draft", Decimal("52.80"))  # 3 x 16.00 + 10 %
    draft = services.order_update(actor=tree["R1.sales"], order=draft, quantity=4)
    assert draft.first_total == Decimal("70.40")
    submitted = services.order_submit(actor=tree["R1.sales"], order=draft)
    assert submitted.state == OrderState.PROVISIONING
    with pytest.raises(Conflict, match="only drafts"):
        services.order_update(actor=tree["R1.sales"], order=submitted, quantity=5)


def test_cancelling_orders(tree, catalog):
    draft = services.order_create(
        actor=tree["C11.admin"],
        customer=tree["C11"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
    )
    services.order_cancel(actor=tree["C11.admin"], order=draft)
    draft.refresh_from_db()
    assert draft.state == OrderState.CANCELLED
    with pytest.raises(Conflict):
        services.order_submit(actor=tree["C11.admin"], order=draft)


def test_a_seller_that_approves_orders_holds_customer_orders(tree, catalog, fake):
    services.seller_policy_update(
        actor=tree["R1.admin"], seller=tree["R1"], approve_orders=True, approve_new_customers=False
    )
    customer_order = services.order_create(
        actor=tree["C11.admin"],
        customer=tree["C11"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
        submit=True,
    )
    staff_order = services.order_create(
        actor=tree["R1.sales"],
        customer=tree["C12"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
        submit=True,
    )
    assert customer_order.state == OrderState.AWAITING_APPROVAL
    assert customer_order.subscription is None
    assert staff_order.state == OrderState.PROVISIONING  # the seller's own staff need no approval
    with pytest.raises(PermissionDenied):
        services.order_approve(actor=tree["R2.admin"], order=customer_order)
    with pytest.raises(PermissionDenied):
        services.order_approve(actor=tree["C11.admin"], order=customer_order)
    approved = services.order_approve(actor=tree["R1.sales"], order=customer_order)
    assert approved.state == OrderState.PROVISIONING
    assert approved.decided_by == tree["R1.sales"]


def test_rejecting_an_order(tree, catalog):
    SellerPolicy.objects.create(seller=tree["R1"], approve_orders=True)
    order = services.order_create(
        actor=tree["C11.admin"],
        customer=tree["C11"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
        submit=True,
    )
    services.order_cancel(actor=tree["R1.admin"], order=order, reason="Credit check failed")
    order.refresh_from_db()
    assert (order.state, order.decided_by, order.failure_message) == (
        "cancelled",
        tree["R1.admin"],
        "Credit check failed",
    )
    assert Subscription.objects.count() == 0


def test_checkout_waits_for_the_email_then_goes_on(tree, catalog, fake):
    order = services.checkout(
        seller=tree["R1"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
        company_name="Kite Studio",
        full_name="Kim Kite",
        email="kim@kite.test",
        password="a-sturdy-passphrase-42",
        idempotency_key="tok-1",
    )
    customer = Organization.objects.get(name="Kite Studio")
    assert (order.state, order.customer, customer.parent) == ("submitted", customer, tree["R1"])
    assert Subscription.objects.count() == 0
    # the same form posted again: the same order, nobody created twice
    again = services.checkout(
        seller=tree["R1"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
        company_name="Kite Studio",
        full_name="Kim Kite",
        email="kim@kite.test",
        password="a-sturdy-passphrase-42",
        idempotency_key="tok-1",
    )
    assert again.pk == order.pk
    assert Organization.objects.filter(name="Kite Studio").count() == 1
    # when the address is verified
    address = EmailAddress.objects.get(email="kim@kite.test")
    address.verified = True
    address.save()
    services.orders_resume_after_verification(user=address.user)
    order.refresh_from_db()
    # then its first invoice is issued and the order waits for payment: nothing at Box yet
    assert order.state == OrderState.AWAITING_PAYMENT
    assert order.first_invoice.state == "issued"
    assert not BoxAccount.objects.filter(customer=order.customer).exists()
    # paid (here by a bank transfer the seller records), it is provisioned
    from payments.services.collect import payment_record_offline

    payment_record_offline(
        actor=tree["R1.billing"],
        invoice=order.first_invoice,
        amount=order.first_total,
        source="transfer",
        reference="BANK-1",
    )
    order.refresh_from_db()
    assert order.state == OrderState.PROVISIONING
    run_jobs(fake)
    order.refresh_from_db()
    assert order.state == OrderState.COMPLETED


def test_checkout_with_bad_input_creates_nobody(tree, catalog):
    before = (Organization.objects.count(), Order.objects.count())
    with pytest.raises(ValidationError):
        services.checkout(
            seller=tree["R1"],
            offer=catalog["R1.business"],
            quantity=1,
            term="monthly",
            company_name="X",
            full_name="Y",
            email="new@x.test",
            password="a-sturdy-passphrase-42",
            idempotency_key="tok-2",
        )
    with pytest.raises(Conflict, match="already registered"):
        services.checkout(
            seller=tree["R1"],
            offer=catalog["R1.business"],
            quantity=3,
            term="monthly",
            company_name="X",
            full_name="Y",
            email="c11.admin@example.test",
            password="a-sturdy-passphrase-42",
            idempotency_key="tok-3",
        )
    with pytest.raises(ValidationError, match=r"too short|too common"):
        services.checkout(
            seller=tree["R1"],
            offer=catalog["R1.business"],
            quantity=3,
            term="monthly",
            company_name="X",
            full_name="Y",
            email="new@x.test",
            password="short",
            idempotency_key="tok-4",
        )
    assert (Organization.objects.count(), Order.objects.count()) == before


def test_a_seller_that_approves_new_customers(tree, catalog, fake):
    services.seller_policy_update(
        actor=tree["R2.admin"], seller=tree["R2"], approve_orders=False, approve_new_customers=True
    )
    order = services.checkout(
        seller=tree["R2"],
        offer=catalog["R2.business"],
        quantity=3,
        term="monthly",
        company_name="Pending Co",
        full_name="Pat",
        email="pat@pending.test",
        password="a-sturdy-passphrase-42",
        idempotency_key="tok-5",
    )
    EmailAddress.objects.filter(email="pat@pending.test").update(verified=True)
    services.orders_resume_after_verification(user=order.placed_by)
    order.refresh_from_db()
    customer = order.customer
    assert (customer.status, order.state) == ("pending", "awaiting_approval")
    services.customer_approve(actor=tree["R2.admin"], customer=customer)
    order.refresh_from_db()
    customer.refresh_from_db()
    assert (customer.status, order.state) == ("active", "awaiting_payment")


def test_a_failed_box_step_fails_the_order_and_a_retry_completes_it(tree, catalog, fake):
    fake.fail("account.signup", PermanentError("Box refused the sign-up page"))
    order = services.order_create(
        actor=tree["C11.admin"],
        customer=tree["C11"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
        submit=True,
    )
    run_jobs(fake)
    order.refresh_from_db()
    assert order.state == OrderState.FAILED
    assert order.failure_message.startswith("We could not finish setting this up at Box yet.")
    assert "refused" not in order.failure_message  # the customer sees a plain message
    from provisioning import services as provisioning

    job = order.subscription.box_account.jobs.get(operation="account.signup")
    provisioning.job_retry(job=job, actor=tree["P.admin"])
    run_jobs(fake)
    order.refresh_from_db()
    order.subscription.refresh_from_db()
    assert order.state == OrderState.COMPLETED
    assert order.subscription.status == SubscriptionStatus.ACTIVE


def test_staff_cancelling_the_failed_step_cancels_the_order(tree, catalog, fake):
    fake.fail("account.signup", PermanentError("Box refused"))
    order = services.order_create(
        actor=tree["C11.admin"],
        customer=tree["C11"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
        submit=True,
    )
    run_jobs(fake)
    from provisioning import services as provisioning

    job = order.subscription.box_account.jobs.get(operation="account.signup")
    provisioning.job_cancel(job=job, actor=tree["P.admin"])
    order.refresh_from_db()
    order.subscription.refresh_from_db()
    assert (order.state, order.subscription.status) == ("cancelled", "cancelled")


def test_orders_use_the_portals_calendar(tree, catalog, frozen):
    frozen(date(2027, 6, 30))
    order = services.order_create(
        actor=tree["C11.admin"],
        customer=tree["C11"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
        submit=True,
    )
    assert order.subscription.current_period_start == date(2027, 6, 30)
    assert order.subscription.current_period_end == date(2027, 7, 30)
    assert clock.today() == date(2027, 6, 30)


def test_an_order_waiting_for_approval_keeps_the_price_it_was_quoted(tree, catalog, frozen):
    # given: R1 approves its customers' orders; C11 orders 3 seats at 16.00 on 1 March
    frozen(date(2027, 3, 1))
    services.seller_policy_update(
        actor=tree["R1.admin"], seller=tree["R1"], approve_orders=True, approve_new_customers=False
    )
    order = services.order_create(
        actor=tree["C11.admin"],
        customer=tree["C11"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
        submit=True,
    )
    assert order.state == OrderState.AWAITING_APPROVAL
    quoted = [(line.kind, line.amount) for line in order.lines.all()]
    assert quoted == [("recurring", Decimal("48.00")), ("tax", Decimal("4.80"))]
    # when: R1 raises its price, and approves the order five days later
    price(tree["R1"], catalog.plans["business"], "25.00", valid_from=date(2027, 3, 2))
    frozen(date(2027, 3, 6))
    approved = services.order_approve(actor=tree["R1.sales"], order=order)
    # then: the subscription runs at the quoted 16.00 from the day of approval; the lines
    # the customer agreed to are unchanged
    sub = approved.subscription
    assert sub.unit_price == Decimal("16.00")
    assert (sub.current_period_start, sub.current_period_end) == (
        date(2027, 3, 6),
        date(2027, 4, 6),
    )
    assert [(line.kind, line.amount) for line in approved.lines.all()] == quoted
    assert approved.first_total == Decimal("52.80")
    assert approved.quote["first_invoice"]["start"] == "2027-03-06"
