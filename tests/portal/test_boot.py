import pytest

from portal.models import Organization


@pytest.mark.django_db
def test_database_starts_empty():
    assert Organization.objects.count() == 0
