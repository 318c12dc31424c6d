"""The REST API: snapshot, objects, tracks, base stations, positions; OpenAPI, auth and limits."""
