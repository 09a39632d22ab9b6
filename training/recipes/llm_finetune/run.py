"""The recipe's run: check the arguments, launch one process per device where there are several,
then convert, preprocess, train and write the outputs (see the package's docstring)."""

import json
import math
import os
import queue
import sys
import threading
import time
import urllib.request
from pathlib import Path

import torch
from accelerate import PartialState
from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_callback import PrinterCallback

from . import arguments, layout
from .convert import ConversionError, ensure_converted
from .data import Blocks, DataError, ensure_preprocessed
from .storage import Storage, StorageProblem

CONVERTED_DTYPE = {"bf16": "bf16", "fp16": "fp32", "fp32": "fp32"}  # fp16 trains on fp32 master weights


def resolve_precision(wanted: str) -> str:
    """bf16 (or fp16 on GPUs without it) where the device has mixed precision; fp32 on CPU."""
    if wanted != "auto":
        return wanted
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    npu = getattr(torch, "npu", None)  # torch_npu on Ascend images
    if npu is not None and npu.is_available():
        return "bf16"
    return "fp32"


def has_accelerator() -> bool:
    npu = getattr(torch, "npu", None)
    return torch.cuda.is_available() or (npu is not None and npu.is_available())


def launch_processes(argv: list[str]) -> None:
    """One process per device on each node, with torchrun's rendezvous at MASTER_ADDR:MASTER_PORT
    (the platform sets NNODES, NODE_RANK, NPROC_PER_NODE for every replica)."""
    from torch.distributed.run import main as torchrun

    torchrun([f"--nnodes={os.environ.get('NNODES', '1')}", f"--node_rank={os.environ.get('NODE_RANK', '0')}",
              f"--nproc_per_node={os.environ.get('NPROC_PER_NODE', '1')}",
              f"--master_addr={os.environ.get('MASTER_ADDR', '127.0.0.1')}",
              f"--master_port={os.environ.get('MASTER_PORT', '29500')}",
              "-m", "training.recipes.llm_finetune", *argv])


class MetricsReporter:
    """Posts metric points to the platform (AIP_METRICS_URL with AIP_JOB_TOKEN) from a thread of
    its own, so that a slow or absent platform never slows training; the trainer log carries every
    point anyway and the platform reads it."""

    def __init__(self, *, enabled: bool):
        self.url, self.token = os.environ.get("AIP_METRICS_URL"), os.environ.get("AIP_JOB_TOKEN")
        self.queue: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._send, daemon=True)
        if enabled and self.url and self.token:
            self.thread.start()

    def report(self, points: list[dict]) -> None:
        if self.thread.is_alive() and points:
            self.queue.put(points)

    def _send(self):
        while (points := self.queue.get()) is not None:
            request = urllib.request.Request(
                self.url, data=json.dumps({"metrics": points}).encode(), method="POST",
                headers={"Content-Type": "application/json", "Authorization": f"Job {self.token}"})
            try:
                urllib.request.urlopen(request, timeout=5).close()
            except OSError as exc:
                print(f"metrics report failed: {exc}", file=sys.stderr, flush=True)

    def close(self, timeout: float = 10) -> None:
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join(timeout)


