from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from billing import views as billing_views
from console.views import workspace as console_views
from datasets import views as dataset_views
from gateway import views as gateway_views
from inference import views as inference_views
from k8s import views as k8s_views
from notebooks import views as notebook_views
from resourcepools import views as pool_views
from training import views as training_views

from . import health, views
from .errors import server_error

WORKSPACE = r"workspaces/(?P<workspace_id>[^/.]+)"
DATASET = r"datasets/(?P<dataset_id>[^/.]+)"
SERVICE = rf"{WORKSPACE}/services/(?P<service_id>[^/.]+)"

# Three routers: platform-level resources, a workspace's, and a dataset's, each included under
# its prefix, so that resolving a path tries a handful of patterns, not all of them in turn.
router = SimpleRouter()
router.register(r"workspaces", views.WorkspaceViews, basename="workspace")
router.register(r"api-keys", views.ApiKeyViews, basename="api-key")
router.register(r"invitations", views.InvitationViews, basename="invitation")
router.register(r"account-users", views.AccountUserViews, basename="account-user")
router.register(r"storage-connections", views.StorageConnectionViews, basename="storage-connection")
router.register(r"flavors", pool_views.FlavorViews, basename="flavor")
router.register(r"resource-pools", pool_views.ResourcePoolViews, basename="resource-pool")
router.register(r"resource-pools/(?P<pool_id>[^/.]+)/nodes", pool_views.NodeViews, basename="node")
router.register(r"training-jobs/(?P<job_id>[^/.]+)/metrics", training_views.JobMetricReportViews,
                basename="job-metric-report")
router.register(r"benchmark-runs/(?P<run_id>[^/.]+)/result", inference_views.BenchmarkResultViews,
                basename="benchmark-result")
router.register(r"prices", billing_views.PriceViews, basename="price")
router.register(r"billing/package-offers", billing_views.PackageOfferViews, basename="package-offer")
router.register(r"billing/accounts", billing_views.BillingAccountViews, basename="billing-account")
router.register(r"billing/ledger", billing_views.LedgerViews, basename="ledger-entry")
router.register(r"billing/top-ups", billing_views.TopUpViews, basename="top-up")
router.register(r"billing/subscriptions", billing_views.SubscriptionViews, basename="subscription")
router.register(r"billing/packages", billing_views.PackageViews, basename="package")
router.register(r"billing/notifications", billing_views.NotificationViews, basename="notification")
router.register(r"billing/usage-records", billing_views.UsageRecordViews, basename="usage-record")
router.register(r"billing/bills", billing_views.BillViews, basename="bill")
router.register(r"billing/bills/(?P<bill_id>[^/.]+)/lines", billing_views.BillLineViews, basename="bill-line")

workspace_router = SimpleRouter()
workspace_router.register(r"members", views.MemberViews, basename="member")
workspace_router.register(r"audit-events", views.AuditEventViews, basename="audit-event")
workspace_router.register(r"quotas", pool_views.QuotaViews, basename="quota")
workspace_router.register(r"workloads", pool_views.WorkloadViews, basename="workload")
workspace_router.register(r"workloads/(?P<workload_id>[^/.]+)/logs", k8s_views.WorkloadLogViews,
                          basename="workload-log")
workspace_router.register(r"algorithms", training_views.AlgorithmViews, basename="algorithm")
workspace_router.register(r"training-jobs", training_views.TrainingJobViews, basename="training-job")
workspace_router.register(r"visualizations", training_views.VisualizationViews, basename="visualization")
workspace_router.register(r"notebooks", notebook_views.NotebookViews, basename="notebook")
workspace_router.register(r"models", inference_views.ModelViews, basename="model")
workspace_router.register(r"services", inference_views.ServiceViews, basename="service")
workspace_router.register(r"quantization-jobs", inference_views.QuantizationJobViews, basename="quantization-job")
workspace_router.register(r"services/(?P<service_id>[^/.]+)/benchmarks", inference_views.BenchmarkRunViews,
                          basename="benchmark-run")
workspace_router.register(r"datasets", dataset_views.DatasetViews, basename="dataset")
workspace_router.register(r"cost-tags", billing_views.CostTagViews, basename="cost-tag")
workspace_router.register(r"uploads", views.UploadViews, basename="upload")

dataset_router = SimpleRouter()
dataset_router.register(r"samples", dataset_views.SampleViews, basename="sample")
dataset_router.register(r"versions", dataset_views.DatasetVersionViews, basename="dataset-version")
dataset_router.register(r"import-tasks", dataset_views.ImportTaskViews, basename="import-task")
dataset_router.register(r"export-tasks", dataset_views.ExportTaskViews, basename="export-task")
dataset_router.register(r"annotation-tasks", dataset_views.AnnotationTaskViews, basename="annotation-task")
dataset_router.register(r"prelabel-tasks", dataset_views.PrelabelTaskViews, basename="prelabel-task")
dataset_router.register(r"predictions", dataset_views.PredictionViews, basename="prediction")
dataset_router.register(
    r"annotation-tasks/(?P<task_id>[^/.]+)/items", dataset_views.AnnotationItemViews, basename="annotation-item",
)

api_v1 = [
    path("me/", views.me, name="me"),
    # Calls to services (…/v1/…, …/invoke/…) and log follows are the gateway process's (gateway.app).
    re_path(rf"^{SERVICE}/traffic/$",
            gateway_views.ServiceTrafficViews.as_view({"get": "list"}, basename="service-traffic"),
            name="service-traffic"),
    re_path(rf"^{SERVICE}/limits/$", gateway_views.ServiceLimitsViews.as_view(
        {"get": "retrieve", "put": "update", "patch": "update"}, basename="service-limits"), name="service-limits"),
    re_path(rf"^{WORKSPACE}/visualizations/(?P<visualization_id>[^/.]+)/tensorboard/(?P<path>.*)$",
            training_views.TensorBoardProxyView.as_view(), name="tensorboard-proxy"),
    re_path(rf"^{WORKSPACE}/{DATASET}/", include(dataset_router.urls)),
    re_path(rf"^{WORKSPACE}/", include(workspace_router.urls)),
    *router.urls,
]

urlpatterns = [
    path("", console_views.root, name="root"),
    path("console/", include("console.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("storage/download", views.storage_download, name="storage-download"),
    path("api/schema/", views.CachedSchemaView.as_view(), name="schema"),
    # Its script served apart from the page, so that the content security policy needs no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/", include(api_v1)),
    re_path(r"^api/", views.api_not_found),
]

handler500 = server_error
