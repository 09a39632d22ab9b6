from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from aiplatform.serializers import WorkspaceResourceField
from resourcepools.models import Flavor, Phase, ResourcePool
from resourcepools.services import platform_env_refusal

from . import services
from .models import Algorithm, MetricPoint, TrainingJob, VisualizationJob


class AlgorithmSerializer(serializers.ModelSerializer):
    is_preset = serializers.BooleanField(read_only=True)
    command = serializers.ListField(child=serializers.CharField())
    input_channels = serializers.ListField(child=serializers.SlugField(), required=False, default=list)
    output_channels = serializers.ListField(child=serializers.SlugField(), required=False, default=list)
    hyperparameters = serializers.ListField(child=serializers.DictField(), required=False, default=list)
    accelerator_kinds = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    preparation_steps = serializers.ListField(child=serializers.DictField(), required=False, default=list)
    outputs = serializers.DictField(required=False, default=dict)

    class Meta:
        model = Algorithm
        fields = [
            "id", "name", "description", "is_preset", "image", "command", "input_channels", "output_channels",
            "hyperparameters", "accelerator_kinds", "distributed", "preparation_steps", "outputs", "created_at",
        ]
        read_only_fields = ["id", "is_preset", "created_at"]
        validators = []


class InputSerializer(serializers.Serializer):
    channel = serializers.SlugField()
    uri = serializers.CharField(max_length=1000, required=False, help_text="An object-storage location.")
    dataset_version = serializers.UUIDField(required=False, help_text="A ready dataset version of this workspace; "
                                            "the job reads its manifest.")


# What a user reads next to the phase: what is happening now, in a word.
SECONDARY = {
    Phase.PENDING: "Creating",
    Phase.QUEUED: "Queued",
    Phase.ADMITTED: "Creating",
    Phase.RUNNING: "Running",
    Phase.STOPPING: "Stopping",
    Phase.SUCCEEDED: "Completed",
    Phase.STOPPED: "Stopped",
}


class StatusSerializer(serializers.Serializer):
    phase = serializers.CharField()
    secondary = serializers.CharField()
    message = serializers.CharField()
    queue_position = serializers.IntegerField(allow_null=True)


class BatchSerializer(serializers.Serializer):
    per_device_train_batch_size = serializers.IntegerField()
    gradient_accumulation_steps = serializers.IntegerField()
    data_parallel_size = serializers.IntegerField()
    global_batch_size = serializers.IntegerField()


class AttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    workload = serializers.UUIDField(source="workload_id")
    phase = serializers.CharField(source="workload.phase")
    reason = serializers.CharField(source="workload.reason")
    retry_reason = serializers.CharField(help_text="Why the attempt before it failed.")
    resumed_from_step = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


class TrainingJobSerializer(serializers.ModelSerializer):
    algorithm = WorkspaceResourceField(model=Algorithm, platform_too=True, required=False, allow_null=True,
                                       help_text="An algorithm of this workspace, or a platform preset.")
    algorithm_name = serializers.CharField(source="algorithm.name", read_only=True, default=None)
    flavor = serializers.SlugRelatedField(slug_field="name", queryset=Flavor.objects.all())
    pool = serializers.PrimaryKeyRelatedField(queryset=ResourcePool.objects.all())
    inputs = InputSerializer(many=True, required=False, default=list)
    command = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    hyperparameters = serializers.DictField(required=False, default=dict)
    env = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False, default=dict)
    tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False, default=list)
    node_count = serializers.IntegerField(min_value=1, default=1)
    phase = serializers.CharField(source="workload.phase", read_only=True)
    status = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)
    started_at = serializers.DateTimeField(source="workload.started_at", read_only=True)
    finished_at = serializers.DateTimeField(source="workload.finished_at", read_only=True)
    max_retries = serializers.IntegerField(min_value=0, default=0, help_text="Runs again after an infrastructure "
                                           "failure (lost node or replica, eviction), from its latest checkpoint.")
    batch = serializers.SerializerMethodField(help_text="LLM jobs: the global batch and what makes it.")
    attempts = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = TrainingJob
        fields = [
            "id", "name", "description", "algorithm", "algorithm_name", "image", "command", "inputs", "output_uri",
            "hyperparameters", "flavor", "pool", "node_count", "env", "max_runtime_seconds", "priority", "tags",
            "max_retries", "phase", "status", "workload", "attempt", "attempts", "batch", "throughput", "copied_from",
            "created_by", "created_at", "started_at", "finished_at",
        ]
        read_only_fields = ["id", "algorithm_name", "phase", "status", "workload", "attempt", "attempts", "batch",
                            "throughput", "copied_from", "created_by", "created_at", "started_at", "finished_at"]
        extra_kwargs = {"output_uri": {"required": False, "help_text": "Where the job writes; defaults to a folder "
                                       "of its own in the workspace's location (training-jobs/<id>/)."}}

    def validate_env(self, value):
        if refusal := platform_env_refusal(value):
            raise serializers.ValidationError(refusal)
        return value

    @extend_schema_field(BatchSerializer(allow_null=True))
    def get_batch(self, job):
        return services.batch_arithmetic(job)

    @extend_schema_field(StatusSerializer)
    def get_status(self, job):
        workload = job.workload
        secondary = SECONDARY.get(workload.phase) or workload.reason or "Failed"
        return {"phase": workload.phase, "secondary": secondary, "message": workload.message,
                "queue_position": workload.queue_position}


