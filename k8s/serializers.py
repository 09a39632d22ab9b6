from rest_framework import serializers


class LogQuerySerializer(serializers.Serializer):
    replica = serializers.CharField(required=False, max_length=253,
                                    help_text="Which replica (e.g. worker-1); default: the first.")
    tail = serializers.IntegerField(required=False, min_value=1, max_value=10000, default=500,
                                    help_text="How many of the last lines to return.")
    follow = serializers.BooleanField(required=False, default=False,
                                      help_text="Stream new lines as text/plain until the replica ends.")
    download = serializers.BooleanField(required=False, default=False,
                                        help_text="The replica's whole log as a text/plain file attachment.")


class WorkloadLogsSerializer(serializers.Serializer):
    replica = serializers.CharField(allow_null=True)
    replicas = serializers.ListField(child=serializers.CharField())
    lines = serializers.ListField(child=serializers.CharField())
