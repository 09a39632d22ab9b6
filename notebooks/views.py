from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from aiplatform.api import WorkspaceViewSet
from training import selectors as training_selectors
from training.serializers import TrainingJobSerializer

from . import selectors, services
from .models import Notebook
from .serializers import NotebookImageSerializer, NotebookSerializer, NotebookTrainingJobSerializer, catalogue


class NotebookViews(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """JupyterLab development environments: each runs as a workload of kind `notebook` on the pool
    and flavor chosen, with persistent storage that survives stop and start, reached through the
    platform at its `url`, stopped after `idle_timeout_seconds` without kernel or terminal activity."""

    queryset = Notebook.objects.none()
    serializer_class = NotebookSerializer
    ordering_fields = ["created_at", "name"]
    ordering = ["-created_at"]

    def get_queryset(self):
        return selectors.notebooks(workspace=self.workspace)

    def _answer(self, notebook, code=status.HTTP_200_OK):
        return Response(self.get_serializer(self.get_queryset().get(pk=notebook.pk)).data, status=code)

    def create(self, request, *args, **kwargs):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        notebook = services.create_notebook(workspace=self.workspace, created_by=request.user, **data.validated_data)
        return self._answer(notebook, status.HTTP_201_CREATED)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def start(self, request, *args, **kwargs):
        return self._answer(services.start_notebook(notebook=self.get_object(), started_by=request.user))

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def stop(self, request, *args, **kwargs):
        return self._answer(services.stop_notebook(notebook=self.get_object(), stopped_by=request.user))

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def restart(self, request, *args, **kwargs):
        return self._answer(services.restart_notebook(notebook=self.get_object(), restarted_by=request.user))

    @extend_schema(request=NotebookTrainingJobSerializer, responses={201: TrainingJobSerializer})
    @action(detail=True, methods=["post"], url_path="training-jobs")
    def training_job(self, request, *args, **kwargs):
        """Run the notebook's code as a training job: the notebook's image, its storage as the job's
        working folder. The notebook must be stopped, and cannot start until the job ends."""
        data = NotebookTrainingJobSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.start_training_job(notebook=self.get_object(), created_by=request.user, **data.validated_data)
        job = training_selectors.training_jobs(workspace=self.workspace).get(pk=job.pk)
        return Response(TrainingJobSerializer(job, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[OpenApiParameter("confirm", OpenApiTypes.STR, OpenApiParameter.QUERY, description=(
        "The notebook's name: deleting a notebook deletes its storage."))], responses={204: None})
    def destroy(self, request, *args, **kwargs):
        services.delete_notebook(notebook=self.get_object(), confirm=request.query_params.get("confirm", ""))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=NotebookImageSerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def images(self, request, *args, **kwargs):
        """The catalogue of notebook images, per accelerator kind, with their framework and driver versions."""
        return Response(catalogue())
