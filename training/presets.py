"""The platform's preset algorithms: LLM fine-tuning (full-parameter SFT and LoRA) for NPU and
GPU pools, and a small text classifier that really trains on the CPU of the embedded default."""

LLM_IMAGE = "swr.cn-southwest-2.myhuaweicloud.com/aiplatform/llm-finetune:2.1.0"

LLM_HYPERPARAMETERS = [
    {"name": "model_name_or_path", "type": "str", "required": True,
     "description": "Hugging Face model id or object-storage path of the base weights."},
    {"name": "template", "type": "str", "default": "default", "description": "Chat template of the model."},
    {"name": "per_device_train_batch_size", "type": "int", "default": 1, "min": 1, "max": 512,
     "description": "Sequences per device per step."},
    {"name": "gradient_accumulation_steps", "type": "int", "default": 8, "min": 1, "max": 1024,
     "description": "Steps whose gradients add up before one optimizer update."},
    {"name": "learning_rate", "type": "float", "default": 2e-05, "min": 0, "max": 1},
    {"name": "num_train_epochs", "type": "float", "default": 3.0, "min": 0.01, "max": 100},
    {"name": "cutoff_len", "type": "int", "default": 4096, "min": 128, "max": 131072,
     "description": "Sequence length: longer samples are cut."},
    {"name": "preprocessing_num_workers", "type": "int", "default": 8, "min": 1, "max": 128,
     "description": "Worker processes for dataset preprocessing."},
    {"name": "save_steps", "type": "int", "default": 500, "min": 1},
]

LORA_HYPERPARAMETERS = [
    {"name": "lora_rank", "type": "int", "default": 8, "min": 1, "max": 1024},
    {"name": "lora_alpha", "type": "int", "default": 16, "min": 1, "max": 4096},
    {"name": "lora_dropout", "type": "float", "default": 0.0, "min": 0, "max": 1},
    {"name": "lora_target", "type": "str", "default": "all",
     "description": "Modules to adapt: 'all' or a comma list such as q_proj,v_proj."},
]

LLM_PREPARATION = [
    {"name": "convert_weights", "description": "Convert the base weights to the training framework's format.",
     "output": "converted_weights/"},
    {"name": "preprocess", "description": "Tokenize, apply the chat template and pack the dataset.",
     "output": "preprocessed/"},
]

LLM_OUTPUTS = {"converted_weights": "converted_weights/", "preprocessed_data": "preprocessed/",
               "checkpoints": "checkpoints/", "trainer_log": "trainer_log.jsonl"}

PRESETS = [
    {
        "name": "llm-sft",
        "description": "LLM supervised fine-tuning of all parameters (SFT). Converts the weights, preprocesses the "
                       "dataset, then trains; writes checkpoints and trainer_log.jsonl to the output.",
        "image": LLM_IMAGE,
        "command": ["bash", "/opt/recipes/finetune.sh", "--stage=sft", "--finetuning_type=full"],
        "input_channels": ["data"],
        "output_channels": ["output_dir"],
        "hyperparameters": LLM_HYPERPARAMETERS,
        "accelerator_kinds": ["ascend_npu", "nvidia_gpu"],
        "distributed": True,
        "preparation_steps": LLM_PREPARATION,
        "outputs": LLM_OUTPUTS,
    },
    {
        "name": "llm-lora",
        "description": "LLM fine-tuning with LoRA adapters: the base weights stay frozen, small low-rank adapters "
                       "train. Same steps and outputs as llm-sft.",
        "image": LLM_IMAGE,
        "command": ["bash", "/opt/recipes/finetune.sh", "--stage=sft", "--finetuning_type=lora"],
        "input_channels": ["data"],
        "output_channels": ["output_dir"],
        "hyperparameters": LLM_HYPERPARAMETERS + LORA_HYPERPARAMETERS,
        "accelerator_kinds": ["ascend_npu", "nvidia_gpu"],
        "distributed": True,
        "preparation_steps": LLM_PREPARATION,
        "outputs": {**LLM_OUTPUTS, "adapter": "checkpoints/adapter/"},
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
