from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from datasets import views as dataset_views

from . import health, views
from .errors import server_error

WORKSPACE = r"workspaces/(?P<workspace_id>[^/.]+)"

router = SimpleRouter()
router.register(r"workspaces", views.WorkspaceViews, basename="workspace")
router.register(rf"{WORKSPACE}/members", views.MemberViews, basename="member")
router.register(rf"{WORKSPACE}/audit-events", views.AuditEventViews, basename="audit-event")
router.register(r"api-keys", views.ApiKeyViews, basename="api-key")

DATASET = rf"{WORKSPACE}/datasets/(?P<dataset_id>[^/.]+)"
router.register(rf"{WORKSPACE}/datasets", dataset_views.DatasetViews, basename="dataset")
router.register(rf"{DATASET}/samples", dataset_views.SampleViews, basename="sample")
router.register(rf"{DATASET}/versions", dataset_views.DatasetVersionViews, basename="dataset-version")
router.register(rf"{DATASET}/import-tasks", dataset_views.ImportTaskViews, basename="import-task")
router.register(rf"{DATASET}/export-tasks", dataset_views.ExportTaskViews, basename="export-task")
router.register(rf"{DATASET}/annotation-tasks", dataset_views.AnnotationTaskViews, basename="annotation-task")
router.register(
    rf"{DATASET}/annotation-tasks/(?P<task_id>[^/.]+)/items", dataset_views.AnnotationItemViews,
    basename="annotation-item",
)

api_v1 = [
    path("me/", views.me, name="me"),
    *router.urls,
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("storage/download", views.storage_download, name="storage-download"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/", include(api_v1)),
    re_path(r"^api/", views.api_not_found),
]

handler500 = server_error
