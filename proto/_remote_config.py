"""Remote configuration (type 6), in development upstream."""

from collections.abc import Callable
from typing import Any

DECODERS: dict[int, Callable[[bytes, int], tuple[Any, int]]] = {}
ENCODERS: dict[type, Callable[[Any], bytes]] = {}
