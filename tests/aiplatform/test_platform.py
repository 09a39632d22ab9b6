"""OpenAPI schema, health probes, pagination bounds, Celery wiring and the demo bootstrap."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from aiplatform import services
from aiplatform.celery import app as celery_app
from aiplatform.celery import enqueue_on_commit
from aiplatform.models import Role
from aiplatform.tasks import purge_expired_idempotency_keys
from tests.conftest import client_for
from tests.factories import AccountMemberFactory, WorkspaceFactory

ROOT = Path(__file__).resolve().parents[2]


def test_openapi_schema_validates(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/v1/workspaces/" in (tmp_path / "schema.yaml").read_text()


@pytest.mark.django_db
def test_schema_and_docs_are_served(anonymous_client):
    assert anonymous_client.get("/api/schema/").status_code == 200
    assert anonymous_client.get("/api/docs/").status_code == 200


@pytest.mark.django_db
def test_healthz_and_readyz_with_services_up(anonymous_client):
    assert anonymous_client.get("/healthz").json() == {"status": "ok"}
    response = anonymous_client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json() == {"status": "ready"}  # anonymous callers learn ready or not, no more


@pytest.mark.django_db
def test_operators_see_readyz_details(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("operator", is_staff=True))
    body = client.get("/readyz").json()
    assert body == {"status": "ready", "checks": {"database": {"ok": True}, "broker": {"ok": True}}}


def readyz_in_process(**env):
    """Calls /readyz anonymously in a fresh process whose settings point at the given services;
    the answer, and what the process logged."""
    script = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/readyz', HTTP_HOST='127.0.0.1');"
        "print(json.dumps({'status': r.status_code, 'body': r.json()}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "aiplatform.settings", "BROKER_HEALTH_TIMEOUT": "1", **env},
    )
    assert result.returncode == 0, result.stderr
    return {**json.loads(result.stdout.strip().splitlines()[-1]), "log": result.stderr}


@pytest.mark.django_db
def test_readyz_reports_a_stopped_broker():
    settings_dict = connection.settings_dict
    live_database = (f"postgres://{settings_dict['USER']}@{settings_dict['HOST']}:{settings_dict['PORT']}/"
                     f"{settings_dict['NAME']}")
    answer = readyz_in_process(DATABASE_URL=live_database, CELERY_BROKER_URL="redis://127.0.0.1:1/0")
    assert answer["status"] == 503
    assert answer["body"] == {"status": "not ready"}
    assert "readyz: the broker check failed" in answer["log"]
    assert "database check failed" not in answer["log"]

    detailed = readyz_in_process(DATABASE_URL=live_database, CELERY_BROKER_URL="redis://127.0.0.1:1/0",
                                 READYZ_DETAILS="true")
    assert detailed["body"]["checks"]["database"] == {"ok": True}
    assert detailed["body"]["checks"]["broker"]["ok"] is False


def test_readyz_reports_a_stopped_database():
    answer = readyz_in_process(DATABASE_URL="postgres://postgres@127.0.0.1:1/test")
    assert answer["status"] == 503
    # The database's host, port and driver error are for the log, not for anyone who asks.
    assert answer["body"] == {"status": "not ready"}
    assert "127.0.0.1" not in json.dumps(answer["body"])
    assert "readyz: the database check failed: OperationalError" in answer["log"]
    assert "port 1" in answer["log"]


@pytest.mark.django_db
def test_page_size_is_bounded_and_queries_do_not_grow(db):
    admin = AccountMemberFactory(is_admin=True).user
    for _ in range(120):
        WorkspaceFactory(account=admin.account_member.account)
    client = client_for(admin)
    client.get("/api/v1/me/")  # the key's first use records its last-used time once
    counts = []
    for size in (5, 100):
        with CaptureQueriesContext(connection) as ctx:
            body = client.get("/api/v1/workspaces/", {"page_size": size}).json()
        counts.append(len(ctx.captured_queries))
        assert len(body["results"]) == size
    assert counts[0] == counts[1]
    assert len(client.get("/api/v1/workspaces/", {"page_size": 1000}).json()["results"]) == 100


@pytest.mark.django_db
def test_workspace_list_filters_and_orders(db):
    admin = AccountMemberFactory(is_admin=True).user
    for name in ("beta", "alpha", "gamma"):
        WorkspaceFactory(account=admin.account_member.account, name=name)
    client = client_for(admin)
    names = [w["name"] for w in client.get("/api/v1/workspaces/", {"ordering": "-name"}).json()["results"]]
    assert names == ["gamma", "beta", "alpha"]
    assert client.get("/api/v1/workspaces/", {"name": "alp"}).json()["count"] == 1


@pytest.mark.django_db(transaction=True)
def test_enqueue_on_commit_sends_only_after_commit():
    """The task reaches the real Redis broker only when the transaction commits."""
    queue = "test-enqueue-on-commit"
    with celery_app.connection_for_write() as conn:
        channel = conn.default_channel
        channel.queue_declare(queue=queue, auto_delete=False)
        channel.queue_purge(queue)
        sent = purge_expired_idempotency_keys.s().set(queue=queue)

        with transaction.atomic():
            enqueue_on_commit(sent)
            assert channel.queue_declare(queue=queue).message_count == 0
        assert channel.queue_declare(queue=queue).message_count == 1

        try:
            with transaction.atomic():
                enqueue_on_commit(sent)
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        assert channel.queue_declare(queue=queue).message_count == 1
        channel.queue_purge(queue)
        channel.queue_delete(queue)


def test_celery_is_configured_for_safe_retries():
    assert celery_app.conf.task_acks_late is True
    assert celery_app.conf.task_reject_on_worker_lost is True
    assert purge_expired_idempotency_keys.name in celery_app.tasks
    assert "purge-expired-idempotency-keys" in celery_app.conf.beat_schedule


@pytest.mark.django_db
def test_bootstrap_demo_is_repeatable(tmp_path, settings, capsys):
    settings.VAR_DIR = tmp_path
    call_command("bootstrap_demo")
    first = capsys.readouterr().out
    call_command("bootstrap_demo")
    second = capsys.readouterr().out
    token = (tmp_path / "demo-api-key.txt").read_text().strip()
    assert token in first and token in second
    api_key = services.authenticate_api_key(token=token)
    assert api_key is not None
    workspaces = client_for(api_key.user).get("/api/v1/workspaces/").json()["results"]
    assert [w["name"] for w in workspaces] == ["demo"]
    assert Role.OWNER in {m.role for m in api_key.user.memberships.all()}
