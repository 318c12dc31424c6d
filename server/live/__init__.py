"""Live updates: region matching, per-client state and the WebSocket listener."""
