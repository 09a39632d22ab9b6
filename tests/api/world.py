"""Two tenants with one of every resource the API has, for the isolation matrix and the fuzzers.

Built through the services a user's calls reach (a few things no API call makes, such as a usage
record or an audit event, come from the code that makes them in production: metering, rating,
the audit trail). Users get no password, so building a world costs no password hashing."""

import json
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from django.utils.crypto import get_random_string

from aiplatform import locations, uploads
from aiplatform import services as platform
from aiplatform.models import AuditEvent, Role
from aiplatform.storage import local_directory, workspace_root_uri
from billing import services as billing
from billing.models import Price, UsageRecord
from datasets import services as datasets
from datasets.models import AnnotationItem, Prediction
from gateway import services as gateway
from inference import services as inference
from inference.models import BenchmarkRun
from notebooks import services as notebooks
from resourcepools import services as pools
from resourcepools.models import Phase, Workload, WorkloadEvent
from tests.factories import FlavorFactory, cpu_flavor
from training import services as training

LABELS = [{"name": "sport"}, {"name": "weather"}]
STATIC_BENCHMARK = {"input_len": 8, "output_len": 4, "concurrencies": [1], "requests_per_level": 1}
# An upload of one part of this many bytes (the parts' size is far larger).
UPLOAD_SIZE = 16
# The matrix and the fuzzers call the API far more often than a person: the accounts' plan allows it.
REQUESTS_PER_MINUTE = 1_000_000


@dataclass
class Platform:
    """What the operators publish for everyone: a CPU flavor with a price, an NPU flavor (for memory
    plans), a public pool, a package offer; and an operator (Django staff, in no account)."""

    flavor: object
    public_pool: object
    offer: object
    operator: object


@dataclass
class Tenant:
    """An account with a workspace and one of each resource. `ids` holds what URLs name, by kind;
    `marker` is in every name and description, so a response that shows any of them is found."""

    marker: str
    platform: Platform
    account: object
    workspace: object
    owner: object  # the account's admin and the workspace's owner
    token: str  # the owner's API key
    users: dict  # role -> user: owner, developer, annotator, viewer, account_admin (admin, not a member)
    ids: dict = field(default_factory=dict)
    job_token: str = ""
    benchmark_token: str = ""

    def uri(self, path: str) -> str:
        """A location in the workspace's platform-managed storage."""
        return workspace_root_uri(self.workspace.pk) + path


def build_platform() -> Platform:
    flavor = cpu_flavor()
    flavor.full_clean()  # fills in the family, as the flavors API does
    flavor.save()
    FlavorFactory()
    Price.objects.create(flavor=flavor, pay_per_use_hourly=Decimal("2.50"), monthly=Decimal("1750.00"),
                         yearly=Decimal("17500.00"), effective_from=timezone.now() - timedelta(days=400))
    public_pool = pools.create_pool(name="public-cpu", kind="public",
                                    nodes=[{"name": f"public-cpu-{i}", "flavor": flavor} for i in range(2)])
    offer = billing.save_package_offer(name="cpu-100", family=flavor.family, node_hours=100, validity_months=1,
                                       price=Decimal("100.00"))
    operator = get_user_model().objects.create(username=f"operator{uuid.uuid4().hex[:8]}", is_staff=True)
    return Platform(flavor=flavor, public_pool=public_pool, offer=offer, operator=operator)


def _user(account, name, *, is_admin=False):
    return platform.add_account_user(account=account, username=name, email=f"{name}@example.com", is_admin=is_admin)


def _run(workload, *, ended: bool, hours_ago: int = 2):
    """Moves a queued workload through admission to RUNNING (and SUCCEEDED when `ended`), as the
    scheduler and the backend report it, an hour apart."""
    Workload.objects.filter(pk=workload.pk).update(phase=Phase.ADMITTED)
    pools.transition_workloads(workload_ids=[workload.pk], to=Phase.RUNNING, reason="Started")
    started = timezone.now() - timedelta(hours=hours_ago)
    Workload.objects.filter(pk=workload.pk).update(started_at=started)
    if ended:
        pools.transition_workloads(workload_ids=[workload.pk], to=Phase.SUCCEEDED, reason="Completed")
        finished = started + timedelta(hours=1)
        WorkloadEvent.objects.filter(workload=workload, from_phase=Phase.RUNNING).update(created_at=finished)
        Workload.objects.filter(pk=workload.pk).update(finished_at=finished)
    workload.refresh_from_db()
    return workload


