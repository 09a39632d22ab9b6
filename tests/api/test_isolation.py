"""The tenant-isolation matrix: every operation of the OpenAPI schema, called by account A's owner
(also A's account admin, so no role check answers first) with account B's ids.

- Paths: B's id in each path parameter in turn (A's ids before it, so a child looked up without
  its parent's scope is caught too) must answer 404, as an id that never existed does.
- Bodies: B's id (or B's storage location, or B's user) in each body field that names a resource
  must answer a 4xx naming that field, exactly as an id that never existed does.
- Queries: B's id in each query parameter that names a resource (a list's filter, the jobs a
  comparison reads) must answer as an id that never existed does, and show nothing of B's.
- Reads: nothing A reads (its own lists and resources) may show B's names or ids.

The parameters, query parameters and body fields are taken from the schema; one that the matrix
cannot fill fails the test until it is taught here, so the matrix cannot fall behind the API.
Every request runs in a savepoint rolled back after it, so each one meets the same two tenants.
All failures are listed in one assertion."""

import json
import re
import uuid
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from django.db import transaction
from django.test import Client

from tests.api.openapi import body_fields, operations
from tests.api.world import STATIC_BENCHMARK, UPLOAD_SIZE, build_platform, build_tenant

pytestmark = pytest.mark.django_db

# The literal segment before a path parameter names the kind of resource it holds.
PATH_KINDS = {
    "workspaces": "workspace", "members": "membership", "audit-events": "audit_event", "quotas": "quota",
    "workloads": "workload", "algorithms": "algorithm", "training-jobs": "training_job", "models": "model",
    "services": "service", "benchmarks": "benchmark_run", "benchmark-runs": "benchmark_run",
    "datasets": "dataset", "samples": "sample", "versions": "dataset_version", "import-tasks": "import_task",
    "export-tasks": "export_task", "annotation-tasks": "annotation_task", "cost-tags": "cost_tag",
    "api-keys": "api_key", "resource-pools": "dedicated_pool", "nodes": "dedicated_node", "accounts": "account",
    "bills": "bill", "notifications": "notification", "subscriptions": "subscription", "packages": "package",
    "usage-records": "usage_record", "storage-connections": "storage_connection", "uploads": "upload",
    "visualizations": "visualization", "account-users": "account_user", "quantization-jobs": "quantization_job",
    "notebooks": "notebook",
    "prelabel-tasks": "prelabel_task",
}
# Path parameters that name no resource: TensorBoard's own path behind the platform's proxy, and
# a part's number within its upload.
FREE_PARAMETERS = {"path": "data/runs", "number": 1}
# Platform resources that every tenant reads by design and only operators change: no tenant owns
# one, so there is no other tenant's id to put in their paths. (Public pools are shared too;
# /resource-pools/{id} is still checked, with B's dedicated pool.)
PUBLIC = {
    "flavors": "node flavors are the platform's catalogue, the same for every tenant",
    "prices": "the price catalogue is public, as on any cloud's pricing page",
    "package-offers": "packages on sale are offered to every account alike",
}
# Routes a runtime calls with its run's token, which names one run: any other run's id, B's or
# one that never existed, answers the same 403 ("this token belongs to another run").
TOKEN_SCHEMES = {"JobToken": "Job", "BenchmarkToken": "Benchmark"}


def location(path):
    return lambda t: t.uri(path)


def ident(kind):
    return lambda t: t.ids[kind]


def username(role):
    return lambda t: t.users[role].username


def connection(path):
    """A location in the tenant's storage connection (its own bucket)."""
    return lambda t: t.ids["connection_uri"] + path


