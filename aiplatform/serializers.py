from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from rest_framework import serializers

from .models import AccountMember, ApiKey, AuditEvent, Membership, Role, StorageConnection, Workspace
from .storage import workspace_root_uri

User = get_user_model()


class UserSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "email"]


class WorkspaceSerializer(serializers.ModelSerializer):
    account = serializers.CharField(source="account.name", read_only=True)
    storage_uri = serializers.SerializerMethodField(
        help_text="The workspace's own storage location; datasets, jobs and exports default to folders in it.")

    class Meta:
        model = Workspace
        fields = ["id", "name", "description", "account", "storage_uri", "created_at", "updated_at"]
        read_only_fields = ["id", "account", "created_at", "updated_at"]
        # Uniqueness per account is checked by the service, which names the clash.
        validators = []

    def get_storage_uri(self, workspace) -> str:
        return workspace_root_uri(workspace.pk)


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


class InvitationCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, required=False, allow_blank=True,
                                     help_text="Their user name; empty: their e-mail address.")
    email = serializers.EmailField(required=False, allow_blank=True,
                                   help_text="Where the set-password link is mailed (INVITATION_EMAILS).")
    is_admin = serializers.BooleanField(default=False, help_text="An account admin.")
    workspace = serializers.UUIDField(required=False, allow_null=True,
                                      help_text="A workspace of the account they join at once, with `role`.")
    role = serializers.ChoiceField(choices=Role.choices, required=False, allow_null=True)


class InvitationSerializer(serializers.Serializer):
    user = UserSummarySerializer()
    is_admin = serializers.BooleanField()
    set_password_url = serializers.URLField(help_text="The link with which they choose a password and sign in; "
                                            "it works once, until PASSWORD_RESET_TIMEOUT.")
    expires_at = serializers.DateTimeField()
    emailed = serializers.BooleanField(help_text="Whether the link was mailed to them.")


class AccountUserSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="user.id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.CharField(source="user.email", read_only=True)
    has_password = serializers.SerializerMethodField(help_text="False until they used their invitation.")
    last_login = serializers.DateTimeField(source="user.last_login", read_only=True)

    class Meta:
        model = AccountMember
        fields = ["id", "username", "email", "is_admin", "has_password", "last_login", "created_at"]
        read_only_fields = ["id", "username", "email", "has_password", "last_login", "created_at"]

    def get_has_password(self, member) -> bool:
        return member.user.has_usable_password()


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


class StorageConnectionSerializer(serializers.ModelSerializer):
    uri = serializers.CharField(read_only=True, help_text="The location the connection covers.")
    secret_access_key = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=256, trim_whitespace=False,
        help_text="Kept encrypted; never returned.",
    )
    access_key_id = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=128)
    access_key_hint = serializers.SerializerMethodField(help_text="The access key id's last four characters.")
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = StorageConnection
        fields = [
            "id", "name", "scheme", "bucket", "prefix", "uri", "endpoint_url", "region", "path_style",
            "access_key_id", "access_key_hint", "secret_access_key", "role_arn", "external_id", "read_only",
            "created_by", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "uri", "external_id", "created_by", "created_at", "updated_at"]
        # Uniqueness per account is checked by the service, which names the clash.
        validators = []

    def get_access_key_hint(self, connection) -> str:
        key = connection.access_key_id
        return f"…{key[-4:]}" if key else ""


class StorageConnectionCheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    detail = serializers.CharField()


class WorkspaceResourceField(serializers.PrimaryKeyRelatedField):
    """A resource of the request's workspace (and, with `platform_too`, a platform-wide one, whose
    workspace is empty) named by id. Another workspace's resource is answered exactly as an id that
    does not exist, so the answer does not tell that it exists."""

    def __init__(self, *, model, platform_too: bool = False, **kwargs):
        self.model = model
        self.platform_too = platform_too
        super().__init__(queryset=model.objects.none(), **kwargs)

    def get_queryset(self):
        workspace = getattr(self.context.get("view"), "workspace", None)
        if workspace is None:
            return self.model.objects.none()
        mine = Q(workspace=workspace) | Q(workspace__isnull=True) if self.platform_too else Q(workspace=workspace)
        return self.model.objects.filter(mine)


class UploadCreateSerializer(serializers.Serializer):
    uri = serializers.CharField(max_length=2048, help_text="The object to write: a location of the workspace "
                                "(its storage_uri, a granted location or a storage connection's).")
    size = serializers.IntegerField(min_value=0, help_text="The object's size in bytes.")


class UploadPartSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    size = serializers.IntegerField(help_text="The bytes this part holds.")
    uploaded = serializers.BooleanField(help_text="Whether the part arrived whole.")
    etag = serializers.CharField(allow_null=True, help_text="MD5 of the part's bytes, once it arrived.")
    url = serializers.URLField(help_text="Where to PUT the part's bytes: a presigned link of the storage service "
                               "(send no API key there), or this API's part endpoint (send the API key).")


class UploadSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The upload's id (opaque; only its uploader uses it).")
    uri = serializers.CharField()
    size = serializers.IntegerField()
    part_size = serializers.IntegerField(help_text="The bytes of every part but the last.")
    part_count = serializers.IntegerField()
    transport = serializers.ChoiceField(choices=["presigned", "api"], help_text=(
        "presigned: PUT parts to the storage service's links; api: PUT them to this API with the API key."))
    expires_at = serializers.DateTimeField(help_text="Until when the upload may be resumed and completed.")
    parts = UploadPartSerializer(many=True)


class UploadPartWrittenSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    size = serializers.IntegerField()
    etag = serializers.CharField(help_text="MD5 of the part's bytes, as hex.")


class UploadedObjectSerializer(serializers.Serializer):
    uri = serializers.CharField()
    size = serializers.IntegerField()
