"""Writes the SDK's typed models and resource classes from the server's OpenAPI schema.

    python sdk/tools/generate.py SCHEMA.json      (`make sdk-generate` runs it on the live schema)

Response models are pydantic models (unknown fields kept); request bodies become keyword
arguments, their nested objects TypedDicts; every operation becomes a method on a resource,
named by the path: collections `list`/`create`, items `retrieve`/`replace`/`update`/`delete`,
actions by their path segment (`stop`, `plan`, `batch_annotate`), sub-collections an accessor
taking the parent's id (`client.datasets.samples(dataset).list()`). Hand-written methods live in
aiplatform_sdk/_extras.py as mixins named in EXTRAS; names the path cannot give are in OVERRIDES.
The output is formatted by hand-kept rules only (no formatter run), so it is the same on every
machine."""

from __future__ import annotations

import json
import keyword
import re
import sys
import textwrap
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "aiplatform_sdk"
PREFIX = "/api/v1/"
API = "/api/"
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
# operationId -> (resource path, method name) where the path does not say it well.
OVERRIDES: dict[str, tuple[tuple[str, ...] | None, str]] = {
    "me_retrieve": ((), "me"),
    "training_jobs_metrics_create": (("runtime",), "report_metrics"),
    "benchmark_runs_result_create": (("runtime",), "report_benchmark_result"),
    "billing_bills_csv_retrieve": (None, "download_csv"),
    "billing_notifications_read_create": (None, "mark_read"),
    "workspaces_uploads_parts_update": (("uploads",), "put_part"),
}
# Query parameters a generated method leaves out: hand-written methods stream those answers.
HIDDEN_QUERY = {"workspaces_workloads_logs_retrieve": {"follow", "download"}}
# Resource classes that take hand-written methods from aiplatform_sdk._extras.
EXTRAS = {
    "TrainingJobs": "TrainingJobsExtras", "Workloads": "WorkloadsExtras", "Services": "ServicesExtras",
    "ServiceBenchmarks": "BenchmarksExtras", "Datasets": "DatasetsExtras",
    "DatasetImportTasks": "ImportTasksExtras", "DatasetExportTasks": "ExportTasksExtras",
    "DatasetVersions": "VersionsExtras", "Uploads": "UploadsExtras",
}
# Response models with a lifecycle: they get refresh() and wait().
WAITABLE = {"TrainingJob", "ImportTask", "ExportTask", "DatasetVersion", "Service", "BenchmarkRun", "Workload"}
PAGE_PARAMS = {"page", "cursor"}
BASEMODEL_NAMES = {"model_config", "model_fields", "schema", "json", "dict", "copy", "validate", "construct",
                   "fields", "parse_obj", "parse_raw", "from_orm", "update_forward_refs", "schema_json", "to_dict"}


def snake(text: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()


def camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9a-zA-Z]+", text) if part)


def singular(text: str) -> str:
    if text.endswith("ies"):
        return text[:-3] + "y"
    if text.endswith("sses") or text.endswith("ches"):
        return text[:-2]
    return text[:-1] if text.endswith("s") and not text.endswith("ss") else text


def identifier(name: str) -> str:
    name = snake(name) if not name.isidentifier() else name
    return name + "_" if keyword.iskeyword(name) or name in BASEMODEL_NAMES else name


def ref_name(schema: dict) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[1] if ref else None


def doc(text: str | None, indent: str) -> list[str]:
    text = (text or "").strip()
    if not text:
        return []
    paragraph = text.split("\n\n")[0].replace('"""', "'''").replace("\\", "\\\\")
    lines = textwrap.wrap(" ".join(paragraph.split()), 100)
    if len(lines) == 1:
        return [f'{indent}"""{lines[0]}"""']
    return [f'{indent}"""{lines[0]}', *[f"{indent}{line}" for line in lines[1:]], f'{indent}"""']


def fit(line: str, indent: str) -> list[str]:
    """The line, or where it is over 120 characters and holds a Literal[...], that Literal's values
    wrapped inside its brackets."""
    if len(line) <= 120 or "Literal[" not in line:
        return [line]
    head, _, tail = line.partition("Literal[")
    values, _, rest = tail.partition("]")
    wrapped = textwrap.wrap(values, 120 - len(indent) - 4, break_long_words=False, break_on_hyphens=False)
    return [f"{head}Literal[", *[f"{indent}    {part}" for part in wrapped], f"{indent}]{rest}"]