# What a body field refers to: a function of a tenant giving that tenant's value (a tuple: each is
# checked). Keyed by field, or by (method, path suffix, field) where the name means something else
# in that operation. Locations are checked in the tenant's managed storage and in its connection.
BODY_REFERENCES = {
    "pool": ident("dedicated_pool"),
    "model": ident("model"),
    "algorithm": ident("algorithm"),
    "workload": ident("workload"),
    "version": ident("dataset_version"),
    "inputs.*.dataset_version": ident("dataset_version"),
    "training_job": ident("finished_job"),
    "training_jobs.*": ident("finished_job"),
    "username": username("account_admin"),  # in the account, not yet in the workspace
    ("post", "/invitations/", "workspace"): ident("workspace"),
    "assignees.*": username("annotator"),
    "source_uri": (ident("manifest_uri"), connection("data/v1.manifest")),
    "inputs.*.uri": (location("datasets/"), connection("datasets/")),
    "input_uri": (location("raw/"), connection("raw/")),
    "output_uri": (location("out/"), connection("out/")),
    "target_uri": (location("exports/new/"), connection("exports/new/")),
    "uri": (location("models/m/"), connection("models/m/")),
    "adapter_uri": (location("models/lora/"), connection("models/lora/")),
    "calibration_uri": (location("calibration.jsonl"), connection("calibration.jsonl")),
    "kv_scales_uri": (location("models/m/kv-scales.json"), connection("models/m/kv-scales.json")),
    "quantized_weights_uri": (location("models/m-w8a8/"), connection("models/m-w8a8/")),
    "samples.*.source": (location("raw/1.txt"), connection("raw/1.txt")),
    ("post", "/uploads/", "uri"): (location("uploads/new.bin"), connection("uploads/new.bin")),
    ("post", "/samples/batch-delete/", "ids.*"): ident("sample"),
    ("post", "/samples/batch-annotate/", "items.*.id"): ident("sample"),
    ("post", "/items/annotate/", "items.*.id"): ident("assigned_item"),
    ("post", "/items/submit/", "ids.*"): ident("annotated_item"),
    ("post", "/items/review/", "decisions.*.id"): ident("submitted_item"),
    ("post", "/prelabel-tasks/", "service"): ident("service"),
    ("post", "/predictions/review/", "decisions.*.id"): ident("prediction"),
    ("post", "/predictions/review-by-confidence/", "task"): ident("prelabel_task"),
}
# Names are each tenant's own: one that another tenant uses must be accepted, not refused as taken.
BODY_NAMES = {"pool_name": ident("dedicated_pool_name")}
# Body fields that look like references but name nothing of another tenant's, and why.
NOT_REFERENCES = {
    "flavor": "flavors are public", "nodes.*.flavor": "flavors are public",
    "pod_sets.*.flavor": "flavors are public", "prefill_flavor": "flavors are public",
    "decode_flavor": "flavors are public", "router_flavor": "flavors are public",
    "flavors.*.flavor": "flavors are public",
    "offer": "package offers are sold to every account",
    "filters.source": "a filter on the dataset's own samples (a prefix of their sources), nothing is read",
    "filters.annotated_by": "a filter on the dataset's own samples",
    "account": "only operators create pools and record top-ups, for any account they choose",
    "access_key_id": "the account's own cloud credential, not a resource of the platform",
    ("post", "/models/", "source"): "the kind of source (training_job, storage, image)",
    ("post", "/notebooks/", "image_name"): "an image of the platform's public notebook catalogue",
    ("post", "/models/", "version"): "the model's own version label",
    ("post", "/invitations/", "username"): "a new person's login name: login names are the platform's, one "
                                           "taken is refused as on any sign-up page",
}

