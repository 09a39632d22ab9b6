"""Typed models of the API, generated from its OpenAPI schema by sdk/tools/generate.py; do not
edit. Responses are pydantic models that keep fields this version does not know; request
objects nested in bodies are TypedDicts (pass plain dicts)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, NotRequired, TypeAlias, TypedDict

from ._models import APIModel, WaitableModel

AcceleratorKindEnum: TypeAlias = Literal["none", "nvidia_gpu", "ascend_npu"]

AnnotationTaskScopeEnum: TypeAlias = Literal["all", "unlabelled", "filter"]

BenchmarkModeEnum: TypeAlias = Literal["static", "dynamic"]

DatasetTypeEnum: TypeAlias = Literal[
    "image_classification", "object_detection", "text_classification", "named_entity", "text_triplet",
    "audio_classification", "speech", "table", "video", "free_format"
]

DecisionEnum: TypeAlias = Literal["accept", "reject"]

DeploymentModeEnum: TypeAlias = Literal["unified", "disaggregated"]

DtypeEnum: TypeAlias = Literal["bf16", "fp16", "fp32"]

FormatEnum: TypeAlias = Literal["manifest", "coco", "voc", "yolo", "label_studio", "csv"]

HealthEnum: TypeAlias = Literal["healthy", "unhealthy"]

ImportTaskKindEnum: TypeAlias = Literal["prefix", "manifest", "coco", "voc", "yolo", "label_studio", "csv", "auto"]

KvCacheDtypeEnum: TypeAlias = Literal["auto", "fp8", "int8"]

KvConnectorEnum: TypeAlias = Literal["nixl", "mooncake"]

LabelAttributeTypeEnum: TypeAlias = Literal["boolean", "text", "number", "choice"]

MembershipRoleEnum: TypeAlias = Literal["owner", "developer", "annotator", "viewer"]

NewLabelsEnum: TypeAlias = Literal["add", "refuse"]

PeriodEnum: TypeAlias = Literal["monthly", "yearly"]

PoolStatusEnum: TypeAlias = Literal["creating", "running", "scaling", "abnormal", "frozen", "deleting"]

PredictionStateEnum: TypeAlias = Literal["predicted", "accepted", "rejected"]

PreemptionPolicyEnum: TypeAlias = Literal["never", "lower_priority", "lower_or_newer_equal_priority"]

QuantizationEnum: TypeAlias = Literal["none", "w8a8", "w4a16"]

QuantizationJobSchemeEnum: TypeAlias = Literal["w8a8", "w4a16"]

ResourcePoolCreateKindEnum: TypeAlias = Literal["public", "dedicated"]

ResultEnum: TypeAlias = Literal["accepted", "rejected"]

RoutingEnum: TypeAlias = Literal["least_outstanding", "prefix"]

RuntimeEnum: TypeAlias = Literal["vllm", "mindie", "sglang", "tgi", "builtin", "custom"]

SampleStatusEnum: TypeAlias = Literal["unlabelled", "labelled", "under_review", "accepted", "rejected"]

SourceEnum: TypeAlias = Literal["training_job", "storage", "image"]

StorageConnectionSchemeEnum: TypeAlias = Literal["s3", "obs"]

UsageEnum: TypeAlias = Literal["train", "eval", "inference", "none"]


class AnnotationRequest(TypedDict):
    """One label on a sample, in the manifest's form."""
    name: str
    type: NotRequired[str]
    box: NotRequired[BoxRequest]
    property: NotRequired[dict[str, Any]]
    confidence: NotRequired[float]


class BoxRequest(TypedDict):
    xmin: float
    ymin: float
    xmax: float
    ymax: float


class InputRequest(TypedDict):
    channel: str
    uri: NotRequired[str]
    dataset_version: NotRequired[str]


class ItemAnnotationRequest(TypedDict):
    id: int
    annotations: list[AnnotationRequest]


class LabelAttributeRequest(TypedDict):
    name: str
    type: NotRequired[LabelAttributeTypeEnum]
    values: NotRequired[list[str]]


class LabelRequest(TypedDict):
    name: str
    color: NotRequired[str]
    attributes: NotRequired[list[LabelAttributeRequest]]


class MetricPointRequest(TypedDict):
    name: str
    step: int
    value: float


class PodSetRequest(TypedDict):
    name: str
    replicas: int
    flavor: NotRequired[str]
    flavors: NotRequired[list[str]]
    vcpus: NotRequired[int]
    memory_gib: NotRequired[int]
    accelerators: NotRequired[int]


