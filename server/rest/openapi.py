"""``/api/v1/openapi.json``: the OpenAPI document, generated from the routes and their models.

quart-schema walks the app's URL rules; this provider narrows that to the API's prefix and writes what
quart-schema cannot know by itself from a route's :class:`RouteDoc`: that a body comes as the contract's
protobuf message or its JSON mirror (schemas from :mod:`~fanet.server.rest.schemas`), which errors a
route answers (all with the error body), the headers that come with them (``ETag``, ``Retry-After``,
``WWW-Authenticate``), and the bearer token of ``POST /position``. Query parameters come from the
pydantic models the routes validate with (:mod:`~fanet.server.rest.params`), marked required as the
models say.
"""

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from google.protobuf.descriptor import Descriptor
from pydantic import BaseModel
from quart_schema import OpenAPIProvider
from werkzeug.routing import Rule
from werkzeug.routing.converters import BaseConverter

from fanet.server.rest.negotiate import JSON, PROTOBUF
from fanet.server.rest.params import ADDRESS_PATTERN
from fanet.server.rest.schemas import ErrorBody, JsonSchema, message_schemas, schema_name

API_PREFIX = "/api/v1"
REF = "#/components/schemas/"
BEARER_SCHEME = "bearer"

_ROUTE_DOC = "_fanet_rest_doc"
F = TypeVar("F", bound=Callable[..., Any])

_STATUS_TEXT = {
    304: "Not modified: the body would be the one whose ETag was sent in If-None-Match.",
    400: "A parameter or body field is missing, malformed or out of range; the message names it.",
    401: "No bearer token, or one the account service does not know.",
    404: "No such object.",
    413: "The request body is larger than the server accepts.",
    415: "The body is neither application/json nor application/x-protobuf.",
    429: "Too many requests from this client IP or token; retry after Retry-After seconds.",
    500: "The server failed; the body says no more than that.",
    503: "The store, the account service or the pipeline cannot take the request now.",
}
_ERROR_HEADERS: dict[int, dict[str, JsonSchema]] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "required": True}},
    429: {"Retry-After": {"schema": {"type": "string", "pattern": "^[0-9]+$"}, "required": True}},
    503: {"Retry-After": {"schema": {"type": "string", "pattern": "^[0-9]+$"}, "required": True}},
}
ALWAYS = (429, 500)
"""Errors every route can answer."""


@dataclass(frozen=True, slots=True)
class RouteDoc:
    """What the OpenAPI document says about a route beyond its rule and query model."""

    summary_200: str
    message: Descriptor | None = None
    """The 200 body: this contract message as protobuf, or its JSON mirror."""
    json_body: type[BaseModel] | None = None
    """The 200 body when it is JSON only (no contract message)."""
    errors: tuple[int, ...] = ()
    etag: bool = False
    """ETag on 200, and 304 for a matching If-None-Match."""
    bearer: bool = False
    request: tuple[Descriptor, type[BaseModel]] | None = None
    """The request body: this contract message as protobuf, or JSON as the model describes it."""


def documented(doc: RouteDoc) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        setattr(func, _ROUTE_DOC, doc)
        return func

    return decorate


class ApiDocument(OpenAPIProvider):
    """quart-schema's provider, narrowed to the API and completed from each route's :class:`RouteDoc`."""

    def generate_rules(self) -> Any:
        return (rule for rule in super().generate_rules() if rule.rule.startswith(API_PREFIX))

    def build_path_parameter(self, name: str, converter: BaseConverter) -> dict[str, Any]:
        parameter = super().build_path_parameter(name, converter)
        if name == "addr":
            parameter["schema"] = {"type": "string", "pattern": ADDRESS_PATTERN}
            parameter["description"] = "FANET address: six hex digits (110B90) or decimal (1117072)."
        return parameter

    def build_querystring_parameters(self, model: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        schema = model.model_json_schema(ref_template=REF + "{model}")
        required = set(schema.get("required", ()))
        parameters = []
        for name, declared in schema["properties"].items():
            prop = _without_null(declared)
            parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
            description = prop.pop("description", None)
            if description:
                parameter["description"] = description
            prop.pop("title", None)
            parameter["schema"] = prop
            parameters.append(parameter)
        return parameters, schema.get("$defs", {})

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        doc: RouteDoc | None = getattr(self._app.view_functions[rule.endpoint], _ROUTE_DOC, None)
        if doc is None:
            return paths, components
        for operations in paths.values():
            for method, shared in list(operations.items()):
                operation = operations[method] = copy.deepcopy(shared)
                operation["responses"] = self._responses(
                    doc, components, has_parameters=bool(operation["parameters"] or doc.request)
                )
                if doc.etag:
                    operation["parameters"].append(
                        {
                            "name": "If-None-Match",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                        }
                    )
                if doc.bearer:
                    operation["security"] = [{BEARER_SCHEME: []}]
                if doc.request is not None:
                    operation["requestBody"] = self._request_body(*doc.request, components)
        return paths, components

    def _responses(
        self, doc: RouteDoc, components: dict[str, Any], *, has_parameters: bool
    ) -> dict[str, Any]:
        ok: dict[str, Any] = {"description": doc.summary_200}
        if doc.message is not None:
            components.update(message_schemas(doc.message, REF))
            ok["content"] = {
                JSON: {"schema": {"$ref": REF + schema_name(doc.message)}},
                PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
            }
        elif doc.json_body is not None:
            ok["content"] = {JSON: {"schema": self._model_ref(doc.json_body, components)}}
        if doc.etag:
            ok["headers"] = {"ETag": {"schema": {"type": "string"}, "required": True}}
        responses: dict[str, Any] = {"200": ok}
        if doc.etag:
            responses["304"] = {
                "description": _STATUS_TEXT[304],
                "headers": {"ETag": {"schema": {"type": "string"}, "required": True}},
            }
        statuses = set(doc.errors) | set(ALWAYS) | ({400} if has_parameters else set())
        error_ref = self._model_ref(ErrorBody, components)
        for status in sorted(statuses):
            response: dict[str, Any] = {
                "description": _STATUS_TEXT.get(status, "Error."),
                "content": {JSON: {"schema": error_ref}},
            }
            if status in _ERROR_HEADERS:
                response["headers"] = _ERROR_HEADERS[status]
            responses[str(status)] = response
        return responses

    def _request_body(
        self, message: Descriptor, model: type[BaseModel], components: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "required": True,
            "content": {
                JSON: {"schema": self._model_ref(model, components)},
                PROTOBUF: {
                    "schema": {"type": "string", "format": "binary", "description": message.full_name}
                },
            },
        }

    @staticmethod
    def _model_ref(model: type[BaseModel], components: dict[str, Any]) -> JsonSchema:
        schema = model.model_json_schema(ref_template=REF + "{model}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
        return {"$ref": REF + model.__name__}


def _without_null(schema: JsonSchema) -> JsonSchema:
    """A query parameter is absent or a value, never null: drop pydantic's ``None`` branch and default."""
    schema = dict(schema)
    branches = schema.pop("anyOf", None)
    if branches is not None:
        kept = [branch for branch in branches if branch.get("type") != "null"]
        schema = {**(kept[0] if len(kept) == 1 else {"anyOf": kept}), **schema}
    if schema.get("default", 0) is None:
        del schema["default"]
    return schema
