"""Hyperparameter schemas: an algorithm lists its knobs; a job's values are checked against the
JSON Schema built from that list, with defaults filled in."""

import jsonschema

TYPES = {"int": "integer", "float": "number", "str": "string", "bool": "boolean"}
SPEC_KEYS = {"name", "type", "default", "min", "max", "choices", "required", "description"}


def check_spec(spec: list) -> dict[str, str]:
    """Problems with an algorithm's hyperparameter list, by position ('hyperparameters.2.min')."""
    problems = {}
    seen = set()
    if not isinstance(spec, list):
        return {"hyperparameters": "Give a list of {name, type, default, min, max, choices, required, description}."}
    for i, item in enumerate(spec):
        where = f"hyperparameters.{i}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item.get("name"):
            problems[where] = "Each hyperparameter needs a name."
            continue
        unknown = set(item) - SPEC_KEYS
        if unknown:
            problems[where] = f"Unknown keys {sorted(unknown)}; allowed: {sorted(SPEC_KEYS)}."
        elif item["name"] in seen:
            problems[where] = f"'{item['name']}' is listed twice."
        elif item.get("type") not in TYPES:
            problems[f"{where}.type"] = f"Use one of {sorted(TYPES)}."
        elif "default" in item and item["default"] is not None:
            errors = list(jsonschema.Draft202012Validator(_property(item)).iter_errors(item["default"]))
            if errors:
                problems[f"{where}.default"] = f"The default does not fit its own rules: {errors[0].message}."
        seen.add(item.get("name"))
    return problems


def _property(item: dict) -> dict:
    prop = {"type": TYPES[item["type"]]}
    if "min" in item and item["min"] is not None:
        prop["minimum"] = item["min"]
    if "max" in item and item["max"] is not None:
        prop["maximum"] = item["max"]
    if item.get("choices"):
        prop["enum"] = item["choices"]
    return prop


def json_schema(spec: list) -> dict:
    return {
        "type": "object",
        "properties": {item["name"]: _property(item) for item in spec},
        "required": [item["name"] for item in spec if item.get("required") and item.get("default") is None],
        "additionalProperties": False,
    }


def resolve(spec: list, values: dict) -> tuple[dict, dict[str, str]]:
    """The values with defaults filled in, and the problems by field ('hyperparameters.lr')."""
    if not isinstance(values, dict):
        return {}, {"hyperparameters": "Give the hyperparameters as an object of name: value."}
    filled = {item["name"]: item["default"] for item in spec if item.get("default") is not None}
    filled.update(values)
    problems = {}
    for error in jsonschema.Draft202012Validator(json_schema(spec)).iter_errors(filled):
        if error.validator == "additionalProperties":
            known = ", ".join(item["name"] for item in spec) or "none"
            for name in sorted(set(filled) - {item["name"] for item in spec}):
                problems[f"hyperparameters.{name}"] = f"Unknown hyperparameter; this algorithm takes: {known}."
        elif error.validator == "required":
            missing = error.message.split("'")[1]
            problems[f"hyperparameters.{missing}"] = "This hyperparameter is required."
        else:
            name = error.path[0] if error.path else "hyperparameters"
            problems[f"hyperparameters.{name}"] = _plain(error)
    return filled, problems


def _plain(error) -> str:
    rules = {
        "minimum": f"Must be at least {error.validator_value}.",
        "maximum": f"Must be at most {error.validator_value}.",
        "enum": f"Must be one of {error.validator_value}.",
        "type": f"Must be of type {error.validator_value}.",
    }
    return rules.get(error.validator, error.message)
