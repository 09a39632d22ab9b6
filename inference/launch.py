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
    memory_utilisation: float = 0.9
    prefix_caching: bool = True
    kv_cache_dtype: str = "auto"
    kv_scales_uri: str = ""
    quantization: str = "none"


def _num(value) -> str:
    return format(value, "g") if isinstance(value, float) else str(value)


def vllm(s: LaunchSpec) -> list[str]:
    args = ["vllm", "serve", s.model_path, "--served-model-name", s.served_name, "--host", "0.0.0.0",
            "--port", str(PORT), "--tensor-parallel-size", str(s.tp), "--pipeline-parallel-size", str(s.pp),
            "--max-model-len", str(s.max_model_len), "--max-num-seqs", str(s.max_num_seqs),
            "--gpu-memory-utilization", _num(s.memory_utilisation)]
    if s.dp > 1:
        args += ["--data-parallel-size", str(s.dp)]
    if s.ep > 1:
        args += ["--enable-expert-parallel"]
    args += ["--enable-prefix-caching"] if s.prefix_caching else ["--no-enable-prefix-caching"]
    if s.kv_cache_dtype != "auto":
        args += ["--kv-cache-dtype", s.kv_cache_dtype]
    if s.quantization != "none":
        args += ["--quantization", {"w8a8": "compressed-tensors", "w4a16": "awq_marlin"}[s.quantization]]
    if s.role in ("prefill", "decode"):
        role = "kv_producer" if s.role == "prefill" else "kv_consumer"
        args += ["--kv-transfer-config", json.dumps({"kv_connector": "P2pNcclConnector", "kv_role": role},
                                                     separators=(",", ":"))]
    return args


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
    if s.role in ("prefill", "decode"):
        args += ["--disaggregation-mode", s.role]
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
    return ["bash", "-c", "echo \"$MINDIE_CONFIG\" > /usr/local/Ascend/mindie/latest/mindie-service/conf/"
            "config.json && exec /usr/local/Ascend/mindie/latest/mindie-service/bin/mindieservice_daemon"]


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


def launch(spec: LaunchSpec) -> tuple[list[str], dict]:
    """The command and the environment for one pod set of the service."""
    env = {}
    if spec.runtime == "mindie":
        env["MINDIE_CONFIG"] = json.dumps(mindie_config(spec), separators=(",", ":"), sort_keys=True)
    return BUILDERS[spec.runtime](spec), env
