from django.urls import path

from .views import auth, billing, datasets, inference, pools, training, workspace

app_name = "console"

# The workspace's id is `workspace` here (the API's routes call it workspace_id, and tests that walk
# the API's routes by that name look at the API's alone).
WS = "w/<uuid:workspace>/"

urlpatterns = [
    path("", workspace.home, name="home"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth.PasswordResetView.as_view(), name="password-reset"),
    path("password-reset/sent/", auth.PasswordResetDoneView.as_view(), name="password-reset-done"),
    path("set-password/<uidb64>/<token>/", auth.SetPasswordView.as_view(), name="set-password"),
    path("switch/", workspace.switch, name="switch"),
    path("api-keys/", workspace.api_keys, name="api-keys"),
    path("account/", workspace.account, name="account"),
    path("billing/", billing.overview, name="billing"),
    path("billing/bills/<int:bill_id>/", billing.bill, name="bill"),
    path(WS, workspace.overview, name="overview"),
    path(WS + "members/", workspace.members, name="members"),
    path(WS + "playground-key/", workspace.playground_key_view, name="playground-key"),
    path(WS + "datasets/", datasets.dataset_list, name="datasets"),
    path(WS + "datasets/<uuid:dataset_id>/", datasets.dataset_detail, name="dataset"),
    path(WS + "datasets/<uuid:dataset_id>/edit/", datasets.dataset_edit, name="dataset-edit"),
    path(WS + "datasets/<uuid:dataset_id>/samples/<int:sample_id>/file", datasets.sample_file, name="sample-file"),
    path(WS + "annotation/", datasets.annotation_list, name="annotation"),
    path(WS + "datasets/<uuid:dataset_id>/annotation/<uuid:task_id>/", datasets.annotation_task,
         name="annotation-task"),
    path(WS + "datasets/<uuid:dataset_id>/annotation/<uuid:task_id>/annotate/", datasets.annotate, name="annotate"),
    path(WS + "training/", training.job_list, name="jobs"),
    path(WS + "training/new/", training.job_create, name="job-create"),
    path(WS + "training/compare/", training.job_compare, name="job-compare"),
    path(WS + "training/<uuid:job_id>/", training.job_detail, name="job"),
    path(WS + "workloads/<uuid:workload_id>/job/", training.job_for_workload, name="job-for-workload"),
    path(WS + "models/", inference.model_list, name="models"),
    path(WS + "services/", inference.service_list, name="services"),
    path(WS + "services/new/", inference.service_create, name="service-create"),
    path(WS + "services/<uuid:service_id>/", inference.service_detail, name="service"),
    path(WS + "workloads/<uuid:workload_id>/service/", inference.service_for_workload, name="service-for-workload"),
    path(WS + "queue/", pools.queue, name="queue"),
]
