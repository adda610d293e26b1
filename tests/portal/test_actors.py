"""Every service acts for an actor: called with no actor (None) or an anonymous visitor it
refuses and writes nothing; background work acts as the system and the audit log says so.

The table below must name every public service function that takes an ``actor``; a new
service without a row here fails ``test_every_service_is_in_the_table``."""

from __future__ import annotations

import inspect
from datetime import date

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import transaction

import billing.services.credit_notes as billing_credit_notes
import billing.services.documents as billing_documents
import billing.services.invoices as billing_invoices
import billing.services.prices as billing_prices
import billing.services.run as billing_run
import billing.services.usage as billing_usage
import catalog.services as catalog_services
import consoles.services as console_services
import orders.services as orders_services
import payments.services.accounts as payment_accounts
import payments.services.cards as payment_cards
import payments.services.collect as payment_collect
import payments.services.refunds as payment_refunds
import portal.services as portal_services
import provisioning.drift as provisioning_drift
import provisioning.services as provisioning_services
from billing.models import BillingIssue, CreditNote, Invoice, UsageCollection
from billing.services.gather import next_terms
from catalog.quotes import quote_from_dict
from orders.models import SubscriptionChange
from portal import access
from portal.actors import NoActor, SystemActor, system
from portal.models import AuditEvent, BrandDomain, Membership, OrgStatus
from provisioning.models import BoxUser, DriftItem, DriftKind, ProvisioningJob
from tests.factories import SYSTEM
from tests.orders.conftest import run_jobs, subscribe

pytestmark = pytest.mark.django_db

MODULES = (
    portal_services,
    catalog_services,
    orders_services,
    provisioning_services,
    provisioning_drift,
    billing_invoices,
    billing_prices,
    billing_credit_notes,
    billing_documents,
    billing_run,
    billing_usage,
    payment_accounts,
    payment_cards,
    payment_collect,
    payment_refunds,
    console_services,
)


def service_functions():
    """(qualified name, function) of every public function defined in a services module (or
    package) that takes an ``actor``."""
    found = {}
    for module in MODULES:
        package = module.__name__
        for name, func in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(func):
                continue
            if not func.__module__.startswith(package):
                continue
            if "actor" in inspect.signature(func).parameters:
                found[f"{package}.{name}"] = func
    return found


@pytest.fixture
def world(tree, catalog, fake):
    sub = subscribe(tree, catalog, fake, customer="C11", offer="R1.business", quantity=5)
    seat = orders_services.seat_assign(
        actor=SYSTEM, subscription=sub, email="ann@c11.test", name="Ann Lee"
    )
    run_jobs(fake)
    seat.refresh_from_db()
    orders_services.subscription_change(actor=SYSTEM, subscription=sub, quantity=4)
    draft = orders_services.order_create(
        actor=tree["C12.admin"],
        customer=tree["C12"],
        offer=catalog["R1.business"],
        quantity=3,
        term="monthly",
    )
    pending = portal_services.organization_create(
        actor=SYSTEM, parent=tree["R1"], kind="customer", name="Pending Co"
    )
    pending.status = OrgStatus.PENDING
    pending.save(update_fields=["status"])
    invitation, _token = portal_services.invitation_create(
        actor=tree["R1.admin"], organization=tree["R1"], email="new@r1.test", role="sales"
    )
    promotion = catalog_services.promotion_create(
        actor=SYSTEM,
        seller=tree["R1"],
        name="Ten off",
        discount_type="percent",
        percent="10",
        duration="once",
        code="TENOFF",
    )
    account = sub.box_account
    job = ProvisioningJob.objects.filter(account=account).order_by("-id").first()
    invoice = sub.invoice_lines.get(kind="recurring", billed_by=sub.seller).invoice
    draft_invoice = Invoice.objects.get(state="draft", buyer=tree["R1"])
    issue = BillingIssue.objects.create(
        subscription=sub, kind="price_missing", period_start=sub.current_period_end, message="x"
    )
    from billing.services.credit_notes import credit_note_create
    from payments.models import PaymentMethod, Refund
    from payments.services.collect import payment_record_offline

    payment = payment_record_offline(
        actor=SYSTEM, invoice=invoice, amount="1.00", source="transfer"
    )
    card = PaymentMethod.objects.create(
        buyer=tree["C11"], seller=tree["R1"], stripe_ref="pm_test_world", last4="4242"
    )
    note = credit_note_create(actor=SYSTEM, invoice=invoice, reason="world")
    refund = Refund.objects.create(
        payment=payment, credit_note=note, amount="1.00", currency=invoice.currency
    )
    drift = DriftItem.objects.create(
        account=account, kind=DriftKind.UNKNOWN_IN_BOX, key="77000001", login="kim@c11.test"
    )
    from billing.models import PriceMove

    price_move = PriceMove.objects.create(
        subscription=sub,
        from_price=sub.price,
        to_price=sub.price,
        effective_from=sub.current_period_end,
    )
    return {
        "drift": drift,
        "price_move": price_move,
        "payment": payment,
        "card": card,
        "note": note,
        "refund": refund,
        "invoice": invoice,
        "draft_invoice": draft_invoice,
        "issue": issue,
        "quote": quote_from_dict(draft_order_quote(tree, catalog)),
        "tree": tree,
        "catalog": catalog,
        "sub": sub,
        "seat": seat,
        "box_user": BoxUser.objects.get(pk=seat.box_user_id),
        "account": account,
        "job": job,
        "draft": draft,
        "pending": pending,
        "invitation": invitation,
        "promotion": promotion,
        "change": SubscriptionChange.objects.get(subscription=sub, state="scheduled"),
        "membership": Membership.objects.get(user=tree["R1.sales"], organization=tree["R1"]),
        "domain": BrandDomain.objects.get(domain="r1.test"),
        "collection": UsageCollection.objects.create(account=account, day=date(2027, 1, 1)),
    }


