from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from k8s import views as k8s_views
from resourcepools import views as pool_views

from . import health, views
from .errors import server_error

WORKSPACE = r"workspaces/(?P<workspace_id>[^/.]+)"

router = SimpleRouter()
router.register(r"workspaces", views.WorkspaceViews, basename="workspace")
router.register(rf"{WORKSPACE}/members", views.MemberViews, basename="member")
router.register(rf"{WORKSPACE}/audit-events", views.AuditEventViews, basename="audit-event")
router.register(r"api-keys", views.ApiKeyViews, basename="api-key")
router.register(r"flavors", pool_views.FlavorViews, basename="flavor")
router.register(r"resource-pools", pool_views.ResourcePoolViews, basename="resource-pool")
router.register(r"resource-pools/(?P<pool_id>[^/.]+)/nodes", pool_views.NodeViews, basename="node")
router.register(rf"{WORKSPACE}/quotas", pool_views.QuotaViews, basename="quota")
router.register(rf"{WORKSPACE}/workloads", pool_views.WorkloadViews, basename="workload")
router.register(rf"{WORKSPACE}/workloads/(?P<workload_id>[^/.]+)/logs", k8s_views.WorkloadLogViews,
                basename="workload-log")

api_v1 = [
    path("me/", views.me, name="me"),
    *router.urls,
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/", include(api_v1)),
    re_path(r"^api/", views.api_not_found),
]

handler500 = server_error
