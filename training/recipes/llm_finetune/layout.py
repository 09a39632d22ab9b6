"""Where the recipe writes what under a job's output, and which checkpoint a restarted job
resumes from. Standard library only: the platform reads the same layout (resume events, the
model handoff, TensorBoard)."""

import re

TRAINER_LOG = "trainer_log.jsonl"
CHECKPOINTS = "checkpoints/"
TENSORBOARD = "tensorboard/"
MODEL = "model/"  # full SFT, or LoRA merged into the base: what a service deploys
ADAPTER = "adapter/"  # LoRA adapters alone
CONVERTED_WEIGHTS = "converted_weights.json"  # which converted weights the job trained from
PREPROCESSED = "preprocessed.json"  # which preprocessed data it used, with the counts
CACHE = "cache/"  # the default cache when the job names none
# Written into a checkpoint's folder after everything else of it: a folder without it is partial
# (the job was killed while saving) and is never resumed from.
CHECKPOINT_DONE = "aip_state.json"

CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d+)$")

OUTPUTS = {"converted_weights": CONVERTED_WEIGHTS, "preprocessed_data": PREPROCESSED, "checkpoints": CHECKPOINTS,
           "trainer_log": TRAINER_LOG, "tensorboard": TENSORBOARD, "model": MODEL}


def checkpoint_step(name: str) -> int | None:
    match = CHECKPOINT_NAME.match(name.rstrip("/"))
    return int(match.group(1)) if match else None


def latest_checkpoint(files: list[str]) -> tuple[str, int] | None:
    """The newest complete checkpoint among paths relative to the checkpoints folder
    ('checkpoint-20/aip_state.json', …): (its folder name, its step), or None."""
    done = []
    for path in files:
        folder, _, name = path.strip("/").partition("/")
        step = checkpoint_step(folder)
        if step is not None and name == CHECKPOINT_DONE:
            done.append((step, folder))
    if not done:
        return None
    step, folder = max(done)
    return folder, step