# Valid arguments (besides the actor) for each service, from the world above.
CASES = {
    "portal.services.audit_row": lambda w: {
        "organization": w["tree"]["C11"],
        "action": "test.anything",
        "obj": w["tree"]["C11"],
    },
    "portal.services.audit_values": lambda w: {
        "organization": w["tree"]["C11"],
        "action": "test.anything",
        "obj": w["tree"]["C11"],
    },
    "portal.services.audit_record": lambda w: {
        "organization": w["tree"]["C11"],
        "action": "test.anything",
        "obj": w["tree"]["C11"],
    },
    "portal.services.provider_create": lambda w: {"name": "Second provider"},
    "portal.services.organization_create": lambda w: {
        "parent": w["tree"]["R1"],
        "kind": "customer",
        "name": "Anon Co",
    },
    "portal.services.organization_update": lambda w: {
        "organization": w["tree"]["C11"],
        "name": "Renamed",
    },
    "portal.services.organization_assign_agent": lambda w: {
        "organization": w["tree"]["PC2"],
        "agent": w["tree"]["P.agent"],
    },
    "portal.services.membership_create": lambda w: {
        "organization": w["tree"]["R1"],
        "user": w["tree"]["R2.sales"],
        "role": "sales",
    },
    "portal.services.membership_change_role": lambda w: {
        "membership": w["membership"],
        "role": "billing",
    },
    "portal.services.membership_deactivate": lambda w: {"membership": w["membership"]},
    "portal.services.membership_reactivate": lambda w: {"membership": w["membership"]},
    "portal.services.invitation_create": lambda w: {
        "organization": w["tree"]["R1"],
        "email": "x@r1.test",
        "role": "sales",
    },
    "portal.services.invitation_revoke": lambda w: {"invitation": w["invitation"]},
    "portal.services.brand_update": lambda w: {"brand": w["tree"]["R1"].brand, "name": "X"},
    "portal.services.brand_domain_add": lambda w: {
        "brand": w["tree"]["R1"].brand,
        "domain": "shop.r1.test",
    },
    "portal.services.brand_domain_remove": lambda w: {"domain": w["domain"]},
    "catalog.services.plan_create": lambda w: {
        "code": "extra",
        "name": "Extra",
        "box_plan_code": "business",
        "storage_mode": "unlimited",
        "max_upload_mb": 100,
    },
    "catalog.services.plan_update": lambda w: {
        "plan": w["catalog"].plans["business"],
        "name": "Biz",
    },
    "catalog.services.plan_seed_defaults": lambda w: {},
    "catalog.services.seller_currency_add": lambda w: {
        "seller": w["tree"]["R1"],
        "currency": "EUR",
    },
    "catalog.services.seller_currency_remove": lambda w: {
        "seller": w["tree"]["R1"],
        "currency": "EUR",
    },
    "catalog.services.offer_publish": lambda w: {
        "seller": w["tree"]["R2"],
        "plan": w["catalog"].plans["starter"],
    },
    "catalog.services.offer_update": lambda w: {
        "offer": w["catalog"]["R1.business"],
        "name": "Biz",
    },
    "catalog.services.offer_withdraw": lambda w: {"offer": w["catalog"]["R1.business"]},
    "catalog.services.price_create": lambda w: {
        "seller": w["tree"]["R1"],
        "plan": w["catalog"].plans["business"],
        "currency": "USD",
        "term": "monthly",
        "recurring": "30.00",
        "valid_from": date(2027, 6, 1),
    },
    "catalog.services.trial_redeem": lambda w: {
        "customer": w["tree"]["PC2"],
        "offer": w["catalog"]["P.business"],
    },
    "catalog.services.promotion_create": lambda w: {
        "seller": w["tree"]["R1"],
        "name": "Five off",
        "discount_type": "percent",
        "percent": "5",
        "duration": "once",
        "code": "FIVEOFF",
    },
    "catalog.services.promotion_update": lambda w: {
        "promotion": w["promotion"],
        "name": "Renamed",
    },
    "catalog.services.promotion_redeem": lambda w: {
        "promotion": w["promotion"],
        "customer": w["tree"]["C12"],
        "reference": "ref-1",
    },
    "catalog.services.tax_rate_create": lambda w: {
        "seller": w["tree"]["R1"],
        "name": "VAT",
        "rate": "20",
    },
    "orders.services.placed_as_for": lambda w: {"customer": w["tree"]["C11"]},
    "orders.services.customer_approve": lambda w: {"customer": w["pending"]},
    "orders.services.seller_policy_update": lambda w: {
        "seller": w["tree"]["R1"],
        "approve_orders": True,
        "approve_new_customers": True,
    },
    "orders.services.subscription_change": lambda w: {"subscription": w["sub"], "quantity": 7},
    "orders.services.subscription_change_withdraw": lambda w: {"change": w["change"]},
    "orders.services.subscription_change_preview": lambda w: {
        "subscription": w["sub"],
        "quantity": 7,
    },
    "orders.services.subscription_change_confirm": lambda w: {
        "subscription": w["sub"],
        "quantity": 7,
        "fingerprint": "x",
        "idempotency_key": "k1",
    },
    "orders.services.subscription_cancel_preview": lambda w: {"subscription": w["sub"]},
    "orders.services.subscription_cancel_confirm": lambda w: {
        "subscription": w["sub"],
        "fingerprint": "x",
        "idempotency_key": "k2",
    },
    "orders.services.seats_import_preview": lambda w: {
        "subscription": w["sub"],
        "text": "email,name\ndi@c11.test,Di Fox\n",
    },
    "orders.services.seats_import_confirm": lambda w: {
        "subscription": w["sub"],
        "text": "email,name\ndi@c11.test,Di Fox\n",
        "fingerprint": "x",
        "idempotency_key": "k3",
    },
    "orders.services.order_approve": lambda w: {"order": w["draft"]},
    "orders.services.order_cancel": lambda w: {"order": w["draft"]},
    "orders.services.order_create": lambda w: {
        "customer": w["tree"]["C12"],
        "offer": w["catalog"]["R1.business"],
        "quantity": 3,
        "term": "monthly",
    },
    "orders.services.order_submit": lambda w: {"order": w["draft"]},
    "orders.services.order_update": lambda w: {"order": w["draft"], "quantity": 4},
    "orders.services.seat_assign": lambda w: {
        "subscription": w["sub"],
        "email": "bo@c11.test",
        "name": "Bo Ray",
    },
    "orders.services.seat_reassign": lambda w: {
        "seat": w["seat"],
        "email": "cy@c11.test",
        "name": "Cy Moe",
    },
    "orders.services.seat_unassign": lambda w: {"seat": w["seat"]},
    "orders.services.seat_update": lambda w: {"seat": w["seat"], "name": "Ann Leigh"},
    "orders.services.seats_import": lambda w: {
        "subscription": w["sub"],
        "text": "email,name\ndi@c11.test,Di Fox\n",
    },
    "orders.services.subscription_cancel": lambda w: {"subscription": w["sub"]},
    "orders.services.subscription_cancel_withdraw": lambda w: {"subscription": w["sub"]},
    "orders.services.subscription_renew": lambda w: {
        "subscription": w["sub"],
        "today": date(2027, 3, 1),
    },
    "orders.services.subscription_resume": lambda w: {"subscription": w["sub"]},
    "orders.services.subscription_suspend": lambda w: {"subscription": w["sub"], "reason": "x"},
    "provisioning.services.job_enqueue": lambda w: {
        "account": w["account"],
        "operation": "account.suspend",
        "payload": {},
        "idempotency_key": "anon-1",
    },
    "provisioning.services.job_retry": lambda w: {"job": w["job"]},
    "provisioning.services.job_skip": lambda w: {"job": w["job"]},
    "provisioning.services.job_cancel": lambda w: {"job": w["job"]},
    "provisioning.services.box_account_open": lambda w: {
        "customer": w["tree"]["C12"],
        "plan_code": "business",
        "seats": 3,
        "admin_email": "admin@c12.test",
        "admin_name": "C12",
    },
    "provisioning.services.box_account_link": lambda w: {
        "customer": w["tree"]["C12"],
        "box_enterprise_id": "99000001",
        "plan_code": "business",
        "seats": 3,
        "admin_login": "admin@c12.test",
        "admin_name": "C12",
    },
    "provisioning.services.box_account_change_plan": lambda w: {
        "account": w["account"],
        "plan_code": "business_plus",
        "seats": 6,
    },
    "provisioning.services.box_account_change_seats": lambda w: {
        "account": w["account"],
        "seats": 9,
    },
    "provisioning.services.box_account_cancel": lambda w: {"account": w["account"]},
    "provisioning.services.box_account_suspend": lambda w: {"account": w["account"]},
    "provisioning.services.box_account_resume": lambda w: {"account": w["account"]},
    "provisioning.services.box_user_create": lambda w: {
        "account": w["account"],
        "login": "eve@c11.test",
        "name": "Eve",
        "external_app_user_id": "anon-eve",
    },
    "provisioning.services.box_user_update": lambda w: {
        "account": w["account"],
        "box_user": w["box_user"],
        "name": "Ann L",
    },
    "provisioning.services.box_user_suspend": lambda w: {
        "account": w["account"],
        "box_user": w["box_user"],
    },
    "provisioning.services.box_user_resume": lambda w: {
        "account": w["account"],
        "box_user": w["box_user"],
    },
    "provisioning.services.box_user_delete": lambda w: {
        "account": w["account"],
        "box_user": w["box_user"],
    },
    "provisioning.services.account_reconcile_request": lambda w: {"account": w["account"]},
    "provisioning.drift.drift_ignore": lambda w: {"item": w["drift"]},
    "provisioning.drift.drift_remove": lambda w: {"item": w["drift"]},
    "provisioning.drift.drift_fix": lambda w: {"item": w["drift"]},
    "provisioning.drift.drift_settle": lambda w: {"item": w["drift"], "action": "ignore"},
    "provisioning.drift.drift_adopt": lambda w: {
        "item": w["drift"],
        "external_app_user_id": "seat-x",
    },
    "orders.services.seat_adopt": lambda w: {"item": w["drift"]},
    "billing.services.prices.price_move_preview": lambda w: {"price": w["sub"].price},
    "billing.services.prices.price_move_schedule": lambda w: {"price": w["sub"].price},
    "billing.services.prices.price_move_withdraw": lambda w: {"move": w["price_move"]},
    "billing.services.prices.price_change_effect": lambda w: {
        "seller": w["tree"]["R1"],
        "plan": w["sub"].plan,
        "currency": "USD",
        "term": "monthly",
        "recurring": "17.00",
    },
    "orders.services.subscription_roll": lambda w: {
        "subscription": w["sub"],
        "terms": next_terms(w["sub"]),
    },
    "billing.services.invoices.number_series_update": lambda w: {
        "seller": w["tree"]["R1"],
        "kind": "invoice",
        "prefix": "R1-",
        "padding": 6,
    },
    "billing.services.invoices.invoice_issue": lambda w: {"invoice": w["draft_invoice"]},
    "billing.services.invoices.invoices_issue": lambda w: {"invoice_ids": [w["draft_invoice"].pk]},
    "billing.services.invoices.invoice_mark_paid": lambda w: {"invoice": w["invoice"]},
    "billing.services.invoices.invoice_void": lambda w: {"invoice": w["invoice"], "reason": "x"},
    "billing.services.invoices.invoice_mark_uncollectible": lambda w: {"invoice": w["invoice"]},
    "billing.services.invoices.order_invoice_create": lambda w: {
        "order": w["draft"],
        "subscription": w["sub"],
        "quote": w["quote"],
    },
    "billing.services.credit_notes.credit_note_create": lambda w: {
        "invoice": w["invoice"],
        "reason": "x",
    },
    "billing.services.documents.invoice_render": lambda w: {"invoice": w["invoice"]},
    "billing.services.documents.invoice_email": lambda w: {"invoice": w["invoice"]},
    "billing.services.documents.credit_note_render": lambda w: {
        "note": CreditNote(invoice=w["invoice"], buyer=w["invoice"].buyer)
    },
    "billing.services.documents.credit_note_email": lambda w: {
        "note": CreditNote(invoice=w["invoice"], buyer=w["invoice"].buyer)
    },
    "billing.services.credit_notes.credit_note_preview": lambda w: {
        "invoice": w["invoice"],
        "reason": "x",
    },
    "billing.services.run.bill_boundary": lambda w: {"sub": w["sub"]},
    "billing.services.run.bill_batch": lambda w: {"ids": [w["sub"].pk], "day": date(2027, 6, 1)},
    "billing.services.run.subscription_bill_due": lambda w: {
        "subscription": w["sub"],
        "day": date(2027, 6, 1),
    },
    "billing.services.run.invoices_issue_due": lambda w: {"day": date(2027, 6, 1)},
    "billing.services.run.billing_run": lambda w: {"day": date(2027, 6, 1)},
    "billing.services.run.billing_issue_resolve": lambda w: {"issue": w["issue"]},
    "orders.services.order_payment_received": lambda w: {"order": w["draft"]},
    "orders.services.order_payment_expired": lambda w: {"order": w["draft"], "hours": 72},
    "payments.services.accounts.stripe_account_save": lambda w: {
        "seller": w["tree"]["R1"],
        "publishable_key": "pk_test_a",
        "secret_key": "sk_test_a",
        "webhook_secret": "whsec_a",
    },
    "payments.services.accounts.payment_policy_update": lambda w: {
        "seller": w["tree"]["R1"],
        "retry_days": "1,3",
    },
    "payments.services.accounts.invoice_terms_set": lambda w: {
        "buyer": w["tree"]["C11"],
        "days": 30,
    },
    "payments.services.cards.card_setup_start": lambda w: {"buyer": w["tree"]["C11"]},
    "payments.services.cards.card_save": lambda w: {
        "buyer": w["tree"]["C11"],
        "setup_intent": "seti_x",
    },
    "payments.services.cards.card_set_default": lambda w: {"card": w["card"]},
    "payments.services.cards.card_remove": lambda w: {"card": w["card"]},
    "payments.services.cards.autopay_set": lambda w: {"buyer": w["tree"]["C11"], "enabled": True},
    "payments.services.collect.payment_open": lambda w: {"invoice": w["invoice"]},
    "payments.services.collect.payment_charge": lambda w: {"payment": w["payment"]},
    "payments.services.collect.payment_record_offline": lambda w: {
        "invoice": w["invoice"],
        "amount": "2.00",
        "source": "transfer",
    },
    "payments.services.refunds.credit_note_settle": lambda w: {
        "note": w["note"],
        "method": "balance",
    },
    "payments.services.refunds.refund_execute": lambda w: {"refund": w["refund"]},
    "billing.services.usage.usage_ingest": lambda w: {
        "day": date(2027, 1, 1),
        "observations": {w["account"].pk: []},
    },
    "billing.services.usage.usage_reaggregate": lambda w: {
        "start": date(2027, 1, 1),
        "end": date(2027, 1, 1),
    },
    "billing.services.usage.usage_collections_plan": lambda w: {"day": date(2027, 1, 1)},
    "billing.services.usage.usage_collections_due": lambda w: {},
    "billing.services.usage.usage_collection_collect": lambda w: {"collection": w["collection"]},
    "billing.services.usage.usage_collection_retry": lambda w: {"collection": w["collection"]},
    "billing.services.usage.usage_collection_request": lambda w: {
        "account": w["account"],
        "day": date(2027, 1, 1),
    },
    "consoles.services.staff_alert_job_failed": lambda w: {"job": w["job"]},
    "consoles.services.staff_alert_order_waiting": lambda w: {"order": w["draft"]},
    "consoles.services.alert_setting_update": lambda w: {"email_alerts": False},
}


