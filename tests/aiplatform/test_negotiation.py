import pytest
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.test import APIRequestFactory

from aiplatform.negotiation import ContentNegotiation


@pytest.mark.parametrize(("query", "headers"), [
    ("", {}),
    ("", {"HTTP_ACCEPT": "*/*"}),
    ("", {"HTTP_ACCEPT": "application/json"}),
    ("", {"HTTP_ACCEPT": "text/html"}),
    ("", {"HTTP_ACCEPT": "text/html,application/xhtml+xml,*/*;q=0.8"}),
    ("", {"HTTP_ACCEPT": "application/json; indent=4"}),
    ("?format=api", {}),
    ("?format=json", {"HTTP_ACCEPT": "*/*"}),
])
def test_chooses_the_renderer_drf_chooses(query, headers):
    renderers = [renderer() for renderer in api_settings.DEFAULT_RENDERER_CLASSES]
    request = Request(APIRequestFactory().get(f"/api/v1/me/{query}", **headers))
    chosen = ContentNegotiation().select_renderer(request, renderers)
    expected = DefaultContentNegotiation().select_renderer(request, renderers)
    assert (type(chosen[0]), chosen[1]) == (type(expected[0]), expected[1])
