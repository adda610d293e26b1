import pytest

from provisioning import engine, services
from provisioning.models import BoxUser, JobState, ProvisioningJob
from tests.provisioning.conftest import link_account, new_enterprise

pytestmark = pytest.mark.django_db


def test_smoke(tree, platform_sim, sim_settings):
    ent = new_enterprise(platform_sim, seats=10)
    account = link_account(tree["C11"], ent)
    for i in range(5):
        services.box_user_create(
            account=account,
            login=f"u{i}-{ent['enterprise_id']}@x.example.com",
            name=f"U {i}",
            external_app_user_id=f"seat-{i}",
        )
    n = engine.run_until_idle([account.pk], timeout=30)
    assert n == 6
    assert set(ProvisioningJob.objects.values_list("state", flat=True)) == {JobState.SUCCEEDED}
    assert BoxUser.objects.filter(account=account, box_user_id__isnull=False).count() == 6
