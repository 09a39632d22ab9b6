"""The SDK against a running platform (gunicorn behind the gateway, PostgreSQL, Redis): every
operation of the live schema has a method, calls are typed, lists page lazily, errors come in one
hierarchy, a retried create creates once, uploads land whole; and against servers that misbehave
on purpose: drops, 429s, 5xx, timeouts, interrupted downloads."""

import hashlib
import inspect
import json
import time
from decimal import Decimal

import aiplatform_sdk
import pytest
import requests
from aiplatform_sdk import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    Client,
    ConfigurationError,
    InternalServerError,
    NotFoundError,
    OperationFailedError,
    RateLimitError,
    ServiceUnavailableError,
    WaitTimeoutError,
)
from aiplatform_sdk._generated import resources
from aiplatform_sdk._http import MAX_RETRY_AFTER, retry_delay
from aiplatform_sdk._resource import OPERATION_ATTRIBUTE, Resource
from aiplatform_sdk._waiters import TRAINING_JOB, wait_for
from aiplatform_sdk.models import Dataset, TrainingJob, Workspace

from datasets.models import Dataset as DatasetRow
from tests.factories import MembershipFactory, WorkspaceFactory, api_token, member_of

from .conftest import answer, drop_connection, forward_to

pytestmark = pytest.mark.django_db(transaction=True)
MIB = 1024 * 1024


def client_for(platform, tenant, **options) -> Client:
    return Client(base_url=platform.url, api_key=tenant.token, workspace=tenant.workspace.pk, **options)


# --- coverage -----------------------------------------------------------------------------------


def sdk_methods() -> dict[tuple[str, str], str]:
    """Every method of every resource class that calls an API operation, by operation."""
    found = {}
    pending = [Resource]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        for name, member in inspect.getmembers(cls, inspect.isfunction):
            operation = getattr(member, OPERATION_ATTRIBUTE, None)
            if operation:
                found[operation] = f"{cls.__name__}.{name}"
    for name, member in inspect.getmembers(resources.RootResources, inspect.isfunction):
        if getattr(member, OPERATION_ATTRIBUTE, None):
            found[getattr(member, OPERATION_ATTRIBUTE)] = f"Client.{name}"
    return found


def test_every_operation_of_the_live_schema_has_an_sdk_method(platform, sdk_env):
    schema = requests.get(f"{platform.url}/api/schema/", params={"format": "json"}, timeout=120).json()
    live = {(method.upper(), path) for path, operations in schema["paths"].items() for method in operations
            if method in ("get", "post", "put", "patch", "delete")}
    methods = sdk_methods()
    missing = sorted(live - set(methods))
    assert not missing, f"API operations without an SDK method (run `make sdk-generate`): {missing}"
    stale = sorted(set(methods) - live)
    assert not stale, f"SDK methods of operations the API no longer has (run `make sdk-generate`): {stale}"
    assert set(aiplatform_sdk.OPERATIONS) == live


# --- calls, types, pages, errors ----------------------------------------------------------------


def test_typed_calls_lazy_pages_and_filters(platform, tenant, sdk_env):
    with client_for(platform, tenant) as client:
        made = [client.datasets.create(name=f"news-{i}", type="text_classification",
                                       labels=[{"name": "sport"}, {"name": "weather"}]) for i in range(5)]
        assert all(isinstance(d, Dataset) for d in made)
        assert made[0].labels[0].name == "sport" and made[0].created_at.tzinfo is not None
        listing = client.datasets.list(page_size=2, ordering="name")
        pages = list(listing.pages())
        assert [len(p.items) for p in pages] == [2, 2, 1] and pages[0].count == 5
        assert [d.name for d in listing] == [f"news-{i}" for i in range(5)]
        assert client.datasets.list(name="news-3").to_list()[0].id == made[3].id

        samples = client.datasets.samples(made[0])
        for start in (0, 125):
            samples.create(samples=[{"source": f"content://match {i}", "metadata": {"text": f"match {i}"},
                                     "annotations": [{"name": "sport" if i % 2 else "weather"}]}
                                    for i in range(start, start + 125)])
        cursor_pages = list(samples.list(page_size=100).pages())
        assert [len(p.items) for p in cursor_pages] == [100, 100, 50] and cursor_pages[0].count is None
        sport = samples.list(label="sport", page_size=1000).to_list()
        assert len(sport) == 125 and {s.annotations[0]["name"] for s in sport} == {"sport"}
        # The workspace defaults to the key's only one; another client shares the connections.
        alone = Client(base_url=platform.url, api_key=tenant.token)
        assert alone.workspace_id == str(tenant.workspace.pk)
        assert alone.with_options(max_retries=0).datasets.retrieve(made[1]).name == "news-1"