# --- types ---------------------------------------------------------------------------------------


class Types:
    """Python types for schemas, on the response side (pydantic models, lenient enums) or the
    request side (TypedDicts, Literal enums)."""

    def __init__(self, components: dict[str, dict]):
        self.components = components
        self.response_models: set[str] = set()
        self.request_dicts: set[str] = set()
        self.enums: set[str] = set()

    def is_enum(self, name: str) -> bool:
        return "enum" in self.components[name]

    def of(self, schema: dict, side: str, list_name: str = "list") -> str:
        text = self._of(schema, side, list_name)
        if schema.get("nullable") and not text.endswith("| None") and text != "Any":
            text += " | None"
        return text

    def _of(self, schema: dict, side: str, list_name: str) -> str:
        name = ref_name(schema)
        if name:
            if self.is_enum(name):
                if side == "response":
                    return "str"
                self.enums.add(name)
                return name
            if side == "response":
                self._collect_response(name)
                return name
            self._collect_request(name)
            return name
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self._of(schema["allOf"][0], side, list_name)
        if "oneOf" in schema or "anyOf" in schema:
            options, nullable = [], False
            for option in schema.get("oneOf") or schema.get("anyOf"):
                option_name = ref_name(option)
                if option_name in ("NullEnum",):
                    nullable = True
                    continue
                if option_name == "BlankEnum":
                    if side == "request":
                        options.append('Literal[""]')
                    continue
                options.append(self._of(option, side, list_name))
            text = " | ".join(dict.fromkeys(options)) or "Any"
            return text + " | None" if nullable and text != "Any" else text
        kind = schema.get("type")
        fmt = schema.get("format")
        if kind == "array":
            return f"{list_name}[{self.of(schema.get('items', {}), side, list_name)}]"
        if kind == "object":
            extra = schema.get("additionalProperties")
            value = self.of(extra, side, list_name) if isinstance(extra, dict) and extra else "Any"
            return f"dict[str, {value}]"
        if kind == "string":
            if "enum" in schema and side == "request":
                return "Literal[" + ", ".join(json.dumps(v) for v in schema["enum"] if v is not None) + "]"
            if fmt == "date-time":
                return "datetime" if side == "response" else "datetime | str"
            if fmt == "date":
                return "date" if side == "response" else "date | str"
            if fmt == "decimal":
                return "Decimal" if side == "response" else "Decimal | str"
            if fmt == "binary":
                return "bytes"
            return "str"
        if kind == "integer":
            return "int"
        if kind == "number":
            return "float"
        if kind == "boolean":
            return "bool"
        return "Any"

    def _collect_response(self, name: str) -> None:
        if name in self.response_models:
            return
        self.response_models.add(name)
        for prop in self.components[name].get("properties", {}).values():
            self.of(prop, "response")

    def _collect_request(self, name: str) -> None:
        if name in self.request_dicts:
            return
        self.request_dicts.add(name)
        for prop in self.components[name].get("properties", {}).values():
            self.of(prop, "request")


def imports(body: str, candidates: list[tuple[str, str]]) -> list[str]:
    """`from module import names` lines for the candidates the body uses, module by module."""
    used: dict[str, list[str]] = defaultdict(list)
    for module, name in candidates:
        if re.search(rf"(?<![\w.]){name}\b", body):
            used[module].append(name)
    return [f"from {module} import {', '.join(sorted(names))}" for module, names in used.items()]


