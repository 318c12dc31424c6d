"""FANET receiving system: codec, base-station gateway, server and live map.

The installed distribution maps the repository's top-level folders into this namespace
(``fanet.proto``, ``fanet.firmware_bridge``, ``fanet.gateway``, ``fanet.server``, ``fanet.hardware``)
so that installing it never drops generic package names such as ``server`` into site-packages.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fanet")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