# What a query parameter refers to, as in BODY_REFERENCES. In a comma-separated list (a comparison's
# jobs) B's value takes the last place, after A's.
QUERY_REFERENCES = {
    "account": ident("account"),
    "workspace": ident("workspace"),
    "pool": ident("dedicated_pool"),
    "workload": ident("workload"),
    "model": ident("model"),
    "algorithm": ident("algorithm"),
    "target_id": ident("dataset"),  # what the audit event is about
    "actor": username("owner"),
    "assignee": username("owner"),
    "api_key": ident("api_key_prefix"),
    ("get", "/training-jobs/compare/", "jobs"): ident("finished_job"),
    ("get", "/predictions/", "task"): ident("prelabel_task"),
}
# Query parameters that look like references but name nothing of another tenant's, and why.
NOT_QUERY_REFERENCES = {
    "flavor": "flavors are public", "flavor__name": "flavors are public",
    ("get", "/samples/", "source"): "a filter on the dataset's own samples (a prefix of their sources)",
    ("get", "/models/", "source"): "the kind of source (training_job, storage, image)",
}
# Query parameters an operation needs from A to answer 200 (the rest are left out).
VALID_QUERIES = {
    ("get", "/training-jobs/compare/"): lambda t: {
        "jobs": f"{t.ids['training_job']},{t.ids['finished_job']}", "metric": "loss"},
}


def _for(table, method, path, field):
    """The table's entry for a field of an operation: by (method, path suffix, field), else by field."""
    for key, value in table.items():
        if isinstance(key, tuple) and key[0] == method and path.endswith(key[1]) and key[2] == field:
            return value
    return table.get(field)


def _looks_like_reference(field: str, schema: dict) -> bool:
    leaf = [part for part in field.split(".") if part != "*"][-1]
    kinds = {*PATH_KINDS.values(), "pool", "version", "account", "offer", "user", "assignees", "username"}
    return (schema.get("format") == "uuid" or leaf in kinds or leaf in ("id", "ids", "source")
            or leaf.endswith(("_id", "_ids", "uri", "flavor", "_name")))


# A body each write operation accepts from A's owner with A's own references: swapping one of them
# for B's is then the only reason for a refusal. Keyed by (method, path suffix), or with a field
# where that field counts only in another combination of the body.
def _service(t):
    return {"name": "second", "model": str(t.ids["model"]), "pool": str(t.ids["dedicated_pool"]),
            "flavor": "cpu.8u32g", "kv_scales_uri": t.uri("models/m/kv-scales.json"),
            "quantized_weights_uri": t.uri("models/m-w8a8/")}


def _training_job(t):
    return {"name": "second", "algorithm": str(t.ids["algorithm"]), "flavor": "cpu.8u32g",
            "pool": str(t.ids["dedicated_pool"]), "output_uri": t.uri("out/"),
            "inputs": [{"channel": "train", "dataset_version": str(t.ids["dataset_version"])}]}


def _training_job_from_location(t):
    return {**_training_job(t), "inputs": [{"channel": "train", "uri": t.uri("datasets/")}]}


def _dataset(t):
    return {"name": "second", "type": "text_classification", "input_uri": t.uri("raw/"),
            "output_uri": t.uri("out/")}


def _workspace(t):
    return {"name": "second", "description": "renamed"}


