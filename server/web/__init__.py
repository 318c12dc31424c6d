"""The live map and its JavaScript client, served at ``/`` and ``/static/…``.

``register_web(app, settings)`` adds the page and the static files to the server's Quart app;
:class:`WebSettings` says where tiles come from and where the map starts. The browser side lives in
``static/``: ``fanet-client.js`` is the documented client other frontends embed (see ``README.md``),
``map.js`` the page built on it.
"""

from fanet.server.web.routes import register_web
from fanet.server.web.settings import WebSettings

__all__ = ["WebSettings", "register_web"]
