"""The files under ``/static/``: read once when the app is built, served from memory.

A request can only name a file that was found here when the server started (:class:`Assets` is a table
of relative paths), so no request path ever reaches the file system: ``..``, absolute paths, encoded
separators and hidden files simply are not in the table. Each file carries its content type (by
extension, JavaScript as ``text/javascript`` whatever the platform's MIME table says), a weak ETag, its
gzip encoding when that is worth it, and its caching policy: the vendored libraries (pinned versions)
may be cached for a day, our own files are revalidated on every load so a new release shows at once.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fanet.server.rest.negotiate import gzip_bytes, weak_etag

PACKAGED_STATIC = Path(__file__).parent / "static"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
    ".proto": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    "": "text/plain; charset=utf-8",  # LICENSE
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"
VENDOR_CACHE = "public, max-age=86400"
OWN_CACHE = "no-cache"
GZIP_MIN_BYTES = 1024
GZIP_LEVEL = 6


@dataclass(frozen=True, slots=True)
class Asset:
    """One static file, ready to send."""

    body: bytes
    content_type: str
    etag: str
    cache_control: str
    gzipped: bytes | None = None
    """The gzip encoding of ``body`` (``None`` when it would not be smaller, or the type is compressed)."""


class Assets(Mapping[str, Asset]):
    """Static files by their path below ``/static/`` (``vendor/leaflet/leaflet.js``)."""

    def __init__(self, files: Mapping[str, Asset]) -> None:
        self._files = dict(files)

    def __getitem__(self, path: str) -> Asset:
        return self._files[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)


def load_assets(root: Path = PACKAGED_STATIC) -> Assets:
    """Every file below ``root`` except hidden ones (a name starting with a dot, or inside such a folder)."""
    if not root.is_dir():
        raise FileNotFoundError(f"no static folder at {root}")
    files: dict[str, Asset] = {}
    for path in sorted(root.rglob("*")):
        relative = PurePosixPath(path.relative_to(root).as_posix())
        if (
            any(part.startswith(".") or part == "__pycache__" for part in relative.parts)
            or not path.is_file()
        ):
            continue
        files[str(relative)] = make_asset(str(relative), path.read_bytes())
    return Assets(files)


def make_asset(path: str, body: bytes) -> Asset:
    """The asset for ``body`` served as ``path`` (its extension gives the type, its folder the caching)."""
    content_type = content_type_of(path)
    cache_control = VENDOR_CACHE if path.startswith("vendor/") else OWN_CACHE
    gzipped = None
    if _compressible(content_type) and len(body) >= GZIP_MIN_BYTES:
        packed = gzip_bytes(body, GZIP_LEVEL)
        if len(packed) < len(body):
            gzipped = packed
    return Asset(body, content_type, weak_etag(body), cache_control, gzipped)


def content_type_of(path: str) -> str:
    return CONTENT_TYPES.get(PurePosixPath(path).suffix.lower(), DEFAULT_CONTENT_TYPE)


def _compressible(content_type: str) -> bool:
    return content_type.startswith("text/") or content_type in ("application/json", "image/svg+xml")