def draft_order_quote(tree, catalog):
    from catalog.quotes import quote_as_dict, quote_build

    return quote_as_dict(
        quote_build(
            seller=tree["R1"],
            customer=tree["C12"],
            offer=catalog["R1.business"],
            quantity=3,
            term="monthly",
            start_date=date(2027, 1, 1),
        )
    )


def test_every_service_is_in_the_table():
    missing = sorted(set(service_functions()) - set(CASES))
    assert missing == [], f"services without a no-actor case: {missing}"


def database_rows() -> dict[str, int]:
    """Row counts of every table of the project's apps: nothing written means equal counts."""
    from django.apps import apps

    counts = {}
    for model in apps.get_models():
        if model._meta.app_label in (
            "portal",
            "catalog",
            "orders",
            "provisioning",
            "billing",
            "payments",
            "consoles",
        ):
            counts[model._meta.db_table] = model._default_manager.count()
    return counts


def test_every_service_without_an_actor_refuses_and_writes_nothing(world):
    # One world, each call in a savepoint rolled back after it, so a service that wrongly
    # wrote something cannot hide another's failure; every failure is reported at the end.
    functions = service_functions()
    before = database_rows()
    failures = []
    for name in sorted(CASES):
        for nobody in (None, AnonymousUser()):
            with transaction.atomic():
                try:
                    functions[name](actor=nobody, **CASES[name](world))
                except NoActor:
                    if database_rows() != before:
                        failures.append(f"{name}({nobody!r}) wrote before refusing")
                except Exception as exc:
                    failures.append(f"{name}({nobody!r}) raised {exc!r}, not NoActor")
                else:
                    failures.append(f"{name}({nobody!r}) did not refuse")
                transaction.set_rollback(True)
    assert failures == []
    assert database_rows() == before


