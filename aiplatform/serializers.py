from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework import serializers

from .models import ApiKey, AuditEvent, Membership, Role, Workspace

User = get_user_model()


class UserSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "email"]


class WorkspaceSerializer(serializers.ModelSerializer):
    account = serializers.CharField(source="account.name", read_only=True)

    class Meta:
        model = Workspace
        fields = ["id", "name", "description", "account", "created_at", "updated_at"]
        read_only_fields = ["id", "account", "created_at", "updated_at"]
        # Uniqueness per account is checked by the service, which names the clash.
        validators = []


class MembershipSerializer(serializers.ModelSerializer):
    user = UserSummarySerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "created_at"]
        read_only_fields = ["id", "user", "created_at"]


class MembershipCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class MembershipUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class ApiKeySerializer(serializers.ModelSerializer):
    is_active = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at", "is_active"]
        read_only_fields = fields

    def get_is_active(self, obj) -> bool:
        return obj.revoked_at is None and (obj.expires_at is None or obj.expires_at > timezone.now())


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The secret. It is shown only this once.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", read_only=True, default=None)

    class Meta:
        model = AuditEvent
        fields = [
            "id", "created_at", "actor", "action", "method", "path", "target_type", "target_id",
            "status_code", "source_ip", "api_key_prefix",
        ]
        read_only_fields = fields


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()
    is_operator = serializers.BooleanField()
    account = serializers.DictField(allow_null=True)
    workspaces = serializers.ListField(child=serializers.DictField())