class RecipeCallback(TrainerCallback):
    """trainer_log.jsonl (loss, learning rate, grad norm, tokens/s per device, eval loss and
    perplexity), TensorBoard events, metric reports, and each checkpoint's completion record."""

    def __init__(self, *, output, log_path: Path, writer, reporter: MetricsReporter, world_size: int,
                 resumed: dict | None):
        self.output, self.log_path, self.writer, self.reporter = output, log_path, writer, reporter
        self.world_size = world_size
        self.offset = resumed["elapsed_time"] if resumed else 0.0
        self.previous = (resumed["elapsed_time"], resumed["total_tokens"]) if resumed else (0.0, 0)
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return self.offset + time.monotonic() - self.started

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        step, elapsed, tokens = state.global_step, round(self.elapsed(), 4), int(state.num_input_tokens_seen)
        line = {"current_steps": step, "total_steps": state.max_steps, "epoch": round(state.epoch or 0, 4),
                "elapsed_time": elapsed}
        if "loss" in logs:
            seconds = elapsed - self.previous[0]
            line.update(loss=logs["loss"], lr=logs.get("learning_rate"), grad_norm=logs.get("grad_norm"),
                        total_tokens=tokens,
                        tokens_per_second_per_device=round((tokens - self.previous[1]) / seconds / self.world_size, 3)
                        if seconds > 0 else None)
            self.previous = (elapsed, tokens)
        elif "eval_loss" in logs:
            line.update(eval_loss=logs["eval_loss"], eval_perplexity=math.exp(min(logs["eval_loss"], 50)))
        else:
            return
        with self.log_path.open("a") as log:
            log.write(json.dumps(line) + "\n")
        names = {"loss": "train/loss", "lr": "train/learning_rate", "grad_norm": "train/grad_norm",
                 "tokens_per_second_per_device": "train/tokens_per_second_per_device", "eval_loss": "eval/loss",
                 "eval_perplexity": "eval/perplexity"}
        points = []
        for key, tag in names.items():
            if isinstance(line.get(key), (int, float)):
                self.writer.add_scalar(tag, line[key], step)
                points.append({"name": "learning_rate" if key == "lr" else key, "step": step, "value": line[key]})
        self.writer.flush()
        self.reporter.report(points)
        summary = ", ".join(f"{k} {v:.4g}" for k, v in line.items() if k in names and isinstance(v, float))
        print(f"step {step}/{state.max_steps}: {summary}", flush=True)

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        record = {"step": state.global_step, "elapsed_time": round(self.elapsed(), 4),
                  "total_tokens": int(state.num_input_tokens_seen), "saved_at": time.time()}
        (folder / layout.CHECKPOINT_DONE).write_text(json.dumps(record))
        self.writer.flush()
        self.output.push(layout.CHECKPOINTS + folder.name)
        self.output.push(layout.TRAINER_LOG)
        self.output.push(layout.TENSORBOARD)


def _resume_point(checkpoints: Path) -> tuple[Path, dict] | None:
    files = [p.relative_to(checkpoints).as_posix() for p in checkpoints.glob(f"*/{layout.CHECKPOINT_DONE}")]
    latest = layout.latest_checkpoint(files)
    if latest is None:
        return None
    folder = checkpoints / latest[0]
    return folder, json.loads((folder / layout.CHECKPOINT_DONE).read_text())


def _keep_log_until(path: Path, step: int) -> None:
    """A resumed run redoes the steps after its checkpoint: their lines from the run before go."""
    if not path.exists():
        return
    kept = [line for line in path.read_text().splitlines()
            if line.strip() and json.loads(line).get("current_steps", 0) <= step]
    path.write_text("".join(f"{line}\n" for line in kept))


