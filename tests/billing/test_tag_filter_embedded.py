"""A bill line's cost-tag filter on the embedded SQLite database (`make run`'s default), which has
no JSON containment lookup: the same filter the API applies runs there on a table of its own."""

import copy

import pytest
from django.db import connections
from django.db.models import F

from aiplatform.sql import JSONKeyEquals
from billing.models import BillLine

EMBEDDED = "embedded"


@pytest.fixture
def embedded_lines(django_db_blocker):
    """BillLine's table alone in an in-memory SQLite database (no other table, so its foreign keys
    are not checked)."""
    connections.settings[EMBEDDED] = copy.deepcopy(connections.settings["default"]) | {
        "ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:", "OPTIONS": {}, "TEST": {}}
    with django_db_blocker.unblock():
        embedded = connections[EMBEDDED]
        with embedded.schema_editor() as editor:
            editor.create_model(BillLine)
        embedded.disable_constraint_checking()
        yield BillLine.objects.using(EMBEDDED)
        embedded.close()
    del connections[EMBEDDED]
    del connections.settings[EMBEDDED]


def test_the_tag_filter_runs_on_the_embedded_database(embedded_lines):
    assert connections[EMBEDDED].vendor == "sqlite"
    assert not connections[EMBEDDED].features.supports_json_field_contains
    tagged = {"search": {"team": "search", "env": "prod"}, "nlp": {"team": "nlp"}, "untagged": {},
              "odd": {"team:x": "search"}}
    embedded_lines.bulk_create(
        BillLine(bill_id=1, resource_type="workload", resource_id=name, resource_name=name, mode="pay_per_use",
                 unit="node_hour", quantity=1, unit_price=1, amount=1, tags=tags)
        for name, tags in tagged.items())

    def names(key, value):
        return sorted(embedded_lines.filter(JSONKeyEquals(F("tags"), (key, value))).values_list(
            "resource_name", flat=True))

    assert names("team", "search") == ["search"]
    assert names("team", "nlp") == ["nlp"]
    assert names("team", "") == []
    assert names("team:x", "search") == ["odd"]
    assert names("env", "prod") == ["search"]
