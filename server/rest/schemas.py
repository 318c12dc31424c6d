"""JSON Schemas of the response bodies, generated from the protobuf descriptors and a few models.

The JSON mirror is what ``google.protobuf.json_format`` prints with the .proto's field names and every
field present (:func:`fanet.server.api.messages.to_dict`), so its schema follows from the descriptor:
scalars and repeated fields always present, message fields only when set, 64-bit integers as decimal
strings, enums by name (a value the .proto does not name — FANET ground types 5..7, 10, 11 — as its
number), bytes as base64. :func:`message_schemas` writes that down for a message and every message it
uses; the OpenAPI document takes them from here, so they cannot drift from the .proto.

The bodies that are not contract messages — the error body and ``/info`` — are pydantic models.
"""

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from pydantic import BaseModel, ConfigDict, Field

JsonSchema = dict[str, Any]

_INT32 = {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
_UINT32 = {"type": "integer", "minimum": 0, "maximum": 2**32 - 1}
_INT64 = {"type": "string", "pattern": "^-?[0-9]{1,19}$", "description": "64-bit integer as a decimal string"}
_UINT64 = {"type": "string", "pattern": "^[0-9]{1,20}$", "description": "64-bit integer as a decimal string"}

_SCALARS: dict[int, JsonSchema] = {
    FieldDescriptor.TYPE_DOUBLE: {"type": "number"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number"},
    FieldDescriptor.TYPE_INT32: _INT32,
    FieldDescriptor.TYPE_SINT32: _INT32,
    FieldDescriptor.TYPE_SFIXED32: _INT32,
    FieldDescriptor.TYPE_UINT32: _UINT32,
    FieldDescriptor.TYPE_FIXED32: _UINT32,
    FieldDescriptor.TYPE_INT64: _INT64,
    FieldDescriptor.TYPE_SINT64: _INT64,
    FieldDescriptor.TYPE_SFIXED64: _INT64,
    FieldDescriptor.TYPE_UINT64: _UINT64,
    FieldDescriptor.TYPE_FIXED64: _UINT64,
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}


def schema_name(descriptor: Descriptor) -> str:
    """The component name of a message: its name in the .proto (``SnapshotResponse``)."""
    return descriptor.name


def message_schemas(
    descriptor: Descriptor, ref_prefix: str = "#/components/schemas/"
) -> dict[str, JsonSchema]:
    """The schema of ``descriptor``'s JSON mirror and of every message it refers to, by component name."""
    found: dict[str, JsonSchema] = {}
    _collect(descriptor, ref_prefix, found)
    return found


def _collect(descriptor: Descriptor, ref_prefix: str, found: dict[str, JsonSchema]) -> None:
    name = schema_name(descriptor)
    if name in found:
        return
    found[name] = {}  # placed first: a message that refers to itself ends here
    properties: dict[str, JsonSchema] = {}
    required: list[str] = []
    for field in descriptor.fields:
        if field.message_type is not None:
            _collect(field.message_type, ref_prefix, found)
            value: JsonSchema = {"$ref": ref_prefix + schema_name(field.message_type)}
        elif field.enum_type is not None:
            names = [value.name for value in field.enum_type.values]
            value = {"anyOf": [{"type": "string", "enum": names}, _INT32]}
        else:
            value = dict(_SCALARS[field.type])
        if _repeated(field):
            properties[field.name] = {"type": "array", "items": value}
            required.append(field.name)
        else:
            properties[field.name] = value
            if not field.has_presence:
                required.append(field.name)
    found[name] = {
        "type": "object",
        "title": name,
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


# --- bodies that are not contract messages -------------------------------------------------------


class ErrorBody(BaseModel):
    """The body of every error: a stable code and a message naming what is wrong."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(description="stable, snake_case: invalid_parameter, not_found, rate_limited …")
    message: str = Field(description="for people: which parameter or object is wrong")


class ObjectCounts(BaseModel):
    """How much is on the map, as the store's indexes count it (no object is read for it)."""

    model_config = ConfigDict(extra="forbid")
    pilots: int
    ground_objects: int
    thermals: int
    stations: int = Field(description="weather stations")
    base_stations: int = Field(description="receiving stations the store has a record of")


class InfoBody(BaseModel):
    """What this server is and where its live updates are."""

    model_config = ConfigDict(extra="forbid")
    server_version: str
    api_version: str = Field(description="the REST API's version: v1")
    store: str = Field(description="memory or redis")
    websocket_url: str = Field(description="where clients subscribe to live updates")
    server_time: int = Field(description="unix seconds")
    sequence: int = Field(description="the newest change's sequence number")
    counts: ObjectCounts