def train(args, *, state: PartialState, log) -> None:
    world_size = state.num_processes
    precision = resolve_precision(args.precision)
    storage = Storage.from_env()
    output = storage.at(args.output_dir)
    output.local.mkdir(parents=True, exist_ok=True)
    cache = storage.at(args.cache_uri) if args.cache_uri else output.child(layout.CACHE.rstrip("/"))
    model_source = storage.at(args.model_name_or_path).pull()
    tokenizer_source = storage.at(args.tokenizer_name_or_path).pull() if args.tokenizer_name_or_path else model_source
    data_source = storage.at(args.data).pull()
    batch = arguments.Batch(args.per_device_train_batch_size, args.gradient_accumulation_steps, world_size)
    log(f"[train] {args.finetuning_type} fine-tuning, {precision} on "
        f"{'accelerators' if has_accelerator() else 'CPU'}; global batch: {batch.describe()}")

    with state.local_main_process_first():
        converted, conversion = ensure_converted(
            source=model_source.local, tokenizer_source=tokenizer_source.local,
            cache=cache.local / "converted_weights", precision=CONVERTED_DTYPE[precision], log=log)
        tokenizer = AutoTokenizer.from_pretrained(converted, local_files_only=True)
        train_blocks, eval_blocks, preprocessed = ensure_preprocessed(
            source=data_source.local, tokenizer=tokenizer, tokenizer_checksum=conversion["tokenizer_checksum"],
            template=args.template, handler=args.handler_name, cutoff_len=args.cutoff_len,
            seq_length=args.seq_length, cache=cache.local / "preprocessed", log=log)
    if state.is_main_process:
        (output.local / layout.CONVERTED_WEIGHTS).write_text(json.dumps(conversion, indent=1))
        (output.local / layout.PREPROCESSED).write_text(json.dumps(preprocessed, indent=1))
        cache.push()

    model = AutoModelForCausalLM.from_pretrained(converted, dtype=torch.bfloat16 if precision == "bf16"
                                                 else torch.float32, local_files_only=True)
    if args.finetuning_type == "lora":
        from peft import LoraConfig, get_peft_model

        targets = "all-linear" if args.lora_target == "all" else [t.strip() for t in args.lora_target.split(",")]
        model = get_peft_model(model, LoraConfig(r=args.lora_rank, lora_alpha=args.lora_alpha,
                                                 lora_dropout=args.lora_dropout, target_modules=targets,
                                                 task_type="CAUSAL_LM"))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    log(f"[train] {trainable:,} of {total:,} parameters train")

    checkpoints = output.child(layout.CHECKPOINTS.rstrip("/"))
    if checkpoints.is_remote and output.exists(layout.CHECKPOINTS):
        checkpoints.pull()
    checkpoints.local.mkdir(parents=True, exist_ok=True)
    resume = _resume_point(checkpoints.local)
    log_path = output.local / layout.TRAINER_LOG
    if resume and state.is_main_process:
        log(f"[resume] resuming from {resume[0].name} (step {resume[1]['step']})")
        _keep_log_until(log_path, resume[1]["step"])
    elif state.is_main_process and log_path.exists():
        log_path.unlink()  # a fresh start: nothing of an earlier run is kept

    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(output.local / layout.TENSORBOARD),
                           purge_step=resume[1]["step"] + 1 if resume else None)
    reporter = MetricsReporter(enabled=state.is_main_process)
    callback = RecipeCallback(output=output, log_path=log_path, writer=writer, reporter=reporter,
                              world_size=world_size, resumed=resume[1] if resume else None)
    training_args = TrainingArguments(
        output_dir=str(checkpoints.local), per_device_train_batch_size=args.per_device_train_batch_size,
        per_device_eval_batch_size=args.per_device_eval_batch_size,
        gradient_accumulation_steps=args.gradient_accumulation_steps, learning_rate=args.learning_rate,
        lr_scheduler_type=args.lr_scheduler_type, warmup_steps=args.warmup_ratio, weight_decay=args.weight_decay,
        max_grad_norm=args.max_grad_norm, num_train_epochs=args.num_train_epochs, max_steps=args.max_steps or -1,
        logging_strategy="steps", logging_steps=args.logging_steps, save_strategy="steps", save_steps=args.save_steps,
        eval_strategy="steps" if eval_blocks is not None and args.eval_steps else "no",
        eval_steps=args.eval_steps or None, bf16=precision == "bf16", fp16=precision == "fp16",
        use_cpu=not has_accelerator(), seed=args.seed, data_seed=args.seed, report_to="none", disable_tqdm=True,
        include_num_input_tokens_seen="non_padding", remove_unused_columns=False, dataloader_num_workers=0,
    )
    trainer = Trainer(model=model, args=training_args, train_dataset=Blocks(train_blocks),
                      eval_dataset=Blocks(eval_blocks) if eval_blocks is not None else None, callbacks=[callback])
    trainer.remove_callback(PrinterCallback)  # the recipe's callback prints each step in its own words
    try:
        trainer.train(resume_from_checkpoint=str(resume[0]) if resume else None)
        if eval_blocks is not None and not (args.eval_steps and trainer.state.global_step % args.eval_steps == 0):
            trainer.evaluate()  # the end, unless the last step was evaluated already
        if state.is_main_process:
            _save_final(trainer, tokenizer, output=output.local, args=args, log=log)
            writer.flush()
            output.push()
    finally:
        writer.close()
        reporter.close()


def _save_final(trainer, tokenizer, *, output: Path, args, log) -> None:
    model = trainer.model
    if args.finetuning_type == "lora":
        model.save_pretrained(output / layout.ADAPTER)
        tokenizer.save_pretrained(output / layout.ADAPTER)
        log(f"[outputs] LoRA adapter saved to {layout.ADAPTER}")
        if not args.merge_lora:
            return
        model = model.merge_and_unload()
    model.save_pretrained(output / layout.MODEL)
    tokenizer.save_pretrained(output / layout.MODEL)
    log(f"[outputs] model saved to {layout.MODEL}" + (" (LoRA merged into the base)" if args.finetuning_type == "lora"
                                                       else ""))


def main(argv: list[str]) -> None:
    args = arguments.parser().parse_args(argv)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    problems = arguments.check(vars(args), data_parallel_size=world_size)
    if problems:
        for name, problem in problems.items():
            print(f"--{name}: {problem}", file=sys.stderr)
        raise SystemExit(2)
    if world_size > 1 and "LOCAL_RANK" not in os.environ:
        launch_processes(argv)
        return
    state = PartialState(cpu=not has_accelerator())

    def log(message: str) -> None:
        if state.is_main_process:
            print(message, flush=True)

    try:
        train(args, state=state, log=log)
    except (ConversionError, DataError, StorageProblem) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    log("done")
