import hashlib
import logging
import threading
from datetime import timedelta

import django_filters
from django.conf import settings
from django.core.mail import send_mail
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotModified
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import exceptions, mixins, parsers, status
from rest_framework.decorators import action, api_view
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from . import locations, selectors, services, uploads
from .api import PlatformViewSet, WorkspaceViewSet
from .filters import created_between
from .models import AccountMember, ApiKey, AuditEvent, Capability, Membership, Role, StorageConnection, Workspace
from .serializers import (
    AccountUserSerializer,
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    AuditEventSerializer,
    InvitationCreateSerializer,
    InvitationSerializer,
    MembershipCreateSerializer,
    MembershipSerializer,
    MembershipUpdateSerializer,
    MeSerializer,
    StorageConnectionCheckSerializer,
    StorageConnectionSerializer,
    UploadCreateSerializer,
    UploadedObjectSerializer,
    UploadPartWrittenSerializer,
    UploadSerializer,
    WorkspaceSerializer,
)

logger = logging.getLogger(__name__)


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


class IsAccountAdmin(BasePermission):
    message = "Only account admins manage the account's people; ask your account admin."

    def has_permission(self, request, view):
        view.account_member = selectors.account_member(user=request.user)
        return view.account_member is not None and view.account_member.is_admin


def _invitation(request, user) -> dict:
    """The set-password link of an invited user, mailed to them where that is set up."""
    uidb64, token = services.invitation_token(user=user)
    url = request.build_absolute_uri(reverse("console:set-password", kwargs={"uidb64": uidb64, "token": token}))
    emailed = False
    if settings.INVITATION_EMAILS and user.email:
        try:
            send_mail("You are invited to the AI Platform",
                      f"Choose a password and sign in as '{user.username}' here (the link works once, until "
                      f"{timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT):%Y-%m-%d %H:%M} UTC):"
                      f"\n\n{url}\n", None, [user.email])
            emailed = True
        except OSError:
            logger.warning("the invitation of %s could not be mailed", user.username, exc_info=True)
    return {"user": user, "is_admin": user.account_member.is_admin, "set_password_url": url, "emailed": emailed,
            "expires_at": timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT)}


class InvitationViews(PlatformViewSet):
    """Account admins invite people: a user of the account without a password, optionally a member
    of a workspace at once, and a set-password link for them (mailed with INVITATION_EMAILS)."""

    permission_classes = [IsAuthenticated, IsAccountAdmin]
    serializer_class = InvitationSerializer

    @extend_schema(request=InvitationCreateSerializer, responses={201: InvitationSerializer})
    def create(self, request, *args, **kwargs):
        data = InvitationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        account = self.account_member.account
        if fields.get("workspace"):
            fields["workspace"] = account.workspaces.filter(pk=fields["workspace"]).first()
            if fields["workspace"] is None:
                raise exceptions.ValidationError({"workspace": "Workspace not found."})
        user = services.invite_user(account=account, **fields)
        return Response(InvitationSerializer(_invitation(request, user)).data, status=status.HTTP_201_CREATED)


class AccountUserViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, PlatformViewSet):
    """The people of the caller's account (account admins): who is an admin, who has not used their
    invitation yet. PATCH `is_admin`; POST …/invitation/ makes a new set-password link for someone
    who has not chosen a password yet."""

    queryset = AccountMember.objects.none()
    serializer_class = AccountUserSerializer
    permission_classes = [IsAuthenticated, IsAccountAdmin]
    lookup_field = "user_id"
    lookup_url_kwarg = "user_id"
    ordering = ["user__username"]
    ordering_fields = ["created_at"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.account_users(account_id=self.account_member.account_id)

    @extend_schema(request=AccountUserSerializer, responses={200: AccountUserSerializer})
    def partial_update(self, request, *args, **kwargs):
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        member = serializer.instance
        if "is_admin" in serializer.validated_data:
            member = services.change_account_admin(member=member, is_admin=serializer.validated_data["is_admin"])
        return Response(self.get_serializer(member).data)

    @extend_schema(request=None, responses={201: InvitationSerializer})
    @action(detail=True, methods=["post"])
    def invitation(self, request, *args, **kwargs):
        """A new set-password link for someone who has not chosen a password yet."""
        body = InvitationSerializer(_invitation(request, self.get_object().user)).data
        return Response(body, status=status.HTTP_201_CREATED)


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


class RawBodyParser(parsers.BaseParser):
    """Names the media type of a part's bytes; the view streams the body itself, never parsed."""

    media_type = "application/octet-stream"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream


@extend_schema(parameters=[OpenApiParameter("workspace_id", OpenApiTypes.UUID, OpenApiParameter.PATH)])
class UploadViews(WorkspaceViewSet):
    """Uploads in parts into the workspace's own locations: start one (POST), PUT its parts where
    it says (presigned S3/OBS links, or this API's part endpoint for the embedded storage), ask
    which parts arrived (GET, to resume), then complete it; the object appears whole then."""

    serializer_class = UploadSerializer
    lookup_url_kwarg = "upload_id"
    lookup_value_regex = "[^/]+"  # signed ids hold '.' and ':'

    def _upload(self) -> uploads.Upload:
        return uploads.find_upload(workspace=self.workspace, user=self.request.user,
                                   upload_id=self.kwargs["upload_id"])

    def get_object(self) -> uploads.Upload:
        # What OPTIONS looks up to describe a part's PUT; an upload is no row of a queryset.
        return self._upload()

    def _state(self, upload: uploads.Upload) -> Response:
        def api_part_url(number: int) -> str:
            return self.request.build_absolute_uri(reverse("upload-part", kwargs={
                "workspace_id": self.workspace.pk, "upload_id": upload.id, "number": number}))

        return uploads.upload_state(workspace=self.workspace, upload=upload, api_part_url=api_part_url)

    @extend_schema(request=UploadCreateSerializer, responses={201: UploadSerializer})
    def create(self, request, *args, **kwargs):
        data = UploadCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = uploads.start_upload(workspace=self.workspace, user=request.user, **data.validated_data)
        return Response(UploadSerializer(self._state(upload)).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: UploadSerializer})
    def retrieve(self, request, *args, **kwargs):
        """The upload's parts: which arrived, and fresh links for the rest."""
        return Response(UploadSerializer(self._state(self._upload())).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, *args, **kwargs):
        """Aborts the upload; the parts it received go."""
        uploads.abort_upload(workspace=self.workspace, upload=self._upload())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request={"application/octet-stream": OpenApiTypes.BINARY}, responses={200: UploadPartWrittenSerializer},
        parameters=[OpenApiParameter("number", int, OpenApiParameter.PATH, description="The part's number, from 1.")],
    )
    @action(detail=True, methods=["put"], url_path=r"parts/(?P<number>[0-9]{1,5})", url_name="part",
            parser_classes=[RawBodyParser])
    def part(self, request, *args, **kwargs):
        """Stores one part (embedded storage): exactly the part's bytes, streamed; sending a part
        again replaces it."""
        length = request.META.get("CONTENT_LENGTH")
        body = request._request  # read as a stream, a MiB at a time: never the whole part in memory
        written = uploads.write_part(
            workspace=self.workspace, upload=self._upload(), number=int(kwargs["number"]),
            length=int(length) if length and length.isdigit() else None,
            chunks=iter(lambda: body.read(1024 * 1024), b""),
        )
        return Response(UploadPartWrittenSerializer(written).data)

    @extend_schema(request=None, responses={200: UploadedObjectSerializer})
    @action(detail=True, methods=["post"])
    def complete(self, request, *args, **kwargs):
        """Makes the object from the parts; 409 naming the parts that have not arrived whole."""
        written = uploads.complete_upload(workspace=self.workspace, upload=self._upload())
        return Response(UploadedObjectSerializer(written).data)


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


class CachedSchemaView(SpectacularAPIView):
    """The OpenAPI schema, generated once per process and format (it takes seconds and is the same
    for every caller) and served from memory after, with an ETag for revalidation."""

    schema = None  # not an operation of the API it describes
    _rendered: dict[tuple, tuple[bytes, str, str]] = {}
    _lock = threading.Lock()

    def get(self, request, *args, **kwargs):
        key = (request.accepted_media_type, request.version, request.GET.get("lang"))
        with self._lock:  # the first callers wait for one generation instead of each making one
            if key not in self._rendered:
                response = super().get(request, *args, **kwargs)
                response.accepted_renderer = request.accepted_renderer
                response.accepted_media_type = request.accepted_media_type
                response.renderer_context = self.get_renderer_context()
                response.render()
                etag = '"' + hashlib.sha256(response.content).hexdigest()[:32] + '"'
                self._rendered[key] = (response.content, response["Content-Type"], etag)
        content, content_type, etag = self._rendered[key]
        if etag in request.headers.get("If-None-Match", ""):
            return HttpResponseNotModified(headers={"ETag": etag})
        return HttpResponse(content, content_type=content_type, headers={
            "ETag": etag, "Cache-Control": "no-cache", "Content-Disposition": 'inline; filename="schema"'})


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
