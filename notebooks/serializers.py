from rest_framework import serializers

from resourcepools.models import Flavor, ResourcePool

from . import services
from .catalogue import IMAGES
from .models import Notebook


class NotebookSerializer(serializers.ModelSerializer):
    pool = serializers.PrimaryKeyRelatedField(queryset=ResourcePool.objects.all())
    flavor = serializers.SlugRelatedField(slug_field="name", queryset=Flavor.objects.all())
    image_name = serializers.CharField(required=False, allow_blank=True, default="",
                                       help_text=f"One of the catalogue's images: {', '.join(IMAGES)}.")
    custom_image = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    env = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False,
                                help_text="Environment variables; a value secret://<secret>/<key> is read from "
                                          "the workspace's secret.")
    idle_timeout_seconds = serializers.IntegerField(required=False, help_text="Stopped after this long without "
                                                    "kernel or terminal activity (Jupyter's own activity API).")
    phase = serializers.CharField(source="workload.phase", read_only=True)
    reason = serializers.CharField(source="workload.reason", read_only=True)
    message = serializers.CharField(source="workload.message", read_only=True)
    queue_position = serializers.IntegerField(source="workload.queue_position", read_only=True, allow_null=True)
    started_at = serializers.DateTimeField(source="workload.started_at", read_only=True, allow_null=True)
    url = serializers.SerializerMethodField(help_text="Where its JupyterLab answers, with your credentials.")

    class Meta:
        model = Notebook
        fields = ["id", "name", "image_name", "custom_image", "image", "flavor", "pool", "storage_gib", "env",
                  "idle_timeout_seconds", "max_lifetime_seconds", "phase", "reason", "message", "queue_position",
                  "workload", "runs", "started_at", "last_activity_at", "url", "created_at"]
        read_only_fields = ["id", "image", "phase", "reason", "message", "queue_position", "workload", "runs",
                            "started_at", "last_activity_at", "url", "created_at"]
        # Uniqueness per workspace is the service's check (it names the field).
        validators = []

    def get_url(self, notebook) -> str:
        return services.proxy_path(notebook)


class NotebookTrainingJobSerializer(serializers.Serializer):
    """A training job run from the notebook's storage (its working folder) with the notebook's image."""

    name = serializers.CharField(max_length=100)
    command = serializers.ListField(child=serializers.CharField(), min_length=1,
                                    help_text='Run in the notebook\'s folder, e.g. ["python", "train.py"].')
    flavor = serializers.SlugRelatedField(slug_field="name", queryset=Flavor.objects.all())
    pool = serializers.PrimaryKeyRelatedField(queryset=ResourcePool.objects.all())
    env = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False, default=dict)
    max_runtime_seconds = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    priority = serializers.IntegerField(required=False, default=0)


class NotebookImageSerializer(serializers.Serializer):
    name = serializers.CharField()
    image = serializers.CharField()
    accelerator_kind = serializers.CharField()
    python = serializers.CharField()
    framework = serializers.CharField()
    driver = serializers.CharField()


def catalogue() -> list[dict]:
    return [image.as_dict() for image in IMAGES.values()]
