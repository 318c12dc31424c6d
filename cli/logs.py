"""Structured logs for every ``fanet`` command: one configuration, stdlib and structlog alike.

Application code logs with ``structlog.get_logger("fanet.<component>")`` and key-value pairs
(``log.info("module ready", version=…, address=…)``); libraries that use the stdlib ``logging``
module (paho, hypercorn, our MQTT client) go through the same renderer, so every line on stderr has
one shape: ``logfmt``-style key=value for people (the default), or one JSON object a line
(``--log-format json``) for log shippers.

``--verbose`` turns on the debug lines of our own loggers (``fanet.*``, such as the gateway's line a
frame) and only those: other libraries' loggers stay at info. paho's alone would add two debug lines
a frame ("Sending PUBLISH", "Received PUBACK").
"""

import logging
import sys
from typing import Literal, TextIO

import structlog

LogFormat = Literal["console", "json"]

_SHARED_PROCESSORS: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure_logging(
    *, verbose: bool = False, log_format: LogFormat = "console", stream: TextIO | None = None
) -> None:
    """Send all logs to ``stream`` (stderr): info and up, and with ``verbose`` our own debug lines."""
    renderer: structlog.types.Processor
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.processors.LogfmtRenderer(key_order=["timestamp", "level", "logger", "event"])
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_SHARED_PROCESSORS,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("fanet").setLevel(logging.DEBUG if verbose else logging.NOTSET)
    structlog.configure(
        processors=[*_SHARED_PROCESSORS, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
