"""The billing API: catalog and estimates, purchases by account admins, top-ups by operators,
tenant scoping (404), bad input (4xx, nothing charged), bills and CSV, list query counts."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aiplatform.models import AccountMember, Role
from billing import services
from billing.models import BillingAccount, LedgerEntry, UsageRecord
from resourcepools.models import ResourcePool
from tests.billing.helpers import at, fund, priced_cpu_flavor, public_pool, ran
from tests.conftest import client_for
from tests.factories import FlavorFactory, UserFactory, WorkspaceFactory, member_of

pytestmark = pytest.mark.django_db


def admin_of(workspace):
    user = member_of(workspace, Role.OWNER)
    AccountMember.objects.filter(user=user).update(is_admin=True)
    return user


@pytest.fixture
def operator_client():
    return client_for(UserFactory(is_staff=True))


def test_prices_are_read_by_everyone_and_published_by_operators(developer_client, operator_client):
    flavor = priced_cpu_flavor()
    body = {"flavor": flavor.name, "pay_per_use_hourly": "3.10", "monthly": "1800.00", "yearly": "18000.00"}
    assert developer_client.post("/api/v1/prices/", body, format="json").status_code == 403
    created = operator_client.post("/api/v1/prices/", body, format="json")
    assert created.status_code == 201, created.json()
    listed = developer_client.get("/api/v1/prices/?flavor__name=cpu.8u32g").json()
    assert [p["monthly"] for p in listed["results"]] == ["1800.00", "1750.00"]
    past = operator_client.post("/api/v1/prices/", {**body, "effective_from": "2020-01-01T00:00:00Z"}, format="json")
    assert past.status_code == 400 and past.json()["errors"][0]["attr"] == "effective_from"
    future = operator_client.post("/api/v1/prices/", {**body, "effective_from": "2999-01-01T00:00:00Z"}, format="json")
    assert operator_client.delete(f"/api/v1/prices/{future.json()['id']}/").status_code == 204
    in_force = operator_client.delete(f"/api/v1/prices/{created.json()['id']}/")
    assert in_force.status_code == 409 and in_force.json()["errors"][0]["code"] == "price_in_force"


def test_estimate_before_creating_work(developer_client):
    priced_cpu_flavor(hourly="2.50", monthly="1750.00")
    monthly = developer_client.get("/api/v1/prices/estimate/?flavor=cpu.8u32g&nodes=1&mode=monthly&periods=2")
    assert monthly.status_code == 200
    assert (monthly.json()["amount"], monthly.json()["per"]) == ("3500.00", "term")
    hourly = developer_client.get("/api/v1/prices/estimate/?flavor=cpu.8u32g&nodes=4").json()
    assert (hourly["amount"], hourly["per"], hourly["unit_price"]) == ("10.00", "hour", "2.5000")
    FlavorFactory()
    for query, attr in (("flavor=npu.910b.8", "flavor"), ("flavor=nope", "flavor"),
                        ("flavor=cpu.8u32g&nodes=0", "nodes"), ("flavor=cpu.8u32g&mode=monthly&periods=-1", "periods")):
        response = developer_client.get(f"/api/v1/prices/estimate/?{query}")
        assert response.status_code == 400, query
        assert response.json()["errors"][0]["attr"] == attr


def test_account_admin_buys_a_dedicated_pool_and_others_cannot(workspace, developer_client, operator_client):
    flavor = priced_cpu_flavor(monthly="1750.00")
    admin = client_for(admin_of(workspace))
    body = {"pool_name": "team-pool", "flavor": flavor.name, "nodes": 1, "period": "monthly", "periods": 2}
    short = admin.post("/api/v1/billing/subscriptions/", body, format="json")
    assert short.status_code == 400 and short.json()["errors"][0]["attr"] == "balance"
    top_up = operator_client.post("/api/v1/billing/top-ups/", {"account": str(workspace.account_id),
                                                                "amount": "4000.00"}, format="json")
    assert top_up.status_code == 201, top_up.json()
    assert developer_client.post("/api/v1/billing/top-ups/", {"account": str(workspace.account_id),
                                                               "amount": "1.00"}, format="json").status_code == 403
    assert developer_client.post("/api/v1/billing/subscriptions/", body, format="json").status_code == 403
    for bad, attr in (({"nodes": 0}, "nodes"), ({"periods": 0}, "periods"), ({"period": "weekly"}, "period")):
        response = admin.post("/api/v1/billing/subscriptions/", {**body, **bad}, format="json")
        assert response.status_code == 400 and response.json()["errors"][0]["attr"] == attr
    assert not ResourcePool.objects.exists()
    bought = admin.post("/api/v1/billing/subscriptions/", body, format="json")
    assert bought.status_code == 201, bought.json()
    assert (bought.json()["paid"], bought.json()["pool_status"]) == ("3500.00", "running")
    account = admin.get("/api/v1/billing/accounts/").json()["results"]
    assert [(a["balance"], a["in_arrears"]) for a in account] == [("500.00", False)]
    ledger = admin.get("/api/v1/billing/ledger/").json()["results"]
    assert [e["kind"] for e in ledger] == ["subscription", "top_up"]
    renew = admin.post(f"/api/v1/billing/subscriptions/{bought.json()['id']}/renew/", {"periods": 1}, format="json")
    assert renew.status_code == 400 and renew.json()["errors"][0]["attr"] == "balance"
    off = admin.patch(f"/api/v1/billing/subscriptions/{bought.json()['id']}/", {"auto_renew": True}, format="json")
    assert off.status_code == 200 and off.json()["auto_renew"] is True


def test_another_accounts_billing_objects_answer_404(workspace):
    flavor = priced_cpu_flavor()
    theirs = WorkspaceFactory()
    fund(theirs.account, "5000.00")
    subscription = services.buy_subscription(account=theirs.account, pool_name="theirs", flavor=flavor, nodes=1,
                                             period="monthly", periods=1)
    offer = services.save_package_offer(name="cpu-1h", family="cpu", node_hours=1, price=Decimal("1.00"))
    package = services.buy_package(account=theirs.account, offer=offer)
    bill = services.generate_bill(account=theirs.account, period=subscription.starts_at.date())
    me = client_for(admin_of(workspace))
    for url in (f"/api/v1/billing/subscriptions/{subscription.pk}/", f"/api/v1/billing/packages/{package.pk}/",
                f"/api/v1/billing/bills/{bill.pk}/", f"/api/v1/billing/bills/{bill.pk}/csv/",
                f"/api/v1/billing/bills/{bill.pk}/lines/", f"/api/v1/billing/accounts/{theirs.account_id}/"):
        assert me.get(url).status_code == 404, url
    for url in (f"/api/v1/billing/subscriptions/{subscription.pk}/unsubscribe/",
                f"/api/v1/billing/subscriptions/{subscription.pk}/renew/"):
        assert me.post(url, {"periods": 1}, format="json").status_code == 404, url
    assert me.get("/api/v1/billing/ledger/").json()["count"] == 0
    assert BillingAccount.objects.get(pk=theirs.account_id).balance == Decimal("3249.00")


def test_package_purchase_and_offer_for_unknown_family(workspace, operator_client):
    priced_cpu_flavor()
    bad = operator_client.post("/api/v1/billing/package-offers/", {"name": "gpu", "family": "gpu.h100",
                                                                    "node_hours": 100, "price": "10.00"},
                               format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["attr"] == "family"
    offer = operator_client.post("/api/v1/billing/package-offers/", {"name": "cpu-100h", "family": "cpu",
                                                                      "node_hours": 100, "price": "150.00"},
                                 format="json")
    assert offer.status_code == 201, offer.json()
    admin = client_for(admin_of(workspace))
    poor = admin.post("/api/v1/billing/packages/", {"offer": offer.json()["id"]}, format="json")
    assert poor.status_code == 400 and poor.json()["errors"][0]["attr"] == "balance"
    fund(workspace.account, "150.00")
    bought = admin.post("/api/v1/billing/packages/", {"offer": offer.json()["id"]}, format="json")
    assert bought.status_code == 201 and bought.json()["node_hours_total"] == "100.000000"
    assert LedgerEntry.objects.filter(kind="package").count() == 1


def test_bill_lines_filter_by_workspace_and_csv(workspace):
    flavor = priced_cpu_flavor(hourly="2.00")
    pool = public_pool(flavor)
    other = WorkspaceFactory(account=workspace.account)
    ran(workspace, pool, flavor, start="2023-04-03T00:00:00", end="2023-04-03T01:00:00", name="mine")
    ran(other, pool, flavor, start="2023-04-03T00:00:00", end="2023-04-03T03:00:00", name="theirs")
    services.meter_usage(now=at("2023-04-04T00:00:00"))
    services.rate_usage(now=at("2023-04-04T00:00:00"))
    admin = client_for(admin_of(workspace))
    generated = admin.post("/api/v1/billing/bills/", {"period": "2023-04-01"}, format="json")
    assert generated.status_code == 201 and generated.json()["total"] == "8.00"
    bill_id = generated.json()["id"]
    lines = admin.get(f"/api/v1/billing/bills/{bill_id}/lines/?workspace={other.pk}").json()["results"]
    assert [(line["resource_name"], line["amount"]) for line in lines] == [("theirs", "6.00")]
    exported = admin.get(f"/api/v1/billing/bills/{bill_id}/csv/?workspace={workspace.pk}")
    assert exported["Content-Type"] == "text/csv"
    rows = exported.content.decode().splitlines()
    assert rows[0].startswith("workspace_name,resource_type") and len(rows) == 2 and "mine" in rows[1]
    assert admin.get(f"/api/v1/billing/bills/{bill_id}/csv/?workspace=nope").status_code == 400


def test_usage_list_query_count_does_not_grow_with_page_size(workspace):
    flavor = priced_cpu_flavor()
    pool = public_pool(flavor)
    ran(workspace, pool, flavor, start="2023-04-03T00:00:00", end="2023-04-03T20:00:00")
    services.meter_usage(now=at("2023-04-04T00:00:00"))
    assert UsageRecord.objects.count() == 20
    client = client_for(admin_of(workspace))
    client.get("/api/v1/billing/usage-records/")  # the key's last use is recorded once, on the first call

    def queries(size):
        with CaptureQueriesContext(connection) as ctx:
            assert len(client.get(f"/api/v1/billing/usage-records/?page_size={size}").json()["results"]) == size
        return len(ctx.captured_queries)

    assert queries(2) == queries(20)


def test_cost_tags_follow_workloads_onto_bill_lines(workspace):
    flavor = priced_cpu_flavor(hourly="2.00")
    pool = public_pool(flavor)
    nlp = ran(workspace, pool, flavor, start="2023-04-03T00:00:00", end="2023-04-03T01:00:00", name="nlp-job")
    ran(workspace, pool, flavor, start="2023-04-03T00:00:00", end="2023-04-03T02:00:00", name="cv-job")
    services.meter_usage(now=at("2023-04-04T00:00:00"))
    services.rate_usage(now=at("2023-04-04T00:00:00"))
    admin = client_for(admin_of(workspace))
    url = f"/api/v1/workspaces/{workspace.pk}/cost-tags/"
    tagged = admin.post(url, {"workload": str(nlp.pk), "key": "team", "value": "nlp"}, format="json")
    assert tagged.status_code == 201, tagged.json()
    foreign = ran(WorkspaceFactory(), pool, flavor, start="2023-04-03T00:00:00", end="2023-04-03T01:00:00")
    refused = admin.post(url, {"workload": str(foreign.pk), "key": "team", "value": "x"}, format="json")
    assert refused.status_code == 400 and refused.json()["errors"][0]["attr"] == "workload"
    bill_id = admin.post("/api/v1/billing/bills/", {"period": "2023-04-01"}, format="json").json()["id"]
    lines = admin.get(f"/api/v1/billing/bills/{bill_id}/lines/?tag=team:nlp").json()["results"]
    assert [(line["resource_name"], line["amount"], line["tags"]) for line in lines] == [
        ("nlp-job", "2.00", {"team": "nlp"})]
    rows = admin.get(f"/api/v1/billing/bills/{bill_id}/csv/?tag=team:nlp").content.decode().splitlines()
    assert len(rows) == 2 and rows[1].endswith("team=nlp")
    assert admin.get(f"/api/v1/billing/bills/{bill_id}/lines/?tag=team").status_code == 400


def test_a_retried_purchase_with_the_same_idempotency_key_charges_once(workspace):
    flavor = priced_cpu_flavor(monthly="1750.00")
    fund(workspace.account, "10000.00")
    admin = client_for(admin_of(workspace))
    body = {"pool_name": "team-pool", "flavor": flavor.name, "nodes": 1, "period": "monthly", "periods": 2}
    first = admin.post("/api/v1/billing/subscriptions/", body, format="json", HTTP_IDEMPOTENCY_KEY="buy-1")
    again = admin.post("/api/v1/billing/subscriptions/", body, format="json", HTTP_IDEMPOTENCY_KEY="buy-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert BillingAccount.objects.get(pk=workspace.account_id).balance == Decimal("6500.00")
    taken = admin.post("/api/v1/billing/subscriptions/", body, format="json")
    assert taken.status_code == 400 and taken.json()["errors"][0]["attr"] == "pool_name"


def test_notifications_are_read_through_the_api_and_marked_read(workspace):
    theirs = WorkspaceFactory()
    for ws in (workspace, theirs):
        services.notify(account_id=ws.account_id, kind="package_usage", subject="Package of cpu is 80% used",
                        message="…", key=f"test:{ws.account_id}")
    client = client_for(admin_of(workspace))
    listed = client.get("/api/v1/billing/notifications/").json()["results"]
    assert [(n["subject"], n["read_at"]) for n in listed] == [("Package of cpu is 80% used", None)]
    read = client.post(f"/api/v1/billing/notifications/{listed[0]['id']}/read/")
    assert read.status_code == 200 and read.json()["read_at"] is not None
    other = theirs.account.notifications.get()
    assert client.post(f"/api/v1/billing/notifications/{other.pk}/read/").status_code == 404


def test_subscription_lifecycle_through_the_api(workspace):
    flavor = priced_cpu_flavor(monthly="1750.00")
    fund(workspace.account, "10000.00")
    admin = client_for(admin_of(workspace))
    body = {"pool_name": "team-pool", "flavor": flavor.name, "nodes": 1, "period": "monthly", "periods": 1}
    assert admin.post("/api/v1/billing/subscriptions/", {**body, "nodes": 1_000_000},
                      format="json").status_code == 400
    subscription = admin.post("/api/v1/billing/subscriptions/", body, format="json").json()
    url = f"/api/v1/billing/subscriptions/{subscription['id']}/"
    grown = admin.post(f"{url}add-nodes/", {"nodes": 1}, format="json")
    assert grown.status_code == 200 and grown.json()["nodes"] == 2
    renewed = admin.post(f"{url}renew/", {"periods": 1}, format="json")
    assert renewed.status_code == 200 and renewed.json()["periods"] == 2
    gone = admin.post(f"{url}unsubscribe/")
    assert gone.status_code == 200 and gone.json()["status"] == "unsubscribed"
    assert admin.post(f"{url}unsubscribe/").status_code == 409
    events = admin.get(f"{url}events/").json()["results"]
    assert [e["reason"] for e in events] == ["Purchased", "NodesAdded", "Renewed", "Unsubscribed"]
    packages = admin.get("/api/v1/billing/packages/")
    assert packages.status_code == 200


@pytest.mark.parametrize("url", ["/api/v1/billing/subscriptions/", "/api/v1/billing/packages/",
                                 "/api/v1/billing/ledger/", "/api/v1/billing/notifications/"])
def test_billing_lists_do_not_grow_queries_with_page_size(workspace, url):
    flavor = priced_cpu_flavor()
    fund(workspace.account, "100000.00")
    offer = services.save_package_offer(name="cpu-1h", family="cpu", node_hours=1, price=Decimal("1.00"))
    for i in range(4):
        services.buy_subscription(account=workspace.account, pool_name=f"ded-{i}", flavor=flavor, nodes=1,
                                  period="monthly", periods=1)
        services.buy_package(account=workspace.account, offer=offer)
        services.notify(account_id=workspace.account_id, kind="test", subject=f"n{i}", message="",
                        key=f"test:{i}")
    client = client_for(admin_of(workspace))
    client.get(url)

    def queries(size):
        with CaptureQueriesContext(connection) as ctx:
            assert len(client.get(f"{url}?page_size={size}").json()["results"]) == size
        return len(ctx.captured_queries)

    assert queries(1) == queries(4)


def test_pool_names_are_per_account_and_a_taken_name_tells_nothing_of_other_accounts(workspace):
    flavor = priced_cpu_flavor(monthly="1750.00")
    theirs = WorkspaceFactory()
    for account in (workspace.account, theirs.account):
        fund(account, "10000.00")
    services.buy_subscription(account=theirs.account, pool_name="team-pool", flavor=flavor, nodes=2,
                              period="monthly", periods=1)
    admin = client_for(admin_of(workspace))
    body = {"pool_name": "team-pool", "flavor": flavor.name, "nodes": 2, "period": "monthly", "periods": 1}
    bought = admin.post("/api/v1/billing/subscriptions/", body, format="json")
    assert bought.status_code == 201, bought.json()
    grown = admin.post(f"/api/v1/billing/subscriptions/{bought.json()['id']}/add-nodes/", {"nodes": 1},
                       format="json")
    assert grown.status_code == 200, grown.json()
    again = admin.post("/api/v1/billing/subscriptions/", body, format="json")
    assert again.status_code == 400 and again.json()["errors"][0] == {
        "code": "invalid", "attr": "pool_name",
        "detail": "Your account has a dedicated pool named 'team-pool' already; choose another name."}
    assert ResourcePool.objects.filter(name="team-pool").count() == 2
