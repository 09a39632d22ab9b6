"""`aip`: the platform from the shell, on the SDK.

Exit codes: 0 done; 1 the API refused or failed (4xx/5xx); 2 wrong usage or missing settings;
3 the platform could not be reached; 4 a timeout (a request's, or a --wait's); 5 the awaited
job, import, version or service failed."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from . import _config
from ._client import Client
from ._errors import (
    AIPlatformError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    OperationFailedError,
    WaitTimeoutError,
)
from ._models import APIModel
from ._types import NOT_GIVEN
from .models import InputRequest

EXIT_API, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_TIMEOUT, EXIT_FAILED = 1, 2, 3, 4, 5
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

out = Console(soft_wrap=True)
err = Console(stderr=True)

app = typer.Typer(name="aip", help="The AI Platform from the shell. Settings: `aip login`, or AIP_BASE_URL, "
                  "AIP_API_KEY and AIP_WORKSPACE.", no_args_is_help=True, pretty_exceptions_enable=False)
workspaces_app = typer.Typer(help="Workspaces you belong to.", no_args_is_help=True)
datasets_app = typer.Typer(help="Datasets: create, list, import, publish versions.", no_args_is_help=True)
jobs_app = typer.Typer(help="Training jobs: create, follow, read metrics.", no_args_is_help=True)
models_app = typer.Typer(help="Models to serve.", no_args_is_help=True)
services_app = typer.Typer(help="Inference services: plan, create, chat.", no_args_is_help=True)
pools_app = typer.Typer(help="Resource pools.", no_args_is_help=True)
workloads_app = typer.Typer(help="Workloads: everything that uses pool capacity.", no_args_is_help=True)
bills_app = typer.Typer(help="Monthly bills.", no_args_is_help=True)
for sub, name in ((workspaces_app, "workspaces"), (datasets_app, "datasets"), (jobs_app, "jobs"),
                  (models_app, "models"), (services_app, "services"), (pools_app, "pools"),
                  (workloads_app, "workloads"), (bills_app, "bills")):
    app.add_typer(sub, name=name)


class State:
    def __init__(self) -> None:
        self.json = False
        self.base_url: str | None = None
        self.api_key: str | None = None
        self.workspace: str | None = None
        self.timeout = 60.0
        self._client: Client | None = None

    def client(self) -> Client:
        if self._client is None:
            self._client = Client(base_url=self.base_url, api_key=self.api_key, workspace=self.workspace,
                                  timeout=self.timeout)
        return self._client


state = State()

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts) instead of a table.")]


@app.callback()
def main_options(
    json_output: JsonOption = False,
    output: Annotated[str | None, typer.Option("-o", "--output", help="`json` or `table` (the default).")] = None,
    base_url: Annotated[str | None, typer.Option(help="The platform's URL (else AIP_BASE_URL or aip login's).")]
    = None,
    api_key: Annotated[str | None, typer.Option(help="An API key (else AIP_API_KEY or aip login's).")] = None,
    workspace: Annotated[str | None, typer.Option("--workspace", "-w", help="Workspace id (else AIP_WORKSPACE, "
                                                                              "aip login's, or your only one).")]
    = None,
    timeout: Annotated[float, typer.Option(help="Seconds each request may take.")] = 60.0,
) -> None:
    if output not in (None, "json", "table"):
        raise typer.BadParameter("use -o json or -o table", param_hint="-o")
    state.json = json_output or output == "json"
    state.base_url, state.api_key, state.workspace, state.timeout = base_url, api_key, workspace, timeout


# --- output ------------------------------------------------------------------------------------


def emit(data: Any, columns: Sequence[tuple[str, Callable[[Any], Any]]] | None = None) -> None:
    """One resource or a list of them: a table (or key/value lines) for people, JSON for scripts."""
    rows = list(data) if isinstance(data, (list, tuple)) or hasattr(data, "__iter__") and not isinstance(
        data, (APIModel, dict, str)) else None
    if state.json:
        value = [_plain(r) for r in rows] if rows is not None else _plain(data)
        out.print_json(json.dumps(value, default=str))
        return
    if rows is None:
        table = Table(show_header=False, box=None)
        for key, value in _plain(data).items():
            table.add_row(f"[bold]{key}[/]", _cell(value))
        out.print(table)
        return
    table = Table()
    for title, _ in columns or ():
        table.add_column(title)
    for row in rows:
        table.add_row(*[_cell(read(row)) for _, read in columns or ()])
    out.print(table)


def _plain(value: Any) -> Any:
    return value.to_dict() if isinstance(value, APIModel) else value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


def fail(message: str, code: int) -> NoReturn:
    err.print("[red]error:[/] ", end="")
    err.print(message, highlight=False, markup=False)
    raise typer.Exit(code)


def pick(kind: str, value: str, items: Callable[[], Iterable[Any]], *, newest: bool = False) -> str:
    """An id from an id or a name; with `newest`, names may repeat (re-run jobs) and the newest wins."""
    if UUID.fullmatch(value):
        return value
    found = [item for item in items() if getattr(item, "name", None) == value]
    if newest:
        found = sorted(found, key=lambda item: str(item.created_at), reverse=True)[:1]
    if len(found) != 1:
        fail(f"{'no' if not found else 'more than one'} {kind} named {value!r}; give its id.", EXIT_USAGE)
    return str(found[0].id)


def pick_dataset(value: str) -> str:
    return pick("dataset", value, lambda: state.client().datasets.list(name=value))


def pick_job(value: str) -> str:
    return pick("training job", value, lambda: state.client().training_jobs.list(), newest=True)


def pick_model(value: str) -> str:
    return pick("model", value, lambda: state.client().models.list(name=value))


def pick_service(value: str) -> str:
    return pick("service", value, lambda: state.client().services.list(name=value))


def pick_version(value: str) -> str:
    """A dataset version from its id or `dataset:version` names (news:v1)."""
    if UUID.fullmatch(value):
        return value
    dataset, sep, version = value.partition(":")
    if not sep:
        raise typer.BadParameter("give a version id or DATASET:VERSION, e.g. news:v1", param_hint="--dataset-version")
    versions = state.client().datasets.versions(pick_dataset(dataset))
    return pick("dataset version", version, lambda: versions.list(name=version))


def pick_pool(value: str) -> str:
    return pick("pool", value, lambda: state.client().resource_pools.list())


def pairs(values: list[str] | None, what: str) -> dict[str, Any]:
    """key=value options into a dict; values read as JSON where they are JSON (numbers, booleans)."""
    found: dict[str, Any] = {}
    for item in values or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r} is not key=value", param_hint=what)
        try:
            found[key] = json.loads(raw)
        except ValueError:
            found[key] = raw
    return found


def progress_note(text: str) -> None:
    if not state.json:
        err.print(text, highlight=False)


# --- login and workspaces ----------------------------------------------------------------------


@app.command()
def login(
    base_url: Annotated[str, typer.Option(prompt="Platform URL", help="e.g. http://127.0.0.1:8000")]
    = _config.DEFAULT_BASE_URL,
    api_key: Annotated[str, typer.Option(prompt="API key", hide_input=True, help="An API key (aip_…).")] = "",
    workspace: Annotated[str | None, typer.Option(help="Default workspace id (else your only one).")] = None,
) -> None:
    """Checks the URL and key and saves them (mode 0600) for later commands."""
    client = Client(base_url=base_url, api_key=api_key, workspace=workspace)
    me = client.me()
    path = _config.save_config({"base_url": base_url, "api_key": api_key, "workspace": workspace or ""})
    progress_note(f"Logged in to {base_url} as {me.username}; settings saved in {path}.")


@workspaces_app.command("list")
def workspaces_list() -> None:
    """The workspaces you belong to, with their storage location."""
    emit(state.client().workspaces.list(), [("id", lambda w: w.id), ("name", lambda w: w.name),
                                            ("account", lambda w: w.account), ("storage", lambda w: w.storage_uri)])


# --- datasets ----------------------------------------------------------------------------------


@datasets_app.command("create")
def datasets_create(
    name: str,
    type: Annotated[str, typer.Option("--type", help="e.g. text_classification, image_classification.")],
    label: Annotated[list[str] | None, typer.Option("--label", help="A label (repeat for more).")] = None,
    description: str = "",
) -> None:
    """Creates a dataset in the workspace."""
    dataset = state.client().datasets.create(name=name, type=type,  # type: ignore[arg-type]
                                             labels=[{"name": n} for n in label or []], description=description)
    emit(dataset)


@datasets_app.command("list")
def datasets_list(name: Annotated[str | None, typer.Option(help="Names containing this.")] = None) -> None:
    """The workspace's datasets with their sample counts."""
    emit(state.client().datasets.list(name=name if name else NOT_GIVEN),
         [("id", lambda d: d.id), ("name", lambda d: d.name), ("type", lambda d: d.type),
          ("status", lambda d: d.status), ("samples", lambda d: d.sample_count),
          ("labelled", lambda d: d.labelled_count)])


