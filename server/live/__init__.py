"""Live updates: region matching, per-client state and the WebSocket listener.

- :mod:`.hub` — the fan-out core (pure): :class:`~.hub.Hub` routes changes to clients, :class:`~.hub.Sync`
  catches a client up after a (re)subscription or a resume.
- :mod:`.index` — the hub's compact cell and holder indexes.
- :mod:`.subscriber` — one client's protocol state (pure); :mod:`.outbox` — what it is owed, in batches;
  :mod:`.region` — circles and their geohash covers; :mod:`.settings` — :class:`~.settings.LiveSettings`.
- :mod:`.listener` — :func:`~.listener.serve_websockets`, the trio-websocket adapter; :mod:`.alarms` — the
  senders' wake-up times (pure).
- :mod:`.client` — a client (:func:`~.client.open_updates`); :mod:`.watch` — ``fanet watch``.

Nothing is re-exported here: ``fanet watch`` lives in this package and ``fanet`` must start without the
server extra, so importing the package stays free of trio-websocket and pygeohash.
"""
