"""Models (servable artefacts with the facts planning needs) and online services."""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from aiplatform.models import Workspace
from resourcepools.models import Flavor, ResourcePool, Workload


class Runtime(models.TextChoices):
    VLLM = "vllm", "vLLM"
    MINDIE = "mindie", "MindIE"
    SGLANG = "sglang", "SGLang"
    TGI = "tgi", "Text Generation Inference"
    BUILTIN = "builtin", "Built-in Python runtime"
    CUSTOM = "custom", "Custom image and command"


class ModelSource(models.TextChoices):
    TRAINING_JOB = "training_job"
    STORAGE = "storage"
    IMAGE = "image"


class Model(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="models")
    name = models.CharField(max_length=100)
    version = models.CharField(max_length=50, default="1")
    description = models.TextField(blank=True, default="")
    source = models.CharField(max_length=20, choices=ModelSource.choices)
    training_job = models.ForeignKey("training.TrainingJob", on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="models")
    uri = models.CharField(max_length=1000, blank=True, default="", help_text="Where the weights are.")
    adapter_uri = models.CharField(max_length=1000, blank=True, default="",
                                   help_text="A LoRA adapter served on the weights at `uri` (vLLM).")
    lora_rank = models.PositiveIntegerField(null=True, blank=True, help_text="The adapter's rank.")
    image = models.CharField(max_length=500, blank=True, default="")
    command = models.JSONField(default=list, blank=True, help_text="For custom runtimes.")
    runtime = models.CharField(max_length=20, choices=Runtime.choices)
    # Architecture facts for the memory planner (read from config.json when there is one).
    parameters = models.BigIntegerField(null=True, blank=True)
    expert_parameters = models.BigIntegerField(default=0)
    layers = models.PositiveIntegerField(null=True, blank=True)
    hidden_size = models.PositiveIntegerField(null=True, blank=True)
    attention_heads = models.PositiveIntegerField(null=True, blank=True)
    kv_heads = models.PositiveIntegerField(null=True, blank=True)
    head_dim = models.PositiveIntegerField(null=True, blank=True)
    vocab_size = models.PositiveIntegerField(null=True, blank=True)
    dtype = models.CharField(max_length=10, default="bf16", choices=[("bf16", "bf16"), ("fp16", "fp16"),
                                                                      ("fp32", "fp32")])
    moe_experts = models.PositiveIntegerField(default=0)
    experts_per_token = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name", "version"], name="model_version_unique")]

    def __str__(self):
        return f"{self.name}:{self.version}"

    @property
    def is_llm(self):
        return self.runtime in (Runtime.VLLM, Runtime.MINDIE, Runtime.SGLANG, Runtime.TGI)

    @property
    def plannable(self):
        return all(v is not None for v in (self.parameters, self.layers, self.hidden_size, self.attention_heads,
                                           self.kv_heads, self.head_dim))


class ServiceState(models.TextChoices):
    DEPLOYING = "deploying"
    RUNNING = "running"
    CONCERNING = "concerning"
    FAILED = "failed"
    STOPPING = "stopping"
    STOPPED = "stopped"


class DeploymentMode(models.TextChoices):
    UNIFIED = "unified"
    DISAGGREGATED = "disaggregated"


class Quantization(models.TextChoices):
    NONE = "none"
    W8A8 = "w8a8", "W8A8"
    W4A16 = "w4a16", "W4A16"


class KvCacheDtype(models.TextChoices):
    AUTO = "auto"
    FP8 = "fp8"
    INT8 = "int8"


class KvConnector(models.TextChoices):
    NIXL = "nixl", "NIXL"
    MOONCAKE = "mooncake", "Mooncake"


