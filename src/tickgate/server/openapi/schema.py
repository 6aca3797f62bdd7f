"""The pieces an OpenAPI entry is made of: JSON Schema builders and the `Operation` record.

Schemas are plain JSON Schema dicts (OpenAPI 3.1 uses JSON Schema 2020-12 as is), built with the
few helpers below so an entry reads like the answer it describes. Objects allow keys beyond the
ones listed unless `closed=True`: IBKR adds keys over time and clients must ignore unknown ones,
so the document promises the listed keys and their types, not the absence of others.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tickgate.server.http import PREFIXES

JsonSchema = dict[str, Any]

STRING: JsonSchema = {"type": "string"}
INTEGER: JsonSchema = {"type": "integer"}
NUMBER: JsonSchema = {"type": "number"}
BOOLEAN: JsonSchema = {"type": "boolean"}
NULL: JsonSchema = {"type": "null"}
ANY: JsonSchema = {}
#: An integer as the server parses one (`http.parse_int`): 64 bits, signed.
INT64: JsonSchema = {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}
#: A conid in a query or path. Any 64-bit integer parses; one the catalogue does not know is
#: refused by the route (400) or finds nothing (an empty answer).
CONID: JsonSchema = {**INT64, "examples": [265598]}
#: An integer in a JSON body: a JSON integer or its ASCII digits (`"265598"`, `"-1"`).
INT_OR_TEXT: JsonSchema = {
    "anyOf": [INT64, {"type": "string", "pattern": "^[ \t]*-?[0-9]{1,19}[ \t]*$"}]
}
#: A decimal as order bodies take it: a JSON number or its plain ASCII text (`"12.5"`).
DECIMAL: JsonSchema = {
    "anyOf": [
        {"type": "number"},
        {
            "type": "string",
            "maxLength": 40,
            "pattern": "^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]{1,3})?$",
        },
    ]
}
#: A boolean in a JSON body: JSON true/false or the words, in any case (`protocol.json_bool`).
BOOL_OR_TEXT: JsonSchema = {
    "anyOf": [
        {"type": "boolean"},
        {"type": "string", "pattern": "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])$"},
    ]
}
#: A boolean query parameter (`http.query_bool`): true/false in any case, 1/0, yes/no; empty
#: means the route's default.
QUERY_BOOL: JsonSchema = {
    "anyOf": [
        {"type": "boolean"},
        {
            "type": "string",
            "pattern": "^$|^\\s*("
            + "|".join(
                ("[Tt][Rr][Uu][Ee]", "[Ff][Aa][Ll][Ss][Ee]", "1", "0", "[Yy][Ee][Ss]", "[Nn][Oo]")
            )
            + ")\\s*$",
        },
    ]
}


def query_integer(minimum: int, maximum: int) -> JsonSchema:
    """An integer query parameter from `minimum` to `maximum`; empty (or blank) means the
    route's default (`http.query_int`)."""
    return {
        "anyOf": [
            {"type": "integer", "minimum": minimum, "maximum": maximum},
            {"type": "string", "pattern": "^\\s*$"},
        ]
    }


#: An account id, e.g. DU1234567.
ACCOUNT: JsonSchema = {"type": "string", "examples": ["DU1234567"]}
#: Epoch milliseconds.
EPOCH_MS: JsonSchema = {"type": "integer", "minimum": 0}


def nullable(schema: JsonSchema) -> JsonSchema:
    """`schema` or JSON null."""
    return {"anyOf": [schema, NULL]}


def one_of_values(*values: str) -> JsonSchema:
    """A string that is one of `values`."""
    return {"type": "string", "enum": list(values)}


def obj(
    properties: Mapping[str, JsonSchema],
    *,
    optional: Iterable[str] = (),
    closed: bool = False,
    description: str | None = None,
) -> JsonSchema:
    """An object with `properties`, all required except those named in `optional`; with
    `closed`, no other keys are allowed (only where the server refuses unknown keys)."""
    skipped = set(optional)
    unknown = skipped - set(properties)
    if unknown:
        raise ValueError(f"optional names keys that are not properties: {sorted(unknown)}")
    schema: JsonSchema = {"type": "object", "properties": dict(properties)}
    required = [name for name in properties if name not in skipped]
    if required:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


def array(items: JsonSchema, *, min_items: int | None = None) -> JsonSchema:
    """A JSON array of `items`."""
    schema: JsonSchema = {"type": "array", "items": items}
    if min_items is not None:
        schema["minItems"] = min_items
    return schema


