"""The hypercorn configuration the REST API is served with: HTTP/1.1 and HTTP/2, TLS when configured.

HTTP/2 needs nothing on a plain listener: hypercorn speaks h2c both with prior knowledge and after an
``Upgrade: h2c``. With ``tls_certfile``/``tls_keyfile`` the listener is HTTPS and offers ``h2`` then
``http/1.1`` by ALPN. The server serves the app in its own nursery::

    config = hypercorn_config(settings, ["0.0.0.0:8080"])
    binds = await nursery.start(partial(hypercorn.trio.serve, app, config, shutdown_trigger=...))
"""

from collections.abc import Sequence

from hypercorn.config import Config

from fanet.server.rest.settings import RestSettings


def hypercorn_config(settings: RestSettings, bind: Sequence[str]) -> Config:
    """A hypercorn ``Config`` for ``bind`` (``host:port`` entries; port 0 picks a free one)."""
    config = Config()
    config.bind = list(bind)
    config.alpn_protocols = ["h2", "http/1.1"]
    config.h2_max_concurrent_streams = settings.h2_max_concurrent_streams
    config.include_server_header = False
    if settings.tls_certfile is not None and settings.tls_keyfile is not None:
        config.certfile = str(settings.tls_certfile)
        config.keyfile = str(settings.tls_keyfile)
    return config