@datasets_app.command("import")
def datasets_import(
    dataset: Annotated[str, typer.Argument(help="Dataset id or name.")],
    manifest: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="A manifest file to upload "
                                                  "and import (JSON lines, ModelArts style).")] = None,
    folder: Annotated[Path | None, typer.Option(exists=True, file_okay=False, help="A folder of files to upload "
                                                "and import as samples.")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the import to finish.")] = False,
    wait_timeout: Annotated[float, typer.Option(help="Seconds --wait waits.")] = 1800.0,
) -> None:
    """Uploads a manifest or a folder to the workspace's own location and imports it. Running it
    again adds nothing twice."""
    if (manifest is None) == (folder is None):
        raise typer.BadParameter("give --manifest FILE or --folder DIR", param_hint="--manifest/--folder")
    client = state.client()
    dataset_id = pick_dataset(dataset)
    if manifest is not None:
        task = client.datasets.import_manifest(dataset_id, manifest, wait=wait, timeout=wait_timeout)
    else:
        task = client.datasets.import_folder(dataset_id, folder, wait=wait, timeout=wait_timeout)  # type: ignore[arg-type]
    emit(task)
    if task.failed:
        progress_note(f"{task.failed} of {task.total or task.processed} lines were refused: `errors` says why.")


@datasets_app.command("publish")
def datasets_publish(
    dataset: Annotated[str, typer.Argument(help="Dataset id or name.")],
    name: Annotated[str, typer.Option(help="The version's name, e.g. v1.")],
    train_ratio: Annotated[str | None, typer.Option(help="Share of labelled samples for training, e.g. 0.8.")]
    = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait")] = False,
) -> None:
    """Publishes a version of the dataset (an immutable manifest that training jobs take)."""
    client = state.client()
    versions = client.datasets.versions(pick_dataset(dataset))
    version = versions.create(name=name, train_ratio=train_ratio if train_ratio else NOT_GIVEN)
    emit(versions.wait(version) if wait else version)


