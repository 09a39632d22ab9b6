"""Carries TCP connections between a sandboxed workload's private network and the host's, through
unix sockets in a folder that both sides see. The local backend runs two per workload: one on the
host's network, one inside the workload's network namespace; each listens on one side and
connects on the other.

    python -m k8s.forwarder --forward tcp:127.0.0.1:8000=unix:/aip/run/platform.sock --until-eof 5 ...

Every LISTEN=CONNECT pair (tcp:HOST:PORT or unix:PATH; port 0 picks a free one) is bound before
anything is reported, then the bound addresses go to stdout as one JSON line (the caller waits for
it, so nothing connects before the listeners exist). Runs until SIGTERM, or until the descriptor
given to --until-eof reads end of file: the local backend hands its other end to every replica, so
the forwarders end with the last replica without anyone having to stop them. Standard library
only: it runs in a sandbox without the platform's settings."""

import argparse
import asyncio
import json
import os
import signal
import socket
import sys

CHUNK = 64 * 1024


def parse_address(text: str) -> tuple:
    """('tcp', host, port) or ('unix', path); IPv6 hosts in brackets."""
    scheme, _, rest = text.partition(":")
    if scheme == "unix" and rest:
        return ("unix", rest)
    if scheme == "tcp":
        host, _, port = rest.rpartition(":")
        if host and port.isdigit():
            return ("tcp", host.strip("[]"), int(port))
    raise ValueError(f"'{text}' is not tcp:HOST:PORT or unix:PATH")


def format_address(address: tuple) -> str:
    if address[0] == "unix":
        return f"unix:{address[1]}"
    host = f"[{address[1]}]" if ":" in address[1] else address[1]
    return f"tcp:{host}:{address[2]}"


def listen(address: tuple) -> socket.socket:
    if address[0] == "tcp":
        return socket.create_server((address[1], address[2]), reuse_port=False, backlog=128,
                                    family=socket.AF_INET6 if ":" in address[1] else socket.AF_INET)
    try:
        os.unlink(address[1])  # a socket left by an earlier forwarder of the same workload
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(address[1])
    sock.listen(128)
    return sock


def bound(address: tuple, sock: socket.socket) -> tuple:
    if address[0] == "unix":
        return address
    return ("tcp", address[1], sock.getsockname()[1])


async def _connect(address: tuple):
    if address[0] == "tcp":
        return await asyncio.open_connection(address[1], address[2])
    return await asyncio.open_unix_connection(address[1])


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One direction until its end of stream, which is passed on as a half-close."""
    while data := await reader.read(CHUNK):
        writer.write(data)
        await writer.drain()
    if writer.can_write_eof():
        writer.write_eof()


async def relay(client_reader, client_writer, target: tuple) -> None:
    try:
        upstream_reader, upstream_writer = await _connect(target)
    except OSError:
        client_writer.close()  # nothing listens there (yet): the caller sees the connection close
        return
    copies = [asyncio.ensure_future(_copy(client_reader, upstream_writer)),
              asyncio.ensure_future(_copy(upstream_reader, client_writer))]
    # Both directions to their ends, unless one side fails: then both connections close.
    done, pending = await asyncio.wait(copies, return_when=asyncio.FIRST_EXCEPTION)
    for task in pending:
        task.cancel()
    for task in done:
        task.exception()  # retrieved: a reset connection is the normal end of some clients
    for writer in (upstream_writer, client_writer):
        writer.close()


async def serve(pairs: list[tuple[tuple, tuple]], announce, until_eof: int | None = None) -> None:
    """Bind every listener, announce them, then relay until SIGTERM or end of file on `until_eof`."""
    sockets = [listen(source) for source, _ in pairs]
    servers = []
    for (source, target), sock in zip(pairs, sockets, strict=True):
        def handler(reader, writer, target=target):
            return relay(reader, writer, target)
        if source[0] == "unix":
            servers.append(await asyncio.start_unix_server(handler, sock=sock))
        else:
            servers.append(await asyncio.start_server(handler, sock=sock))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if until_eof is not None:
        def drain():
            if not os.read(until_eof, 4096):  # nobody holds the other end any more
                stop.set()
        loop.add_reader(until_eof, drain)
    announce([format_address(bound(source, sock)) for (source, _), sock in zip(pairs, sockets, strict=True)])
    try:
        await stop.wait()
    finally:
        for server in servers:
            server.close()


def _announce(listening: list[str]) -> None:
    sys.stdout.write(json.dumps({"listening": listening}) + "\n")
    sys.stdout.flush()
    # Later output goes to the log (stderr); the caller stops reading stdout after this line.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--forward", action="append", default=[], metavar="LISTEN=CONNECT")
    parser.add_argument("--until-eof", type=int, metavar="FD", help="stop at end of file on this descriptor")
    args = parser.parse_args(argv)
    pairs = []
    for item in args.forward:
        source, sep, target = item.partition("=")
        if not sep:
            parser.error(f"--forward {item}: give LISTEN=CONNECT")
        try:
            pairs.append((parse_address(source), parse_address(target)))
        except ValueError as exc:
            parser.error(f"--forward {item}: {exc}")
    os.umask(0o077)  # its unix sockets are for the sandbox's user only
    asyncio.run(serve(pairs, _announce, args.until_eof))


if __name__ == "__main__":
    main()
