"""A notebook's JupyterLab through the gateway (uvicorn on loopback, in a thread) with the
platform's credentials: its pages and REST API over HTTP, a kernel executing `1+1` over its
websocket, with an API key or a browser's console session (changes and websockets only from the
platform's origin); another workspace's user, a viewer and an anonymous caller refused; a stopped
notebook's URL answering with its state. Cost: one JupyterLab (about twenty seconds)."""

import asyncio
import json
import threading
import time
import uuid

import aiohttp
import pytest
import requests
import uvicorn
from django.conf import settings
from django.test import Client

from aiplatform.models import Role
from gateway.app import Gateway
from notebooks import services
from resourcepools.models import Phase
from tests.factories import WorkspaceFactory, api_token, member_of
from tests.gateway.conftest import free_port, gateway_settings  # noqa: F401  (the gateway's settings)

from .conftest import body, drive, url, wait_ready

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def gateway(gateway_settings):  # noqa: F811
    """The gateway with the compute backend's own endpoints (the notebook's Jupyter server)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(Gateway(), host="127.0.0.1", port=port, lifespan="on",
                                           log_level="warning", access_log=False, ws="auto"))
    thread = threading.Thread(target=server.run, daemon=True, name="gateway")
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.02)
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    thread.join(15)


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {api_token(user)}"}


def execute_request(code: str) -> dict:
    return {"header": {"msg_id": uuid.uuid4().hex, "username": "test", "session": uuid.uuid4().hex,
                       "msg_type": "execute_request", "version": "5.3", "date": "2026-01-01T00:00:00Z"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}


async def execute(socket_url: str, headers: dict, code: str) -> str:
    """Run `code` in the kernel over its websocket; the execute_result's text."""
    async with aiohttp.ClientSession() as session, session.ws_connect(socket_url, headers=headers) as socket:
        request = execute_request(code)
        await socket.send_str(json.dumps(request))
        async for message in socket:
            reply = json.loads(message.data)
            if reply["parent_header"].get("msg_id") == request["header"]["msg_id"] \
                    and reply["msg_type"] == "execute_result":
                return reply["content"]["data"]["text/plain"]
    raise AssertionError("the kernel's websocket closed without a result")


def console_session(user) -> dict:
    """The cookie a browser holds once the user signed in to the console."""
    client = Client()
    client.force_login(user)
    return {"Cookie": f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"}


async def refused_handshake(socket_url: str, headers: dict) -> int:
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(socket_url, headers=headers):
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status


def test_jupyterlab_and_a_kernel_websocket_through_the_gateway(workspace, developer, developer_client, pool,
                                                                 local_backend, eager, gateway):
    created = developer_client.post(url(workspace), body(pool), format="json").json()
    assert drive(eager, created["id"]).phase == Phase.RUNNING
    wait_ready(created["id"])
    lab = f"http://{gateway}{created['url']}"
    token = services.notebook_token(created["id"])

    page = requests.get(f"{lab}lab", headers=bearer(developer), timeout=30)
    assert page.status_code == 200 and "JupyterLab" in page.text and token not in page.text
    status = requests.get(f"{lab}api/status", headers=bearer(developer), timeout=30)
    assert status.status_code == 200 and "last_activity" in status.json()

    kernel = requests.post(f"{lab}api/kernels", json={"name": "python3"}, headers=bearer(developer), timeout=60)
    assert kernel.status_code == 201, kernel.text
    channels = f"ws://{gateway}{created['url']}api/kernels/{kernel.json()['id']}/channels"
    assert asyncio.run(asyncio.wait_for(execute(channels, bearer(developer), "1+1"), 60)) == "2"

    # Another workspace's member finds no such notebook; a viewer may not run code; nobody anonymous.
    stranger = member_of(WorkspaceFactory(), Role.OWNER)
    viewer = member_of(workspace, Role.VIEWER)
    assert requests.get(f"{lab}api/status", headers=bearer(stranger), timeout=30).status_code == 404
    assert requests.get(f"{lab}api/status", headers=bearer(viewer), timeout=30).status_code == 403
    assert requests.get(f"{lab}api/status", timeout=30).status_code == 401
    assert asyncio.run(refused_handshake(channels, bearer(stranger))) == 404
    assert asyncio.run(refused_handshake(channels, {})) == 401

    # A browser signed in to the console: pages with its cookie; changes and websockets only from
    # the platform's own origin (a cookie goes along from any site).
    browser = console_session(developer)
    assert requests.get(f"{lab}lab", headers=browser, timeout=30).status_code == 200
    assert requests.post(f"{lab}api/kernels", json={}, headers=browser, timeout=30).status_code == 403
    assert requests.post(f"{lab}api/kernels", json={}, headers={**browser, "Origin": "http://evil.example"},
                         timeout=30).status_code == 403
    own = {**browser, "Origin": f"http://{gateway}"}
    assert requests.post(f"{lab}api/kernels", json={"name": "python3"}, headers=own, timeout=60).status_code == 201
    assert asyncio.run(refused_handshake(channels, browser)) == 403
    assert asyncio.run(asyncio.wait_for(execute(channels, own, "6*7"), 60)) == "42"
    assert requests.get(f"{lab}lab", headers=console_session(stranger), timeout=30).status_code == 404

    with eager():
        developer_client.post(url(workspace, f"{created['id']}/stop/"))
    drive(eager, created["id"], until=(Phase.STOPPED,))
    stopped = requests.get(f"{lab}lab", headers=bearer(developer), timeout=30)
    assert stopped.status_code == 409
    error = stopped.json()["errors"][0]
    assert error["code"] == "notebook_not_running" and "stopped" in error["detail"]