def map_of(values: JsonSchema) -> JsonSchema:
    """An object used as a map: any keys, each value `values`."""
    return {"type": "object", "additionalProperties": values}


#: Every refusal tickgate answers: `{"error": "..."}`, sometimes with more keys (`statusCode`).
ERROR: JsonSchema = obj({"error": STRING}, description="What was wrong, in words")

Where = Literal["query", "path"]


@dataclass(frozen=True)
class Param:
    """A query or path parameter."""

    name: str
    where: Where
    schema: JsonSchema = field(default_factory=lambda: dict(STRING))
    required: bool = False
    description: str = ""

    def to_openapi(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "in": self.where,
            "required": self.required or self.where == "path",
            "schema": self.schema,
        }
        if self.description:
            out["description"] = self.description
        return out


def query(
    name: str, schema: JsonSchema = STRING, *, required: bool = False, description: str = ""
) -> Param:
    """A query parameter (text unless `schema` says otherwise)."""
    return Param(name, "query", schema, required, description)


def path(name: str, schema: JsonSchema = STRING, *, description: str = "") -> Param:
    """The schema of a path parameter (a path's `{name}` is text unless declared so)."""
    return Param(name, "path", schema, True, description)


@dataclass(frozen=True)
class Link:
    """An OpenAPI link: a value of this answer that feeds a parameter of another operation
    (schemathesis follows them in its stateful phase)."""

    operation_id: str
    parameters: Mapping[str, str]
    description: str = ""


#: The routes of the Client Portal API are served under both prefixes; tickgate's own under none.
CLIENT_PORTAL = PREFIXES
OWN: tuple[str, ...] = ("",)

_PATH_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


@dataclass(frozen=True)
class Operation:
    """One method on one route, as the document lists it.

    `path` is written as the route table registers it (`{conid}` placeholders); `prefixes` are
    the ones it is served under (`CLIENT_PORTAL` or `OWN`). `ok` is the 200 answer's JSON
    schema (None: no JSON body, see `ok_media`); `errors` maps each other status the route
    itself answers to when it happens, their bodies `ERROR` unless `bodies` gives another
    schema for that status. `refuses_with_200`: a request the engine refuses may be answered
    200 `{"error": ...}` (IBKR's order routes), which `ok` must then allow.
    """

    method: str
    path: str
    summary: str
    ok: JsonSchema | None
    errors: Mapping[int, str] = field(default_factory=dict)
    bodies: Mapping[int, JsonSchema] = field(default_factory=dict)
    params: tuple[Param, ...] = ()
    body: JsonSchema | None = None
    body_required: bool = False
    ok_media: str = "application/json"
    ok_status: int = 200
    description: str = ""
    links: Mapping[str, Link] = field(default_factory=dict)
    prefixes: tuple[str, ...] = CLIENT_PORTAL
    tag: str = ""
    #: IBKR answers a refused order with HTTP 200 `{"error": ...}`: such routes say so (the
    #: document marks them `x-tickgate-refusal-status: 200`).
    refuses_with_200: bool = False

    def operation_id(self, prefix: str) -> str:
        """A stable id: method and path words (`get_iserver_accounts`), `_portal` for the
        `/v1/portal` copy."""
        words = re.sub(r"[^A-Za-z0-9]+", "_", _PATH_PARAM.sub(r"\1", self.path)).strip("_")
        suffix = "_portal" if prefix == "/v1/portal" else ""
        return f"{self.method.lower()}_{words or 'root'}{suffix}"

    def path_params(self) -> list[Param]:
        """The path's parameters, with the schemas `params` declares for them (text else)."""
        declared = {p.name: p for p in self.params if p.where == "path"}
        return [declared.get(name, path(name)) for name in _PATH_PARAM.findall(self.path)]

    def openapi_path(self, prefix: str) -> str:
        """The path as OpenAPI writes it: `{name}` without aiohttp's `:regex`."""
        return prefix + _PATH_PARAM.sub(r"{\1}", self.path)


def op(
    methods: str | tuple[str, ...], route: str, summary: str, *, ok: JsonSchema | None, **rest: Any
) -> list[Operation]:
    """Entries for `route` under each of `methods` (a route registered with `*` serves GET and
    POST alike): one `Operation` each, all else shared."""
    verbs = (methods,) if isinstance(methods, str) else methods
    return [Operation(verb, route, summary, ok, **rest) for verb in verbs]
