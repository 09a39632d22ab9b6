"""Step 2, preprocessing: records → messages (the handler) → text pieces (the chat template) →
token ids with the prompt masked from the loss → packed blocks of exactly seq_length tokens.

Input is a dataset version's manifest (ModelArts style: a record is a line's `property`, or the
text of a `content://` source; lines marked EVAL are the evaluation split) or JSON lines files
(records as they are; an optional "usage": "EVAL" puts one in the evaluation split). The result is
cached by a hash of everything it depends on: the data's bytes, the tokenizer, template, handler
and length."""

import hashlib
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .templates import HANDLERS, TEMPLATES, RecordError

IGNORE = -100
FORMAT_VERSION = 1
DATA_SUFFIXES = (".jsonl", ".json", ".manifest")
INLINE_TEXT = "content://"


class DataError(Exception):
    pass


def data_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in DATA_SUFFIXES)
    if not files:
        raise DataError(f"{path} holds no .jsonl, .json or .manifest files")
    return files


def read_records(files: list[Path]) -> tuple[list[dict], list[dict]]:
    """(train, eval) records."""
    train, evaluation = [], []
    for path in files:
        text = path.read_text()
        lines = json.loads(text) if text.lstrip().startswith("[") else [
            json.loads(line) for line in text.splitlines() if line.strip()]
        for number, line in enumerate(lines, start=1):
            if not isinstance(line, dict):
                raise DataError(f"{path.name} line {number}: a record must be a JSON object")
            usage = str(line.get("usage") or "").upper()
            record = line
            if "source" in line and ("annotation" in line or "property" in line or "usage" in line):
                record = dict(line.get("property") or {})  # a manifest line
                source = line["source"]
                if "text" not in record and isinstance(source, str) and source.startswith(INLINE_TEXT):
                    record["text"] = source[len(INLINE_TEXT):]
            (evaluation if usage == "EVAL" else train).append(record)
    return train, evaluation


def tokenize(messages: list[dict], *, tokenizer, template_name: str, cutoff_len: int) -> tuple[list[int], list[int]]:
    """Token ids and labels of one conversation (prompt pieces labelled IGNORE), cut to cutoff_len."""
    template = TEMPLATES[template_name]
    eos = tokenizer.eos_token or ""
    ids, labels = [], []

    def add(text: str, learn: bool):
        piece = tokenizer.encode(text, add_special_tokens=False) if text else []
        ids.extend(piece)
        labels.extend(piece if learn else [IGNORE] * len(piece))

    if template.add_bos and tokenizer.bos_token_id is not None:
        ids.append(tokenizer.bos_token_id)
        labels.append(IGNORE)
    if messages and messages[0]["role"] == "text":
        add(messages[0]["content"] + eos, True)
        return ids[:cutoff_len], labels[:cutoff_len]
    add(template.prefix, False)
    if messages[0]["role"] != "system" and template.default_system:
        add(template.system.format(content=template.default_system), False)
    for message in messages:
        if message["role"] == "system":
            add(template.system.format(content=message["content"]), False)
        elif message["role"] == "user":
            add(template.user.format(content=message["content"]), False)
        else:
            add(template.assistant.format(content=message["content"], eos=eos), True)
    return ids[:cutoff_len], labels[:cutoff_len]


def pack(samples: list[tuple[list[int], list[int]]], *, seq_length: int, pad_id: int) -> dict:
    """Concatenate the samples and cut blocks of seq_length; the last partial block is padded (pad
    positions are masked from attention and loss)."""
    ids = [t for sample, _ in samples for t in sample]
    labels = [t for _, sample in samples for t in sample]
    blocks = max(1, -(-len(ids) // seq_length))
    padding = blocks * seq_length - len(ids)
    attention = [1] * len(ids) + [0] * padding
    ids += [pad_id] * padding
    labels += [IGNORE] * padding
    shape = (blocks, seq_length)
    return {"input_ids": torch.tensor(ids).view(shape), "labels": torch.tensor(labels).view(shape),
            "attention_mask": torch.tensor(attention).view(shape)}


def content_hash(files: list[Path], **settings) -> str:
    digest = hashlib.sha256(json.dumps({"format": FORMAT_VERSION, **settings}, sort_keys=True).encode())
    for path in files:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:24]


def ensure_preprocessed(*, source: Path, tokenizer, tokenizer_checksum: str, template: str, handler: str,
                        cutoff_len: int, seq_length: int, cache: Path, log) -> tuple[dict, dict | None, dict]:
    """The packed train blocks, the eval blocks (None without an EVAL split) and the record of the
    run (counts, hash, whether the cache answered)."""
    if seq_length != cutoff_len:
        raise DataError(f"seq_length {seq_length} must equal cutoff_len {cutoff_len}")
    files = data_files(source)
    key = content_hash(files, tokenizer=tokenizer_checksum, template=template, handler=handler,
                       cutoff_len=cutoff_len, seq_length=seq_length)
    folder = cache / key
    record_path = folder / "preprocessed.json"
    if record_path.is_file():
        record = json.loads(record_path.read_text())
        log(f"[preprocess] reusing {key}: the same data, tokenizer and settings were preprocessed before")
        evaluation = load_file(folder / "eval.safetensors") if record["eval_samples"] else None
        return load_file(folder / "train.safetensors"), evaluation, {**record, "reused": True}
    train_records, eval_records = read_records(files)
    if not train_records:
        raise DataError(f"{source} has no training records (every line is in the EVAL split)")
    to_messages = HANDLERS[handler]
    tokenized = {}
    for split, records in (("train", train_records), ("eval", eval_records)):
        samples = []
        for index, record in enumerate(records):
            try:
                messages = to_messages(record)
            except RecordError as exc:
                raise DataError(f"{split} record {index + 1}: {exc} (handler_name={handler})") from None
            samples.append(tokenize(messages, tokenizer=tokenizer, template_name=template, cutoff_len=cutoff_len))
        tokenized[split] = samples
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id or 0
    train = pack(tokenized["train"], seq_length=seq_length, pad_id=pad_id)
    evaluation = pack(tokenized["eval"], seq_length=seq_length, pad_id=pad_id) if tokenized["eval"] else None
    record = {"hash": key, "handler": handler, "template": template, "seq_length": seq_length,
              "train_samples": len(train_records), "eval_samples": len(eval_records),
              "train_blocks": int(train["input_ids"].shape[0]),
              "eval_blocks": int(evaluation["input_ids"].shape[0]) if evaluation else 0,
              "train_tokens": int(train["attention_mask"].sum()),
              "train_label_tokens": int((train["labels"] != IGNORE).sum())}
    staging = cache / f".{key}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    save_file(train, staging / "train.safetensors")
    if evaluation:
        save_file(evaluation, staging / "eval.safetensors")
    (staging / "preprocessed.json").write_text(json.dumps(record, indent=1))
    shutil.rmtree(folder, ignore_errors=True)
    try:
        staging.rename(folder)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    log(f"[preprocess] {record['train_samples']} train and {record['eval_samples']} eval samples packed into "
        f"{record['train_blocks']} + {record['eval_blocks']} blocks of {seq_length} tokens ({key})")
    return train, evaluation, {**record, "reused": False}


class Blocks(torch.utils.data.Dataset):
    def __init__(self, tensors: dict):
        self.tensors = tensors

    def __len__(self):
        return int(self.tensors["input_ids"].shape[0])

    def __getitem__(self, index):
        return {name: tensor[index] for name, tensor in self.tensors.items()}