def write_models(types: Types) -> str:
    lines: list[str] = []
    used_enums = sorted(types.enums)
    for name in used_enums:
        values = [v for v in types.components[name]["enum"] if v is not None]
        lines += ["", *fit(f"{name}: TypeAlias = Literal[{', '.join(json.dumps(v) for v in values)}]", "")]
    for name in sorted(types.request_dicts):
        schema = types.components[name]
        required = set(schema.get("required", []))
        lines += ["", "", f"class {name}(TypedDict):"]
        lines += doc(schema.get("description"), "    ")
        props = schema.get("properties", {})
        if not props:
            lines.append("    pass")
        for prop, prop_schema in props.items():
            kind = types.of(prop_schema, "request")
            lines += fit(f"    {prop}: {kind}" if prop in required else f"    {prop}: NotRequired[{kind}]", "    ")
    for name in sorted(types.response_models):
        schema = types.components[name]
        required = set(schema.get("required", []))
        lines += ["", "", f"class {name}({'WaitableModel' if name in WAITABLE else 'APIModel'}):"]
        lines += doc(schema.get("description"), "    ")
        props = schema.get("properties", {})
        if not props:
            lines.append("    pass")
        for prop, prop_schema in props.items():
            attr = identifier(prop)
            kind = types.of(prop_schema, "response")
            alias = f'alias="{prop}"' if attr != prop else ""
            if prop in required:
                default = f" = Field({alias})" if alias else ""
            else:
                if not kind.endswith("| None") and kind != "Any":
                    kind += " | None"
                default = f" = Field(None, {alias})" if alias else " = None"
            lines.append(f"    {attr}: {kind}{default}")
    body = "\n".join(lines) + "\n"
    standard = imports(body, [("datetime", "date"), ("datetime", "datetime"), ("decimal", "Decimal"),
                              ("typing", "Any"), ("typing", "Literal"), ("typing", "NotRequired"),
                              ("typing", "TypeAlias"), ("typing", "TypedDict")])
    header = ['"""Typed models of the API, generated from its OpenAPI schema by sdk/tools/generate.py; do not',
              'edit. Responses are pydantic models that keep fields this version does not know; request',
              'objects nested in bodies are TypedDicts (pass plain dicts)."""', "",
              "from __future__ import annotations", "", *standard, "",
              *[f"{line}\n" for line in imports(body, [("pydantic", "Field")])],
              "from ._models import APIModel, WaitableModel", ""]
    return "\n".join(header) + body


# --- operations and resources ----------------------------------------------------------------


@dataclass
class Operation:
    method: str
    path: str
    op: dict
    name: str = ""
    positional: list[tuple[str, str]] = field(default_factory=list)  # (argument, path param)

    @property
    def operation_id(self) -> str:
        return self.op.get("operationId", "")


@dataclass
class Node:
    attr: str
    class_name: str
    accessor_param: str | None = None
    children: dict[str, Node] = field(default_factory=dict)
    operations: list[Operation] = field(default_factory=list)

    def child(self, attr: str, class_name: str, accessor_param: str | None) -> Node:
        if attr not in self.children:
            self.children[attr] = Node(attr, class_name, accessor_param)
        return self.children[attr]


def is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def build_tree(paths: dict) -> Node:
    operations = [Operation(method, path, op) for path, ops in paths.items() for method, op in ops.items()
                  if method in HTTP_METHODS and path.startswith(API)]
    split = {id(o): scoped_segments(o.path) for o in operations}
    prefixes: dict[tuple[str, ...], list[Operation]] = defaultdict(list)
    for o in operations:
        segs = split[id(o)]
        for i in range(len(segs)):
            prefixes[tuple(segs[:i + 1])].append(o)
    # Collections: a literal followed by an id, or ending a path at the top or below an id; a literal
    # ending a path below a collection is that collection's action (services/plan), below anything
    # else (a namespace: billing/ledger) a collection too.
    collections: set[tuple[str, ...]] = set()
    trailing: list[tuple[str, ...]] = []
    for o in operations:
        segs = split[id(o)]
        for i, seg in enumerate(segs):
            if is_param(seg):
                continue
            if i + 1 < len(segs) and is_param(segs[i + 1]) and segs[i + 1:] != ["{path}"]:
                collections.add(tuple(segs[:i + 1]))
            elif i + 1 == len(segs):
                (collections.add if i == 0 or is_param(segs[i - 1]) else trailing.append)(tuple(segs[:i + 1]))
    collections |= {t for t in trailing if t[:-1] not in collections}
    root = Node("", "Root")
    for o in operations:
        segs = split[id(o)]
        node, chain, i, item_param = root, [], 0, None
        while True:
            lit, rest = segs[i], segs[i + 1:]
            prefix = tuple(segs[:i + 1])
            chain.append(lit)
            if rest == ["{path}"]:
                o.name = f"{snake(lit)}_{o.method}"  # a path passed through (a proxied tool's pages)
                break
            if prefix not in collections:
                if not rest:
                    o.name = snake(lit)  # an action of the collection or item before it
                    break
                node = node.child(snake(lit), camel(lit), None)  # a namespace
                i += 1
                continue
            if item_param is not None and not rest and len(prefixes[prefix]) == 1:
                o.name = snake(lit)  # the only operation below an item: a method of the item's resource
                break
            name = "".join(camel(singular(c)) for c in chain[:-1]) + camel(lit)
            node = node.child(snake(lit), name, item_param)
            item_param = None
            if not rest:
                if o.method == "get" and not lists(o):
                    o.name = "retrieve"  # a single object, not a list (a service's limits)
                else:
                    o.name = {"get": "list", "post": "create", "put": "replace", "patch": "update",
                              "delete": "delete"}[o.method]
                break
            if not is_param(rest[0]):
                i += 1
                continue
            if len(rest) == 1:
                o.name = {"get": "retrieve", "put": "replace", "patch": "update", "delete": "delete"}[o.method]
                break
            item_param = rest[0][1:-1]
            i += 2
        override = OVERRIDES.get(o.operation_id)
        if override:
            where, o.name = override
            if where is not None:
                node = root
                for attr in where:
                    node = node.child(attr, camel(attr), None)
        node.operations.append(o)
    prune(root)
    return root


