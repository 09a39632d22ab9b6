"""Hand-written methods of resources, on top of the generated ones (sdk/tools/generate.py makes
each generated resource class named in its EXTRAS derive from the mixin here): waiting, following
logs, uploading for imports, downloading exports, chatting with a service through the gateway."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, overload

from ._errors import AIPlatformError
from ._models import APIModel
from ._resource import Resource
from ._transfer import download, upload
from ._types import NOT_GIVEN, IdLike, NotGiven, RequestOptions, id_of
from ._waiters import (
    BENCHMARK,
    DEFAULT_TIMEOUT,
    EXPORT_TASK,
    IMPORT_TASK,
    SERVICE,
    TRAINING_JOB,
    VERSION,
    WORKLOAD,
    Lifecycle,
    wait_for,
)

if TYPE_CHECKING:
    from ._client import Client
    from .models import (
        BenchmarkRun,
        DatasetVersion,
        ExportTask,
        ImportTask,
        Service,
        TrainingJob,
        UploadedObject,
        Workload,
    )

Until = str | list[str] | None
# Where the SDK puts what it uploads for an import, below the workspace's own location.
UPLOADS_FOLDER = "uploads"
# The extensions a prefix import takes, by dataset type (the server decides; these only choose
# which files of a folder are worth sending).
SKIPPED_FILES = {".DS_Store", "Thumbs.db"}


def _wait(resource: Any, lifecycle: Lifecycle, target: IdLike, until: Until, timeout: float | None,
          poll_interval: float | None, on_change: Callable[[Any], None] | None = None) -> Any:
    return wait_for(lambda: resource.retrieve(id_of(target)), lifecycle, until=until, timeout=timeout,
                    poll_interval=poll_interval, on_change=on_change)


class RootExtras:
    """Methods of the client itself."""

    @property
    def chat(self) -> Chat:
        """OpenAI-style chat completions of the workspace's services, through the gateway."""
        return Chat(cast("Client", self))


class TrainingJobsExtras(Resource):
    if TYPE_CHECKING:
        def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> TrainingJob: ...

    def wait(self, job: IdLike, *, until: Until = None, timeout: float | None = DEFAULT_TIMEOUT,
             poll_interval: float | None = None, on_change: Callable[[TrainingJob], None] | None = None
             ) -> TrainingJob:
        """Waits until the job's phase is `until` (default `succeeded`); OperationFailedError with
        the server's reason if it fails or is stopped, WaitTimeoutError after `timeout` seconds."""
        found: TrainingJob = _wait(self, TRAINING_JOB, job, until, timeout, poll_interval, on_change)
        return found

    @overload
    def logs(self, job: IdLike, *, follow: Literal[False] = False, replica: str | None = None,
             tail: int | None = None) -> list[str]: ...

    @overload
    def logs(self, job: IdLike, *, follow: Literal[True], replica: str | None = None,
             tail: int | None = None) -> Iterator[str]: ...

    def logs(self, job: IdLike, *, follow: bool = False, replica: str | None = None,
             tail: int | None = None) -> list[str] | Iterator[str]:
        """The job's log lines (its first replica's unless `replica`); with `follow`, an iterator
        that yields lines as they are written until the replica ends (it waits for the job to start)."""
        from ._generated.resources import Workloads

        workloads = Workloads(self._client, **self._scope)
        workload = self.retrieve(id_of(job)).workload
        if workload is None:
            raise AIPlatformError("The job has no workload yet; try again in a moment.")
        if follow:
            return workloads.follow_logs(workload, replica=replica)
        answer = workloads._model(_LogLines, "GET", "/api/v1/workspaces/{workspace_id}/workloads/{workload_id}/logs/",
                                  path={"workload_id": workload}, query={"replica": replica, "tail": tail})
        return list(answer.lines)


class _LogLines(APIModel):
    lines: list[str] = []


