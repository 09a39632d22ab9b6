"""Billing is read only by whom it concerns. Account admins (and operators) read all of their
account's billing; other members read what their workspaces used (usage records, bill lines,
bills totalled over those lines, cost tags) and get 403 naming the admin role for the account's
money (balance, ledger, subscriptions, packages, billing notifications); a member of no
workspace reads no usage; another account sees nothing of it (404 for its objects)."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aiplatform.models import Role
from billing import services
from billing.models import UsageRecord
from tests.billing.helpers import at, fund, priced_cpu_flavor, public_pool, ran
from tests.conftest import client_for
from tests.factories import AccountMemberFactory, UserFactory, WorkspaceFactory, member_of

pytestmark = pytest.mark.django_db

MONEY_ENDPOINTS = ["accounts", "ledger", "subscriptions", "packages", "notifications"]


@pytest.fixture
def world(workspace):
    """Account A with workspaces ws1 and ws2 that ran work in April and May 2023, a dedicated
    pool, a package and a notification; account B with its own; a caller of every kind."""
    flavor = priced_cpu_flavor(hourly="2.00")
    pool = public_pool(flavor)
    ws1, ws2 = workspace, WorkspaceFactory(account=workspace.account)
    mine = ran(ws1, pool, flavor, start="2023-04-03T00:00:00", end="2023-04-03T01:00:00", name="ws1-job")
    secret = ran(ws2, pool, flavor, start="2023-04-03T00:00:00", end="2023-04-03T03:00:00", name="ws2-secret")
    services.set_cost_tag(workspace=ws1, workload_id=mine.pk, key="team", value="nlp")
    services.set_cost_tag(workspace=ws2, workload_id=secret.pk, key="team", value="secret")
    services.meter_usage(now=at("2023-04-04T00:00:00"))
    april = services.generate_bill(account=ws1.account, period=date(2023, 4, 1), now=at("2023-04-04T00:00:00"))
    ran(ws2, pool, flavor, start="2023-05-03T00:00:00", end="2023-05-03T01:00:00", name="ws2-may")
    ran(ws1, pool, flavor, start="2023-05-03T00:00:00", end="2023-05-03T02:00:00", name="ws1-may")
    services.meter_usage(now=at("2023-05-04T00:00:00"))
    may = services.generate_bill(account=ws1.account, period=date(2023, 5, 1), now=at("2023-05-04T00:00:00"))
    theirs = WorkspaceFactory()
    for index, account in enumerate((ws1.account, theirs.account)):
        fund(account, "10000.00")
        services.buy_subscription(account=account, pool_name=f"ded-{index}", flavor=flavor, nodes=1,
                                  period="monthly", periods=1)
        offer = services.save_package_offer(name=f"cpu-{account.pk}", family="cpu", node_hours=1,
                                            price=Decimal("1.00"))
        services.buy_package(account=account, offer=offer)
        services.notify(account_id=account.pk, kind="test", subject=f"for {account.name}", message="",
                        key=f"test:{account.pk}")
    admin = AccountMemberFactory(account=ws1.account, is_admin=True).user
    return {
        "ws1": ws1, "ws2": ws2, "theirs": theirs, "april": april, "may": may,
        "admin": client_for(admin),
        "ws1_member": client_for(member_of(ws1, Role.VIEWER)),
        "no_workspace": client_for(AccountMemberFactory(account=ws1.account).user),
        "other": client_for(AccountMemberFactory(account=theirs.account, is_admin=True).user),
        "operator": client_for(UserFactory(is_staff=True)),
    }


def results(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.json()
    return response.json()["results"]


@pytest.mark.parametrize("endpoint", MONEY_ENDPOINTS)
def test_the_accounts_money_is_read_by_its_admins_and_operators_only(world, endpoint):
    url = f"/api/v1/billing/{endpoint}/"
    account_a = str(world["ws1"].account_id)
    admin_rows = results(world["admin"], url)
    assert admin_rows
    if endpoint != "notifications":  # notifications name no account
        assert {row["account"] for row in admin_rows} == {account_a}
        assert account_a in {row["account"] for row in results(world["operator"], url)}
        assert account_a not in {row["account"] for row in results(world["other"], url)}
    for caller in ("ws1_member", "no_workspace"):
        refused = world[caller].get(url)
        assert refused.status_code == 403, caller
        assert "Only your account's admins read the account's balance" in refused.json()["errors"][0]["detail"]
    other_ids = {row["id"] if "id" in row else row["account"] for row in results(world["other"], url)}
    admin_ids = {row["id"] if "id" in row else row["account"] for row in admin_rows}
    assert not other_ids & admin_ids


@pytest.mark.parametrize("endpoint", ["accounts", "subscriptions", "packages", "notifications"])
def test_an_accounts_money_objects_are_404_to_other_accounts_and_403_to_its_members(world, endpoint):
    url = f"/api/v1/billing/{endpoint}/"
    row = results(world["admin"], url)[0]
    detail = f"{url}{row['id'] if 'id' in row else row['account']}/"
    assert world["admin"].get(detail).status_code == 200
    assert world["operator"].get(detail).status_code == 200
    assert world["other"].get(detail).status_code == 404
    assert world["ws1_member"].get(detail).status_code == 403
    assert world["no_workspace"].get(detail).status_code == 403


def test_members_cannot_buy_or_mark_the_accounts_notifications_read(world):
    notification = results(world["admin"], "/api/v1/billing/notifications/")[0]
    member = world["ws1_member"]
    assert member.post(f"/api/v1/billing/notifications/{notification['id']}/read/").status_code == 403
    offer = services.save_package_offer(name="cpu-more", family="cpu", node_hours=1, price=Decimal("1.00"))
    assert member.post("/api/v1/billing/packages/", {"offer": str(offer.pk)}, format="json").status_code == 403
    assert member.post("/api/v1/billing/bills/", {"period": "2023-04-01"}, format="json").status_code == 403


def test_usage_records_are_those_of_the_callers_workspaces(world):
    url = "/api/v1/billing/usage-records/"
    names = {caller: sorted({r["workload_name"] for r in results(world[caller], f"{url}?page_size=100")})
             for caller in ("admin", "ws1_member", "no_workspace", "other", "operator")}
    assert names["admin"] == names["operator"] == ["ws1-job", "ws1-may", "ws2-may", "ws2-secret"]
    assert names["ws1_member"] == ["ws1-job", "ws1-may"]
    assert names["no_workspace"] == names["other"] == []
    secret = UsageRecord.objects.filter(workspace=world["ws2"]).first()
    assert world["admin"].get(f"{url}{secret.pk}/").status_code == 200
    for caller in ("ws1_member", "no_workspace", "other"):
        assert world[caller].get(f"{url}{secret.pk}/").status_code == 404, caller
    assert results(world["ws1_member"], f"{url}?workspace={world['ws2'].pk}") == []


def test_bills_show_a_member_the_lines_and_total_of_their_workspaces(world):
    april = world["april"]
    bill_url = f"/api/v1/billing/bills/{april.pk}/"
    whole = world["admin"].get(bill_url).json()
    assert (whole["scope"], whole["total"]) == ("account", "8.00")
    share = world["ws1_member"].get(bill_url).json()
    assert (share["scope"], share["total"]) == ("workspaces", "2.00")
    assert [(b["period"], b["total"]) for b in results(world["ws1_member"], "/api/v1/billing/bills/")] == [
        ("2023-05-01", "4.00"), ("2023-04-01", "2.00")]
    lines = results(world["ws1_member"], f"{bill_url}lines/")
    assert [(line["resource_name"], line["amount"], line["tags"]) for line in lines] == [
        ("ws1-job", "2.00", {"team": "nlp"})]
    assert results(world["ws1_member"], f"{bill_url}lines/?tag=team:secret") == []
    assert sorted(line["resource_name"] for line in results(world["admin"], f"{bill_url}lines/")) == [
        "ws1-job", "ws2-secret"]
    rows = world["ws1_member"].get(f"{bill_url}csv/").content.decode().splitlines()
    assert len(rows) == 2 and "ws1-job" in rows[1]
    assert "ws2-secret" not in world["ws1_member"].get(f"{bill_url}csv/?workspace={world['ws2'].pk}").content.decode()


def test_a_member_of_no_workspace_and_another_account_read_no_bill(world):
    bill_url = f"/api/v1/billing/bills/{world['april'].pk}/"
    for caller in ("no_workspace", "other"):
        assert world[caller].get("/api/v1/billing/bills/").json()["count"] == 0, caller
        for suffix in ("", "lines/", "csv/"):
            assert world[caller].get(f"{bill_url}{suffix}").status_code == 404, (caller, suffix)
    assert world["operator"].get(bill_url).json()["total"] == "8.00"


def test_cost_tags_are_read_in_the_callers_workspaces_only(world):
    def tags(caller, workspace):
        response = world[caller].get(f"/api/v1/workspaces/{world[workspace].pk}/cost-tags/")
        return response.json()["results"] if response.status_code == 200 else response.status_code

    assert [t["value"] for t in tags("admin", "ws2")] == ["secret"]
    assert [t["value"] for t in tags("ws1_member", "ws1")] == ["nlp"]
    assert tags("ws1_member", "ws2") == 404
    assert tags("no_workspace", "ws1") == tags("no_workspace", "ws2") == 404
    assert tags("other", "ws1") == 404


@pytest.mark.parametrize("url", ["/api/v1/billing/usage-records/", "/api/v1/billing/bills/"])
def test_a_members_filtered_lists_do_not_grow_queries_with_page_size(world, url):
    client = world["ws1_member"]
    client.get(url)

    def queries(size):
        with CaptureQueriesContext(connection) as ctx:
            assert len(client.get(f"{url}?page_size={size}").json()["results"]) == size
        return len(ctx.captured_queries)

    assert queries(1) == queries(2)
