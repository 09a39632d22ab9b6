"""The operators' console shows what each rating run charged, read-only."""

import pytest
from django.test import Client

from billing import services
from tests.billing.helpers import at, fund, priced_cpu_flavor, public_pool, ran
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_rating_runs_are_listed_and_cannot_be_changed(workspace):
    flavor = priced_cpu_flavor(hourly="2.00")
    fund(workspace.account, "100.00")
    ran(workspace, public_pool(flavor), flavor, start="2023-04-01T10:00:00", end="2023-04-01T12:00:00")
    services.meter_usage(now=at("2023-04-02T00:00:00"))
    services.rate_usage(now=at("2023-04-02T00:00:00"))
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    listing = client.get("/admin/billing/ratedusage/")
    assert listing.status_code == 200
    assert workspace.account.name in listing.content.decode()
    assert client.get("/admin/billing/ratedusage/add/").status_code == 403
