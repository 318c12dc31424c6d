"""The live map and its JavaScript client, served at ``/`` and ``/static/…``."""
