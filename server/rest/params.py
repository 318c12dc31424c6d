"""Query and path parameters: one pydantic model per endpoint, and pure parsing into domain values.

The models are the single description of what the API accepts: the routes validate with them and the
OpenAPI document is generated from them, so the document cannot drift from the checks. Everything is
pure — a mapping of parameter names to strings in, a domain value (``Circle``, ``Bounds``, address)
or a :class:`~fanet.server.rest.errors.ParameterError` naming the parameter out.

Formats that a JSON schema can state exactly are stated there (ranges, the ``bounds`` and address
patterns); the one rule a schema cannot state — a box's south-west latitude must not lie north of its
north-east one — is checked in :func:`parse_bounds` and written in the parameter's description.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fanet.proto import parse_address
from fanet.server.model import Kind
from fanet.server.rest.errors import ParameterError, not_found
from fanet.server.store import Bounds, Circle

MAX_RADIUS_KM = 200
MAX_TRACK_HOURS = 12

_LAT = r"-?(?:90(?:\.0+)?|[0-8]?[0-9](?:\.[0-9]+)?)"
_LON = r"-?(?:180(?:\.0+)?|(?:1[0-7][0-9]|[0-9]?[0-9])(?:\.[0-9]+)?)"
BOUNDS_PATTERN = rf"^{_LAT},{_LON},{_LAT},{_LON}$"
"""``sw_lat,sw_lon,ne_lat,ne_lon`` in decimal degrees, each within the globe."""
ADDRESS_PATTERN = r"^(?:[0-9A-Fa-f]{6}|[0-9]{1,5}|[0-9]{7,8})$"
"""Six hex digits (``110B90``), or the decimal address (six digits would read as hex: write seven,
``0123456``, or use the hex form)."""

TYPE_NAMES: Mapping[str, Kind] = {
    "pilots": Kind.PILOT,
    "ground": Kind.GROUND,
    "thermals": Kind.THERMAL,
    "stations": Kind.STATION,
}
_TYPE = "|".join(TYPE_NAMES)
TYPES_PATTERN = rf"^(?:{_TYPE})(?:,(?:{_TYPE}))*$"

_STRICT = ConfigDict(extra="ignore", frozen=True)

Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False, description="degrees, WGS84")]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False, description="degrees, WGS84")]
BoundsText = Annotated[
    str,
    Field(
        pattern=BOUNDS_PATTERN,
        description="The box `sw_lat,sw_lon,ne_lat,ne_lon` in degrees; sw_lat must not exceed ne_lat "
        "(400 otherwise); sw_lon > ne_lon is a box across the antimeridian.",
        examples=["45.5,5.8,47.9,10.6"],
    ),
]


class SnapshotQuery(BaseModel):
    model_config = _STRICT
    lat: Latitude
    lon: Longitude
    radius: Annotated[float, Field(ge=1, le=MAX_RADIUS_KM, allow_inf_nan=False, description="km, 1..200")]
    types: Annotated[
        str,
        Field(
            pattern=TYPES_PATTERN,
            description="Comma-separated kinds to include: pilots, ground, thermals, stations (all by default).",
        ),
    ] = ",".join(TYPE_NAMES)
    max_age: Annotated[
        int | None,
        Field(ge=1, le=86_400, description="Only objects updated within this many seconds."),
    ] = None


class BoundsQuery(BaseModel):
    model_config = _STRICT
    bounds: BoundsText


class ThermalsQuery(BaseModel):
    model_config = _STRICT
    bounds: BoundsText
    min_quality: Annotated[
        int | None, Field(ge=0, le=7, description="Only thermals of at least this quality (0..7).")
    ] = None


class TrackQuery(BaseModel):
    model_config = _STRICT
    hours: Annotated[
        int, Field(ge=1, le=MAX_TRACK_HOURS, description="How far back, 1..12 hours (12 by default).")
    ] = MAX_TRACK_HOURS


Query = TypeVar("Query", bound=BaseModel)
QueryArgs = Mapping[str, str | list[str]]
"""Parameter name → its value, or its values when it was given more than once."""


def parse_query(model: type[Query], args: QueryArgs) -> Query:
    """Validate ``args`` with ``model``; the first problem becomes a :class:`ParameterError`."""
    try:
        return model.model_validate(dict(args))
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        name = str(error["loc"][0]) if error["loc"] else "query"
        if error["type"] == "missing":
            raise ParameterError(name, "missing (required)") from None
        if isinstance(error.get("input"), list):
            raise ParameterError(name, "given more than once") from None
        raise ParameterError(name, f"{_lower_first(error['msg'])} (got {error.get('input')!r})") from None


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


@dataclass(frozen=True, slots=True)
class SnapshotArea:
    """A snapshot request in domain terms."""

    circle: Circle
    kinds: tuple[Kind, ...]
    max_age_s: int | None


def snapshot_area(query: SnapshotQuery) -> SnapshotArea:
    kinds = tuple(dict.fromkeys(TYPE_NAMES[name] for name in query.types.split(",")))
    return SnapshotArea(Circle(query.lat, query.lon, query.radius), kinds, query.max_age)


def parse_bounds(text: str) -> Bounds:
    """``sw_lat,sw_lon,ne_lat,ne_lon`` → :class:`Bounds` (``ParameterError`` naming ``bounds``)."""
    if not re.fullmatch(BOUNDS_PATTERN, text):
        raise ParameterError(
            "bounds", f"expected sw_lat,sw_lon,ne_lat,ne_lon in degrees within the globe, got {text!r}"
        )
    south, west, north, east = (float(part) for part in text.split(","))
    if south > north:
        raise ParameterError("bounds", f"sw_lat {south} lies north of ne_lat {north}")
    return Bounds(south, west, north, east)


def parse_path_address(text: str) -> int:
    """A FANET address in a path: six hex digits or decimal. A number beyond 24 bits names no object
    (404); anything else that is not an address is a bad parameter (400)."""
    if not re.fullmatch(ADDRESS_PATTERN, text):
        raise ParameterError("addr", f"expected six hex digits (110B90) or a decimal address, got {text!r}")
    try:
        return parse_address(text)
    except ValueError:
        raise not_found(f"no object with address {text} (beyond the 24-bit address space)") from None