def test_the_access_rules_refuse_no_actor_and_trust_only_the_system(tree):
    with pytest.raises(NoActor):
        access.can(None, "org.view", tree["C11"])
    with pytest.raises(NoActor):
        access.require(AnonymousUser(), "org.view", tree["C11"])
    assert access.can(system("tests"), "catalog.plans", tree["P"])
    assert not access.can(tree["C21.admin"], "org.view", tree["C11"])


def test_background_work_is_audited_as_the_system(tree, catalog, fake):
    sub = subscribe(tree, catalog, fake, customer="C11", offer="R1.business", quantity=5)
    before = AuditEvent.objects.count()
    orders_services.subscription_renew(
        actor=system("renewal"), subscription=sub, today=date(2027, 2, 1)
    )
    renewed = AuditEvent.objects.filter(action="subscription.renewed").get()
    assert (renewed.actor, renewed.system_process, renewed.actor_label) == (
        None,
        "renewal",
        "System (renewal)",
    )
    assert AuditEvent.objects.count() > before
    # the provisioning hooks that completed the order acted as the system too
    hook_rows = AuditEvent.objects.filter(system_process="provisioning")
    assert hook_rows.filter(action="order.completed").count() == 1
    assert not AuditEvent.objects.filter(actor__isnull=True, system_process="").exists()


def test_a_system_actor_cannot_come_from_outside():
    assert not SystemActor("x").is_authenticated
    with pytest.raises(ValueError):
        SystemActor("")
