"""The platform's preset algorithms: LLM fine-tuning (full-parameter SFT and LoRA) with the
recipe in training/recipes/llm_finetune, on NPU and GPU pools and on CPU, and a small text
classifier that trains on the CPU of the embedded default."""

from .recipes.llm_finetune import layout
from .recipes.llm_finetune.arguments import PRECISIONS, SCHEDULERS
from .recipes.llm_finetune.templates import HANDLERS, TEMPLATES

# Built from training/recipes/llm_finetune/Dockerfile; the local backend runs the same module on CPU.
LLM_IMAGE = "swr.cn-southwest-2.myhuaweicloud.com/aiplatform/llm-finetune:3.0.0"
LLM_RECIPE = "training.recipes.llm_finetune"

LLM_HYPERPARAMETERS = [
    {"name": "model_name_or_path", "type": "str", "required": True,
     "description": "Object-storage folder of the base weights (a Hugging Face model: config.json, weights, "
                    "tokenizer); nothing is loaded from a model hub."},
    {"name": "tokenizer_name_or_path", "type": "str", "default": "",
     "description": "Folder of the tokenizer; empty: the model's own."},
    {"name": "cache_uri", "type": "str", "default": "",
     "description": "Where converted weights and preprocessed data are kept and reused by later jobs; empty: the "
                    "workspace's llm-cache/ folder."},
    {"name": "template", "type": "str", "default": "default", "choices": sorted(TEMPLATES),
     "description": "Chat template that turns conversations into text."},
    {"name": "handler_name", "type": "str", "default": "alpaca", "choices": sorted(HANDLERS),
     "description": "Format of the training records: alpaca (instruction/input/output), sharegpt (conversations) "
                    "or plain (text)."},
    {"name": "cutoff_len", "type": "int", "default": 4096, "min": 16, "max": 131072,
     "description": "Sequence length of training: longer samples are cut."},
    {"name": "seq_length", "type": "int", "default": 4096, "min": 16, "max": 131072,
     "description": "Length preprocessing packs samples to; must equal cutoff_len."},
    {"name": "per_device_train_batch_size", "type": "int", "default": 1, "min": 1, "max": 512,
     "description": "Sequences per device per step."},
    {"name": "per_device_eval_batch_size", "type": "int", "default": 1, "min": 1, "max": 512},
    {"name": "gradient_accumulation_steps", "type": "int", "default": 8, "min": 1, "max": 1024,
     "description": "Steps whose gradients add up before one optimizer update."},
    {"name": "global_batch_size", "type": "int", "default": 0, "min": 0, "max": 1048576,
     "description": "Sequences per optimizer update; when given it must equal per-device batch × gradient "
                    "accumulation × data-parallel size (nodes × devices per node): change gradient_accumulation_steps "
                    "when you change the number of devices. 0: whatever the product is."},
    {"name": "learning_rate", "type": "float", "default": 2e-05, "min": 0, "max": 1},
    {"name": "lr_scheduler_type", "type": "str", "default": "cosine", "choices": list(SCHEDULERS)},
    {"name": "warmup_ratio", "type": "float", "default": 0.0, "min": 0, "max": 0.5,
     "description": "Share of the steps over which the learning rate warms up."},
    {"name": "weight_decay", "type": "float", "default": 0.0, "min": 0, "max": 1},
    {"name": "max_grad_norm", "type": "float", "default": 1.0, "min": 0, "max": 1000,
     "description": "Gradient clipping; 0: none."},
    {"name": "num_train_epochs", "type": "float", "default": 3.0, "min": 0.01, "max": 100},
    {"name": "max_steps", "type": "int", "default": 0, "min": 0, "description": "0: as many as the epochs take."},
    {"name": "save_steps", "type": "int", "default": 500, "min": 1,
     "description": "A checkpoint every this many steps."},
    {"name": "eval_steps", "type": "int", "default": 0, "min": 0,
     "description": "Evaluate the EVAL split every this many steps (and at the end); 0: at the end only."},
    {"name": "logging_steps", "type": "int", "default": 1, "min": 1},
    {"name": "seed", "type": "int", "default": 42, "min": 0, "max": 2**32 - 1},
    {"name": "precision", "type": "str", "default": "auto", "choices": list(PRECISIONS),
     "description": "auto: bf16 where the device has it (fp16 on GPUs without), fp32 on CPU."},
]