class TrainingJobCopySerializer(TrainingJobSerializer):
    """Every field optional: what is given overrides the copied job's value."""

    class Meta(TrainingJobSerializer.Meta):
        extra_kwargs = {name: {"required": False} for name in ("name", "output_uri", "flavor", "pool")}


class MetricPointSerializer(serializers.ModelSerializer):
    step = serializers.IntegerField(min_value=0)

    class Meta:
        model = MetricPoint
        fields = ["name", "step", "value", "recorded_at"]
        read_only_fields = ["recorded_at"]


class MetricReportSerializer(serializers.Serializer):
    metrics = MetricPointSerializer(many=True, allow_empty=False)


class JobEventSerializer(serializers.Serializer):
    attempt = serializers.IntegerField()
    workload = serializers.UUIDField(source="workload_id")
    created_at = serializers.DateTimeField()
    from_phase = serializers.CharField()
    to_phase = serializers.CharField()
    reason = serializers.CharField()
    message = serializers.CharField()


class CompareQuerySerializer(serializers.Serializer):
    jobs = serializers.CharField(help_text="Two or more job ids, comma-separated; the first is the baseline.")
    metric = serializers.CharField(default="loss", max_length=100)
    tolerance = serializers.FloatField(default=0.02, min_value=0, max_value=100,
                                       help_text="Relative error allowed against the baseline (0.02: 2 %).")
    step_from = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
    step_to = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)

    def validate_jobs(self, value):
        ids = [item.strip() for item in value.split(",") if item.strip()]
        if len(ids) < 2 or len(set(ids)) != len(ids):
            raise serializers.ValidationError("Give two or more different job ids, comma-separated.")
        field = WorkspaceResourceField(model=TrainingJob)
        field.bind("jobs", self)
        return [field.to_internal_value(item) for item in ids]


class RunComparisonSerializer(serializers.Serializer):
    job = serializers.UUIDField()
    name = serializers.CharField()
    common_steps = serializers.IntegerField()
    first_step = serializers.IntegerField(allow_null=True)
    last_step = serializers.IntegerField(allow_null=True)
    max_abs_diff = serializers.FloatField(allow_null=True)
    mean_abs_diff = serializers.FloatField(allow_null=True)
    max_relative_error = serializers.FloatField(allow_null=True)
    mean_relative_error = serializers.FloatField(allow_null=True)
    first_divergent_step = serializers.IntegerField(allow_null=True)
    within_tolerance = serializers.BooleanField()


class AlignedStepSerializer(serializers.Serializer):
    step = serializers.IntegerField()
    values = serializers.DictField(child=serializers.FloatField(allow_null=True), help_text="By job id.")


class ComparisonSerializer(serializers.Serializer):
    metric = serializers.CharField()
    baseline = serializers.UUIDField()
    tolerance = serializers.FloatField()
    passed = serializers.BooleanField()
    verdict = serializers.CharField()
    runs = RunComparisonSerializer(many=True)
    aligned = AlignedStepSerializer(many=True)


class VisualizationSerializer(serializers.ModelSerializer):
    training_jobs = serializers.ListField(child=WorkspaceResourceField(model=TrainingJob), min_length=1,
                                          max_length=50, write_only=True)
    jobs = serializers.SerializerMethodField()
    pool = serializers.PrimaryKeyRelatedField(queryset=ResourcePool.objects.all(), write_only=True)
    flavor = serializers.SlugRelatedField(slug_field="name", queryset=Flavor.objects.all(), required=False,
                                          allow_null=True, write_only=True,
                                          help_text="A CPU flavor of the pool; default: its smallest.")
    idle_timeout_seconds = serializers.IntegerField(min_value=60, max_value=7 * 24 * 3600, required=False)
    phase = serializers.CharField(source="workload.phase", read_only=True)
    message = serializers.CharField(source="workload.message", read_only=True)
    url = serializers.SerializerMethodField(help_text="Where TensorBoard answers, with your credentials.")

    class Meta:
        model = VisualizationJob
        fields = ["id", "name", "training_jobs", "jobs", "pool", "flavor", "idle_timeout_seconds", "phase", "message",
                  "workload", "url", "last_accessed_at", "created_at"]
        read_only_fields = ["id", "jobs", "phase", "message", "workload", "url", "last_accessed_at", "created_at"]

    @extend_schema_field(serializers.ListField(child=serializers.UUIDField()))
    def get_jobs(self, visualization):
        return [str(job.pk) for job in visualization.training_jobs.all()]

    def get_url(self, visualization) -> str:
        return services.proxy_path(visualization) + "/"
