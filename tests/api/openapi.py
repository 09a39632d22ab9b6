"""The API's OpenAPI schema as /api/schema/ serves it, generated in-process once per test session:
the fuzzers and the isolation matrix all read this one copy."""

import json
from functools import cache

from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

METHODS = ("get", "put", "post", "patch", "delete")


@cache
def raw_schema() -> dict:
    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


def operations() -> list[tuple[str, str, dict]]:
    """(method, path, operation) of every operation of the schema, in its order."""
    return [(method, path, operation) for path, item in raw_schema()["paths"].items()
            for method, operation in item.items() if method in METHODS]


def resolve(schema: dict) -> dict:
    """The schema a `$ref` points to (followed until it is not one)."""
    while "$ref" in schema:
        schema = raw_schema()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def body_fields(operation: dict) -> list[tuple[str, dict]]:
    """(dotted path, schema) of every writable leaf of the operation's JSON request body; list items
    are `*` in the path (e.g. `inputs.*.dataset_version`)."""
    content = (operation.get("requestBody") or {}).get("content", {})
    if "application/json" not in content:
        return []
    found = {}

    def walk(schema, path):
        schema = resolve(schema)
        if schema.get("readOnly"):
            return
        for key in ("allOf", "oneOf", "anyOf"):
            for part in schema.get(key, []):
                walk(part, path)
        if "properties" in schema:
            for name, child in schema["properties"].items():
                walk(child, [*path, name])
        elif schema.get("type") == "array":
            walk(schema.get("items", {}), [*path, "*"])
        elif path and not any(key in schema for key in ("allOf", "oneOf", "anyOf")):
            found.setdefault(".".join(path), schema)

    walk(content["application/json"]["schema"], [])
    return list(found.items())
