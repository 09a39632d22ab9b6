import django_filters
from django.http import FileResponse, Http404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action, api_view
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from . import locations, selectors, services
from .api import PlatformViewSet, WorkspaceViewSet
from .filters import created_between
from .models import ApiKey, AuditEvent, Capability, Membership, Role, StorageConnection, Workspace
from .serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    AuditEventSerializer,
    MembershipCreateSerializer,
    MembershipSerializer,
    MembershipUpdateSerializer,
    MeSerializer,
    StorageConnectionCheckSerializer,
    StorageConnectionSerializer,
    WorkspaceSerializer,
)


class WorkspaceFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Workspace
        fields = ["name"]


class WorkspaceViews(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin,
    WorkspaceViewSet,
):
    """Workspaces: the caller's own (account admins see all of their account's)."""

    queryset = Workspace.objects.none()  # names the model for the schema; rows come from get_queryset
    serializer_class = WorkspaceSerializer
    lookup_field = "pk"
    lookup_url_kwarg = "workspace_id"
    filterset_class = WorkspaceFilter
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]
    capabilities = {
        "partial_update": Capability.ADMINISTER,
        "update": Capability.ADMINISTER,
        "destroy": Capability.ADMINISTER,
    }

    def get_queryset(self):
        return selectors.workspaces_for_user(user=self.request.user)

    def get_object(self):
        return self.workspace

    def create(self, request, *args, **kwargs):
        member = selectors.account_member(user=request.user)
        if member is None or not member.is_admin:
            raise exceptions.PermissionDenied("Only account admins create workspaces; ask your account admin.")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        workspace = services.create_workspace(
            account=member.account, created_by=request.user, **serializer.validated_data
        )
        return Response(self.get_serializer(workspace).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        serializer.instance = services.update_workspace(workspace=self.workspace, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.delete_workspace(workspace=instance)


class MemberViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, WorkspaceViewSet):
    """The people of a workspace and their roles. Owners manage them."""

    queryset = Membership.objects.none()
    serializer_class = MembershipSerializer
    filterset_fields = ["role"]
    ordering_fields = ["created_at", "role"]
    ordering = ["created_at"]
    capabilities = {
        "create": Capability.ADMINISTER,
        "partial_update": Capability.ADMINISTER,
        "destroy": Capability.ADMINISTER,
    }
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.memberships(workspace=self.workspace)

    @extend_schema(request=MembershipCreateSerializer, responses={201: MembershipSerializer})
    def create(self, request, *args, **kwargs):
        data = MembershipCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.add_member(workspace=self.workspace, **data.validated_data)
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MembershipUpdateSerializer, responses={200: MembershipSerializer})
    def partial_update(self, request, *args, **kwargs):
        data = MembershipUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.change_member_role(membership=self.get_object(), **data.validated_data)
        return Response(MembershipSerializer(membership).data)

    def perform_destroy(self, instance):
        services.remove_member(membership=instance)


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(field_name="actor__username")
    created_after, created_before = created_between()

    class Meta:
        model = AuditEvent
        fields = ["action", "method", "target_type", "target_id", "status_code"]


class AuditEventViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """Every mutating call made in the workspace. Owners only."""

    queryset = AuditEvent.objects.none()
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]
    capabilities = {"list": Capability.ADMINISTER, "retrieve": Capability.ADMINISTER}

    def get_queryset(self):
        return selectors.audit_events(workspace=self.workspace)


class CanManageApiKeys(BasePermission):
    message = (
        "API keys are for developers and owners; annotators and viewers work in the console. "
        "Ask a workspace owner for the developer role."
    )

    def has_permission(self, request, view):
        user = request.user
        if user.is_staff:
            return True
        member = selectors.account_member(user=user)
        if member is not None and member.is_admin:
            return True
        return user.memberships.filter(role__in=[Role.OWNER, Role.DEVELOPER]).exists()


class ApiKeyViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, PlatformViewSet):
    """The caller's personal API keys. DELETE revokes a key (it stays listed as revoked)."""

    queryset = ApiKey.objects.none()
    serializer_class = ApiKeySerializer
    filterset_fields = ["name"]
    ordering_fields = ["created_at", "name", "last_used_at"]
    ordering = ["-created_at"]

    permission_classes = [IsAuthenticated, CanManageApiKeys]

    def get_queryset(self):
        return selectors.api_keys(user=self.request.user)

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: ApiKeyCreatedSerializer})
    def create(self, request, *args, **kwargs):
        data = ApiKeyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = services.create_api_key(user=request.user, **data.validated_data)
        body = ApiKeyCreatedSerializer(issued.api_key).data
        body["key"] = issued.token
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: ApiKeySerializer})
    def destroy(self, request, *args, **kwargs):
        api_key = services.revoke_api_key(api_key=self.get_object())
        return Response(ApiKeySerializer(api_key).data)


class IsAccountAdminForChanges(BasePermission):
    message = "Only account admins manage storage connections; ask your account admin."

    def has_permission(self, request, view):
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        member = selectors.account_member(user=request.user)
        return member is not None and member.is_admin


class StorageConnectionViews(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin,
    PlatformViewSet,
):
    """The account's own object storage (S3/OBS buckets or prefixes with the account's credentials).
    Workspaces of the account may name locations in them; members read them (never their secrets),
    account admins manage them."""

    queryset = StorageConnection.objects.none()
    serializer_class = StorageConnectionSerializer
    permission_classes = [IsAuthenticated, IsAccountAdminForChanges]
    filterset_fields = ["scheme", "bucket"]
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.storage_connections(user=self.request.user)

    def create(self, request, *args, **kwargs):
        member = selectors.account_member(user=request.user)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        connection = services.save_storage_connection(account=member.account, created_by=request.user,
                                                      **serializer.validated_data)
        return Response(self.get_serializer(connection).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        connection = serializer.instance
        serializer.instance = services.save_storage_connection(account=connection.account, connection=connection,
                                                               **serializer.validated_data)

    def perform_destroy(self, instance):
        services.delete_storage_connection(connection=instance)

    @extend_schema(request=None, responses={200: StorageConnectionCheckSerializer})
    @action(detail=True, methods=["post"])
    def verify(self, request, *args, **kwargs):
        """Reaches the location with the connection's credentials and says whether that worked."""
        return Response(services.verify_storage_connection(connection=self.get_object()))


@extend_schema(responses=MeSerializer)
@api_view(["GET"])
def me(request):
    """Who the caller is: account, operator flag and workspaces with roles."""
    user = request.user
    member = selectors.account_member(user=user)
    memberships = user.memberships.select_related("workspace").order_by("workspace__name")
    return Response(
        {
            "id": user.id,
            "username": user.username,
            "email": user.email,
            "is_operator": user.is_staff,
            "account": (
                {"id": str(member.account_id), "name": member.account.name, "is_admin": member.is_admin}
                if member else None
            ),
            "workspaces": [
                {"id": str(m.workspace_id), "name": m.workspace.name, "role": m.role} for m in memberships
            ],
        }
    )


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
def api_not_found(request, *args, **kwargs):
    raise exceptions.NotFound("No API endpoint at this path. The API is described at /api/docs/.")


def storage_download(request):
    """Serves a file of the embedded local storage to the holder of a download link while the
    link is fresh and its user may still read the location."""
    handle = locations.open_download(request.GET.get("token", ""))
    if handle is None:
        raise Http404("The download link is invalid or has expired.")
    return FileResponse(handle, as_attachment=True)
