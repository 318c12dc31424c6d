"""Landmarks (type 5): texts, lines, areas, circles and 3D shapes."""

from collections.abc import Callable
from typing import Any

DECODERS: dict[int, Callable[[bytes, int], tuple[Any, int]]] = {}
ENCODERS: dict[type, Callable[[Any], bytes]] = {}