VALID_BODIES = {
    ("post", "/api-keys/"): lambda t: {"name": "second"},
    ("post", "/invitations/"): lambda t: {"username": f"invited{uuid.uuid4().hex[:8]}", "role": "viewer",
                                          "workspace": str(t.ids["workspace"])},
    ("patch", "/account-users/{user_id}/"): lambda t: {"is_admin": True},
    ("post", "/storage-connections/"): lambda t: {"name": "second", "scheme": "s3", "bucket": "second",
                                                  "access_key_id": "second-key-id", "secret_access_key": "secret"},
    ("patch", "/storage-connections/{id}/"): lambda t: {"region": "us-east-1"},
    ("post", "/billing/bills/"): lambda t: {"period": date.today().replace(day=1).isoformat()},
    ("post", "/billing/packages/"): lambda t: {"offer": t.platform.offer.pk},
    ("post", "/billing/subscriptions/"): lambda t: {"pool_name": "second", "flavor": "cpu.8u32g", "nodes": 1,
                                                    "period": "monthly", "periods": 1},
    ("patch", "/billing/subscriptions/{id}/"): lambda t: {"auto_renew": True},
    ("post", "/add-nodes/"): lambda t: {"nodes": 1},
    ("post", "/renew/"): lambda t: {"periods": 1},
    ("post", "/billing/top-ups/"): lambda t: {"account": str(t.ids["account"]), "amount": "1.00"},
    ("post", "/resource-pools/"): lambda t: {"name": "second", "kind": "dedicated", "account": str(t.ids["account"])},
    ("patch", "/resource-pools/{id}/"): lambda t: {"description": "changed"},
    ("post", "/nodes/"): lambda t: {"name": "second", "flavor": "cpu.8u32g"},
    ("patch", "/nodes/{id}/"): lambda t: {"schedulable": False},
    ("post", "/flavors/"): lambda t: {"name": "second", "vcpus": 4, "memory_gib": 16, "accelerator_kind": "none"},
    ("post", "/prices/"): lambda t: {"flavor": "cpu.8u32g", "pay_per_use_hourly": "1.00", "monthly": "600.00",
                                     "yearly": "6000.00"},
    ("post", "/billing/package-offers/"): lambda t: {"name": "second", "family": "cpu", "node_hours": 10,
                                                     "price": "10.00"},
    ("post", "/training-jobs/{job_id}/metrics/"): lambda t: {"metrics": [{"name": "loss", "step": 2, "value": 0.4}]},
    ("post", "/benchmark-runs/{run_id}/result/"): lambda t: {"result": {"mode": "static", "levels": [
        {"concurrency": 1, "requests": 1, "errors": 0}]}},
    ("post", "/workspaces/"): _workspace,
    ("put", "/workspaces/{workspace_id}/"): _workspace,
    ("patch", "/workspaces/{workspace_id}/"): _workspace,
    ("post", "/algorithms/"): lambda t: {"name": "second", "image": "python:3.11-slim", "command": ["python"]},
    ("patch", "/algorithms/{id}/"): lambda t: {"description": "changed"},
    ("post", "/members/"): lambda t: {"username": t.users["account_admin"].username, "role": "developer"},
    ("patch", "/members/{id}/"): lambda t: {"role": "viewer"},
    ("post", "/cost-tags/"): lambda t: {"workload": str(t.ids["workload"]), "key": "owner", "value": "me"},
    ("post", "/datasets/"): _dataset,
    ("put", "/datasets/{dataset_id}/"): _dataset,
    ("patch", "/datasets/{dataset_id}/"): lambda t: {"input_uri": t.uri("raw/"), "output_uri": t.uri("out/")},
    ("post", "/annotation-tasks/"): lambda t: {
        "name": "second", "assignees": [t.users["annotator"].username], "scope": "filter",
        "filters": {"status": "labelled"}},
    ("post", "/items/annotate/"): lambda t: {
        "items": [{"id": t.ids["assigned_item"], "annotations": [{"name": "sport"}]}]},
    ("post", "/items/submit/"): lambda t: {"ids": [t.ids["annotated_item"]]},
    ("post", "/items/review/"): lambda t: {"decisions": [{"id": t.ids["submitted_item"], "result": "accepted"}]},
    ("post", "/items/review-sample/"): lambda t: {"percent": 50, "seed": 1},
    ("post", "/export-tasks/"): lambda t: {"version": str(t.ids["dataset_version"]),
                                           "target_uri": t.uri("exports/new/")},
    ("post", "/import-tasks/"): lambda t: {"kind": "manifest", "source_uri": t.ids["manifest_uri"]},
    ("post", "/samples/"): lambda t: {"samples": [{"source": t.uri("raw/1.txt")}]},
    ("post", "/samples/batch-annotate/"): lambda t: {
        "items": [{"id": t.ids["sample"], "annotations": [{"name": "weather"}]}]},
    ("post", "/samples/batch-delete/"): lambda t: {"ids": [t.ids["sample"]]},
    ("post", "/versions/"): lambda t: {"name": "v2"},
    ("post", "/prelabel-tasks/"): lambda t: {"service": str(t.ids["service"]), "min_confidence": 0.5},
    ("post", "/predictions/review/"): lambda t: {"decisions": [{"id": t.ids["prediction"], "decision": "accept"}]},
    ("post", "/predictions/review-by-confidence/"): lambda t: {
        "decision": "accept", "min_confidence": 0.5, "task": str(t.ids["prelabel_task"])},
    ("post", "/models/"): lambda t: {"name": "second", "source": "training_job", "runtime": "builtin",
                                     "training_job": str(t.ids["finished_job"])},
    ("post", "/models/", "uri"): lambda t: {"name": "second", "source": "storage", "runtime": "builtin",
                                            "uri": t.uri("models/m/")},
    ("post", "/models/", "adapter_uri"): lambda t: {"name": "second", "source": "storage", "runtime": "vllm",
                                                    "uri": t.uri("models/llm/"), "adapter_uri": t.uri("models/lora/")},
    ("patch", "/models/{id}/"): lambda t: {"description": "changed"},
    ("post", "/quotas/"): lambda t: {"pool": str(t.ids["dedicated_pool"]), "max_workloads": 10},
    ("patch", "/quotas/{id}/"): lambda t: {"max_workloads": 20},
    ("post", "/services/"): _service,
    ("patch", "/services/{id}/"): lambda t: {
        "model": str(t.ids["model"]), "pool": str(t.ids["dedicated_pool"]),
        "kv_scales_uri": t.uri("models/m/kv-scales.json"), "quantized_weights_uri": t.uri("models/m-w8a8/")},
    ("post", "/services/plan/"): lambda t: {"model": str(t.ids["llm_model"]), "flavor": "npu.910b.8"},
    ("post", "/benchmarks/"): lambda t: {"mode": "static", "config": STATIC_BENCHMARK},
    ("put", "/limits/"): lambda t: {"requests_per_minute": 1200, "key_requests_per_minute": 120,
                                    "routing": "prefix"},
    ("patch", "/limits/"): lambda t: {"tokens_per_minute": 100_000},
    ("post", "/training-jobs/"): _training_job,
    ("post", "/training-jobs/", "inputs.*.uri"): _training_job_from_location,
    ("post", "/copy/"): _training_job,
    ("post", "/copy/", "inputs.*.uri"): _training_job_from_location,
    ("post", "/quantization-jobs/"): lambda t: {"model": str(t.ids["model"]), "pool": str(t.ids["dedicated_pool"]),
                                                 "scheme": "w4a16", "output_uri": t.uri("quantized/new/")},
    ("post", "/quantization-jobs/", "calibration_uri"): lambda t: {
        "model": str(t.ids["model"]), "pool": str(t.ids["dedicated_pool"]), "scheme": "w8a8", "kv_cache_dtype": "fp8",
        "calibration_uri": t.uri("calibration.jsonl")},
    ("post", "/visualizations/"): lambda t: {"name": "second", "training_jobs": [str(t.ids["finished_job"])],
                                             "pool": str(t.ids["dedicated_pool"])},
    ("post", "/tensorboard/{path}"): lambda t: {},
    ("post", "/notebooks/"): lambda t: {"name": "second", "image_name": "jupyterlab-cpu", "flavor": "cpu.8u32g",
                                        "pool": str(t.ids["dedicated_pool"]), "storage_gib": 1},
    ("post", "/notebooks/{id}/training-jobs/"): lambda t: {"name": "from-lab", "command": ["python", "train.py"],
                                                          "flavor": "cpu.8u32g",
                                                          "pool": str(t.ids["dedicated_pool"])},
    ("post", "/uploads/"): lambda t: {"uri": t.uri("uploads/new.bin"), "size": UPLOAD_SIZE},
    # The part's bytes (application/octet-stream), not JSON.
    ("put", "/parts/{number}/"): lambda t: b"p" * UPLOAD_SIZE,
    ("post", "/workloads/"): lambda t: {"name": "second", "pool": str(t.ids["dedicated_pool"]),
                                        "pod_sets": [{"name": "worker", "replicas": 1, "flavor": "cpu.8u32g"}]},
}


