"""The recipe's arguments and the checks both the platform (at job creation) and the recipe (at
start, with the real world size) make. Standard library only: the API imports this module."""

import argparse
from dataclasses import dataclass

from .templates import HANDLERS, TEMPLATES

FINETUNING_TYPES = ("full", "lora")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup")


def _bool(text: str) -> bool:
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.recipes.llm_finetune",
                                description="LLM fine-tuning (SFT or LoRA) on transformers + peft.")
    p.add_argument("--stage", default="sft", choices=["sft"])
    p.add_argument("--finetuning_type", default="full", choices=FINETUNING_TYPES)
    p.add_argument("--data", required=True, help="Training data: a dataset version's manifest, a JSON lines file "
                                                 "or a folder of them.")
    p.add_argument("--output_dir", required=True)
    p.add_argument("--model_name_or_path", required=True, help="A Hugging Face model folder in object storage.")
    p.add_argument("--tokenizer_name_or_path", default="", help="Defaults to the model's own tokenizer.")
    p.add_argument("--cache_uri", default="", help="Where converted weights and preprocessed data are kept for "
                                                   "reuse; defaults to the output's cache/ folder.")
    p.add_argument("--template", default="default", choices=sorted(TEMPLATES))
    p.add_argument("--handler_name", default="alpaca", choices=sorted(HANDLERS))
    p.add_argument("--cutoff_len", type=int, default=4096)
    p.add_argument("--seq_length", type=int, default=4096)
    p.add_argument("--per_device_train_batch_size", type=int, default=1)
    p.add_argument("--per_device_eval_batch_size", type=int, default=1)
    p.add_argument("--gradient_accumulation_steps", type=int, default=8)
    p.add_argument("--global_batch_size", type=int, default=0, help="0: per-device batch × gradient accumulation "
                                                                    "× data-parallel size.")
    p.add_argument("--learning_rate", type=float, default=2e-5)
    p.add_argument("--lr_scheduler_type", default="cosine", choices=SCHEDULERS)
    p.add_argument("--warmup_ratio", type=float, default=0.0)
    p.add_argument("--weight_decay", type=float, default=0.0)
    p.add_argument("--max_grad_norm", type=float, default=1.0)
    p.add_argument("--num_train_epochs", type=float, default=3.0)
    p.add_argument("--max_steps", type=int, default=0, help="0: as many as the epochs take.")
    p.add_argument("--save_steps", type=int, default=500)
    p.add_argument("--eval_steps", type=int, default=0, help="0: evaluate at the end only.")
    p.add_argument("--logging_steps", type=int, default=1)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--precision", default="auto", choices=PRECISIONS)
    p.add_argument("--lora_rank", type=int, default=8)
    p.add_argument("--lora_alpha", type=int, default=16)
    p.add_argument("--lora_dropout", type=float, default=0.0)
    p.add_argument("--lora_target", default="all")
    p.add_argument("--merge_lora", type=_bool, default=True)
    return p


@dataclass(frozen=True)
class Batch:
    per_device: int
    gradient_accumulation_steps: int
    data_parallel_size: int

    @property
    def global_batch_size(self) -> int:
        return self.per_device * self.gradient_accumulation_steps * self.data_parallel_size

    def describe(self) -> str:
        return (f"per_device_train_batch_size {self.per_device} × gradient_accumulation_steps "
                f"{self.gradient_accumulation_steps} × data-parallel size {self.data_parallel_size} = "
                f"{self.global_batch_size}")

    def as_dict(self) -> dict:
        return {"per_device_train_batch_size": self.per_device,
                "gradient_accumulation_steps": self.gradient_accumulation_steps,
                "data_parallel_size": self.data_parallel_size, "global_batch_size": self.global_batch_size}


def check(values: dict, *, data_parallel_size: int) -> dict[str, str]:
    """Problems by argument name: seq_length must equal cutoff_len, and a global batch size that is
    given must be what the batch, the accumulation and the data-parallel size make (the rule that
    moving a job to more or fewer devices needs a new gradient_accumulation_steps)."""
    problems = {}
    seq_length, cutoff_len = values.get("seq_length"), values.get("cutoff_len")
    if seq_length is not None and cutoff_len is not None and seq_length != cutoff_len:
        problems["seq_length"] = (f"seq_length {seq_length} must equal cutoff_len {cutoff_len}: preprocessing packs "
                                  "to the length training uses; set both to the same number.")
    batch = Batch(values.get("per_device_train_batch_size") or 1, values.get("gradient_accumulation_steps") or 1,
                  data_parallel_size)
    wanted = values.get("global_batch_size") or 0
    if wanted and wanted != batch.global_batch_size:
        per_step = batch.per_device * batch.data_parallel_size
        fix = (f"set gradient_accumulation_steps to {wanted // per_step}" if wanted % per_step == 0 else
               f"choose a global batch size that is a multiple of {per_step} (per-device batch × data-parallel size)")
        problems["gradient_accumulation_steps"] = (
            f"global_batch_size {wanted} ≠ {batch.describe()}; {fix}.")
    if values.get("finetuning_type") == "lora" and values.get("lora_rank", 1) < 1:
        problems["lora_rank"] = "The LoRA rank must be at least 1."
    return problems