def test_unknown_fields_are_kept_and_money_stays_decimal():
    workspace = Workspace.model_validate({
        "id": "w", "name": "team", "account": "acme", "storage_uri": "file://ws-w/",
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
        "a_field_of_a_later_server": {"x": 1}})
    assert workspace.a_field_of_a_later_server == {"x": 1}
    assert workspace.to_dict()["a_field_of_a_later_server"] == {"x": 1}
    assert workspace.created_at.tzinfo is not None
    bill = aiplatform_sdk.models.Bill.model_validate({
        "id": 1, "account": "a", "period": "2026-01-01", "scope": "account", "total": "3500.00", "currency": "CNY",
        "closed": False, "generated_at": "2026-02-01T00:00:00Z"})
    assert bill.total == Decimal("3500.00")


def test_errors_carry_status_code_fields_and_request_id(platform, tenant, sdk_env):
    client = client_for(platform, tenant)
    with pytest.raises(BadRequestError) as bad:
        client.datasets.create(name="", type="text_classification")
    assert bad.value.status_code == 400 and bad.value.code == "blank" and "name" in bad.value.fields
    assert bad.value.request_id and bad.value.request_id.startswith("sdk-")
    other = WorkspaceFactory()
    theirs = DatasetRow.objects.create(workspace=other, name="theirs", type="text_classification")
    with pytest.raises(NotFoundError) as missing:
        client.datasets.retrieve(theirs.pk)
    assert missing.value.status_code == 404
    with pytest.raises(NotFoundError):
        client.with_options(workspace=other.pk).datasets.list().to_list()
    with pytest.raises(AuthenticationError) as denied:
        Client(base_url=platform.url, api_key="aip_wrong_key", workspace=tenant.workspace.pk).datasets.list().first()
    assert denied.value.status_code == 401 and "invalid" in str(denied.value)
    with pytest.raises(ConfigurationError, match="AIP_API_KEY"):
        Client(base_url=platform.url)
    MembershipFactory(workspace=WorkspaceFactory(account=tenant.workspace.account), user=tenant.user)
    with pytest.raises(ConfigurationError, match="Choose a workspace"):
        _ = Client(base_url=platform.url, api_key=tenant.token).workspace_id


def test_a_create_whose_answer_is_lost_is_retried_and_creates_once(platform, tenant, sdk_env, misbehaving):
    proxy = misbehaving(forward_to(platform.url, drop_answer=True), forward_to(platform.url))
    client = Client(base_url=proxy.url, api_key=tenant.token, workspace=tenant.workspace.pk)
    dataset = client.datasets.create(name="once", type="text_classification")
    assert DatasetRow.objects.filter(workspace=tenant.workspace, name="once").count() == 1
    assert str(DatasetRow.objects.get(name="once").pk) == dataset.id
    first, second = proxy.requests
    assert first["headers"]["Idempotency-Key"] == second["headers"]["Idempotency-Key"]
    assert first["headers"]["Idempotency-Key"].startswith("sdk-")
    # Another call is another create.
    client.datasets.create(name="twice", type="text_classification")
    assert len({r["headers"]["Idempotency-Key"] for r in proxy.requests}) == 2


# --- faults -----------------------------------------------------------------------------------


def test_429_with_retry_after_is_waited_for_and_5xx_retried_then_raised(misbehaving, sdk_env):
    ok = answer(200, json.dumps({"count": 0, "next": None, "previous": None, "results": []}).encode())
    limited = answer(429, b'{"type":"client_error","errors":[{"code":"throttled","detail":"Too many","attr":null}]}',
                     {"Retry-After": "0"})
    server = misbehaving(limited, ok)
    client = Client(base_url=server.url, api_key="k", workspace="w")
    assert client.datasets.list().to_list() == []
    assert len(server.requests) == 2

    far = misbehaving(answer(429, b'{"type":"client_error","errors":[]}', {"Retry-After": "3600"}))
    with pytest.raises(RateLimitError) as limit:
        Client(base_url=far.url, api_key="k", workspace="w").datasets.list().first()
    assert limit.value.retry_after == 3600 and len(far.requests) == 1  # not waited for: an hour is too long

    broken = misbehaving(answer(500, b"<html>Internal Server Error</html>", {"Content-Type": "text/html"}))
    with pytest.raises(InternalServerError) as failed:
        Client(base_url=broken.url, api_key="k", workspace="w", max_retries=2).datasets.retrieve("d")
    assert failed.value.status_code == 500 and len(broken.requests) == 3

    busy = misbehaving(answer(503, b'{"type":"server_error","errors":[{"code":"database_unavailable",'
                                   b'"detail":"The database cannot be reached","attr":null}]}', {"Retry-After": "0"}))
    with pytest.raises(ServiceUnavailableError) as unavailable:
        Client(base_url=busy.url, api_key="k", workspace="w", max_retries=1).datasets.create(
            name="x", type="text_classification")
    assert unavailable.value.code == "database_unavailable" and len(busy.requests) == 2
    keys = {r["headers"]["Idempotency-Key"] for r in busy.requests}
    assert len(keys) == 1  # the retried POST kept its key

    refused = misbehaving(answer(400, b'{"type":"validation_error","errors":[{"code":"invalid","detail":"no",'
                                      b'"attr":"name"}]}'))
    with pytest.raises(BadRequestError):
        Client(base_url=refused.url, api_key="k", workspace="w").datasets.create(name="x", type="text_classification")
    assert len(refused.requests) == 1  # a 400 is not retried


