"""Step 1, weight conversion: a Hugging Face model folder (safetensors or PyTorch .bin weights, any
dtype, sharded or not) to the training layout: safetensors shards in the training dtype with their
index, the tokenizer, and conversion.json (the source's checksum, dtype, parameter count).

Converted once per (source checksum, dtype) under the cache and reused by every later job on the
same base; a folder whose conversion.json does not match is converted again."""

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
# What a model folder holds that matters for training; other files (READMEs, images) are skipped.
MODEL_FILES = (".json", ".safetensors", ".bin", ".model", ".txt", ".tiktoken", ".jinja")
RECORD = "conversion.json"


class ConversionError(Exception):
    pass


def checksum(folder: Path) -> str:
    """SHA-256 over the names and contents of the folder's model files, in name order."""
    digest = hashlib.sha256()
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in MODEL_FILES
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if not files:
        raise ConversionError(f"{folder} holds no model files (config.json, *.safetensors, tokenizer files)")
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def _record(folder: Path) -> dict | None:
    try:
        return json.loads((folder / RECORD).read_text())
    except (OSError, ValueError):
        return None


def ensure_converted(*, source: Path, tokenizer_source: Path, cache: Path, precision: str, log) -> tuple[Path, dict]:
    """The converted folder for this source and dtype, converting it only when no matching one is
    in the cache; returns it and its record (with `reused`)."""
    if not (source / "config.json").is_file():
        raise ConversionError(f"{source} has no config.json: give a Hugging Face model folder")
    source_sum = checksum(source)
    tokenizer_sum = source_sum if tokenizer_source == source else checksum(tokenizer_source)
    key = hashlib.sha256(f"{source_sum}:{tokenizer_sum}".encode()).hexdigest()[:24]
    target = cache / f"{key}-{precision}"
    record = _record(target)
    if record and record.get("source_checksum") == source_sum and record.get("dtype") == precision:
        log(f"[convert_weights] reusing {target.name}: converted before from a base with the same checksum")
        return target, {**record, "reused": True, "path": str(target)}
    started = time.monotonic()
    log(f"[convert_weights] converting {source} to {precision} safetensors (checksum {source_sum[:12]})")
    config = AutoConfig.from_pretrained(source, local_files_only=True)
    if not getattr(config, "architectures", None):
        raise ConversionError("config.json names no architecture; it is not a causal language model's config")
    model = AutoModelForCausalLM.from_pretrained(source, dtype=DTYPES[precision], local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source, local_files_only=True)
    embeddings = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > embeddings:
        raise ConversionError(f"the tokenizer has {len(tokenizer)} tokens but the model embeds only {embeddings}; "
                              "give the model's own tokenizer")
    parameters = sum(p.numel() for p in model.parameters())
    staging = cache / f".{target.name}.{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    model.save_pretrained(staging, max_shard_size="2GB")
    tokenizer.save_pretrained(staging)
    record = {"source": str(source), "source_checksum": source_sum, "tokenizer_checksum": tokenizer_sum,
              "dtype": precision, "architecture": config.architectures[0], "model_type": config.model_type,
              "parameters": parameters, "seconds": round(time.monotonic() - started, 3),
              "files": sorted(p.name for p in staging.iterdir())}
    (staging / RECORD).write_text(json.dumps(record, indent=1))
    shutil.rmtree(target, ignore_errors=True)
    try:
        staging.rename(target)
    except OSError:  # another job converted the same base meanwhile: use its folder
        shutil.rmtree(staging, ignore_errors=True)
    log(f"[convert_weights] {parameters:,} parameters written to {target.name}")
    return target, {**record, "reused": False, "path": str(target)}
