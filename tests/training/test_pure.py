"""Hyperparameter schemas and the throughput rule, checked by hand."""

from training import comparison, hyperparameters, throughput
from training.presets import PRESETS
from training.recipes.llm_finetune import arguments, layout

SPEC = [
    {"name": "lr", "type": "float", "default": 0.01, "min": 0, "max": 1},
    {"name": "epochs", "type": "int", "default": 3, "min": 1},
    {"name": "optimizer", "type": "str", "choices": ["adam", "sgd"], "default": "adam"},
    {"name": "model", "type": "str", "required": True},
]


def test_defaults_are_filled_and_values_kept():
    values, problems = hyperparameters.resolve(SPEC, {"model": "llama", "epochs": 5})
    assert problems == {}
    assert values == {"lr": 0.01, "epochs": 5, "optimizer": "adam", "model": "llama"}


def test_bad_values_name_the_field():
    _, problems = hyperparameters.resolve(SPEC, {"lr": 2, "epochs": "x", "optimizer": "rmsprop", "dropout": 0.1})
    assert problems == {
        "hyperparameters.lr": "Must be at most 1.",
        "hyperparameters.epochs": "Must be of type integer.",
        "hyperparameters.optimizer": "Must be one of ['adam', 'sgd'].",
        "hyperparameters.dropout": "Unknown hyperparameter; this algorithm takes: lr, epochs, optimizer, model.",
        "hyperparameters.model": "This hyperparameter is required.",
    }


def test_spec_checks():
    assert hyperparameters.check_spec(SPEC) == {}
    problems = hyperparameters.check_spec([{"name": "a", "type": "complex"}, {"name": "b", "type": "int",
                                                                              "default": 0, "min": 1}])
    assert set(problems) == {"hyperparameters.0.type", "hyperparameters.1.default"}


def test_presets_are_valid_and_carry_the_llm_knobs():
    for preset in PRESETS:
        assert hyperparameters.check_spec(preset["hyperparameters"]) == {}
    names = {p["name"]: {h["name"] for h in p["hyperparameters"]} for p in PRESETS}
    for knob in ("model_name_or_path", "per_device_train_batch_size", "gradient_accumulation_steps",
                 "learning_rate", "num_train_epochs", "cutoff_len", "seq_length", "template", "handler_name",
                 "global_batch_size", "save_steps", "eval_steps", "precision"):
        assert knob in names["llm-sft"] and knob in names["llm-lora"]
    assert {"lora_rank", "lora_alpha", "lora_target"} <= names["llm-lora"]


def test_elapsed_time_formats():
    assert throughput.parse_elapsed(12.5) == 12.5
    assert throughput.parse_elapsed("0:01:40") == 100
    assert throughput.parse_elapsed("1 day, 0:00:10") == 86410


def test_throughput_over_the_middle_steps_by_hand():
    # 10 steps, 10 s apart, 4,096 tokens per step, except a slow first and last step.
    lines = []
    elapsed, tokens = 0.0, 0
    for step in range(1, 11):
        elapsed += 30 if step in (1, 10) else 10
        tokens += 4096
        lines.append(f'{{"current_steps": {step}, "loss": 1.0, "total_tokens": {tokens}, '
                     f'"elapsed_time": "0:{int(elapsed) // 60:02d}:{int(elapsed) % 60:02d}"}}')
    entries = [throughput.parse_line(line) for line in lines]
    summary = throughput.summarise(entries, devices=8, warmup=0.1, tail=0.1)
    # Window: step 2 (40 s, 8,192 tokens) to step 9 (110 s, 36,864 tokens).
    assert summary["window"]["start_step"] == 2 and summary["window"]["end_step"] == 9
    assert summary["tokens_per_second_per_device"] == (36864 - 8192) / (110 - 40) / 8  # 51.2
    assert summary["tokens_per_second_per_device"] == 51.2


def test_too_short_logs_give_no_summary():
    assert throughput.summarise([throughput.parse_line('{"step": 1, "elapsed": 1, "total_tokens": 5}')],
                                devices=1) is None
    assert throughput.parse_line("not json") is None
    assert throughput.parse_line('{"train_runtime": 10}') is None


def test_comparison_by_hand():
    gpu = comparison.Run("a", "gpu", {1: 2.0, 2: 1.0, 3: 0.5, 4: 0.25})
    npu = comparison.Run("b", "npu", {1: 2.02, 2: 1.01, 3: 0.52, 5: 9.0})  # step 3: 4 % off; 5: not common
    result = comparison.compare([gpu, npu], tolerance=0.02)
    run = result["runs"][0]
    assert (run["common_steps"], run["first_divergent_step"], run["within_tolerance"]) == (3, 3, False)
    assert abs(run["max_relative_error"] - 0.04) < 1e-9 and abs(run["max_abs_diff"] - 0.02) < 1e-9
    assert result["verdict"].startswith("Fail: npu diverges from gpu beyond 2 % first at step 3")
    assert [a["step"] for a in result["aligned"]] == [1, 2, 3, 4, 5]
    assert result["aligned"][3]["values"] == {"a": 0.25, "b": None}
    assert comparison.compare([gpu, comparison.Run("c", "same", dict(gpu.series))], tolerance=0.02)["passed"]


def test_recipe_checks_and_checkpoint_rule():
    assert arguments.check({"seq_length": 64, "cutoff_len": 64, "per_device_train_batch_size": 2,
                            "gradient_accumulation_steps": 4, "global_batch_size": 64}, data_parallel_size=8) == {}
    problems = arguments.check({"seq_length": 64, "cutoff_len": 128, "per_device_train_batch_size": 2,
                                "gradient_accumulation_steps": 4, "global_batch_size": 64}, data_parallel_size=16)
    assert problems["seq_length"].startswith("seq_length 64 must equal cutoff_len 128")
    assert "set gradient_accumulation_steps to 2" in problems["gradient_accumulation_steps"]
    # A checkpoint folder without its completion record (killed while saving) is never resumed from.
    files = ["checkpoint-10/model.safetensors", "checkpoint-10/aip_state.json", "checkpoint-20/model.safetensors",
             "checkpoint-9/aip_state.json", "other/aip_state.json"]
    assert layout.latest_checkpoint(files) == ("checkpoint-10", 10)
    assert layout.latest_checkpoint(["checkpoint-20/optimizer.pt"]) is None
