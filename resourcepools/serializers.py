from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from aiplatform.models import Account

from .models import Flavor, Node, PodSet, Quota, QuotaFlavor, ResourcePool, Workload, WorkloadEvent
from .services import platform_env_refusal


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


QUEUE_FIELDS = [
    "max_accelerators", "max_vcpus", "max_memory_gib", "max_workloads",
    "borrowing_limit_accelerators", "borrowing_limit_vcpus", "borrowing_limit_memory_gib",
    "lending_limit_accelerators", "lending_limit_vcpus", "lending_limit_memory_gib", "weight", "preemption_policy",
]
QUEUE_HELP = {
    "max_accelerators": {"help_text": "Nominal (guaranteed) share of accelerators; null: no limit."},
    "max_vcpus": {"help_text": "Nominal (guaranteed) share of vCPUs; null: no limit."},
    "max_memory_gib": {"help_text": "Nominal (guaranteed) share of memory in GiB; null: no limit."},
    **{f"borrowing_limit_{r}": {"help_text": f"How much above max_{r} the queue may use of the cohort's idle "
                                             "capacity; 0 (the default): no borrowing; null: no limit."}
       for r in ("accelerators", "vcpus", "memory_gib")},
    **{f"lending_limit_{r}": {"help_text": f"How much of its unused max_{r} other queues may borrow; null (the "
                                           "default): all of it."}
       for r in ("accelerators", "vcpus", "memory_gib")},
    "weight": {"help_text": "The queue's weight in sharing idle capacity among borrowers (default 1)."},
    "preemption_policy": {"help_text": "Which of this queue's own admitted work its queued work may preempt: never "
                                       "(the default), lower_priority, or lower_or_newer_equal_priority (also work of "
                                       "the same priority queued later). Reclaiming what other queues borrowed needs "
                                       "no policy."},
}


class QuotaFlavorSerializer(serializers.ModelSerializer):
    """A queue's share of one flavor's nodes, where its pool has several flavors."""

    flavor = serializers.SlugRelatedField(slug_field="name", queryset=Flavor.objects.all())
    borrowed = serializers.SerializerMethodField()
    lent = serializers.SerializerMethodField()

    class Meta:
        model = QuotaFlavor
        fields = ["flavor", *QUEUE_FIELDS[:3], *QUEUE_FIELDS[4:10], "borrowed", "lent"]
        read_only_fields = ["borrowed", "lent"]
        extra_kwargs = QUEUE_HELP
        validators = []

    def _amounts(self, share, which):
        pool = self.context.get("shares", {}).get(share.quota.pool_id, {})
        return pool.get("flavors", {}).get(share.flavor_id, {}).get(which, {})

    @extend_schema_field(ResourceAmountsSerializer)
    def get_borrowed(self, share):
        """What the queue uses above this flavor share now."""
        return self._amounts(share, "borrowed")

    @extend_schema_field(ResourceAmountsSerializer)
    def get_lent(self, share):
        """What of this flavor share, unused, other queues use now."""
        return self._amounts(share, "lent")


class QuotaSerializer(serializers.ModelSerializer):
    """A workspace's queue in a pool (its quota): nominal shares, borrowing and lending limits,
    weight, what it uses, borrows and lends now."""

    pool = serializers.PrimaryKeyRelatedField(queryset=ResourcePool.objects.all())
    pool_name = serializers.CharField(source="pool.name", read_only=True)
    usage = serializers.SerializerMethodField()
    borrowed = serializers.SerializerMethodField()
    lent = serializers.SerializerMethodField()
    flavors = QuotaFlavorSerializer(
        many=True, required=False, source="flavor_shares",
        help_text="Shares per flavor, where the pool has several: each applies on that flavor's nodes, besides "
                  "the queue's own over the pool. Given, it replaces the queue's flavor shares.")

    class Meta:
        model = Quota
        fields = ["id", "pool", "pool_name", *QUEUE_FIELDS, "flavors", "usage", "borrowed", "lent", "updated_at"]
        read_only_fields = ["id", "pool_name", "usage", "borrowed", "lent", "updated_at"]
        extra_kwargs = QUEUE_HELP
        validators = []

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField()))
    def get_usage(self, quota):
        return self.context["usage"].get(quota.pool_id, {})

    @extend_schema_field(ResourceAmountsSerializer)
    def get_borrowed(self, quota):
        """What the queue uses above its nominal share now."""
        return self.context.get("shares", {}).get(quota.pool_id, {}).get("borrowed", {})

    @extend_schema_field(ResourceAmountsSerializer)
    def get_lent(self, quota):
        """What of its unused nominal share other queues use now."""
        return self.context.get("shares", {}).get(quota.pool_id, {}).get("lent", {})