class WorkloadsExtras(Resource):
    if TYPE_CHECKING:
        def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Workload: ...

    def wait(self, workload: IdLike, *, until: Until = None, timeout: float | None = DEFAULT_TIMEOUT,
             poll_interval: float | None = None) -> Workload:
        """Waits until the workload's phase is `until` (default `succeeded`)."""
        found: Workload = _wait(self, WORKLOAD, workload, until, timeout, poll_interval)
        return found

    def follow_logs(self, workload: IdLike, *, replica: str | None = None,
                    start_timeout: float | None = DEFAULT_TIMEOUT) -> Iterator[str]:
        """Yields the replica's log lines as they are written, until it ends. Waits (up to
        `start_timeout`) for the workload to start first: a queued workload has no logs yet."""
        wait_for(lambda: self.retrieve(id_of(workload)), WORKLOAD,
                 until=["running", "succeeded", "failed", "stopped", "stopping"], timeout=start_timeout)
        path = self._path("/api/v1/workspaces/{workspace_id}/workloads/{workload_id}/logs/",
                          workload_id=id_of(workload))
        query: dict[str, Any] = {"follow": True, "replica": replica}
        with self._client._transport.stream("GET", path, params=query, headers={"Accept": "text/plain"},
                                            options={"timeout": 3600.0},
                                            base_url=self._client.gateway_url) as response:
            yield from response.iter_lines()

    def download_logs(self, workload: IdLike, save_to: str | Path, *, replica: str | None = None,
                      progress: bool | None = None) -> Path:
        """Writes the replica's whole log to a file."""
        path = self._path("/api/v1/workspaces/{workspace_id}/workloads/{workload_id}/logs/",
                          workload_id=id_of(workload))
        download(self._client, path, save_to=save_to, query={"download": True, "replica": replica},
                 progress=progress)
        return Path(save_to)


class ServicesExtras(Resource):
    if TYPE_CHECKING:
        def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> Service: ...

    def wait(self, service: IdLike, *, until: Until = None, timeout: float | None = DEFAULT_TIMEOUT,
             poll_interval: float | None = None) -> Service:
        """Waits until the service's status is `until` (default `running`)."""
        found: Service = _wait(self, SERVICE, service, until, timeout, poll_interval)
        return found

    def openai_base_url(self, service: IdLike) -> str:
        """The base URL that OpenAI clients use for this service (`openai.OpenAI(base_url=…,
        api_key=<your API key>)`)."""
        return self._client.gateway_url.rstrip("/") + self._path(
            "/api/v1/workspaces/{workspace_id}/services/{service_id}/v1", service_id=id_of(service))

    @overload
    def chat(self, service: IdLike, *, messages: list[dict[str, Any]], stream: Literal[False] = False,
             **options: Any) -> ChatCompletion: ...

    @overload
    def chat(self, service: IdLike, *, messages: list[dict[str, Any]], stream: Literal[True],
             **options: Any) -> Iterator[ChatCompletionChunk]: ...

    def chat(self, service: IdLike, *, messages: list[dict[str, Any]], stream: bool = False,
             **options: Any) -> ChatCompletion | Iterator[ChatCompletionChunk]:
        """A chat completion from the service through the gateway; with `stream`, the chunks as
        they come (OpenAI's shapes). Other keyword arguments (max_tokens, temperature…) go in the body."""
        completions = Chat(self._client).completions
        if stream:
            return completions.create(service=service, messages=messages, stream=True, **options)
        return completions.create(service=service, messages=messages, stream=False, **options)


class BenchmarksExtras(Resource):
    if TYPE_CHECKING:
        def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> BenchmarkRun: ...

    def wait(self, run: IdLike, *, until: Until = None, timeout: float | None = DEFAULT_TIMEOUT,
             poll_interval: float | None = None) -> BenchmarkRun:
        """Waits until the run's status is `until` (default `succeeded`: its result arrived)."""
        found: BenchmarkRun = _wait(self, BENCHMARK, run, until, timeout, poll_interval)
        return found


class ImportTasksExtras(Resource):
    if TYPE_CHECKING:
        def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> ImportTask: ...

    def wait(self, task: IdLike, *, until: Until = None, timeout: float | None = DEFAULT_TIMEOUT,
             poll_interval: float | None = None, on_change: Callable[[ImportTask], None] | None = None
             ) -> ImportTask:
        """Waits until the import ends (`succeeded`); OperationFailedError with its error if it fails."""
        found: ImportTask = _wait(self, IMPORT_TASK, task, until, timeout, poll_interval, on_change)
        return found


