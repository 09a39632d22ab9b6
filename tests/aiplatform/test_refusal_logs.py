"""Expected refusals (403, 404, 503) are logged as one line each, with no traceback and no
got_request_exception (which error trackers take for a crash)."""

import logging

import pytest
from django.core.signals import got_request_exception

from aiplatform import outbox
from aiplatform.models import Role
from tests.conftest import client_for
from tests.datasets.factories import DatasetFactory
from tests.factories import WorkspaceFactory, member_of


@pytest.fixture
def broker_down():
    outbox.broker.mark(False)
    yield
    outbox.broker.mark(True)


@pytest.fixture
def reported():
    """The requests Django was told failed with an exception."""
    seen = []

    def receiver(sender, request=None, **kwargs):
        seen.append(request.path if request is not None else None)

    got_request_exception.connect(receiver, weak=False)
    yield seen
    got_request_exception.disconnect(receiver)


def request_log(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "django.request"]


@pytest.mark.django_db(transaction=True)
def test_refusals_are_one_line_each(workspace, developer_client, broker_down, reported, caplog):
    viewer = client_for(member_of(workspace, Role.VIEWER))
    theirs = WorkspaceFactory()
    dataset = DatasetFactory(workspace=workspace, output_uri=f"file://ws-{workspace.pk}/out")
    caplog.set_level(logging.INFO)
    developer_client.raise_request_exception = False
    answers = {
        404: developer_client.get(f"/api/v1/workspaces/{theirs.pk}/datasets/"),
        403: viewer.post(f"/api/v1/workspaces/{workspace.pk}/datasets/", {"name": "x"}, format="json"),
        503: developer_client.post(f"/api/v1/workspaces/{workspace.pk}/datasets/{dataset.pk}/versions/",
                                   {"name": "v1"}, format="json"),
    }
    assert {status: answer.status_code for status, answer in answers.items()} == {404: 404, 403: 403, 503: 503}
    records = request_log(caplog)
    assert [r.status_code for r in records] == [404, 403, 503]
    for record in records:
        assert record.exc_info is None and "\n" not in record.getMessage(), record.getMessage()
    assert reported == []