class Service(models.Model):
    """A real-time service. Each deployment of it is a workload; a rolling update queues a new
    workload and stops the old one once the new one runs."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="services")
    name = models.SlugField(max_length=63)
    description = models.TextField(blank=True, default="")
    model = models.ForeignKey(Model, on_delete=models.PROTECT, related_name="services")
    pool = models.ForeignKey(ResourcePool, on_delete=models.PROTECT, related_name="+")
    flavor = models.ForeignKey(Flavor, on_delete=models.PROTECT, related_name="+")
    instance_count = models.PositiveIntegerField(default=1, validators=[
        MinValueValidator(1, message="Use at least one instance; to take a service down, stop it.")])
    mode = models.CharField(max_length=20, choices=DeploymentMode.choices, default=DeploymentMode.UNIFIED)
    prefill_instances = models.PositiveIntegerField(default=0)
    decode_instances = models.PositiveIntegerField(default=0)
    prefill_flavor = models.ForeignKey(Flavor, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    decode_flavor = models.ForeignKey(Flavor, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    router_flavor = models.ForeignKey(Flavor, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    tensor_parallel = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    pipeline_parallel = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    data_parallel = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    expert_parallel = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    prefix_caching = models.BooleanField(default=True)
    kv_cache_dtype = models.CharField(max_length=10, choices=KvCacheDtype.choices, default=KvCacheDtype.AUTO)
    kv_scales_uri = models.CharField(max_length=1000, blank=True, default="")
    max_model_len = models.PositiveIntegerField(default=4096, validators=[MinValueValidator(16)])
    max_num_seqs = models.PositiveIntegerField(default=256, validators=[MinValueValidator(1)])
    max_num_batched_tokens = models.PositiveIntegerField(null=True, blank=True, validators=[MinValueValidator(16)],
                                                         help_text="Tokens one scheduler step takes in all.")
    chunked_prefill = models.BooleanField(default=True, help_text="Long prompts are prefilled in chunks, "
                                                                  "beside the decoding of other sequences.")
    kv_connector = models.CharField(max_length=20, choices=KvConnector.choices, default=KvConnector.NIXL,
                                    help_text="How prefill instances hand KV caches to decode instances.")
    enforce_eager = models.BooleanField(default=False, help_text="vLLM: no graph compilation or capture (starts "
                                                                 "faster, decodes slower).")
    memory_utilisation = models.FloatField(default=0.9, validators=[MinValueValidator(0.1), MaxValueValidator(1.0)])
    quantization = models.CharField(max_length=10, choices=Quantization.choices, default=Quantization.NONE)
    quantized_weights_uri = models.CharField(max_length=1000, blank=True, default="")
    min_instances = models.PositiveIntegerField(null=True, blank=True)
    max_instances = models.PositiveIntegerField(null=True, blank=True)
    target_concurrency = models.PositiveIntegerField(null=True, blank=True)
    workload = models.OneToOneField(Workload, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="service")
    next_workload = models.OneToOneField(Workload, on_delete=models.SET_NULL, null=True, blank=True,
                                         related_name="rolling_service",
                                         help_text="A rolling update waiting to replace the current deployment.")
    plan = models.JSONField(null=True, blank=True, help_text="The memory planner's answer for this deployment.")
    launch = models.JSONField(default=dict, blank=True, help_text="Generated command and environment per role.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="service_name_unique")]

    def __str__(self):
        return self.name


class ServiceTraffic(models.Model):
    """Requests through the gateway, per service per minute."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="traffic")
    minute = models.DateTimeField()
    requests = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    latency_ms_total = models.FloatField(default=0)
    latency_ms_max = models.FloatField(default=0)

    class Meta:
        ordering = ["-minute"]
        constraints = [models.UniqueConstraint(fields=["service", "minute"], name="traffic_unique_minute")]

    def __str__(self):
        return f"{self.service_id} {self.minute:%H:%M} {self.requests}"


class BenchmarkMode(models.TextChoices):
    STATIC = "static"
    DYNAMIC = "dynamic"


class BenchmarkStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    STOPPING = "stopping"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"


class BenchmarkRun(models.Model):
    """The platform's load generator run as a workload against a running service; its result
    (inference.loadgen.run's answer) is posted back with a run-scoped token."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="benchmark_runs")
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="benchmark_runs")
    mode = models.CharField(max_length=10, choices=BenchmarkMode.choices)
    config = models.JSONField(help_text="The load: lengths, concurrencies, requests per level, targets.")
    workload = models.OneToOneField(Workload, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="benchmark_run")
    result = models.JSONField(null=True, blank=True, help_text="What the load generator measured; null until "
                                                               "it reports.")
    result_received_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.mode} benchmark of {self.service_id}"


class QuantizationScheme(models.TextChoices):
    W8A8 = "w8a8", "W8A8"
    W4A16 = "w4a16", "W4A16"


class QuantizationJob(models.Model):
    """A model's weights quantized by the platform's quantization job (llm-compressor), run as a
    workload; its output is a compressed-tensors checkpoint a service serves as quantized_weights_uri
    (and, for an fp8/int8 KV cache, the calibrated scales, also as kv_scales.json)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="quantization_jobs")
    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="quantization_jobs")
    scheme = models.CharField(max_length=10, choices=QuantizationScheme.choices)
    kv_cache_dtype = models.CharField(max_length=10, choices=KvCacheDtype.choices, default=KvCacheDtype.AUTO)
    calibration_uri = models.CharField(max_length=1000, blank=True, default="",
                                       help_text="JSON lines of sample texts (\"text\"): KV-cache scales are "
                                                 "calibrated on them.")
    calibration_samples = models.PositiveIntegerField(default=64, validators=[MinValueValidator(1),
                                                                              MaxValueValidator(4096)])
    output_uri = models.CharField(max_length=1000)
    workload = models.OneToOneField(Workload, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="quantization_job")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.model} to {self.scheme}"
