"""Service (type 4): weather stations and internet gateways."""

from collections.abc import Callable
from typing import Any

DECODERS: dict[int, Callable[[bytes, int], tuple[Any, int]]] = {}
ENCODERS: dict[type, Callable[[Any], bytes]] = {}