LORA_HYPERPARAMETERS = [
    {"name": "lora_rank", "type": "int", "default": 8, "min": 1, "max": 1024},
    {"name": "lora_alpha", "type": "int", "default": 16, "min": 1, "max": 4096},
    {"name": "lora_dropout", "type": "float", "default": 0.0, "min": 0, "max": 1},
    {"name": "lora_target", "type": "str", "default": "all",
     "description": "Modules to adapt: 'all' (every linear layer) or a comma list such as q_proj,v_proj."},
    {"name": "merge_lora", "type": "bool", "default": True,
     "description": "Also write the base with the adapter merged (model/), ready to deploy."},
]

LLM_PREPARATION = [
    {"name": "convert_weights", "description": "Convert the base weights to the training layout (safetensors in "
                                               "the training dtype, with the tokenizer); reused by later jobs on the "
                                               "same base (same checksum).",
     "output": "<cache_uri>/converted_weights/", "record": layout.CONVERTED_WEIGHTS},
    {"name": "preprocess", "description": "Tokenize with the chat template and the data handler, mask the prompts, "
                                          "pack to seq_length; reused for the same content hash.",
     "output": "<cache_uri>/preprocessed/", "record": layout.PREPROCESSED},
]

LLM_OUTPUTS = dict(layout.OUTPUTS)

PRESETS = [
    {
        "name": "llm-sft",
        "description": "LLM supervised fine-tuning of all parameters (SFT). Converts the weights, preprocesses the "
                       "dataset, then trains; writes checkpoints and trainer_log.jsonl to the output.",
        "image": LLM_IMAGE,
        "command": ["python", "-m", LLM_RECIPE, "--stage=sft", "--finetuning_type=full"],
        "input_channels": ["data"],
        "output_channels": ["output_dir"],
        "hyperparameters": LLM_HYPERPARAMETERS,
        "accelerator_kinds": ["ascend_npu", "nvidia_gpu", "none"],
        "distributed": True,
        "preparation_steps": LLM_PREPARATION,
        "outputs": LLM_OUTPUTS,
    },
    {
        "name": "llm-lora",
        "description": "LLM fine-tuning with LoRA adapters: the base weights stay frozen, small low-rank adapters "
                       "train. Same steps and outputs as llm-sft.",
        "image": LLM_IMAGE,
        "command": ["python", "-m", LLM_RECIPE, "--stage=sft", "--finetuning_type=lora"],
        "input_channels": ["data"],
        "output_channels": ["output_dir"],
        "hyperparameters": LLM_HYPERPARAMETERS + LORA_HYPERPARAMETERS,
        "accelerator_kinds": ["ascend_npu", "nvidia_gpu", "none"],
        "distributed": True,
        "preparation_steps": LLM_PREPARATION,
        "outputs": {**LLM_OUTPUTS, "adapter": layout.ADAPTER},
    },
    {
        "name": "cpu-text-classifier",
        "description": "Trains a logistic-regression text classifier on the CPU from a dataset version's manifest "
                       "(labels from its annotations). Writes checkpoints, model.json and trainer_log.jsonl.",
        "image": "python:3.11-slim",
        "command": ["python", "-m", "training.runtime.text_classifier"],
        "input_channels": ["data"],
        "output_channels": ["output_dir"],
        "hyperparameters": [
            {"name": "epochs", "type": "int", "default": 5, "min": 1, "max": 1000},
            {"name": "learning_rate", "type": "float", "default": 0.5, "min": 0, "max": 100},
            {"name": "features", "type": "int", "default": 4096, "min": 16, "max": 1048576,
             "description": "Size of the hashed bag-of-words."},
        ],
        "accelerator_kinds": ["none"],
        "distributed": False,
        "preparation_steps": [],
        "outputs": {"checkpoints": "checkpoints/", "model": "model.json", "trainer_log": "trainer_log.jsonl"},
    },
]
