"""The operators' admin goes through the services: objects with a lifecycle or money open read-only,
and each admin action (stop, cordon, top up, unsubscribe with its refund) calls the service, with
its validation, lock, lifecycle and events; what a service refuses is told by name."""

from decimal import Decimal

import pytest
from django.test import Client

from billing import services as billing
from billing.models import BillingAccount, LedgerEntry, Subscription
from inference.models import Service
from resourcepools.admission import admit_workloads
from resourcepools.models import Node, Phase, Workload, WorkloadEvent
from tests.billing.helpers import fund, priced_cpu_flavor
from tests.factories import UserFactory, cpu_flavor, make_pool, make_workload
from tests.inference.test_services import llama, llama_uri, npu_pool, service_body, services_url  # noqa: F401
from training.models import TrainingJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True, username="ops"))
    return client


def run_action(client, changelist: str, action: str, objects, **extra):
    return client.post(changelist, {"action": action, "index": "0",
                                    "_selected_action": [str(o.pk) for o in objects], **extra}, follow=True)


def said(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_a_workload_is_read_only_and_stopped_through_the_service(operator, workspace):
    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=1)
    workload = make_workload(workspace, pool, flavor=cpu_flavor(), accelerators=0)
    admit_workloads()
    page = operator.get(f"/admin/resourcepools/workload/{workload.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert operator.post(f"/admin/resourcepools/workload/{workload.pk}/change/", {"phase": "succeeded"}).status_code \
        == 403
    assert operator.get("/admin/resourcepools/workload/add/").status_code == 403
    assert operator.get("/admin/resourcepools/workload/?phase__exact=admitted").status_code == 200

    response = run_action(operator, "/admin/resourcepools/workload/", "stop", [workload])
    assert said(response) == ["Stopped (or stopping): 1."]
    workload.refresh_from_db()
    assert workload.phase == Phase.STOPPING
    assert WorkloadEvent.objects.get(workload=workload, reason="StopRequested").message == "Stop requested by ops."

    Workload.objects.filter(pk=workload.pk).update(phase=Phase.SUCCEEDED)
    workload.refresh_from_db()
    again = run_action(operator, "/admin/resourcepools/workload/", "stop", [workload])
    assert said(again) == [f"{workload}: The workload has already succeeded; there is nothing to stop."]


def test_a_node_is_cordoned_and_uncordoned_through_the_service(operator):
    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=2)
    nodes = list(Node.objects.filter(pool=pool))
    response = run_action(operator, "/admin/resourcepools/node/", "cordon", nodes)
    assert said(response) == ["Cordoned: 2."]
    assert not Node.objects.filter(pool=pool, schedulable=True).exists()
    assert operator.get("/admin/resourcepools/node/?schedulable__exact=0").status_code == 200
    run_action(operator, "/admin/resourcepools/node/", "uncordon", nodes[:1])
    assert list(Node.objects.filter(pool=pool, schedulable=True)) == nodes[:1]


def test_a_training_job_shows_its_status_and_is_stopped_through_the_service(operator, workspace, developer_client,
                                                                            local_root):
    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=1)
    body = {"name": "train", "image": "python:3.11-slim", "pool": str(pool.pk), "flavor": "cpu.8u32g",
            "output_uri": f"file://ws-{workspace.pk}/out", "command": ["sleep", "60"]}
    created = developer_client.post(f"/api/v1/workspaces/{workspace.id}/training-jobs/", body, format="json")
    assert created.status_code == 201, created.json()
    job = TrainingJob.objects.get(pk=created.json()["id"])
    listing = operator.get("/admin/training/trainingjob/?workload__phase__exact=queued")
    assert listing.status_code == 200 and "Queued" in listing.content.decode()
    assert operator.get(f"/admin/training/trainingjob/{job.pk}/delete/").status_code == 403

    response = run_action(operator, "/admin/training/trainingjob/", "stop", [job])
    assert said(response) == ["Stopped (or stopping): 1."]
    job.workload.refresh_from_db()
    assert job.workload.phase == Phase.STOPPED


def test_a_service_is_stopped_through_the_service(operator, workspace, developer_client, llama,  # noqa: F811
                                                  npu_pool):  # noqa: F811
    created = developer_client.post(services_url(workspace), service_body(llama, npu_pool), format="json")
    assert created.status_code == 201, created.json()
    service = Service.objects.get(pk=created.json()["id"])
    listing = operator.get("/admin/inference/service/")
    assert listing.status_code == 200 and "Queued" in listing.content.decode()
    response = run_action(operator, "/admin/inference/service/", "stop", [service])
    assert said(response) == ["Stopped (or stopping): 1."]
    service.workload.refresh_from_db()
    assert service.workload.phase == Phase.STOPPED


def test_an_account_is_topped_up_through_the_service_after_asking_the_amount(operator, workspace):
    fund(workspace.account, "10.00")
    billing_account = BillingAccount.objects.get(pk=workspace.account_id)
    asked = run_action(operator, "/admin/billing/billingaccount/", "top_up", [billing_account])
    assert asked.status_code == 200 and b'name="amount"' in asked.content
    refused = run_action(operator, "/admin/billing/billingaccount/", "top_up", [billing_account], apply="1",
                         amount="-5")
    assert b"errorlist" in refused.content
    assert BillingAccount.objects.get(pk=workspace.account_id).balance == Decimal("10.00")

    done = run_action(operator, "/admin/billing/billingaccount/", "top_up", [billing_account], apply="1",
                      amount="25.50", note="wire 42")
    assert said(done) == ["Topped up by 25.50: 1."]
    assert BillingAccount.objects.get(pk=workspace.account_id).balance == Decimal("35.50")
    entry = LedgerEntry.objects.filter(account=workspace.account).latest("id")
    assert (entry.kind, entry.amount, entry.description) == ("top_up", Decimal("25.50"), "wire 42")
    assert operator.get(f"/admin/billing/ledgerentry/{entry.pk}/change/").status_code == 200
    assert operator.post(f"/admin/billing/ledgerentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403


def test_a_subscription_is_unsubscribed_with_its_refund_through_the_service(operator, workspace):
    flavor = priced_cpu_flavor(monthly="1750.00")
    fund(workspace.account, "5000.00")
    subscription = billing.buy_subscription(account=workspace.account, pool_name="ded-1", flavor=flavor, nodes=1,
                                            period="monthly", periods=2)
    response = run_action(operator, "/admin/billing/subscription/", "unsubscribe", [subscription])
    assert said(response) == ["Unsubscribed and refunded: 1."]
    subscription.refresh_from_db()
    assert subscription.status == "unsubscribed"
    assert LedgerEntry.objects.filter(account=workspace.account, kind="refund").exists()
    again = run_action(operator, "/admin/billing/subscription/", "unsubscribe",
                       [Subscription.objects.get(pk=subscription.pk)])
    assert said(again) == [f"{subscription}: The subscription is already unsubscribed."]
