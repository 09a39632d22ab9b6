"""k8s.forwarder, the sandbox's network bridge, as its own process: it binds before it says so,
carries bytes both ways with half-closes, and closes what it cannot carry."""

import json
import os
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager

import pytest

from k8s.forwarder import format_address, parse_address


@pytest.mark.parametrize(("text", "address"), [
    ("tcp:127.0.0.1:8000", ("tcp", "127.0.0.1", 8000)),
    ("tcp:[::1]:443", ("tcp", "::1", 443)),
    ("tcp:platform.local:0", ("tcp", "platform.local", 0)),
    ("unix:/aip/run/platform.sock", ("unix", "/aip/run/platform.sock")),
])
def test_addresses_parse_and_format_back(text, address):
    assert parse_address(text) == address
    assert format_address(address) == text


@pytest.mark.parametrize("text", ["tcp:8000", "tcp:host:port", "unix:", "udp:127.0.0.1:53", "127.0.0.1:80"])
def test_bad_addresses_are_refused(text):
    with pytest.raises(ValueError, match="is not tcp:HOST:PORT or unix:PATH"):
        parse_address(text)


def start(pairs, *extra, pass_fds=()):
    return subprocess.Popen([sys.executable, "-m", "k8s.forwarder", *[f"--forward={a}={b}" for a, b in pairs],
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, pass_fds=pass_fds)


@contextmanager
def forwarder(*pairs):
    process = start(pairs)
    try:
        yield json.loads(process.stdout.readline())["listening"]
    finally:
        process.terminate()
        assert process.wait(10) == 0
        process.stdout.close()
        process.stderr.close()


@contextmanager
def echo_server():
    """Answers each connection, once the client has half-closed, with what it sent, reversed."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                received = b""
                while chunk := connection.recv(65536):
                    received += chunk
                connection.sendall(received[::-1])

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def exchange(address: str, payload: bytes) -> bytes:
    kind, *rest = parse_address(address)
    family = socket.AF_UNIX if kind == "unix" else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(rest[0] if kind == "unix" else tuple(rest))
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)  # the half-close must reach the server through both forwarders
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_tcp_to_unix_to_tcp_carries_both_ways(tmp_path):
    payload = bytes(range(256)) * 4096  # 1 MiB, more than any buffer on the way
    sock = tmp_path / "bridge.sock"
    with echo_server() as port, forwarder((f"unix:{sock}", f"tcp:127.0.0.1:{port}")) as inner, \
            forwarder(("tcp:127.0.0.1:0", f"unix:{sock}")) as outer:
        assert inner == [f"unix:{sock}"]
        assert outer[0].startswith("tcp:127.0.0.1:") and not outer[0].endswith(":0")
        assert (sock.stat().st_mode & 0o077) == 0  # for the sandbox's user only
        assert exchange(outer[0], payload) == payload[::-1]
        assert exchange(inner[0], b"hello") == b"olleh"


def test_a_connection_with_nothing_behind_it_is_closed(tmp_path):
    with forwarder(("tcp:127.0.0.1:0", f"unix:{tmp_path / 'nobody.sock'}")) as listening:
        assert exchange(listening[0], b"") == b""


def test_it_ends_when_nobody_holds_the_other_end_of_its_pipe(tmp_path):
    read_end, write_end = os.pipe()
    process = start([("tcp:127.0.0.1:0", f"unix:{tmp_path / 'x.sock'}")], f"--until-eof={read_end}",
                    pass_fds=(read_end,))
    os.close(read_end)
    try:
        listening = json.loads(process.stdout.readline())["listening"]
        os.write(write_end, b"what a replica may write is ignored")
        assert exchange(listening[0], b"") == b""  # still serving
        assert process.poll() is None
        os.close(write_end)  # the last replica ended
        assert process.wait(10) == 0
    finally:
        process.kill()
        process.wait()
        process.stdout.close()
        process.stderr.close()