class ExportTasksExtras(Resource):
    if TYPE_CHECKING:
        def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> ExportTask: ...

    def wait(self, task: IdLike, *, until: Until = None, timeout: float | None = DEFAULT_TIMEOUT,
             poll_interval: float | None = None) -> ExportTask:
        """Waits until the export ends (`succeeded`)."""
        found: ExportTask = _wait(self, EXPORT_TASK, task, until, timeout, poll_interval)
        return found

    def download(self, task: IdLike, save_to: str | Path, *, progress: bool | None = None) -> Path:
        """Writes what a finished export wrote (its manifest) to a file."""
        found = self.retrieve(id_of(task))
        if not found.result_url:
            raise AIPlatformError(f"The export is {found.status}; its result can be downloaded once it succeeded.")
        download(self._client, found.result_url, save_to=save_to, external=_external(self._client, found.result_url),
                 progress=progress)
        return Path(save_to)


class VersionsExtras(Resource):
    if TYPE_CHECKING:
        def retrieve(self, id: IdLike, *, request_options: RequestOptions | None = None) -> DatasetVersion: ...

    def wait(self, version: IdLike, *, until: Until = None, timeout: float | None = DEFAULT_TIMEOUT,
             poll_interval: float | None = None) -> DatasetVersion:
        """Waits until the version is published (`ready`)."""
        found: DatasetVersion = _wait(self, VERSION, version, until, timeout, poll_interval)
        return found

    def download_manifest(self, version: IdLike, save_to: str | Path, *, progress: bool | None = None) -> Path:
        """Writes the published version's manifest to a file."""
        found = self.retrieve(id_of(version))
        if not found.manifest_url:
            raise AIPlatformError(f"The version is {found.status}; its manifest can be downloaded once it is ready.")
        download(self._client, found.manifest_url, save_to=save_to,
                 external=_external(self._client, found.manifest_url), progress=progress)
        return Path(save_to)


def _external(client: Client, link: str) -> bool:
    """Whether a download link is a storage service's (presigned: no API key goes there)."""
    return link.startswith(("http://", "https://")) and "/storage/download" not in link


class UploadsExtras(Resource):
    def upload_file(self, source: str | Path | bytes, uri: str, *, progress: bool | None = None) -> UploadedObject:
        """Writes a file (or bytes) to `uri`, a location of the workspace; parts that fail are sent
        again, and the object appears only when whole."""
        return upload(self._client, source, uri, progress=progress, workspace=self._scope.get("workspace_id"))

    def upload_folder(self, folder: str | Path, uri: str, *, progress: bool | None = None) -> list[UploadedObject]:
        """Writes every file below `folder` under the prefix `uri` (keeping relative paths); links
        and hidden files are left out. Sending a folder again overwrites what is there."""
        root = Path(folder)
        if not root.is_dir():
            raise AIPlatformError(f"{folder} is not a folder.")
        files = sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()
                       and not any(part.startswith(".") for part in p.relative_to(root).parts)
                       and p.name not in SKIPPED_FILES)
        base = uri if uri.endswith("/") else uri + "/"
        return [self.upload_file(path, base + path.relative_to(root).as_posix(), progress=progress) for path in files]