class PoolNodeSpecRequest(TypedDict):
    name: str
    flavor: str


class PredictionDecisionRequest(TypedDict):
    id: int
    decision: DecisionEnum


class QuotaFlavorRequest(TypedDict):
    """A queue's share of one flavor's nodes, where its pool has several flavors."""
    flavor: str
    max_accelerators: NotRequired[int | None]
    max_vcpus: NotRequired[int | None]
    max_memory_gib: NotRequired[int | None]
    borrowing_limit_accelerators: NotRequired[int | None]
    borrowing_limit_vcpus: NotRequired[int | None]
    borrowing_limit_memory_gib: NotRequired[int | None]
    lending_limit_accelerators: NotRequired[int | None]
    lending_limit_vcpus: NotRequired[int | None]
    lending_limit_memory_gib: NotRequired[int | None]


class ReviewDecisionRequest(TypedDict):
    id: int
    result: ResultEnum
    comment: NotRequired[str]


class SampleAnnotationItemRequest(TypedDict):
    id: int
    annotations: list[AnnotationRequest]
    usage: NotRequired[UsageEnum]


class SampleFiltersRequest(TypedDict):
    status: NotRequired[SampleStatusEnum]
    usage: NotRequired[UsageEnum]
    label: NotRequired[str]
    annotated_by: NotRequired[str]
    source: NotRequired[str]
    prediction: NotRequired[PredictionStateEnum]
    confidence_below: NotRequired[float]


class SampleInputRequest(TypedDict):
    source: str
    metadata: NotRequired[dict[str, Any]]
    usage: NotRequired[UsageEnum]
    annotations: NotRequired[list[AnnotationRequest]]


class AccountUser(APIModel):
    id: int
    username: str
    email: str
    is_admin: bool | None = None
    has_password: bool
    last_login: datetime
    created_at: datetime


class Algorithm(APIModel):
    id: str
    name: str
    description: str | None = None
    is_preset: bool
    image: str
    command: list[str]
    input_channels: list[str] | None = None
    output_channels: list[str] | None = None
    hyperparameters: list[dict[str, Any]] | None = None
    accelerator_kinds: list[str] | None = None
    distributed: bool | None = None
    preparation_steps: list[dict[str, Any]] | None = None
    outputs: dict[str, Any] | None = None
    created_at: datetime


class AlignedStep(APIModel):
    step: int
    values: dict[str, float | None]


class AnnotationItem(APIModel):
    id: int
    sample: Sample
    assignee: str
    status: str
    annotations: list[dict[str, Any]]
    predictions: list[ItemPrediction]
    annotated_at: datetime | None
    review_comment: str
    reviewed_by: str
    reviewed_at: datetime | None


class AnnotationTask(APIModel):
    id: str
    name: str
    description: str | None = None
    scope: str | None = None
    filters: SampleFilters | None = None
    status: str
    progress: TaskProgress
    annotators: list[AnnotatorProgress]
    created_by: str
    created_at: datetime
    completed_at: datetime | None


class AnnotatorProgress(APIModel):
    total: int
    assigned: int
    submitted: int
    accepted: int
    rejected: int
    username: str


class ApiKey(APIModel):
    id: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    is_active: bool


class ApiKeyCreated(APIModel):
    id: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    is_active: bool
    key: str


class Attempt(APIModel):
    number: int
    workload: str
    phase: str
    reason: str
    retry_reason: str
    resumed_from_step: int | None
    created_at: datetime


class AuditEvent(APIModel):
    id: int
    created_at: datetime
    actor: str
    action: str
    method: str
    path: str
    target_type: str
    target_id: str
    status_code: int
    source_ip: str | None
    api_key_prefix: str


class Batch(APIModel):
    per_device_train_batch_size: int
    gradient_accumulation_steps: int
    data_parallel_size: int
    global_batch_size: int


class BenchmarkRun(WaitableModel):
    id: str
    service: str
    mode: str
    config: Any
    state: BenchmarkStatus
    phase: str
    workload: str | None
    result: Any
    result_received_at: datetime | None
    created_at: datetime


class BenchmarkStatus(APIModel):
    status: str
    message: str


class Bill(APIModel):
    id: int
    account: str
    period: date
    currency: str
    scope: str
    total: Decimal
    closed: bool
    generated_at: datetime


class BillLine(APIModel):
    id: int
    workspace: str | None
    workspace_name: str
    resource_type: str
    resource_id: str
    resource_name: str
    mode: str
    flavor_name: str
    unit: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    description: str
    tags: Any


