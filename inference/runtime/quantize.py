"""The quantization job: a model's weights to W8A8 (int8 weights per output channel, int8 activations
per token, dynamic) or W4A16 (4-bit weights in groups of 128), with llm-compressor, written as a
compressed-tensors checkpoint that vLLM loads (its config.json says the scheme). With an fp8 or int8
KV cache, the cache's scales are calibrated on sample texts, kept in the checkpoint (vLLM reads them
from there) and also written to their own file, kv_scales.json (MindIE and others read that).

    python3 -m inference.runtime.quantize --model-uri URI --output-uri URI --scheme w8a8|w4a16
        [--kv-cache-dtype auto|fp8|int8] [--calibration-uri URI] [--calibration-samples N]
        [--max-seq-length N]

Calibration texts are JSON lines with a "text" (or "prompt"/"instruction") field. On the local
backend the platform's interpreter stands for the image's python and hands over to the job's
environment (.venv-quant beside the code, `make quant-env`, or AIP_QUANT_PYTHON)."""

import argparse
import importlib
import importlib.util
import json
import os
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
HANDED_OVER = "AIP_QUANT_HANDED_OVER"
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "HF_HUB_DISABLE_TELEMETRY": "1", "TOKENIZERS_PARALLELISM": "false"}
SCHEMES = {"w8a8": "W8A8", "w4a16": "W4A16"}
KV_SCHEMES = {"fp8": "float", "int8": "int"}
KV_SCALES = "kv_scales.json"


def hand_over() -> None:
    if importlib.util.find_spec("llmcompressor") is not None:
        return
    python = os.environ.get("AIP_QUANT_PYTHON") or str(PROJECT / ".venv-quant/bin/python")
    if os.environ.get(HANDED_OVER) or not os.path.exists(python):
        raise SystemExit(f"the quantization job needs llm-compressor: run it in its image, or build its "
                         f"environment with `make quant-env` ({python})")
    os.environ[HANDED_OVER] = "1"
    os.execv(python, [python, "-m", "inference.runtime.quantize", *sys.argv[1:]])


def calibration_texts(path: Path | None, samples: int) -> list[str]:
    if path is None:
        return []
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    texts = []
    for file in files:
        for line in file.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                text = next((record[k] for k in ("text", "prompt", "instruction") if isinstance(record.get(k), str)),
                            None)
                if text:
                    texts.append(text)
                if len(texts) >= samples:
                    return texts
    return texts


def recipe(scheme: str, kv_cache_dtype: str):
    from llmcompressor.modifiers.quantization import QuantizationModifier

    kv = None
    if kv_cache_dtype in KV_SCHEMES:
        kv = {"num_bits": 8, "type": KV_SCHEMES[kv_cache_dtype], "strategy": "tensor", "dynamic": False,
              "symmetric": True}
    return QuantizationModifier(targets="Linear", scheme=SCHEMES[scheme], ignore=["lm_head"], kv_cache_scheme=kv)


def kv_scales(model) -> dict:
    """{attention module: {k_scale, v_scale}} as calibrated."""
    scales = {}
    for name, module in model.named_modules():
        k, v = getattr(module, "k_scale", None), getattr(module, "v_scale", None)
        if k is not None and v is not None:
            scales[name] = {"k_scale": float(k.detach().float().reshape(-1)[0]),
                            "v_scale": float(v.detach().float().reshape(-1)[0])}
    return scales


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-uri", required=True)
    parser.add_argument("--output-uri", required=True)
    parser.add_argument("--scheme", choices=sorted(SCHEMES), required=True)
    parser.add_argument("--kv-cache-dtype", choices=["auto", *KV_SCHEMES], default="auto")
    parser.add_argument("--calibration-uri", default="")
    parser.add_argument("--calibration-samples", type=int, default=64)
    parser.add_argument("--max-seq-length", type=int, default=512)
    args = parser.parse_args(argv)
    os.environ.update(OFFLINE)
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != PROJECT]  # its `datasets` app shadows HF's
    sys.path.append(str(PROJECT))  # … but the recipe's storage module is the platform's
    from training.recipes.llm_finetune.storage import Storage, StorageProblem

    storage = Storage.from_env()
    try:
        model_dir = storage.at(args.model_uri).pull().local
        calibration = storage.at(args.calibration_uri).pull().local if args.calibration_uri else None
        output = storage.at(args.output_uri)
    except StorageProblem as exc:
        raise SystemExit(f"[quantize] {exc}") from None
    texts = calibration_texts(calibration, args.calibration_samples)
    if args.kv_cache_dtype != "auto" and not texts:
        raise SystemExit("[quantize] an fp8 or int8 KV cache is calibrated on sample texts: give calibration_uri "
                         "(JSON lines with a \"text\" field).")
    import torch
    from llmcompressor import oneshot
    from transformers import AutoModelForCausalLM, AutoTokenizer

    Dataset = importlib.import_module("datasets").Dataset  # Hugging Face's (the platform's app is off the path)

    print(f"[quantize] {args.model_uri} to {args.scheme.upper()}, KV cache {args.kv_cache_dtype}, "
          f"{len(texts)} calibration texts", flush=True)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    dataset = None
    if texts:
        dataset = Dataset.from_list([{"text": t} for t in texts]).map(
            lambda row: tokenizer(row["text"], truncation=True, max_length=args.max_seq_length,
                                  add_special_tokens=False), remove_columns=["text"])
    oneshot(model=model, dataset=dataset, recipe=recipe(args.scheme, args.kv_cache_dtype),
            max_seq_length=args.max_seq_length, num_calibration_samples=max(1, len(texts)))
    output.local.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output.local, save_compressed=True)
    tokenizer.save_pretrained(output.local)
    for extra in ("chat_template.jinja", "generation_config.json"):
        if (model_dir / extra).exists() and not (output.local / extra).exists():
            (output.local / extra).write_bytes((model_dir / extra).read_bytes())
    summary = {"scheme": args.scheme, "kv_cache_dtype": args.kv_cache_dtype, "calibration_texts": len(texts),
               "source": args.model_uri}
    if args.kv_cache_dtype != "auto":
        scales = kv_scales(model)
        if not scales:
            raise SystemExit("[quantize] no KV-cache scales came out of calibration.")
        (output.local / KV_SCALES).write_text(json.dumps({"kv_cache_dtype": args.kv_cache_dtype, "layers": scales},
                                                         indent=1, sort_keys=True))
        summary["kv_scales"] = KV_SCALES
    (output.local / "quantization.json").write_text(json.dumps(summary, indent=1))
    output.push()
    print(f"[quantize] wrote {args.output_uri}: {json.dumps(summary)}", flush=True)


if __name__ == "__main__":
    hand_over()
    main()