class DatasetsExtras(Resource):
    def _uploads(self) -> UploadsExtras:
        return UploadsExtras(self._client, **self._scope)

    def _upload_root(self, dataset: IdLike) -> str:
        workspace = self._client.workspaces.retrieve(self._client.workspace_id if "workspace_id" not in self._scope
                                                     else self._scope["workspace_id"])
        return f"{workspace.storage_uri}{UPLOADS_FOLDER}/datasets/{id_of(dataset)}/"

    def import_manifest(self, dataset: IdLike, manifest: str | Path | bytes, *, wait: bool = True,
                        name: str | None = None, progress: bool | None = None,
                        timeout: float | None = DEFAULT_TIMEOUT) -> ImportTask:
        """Uploads a manifest (ModelArts JSON lines) to the workspace's own location and imports it
        into the dataset; with `wait`, returns the finished import (OperationFailedError if it failed).
        Running it again adds nothing twice: samples already in the dataset are skipped."""
        file_name = name or (Path(manifest).name if not isinstance(manifest, bytes) else "manifest.jsonl")
        uri = self._upload_root(dataset) + posixpath.basename(file_name)
        self._uploads().upload_file(manifest, uri, progress=progress)
        return self._start_import(dataset, "manifest", uri, wait, timeout)

    def import_folder(self, dataset: IdLike, folder: str | Path, *, wait: bool = True, progress: bool | None = None,
                      timeout: float | None = DEFAULT_TIMEOUT) -> ImportTask:
        """Uploads a folder of files (images, audio, text…) to the workspace's own location and
        imports every file the dataset's type takes as a sample (a prefix import)."""
        uri = self._upload_root(dataset) + Path(folder).resolve().name + "/"
        self._uploads().upload_folder(folder, uri, progress=progress)
        return self._start_import(dataset, "prefix", uri, wait, timeout)

    def _start_import(self, dataset: IdLike, kind: Literal["manifest", "prefix"], uri: str, wait: bool,
                      timeout: float | None) -> ImportTask:
        from ._generated.resources import DatasetImportTasks

        tasks = DatasetImportTasks(self._client, **self._scope, dataset_id=id_of(dataset))
        task = tasks.create(kind=kind, source_uri=uri)
        return tasks.wait(task, timeout=timeout) if wait else task


# --- chat completions through the gateway -------------------------------------------------------


class ChatMessage(APIModel):
    role: str | None = None
    content: str | None = None


class ChatChoice(APIModel):
    index: int = 0
    message: ChatMessage | None = None
    finish_reason: str | None = None


class ChatCompletion(APIModel):
    """An OpenAI-compatible chat completion."""

    id: str | None = None
    model: str | None = None
    choices: list[ChatChoice] = []
    usage: dict[str, Any] | None = None


class ChatDelta(APIModel):
    role: str | None = None
    content: str | None = None


class ChunkChoice(APIModel):
    index: int = 0
    delta: ChatDelta = ChatDelta()
    finish_reason: str | None = None


class ChatCompletionChunk(APIModel):
    """One streamed piece of an OpenAI-compatible chat completion."""

    id: str | None = None
    model: str | None = None
    choices: list[ChunkChoice] = []


class Chat:
    def __init__(self, client: Client) -> None:
        self.completions = ChatCompletions(client)


class ChatCompletions:
    """`client.chat.completions.create(service=…, messages=[…], stream=True)`, as OpenAI's client
    has it, for a service of the workspace."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @overload
    def create(self, *, service: IdLike, messages: list[dict[str, Any]], stream: Literal[False] = False,
               model: str | NotGiven = NOT_GIVEN, **options: Any) -> ChatCompletion: ...

    @overload
    def create(self, *, service: IdLike, messages: list[dict[str, Any]], stream: Literal[True],
               model: str | NotGiven = NOT_GIVEN, **options: Any) -> Iterator[ChatCompletionChunk]: ...

    def create(self, *, service: IdLike, messages: list[dict[str, Any]], stream: bool = False,
               model: str | NotGiven = NOT_GIVEN, **options: Any) -> ChatCompletion | Iterator[ChatCompletionChunk]:
        path = Resource(self._client)._path(
            "/api/v1/workspaces/{workspace_id}/services/{service_id}/v1/chat/completions", service_id=id_of(service))
        body = {"messages": messages, "stream": stream, "model": model, **options}
        transport = self._client._transport
        if not stream:
            answer = transport.request("POST", path, json_body=body, base_url=self._client.gateway_url)
            return ChatCompletion.model_validate(answer.json())
        return self._stream(path, body)

    def _stream(self, path: str, body: dict[str, Any]) -> Iterator[ChatCompletionChunk]:
        transport = self._client._transport
        with transport.stream("POST", path, json_body=body, headers={"Accept": "text/event-stream"},
                              base_url=self._client.gateway_url) as response:
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[len("data:"):].strip()
                if data == "[DONE]":
                    return
                yield ChatCompletionChunk.model_validate(json.loads(data))