# --- training ----------------------------------------------------------------------------------


@jobs_app.command("create")
def jobs_create(
    algorithm: Annotated[str, typer.Option(help="Algorithm id or name, e.g. cpu-text-classifier.")],
    pool: Annotated[str, typer.Option(help="Pool id or name, e.g. local.")],
    flavor: Annotated[str, typer.Option(help="Flavor name, e.g. cpu.2u8g.")],
    name: Annotated[str | None, typer.Option(help="The job's name (default: the algorithm's).")] = None,
    dataset_version: Annotated[str | None, typer.Option(help="The `data` input: a version id, or DATASET:VERSION "
                                                        "names (news:v1).")] = None,
    input: Annotated[list[str] | None, typer.Option("--input", help="channel=uri (repeat).")] = None,
    hyperparameter: Annotated[list[str] | None, typer.Option("--hyperparameter", "-p", help="name=value (repeat).")]
    = None,
    nodes: Annotated[int, typer.Option(help="Nodes to train on.")] = 1,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the job to end.")] = False,
    wait_timeout: Annotated[float, typer.Option(help="Seconds --wait waits.")] = 3600.0,
) -> None:
    """Creates a training job (it queues for its pool), optionally waiting for it to finish."""
    client = state.client()
    algorithm_id = pick("algorithm", algorithm, lambda: client.algorithms.list(name=algorithm))
    inputs: list[InputRequest] = [{"channel": k, "uri": str(v)} for k, v in pairs(input, "--input").items()]
    if dataset_version:
        inputs.append({"channel": "data", "dataset_version": pick_version(dataset_version)})
    job = client.training_jobs.create(name=name or algorithm, algorithm=algorithm_id, pool=pick_pool(pool),
                                      flavor=flavor, node_count=nodes, inputs=inputs,
                                      hyperparameters=pairs(hyperparameter, "--hyperparameter"))
    if wait:
        progress_note(f"job {job.id} {job.phase}; waiting…")
        job = client.training_jobs.wait(job, timeout=wait_timeout,
                                        on_change=lambda j: progress_note(f"job {j.id} {j.phase}"))
    emit(job)


@jobs_app.command("list")
def jobs_list(phase: Annotated[str | None, typer.Option(help="Only jobs in this phase.")] = None) -> None:
    """The workspace's training jobs."""
    emit(state.client().training_jobs.list(phase=phase if phase else NOT_GIVEN),
         [("id", lambda j: j.id), ("name", lambda j: j.name), ("phase", lambda j: j.phase),
          ("status", lambda j: j.status.message if j.status else ""), ("created", lambda j: j.created_at)])


@jobs_app.command("get")
def jobs_get(job: str) -> None:
    """A training job: phase, status, throughput."""
    emit(state.client().training_jobs.retrieve(pick_job(job)))