def build_team(name: str, shared: Platform) -> Tenant:
    """An account whose admin owns a workspace with a developer, an annotator and a viewer, and a
    second admin who is not a member: the people, without resources yet."""
    marker = f"{name}{uuid.uuid4().hex[:8]}"
    account, owner = platform.create_account(name=f"{marker}-account", admin_username=f"{marker}-owner")
    account.api_requests_per_minute = REQUESTS_PER_MINUTE
    account.save(update_fields=["api_requests_per_minute"])
    workspace = platform.create_workspace(account=account, name=f"{marker}-workspace", created_by=owner,
                                          description=f"{marker} workspace")
    users = {"owner": owner, "account_admin": _user(account, f"{marker}-admin", is_admin=True)}
    memberships = {}
    for role in (Role.DEVELOPER, Role.ANNOTATOR, Role.VIEWER):
        users[role] = _user(account, f"{marker}-{role}")
        memberships[role] = platform.add_member(workspace=workspace, username=users[role].username, role=role)
    tenant = Tenant(marker=marker, platform=shared, account=account, workspace=workspace, owner=owner, users=users,
                    token=platform.create_api_key(user=owner, name=f"{marker}-key").token)
    # The workspace's managed location on the embedded storage, where a bucket is a directory.
    local_directory(tenant.uri("")).mkdir(parents=True, exist_ok=True)
    ids = tenant.ids
    ids["workspace"] = workspace.pk
    ids["account"] = account.pk
    ids["membership"] = memberships[Role.DEVELOPER].pk
    ids["account_user"] = users[Role.DEVELOPER].pk
    ids["api_key"] = owner.api_keys.get().pk
    ids["api_key_prefix"] = owner.api_keys.get().prefix
    return tenant


