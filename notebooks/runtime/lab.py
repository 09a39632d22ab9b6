"""A notebook's runtime: JupyterLab's server under the platform's base URL, with the token the
platform gave it (AIP_NOTEBOOK_TOKEN) and its persistent volume (the working folder) as its root.
On the local backend it runs from .venv-notebook beside the code (`make notebook-env`), or
AIP_NOTEBOOK_PYTHON; an image carries its own (`python` on its PATH)."""

import argparse
import os
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def notebook_python() -> str:
    if os.environ.get("AIP_NOTEBOOK_PYTHON"):
        return os.environ["AIP_NOTEBOOK_PYTHON"]
    local = PROJECT / ".venv-notebook/bin/python"
    return str(local) if local.exists() else sys.executable


def command(argv: list[str], env: dict) -> list[str]:
    parser = argparse.ArgumentParser(prog="notebooks.runtime.lab")
    parser.add_argument("--base-url", required=True)
    args = parser.parse_args(argv)
    return [
        notebook_python(), str(Path(__file__).with_name("jupyterlab_main.py")), "--no-browser",
        f"--ServerApp.ip={env.get('AIP_SERVE_HOST', '0.0.0.0')}",
        f"--ServerApp.port={env.get('AIP_SERVE_PORT', '8080')}", "--ServerApp.port_retries=0",
        f"--ServerApp.base_url={args.base_url}", f"--ServerApp.root_dir={os.getcwd()}",
        # The platform's proxy authenticates users and sends the token; the Host it forwards is its own.
        f"--IdentityProvider.token={env['AIP_NOTEBOOK_TOKEN']}", "--ServerApp.allow_remote_access=True",
        "--ServerApp.allow_origin=*", "--LabApp.news_url=", "--LabApp.check_for_updates_class="
        "jupyterlab.NeverCheckForUpdate",
    ]


def main() -> None:
    env = dict(os.environ)
    if not env.get("AIP_NOTEBOOK_TOKEN"):
        sys.exit("AIP_NOTEBOOK_TOKEN is not set: the platform gives every notebook a token.")
    # Runtime files (connection files, the server's own) stay off the persistent volume.
    env.setdefault("JUPYTER_RUNTIME_DIR", os.path.join(env.get("TMPDIR", "/tmp"), "jupyter-runtime"))
    argv = command(sys.argv[1:], env)
    os.execve(argv[0], argv, env)


if __name__ == "__main__":
    main()
