"""LLM fine-tuning on Hugging Face `transformers` + `peft`: full-parameter SFT or LoRA.

Steps, each checked and each written where a later job can reuse it:
  1. weight conversion: the base weights (a Hugging Face folder) to the training layout (safetensors
     in the training dtype, with the tokenizer), once per base checksum and dtype under the cache;
  2. preprocessing: handler (alpaca / sharegpt / plain) → chat template → tokens with the prompt
     masked → packed to seq_length, once per content hash under the cache;
  3. training: Trainer with the global batch checked, mixed precision where the device has it, a
     learning-rate schedule with warmup, gradient clipping, evaluation of the EVAL split;
  4. outputs under the job's output: checkpoints/checkpoint-<step>/, trainer_log.jsonl, TensorBoard
     events (tensorboard/), the final model (model/; LoRA: adapter/ and, merged, model/).

A job restarted by the platform resumes from its latest complete checkpoint.

    python -m training.recipes.llm_finetune --stage=sft --finetuning_type=lora \\
        --data=file://ws-…/datasets/…/v1.manifest --output_dir=file://ws-…/training-jobs/…/ \\
        --model_name_or_path=file://ws-…/models/base/ --cutoff_len=1024 --seq_length=1024 …
"""
