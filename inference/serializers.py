from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from aiplatform.serializers import WorkspaceResourceField
from resourcepools.models import Flavor, Phase, ResourcePool
from training.models import TrainingJob

from .models import (
    BenchmarkRun,
    BenchmarkStatus,
    DeploymentMode,
    KvCacheDtype,
    Model,
    Quantization,
    QuantizationJob,
    Service,
    ServiceState,
    ServiceTraffic,
)

CONCERNING_REASONS = {"InstancesUnhealthy"}


class ModelSerializer(serializers.ModelSerializer):
    training_job = WorkspaceResourceField(model=TrainingJob, required=False, allow_null=True)
    command = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    plannable = serializers.BooleanField(read_only=True)

    class Meta:
        model = Model
        fields = [
            "id", "name", "version", "description", "source", "training_job", "uri", "adapter_uri", "lora_rank",
            "image", "command", "runtime", "parameters", "expert_parameters", "layers", "hidden_size",
            "attention_heads", "kv_heads", "head_dim", "vocab_size", "dtype", "moe_experts", "experts_per_token",
            "plannable", "created_at",
        ]
        read_only_fields = ["id", "lora_rank", "plannable", "created_at"]
        validators = []


class ModelUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Model
        fields = ["description", "parameters", "expert_parameters", "layers", "hidden_size", "attention_heads",
                  "kv_heads", "head_dim", "vocab_size", "dtype", "moe_experts", "experts_per_token"]


class PlanRequestSerializer(serializers.Serializer):
    model = WorkspaceResourceField(model=Model)
    flavor = serializers.SlugRelatedField(slug_field="name", queryset=Flavor.objects.all())
    pool = serializers.PrimaryKeyRelatedField(queryset=ResourcePool.objects.all(), required=False, allow_null=True,
                                              help_text="The pool to deploy in: suggestions name its flavors and "
                                                        "node counts.")
    mode = serializers.ChoiceField(choices=DeploymentMode.choices, default=DeploymentMode.UNIFIED)
    prefill_instances = serializers.IntegerField(min_value=0, default=0)
    decode_instances = serializers.IntegerField(min_value=0, default=0)
    max_num_seqs = serializers.IntegerField(min_value=1, default=256)
    max_num_batched_tokens = serializers.IntegerField(min_value=16, required=False, allow_null=True)
    chunked_prefill = serializers.BooleanField(default=True)
    tensor_parallel = serializers.IntegerField(min_value=1, default=1)
    pipeline_parallel = serializers.IntegerField(min_value=1, default=1)
    data_parallel = serializers.IntegerField(min_value=1, default=1)
    expert_parallel = serializers.IntegerField(min_value=1, default=1)
    quantization = serializers.ChoiceField(choices=Quantization.choices, default=Quantization.NONE)
    kv_cache_dtype = serializers.ChoiceField(choices=KvCacheDtype.choices, default=KvCacheDtype.AUTO)
    memory_utilisation = serializers.FloatField(min_value=0.1, max_value=1.0, default=0.9)
    max_model_len = serializers.IntegerField(min_value=16, default=4096)


class PlanSerializer(serializers.Serializer):
    fits = serializers.BooleanField()
    bytes_per_weight = serializers.FloatField()
    weights_per_device_gib = serializers.FloatField()
    kv_bytes_per_token = serializers.IntegerField()
    usable_per_device_gib = serializers.FloatField()
    kv_tokens_per_device = serializers.IntegerField()
    kv_tokens_per_instance = serializers.IntegerField()
    max_concurrent_sequences = serializers.IntegerField()
    cards_per_instance = serializers.IntegerField(help_text="TP × PP × DP (0 on a CPU flavor).")
    data_parallel = serializers.IntegerField()
    kv_cache_gib = serializers.IntegerField(allow_null=True, help_text="CPU flavors: the KV cache's whole GiB "
                                                                       "(VLLM_CPU_KVCACHE_SPACE).")
    flavor = serializers.CharField()
    card_memory_gib = serializers.FloatField()
    runtime_reserve_gib = serializers.FloatField()
    max_model_len = serializers.IntegerField()
    problems = serializers.ListField(child=serializers.CharField())
    suggestions = serializers.ListField(child=serializers.CharField())


