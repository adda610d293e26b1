"""The isolation matrix for the provisioning pages and API: a user of one part of the tree,
asking for another part's Box account or job, gets 404 and changes nothing."""

import pytest
from rest_framework.test import APIClient

from portal.actors import system
from portal.models import AuditEvent
from provisioning import engine, services
from provisioning.connector.base import PermanentError
from provisioning.models import BoxAccount, BoxUser, DriftItem, JobState, ProvisioningJob
from tests.provisioning.fakes import FakeConnector

SYSTEM = system("tests")

pytestmark = pytest.mark.django_db

# (who asks, whose account): two resellers, their customers, a sub-reseller, an agent.
PAIRS = [
    ("R2.admin", "C11"),
    ("R2.sales", "C12"),
    ("R2.billing", "S1C1"),
    ("R1.admin", "C21"),
    ("R1.sales", "PC1"),
    ("S1.admin", "C11"),
    ("S1.admin", "C21"),
    ("C21.admin", "C11"),
    ("C11.admin", "C11"),
    ("S1C1.admin", "C12"),
    ("P.agent", "PC2"),
    ("P.agent", "C11"),
]


def snapshot():
    return (
        list(BoxAccount.objects.order_by("pk").values_list("pk", "status", "plan_code", "seats")),
        list(ProvisioningJob.objects.order_by("pk").values_list("pk", "state", "attempts")),
        list(BoxUser.objects.order_by("pk").values_list("pk", "status")),
        DriftItem.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def victim(tree, settings):
    settings.BOX_JOB_BACKOFF_BASE_SECONDS = 0.01

    def build(key):
        fake = FakeConnector()
        account = services.box_account_link(
            customer=tree[key],
            box_enterprise_id=str(63000000 + tree[key].pk),
            plan_code="business",
            seats=10,
            admin_login=f"admin@{key.lower()}.example.com",
            admin_name="Admin",
            admin_password="Admin-password-1",
            actor=SYSTEM,
        )
        services.box_user_create(
            actor=SYSTEM,
            account=account,
            login=f"x@{key.lower()}.example.com",
            name="X",
            external_app_user_id="x",
        )
        fake.fail("user.create", PermanentError("refused"))
        engine.run_until_idle([account.pk], connector=fake, timeout=10)
        return account, account.jobs.get(state=JobState.FAILED)

    return build


def page_requests(tree, actor_key, account, job):
    actor_org = tree[actor_key.split(".")[0]]
    victim_seller = account.customer.parent
    reqs = []
    if victim_seller.pk != actor_org.pk:  # another organization's console
        seller = f"/console/{victim_seller.pk}/provisioning"
        reqs += [
            ("get", f"{seller}/", None),
            ("get", f"{seller}/jobs/", None),
            ("get", f"{seller}/jobs/{job.pk}/", None),
            ("post", f"{seller}/jobs/{job.pk}/", {"action": "retry"}),
            ("get", f"{seller}/accounts/{account.pk}/", None),
        ]
    base = f"/console/{actor_org.pk}/provisioning"
    reqs += [
        ("get", f"{base}/jobs/{job.pk}/", None),
        ("post", f"{base}/jobs/{job.pk}/", {"action": "retry"}),
        ("post", f"{base}/jobs/{job.pk}/", {"action": "skip"}),
        ("post", f"{base}/jobs/{job.pk}/", {"action": "cancel"}),
        ("get", f"{base}/accounts/{account.pk}/", None),
        ("post", f"{base}/accounts/{account.pk}/", {"action": "reconcile"}),
    ]
    return reqs


def api_requests(account, job):
    return [
        ("get", f"/api/v1/provisioning/jobs/{job.pk}/"),
        ("post", f"/api/v1/provisioning/jobs/{job.pk}/retry/"),
        ("post", f"/api/v1/provisioning/jobs/{job.pk}/skip/"),
        ("post", f"/api/v1/provisioning/jobs/{job.pk}/cancel/"),
        ("get", f"/api/v1/provisioning/accounts/{account.pk}/"),
        ("get", f"/api/v1/provisioning/accounts/{account.pk}/users/"),
        ("get", f"/api/v1/provisioning/accounts/{account.pk}/drift/"),
        ("post", f"/api/v1/provisioning/accounts/{account.pk}/reconcile/"),
    ]


@pytest.mark.parametrize(("actor_key", "victim_key"), PAIRS)
def test_pages_answer_404_and_change_nothing(tree, victim, client, actor_key, victim_key):
    # given
    account, job = victim(victim_key)
    client.force_login(tree[actor_key])
    before = snapshot()
    # when / then
    for method, url, data in page_requests(tree, actor_key, account, job):
        response = getattr(client, method)(url, data or {})
        assert response.status_code == 404, (method, url, response.status_code)
    actor_org = tree[actor_key.split(".")[0]]
    if actor_org.is_seller:
        queue = client.get(f"/console/{actor_org.pk}/provisioning/jobs/").content.decode()
        assert f'data-job="{job.pk}"' not in queue
        accounts = client.get(f"/console/{actor_org.pk}/provisioning/accounts/").content.decode()
        assert f"/provisioning/accounts/{account.pk}/" not in accounts
    assert snapshot() == before


@pytest.mark.parametrize(("actor_key", "victim_key"), PAIRS)
def test_api_answers_404_and_changes_nothing(tree, victim, actor_key, victim_key):
    # given
    account, job = victim(victim_key)
    api = APIClient()
    api.force_authenticate(tree[actor_key])
    before = snapshot()
    # when / then
    for method, url in api_requests(account, job):
        response = getattr(api, method)(url)
        assert response.status_code == 404, (method, url, response.status_code)
    listed = api.get("/api/v1/provisioning/jobs/", {"page_size": 500}).json()["results"]
    assert job.pk not in {j["id"] for j in listed}
    accounts = api.get("/api/v1/provisioning/accounts/").json()["results"]
    assert account.pk not in {a["id"] for a in accounts}
    assert snapshot() == before


def test_the_matrix_is_not_empty_for_the_rightful_staff(tree, victim):
    """The same requests by staff above the customer do reach the objects."""
    _, job = victim("S1C1")
    for who, code in (("P.admin", 200), ("R1.admin", 200), ("S1.admin", 200)):
        api = APIClient()
        api.force_authenticate(tree[who])
        assert api.get(f"/api/v1/provisioning/jobs/{job.pk}/").status_code == code
    agent = APIClient()
    agent.force_authenticate(tree["P.agent"])
    _, job_pc1 = victim("PC1")
    assert agent.get(f"/api/v1/provisioning/jobs/{job_pc1.pk}/").status_code == 200
    assert agent.post(f"/api/v1/provisioning/jobs/{job_pc1.pk}/cancel/").status_code == 200