class BillingAccount(APIModel):
    account: str
    account_name: str
    balance: Decimal
    exact_balance: Decimal
    in_arrears: bool
    arrears_since: datetime | None
    updated_at: datetime


class Comparison(APIModel):
    metric: str
    baseline: str
    tolerance: float
    passed: bool
    verdict: str
    runs: list[RunComparison]
    aligned: list[AlignedStep]


class CostTag(APIModel):
    id: int
    workload: str
    workload_name: str
    key: str
    value: str
    created_at: datetime


class Dataset(APIModel):
    id: str
    name: str
    description: str | None = None
    type: str
    status: str
    input_uri: str | None = None
    output_uri: str | None = None
    labels: list[Label] | None = None
    sample_count: int
    labelled_count: int
    unlabelled_count: int
    created_by: str
    created_at: datetime
    updated_at: datetime


class DatasetVersion(WaitableModel):
    """`attempts` and `history` of a background task from its lease (aiplatform.leases): which run of it
    this is and what happened, e.g. a worker killed mid-import and the import resumed. A page reads the
    leases of all its tasks in one query.
    """
    id: str
    name: str
    description: str | None = None
    train_ratio: Decimal | None = None
    seed: int | None = None
    stratified: bool | None = None
    status: str
    sample_count: int
    labelled_count: int
    train_count: int
    eval_count: int
    label_stats: Any
    statistics: Any
    manifest_uri: str
    manifest_url: str | None
    error: str
    attempts: int
    history: list[RunHistory]
    created_by: str
    created_at: datetime
    published_at: datetime | None


class Estimate(APIModel):
    flavor: str
    nodes: int
    mode: str
    periods: int | None
    currency: str
    unit: str
    unit_price: Decimal
    amount: Decimal
    per: str
    ends_at: datetime | None


class ExportTask(WaitableModel):
    """`attempts` and `history` of a background task from its lease (aiplatform.leases): which run of it
    this is and what happened, e.g. a worker killed mid-import and the import resumed. A page reads the
    leases of all its tasks in one query.
    """
    id: str
    version: str | None = None
    filters: SampleFilters | None = None
    format: str | None = None
    target_uri: str | None = None
    status: str
    sample_count: int
    incomplete_count: int
    result_uri: str
    result_url: str | None
    error: str
    attempts: int
    history: list[RunHistory]
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class Flavor(APIModel):
    id: int
    name: str
    family: str | None = None
    vcpus: int
    memory_gib: int
    accelerator_kind: str | None = None
    accelerator_model: str | None = None
    accelerators: int | None = None
    accelerator_memory_gib: int | None = None
    is_active: bool | None = None
    created_at: datetime


class ImportTask(WaitableModel):
    """`attempts` and `history` of a background task from its lease (aiplatform.leases): which run of it
    this is and what happened, e.g. a worker killed mid-import and the import resumed. A page reads the
    leases of all its tasks in one query.
    """
    id: str
    kind: str
    source_uri: str
    options: Any = None
    new_labels: str | None = None
    status: str
    total: int | None
    processed: int
    added: int
    skipped: int
    failed: int
    errors: Any
    error: str
    attempts: int
    history: list[RunHistory]
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class Input(APIModel):
    channel: str
    uri: str | None = None
    dataset_version: str | None = None


class Invitation(APIModel):
    user: UserSummary
    is_admin: bool
    set_password_url: str
    expires_at: datetime
    emailed: bool


class ItemBatchResult(APIModel):
    count: int
    items: list[AnnotationItem]


class ItemPrediction(APIModel):
    id: int
    label: str
    confidence: float
    service: str


class JobEvent(APIModel):
    attempt: int
    workload: str
    created_at: datetime
    from_phase: str
    to_phase: str
    reason: str
    message: str


class Label(APIModel):
    name: str
    color: str | None = None
    attributes: list[LabelAttribute] | None = None


class LabelAttribute(APIModel):
    name: str
    type: str | None = None
    values: list[str] | None = None


class LedgerEntry(APIModel):
    id: int
    account: str
    kind: str
    amount: Decimal
    balance_after: Decimal
    key: str
    description: str
    created_at: datetime


class Me(APIModel):
    id: int
    username: str
    email: str
    is_operator: bool
    account: dict[str, Any] | None
    workspaces: list[dict[str, Any]]