@jobs_app.command("wait")
def jobs_wait(job: str, timeout: Annotated[float, typer.Option(help="Seconds to wait.")] = 3600.0) -> None:
    """Waits for the job to end; exit 5 if it failed."""
    emit(state.client().training_jobs.wait(pick_job(job), timeout=timeout))


@jobs_app.command("logs")
def jobs_logs(
    job: str,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing lines as they come.")] = False,
    replica: Annotated[str | None, typer.Option(help="e.g. worker-1 (default: the first).")] = None,
    tail: Annotated[int | None, typer.Option(help="Only the last N lines.")] = None,
) -> None:
    """The job's log lines."""
    client = state.client()
    job = pick_job(job)
    if follow:
        for line in client.training_jobs.logs(job, follow=True, replica=replica):
            print(line, flush=True)
        return
    lines = client.training_jobs.logs(job, replica=replica, tail=tail)
    if state.json:
        emit({"lines": lines})
    else:
        print("\n".join(lines))


@jobs_app.command("metrics")
def jobs_metrics(job: str, name: Annotated[str | None, typer.Option(help="Only this metric, e.g. loss.")] = None
                 ) -> None:
    """The metrics the job reported, step by step."""
    points = state.client().training_jobs.metrics(pick_job(job), name=name if name else NOT_GIVEN)
    emit(points, [("name", lambda p: p.name), ("step", lambda p: p.step), ("value", lambda p: p.value)])


@jobs_app.command("stop")
def jobs_stop(job: str) -> None:
    """Stops a job."""
    emit(state.client().training_jobs.stop(pick_job(job)))


# --- models and services -----------------------------------------------------------------------


@models_app.command("create")
def models_create(
    name: str,
    training_job: Annotated[str | None, typer.Option(help="A succeeded job whose output is the model.")] = None,
    uri: Annotated[str | None, typer.Option(help="A storage location holding the model.")] = None,
    runtime: Annotated[str, typer.Option(help="builtin, vllm, sglang, mindie, tgi or custom.")] = "vllm",
) -> None:
    """Registers a model from a training job's output or a storage location."""
    if (training_job is None) == (uri is None):
        raise typer.BadParameter("give --training-job or --uri", param_hint="--training-job/--uri")
    source = "training_job" if training_job else "storage"
    model = state.client().models.create(
        name=name, source=source, runtime=runtime,  # type: ignore[arg-type]
        training_job=pick_job(training_job) if training_job else NOT_GIVEN, uri=uri if uri else NOT_GIVEN)
    emit(model)


@models_app.command("list")
def models_list() -> None:
    """The workspace's models."""
    emit(state.client().models.list(), [("id", lambda m: m.id), ("name", lambda m: m.name),
                                        ("source", lambda m: m.source), ("runtime", lambda m: m.runtime)])


