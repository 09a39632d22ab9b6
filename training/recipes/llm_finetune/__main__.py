"""Entry point. In an image the recipe's libraries sit in its python; on the local backend the
platform's interpreter stands for the image's python, and the recipe hands over to its own
environment (`make recipe-env`: .venv-llm beside the code, or AIP_RECIPE_PYTHON)."""

import os
import sys
from pathlib import Path

HANDED_OVER = "AIP_RECIPE_HANDED_OVER"
# Nothing loads from a model hub: weights, tokenizers and data come from object storage only.
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "HF_HUB_DISABLE_TELEMETRY": "1", "TOKENIZERS_PARALLELISM": "false"}


PROJECT = Path(__file__).resolve().parents[3]


def recipe_python() -> str:
    return os.environ.get("AIP_RECIPE_PYTHON") or str(PROJECT / ".venv-llm/bin/python")


def leave_the_platforms_code() -> None:
    """Where the recipe runs from the platform's code (the local backend puts it on PYTHONPATH),
    the platform's apps would shadow libraries of the same name (its `datasets` app, Hugging Face's
    `datasets`); the recipe's own modules are imported by then."""
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != PROJECT]


def hand_over(module: str) -> None:
    """Re-run `module` with the recipe's interpreter when this one lacks its libraries."""
    try:
        import torch  # noqa: F401
        return
    except ModuleNotFoundError:
        python = recipe_python()
        if os.environ.get(HANDED_OVER) or not os.path.exists(python):
            raise SystemExit(f"the recipe needs torch, transformers and peft: run it in its image, or build its "
                             f"environment with `make recipe-env` ({python})") from None
    os.environ[HANDED_OVER] = "1"
    os.execv(python, [python, "-m", module, *sys.argv[1:]])


if __name__ == "__main__":
    hand_over("training.recipes.llm_finetune")
    os.environ.update(OFFLINE)
    leave_the_platforms_code()
    os.environ.setdefault("HF_HOME", os.path.join(os.environ.get("TMPDIR", "/tmp"), "aip-hf-home"))
    from .run import main

    main(sys.argv[1:])
