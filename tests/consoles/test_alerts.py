"""Staff alert e-mails: one per person and event (even when the event is seen twice), only to
the staff concerned, never to someone who turned them off; and the customer hears that the
team was told only when someone was."""

import pytest
from django.core import mail

from consoles import services as console_services
from consoles.models import AlertKind, AlertSetting, StaffAlert
from orders import services
from orders.models import OrderState
from portal.models import AuditEvent
from provisioning.connector.base import PermanentError
from provisioning.models import JobState
from tests.factories import SYSTEM
from tests.orders.conftest import run_jobs

pytestmark = pytest.mark.django_db


def _approval_order(tree, catalog, capture):
    services.seller_policy_update(
        actor=tree["R1.admin"], seller=tree["R1"], approve_orders=True, approve_new_customers=False
    )
    with capture(execute=True):
        order = services.order_create(
            actor=tree["C11.admin"],
            customer=tree["C11"],
            offer=catalog["R1.business"],
            quantity=3,
            term="monthly",
            submit=True,
        )
    return order


def _failed_signup(tree, catalog, fake, capture, customer="C11", offer="R1.business"):
    fake.fail("account.signup", PermanentError("Box refused the sign-up page"))
    with capture(execute=True):
        order = services.order_create(
            actor=tree[f"{customer}.admin"],
            customer=tree[customer],
            offer=catalog[offer],
            quantity=3,
            term="monthly",
            submit=True,
        )
        run_jobs(fake)
    order.refresh_from_db()
    return order, order.subscription.box_account.jobs.get(operation="account.signup")


def _recipients(subject_part: str) -> list[str]:
    return sorted(addr for m in mail.outbox if subject_part in m.subject for addr in m.to)


def test_an_order_waiting_for_approval_mails_the_sellers_admins_and_sales_once(
    tree, catalog, fake, django_capture_on_commit_callbacks
):
    order = _approval_order(tree, catalog, django_capture_on_commit_callbacks)
    assert order.state == OrderState.AWAITING_APPROVAL
    assert _recipients("waits for your approval") == [
        "r1.admin@example.test",
        "r1.sales@example.test",
    ]
    message = next(m for m in mail.outbox if m.to == ["r1.admin@example.test"])
    assert order.number in message.subject
    assert f"/console/{tree['R1'].pk}/orders/{order.pk}/" in message.body
    assert "/me/" in message.body
    # The order is saved again in the same state (a note, a retried request): no second e-mail.
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        order.note = "Checked by phone"
        order.save()
        console_services.staff_alert_order_waiting(actor=SYSTEM, order=order)
    assert mail.outbox == []
    assert (
        StaffAlert.objects.filter(kind=AlertKind.ORDER_APPROVAL, subject_id=order.pk).count() == 2
    )


def test_staff_who_turned_alerts_off_get_none(
    tree, catalog, fake, client, django_capture_on_commit_callbacks
):
    client.force_login(tree["R1.sales"])
    response = client.post("/me/alerts/", {"email_alerts": "off"})
    assert response.status_code == 302 and response["Location"] == "/me/"
    assert AlertSetting.objects.get(user=tree["R1.sales"]).email_alerts is False
    assert AuditEvent.objects.filter(action="alerts.email_changed").count() == 1
    page = client.get("/me/").content.decode()
    assert 'data-testid="alerts-off"' in page
    _approval_order(tree, catalog, django_capture_on_commit_callbacks)
    assert _recipients("waits for your approval") == ["r1.admin@example.test"]
    assert not StaffAlert.objects.filter(user=tree["R1.sales"]).exists()


def test_a_bad_alert_setting_changes_nothing(tree, client):
    client.force_login(tree["R1.sales"])
    response = client.post("/me/alerts/", {"email_alerts": "maybe"}, follow=True)
    assert "Choose whether to receive alert e-mails." in response.content.decode()
    assert AlertSetting.objects.count() == 0
    assert AuditEvent.objects.filter(action="alerts.email_changed").count() == 0
    client.logout()
    assert client.post("/me/alerts/", {"email_alerts": "off"}).status_code == 302
    assert AlertSetting.objects.count() == 0


def test_a_job_failing_for_good_mails_the_staff_concerned_once_and_the_customer_is_told_so(
    tree, catalog, fake, django_capture_on_commit_callbacks
):
    order, job = _failed_signup(tree, catalog, fake, django_capture_on_commit_callbacks)
    assert job.state == JobState.FAILED
    # The provider's admin (the customer has no agent) and the reseller's admin; not the
    # reseller's sales or billing people, not another reseller's staff, not the customer.
    assert _recipients("A Box job failed") == ["p.admin@example.test", "r1.admin@example.test"]
    assert order.state == OrderState.FAILED
    assert "Our team has been told" in order.failure_message
    # Seen twice: the job saved again as failed, the service called again.
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        job.save()
        assert console_services.staff_alert_job_failed(actor=SYSTEM, job=job) == 0
    assert mail.outbox == []
    assert StaffAlert.objects.filter(kind=AlertKind.JOB_FAILED, subject_id=job.pk).count() == 2


def test_an_agent_assigned_to_the_customer_is_told_too(
    tree, catalog, fake, django_capture_on_commit_callbacks
):
    _failed_signup(tree, catalog, fake, django_capture_on_commit_callbacks, "PC1", "P.business")
    assert _recipients("A Box job failed") == ["p.admin@example.test", "p.agent@example.test"]


def test_when_nobody_is_told_the_customer_is_not_told_that_anyone_was(
    tree, catalog, fake, django_capture_on_commit_callbacks
):
    for key in ("P.admin", "R1.admin"):
        console_services.alert_setting_update(actor=tree[key], email_alerts=False)
    order, _job = _failed_signup(tree, catalog, fake, django_capture_on_commit_callbacks)
    assert _recipients("A Box job failed") == []
    assert StaffAlert.objects.count() == 0
    assert "been told" not in order.failure_message
    assert "on our team's list" in order.failure_message


def test_services_refuse_without_an_actor(tree):
    from portal.actors import NoActor
    from portal.errors import PermissionDenied

    with pytest.raises(NoActor):
        console_services.alert_setting_update(actor=None, email_alerts=False)
    with pytest.raises(PermissionDenied):  # a choice only a person makes for themselves
        console_services.alert_setting_update(actor=SYSTEM, email_alerts=False)
    assert AlertSetting.objects.count() == 0
