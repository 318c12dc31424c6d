"""The central server: one Trio program supervising ingest, the pipeline, the store, REST and WebSocket.

Built in the server-core issue.
"""
