from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from aiplatform.serializers import WorkspaceResourceField
from resourcepools.models import Flavor, Phase, ResourcePool

from .models import Algorithm, MetricPoint, TrainingJob


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

    class Meta:
        model = TrainingJob
        fields = [
            "id", "name", "description", "algorithm", "algorithm_name", "image", "command", "inputs", "output_uri",
            "hyperparameters", "flavor", "pool", "node_count", "env", "max_runtime_seconds", "priority", "tags",
            "phase", "status", "workload", "throughput", "copied_from", "created_by", "created_at", "started_at",
            "finished_at",
        ]
        read_only_fields = ["id", "algorithm_name", "phase", "status", "workload", "throughput", "copied_from",
                            "created_by", "created_at", "started_at", "finished_at"]
        extra_kwargs = {"output_uri": {"required": False, "help_text": "Where the job writes; defaults to a folder "
                                       "of its own in the workspace's location (training-jobs/<id>/)."}}

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
