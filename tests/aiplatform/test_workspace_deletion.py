"""Deleting a workspace leaves no orphan row anywhere: its datasets, samples and their label rows
(which carry no database constraint) go with it; a workspace that has run billed work keeps
existing, because its money history (usage, rated usage, ledger) must survive and names it."""

import pytest
from django.apps import apps
from django.db import models

from aiplatform.models import Workspace
from billing import services as billing
from billing.models import LedgerEntry, RatedUsage, UsageRecord
from datasets.models import Sample, SampleLabel
from resourcepools.models import Workload
from tests.billing.helpers import at, fund, priced_cpu_flavor, public_pool, ran
from tests.datasets.factories import DatasetFactory, SampleFactory
from training.models import TrainingJob

pytestmark = pytest.mark.django_db


def orphans() -> dict:
    """Rows of any model whose foreign key names a row that does not exist, by model and field."""
    found = {}
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if not isinstance(field, models.ForeignKey):
                continue
            target = field.related_model._default_manager.values(field.target_field.attname)
            count = model._base_manager.filter(**{f"{field.attname}__isnull": False}).exclude(
                **{f"{field.attname}__in": target}).count()
            if count:
                found[f"{model._meta.label}.{field.name}"] = count
    return found


def labelled_dataset(workspace, developer_client):
    dataset = DatasetFactory(workspace=workspace)
    samples = [SampleFactory(dataset=dataset) for _ in range(3)]
    response = developer_client.post(
        f"/api/v1/workspaces/{workspace.id}/datasets/{dataset.id}/samples/batch-annotate/",
        {"items": [{"id": s.id, "annotations": [{"name": name}]} for s, name in zip(samples, ["cat", "dog", "cat"],
                                                                                      strict=True)]},
        format="json")
    assert response.status_code == 200, response.json()
    assert SampleLabel.objects.filter(dataset=dataset).count() == 3
    return dataset


def test_deleting_a_workspace_takes_its_samples_and_labels_and_leaves_no_orphan(workspace, owner_client,
                                                                                 developer_client):
    dataset = labelled_dataset(workspace, developer_client)
    response = owner_client.delete(f"/api/v1/workspaces/{workspace.id}/")
    assert response.status_code == 204
    assert not Workspace.objects.filter(pk=workspace.pk).exists()
    assert not Sample.objects.filter(dataset_id=dataset.pk).exists()
    assert not SampleLabel.objects.filter(dataset_id=dataset.pk).exists()
    assert orphans() == {}


def test_a_workspace_with_jobs_and_charges_is_kept_whole_with_its_money_history(workspace, owner_client,
                                                                               developer_client):
    dataset = labelled_dataset(workspace, developer_client)
    flavor = priced_cpu_flavor(hourly="2.00")
    pool = public_pool(flavor)
    fund(workspace.account, "100.00")
    body = {"name": "train", "image": "python:3.11-slim", "pool": str(pool.pk), "flavor": flavor.name,
            "output_uri": f"file://ws-{workspace.pk}/out", "command": ["true"]}
    job = developer_client.post(f"/api/v1/workspaces/{workspace.id}/training-jobs/", body, format="json")
    assert job.status_code == 201, job.json()
    ran(workspace, pool, flavor, start="2023-04-03T00:00:00", end="2023-04-03T02:00:00", name="billed")
    billing.meter_usage(now=at("2023-04-04T00:00:00"))
    billing.rate_usage(now=at("2023-04-04T00:00:00"))
    counts = {model: model.objects.count() for model in (Sample, SampleLabel, TrainingJob, Workload, UsageRecord,
                                                         RatedUsage, LedgerEntry)}
    assert counts[UsageRecord] and counts[RatedUsage] and counts[LedgerEntry] == 2  # the top-up and the usage

    response = owner_client.delete(f"/api/v1/workspaces/{workspace.id}/")
    assert response.status_code == 409 and response.json()["errors"][0]["code"] == "in_use"
    assert "workload" in response.json()["errors"][0]["detail"]
    assert Workspace.objects.filter(pk=workspace.pk).exists()
    assert {model: model.objects.count() for model in counts} == counts
    assert SampleLabel.objects.filter(dataset=dataset).count() == 3
    assert orphans() == {}
