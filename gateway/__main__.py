"""`python -m gateway`: the gateway process (Procfile's `gateway`), on GATEWAY_BIND (default
AIP_BIND, 127.0.0.1:8000), with uvloop and httptools."""

import os

import uvicorn


def main() -> None:
    host, _, port = os.environ.get("GATEWAY_BIND", os.environ.get("AIP_BIND", "127.0.0.1:8000")).rpartition(":")
    uvicorn.run("gateway.asgi:application", host=host or "127.0.0.1", port=int(port), loop="uvloop",
                http="httptools", lifespan="on", access_log=False, log_config=None,
                # In front of the API its own Server and Date headers pass through; no second ones.
                server_header=False, date_header=False,
                workers=int(os.environ.get("GATEWAY_WORKERS", "1")),
                # Idle connections of clients and load balancers are kept longer than theirs usually are.
                timeout_keep_alive=int(os.environ.get("GATEWAY_KEEPALIVE_SECONDS", "75")))


if __name__ == "__main__":
    main()