class Membership(APIModel):
    id: int
    user: UserSummary
    role: str
    created_at: datetime


class MetricPoint(APIModel):
    name: str
    step: int
    value: float
    recorded_at: datetime


class Model(APIModel):
    id: str
    name: str
    version: str | None = None
    description: str | None = None
    source: str
    training_job: str | None = None
    uri: str | None = None
    adapter_uri: str | None = None
    lora_rank: int | None
    image: str | None = None
    command: list[str] | None = None
    runtime: str
    parameters: int | None = None
    expert_parameters: int | None = None
    layers: int | None = None
    hidden_size: int | None = None
    attention_heads: int | None = None
    kv_heads: int | None = None
    head_dim: int | None = None
    vocab_size: int | None = None
    dtype: str | None = None
    moe_experts: int | None = None
    experts_per_token: int | None = None
    plannable: bool
    created_at: datetime


class Node(APIModel):
    id: int
    name: str
    flavor: str
    schedulable: bool | None = None
    health: str | None = None
    created_at: datetime


class Notebook(APIModel):
    id: str
    name: str
    image_name: str | None = None
    custom_image: str | None = None
    image: str
    flavor: str
    pool: str
    storage_gib: int
    env: dict[str, str] | None = None
    idle_timeout_seconds: int | None = None
    max_lifetime_seconds: int | None = None
    phase: str
    reason: str
    message: str
    queue_position: int | None
    workload: str
    runs: int
    started_at: datetime | None
    last_activity_at: datetime | None
    url: str
    created_at: datetime


class NotebookImage(APIModel):
    name: str
    image: str
    accelerator_kind: str
    python: str
    framework: str
    driver: str


class Notification(APIModel):
    id: int
    kind: str
    subject: str
    message: str
    created_at: datetime
    read_at: datetime | None


class Package(APIModel):
    id: int
    account: str
    offer: int
    offer_name: str
    family: str
    node_hours_total: Decimal
    node_hours_used: Decimal
    status: str
    price: Decimal
    valid_from: datetime
    valid_until: datetime
    purchased_at: datetime


class PackageOffer(APIModel):
    id: int
    name: str
    family: str
    node_hours: int
    validity_months: int | None = None
    price: Decimal
    currency: str | None = None
    is_active: bool | None = None
    created_at: datetime


class Plan(APIModel):
    fits: bool
    bytes_per_weight: float
    weights_per_device_gib: float
    kv_bytes_per_token: int
    usable_per_device_gib: float
    kv_tokens_per_device: int
    kv_tokens_per_instance: int
    max_concurrent_sequences: int
    cards_per_instance: int
    data_parallel: int
    kv_cache_gib: int | None
    flavor: str
    card_memory_gib: float
    runtime_reserve_gib: float
    max_model_len: int
    problems: list[str]
    suggestions: list[str]


class PodSet(APIModel):
    name: str
    replicas: int
    flavor: str | None = None
    flavors: list[str] | None = None
    vcpus: int | None = None
    memory_gib: int | None = None
    accelerators: int | None = None


class Prediction(APIModel):
    id: int
    sample: int
    source: str
    task: str | None
    service: str
    label: str
    confidence: float
    state: str
    reviewed_by: str
    reviewed_at: datetime | None
    created_at: datetime


class PredictionBulkResult(APIModel):
    accepted: int | None = None
    rejected: int | None = None
    skipped: int


class PredictionReviewResult(APIModel):
    count: int
    predictions: list[Prediction]


class PrelabelTask(APIModel):
    """`attempts` and `history` of a background task from its lease (aiplatform.leases): which run of it
    this is and what happened, e.g. a worker killed mid-import and the import resumed. A page reads the
    leases of all its tasks in one query.
    """
    id: str
    service: str
    service_name: str
    filters: SampleFilters | None = None
    min_confidence: float | None = None
    batch_size: int | None = None
    status: str
    total: int | None
    processed: int
    predicted: int
    below_threshold: int
    failed: int
    errors: Any
    error: str
    attempts: int
    history: list[RunHistory]
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class Price(APIModel):
    id: int
    flavor: str
    family: str
    pay_per_use_hourly: Decimal
    monthly: Decimal
    yearly: Decimal
    input_tokens_per_million: Decimal | None = None
    output_tokens_per_million: Decimal | None = None
    currency: str | None = None
    effective_from: datetime | None = None
    created_at: datetime


