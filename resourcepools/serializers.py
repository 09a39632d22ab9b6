from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from aiplatform.models import Account

from .models import Flavor, Node, PodSet, Quota, ResourcePool, Workload, WorkloadEvent


class FlavorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Flavor
        fields = [
            "id", "name", "family", "vcpus", "memory_gib", "accelerator_kind", "accelerator_model", "accelerators",
            "accelerator_memory_gib", "is_active", "created_at",
        ]
        read_only_fields = ["id", "created_at"]


class ResourceAmountsSerializer(serializers.Serializer):
    vcpus = serializers.IntegerField()
    memory_gib = serializers.IntegerField()
    accelerators = serializers.IntegerField()


class UtilisationSerializer(serializers.Serializer):
    nodes = serializers.IntegerField()
    capacity = ResourceAmountsSerializer()
    used = ResourceAmountsSerializer()
    utilisation = serializers.DictField(child=serializers.FloatField())


class ResourcePoolSerializer(serializers.ModelSerializer):
    utilisation = serializers.SerializerMethodField()

    class Meta:
        model = ResourcePool
        fields = [
            "id", "name", "placement_label", "description", "kind", "account", "region", "availability_zone",
            "status", "status_message", "created_at", "utilisation",
        ]
        read_only_fields = fields

    @extend_schema_field(UtilisationSerializer)
    def get_utilisation(self, pool):
        return self.context["utilisation"][pool.pk]


class PoolNodeSpecSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=253)
    flavor = serializers.SlugRelatedField(slug_field="name", queryset=Flavor.objects.all())


class ResourcePoolCreateSerializer(serializers.Serializer):
    name = serializers.SlugField(max_length=63)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=["public", "dedicated"])
    account = serializers.PrimaryKeyRelatedField(queryset=Account.objects.all(), required=False, allow_null=True)
    region = serializers.CharField(max_length=64, default="local")
    availability_zone = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    nodes = PoolNodeSpecSerializer(many=True, required=False, default=list)


class ResourcePoolUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = ResourcePool
        fields = ["description", "region", "availability_zone", "status", "status_message"]


class NodeSerializer(serializers.ModelSerializer):
    flavor = serializers.SlugRelatedField(slug_field="name", queryset=Flavor.objects.all())

    class Meta:
        model = Node
        fields = ["id", "name", "flavor", "schedulable", "health", "created_at"]
        read_only_fields = ["id", "created_at"]


class NodeUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Node
        fields = ["schedulable", "health"]


class QuotaSerializer(serializers.ModelSerializer):
    pool = serializers.PrimaryKeyRelatedField(queryset=ResourcePool.objects.all())
    pool_name = serializers.CharField(source="pool.name", read_only=True)
    usage = serializers.SerializerMethodField()

    class Meta:
        model = Quota
        fields = [
            "id", "pool", "pool_name", "max_accelerators", "max_vcpus", "max_memory_gib", "max_workloads", "usage",
            "updated_at",
        ]
        read_only_fields = ["id", "pool_name", "usage", "updated_at"]
        validators = []

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField()))
    def get_usage(self, quota):
        return self.context["usage"].get(quota.pool_id, {})


class QuotaUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Quota
        fields = ["max_accelerators", "max_vcpus", "max_memory_gib", "max_workloads"]


class PodSetSerializer(serializers.ModelSerializer):
    flavor = serializers.SlugRelatedField(slug_field="name", queryset=Flavor.objects.all())
    vcpus = serializers.IntegerField(required=False, min_value=1, help_text="Per replica; default: a whole node.")
    memory_gib = serializers.IntegerField(required=False, min_value=1, help_text="Per replica; default: a whole node.")
    accelerators = serializers.IntegerField(required=False, min_value=0,
                                            help_text="Per replica; default: all cards of a node.")
    replicas = serializers.IntegerField(min_value=1)

    class Meta:
        model = PodSet
        fields = ["name", "replicas", "flavor", "vcpus", "memory_gib", "accelerators"]
        validators = []


class WorkloadSerializer(serializers.ModelSerializer):
    pod_sets = PodSetSerializer(many=True)
    pool = serializers.PrimaryKeyRelatedField(queryset=ResourcePool.objects.all())
    pool_name = serializers.CharField(source="pool.name", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)
    command = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    env = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False, default=dict)

    class Meta:
        model = Workload
        fields = [
            "id", "name", "kind", "pool", "pool_name", "priority", "pod_sets", "image", "command", "env",
            "max_runtime_seconds", "phase", "reason", "message", "queue_position", "created_by", "created_at",
            "queued_at", "admitted_at", "started_at", "finished_at",
        ]
        read_only_fields = [
            "id", "kind", "pool_name", "phase", "reason", "message", "queue_position", "created_by", "created_at",
            "queued_at", "admitted_at", "started_at", "finished_at",
        ]


class WorkloadEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = WorkloadEvent
        fields = ["id", "created_at", "from_phase", "to_phase", "reason", "message"]
        read_only_fields = fields