def valid_body(method, path, field=None):
    """The valid-body maker for the operation (for the field, when one is given and has its own)."""
    found = [key for key in VALID_BODIES if key[0] == method and path.endswith(key[1])
             and (len(key) == 2 or key[2] == field)]
    found.sort(key=lambda key: (len(key), len(key[1])), reverse=True)
    return VALID_BODIES[found[0]] if found else None


def valid_query(method, path, tenant) -> dict:
    found = [key for key in VALID_QUERIES if key[0] == method and path.endswith(key[1])]
    return VALID_QUERIES[found[0]](tenant) if found else {}


def with_query(url, query: dict) -> str:
    return f"{url}?{urlencode(query)}" if query else url


def _set_query(query: dict, name, value) -> dict:
    """A copy of the query with the parameter set to `value` (the last item of a comma-separated list)."""
    items = str(query.get(name, "")).split(",")
    return {**query, name: ",".join([*items[:-1], str(value)]) if len(items) > 1 else value}


def _set(body, dotted, value):
    """A copy of the body with the field at `dotted` (list items as `*`: the first one) set to `value`."""
    body = json.loads(json.dumps(body))
    target, parts = body, dotted.split(".")
    for part in parts[:-1]:
        target = target[0] if part == "*" else target[part]
    if parts[-1] == "*":
        target[0] = value
    else:
        target[parts[-1]] = value
    return body


