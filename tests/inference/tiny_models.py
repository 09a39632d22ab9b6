"""Tiny Llama models for the real-vLLM tests: tests/training/tiny_llm.py's model (random weights, a
BPE tokenizer, head_dim 64) made in the recipe's environment, with a chat template (transformers 5
has no default one, and vLLM's chat endpoint needs one)."""

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RECIPE_PYTHON = ROOT / ".venv-llm/bin/python"
SERVE_PYTHON = ROOT / ".venv-vllm/bin/python"
CHAT_TEMPLATE = ("{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}assistant:{% endif %}")
CORPUS = "\n".join(f"the team won the match number {i} and the quick brown fox jumps over the lazy dog"
                   for i in range(200))


def tiny_llama(folder: Path) -> Path:
    """The model in `folder` (made once; a copy is cheap)."""
    if not (folder / "config.json").exists():
        subprocess.run([str(RECIPE_PYTHON), str(ROOT / "tests/training/tiny_llm.py"), str(folder)], input=CORPUS,
                       text=True, check=True, capture_output=True, timeout=300)
        (folder / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    return folder


def copy_model(source: Path, folder: Path) -> Path:
    shutil.copytree(source, folder)
    return folder