def build_tenant(name: str, shared: Platform) -> Tenant:
    """A team with one of every resource."""
    tenant = build_team(name, shared)
    marker, account, workspace, owner, ids = tenant.marker, tenant.account, tenant.workspace, tenant.owner, tenant.ids

    # A storage connection: a bucket of the account's own, reached with its own credentials.
    connection = platform.save_storage_connection(
        account=account, created_by=owner, name=f"{marker}-bucket", scheme="s3", bucket=f"{marker}-bucket",
        access_key_id=f"{marker}-key-id", secret_access_key=f"{marker}-secret")
    ids["storage_connection"] = connection.pk
    ids["connection_uri"] = connection.uri

    # Money, a dedicated pool bought by subscription, a package, a quota.
    billing.top_up(account=account, amount=Decimal("1000000.00"), note=f"{marker} top-up")
    subscription = billing.buy_subscription(account=account, pool_name=f"{marker}-pool", flavor=shared.flavor,
                                            nodes=1, period="monthly", periods=1, created_by=owner)
    pool = subscription.pool
    ids["subscription"] = subscription.pk
    ids["dedicated_pool"] = pool.pk
    ids["dedicated_pool_name"] = pool.name
    ids["dedicated_node"] = pool.nodes.get().pk
    ids["package"] = billing.buy_package(account=account, offer=shared.offer, created_by=owner).pk
    ids["quota"] = pools.set_quota(workspace=workspace, pool=pool, max_workloads=100).pk

    # A dataset with samples, a published version, an import, an export and an annotation task of
    # the unlabelled samples whose items are the owner's: one annotated, one submitted for review,
    # the rest untouched.
    dataset = datasets.create_dataset(workspace=workspace, created_by=owner, name=f"{marker}-dataset",
                                      description=f"{marker} dataset", type="text_classification",
                                      output_uri=tenant.uri("datasets/"), labels=LABELS)
    samples = datasets.add_samples(dataset=dataset, user=owner, samples=[
        {"source": f"content://{marker} sample {i}", "annotations": [{"name": "sport"}] if i < 2 else []}
        for i in range(6)
    ])
    sample_ids = list(dataset.samples.order_by("pk").values_list("pk", flat=True))
    assert len(sample_ids) == len(samples)
    version = datasets.create_version(dataset=dataset, created_by=owner, name="v1", description=f"{marker} v1")
    version = datasets.publish_version(version_id=version.pk)
    assert version.status == "ready", version.error
    task = datasets.create_annotation_task(dataset=dataset, created_by=owner, name=f"{marker}-labelling",
                                           assignees=[owner.username], scope="unlabelled")
    items = list(AnnotationItem.objects.filter(task=task).order_by("pk"))
    datasets.annotate_items(task=task, user=owner, items=[{"id": items[0].pk, "annotations": [{"name": "sport"}]}])
    datasets.annotate_items(task=task, user=owner, submit=True,
                            items=[{"id": items[1].pk, "annotations": [{"name": "weather"}]}])
    ids.update(
        dataset=dataset.pk, sample=sample_ids[0], dataset_version=version.pk, annotation_task=task.pk,
        manifest_uri=version.manifest_uri, annotated_item=items[0].pk, submitted_item=items[1].pk,
        assigned_item=items[2].pk,
        import_task=datasets.create_import_task(dataset=dataset, created_by=owner, kind="manifest",
                                                source_uri=version.manifest_uri).pk,
        export_task=datasets.create_export_task(dataset=dataset, created_by=owner, version=version,
                                                target_uri=tenant.uri("exports/")).pk,
    )

    # An algorithm, a queued training job (its token works while it has not ended) and a succeeded one.
    algorithm = training.save_algorithm(workspace=workspace, name=f"{marker}-algorithm",
                                        description=f"{marker} algorithm", image="python:3.11-slim",
                                        command=["python", "train.py"], input_channels=["train"],
                                        output_channels=["output"])
    job = training.create_training_job(
        workspace=workspace, created_by=owner, name=f"{marker}-job", description=f"{marker} job",
        flavor=shared.flavor, pool=pool, output_uri=tenant.uri("jobs/queued/"), algorithm=algorithm,
        inputs=[{"channel": "train", "dataset_version": version.pk}],
    )
    done = training.create_training_job(
        workspace=workspace, created_by=owner, name=f"{marker}-done", flavor=shared.flavor, pool=pool,
        output_uri=tenant.uri("jobs/done/"), image="python:3.11-slim", command=["python", "-c", "pass"],
    )
    _run(done.workload, ended=True)
    for run in (job, done):  # both logged the loss, so they can be compared
        training.record_metrics(job=run, points=[{"name": "loss", "step": 1, "value": 0.5}])
    tenant.job_token = training.job_token(job)
    ids.update(algorithm=algorithm.pk, training_job=job.pk, finished_job=done.pk)
    # A TensorBoard over both jobs, not running yet (its pages answer 503 until it does).
    ids["visualization"] = training.create_visualization(workspace=workspace, created_by=owner,
                                                         name=f"{marker}-board", training_jobs=[job, done],
                                                         pool=pool).pk
    # A notebook, stopped (its JupyterLab answers with its state; a training job may start from it).
    notebook = notebooks.create_notebook(workspace=workspace, created_by=owner, name=f"{marker}-lab", pool=pool,
                                         flavor=shared.flavor, image_name="jupyterlab-cpu", storage_gib=1)
    pools.stop_workload(workload=notebook.workload, stopped_by=owner)
    ids["notebook"] = notebook.pk

    # A model, a running service (by the backend's report) and a benchmark run of it.
    model = inference.create_model(workspace=workspace, created_by=owner, name=f"{marker}-model",
                                   description=f"{marker} model", source="storage", uri=tenant.uri("models/m/"),
                                   runtime="builtin", parameters=1_000_000, layers=2, hidden_size=64,
                                   attention_heads=4, kv_heads=4, head_dim=16, vocab_size=1000)
    service = inference.create_service(workspace=workspace, created_by=owner, model=model, pool=pool,
                                       flavor=shared.flavor, name=f"{marker}-service",
                                       description=f"{marker} service")
    _run(service.workload, ended=False, hours_ago=1)
    run = BenchmarkRun.objects.create(workspace=workspace, service=service, mode="static", config=STATIC_BENCHMARK,
                                      created_by=owner)
    run.workload = pools.create_workload(
        workspace=workspace, pool=pool, name=f"{marker}-benchmark", kind="benchmark", created_by=owner,
        pod_sets=[{"name": "client", "replicas": 1, "flavor": shared.flavor, "vcpus": 2, "memory_gib": 4}],
    )
    run.save(update_fields=["workload"])
    tenant.benchmark_token = inference.benchmark_token(run)
    ids.update(model=model.pk, service=service.pk, benchmark_run=run.pk)
    # A pre-labelling task of the dataset by the service, and a prediction of it waiting for review.
    prelabel_task = datasets.create_prelabel_task(dataset=dataset, created_by=owner, service=service.pk)
    ids["prelabel_task"] = prelabel_task.pk
    ids["prediction"] = Prediction.objects.create(dataset=dataset, sample_id=sample_ids[2], task=prelabel_task,
                                                  service_id=service.pk, label="weather", confidence=0.9).pk
    # An LLM served by vLLM with a LoRA adapter of its workspace (memory plans are for LLM runtimes).
    adapter = tenant.uri("models/lora/")
    locations.storage_at(workspace=workspace, uri=adapter, write=True).write(
        adapter + "adapter_config.json", [json.dumps({"r": 8, "peft_type": "LORA"}).encode()])
    ids["llm_model"] = inference.create_model(
        workspace=workspace, created_by=owner, name=f"{marker}-llm", source="storage", uri=tenant.uri("models/llm/"),
        adapter_uri=adapter, runtime="vllm", parameters=1_000_000, layers=2, hidden_size=64, attention_heads=4,
        kv_heads=4, head_dim=16, vocab_size=1000).pk
    gateway.set_service_gateway(service=service, requests_per_minute=600, key_requests_per_minute=60)
    ids["quantization_job"] = inference.create_quantization_job(workspace=workspace, created_by=owner, model=model,
                                                                pool=pool, scheme="w8a8").pk

    # The owner's upload into the workspace's location, started, no part sent yet.
    ids["upload"] = uploads.start_upload(workspace=workspace, user=owner, uri=tenant.uri("uploads/data.bin"),
                                         size=UPLOAD_SIZE).id

    # A custom workload with a cost tag; usage metered from the finished job and billed this month.
    workload = pools.create_workload(workspace=workspace, pool=pool, name=f"{marker}-workload", created_by=owner,
                                     pod_sets=[{"name": "worker", "replicas": 1, "flavor": shared.flavor}])
    ids["workload"] = workload.pk
    ids["cost_tag"] = billing.set_cost_tag(workspace=workspace, workload_id=workload.pk, key="team", value=marker).pk
    billing.meter_usage(workload_ids=[done.workload_id])
    ids["usage_record"] = UsageRecord.objects.filter(workload_id=done.workload_id).values_list("pk", flat=True)[0]
    ids["bill"] = billing.generate_bill(account=account, period=timezone.now().date()).pk
    billing.notify(account_id=account.pk, kind="package_expiring", subject=f"{marker} notice",
                   message=f"{marker} notice", key=f"{marker}-notice")
    ids["notification"] = account.notifications.get(key=f"{marker}-notice").pk
    ids["audit_event"] = AuditEvent.objects.create(
        actor=owner, workspace=workspace, action="dataset.create", method="POST", target_type="dataset",
        target_id=str(dataset.pk), path=f"/api/v1/workspaces/{workspace.pk}/datasets/", status_code=201,
        source_ip="127.0.0.1").pk
    return tenant


ROLES = ("owner", "developer", "annotator", "viewer", "account_admin", "operator")


def credentials(tenant: Tenant) -> dict[str, dict]:
    """How each role of the tenant's workspace calls, as keyword arguments of schemathesis'
    `case.call` (headers, cookies). Owners, developers, account admins and operators use an API
    key; annotators and viewers may hold none (the API refuses to make them one), so they use a
    console session and its CSRF token."""
    calls = {"owner": {"headers": {"Authorization": f"Bearer {tenant.token}"}}}
    for role, user in (("developer", tenant.users["developer"]), ("account_admin", tenant.users["account_admin"]),
                       ("operator", tenant.platform.operator)):
        calls[role] = {"headers": {"Authorization": f"Bearer {platform.create_api_key(user=user, name='fuzz').token}"}}
    for role in ("annotator", "viewer"):
        client = Client()
        client.force_login(tenant.users[role])
        csrf = get_random_string(32)
        calls[role] = {"headers": {"X-CSRFToken": csrf},
                       "cookies": {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value,
                                   settings.CSRF_COOKIE_NAME: csrf}}
    return calls