def _unknown_like(value):
    if isinstance(value, uuid.UUID):
        return uuid.uuid4()
    if isinstance(value, int):
        return 2_000_000_000 + uuid.uuid4().int % 100_000_000
    return f"nobody{uuid.uuid4().hex[:8]}"


def nobody_like(tenant):
    """A tenant that does not exist: fresh ids of the same shapes, users and locations of no one."""
    workspace_id, theirs = str(uuid.uuid4()), str(tenant.workspace.pk)
    ids = {kind: _unknown_like(value) for kind, value in tenant.ids.items()}
    ids["manifest_uri"] = tenant.ids["manifest_uri"].replace(theirs, workspace_id)
    ids["connection_uri"] = f"s3://{_unknown_like('')}/"
    return SimpleNamespace(
        ids=ids, platform=tenant.platform,
        users={role: SimpleNamespace(username=_unknown_like("")) for role in tenant.users},
        uri=lambda path: tenant.uri(path).replace(theirs, workspace_id),
    )


@dataclass
class Answer:
    status: int
    text: str

    @property
    def errors(self) -> list[tuple[str, str | None]]:
        try:
            return sorted((e.get("code", ""), e.get("attr") or "") for e in json.loads(self.text).get("errors", []))
        except (ValueError, AttributeError):
            return []

    @property
    def signature(self):
        return self.status, self.errors

    def __str__(self):
        return f"{self.status} {self.text[:300]}"


class Caller:
    """A's owner over the WSGI app in-process, each request in a savepoint rolled back after it."""

    def __init__(self, tenant):
        self.tenant = tenant
        self.client = Client(raise_request_exception=False)

    def credential(self, operation) -> str | None:
        schemes = [name for alternative in operation.get("security", []) for name in alternative]
        if not schemes:
            return None
        if "ApiKey" in schemes:
            return f"Bearer {self.tenant.token}"
        for scheme, keyword in TOKEN_SCHEMES.items():
            if scheme in schemes:
                return f"{keyword} {getattr(self.tenant, keyword.lower() + '_token')}"
        raise LookupError(f"the matrix has no credential for security {schemes}")

    def __call__(self, method, url, operation, body=None) -> Answer:
        extra = {}
        credential = self.credential(operation)
        if credential:
            extra["HTTP_AUTHORIZATION"] = credential
        if isinstance(body, bytes):
            data, content_type = body, "application/octet-stream"
        else:
            data, content_type = json.dumps(body, default=str) if body is not None else "", "application/json"
        with transaction.atomic():
            response = self.client.generic(method.upper(), url, data=data, content_type=content_type, **extra)
            content = b"".join(response.streaming_content) if response.streaming else response.content
            transaction.set_rollback(True)
        return Answer(response.status_code, content.decode(errors="replace"))


