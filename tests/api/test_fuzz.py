"""The OpenAPI schema fuzzed with schemathesis as every role: no generated input, and no chain of
calls that passes one answer's ids to the next operation, may produce a server error.

The roles are a workspace's owner, developer, annotator and viewer, an admin of its account who is
not a member (account admins act as owners), and a platform operator (Django staff). Owners,
developers, account admins and operators call with their API keys; annotators and viewers may
hold none (the API refuses to make them one), so they call with a console session and its CSRF
token. Requests go in-process to the WSGI app. The run is bounded and repeatable: a fixed seed,
derandomized Hypothesis, few examples per operation and short chains."""

import copy
import re

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, settings
from schemathesis.config import SchemathesisConfig

from aiplatform.wsgi import application
from tests.api.openapi import METHODS, raw_schema, resolve
from tests.api.world import ROLES, build_platform, build_team, build_tenant, credentials

HEALTH_CHECKS = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much]


def with_links(raw: dict) -> dict:
    """The schema with OpenAPI links (drf-spectacular emits none): from a creating POST's `id`, and
    from the first `id` of a list, to every operation on that resource and under it (the parameter
    after the collection's path), the other path parameters as in the request. Schemathesis'
    stateful phase follows them."""
    schema = copy.deepcopy(raw)
    paths = schema["paths"]
    for source, item in paths.items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            for status, response in operation.get("responses", {}).items():
                pointer = _id_pointer(method, status, response)
                if pointer is None:
                    continue
                for target, target_item in paths.items():
                    match = re.fullmatch(re.escape(source) + r"{(\w+)}/?.*", target)
                    if not match:
                        continue
                    parameters = {name: f"$request.path.{name}" for name in re.findall(r"{(\w+)}", source)}
                    parameters[match.group(1)] = f"$response.body#{pointer}"
                    for target_method, target_operation in target_item.items():
                        if target_method in METHODS:
                            response.setdefault("links", {})[target_operation["operationId"]] = {
                                "operationId": target_operation["operationId"], "parameters": parameters}
    return schema


def _id_pointer(method: str, status: str, response: dict) -> str | None:
    """Where the answer carries a resource's id: a created resource's `id`, a list's first `id`."""
    body = resolve(response.get("content", {}).get("application/json", {}).get("schema", {}))
    if method == "post" and status in ("201", "202") and "id" in body.get("properties", {}):
        return "/id"
    results = resolve(body.get("properties", {}).get("results", {}))
    if method == "get" and status == "200" and "id" in resolve(results.get("items", {})).get("properties", {}):
        return "/results/0/id"
    return None


CONFIG = SchemathesisConfig.from_dict({
    "seed": 25,
    # Callers authenticate as their role; generated credentials would only test the 401 path.
    "generation": {"with-security-parameters": False},
    # The links are with_links' alone, not links schemathesis would guess.
    "phases": {"stateful": {"inference": {"algorithms": []}}},
})
schema = schemathesis.openapi.from_dict(raw_schema(), config=CONFIG)


def workspace_schema(workspace_id: str):
    """The schema with one workspace's id written into its paths, and with links. Its lists and
    creating POSTs then take no parameter, so chains start from them, in the workspace that holds
    the resources, instead of from random ids that only ever meet a 404."""
    raw = copy.deepcopy(raw_schema())
    raw["paths"] = {
        path.replace("{workspace_id}", workspace_id): {
            method: {**operation, "parameters": [p for p in operation.get("parameters", [])
                                                 if p.get("name") != "workspace_id"]}
            if method in METHODS else operation
            for method, operation in item.items()}
        for path, item in raw["paths"].items()}
    return schemathesis.openapi.from_dict(with_links(raw), config=CONFIG)


def not_a_server_error(response) -> bool:
    # 503 is the answer that says "not now" (a TensorBoard not running yet, the compute backend unreachable).
    return response.status_code < 500 or response.status_code == 503


@pytest.fixture
def keep_test_connection():
    """Like Django's test client: the test's transaction must outlive each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def callers(db, keep_test_connection, local_root, local_backend, s3):
    team = build_team("fuzz", build_platform())
    return str(team.workspace.pk), credentials(team)


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=HEALTH_CHECKS)
def test_no_input_produces_a_server_error(case, callers):
    """Each generated request as every role; the coverage phase's hundred-odd boundary and
    malformed inputs per operation as the owner only, who gets past every role check."""
    workspace_id, calls = callers
    if "workspace_id" in (case.path_parameters or {}):
        case.path_parameters["workspace_id"] = workspace_id
    coverage = getattr(getattr(case.meta, "phase", None), "name", None) == "coverage"
    for role in ("owner",) if coverage else ROLES:
        response = case.call(app=application, **calls[role])
        assert not_a_server_error(response), (
            f"as {role}: {case.method} {case.formatted_path} {case.body!r:.300}: {response.status_code} "
            f"{response.text[:500]}")


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_no_chain_of_calls_produces_a_server_error(role, keep_test_connection, local_root, local_backend, s3):
    """Chains that follow the links from what a role creates or lists to what it then reads,
    changes, stops or deletes, in a workspace that holds one of every resource."""
    tenant = build_tenant("fuzz", build_platform())
    call, workspace_id = credentials(tenant)[role], str(tenant.workspace.pk)
    # Kept here as well: when Hypothesis replays a failing chain it may stop on its own error first.
    errors = []

    class Workflow(workspace_schema(workspace_id).as_state_machine()):
        def setup(self):
            # Each chain starts from the same workspace: what one changed is rolled back after it.
            self.chain = transaction.atomic()
            self.chain.__enter__()

        def teardown(self):
            transaction.set_rollback(True)
            self.chain.__exit__(None, None, None)
            super().teardown()

        def get_call_kwargs(self, case):
            return {"app": application, **call}

        def call(self, case, **kwargs):
            try:
                return super().call(case, **kwargs)
            except Exception as exc:
                errors.append(f"as {role}: {case.method} {case.formatted_path} {case.body!r:.300}: raised {exc!r}")
                raise

        def validate_response(self, response, case, **kwargs):
            if not not_a_server_error(response):
                errors.append(f"as {role}: {case.method} {case.formatted_path} {case.body!r:.300}: "
                              f"{response.status_code} {response.text[:500]}")
                raise AssertionError(errors[-1])

    # No shrinking: a failing chain is reported as found (the message names the request), which
    # keeps a failing run as short as a passing one.
    try:
        Workflow.run(settings=settings(max_examples=15, stateful_step_count=8, deadline=None, derandomize=True,
                                       phases=[Phase.generate], suppress_health_check=list(HealthCheck)))
    except Exception:
        if not errors:
            raise
    assert not errors, "\n".join(dict.fromkeys(errors))
