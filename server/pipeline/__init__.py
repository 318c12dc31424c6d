"""The server's processing pipeline, pure: received frames in, batches of changes for the store out.

Decode → deduplicate → validate against phantoms → apply to the live world; expiry and warm start
beside it. No I/O, no clock: the caller passes ``now``. The Trio task that feeds it and the store it
feeds live elsewhere in ``fanet.server``.
"""

from fanet.server.pipeline.dedupe import Deduplicator, dedupe_key
from fanet.server.pipeline.expiry import gone_after_s, is_gone, is_stale
from fanet.server.pipeline.pipeline import Pipeline
from fanet.server.pipeline.settings import DEFAULT_MAX_SPEED_KMH, PipelineSettings
from fanet.server.pipeline.stats import Outcome, PipelineStats, Reason, Skip
from fanet.server.pipeline.validate import API_STATION, USER_MANUFACTURER

__all__ = [
    "API_STATION",
    "DEFAULT_MAX_SPEED_KMH",
    "USER_MANUFACTURER",
    "Deduplicator",
    "Outcome",
    "Pipeline",
    "PipelineSettings",
    "PipelineStats",
    "Reason",
    "Skip",
    "dedupe_key",
    "gone_after_s",
    "is_gone",
    "is_stale",
]