@services_app.command("create")
def services_create(
    name: str,
    model: Annotated[str, typer.Option(help="Model id or name.")],
    pool: Annotated[str, typer.Option(help="Pool id or name.")],
    flavor: Annotated[str, typer.Option(help="Flavor name, e.g. cpu.2u8g.")],
    instances: Annotated[int, typer.Option(help="Instances to run.")] = 1,
    option: Annotated[list[str] | None, typer.Option("--set", help="Another field, name=value (repeat), e.g. "
                                                     "tensor_parallel=8.")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until it runs.")] = False,
    wait_timeout: Annotated[float, typer.Option(help="Seconds --wait waits.")] = 1800.0,
) -> None:
    """Deploys a model as an online service (the memory planner checks it fits first)."""
    client = state.client()
    service = client.services.create(name=name, model=pick_model(model), pool=pick_pool(pool),
                                     flavor=flavor, instance_count=instances, **pairs(option, "--set"))
    if wait:
        progress_note(f"service {service.id} deploying; waiting…")
        service = client.services.wait(service, timeout=wait_timeout)
    emit(service)


@services_app.command("plan")
def services_plan(
    model: Annotated[str, typer.Option(help="Model id or name.")],
    flavor: Annotated[str, typer.Option(help="Flavor name, e.g. gpu.a100.8.")],
    option: Annotated[list[str] | None, typer.Option("--set", help="name=value (repeat), e.g. tensor_parallel=8.")]
    = None,
) -> None:
    """The memory planner's answer: weights, KV cache and what fits per card."""
    client = state.client()
    emit(client.services.plan(model=pick_model(model), flavor=flavor,
                              **pairs(option, "--set")))


@services_app.command("list")
def services_list() -> None:
    """The workspace's services."""
    emit(state.client().services.list(), [("id", lambda s: s.id), ("name", lambda s: s.name),
                                          ("status", lambda s: s.state.status if s.state else ""),
                                          ("instances", lambda s: s.instance_count)])


@services_app.command("stop")
def services_stop(service: str) -> None:
    """Stops a service."""
    emit(state.client().services.stop(pick_service(service)))


@services_app.command("chat")
def services_chat(
    service: str,
    message: Annotated[str, typer.Argument(help="What to say.")],
    stream: Annotated[bool, typer.Option("--stream/--no-stream", help="Print the answer as it comes.")] = True,
    max_tokens: Annotated[int | None, typer.Option(help="Longest answer, in tokens.")] = None,
) -> None:
    """Sends one message to a running service through the gateway and prints the answer."""
    client = state.client()
    service = pick_service(service)
    extra = {"max_tokens": max_tokens} if max_tokens else {}
    messages = [{"role": "user", "content": message}]
    if stream and not state.json:
        for chunk in client.services.chat(service, messages=messages, stream=True, **extra):
            for choice in chunk.choices:
                print(choice.delta.content or "", end="", flush=True)
        print()
        return
    answer = client.services.chat(service, messages=messages, stream=False, **extra)
    if state.json:
        emit(answer)
    else:
        print(answer.choices[0].message.content if answer.choices and answer.choices[0].message else "")


# --- pools, workloads, bills -------------------------------------------------------------------


@pools_app.command("list")
def pools_list() -> None:
    """The public pools and your account's dedicated ones, with their utilisation."""
    emit(state.client().resource_pools.list(),
         [("id", lambda p: p.id), ("name", lambda p: p.name), ("kind", lambda p: p.kind),
          ("status", lambda p: p.status), ("utilisation", lambda p: (p.utilisation or {}).get("ratio"))])


@workloads_app.command("list")
def workloads_list(
    pending: Annotated[bool, typer.Option("--pending", help="Only waiting work, with why it waits.")] = False,
    phase: Annotated[str | None, typer.Option(help="Only this phase.")] = None,
) -> None:
    """The workspace's workloads; --pending shows those not running yet and their reason."""
    found = state.client().workloads.list(phase=phase if phase else NOT_GIVEN)  # type: ignore[arg-type]
    rows = [w for w in found if w.phase in ("pending", "queued", "admitted")] if pending else list(found)
    emit(rows, [("id", lambda w: w.id), ("name", lambda w: w.name), ("kind", lambda w: w.kind),
                ("phase", lambda w: w.phase), ("queue", lambda w: w.queue_position),
                ("reason", lambda w: w.message or w.reason)])


@bills_app.command("list")
def bills_list() -> None:
    """Your account's monthly bills."""
    emit(state.client().billing.bills.list(), [("id", lambda b: b.id), ("period", lambda b: b.period),
                                               ("total", lambda b: b.total), ("currency", lambda b: b.currency),
                                               ("closed", lambda b: b.closed)])


@bills_app.command("download")
def bills_download(
    bill: Annotated[int, typer.Argument(help="The bill's id (aip bills list).")],
    output: Annotated[Path | None, typer.Option("--output-file", "-f", help="Where to write the CSV "
                                                "(default: bill-<id>.csv).")] = None,
) -> None:
    """Downloads a bill's lines as CSV."""
    target = output or Path(f"bill-{bill}.csv")
    state.client().billing.bills.download_csv(bill, save_to=target)
    progress_note(f"wrote {target}")


# --- running ----------------------------------------------------------------------------------


def main() -> None:
    """The `aip` command: one line and a distinct exit code for every failure, never a traceback."""
    try:
        app()  # usage errors: click's message and exit 2; --help: exit 0
    except ConfigurationError as exc:
        _die(str(exc), EXIT_USAGE)
    except (APITimeoutError, WaitTimeoutError) as exc:
        _die(str(exc), EXIT_TIMEOUT)
    except APIConnectionError as exc:
        _die(str(exc), EXIT_UNREACHABLE)
    except APIStatusError as exc:
        suffix = f" (request {exc.request_id})" if exc.request_id else ""
        _die(f"{exc.message}{suffix}", EXIT_API)
    except OperationFailedError as exc:
        _die(str(exc), EXIT_FAILED)
    except AIPlatformError as exc:
        _die(str(exc), EXIT_API)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # a bug of aip's own: one line, the traceback on request
        if os.environ.get("AIP_DEBUG"):
            raise
        _die(f"unexpected {type(exc).__name__}: {exc} (AIP_DEBUG=1 shows where)", EXIT_API)


def _die(message: str, code: int) -> NoReturn:
    err.print("[red]error:[/] ", end="")
    err.print(message, highlight=False, markup=False)
    sys.exit(code)
