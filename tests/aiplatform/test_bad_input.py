"""Request bodies that used to answer 500: too large, too many form fields, JSON nested too deep, a
lone surrogate. Each gets a 4xx in the one error shape, and nothing is created."""

import io
import json
from urllib.parse import urlencode

import pytest
from django.conf import settings
from rest_framework.exceptions import ParseError

from aiplatform.models import ApiKey
from aiplatform.parsers import MAX_DEPTH, JSONParser
from tests.datasets.factories import DatasetFactory


def assert_error(response, status, code, detail_part):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["type"] == "client_error"
    assert len(body["errors"]) == 1
    error = body["errors"][0]
    assert error["code"] == code and error["attr"] is None
    assert detail_part in error["detail"]


def post_json(client, path, text: str | bytes):
    return client.post(path, data=text, content_type="application/json")


@pytest.mark.django_db
def test_a_body_over_the_limit_gets_413(developer, developer_client):
    body = json.dumps({"name": "k", "padding": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
    assert_error(post_json(developer_client, "/api/v1/api-keys/", body), 413, "request_too_large",
                 f"larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes")
    assert not ApiKey.objects.filter(user=developer, name="k").exists()


@pytest.mark.django_db
def test_the_largest_documented_batch_fits(workspace, developer_client):
    """1,000 samples with 8 kB of text each (about 8.5 MB of JSON) go in one request."""
    dataset = DatasetFactory(workspace=workspace, type="text_classification")
    samples = [{"source": f"content://sample {i}", "metadata": {"text": f"{i:08d}" * 1000}} for i in range(1000)]
    body = json.dumps({"samples": samples})
    assert len(body) > 8_000_000
    response = post_json(developer_client, f"/api/v1/workspaces/{workspace.id}/datasets/{dataset.id}/samples/", body)
    assert response.status_code == 201, response.content[:500]
    assert response.json()["count"] == 1000


@pytest.mark.django_db
def test_too_many_form_fields_or_query_parameters_get_400(developer, developer_client):
    fields = {"name": "k", **{f"f{i}": "x" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS)}}
    response = developer_client.post("/api/v1/api-keys/", data=urlencode(fields),
                                     content_type="application/x-www-form-urlencoded")
    assert_error(response, 400, "too_many_fields", f"more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}")
    assert not ApiKey.objects.filter(user=developer, name="k").exists()

    response = developer_client.get("/api/v1/workspaces/?" + urlencode({f"q{i}": "1" for i in range(1001)}))
    assert_error(response, 400, "too_many_fields", "query parameters")


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1000, 5000])
def test_json_nested_too_deep_gets_400(developer, developer_client, depth):
    body = '{"name": "k", "deep": ' + "[" * depth + "]" * depth + "}"
    expected = f"nested deeper than {MAX_DEPTH} levels" if depth <= 1000 else "not valid JSON"
    assert_error(post_json(developer_client, "/api/v1/api-keys/", body), 400, "parse_error", expected)
    assert list(ApiKey.objects.filter(user=developer).values_list("name", flat=True)) == ["test"]  # the client's own


@pytest.mark.django_db
@pytest.mark.parametrize("body", [
    r'{"name": "a\ud800b"}',
    r'{"name": "\udc00"}',
    r'{"\ud800": 1, "name": "k"}',
    # An integer beyond 64 bits sends the document through the standard library's parser.
    r'{"name": "a\ud800", "expires_at": null, "n": 12345678901234567890}',
])
def test_a_lone_surrogate_gets_400(developer, developer_client, body):
    response = post_json(developer_client, "/api/v1/api-keys/", body)
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "parse_error"
    assert "surrogate" in response.json()["errors"][0]["detail"]
    assert list(ApiKey.objects.filter(user=developer).values_list("name", flat=True)) == ["test"]  # the client's own


@pytest.mark.django_db
def test_a_surrogate_pair_is_a_character(developer_client):
    response = post_json(developer_client, "/api/v1/api-keys/", r'{"name": "ci \ud83d\ude80"}')
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "ci \U0001f680"


def parse(body: bytes, encoding="utf-8"):
    return JSONParser().parse(io.BytesIO(body), "application/json", {"encoding": encoding})


def test_parser_reads_what_drf_reads():
    assert parse(b'{"a": [1, 2.5, "x", null, true], "b": {"c": {}}}') == {"a": [1, 2.5, "x", None, True],
                                                                         "b": {"c": {}}}
    assert parse(b"\xef\xbb\xbf[1]") == [1]
    assert parse(b'"plain"') == "plain" and parse(b"7") == 7
    assert parse(b'{"n": 18446744073709551615, "m": -9223372036854775808}') == {
        "n": 2**64 - 1, "m": -(2**63)}  # the edges of what answers can show
    for beyond in (b'{"n": 18446744073709551616}', b"[-9223372036854775809]",
                   b'{"a": [123456789012345678901234567890]}'):
        with pytest.raises(ParseError, match="outside"):
            parse(beyond)
    assert parse('{"name": "café"}'.encode("latin-1"), encoding="latin-1") == {"name": "café"}


def test_parser_depth_bound():
    assert parse(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    assert parse(b'{"a": ' * (MAX_DEPTH - 1) + b"[1]" + b"}" * (MAX_DEPTH - 1))
    with pytest.raises(ParseError, match="nested deeper"):
        parse(b'{"a": ' * MAX_DEPTH + b"[1]" + b"}" * MAX_DEPTH)


@pytest.mark.parametrize("body", [b"NaN", b'{"a": Infinity}', b"[-Infinity]", b"{not json", b"\xff\xfe"])
def test_parser_refuses_what_json_does_not_allow(body):
    with pytest.raises(ParseError, match="JSON parse error"):
        parse(body)