class QuantizationJob(APIModel):
    id: str
    model: str
    scheme: str
    kv_cache_dtype: str | None = None
    calibration_uri: str | None = None
    calibration_samples: int | None = None
    output_uri: str | None = None
    state: ServiceStatus
    phase: str
    workload: str | None
    quantized_weights_uri: str | None
    kv_scales_uri: str | None
    created_at: datetime


class Quota(APIModel):
    """A workspace's queue in a pool (its quota): nominal shares, borrowing and lending limits, weight,
    what it uses, borrows and lends now.
    """
    id: int
    pool: str
    pool_name: str
    max_accelerators: int | None = None
    max_vcpus: int | None = None
    max_memory_gib: int | None = None
    max_workloads: int | None = None
    borrowing_limit_accelerators: int | None = None
    borrowing_limit_vcpus: int | None = None
    borrowing_limit_memory_gib: int | None = None
    lending_limit_accelerators: int | None = None
    lending_limit_vcpus: int | None = None
    lending_limit_memory_gib: int | None = None
    weight: Decimal | None = None
    preemption_policy: str | None = None
    flavors: list[QuotaFlavor] | None = None
    usage: dict[str, int]
    borrowed: ResourceAmounts
    lent: ResourceAmounts
    updated_at: datetime


class QuotaFlavor(APIModel):
    """A queue's share of one flavor's nodes, where its pool has several flavors."""
    flavor: str
    max_accelerators: int | None = None
    max_vcpus: int | None = None
    max_memory_gib: int | None = None
    borrowing_limit_accelerators: int | None = None
    borrowing_limit_vcpus: int | None = None
    borrowing_limit_memory_gib: int | None = None
    lending_limit_accelerators: int | None = None
    lending_limit_vcpus: int | None = None
    lending_limit_memory_gib: int | None = None
    borrowed: ResourceAmounts
    lent: ResourceAmounts


class ResourceAmounts(APIModel):
    vcpus: int
    memory_gib: int
    accelerators: int


class ResourcePool(APIModel):
    id: str
    name: str
    placement_label: str
    description: str
    kind: str
    account: str | None
    region: str
    availability_zone: str
    status: str
    status_message: str
    created_at: datetime
    utilisation: Utilisation


class RunComparison(APIModel):
    job: str
    name: str
    common_steps: int
    first_step: int | None
    last_step: int | None
    max_abs_diff: float | None
    mean_abs_diff: float | None
    max_relative_error: float | None
    mean_relative_error: float | None
    first_divergent_step: int | None
    within_tolerance: bool


class RunHistory(APIModel):
    at: datetime
    event: str
    message: str


class Sample(APIModel):
    id: int
    source: str
    metadata: Any
    annotations: list[dict[str, Any]]
    status: str
    usage: str
    annotated_by: str
    annotated_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SampleBatchResult(APIModel):
    count: int
    samples: list[Sample] | None = None


class SampleFilters(APIModel):
    status: str | None = None
    usage: str | None = None
    label: str | None = None
    annotated_by: str | None = None
    source: str | None = None
    prediction: str | None = None
    confidence_below: float | None = None


class Service(WaitableModel):
    id: str
    name: str
    description: str | None = None
    model: str
    pool: str
    flavor: str
    instance_count: int | None = None
    mode: str | None = None
    prefill_instances: int | None = None
    decode_instances: int | None = None
    prefill_flavor: str | None = None
    decode_flavor: str | None = None
    router_flavor: str | None = None
    tensor_parallel: int | None = None
    pipeline_parallel: int | None = None
    data_parallel: int | None = None
    expert_parallel: int | None = None
    prefix_caching: bool | None = None
    kv_cache_dtype: str | None = None
    kv_scales_uri: str | None = None
    max_model_len: int | None = None
    max_num_seqs: int | None = None
    max_num_batched_tokens: int | None = None
    chunked_prefill: bool | None = None
    kv_connector: str | None = None
    enforce_eager: bool | None = None
    memory_utilisation: float | None = None
    quantization: str | None = None
    quantized_weights_uri: str | None = None
    min_instances: int | None = None
    max_instances: int | None = None
    target_concurrency: int | None = None
    state: ServiceStatus
    phase: str
    workload: str | None
    next_workload: str | None
    plan: Any
    launch: Any
    created_at: datetime


class ServiceGateway(APIModel):
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    key_requests_per_minute: int | None = None
    key_tokens_per_minute: int | None = None
    max_streams_per_instance: int | None = None
    routing: str | None = None
    updated_at: datetime


class ServiceStatus(APIModel):
    status: str
    message: str


