"""The serving launcher: brings a service's model (and LoRA adapter) to a local path, then runs the
runtime's own command with that path in place of `{model}` (`{adapter}`).

    python3 -m inference.runtime.serve --model-uri URI [--adapter-uri URI] -- RUNTIME ARGUMENTS…

file:// locations are the platform's embedded storage, which the local backend mounts under
AIP_LOCAL_STORAGE_ROOT: used in place. s3:// and obs:// locations are mirrored into AIP_MODEL_CACHE
(a folder of the replica's own) with the credentials the platform gives the workload. As Kubernetes
does for a container's command, `$(NAME)` in the arguments and in the environment's values is the
variable's value. Where the local backend gives the replica its own address (AIP_SERVE_HOST,
AIP_SERVE_PORT), the runtime's `--host`/`--port` become those. A Python runtime whose libraries
this interpreter lacks (the platform's own, on the local backend) is handed to its environment:
.venv-vllm beside the code (`make serve-env`), or AIP_SERVE_PYTHON. Nothing loads from a model hub."""

import argparse
import importlib.util
import json
import os
import re
import sys
import tempfile
from pathlib import Path

from inference.launch import ADAPTER_PATH, MODEL_PATH
from training.recipes.llm_finetune.storage import Storage, StorageProblem

PROJECT = Path(__file__).resolve().parents[2]
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
           "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "TOKENIZERS_PARALLELISM": "false"}
REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
# What the runtime's module must be importable as, per `python -m` module.
RUNTIME_MODULES = {"vllm.entrypoints.openai.api_server": "vllm", "sglang.launch_server": "sglang"}


def serve_python() -> str:
    return os.environ.get("AIP_SERVE_PYTHON") or str(PROJECT / ".venv-vllm/bin/python")


def expand(text: str, env: dict) -> str:
    """`$(NAME)` replaced by the variable's value; unknown names are left as they are (Kubernetes' rule)."""
    return REFERENCE.sub(lambda m: env.get(m[1], m[0]), text)


def local_folder(storage: Storage, uri: str) -> str:
    location = storage.at(uri).pull()
    if not location.local.is_dir():
        raise StorageProblem(f"{uri} is not a folder")
    return str(location.local)


def runtime_command(argv: list[str], env: dict, *, model: str, adapter: str) -> list[str]:
    command = [expand(arg, env).replace(MODEL_PATH, model).replace(ADAPTER_PATH, adapter) for arg in argv]
    host, port = env.get("AIP_SERVE_HOST"), env.get("AIP_SERVE_PORT")
    for i, arg in enumerate(command[:-1]):
        if arg in ("--host", "--hostname") and host:
            command[i + 1] = host
        elif arg == "--port" and port:
            command[i + 1] = port
    if command[0] in ("python", "python3") and len(command) > 2 and command[1] == "-m":
        library = RUNTIME_MODULES.get(command[2])
        if library and importlib.util.find_spec(library) is None:
            python = serve_python()
            if not os.path.exists(python):
                raise SystemExit(f"{library} is not installed here: run the runtime's image, or build its "
                                 f"environment with `make serve-env` ({python}).")
            command[0] = python
        else:
            command[0] = sys.executable
    return command


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv:
        raise SystemExit("usage: python3 -m inference.runtime.serve --model-uri URI [--adapter-uri URI] -- COMMAND…")
    split = argv.index("--")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-uri", required=True)
    parser.add_argument("--adapter-uri", default="")
    args = parser.parse_args(argv[:split])
    env = {**os.environ, **OFFLINE}
    env.setdefault("AIP_POD_IP", env.get("AIP_SERVE_HOST", "127.0.0.1"))
    env.setdefault("AIP_MODEL_CACHE", tempfile.mkdtemp(prefix="aip-model-"))
    env["AIP_RECIPE_MIRROR"] = env["AIP_MODEL_CACHE"]
    storage = Storage(local_root=env.get("AIP_LOCAL_STORAGE_ROOT", "."), mirror_root=Path(env["AIP_MODEL_CACHE"]),
                      credentials=json.loads(env.get("AIP_STORAGE_CREDENTIALS") or "[]"))
    try:
        model = local_folder(storage, args.model_uri)
        adapter = local_folder(storage, args.adapter_uri) if args.adapter_uri else ""
    except StorageProblem as exc:
        raise SystemExit(f"the model cannot be brought here: {exc}") from None
    env = {name: expand(value, env) for name, value in env.items()}
    env.update(AIP_MODEL_PATH=model, AIP_ADAPTER_PATH=adapter)
    command = runtime_command(argv[split + 1:], env, model=model, adapter=adapter)
    print(f"serving {args.model_uri} from {model}" + (f" with adapter {adapter}" if adapter else ""), flush=True)
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main()
