from rest_framework import serializers

from .models import ServiceGateway


class TrafficSerializer(serializers.Serializer):
    """A minute of a service's traffic through the gateway (all keys, or the key asked for)."""

    minute = serializers.DateTimeField()
    requests = serializers.IntegerField()
    errors = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    latency_ms_mean = serializers.FloatField()
    latency_ms_max = serializers.FloatField()
    ttft_ms_mean = serializers.FloatField(allow_null=True, help_text="Mean time to first token of streamed answers.")
    streams = serializers.IntegerField()


class TrafficQuerySerializer(serializers.Serializer):
    api_key = serializers.CharField(required=False, max_length=16,
                                    help_text="Only this API key's traffic (its prefix).")
    since = serializers.DateTimeField(required=False, help_text="Minutes from this moment on.")


class ServiceGatewaySerializer(serializers.ModelSerializer):
    class Meta:
        model = ServiceGateway
        fields = ["requests_per_minute", "tokens_per_minute", "key_requests_per_minute", "key_tokens_per_minute",
                  "max_streams_per_instance", "routing", "updated_at"]
        read_only_fields = ["updated_at"]