class Status(APIModel):
    phase: str
    secondary: str
    message: str
    queue_position: int | None


class StorageConnection(APIModel):
    id: str
    name: str
    scheme: str | None = None
    bucket: str
    prefix: str | None = None
    uri: str
    endpoint_url: str | None = None
    region: str | None = None
    path_style: bool | None = None
    access_key_hint: str
    role_arn: str | None = None
    external_id: str
    read_only: bool | None = None
    created_by: str
    created_at: datetime
    updated_at: datetime


class StorageConnectionCheck(APIModel):
    ok: bool
    detail: str


class Subscription(APIModel):
    id: str
    account: str
    pool: str
    pool_name: str
    pool_status: str
    flavor: str
    nodes: int
    period: str
    periods: int
    unit_price: Decimal
    currency: str
    paid: Decimal
    starts_at: datetime
    ends_at: datetime
    auto_renew: bool
    status: str
    work_stopped: bool
    created_at: datetime


class SubscriptionEvent(APIModel):
    id: int
    from_status: str
    to_status: str
    reason: str
    message: str
    created_at: datetime


class TaskProgress(APIModel):
    total: int
    assigned: int
    submitted: int
    accepted: int
    rejected: int


class Traffic(APIModel):
    """A minute of a service's traffic through the gateway (all keys, or the key asked for)."""
    minute: datetime
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    latency_ms_mean: float
    latency_ms_max: float
    ttft_ms_mean: float | None
    streams: int


class TrainingJob(WaitableModel):
    id: str
    name: str
    description: str | None = None
    algorithm: str | None = None
    algorithm_name: str
    image: str | None = None
    command: list[str] | None = None
    inputs: list[Input] | None = None
    output_uri: str | None = None
    hyperparameters: dict[str, Any] | None = None
    flavor: str
    pool: str
    node_count: int | None = None
    env: dict[str, str] | None = None
    max_runtime_seconds: int | None = None
    priority: int | None = None
    tags: list[str] | None = None
    max_retries: int | None = None
    phase: str
    status: Status
    workload: str
    attempt: int
    attempts: list[Attempt]
    batch: Batch | None
    throughput: Any
    copied_from: str | None
    created_by: str
    created_at: datetime
    started_at: datetime
    finished_at: datetime


class Upload(APIModel):
    id: str
    uri: str
    size: int
    part_size: int
    part_count: int
    transport: str
    expires_at: datetime
    parts: list[UploadPart]


class UploadPart(APIModel):
    number: int
    size: int
    uploaded: bool
    etag: str | None
    url: str


class UploadPartWritten(APIModel):
    number: int
    size: int
    etag: str


class UploadedObject(APIModel):
    uri: str
    size: int


class UsageRecord(APIModel):
    id: int
    key: str
    workspace: str
    workload: str
    workload_name: str
    pod_set: int
    pool: str
    pool_name: str
    dedicated: bool
    flavor: str
    family: str
    replicas: int
    started_at: datetime
    ended_at: datetime
    node_seconds: int


class UserSummary(APIModel):
    id: int
    username: str
    email: str | None = None


class Utilisation(APIModel):
    nodes: int
    capacity: ResourceAmounts
    used: ResourceAmounts
    utilisation: dict[str, float]


class Visualization(APIModel):
    id: str
    name: str
    jobs: list[str]
    idle_timeout_seconds: int | None = None
    phase: str
    message: str
    workload: str
    url: str
    last_accessed_at: datetime | None
    created_at: datetime


class Workload(WaitableModel):
    id: str
    name: str
    kind: str
    pool: str
    pool_name: str
    priority: int | None = None
    pod_sets: list[PodSet]
    image: str | None = None
    command: list[str] | None = None
    env: dict[str, str] | None = None
    max_runtime_seconds: int | None = None
    preemptible: bool | None = None
    phase: str
    reason: str
    evictions: int
    message: str
    queue_position: int | None
    estimated_start_at: datetime | None
    estimate_basis: str
    created_by: str
    created_at: datetime
    queued_at: datetime | None
    admitted_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


class WorkloadEvent(APIModel):
    id: int
    created_at: datetime
    from_phase: str
    to_phase: str
    reason: str
    message: str


class WorkloadLogs(APIModel):
    replica: str | None
    replicas: list[str]
    lines: list[str]


class Workspace(APIModel):
    id: str
    name: str
    description: str | None = None
    account: str
    storage_uri: str
    created_at: datetime
    updated_at: datetime