def service_status(service) -> dict:
    workload = service.workload
    if workload is None:
        return {"status": "stopped", "message": ""}
    status = {
        Phase.PENDING: "deploying", Phase.QUEUED: "deploying", Phase.ADMITTED: "deploying",
        Phase.RUNNING: "concerning" if workload.reason in CONCERNING_REASONS else "running",
        Phase.STOPPING: "stopping", Phase.STOPPED: "stopped", Phase.SUCCEEDED: "stopped", Phase.FAILED: "failed",
    }[workload.phase]
    return {"status": status, "message": workload.message}


class ServiceStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ServiceState.choices)
    message = serializers.CharField()


class ServiceSerializer(serializers.ModelSerializer):
    model = WorkspaceResourceField(model=Model)
    pool = serializers.PrimaryKeyRelatedField(queryset=ResourcePool.objects.all())
    flavor = serializers.SlugRelatedField(slug_field="name", queryset=Flavor.objects.all())
    prefill_flavor = serializers.SlugRelatedField(slug_field="name", queryset=Flavor.objects.all(), required=False,
                                                  allow_null=True)
    decode_flavor = serializers.SlugRelatedField(slug_field="name", queryset=Flavor.objects.all(), required=False,
                                                 allow_null=True)
    router_flavor = serializers.SlugRelatedField(slug_field="name", queryset=Flavor.objects.all(), required=False,
                                                 allow_null=True)
    instance_count = serializers.IntegerField(min_value=0, default=1)
    state = serializers.SerializerMethodField()
    phase = serializers.CharField(source="workload.phase", read_only=True, default=None)

    class Meta:
        model = Service
        fields = [
            "id", "name", "description", "model", "pool", "flavor", "instance_count", "mode", "prefill_instances",
            "decode_instances", "prefill_flavor", "decode_flavor", "router_flavor", "tensor_parallel",
            "pipeline_parallel", "data_parallel", "expert_parallel", "prefix_caching", "kv_cache_dtype",
            "kv_scales_uri", "max_model_len", "max_num_seqs", "max_num_batched_tokens", "chunked_prefill",
            "kv_connector", "enforce_eager", "memory_utilisation", "quantization",
            "quantized_weights_uri", "min_instances", "max_instances", "target_concurrency", "state", "phase",
            "workload", "next_workload", "plan", "launch", "created_at",
        ]
        read_only_fields = ["id", "state", "phase", "workload", "next_workload", "plan", "launch", "created_at"]
        validators = []

    @extend_schema_field(ServiceStatusSerializer)
    def get_state(self, service):
        return service_status(service)


class ServiceUpdateSerializer(ServiceSerializer):
    class Meta(ServiceSerializer.Meta):
        read_only_fields = [*ServiceSerializer.Meta.read_only_fields, "name", "pool"]


class ServiceTrafficSerializer(serializers.ModelSerializer):
    latency_ms_mean = serializers.SerializerMethodField()

    class Meta:
        model = ServiceTraffic
        fields = ["minute", "requests", "errors", "latency_ms_mean", "latency_ms_max"]
        read_only_fields = fields

    def get_latency_ms_mean(self, traffic) -> float:
        return traffic.latency_ms_total / traffic.requests if traffic.requests else 0.0


def benchmark_status(run) -> dict:
    workload = run.workload
    if workload.phase == Phase.FAILED:
        return {"status": BenchmarkStatus.FAILED, "message": workload.message}
    if workload.phase == Phase.STOPPED:
        return {"status": BenchmarkStatus.STOPPED, "message": workload.message}
    if run.result is not None:
        return {"status": BenchmarkStatus.SUCCEEDED, "message": ""}
    if workload.phase == Phase.SUCCEEDED:
        return {"status": BenchmarkStatus.FAILED, "message": "The load generator ended without reporting a result; "
                                                             "see the workload's logs."}
    status = {Phase.RUNNING: BenchmarkStatus.RUNNING, Phase.STOPPING: BenchmarkStatus.STOPPING}.get(
        workload.phase, BenchmarkStatus.QUEUED)
    return {"status": status, "message": workload.message}


class BenchmarkStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=BenchmarkStatus.choices)
    message = serializers.CharField()


class BenchmarkRunSerializer(serializers.ModelSerializer):
    config = serializers.JSONField(help_text=(
        "static: input_len, output_len, concurrencies (list), requests_per_level; dynamic: concurrency_range "
        "[low, high, step], input_len_range [low, high], output_len_range [low, high], requests_per_level, "
        "targets {ttft_seconds, tpot_seconds}."))
    state = serializers.SerializerMethodField()
    phase = serializers.CharField(source="workload.phase", read_only=True, default=None)

    class Meta:
        model = BenchmarkRun
        fields = ["id", "service", "mode", "config", "state", "phase", "workload", "result", "result_received_at",
                  "created_at"]
        read_only_fields = ["id", "service", "state", "phase", "workload", "result", "result_received_at",
                            "created_at"]

    @extend_schema_field(BenchmarkStatusSerializer)
    def get_state(self, run):
        return benchmark_status(run)


class BenchmarkResultSerializer(serializers.Serializer):
    result = serializers.DictField(help_text="inference.loadgen's answer: mode, levels (per concurrency: requests, "
                                             "errors, tokens/s, requests/s, latency percentiles), and for dynamic "
                                             "runs targets and highest_concurrency_meeting_targets.")


def quantization_status(job) -> dict:
    workload = job.workload
    status = {Phase.SUCCEEDED: "succeeded", Phase.FAILED: "failed", Phase.STOPPED: "stopped",
              Phase.STOPPING: "stopping", Phase.RUNNING: "running"}.get(workload.phase, "queued")
    return {"status": status, "message": workload.message}


class QuantizationJobSerializer(serializers.ModelSerializer):
    model = WorkspaceResourceField(model=Model)
    pool = serializers.PrimaryKeyRelatedField(queryset=ResourcePool.objects.all(), write_only=True)
    flavor = serializers.SlugRelatedField(slug_field="name", queryset=Flavor.objects.all(), required=False,
                                         allow_null=True, write_only=True,
                                         help_text="Default: the pool's flavor with the fewest cards.")
    output_uri = serializers.CharField(required=False, allow_blank=True,
                                       help_text="Default: the workspace's quantized/<model>-<version>-<scheme>/.")
    state = serializers.SerializerMethodField()
    phase = serializers.CharField(source="workload.phase", read_only=True, default=None)
    quantized_weights_uri = serializers.SerializerMethodField(help_text="What a service's quantized_weights_uri "
                                                                        "takes, once the job succeeded.")
    kv_scales_uri = serializers.SerializerMethodField(help_text="The calibrated KV-cache scales' file (fp8/int8).")

    class Meta:
        model = QuantizationJob
        fields = ["id", "model", "pool", "flavor", "scheme", "kv_cache_dtype", "calibration_uri",
                  "calibration_samples", "output_uri", "state", "phase", "workload", "quantized_weights_uri",
                  "kv_scales_uri", "created_at"]
        read_only_fields = ["id", "state", "phase", "workload", "quantized_weights_uri", "kv_scales_uri",
                            "created_at"]

    @extend_schema_field(ServiceStatusSerializer)
    def get_state(self, job):
        return quantization_status(job)

    def get_quantized_weights_uri(self, job) -> str | None:
        return job.output_uri if job.workload and job.workload.phase == Phase.SUCCEEDED else None

    def get_kv_scales_uri(self, job) -> str | None:
        if job.kv_cache_dtype == "auto" or not job.workload or job.workload.phase != Phase.SUCCEEDED:
            return None
        return job.output_uri.rstrip("/") + "/kv_scales.json"
