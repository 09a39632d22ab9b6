"""A workspace with something on every console page, made through the API as its people would,
beside another tenant's workspace with the same kinds of things."""

import json
from dataclasses import dataclass, field

import pytest
from django.core.management import call_command
from django.test import Client

from aiplatform.models import Role
from tests.conftest import client_for
from tests.factories import FlavorFactory, WorkspaceFactory, cpu_flavor, make_pool, member_of, workspace_storage

LLAMA_CONFIG = {"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
                "vocab_size": 32000, "intermediate_size": 11008, "torch_dtype": "bfloat16"}


@dataclass
class Tenant:
    workspace: object
    people: dict = field(default_factory=dict)
    ids: dict = field(default_factory=dict)

    def browser(self, role: str) -> Client:
        client = Client()
        client.force_login(self.people[role])
        return client

    def url(self, suffix: str = "") -> str:
        return f"/console/w/{self.workspace.pk}/{suffix}"


def populate(workspace, local_root, pool, npu_pool, *, samples: int = 6) -> Tenant:
    tenant = Tenant(workspace)
    for role in (Role.OWNER, Role.DEVELOPER, Role.ANNOTATOR, Role.VIEWER):
        tenant.people[role] = member_of(workspace, role)
    api = client_for(tenant.people[Role.DEVELOPER])
    base = f"/api/v1/workspaces/{workspace.pk}"

    def post(path, body):
        response = api.post(base + path, body, format="json")
        assert response.status_code in (200, 201, 202), (path, response.json())
        return response.json()

    dataset = post("/datasets/", {"name": "news", "type": "text_classification",
                                  "labels": [{"name": "sport"}, {"name": "weather"}]})
    labelled = [{"source": f"content://sample {i}", "annotations": [{"name": ("sport", "weather")[i % 2]}]}
                for i in range(samples) if i % 3]
    post(f"/datasets/{dataset['id']}/samples/", {"samples": labelled + [
        {"source": f"content://sample {i}"} for i in range(samples) if not i % 3]})
    task = post(f"/datasets/{dataset['id']}/annotation-tasks/", {
        "name": "label them", "scope": "unlabelled", "assignees": [tenant.people[Role.ANNOTATOR].username]})
    folder = workspace_storage(local_root, workspace)
    (folder / "data.jsonl").write_text('{"source": "content://a", "annotation": [{"name": "sport"}]}\n')
    algorithm = next(a for a in api.get(f"{base}/algorithms/?page_size=100").json()["results"]
                     if a["name"] == "cpu-text-classifier")
    job = post("/training-jobs/", {"name": "news-cls", "algorithm": algorithm["id"], "pool": str(pool.pk),
                                   "flavor": "cpu.8u32g", "hyperparameters": {"epochs": 2},
                                   "inputs": [{"channel": "data", "uri": f"file://ws-{workspace.pk}/data.jsonl"}]})
    (folder / "llama").mkdir()
    (folder / "llama" / "config.json").write_text(json.dumps(LLAMA_CONFIG))
    model = post("/models/", {"name": "llama", "source": "storage", "uri": f"file://ws-{workspace.pk}/llama",
                              "runtime": "vllm"})
    service = post("/services/", {"name": "chat", "model": model["id"], "pool": str(npu_pool.pk),
                                  "flavor": "npu.910b.8", "max_model_len": 4096})
    tenant.ids = {"dataset": dataset["id"], "task": task["id"], "job": job["id"], "job_workload": job["workload"],
                  "model": model["id"], "service": service["id"], "algorithm": algorithm["id"]}
    return tenant


@pytest.fixture
def pools(db):
    call_command("bootstrap_training_presets")
    return make_pool(name="cpu", flavor=cpu_flavor(), nodes=1), make_pool(name="npu", flavor=FlavorFactory(), nodes=1)


@pytest.fixture
def tenant(db, local_root, pools) -> Tenant:
    return populate(WorkspaceFactory(), local_root, *pools)


@pytest.fixture
def other(db, local_root, pools) -> Tenant:
    return populate(WorkspaceFactory(), local_root, *pools)