def lists(o: Operation) -> bool:
    for status, answer in o.op.get("responses", {}).items():
        if status.startswith("2"):
            schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
            return schema.get("type") == "array" or (ref_name(schema) or "").startswith("Paginated")
    return False


def prune(node: Node) -> bool:
    """Drops resources left without operations (their only operation moved by OVERRIDES)."""
    node.children = {k: c for k, c in node.children.items() if prune(c)}
    return bool(node.children or node.operations)


def scoped_segments(path: str) -> list[str]:
    segs = path[len(PREFIX if path.startswith(PREFIX) else API):].strip("/").split("/")
    if segs[0] == "workspaces" and len(segs) > 2:
        return segs[2:]
    return segs


class ResourceWriter:
    def __init__(self, types: Types, components: dict[str, dict]):
        self.types = types
        self.components = components
        self.lines: list[str] = []
        self.registry: list[tuple[str, str]] = []

    def write(self, root: Node) -> str:
        classes: list[str] = []
        self._class(root, classes, bound=[])
        body = "\n".join(classes) + "\n"
        names = sorted(self.types.response_models | self.types.request_dicts | self.types.enums, key=str.lower)
        standard = imports(body, [("datetime", "date"), ("datetime", "datetime"), ("decimal", "Decimal"),
                                  ("pathlib", "Path"), ("typing", "Any"), ("typing", "Literal"), ("typing", "cast")])
        models = [name for name in names if re.search(rf"(?<![\w.]){name}\b", body)]
        standard = [line.replace("from typing import ", "from typing import TYPE_CHECKING, ")
                    if line.startswith("from typing import") else line for line in standard]
        header = ['"""Resource classes of the API, generated from its OpenAPI schema by sdk/tools/generate.py; do',
                  'not edit (hand-written methods are in _extras.py)."""', "",
                  "from __future__ import annotations", "", "import builtins", *standard, "",
                  "from .. import _extras", "from .._pagination import Paginator",
                  "from .._resource import Resource, operation",
                  "from .._types import NOT_GIVEN, IdLike, NotGiven, RequestOptions, id_of",
                  "from ..models import (", *[f"    {name}," for name in models], ")", "",
                  "if TYPE_CHECKING:", "    from .._client import Client"]
        return "\n".join(header) + body

    def _class(self, node: Node, out: list[str], bound: list[str]) -> None:
        for child in node.children.values():
            self._class(child, out, bound + ([child.accessor_param] if child.accessor_param else []))
        is_root = node.class_name == "Root"
        bases = "_extras.RootExtras" if is_root else (
            f"_extras.{EXTRAS[node.class_name]}, Resource" if node.class_name in EXTRAS else "Resource")
        name = "RootResources" if is_root else node.class_name
        out += ["", "", f"class {name}({bases}):"]
        out += [f'    """{"The API resources of a client." if is_root else self._class_doc(node)}"""']
        for child in node.children.values():
            out.append("")
            if child.accessor_param:
                arg = child.accessor_param
                out += [f"    def {child.attr}(self, {arg}: IdLike) -> {child.class_name}:",
                        f'        """{child.attr.replace("_", " ").capitalize()} of one '
                        f'{singular(node.attr).replace("_", " ")}."""',
                        f"        return {child.class_name}(self._client, **self._scope, {arg}=id_of({arg}))"]
            else:
                client = "cast(\"Client\", self)" if is_root else "self._client"
                scope = "" if is_root else ", **self._scope"
                out += ["    @property", f"    def {child.attr}(self) -> {child.class_name}:",
                        f"        return {child.class_name}({client}{scope})"]
        for o in sorted(node.operations, key=lambda o: o.name):
            out.append("")
            out += self._method(o, bound, is_root)

    @staticmethod
    def _class_doc(node: Node) -> str:
        words = node.attr.replace("_", " ")
        return f"{words[:1].upper()}{words[1:]}: " + ", ".join(sorted(o.name for o in node.operations)) + "." \
            if node.operations else f"{words[:1].upper()}{words[1:]}."

    def _method(self, o: Operation, bound: list[str], is_root: bool) -> list[str]:
        op = o.op
        params = op.get("parameters", [])
        # Paths below a workspace take the client's; the workspaces' own paths take theirs as an argument.
        workspace_scoped = o.path.startswith(PREFIX + "workspaces/") and scoped_segments(o.path)[0] != "workspaces"
        path_params = re.findall(r"{(\w+)}", o.path)
        if workspace_scoped:
            path_params.remove("workspace_id")
        path_params = [p for p in path_params if p not in bound]
        hidden = HIDDEN_QUERY.get(o.operation_id, set())
        query = [p for p in params if p["in"] == "query" and p["name"] not in hidden]
        body_kind, body_props, body_required = self._body(op)
        returns, helper = self._returns(op)
        if helper == "_page":
            query = [p for p in query if p["name"] not in PAGE_PARAMS]
        keyword_names = {p["name"] for p in query} | set(body_props)
        positional = []
        for name in path_params:
            arg = name if name not in keyword_names else f"{singular(scoped_segments(o.path)[0]).replace('-', '_')}" \
                                                         f"_{name}"
            positional.append((arg, name))
        signature = ["self"] + [f"{arg}: IdLike" for arg, _ in positional] + ["*"]
        required_kw, optional_kw = [], []
        for prop, schema in body_props.items():
            kind = self.types.of(schema, "request", "builtins.list")
            if prop in body_required:
                required_kw.append(f"{identifier(prop)}: {kind}")
            else:
                optional_kw.append(f"{identifier(prop)}: {kind} | NotGiven = NOT_GIVEN")
        if body_kind == "binary":
            required_kw.append("content: bytes")
        if body_kind == "dict":
            optional_kw.append("body: dict[str, Any] | NotGiven = NOT_GIVEN")
        for p in sorted(query, key=lambda p: p["name"]):
            kind = self.types.of(p.get("schema", {}), "request", "builtins.list")
            (required_kw if p.get("required") else optional_kw).append(
                f"{identifier(p['name'])}: {kind}" + ("" if p.get("required") else " | NotGiven = NOT_GIVEN"))
        if helper == "_bytes":
            optional_kw.append("save_to: str | Path | None = None")
        optional_kw.append("request_options: RequestOptions | None = None")
        signature += required_kw + optional_kw
        if signature[-1] == "*":
            signature.pop()
        decorator = f'    @operation("{o.method.upper()}", "{o.path}")'
        lines = [decorator + ("  # noqa: E501" if len(decorator) > 120 else "")]
        head = f"    def {o.name}(" + ", ".join(signature) + f") -> {returns}:"
        if len(head) <= 120:
            lines.append(head)
        else:
            lines.append(f"    def {o.name}(")
            for part in signature:
                lines += fit(f"        {part},", "        ")
            lines.append(f"    ) -> {returns}:")
        lines += doc(op.get("description") or op.get("summary") or self._default_doc(o), "        ")
        call_args = []
        if positional:
            call_args.append("path={" + ", ".join(f'"{name}": id_of({arg})' for arg, name in positional) + "}")
        if query:
            call_args.append("query={" + ", ".join(f'"{p["name"]}": {identifier(p["name"])}' for p in query) + "}")
        if body_props:
            call_args.append("body={" + ", ".join(f'"{prop}": {identifier(prop)}' for prop in body_props) + "}")
        elif body_kind == "dict":
            call_args.append("body=body or {}")
        if body_kind == "binary":
            call_args.append("content=content")
        if helper == "_bytes":
            call_args.append("save_to=save_to")
        call_args.append("options=request_options")
        target = "Resource(cast(\"Client\", self))" if is_root else "self"
        model = self._model_arg(returns, helper)
        head_args = ([model] if model else []) + ([f'"{o.method.upper()}"'] if helper != "_page" and
                                                  helper != "_bytes" else []) + [f'"{o.path}"']
        if helper == "_bytes":
            head_args = [f'"{o.path}"']
        call = f"        return {target}.{helper}(" + ", ".join(head_args + call_args) + ")"
        if len(call) <= 120:
            lines.append(call)
        else:
            lines.append(f"        return {target}.{helper}(")
            for part in head_args + call_args:
                if len(part) + 13 <= 120 or not part.endswith("}"):
                    lines.append(f"            {part},")
                    continue
                key, _, entries = part.partition("={")
                lines.append(f"            {key}={{")
                lines += [f"                {entry.strip()}," for entry in entries[:-1].split(", ")]
                lines.append("            },")
            lines.append("        )")
        self.registry.append((o.method.upper(), o.path))
        return lines

    @staticmethod
    def _default_doc(o: Operation) -> str:
        return f"{o.method.upper()} {o.path}"

    @staticmethod
    def _model_arg(returns: str, helper: str) -> str | None:
        if helper in ("_model",):
            return returns
        if helper == "_models":
            return returns[len("builtins.list["):-1]
        if helper == "_page":
            return returns[len("Paginator["):-1]
        return None

    def _body(self, op: dict) -> tuple[str | None, dict, set]:
        content = op.get("requestBody", {}).get("content", {})
        if not content:
            return None, {}, set()
        if "application/json" not in content:
            if "application/octet-stream" in content:
                return "binary", {}, set()
            return "dict", {}, set()
        schema = content["application/json"].get("schema", {})
        name = ref_name(schema)
        if not name:
            return "dict", {}, set()
        component = self.components[name]
        props = {k: v for k, v in component.get("properties", {}).items() if not v.get("readOnly")}
        return "json", props, set(component.get("required", []))

    def _returns(self, op: dict) -> tuple[str, str]:
        for status, answer in sorted(op.get("responses", {}).items()):
            if not status.startswith("2"):
                continue
            content = answer.get("content", {})
            if not content:
                return "None", "_none"
            if "application/json" not in content:
                return "bytes", "_bytes"
            schema = content["application/json"].get("schema", {})
            name = ref_name(schema)
            if name and name.startswith("Paginated") and name.endswith("List"):
                item = ref_name(self.components[name]["properties"]["results"]["items"])
                self.types.of({"$ref": f"#/components/schemas/{item}"}, "response")
                return f"Paginator[{item}]", "_page"
            if name and not self.types.is_enum(name):
                self.types.of(schema, "response")
                return name, "_model"
            if schema.get("type") == "array" and ref_name(schema.get("items", {})):
                item = ref_name(schema["items"])
                self.types.of(schema["items"], "response")
                return f"builtins.list[{item}]", "_models"
            return "Any", "_any"
        return "None", "_none"


def generate(schema: dict) -> dict[str, str]:
    components = schema["components"]["schemas"]
    types = Types(components)
    writer = ResourceWriter(types, components)
    resources = writer.write(build_tree(schema["paths"]))
    registry = ["", "", "# Every API operation the resources above call, as (method, path) of the schema.",
                "OPERATIONS: frozenset[tuple[str, str]] = frozenset({"]
    registry += [f'    ("{m}", "{p}"),' for m, p in sorted(writer.registry)] + ["})"]
    return {"models.py": write_models(types), "_generated/resources.py": resources + "\n".join(registry) + "\n",
            "_generated/__init__.py": '"""Generated from the OpenAPI schema by sdk/tools/generate.py."""\n'}


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit("usage: generate.py SCHEMA.json")
    schema: dict[str, Any] = json.loads(Path(argv[1]).read_text())
    for name, text in generate(schema).items():
        (PACKAGE / name).write_text(text)
        print(f"wrote {PACKAGE / name} ({text.count(chr(10))} lines)")


if __name__ == "__main__":
    main(sys.argv)
