"""Hardware info: the deprecated type 8 and its successor type 10."""

from collections.abc import Callable
from typing import Any

DECODERS: dict[int, Callable[[bytes, int], tuple[Any, int]]] = {}
ENCODERS: dict[type, Callable[[Any], bytes]] = {}