class QuotaUpdateSerializer(serializers.ModelSerializer):
    flavors = QuotaFlavorSerializer(many=True, required=False, source="flavor_shares")

    class Meta:
        model = Quota
        fields = [*QUEUE_FIELDS, "flavors"]
        extra_kwargs = QUEUE_HELP


class PodSetSerializer(serializers.ModelSerializer):
    flavor = serializers.SlugRelatedField(
        slug_field="name", queryset=Flavor.objects.all(), required=False,
        help_text="The flavor its replicas run on (or give flavors); once admitted, the one chosen.")
    flavors = serializers.ListField(
        child=serializers.SlugRelatedField(slug_field="name", queryset=Flavor.objects.all()), required=False,
        min_length=1, max_length=4,
        help_text="Instead of flavor: up to four flavors in order of preference; admission takes the first that "
                  "its queue allows and the free nodes fit. Empty when it names one flavor.")
    vcpus = serializers.IntegerField(required=False, min_value=1, help_text="Per replica; default: a whole node.")
    memory_gib = serializers.IntegerField(required=False, min_value=1, help_text="Per replica; default: a whole node.")
    accelerators = serializers.IntegerField(required=False, min_value=0,
                                            help_text="Per replica; default: all cards of a node.")
    replicas = serializers.IntegerField(min_value=1)

    class Meta:
        model = PodSet
        fields = ["name", "replicas", "flavor", "flavors", "vcpus", "memory_gib", "accelerators"]
        validators = []


class WorkloadSerializer(serializers.ModelSerializer):
    pod_sets = PodSetSerializer(many=True)
    pool = serializers.PrimaryKeyRelatedField(queryset=ResourcePool.objects.all())
    pool_name = serializers.CharField(source="pool.name", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)
    command = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    env = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False, default=dict)
    estimated_start_at = serializers.SerializerMethodField(
        help_text="Queued work: when it is expected to start (UTC); null when no estimate can be given.")
    estimate_basis = serializers.SerializerMethodField(
        help_text="Queued work: what the estimate rests on, in words (or why there is none).")

    class Meta:
        model = Workload
        fields = [
            "id", "name", "kind", "pool", "pool_name", "priority", "pod_sets", "image", "command", "env",
            "max_runtime_seconds", "preemptible", "phase", "reason", "evictions", "message", "queue_position",
            "estimated_start_at", "estimate_basis", "created_by", "created_at", "queued_at", "admitted_at",
            "started_at", "finished_at",
        ]
        read_only_fields = [
            "id", "kind", "pool_name", "phase", "reason", "evictions", "message", "queue_position", "created_by",
            "created_at", "queued_at", "admitted_at", "started_at", "finished_at",
        ]

    def validate_env(self, value):
        if refusal := platform_env_refusal(value):
            raise serializers.ValidationError(refusal)
        return value

    def _estimate(self, workload):
        return self.context.get("estimates", {}).get(workload.pk)

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_estimated_start_at(self, workload):
        estimate = self._estimate(workload)
        return serializers.DateTimeField().to_representation(estimate.starts_at) if estimate and \
            estimate.starts_at else None

    @extend_schema_field(serializers.CharField())
    def get_estimate_basis(self, workload):
        estimate = self._estimate(workload)
        return estimate.basis if estimate else ""


class WorkloadEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = WorkloadEvent
        fields = ["id", "created_at", "from_phase", "to_phase", "reason", "message"]
        read_only_fields = fields