def path_parameters(path) -> list[tuple[str, str | None]]:
    """(parameter, kind) of each path parameter: kind None for free ones, "public" for the public
    catalogues. LookupError for a parameter the matrix cannot fill."""
    segments = path.strip("/").split("/")
    found = []
    for index, segment in enumerate(segments):
        match = re.fullmatch(r"{(\w+)}", segment)
        if not match:
            continue
        name, before = match.group(1), segments[index - 1]
        if name in FREE_PARAMETERS:
            found.append((name, None))
        elif before in PUBLIC:
            found.append((name, "public"))
        elif before in PATH_KINDS:
            found.append((name, PATH_KINDS[before]))
        else:
            raise LookupError(f"no kind of resource is known for {{{name}}} after '{before}/': teach PATH_KINDS")
    return found


def fill(path, parameters, tenants) -> str:
    """The path with each parameter taken from the tenant given for it."""
    for (name, kind), tenant in zip(parameters, tenants, strict=True):
        value = FREE_PARAMETERS[name] if kind is None else tenant.ids[kind]
        path = path.replace(f"{{{name}}}", str(value))
    return path


@pytest.fixture
def tenants(local_root, local_backend, s3):
    shared = build_platform()
    return build_tenant("a", shared), build_tenant("b", shared)


def test_another_tenants_ids_answer_as_ids_that_do_not_exist(tenants):
    a, b = tenants
    nobody = nobody_like(b)
    call = Caller(a)
    secrets = [b.marker, *(str(value) for value in b.ids.values() if isinstance(value, uuid.UUID))]
    failures, public, checked = [], [], 0

    def fail(method, path, message):
        failures.append(f"{method.upper()} {path}: {message}")

    # Deletions last: what they remove from storage (a version's manifest) a rollback does not bring back.
    for method, path, operation in sorted(operations(), key=lambda op: op[0] == "delete"):
        try:
            parameters = path_parameters(path)
            call.credential(operation)
        except LookupError as exc:
            fail(method, path, str(exc))
            continue
        if any(kind == "public" for _, kind in parameters):
            public.append(f"{method.upper()} {path}")
            continue
        missing = sorted({kind for _, kind in parameters if kind and kind not in b.ids})
        if missing:
            fail(method, path, f"the tenants have no {', '.join(missing)}: teach tests/api/world.py")
            continue
        make_body = valid_body(method, path)
        if make_body is None and "requestBody" in operation:
            fail(method, path, "no valid body of A's to send: teach VALID_BODIES")
            continue
        query = valid_query(method, path, a)
        own_url = with_query(fill(path, parameters, [a] * len(parameters)), query)
        own = call(method, own_url, operation, make_body(a) if make_body else None)
        if own.status == 404 and parameters:
            fail(method, path, f"A's own ids answer 404, so the matrix proves nothing here: {own}")
        if own.status == 500:
            fail(method, path, f"A's own request answers {own}")
        if own.status < 300 and any(secret in own.text for secret in secrets):
            fail(method, path, f"A's answer shows B's data: {own}")

        # Paths: B's id at each parameter in turn, A's before it.
        token_route = any(scheme in TOKEN_SCHEMES for alt in operation.get("security", []) for scheme in alt)
        for position, (name, kind) in enumerate(parameters):
            if kind is None:
                continue
            theirs_url = with_query(fill(path, parameters, [a if i < position else b for i in range(len(parameters))]),
                                    query)
            never_url = with_query(
                fill(path, parameters, [a if i < position else nobody for i in range(len(parameters))]), query)
            theirs = call(method, theirs_url, operation, make_body(a) if make_body else None)
            never = call(method, never_url, operation, make_body(a) if make_body else None)
            checked += 1
            where = f"B's {kind} in {{{name}}} ({theirs_url})"
            if theirs.status < 400 or theirs.status >= 500:
                fail(method, path, f"{where} answers {theirs}")
            elif theirs.signature != never.signature:
                fail(method, path, f"{where} answers {theirs}, but an id that never existed answers {never}: "
                                   "the difference tells that B's exists")
            elif theirs.status != 404 and not token_route and own.status not in (401, 403):
                fail(method, path, f"{where} answers {theirs}; another tenant's resource must answer 404")

        # Bodies: B's reference in each field that names a resource.
        for field, schema in body_fields(operation):
            if _for(NOT_REFERENCES, method, path, field) or not _looks_like_reference(field, schema):
                continue
            reference, name = _for(BODY_REFERENCES, method, path, field), BODY_NAMES.get(field)
            if reference is None and name is None:
                fail(method, path, f"body field '{field}' looks like a reference the matrix does not know: "
                                   "teach BODY_REFERENCES (or NOT_REFERENCES, with the reason)")
                continue
            make = valid_body(method, path, field)
            control = call(method, own_url, operation, make(a))
            if control.status >= 300:
                fail(method, path, f"A's valid body answers {control}: fix VALID_BODIES, the check proves nothing")
                continue
            checked += 1
            if name is not None:
                theirs = call(method, own_url, operation, _set(make(a), field, name(b)))
                if theirs.status >= 300:
                    fail(method, path, f"B's {field} {name(b)!r} is refused for A: {theirs}; names are per tenant, "
                                       "a refusal tells A that B uses it")
                continue
            for refer in reference if isinstance(reference, tuple) else (reference,):
                theirs = call(method, own_url, operation, _set(make(a), field, refer(b)))
                never = call(method, own_url, operation, _set(make(a), field, refer(nobody)))
                where, head = f"B's {field} {refer(b)}", field.split(".")[0]
                if theirs.status < 400 or theirs.status >= 500 or theirs.status == 403:
                    fail(method, path, f"{where} answers {theirs}")
                elif not any(attr.split(".")[0] == head for _, attr in theirs.errors):
                    fail(method, path, f"{where} answers {theirs}, which does not name '{field}'")
                elif theirs.signature != never.signature:
                    fail(method, path, f"{where} answers {theirs}, but one that never existed answers {never}: "
                                       "the difference tells that B's exists")

        # Queries: B's reference in each query parameter that names a resource.
        for parameter in operation.get("parameters", []):
            name = parameter["name"]
            if parameter["in"] != "query" or _for(NOT_QUERY_REFERENCES, method, path, name):
                continue
            refer = _for(QUERY_REFERENCES, method, path, name)
            if refer is None:
                if _looks_like_reference(name, parameter.get("schema", {})):
                    fail(method, path, f"query parameter '{name}' looks like a reference the matrix does not know: "
                                       "teach QUERY_REFERENCES (or NOT_QUERY_REFERENCES, with the reason)")
                continue
            base = fill(path, parameters, [a] * len(parameters))
            control = call(method, with_query(base, _set_query(query, name, refer(a))), operation,
                           make_body(a) if make_body else None)
            if control.status >= 300:
                fail(method, path, f"A's own {name} answers {control}: teach VALID_QUERIES, the check proves nothing")
                continue
            checked += 1
            theirs = call(method, with_query(base, _set_query(query, name, refer(b))), operation,
                          make_body(a) if make_body else None)
            never = call(method, with_query(base, _set_query(query, name, refer(nobody))), operation,
                         make_body(a) if make_body else None)
            where = f"B's {name} {refer(b)}"
            if theirs.status >= 500 or theirs.status == 403:
                fail(method, path, f"{where} answers {theirs}")
            elif theirs.signature != never.signature:
                fail(method, path, f"{where} answers {theirs}, but one that never existed answers {never}: "
                                   "the difference tells that B's exists")
            elif theirs.status < 300 and any(secret in theirs.text for secret in secrets):
                fail(method, path, f"{where} shows B's data: {theirs}")

    assert not failures, f"{len(failures)} of the matrix's checks failed:\n" + "\n".join(failures)
    assert checked > 150 and public, (checked, public)
