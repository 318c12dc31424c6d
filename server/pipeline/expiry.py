"""Expiry: objects nobody has heard from for a while leave the live map.

Each kind has a "gone after" time (``pilot_gone_after_s``, ``ground_gone_after_s``,
``thermal_gone_after_s``, ``station_gone_after_s``) measured from the object's ``last_update``;
past it the object is removed with a REMOVE change stamped ``now``. A ground object in a distress
state stays for ``distress_gone_after_s`` instead: someone may still be waiting for help after
their device fell silent. Pilots also have a "stale
after" time: a stale pilot stays on the map and the UI may grey it out (:func:`is_stale`).

The same sweep bounds the pipeline's memory: standings of addresses that left the map or never made
it onto it, and names nobody has sent for ``name_memory_s``.
"""

from collections.abc import Mapping

from fanet.server.model import (
    Action,
    GroundObject,
    LiveObject,
    PendingChange,
    Pilot,
    Thermal,
    WeatherStation,
)
from fanet.server.pipeline.settings import PipelineSettings
from fanet.server.pipeline.world import World


def gone_after_s(obj: LiveObject, settings: PipelineSettings) -> float:
    """How long an object stays on the map without a report."""
    if isinstance(obj, Pilot):
        return settings.pilot_gone_after_s
    if isinstance(obj, GroundObject):
        return settings.distress_gone_after_s if obj.distress else settings.ground_gone_after_s
    if isinstance(obj, Thermal):
        return settings.thermal_gone_after_s
    return settings.station_gone_after_s


def is_gone(obj: LiveObject, now: float, settings: PipelineSettings) -> bool:
    return now - obj.last_update > gone_after_s(obj, settings)


def is_stale(obj: LiveObject, now: float, settings: PipelineSettings) -> bool:
    """A pilot not heard from for ``pilot_stale_after_s`` (still on the map); other kinds are never stale."""
    return isinstance(obj, Pilot) and now - obj.last_update > settings.pilot_stale_after_s


def _silent_for(objects: Mapping[int, LiveObject], now: float, seconds: float) -> list[int]:
    """The objects not heard from for more than ``seconds``: :func:`is_gone` for a kind with one time,
    without two calls per object (10,000 pilots: 0.27 ms instead of 0.91, on the event loop every 2 s)."""
    return [addr for addr, obj in objects.items() if now - obj.last_update > seconds]


def expire(world: World, now: float, settings: PipelineSettings) -> list[PendingChange]:
    """Remove what is gone at ``now`` and forget what nobody needs; returns the REMOVE changes."""
    changes: list[PendingChange] = []
    left: list[int] = []
    tables: tuple[
        tuple[dict[int, Pilot] | dict[int, GroundObject] | dict[int, WeatherStation], list[int]], ...
    ]
    tables = (
        (world.pilots, _silent_for(world.pilots, now, settings.pilot_gone_after_s)),
        (world.ground, [addr for addr, obj in world.ground.items() if is_gone(obj, now, settings)]),
        (world.stations, _silent_for(world.stations, now, settings.station_gone_after_s)),
    )
    for objects, gone in tables:
        changes.extend(PendingChange(Action.REMOVE, objects.pop(addr), now) for addr in gone)
        left += gone
    thermals = world.thermals
    for thermal in [t for t in thermals.thermals.values() if is_gone(t, now, settings)]:
        thermals.remove(thermal.id)
        changes.append(PendingChange(Action.REMOVE, thermal, now))

    standings = world.validator.standings
    for addr in left:
        if not world.on_map(addr):
            standings.pop(addr, None)  # back after a long silence: it proves itself again
    world.validator.forget(now, world.on_map)

    cutoff = now - settings.name_memory_s
    names = world.names
    for addr in [addr for addr, (_, heard) in names.items() if heard < cutoff]:
        del names[addr]
    return changes