def test_dropped_connections_timeouts_and_a_server_that_is_down(misbehaving, sdk_env):
    ok = answer(200, json.dumps({"id": 1, "username": "u", "email": "", "is_operator": False, "account": None,
                                 "workspaces": []}).encode())
    flaky = misbehaving(drop_connection, ok)
    assert Client(base_url=flaky.url, api_key="k").me().username == "u"
    assert len(flaky.requests) == 2

    def slow(handler, number):
        time.sleep(1.5)
        ok(handler, number)

    late = misbehaving(slow)
    with pytest.raises(APITimeoutError, match="timed out"):
        Client(base_url=late.url, api_key="k", timeout=0.3, max_retries=1).me()
    assert len(late.requests) == 2

    down = misbehaving(ok)
    address = down.url
    down.close()
    with pytest.raises(APIConnectionError, match="Could not reach the platform"):
        Client(base_url=address, api_key="k", max_retries=0).me()


def test_an_interrupted_download_leaves_no_file_and_says_so(misbehaving, sdk_env, tmp_path):
    def cut_short(handler, number):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/csv")
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        handler.wfile.write(b"period,amount\n" * 10)
        handler.wfile.flush()
        drop_connection(handler, number)

    server = misbehaving(cut_short)
    target = tmp_path / "bill.csv"
    with pytest.raises(APIConnectionError, match="interrupted after 140 of 100000 bytes"):
        Client(base_url=server.url, api_key="k", max_retries=1).billing.bills.download_csv(7, save_to=target)
    assert len(server.requests) == 2 and not target.exists() and not list(tmp_path.glob("bill.csv*"))


def test_backoff_grows_with_jitter_and_honours_retry_after():
    assert retry_delay(0, 2.0) == 2.0
    for attempt, ceiling in ((0, 0.5), (1, 1.0), (2, 2.0), (6, 8.0)):
        delays = {retry_delay(attempt, None) for _ in range(20)}
        assert all(0.75 * ceiling <= d <= ceiling for d in delays) and len(delays) > 1
    assert 0.375 <= retry_delay(0, MAX_RETRY_AFTER + 1) <= 0.5


def test_waiting_raises_with_the_servers_reason_or_on_timeout():
    states = iter(["queued", "running", "failed"])

    def fetch():
        phase = next(states)
        return TrainingJob.model_construct(phase=phase, status={"message": "exit code 3 on worker-0"})

    class Status:
        def __init__(self, message):
            self.message = message

    def fetch_with_status():
        job = fetch()
        job.status = Status(job.status["message"])
        return job

    with pytest.raises(OperationFailedError, match="training job is failed: exit code 3 on worker-0"):
        wait_for(fetch_with_status, TRAINING_JOB, poll_interval=0.01)
    with pytest.raises(WaitTimeoutError, match="still queued"):
        wait_for(lambda: TrainingJob.model_construct(phase="queued", status=None), TRAINING_JOB, timeout=0)
    done = wait_for(lambda: TrainingJob.model_construct(phase="running", status=None), TRAINING_JOB,
                    until="running")
    assert done.phase == "running"


# --- uploads ------------------------------------------------------------------------------------


def test_uploads_land_whole_in_the_workspaces_own_location(platform, tenant, sdk_env, tmp_path):
    client = client_for(platform, tenant)
    root = client.workspaces.retrieve(tenant.workspace.pk).storage_uri
    data = bytes(range(256)) * (6 * MIB // 256) + b"tail"
    placed = client.uploads.upload_file(data, f"{root}models/weights.bin", progress=False)
    assert placed.size == len(data)
    stored = platform.var / "storage" / f"ws-{tenant.workspace.pk}" / "models" / "weights.bin"
    assert hashlib.sha256(stored.read_bytes()).digest() == hashlib.sha256(data).digest()

    folder = tmp_path / "images"
    (folder / "cats").mkdir(parents=True)
    (folder / "cats" / "1.jpg").write_bytes(b"\xff\xd8one")
    (folder / "2.png").write_bytes(b"\x89PNGtwo")
    (folder / ".hidden").write_text("left out")
    placed = client.uploads.upload_folder(folder, f"{root}images", progress=False)
    assert sorted(o.uri for o in placed) == [f"{root}images/2.png", f"{root}images/cats/1.jpg"]
    with pytest.raises(BadRequestError) as refused:
        client.uploads.upload_file(b"x", f"file://ws-{WorkspaceFactory().pk}/stolen.bin")
    assert "uri" in refused.value.fields
    with pytest.raises(AuthenticationError):
        Client(base_url=platform.url, api_key=api_token(member_of(tenant.workspace)) + "x",
               workspace=tenant.workspace.pk).uploads.upload_file(b"x", f"{root}x.bin")
