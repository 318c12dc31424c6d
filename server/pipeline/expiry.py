"""Expiry: objects nobody has heard from for a while leave the live map.

Each kind has a "gone after" time (``pilot_gone_after_s``, ``ground_gone_after_s``,
``thermal_gone_after_s``, ``station_gone_after_s``) measured from the object's ``last_update``;
past it the object is removed with a REMOVE change stamped ``now``. A ground object in a distress
state stays for ``distress_gone_after_s`` instead: someone may still be waiting for help after
their device fell silent. Pilots also have a "stale
after" time: a stale pilot stays on the map and the UI may grey it out (:func:`is_stale`).

The same sweep bounds the pipeline's memory: standings of addresses that left the map or never made
it onto it, and names nobody has sent for ``name_memory_s``. It looks only at what fell due: the world,
the validator and the thermal map file each entry by its deadline as they write it
(:class:`~.deadlines.Deadlines`).
"""

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
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


def expire(world: "World", now: float) -> list[PendingChange]:
    """Remove what is gone at ``now`` and forget what nobody needs; returns the REMOVE changes. Each
    table's :class:`~.deadlines.Deadlines` says what fell due, so the rest is not looked at."""
    changes: list[PendingChange] = []
    left: list[int] = []
    tables: tuple[
        tuple[dict[int, Pilot] | dict[int, GroundObject] | dict[int, WeatherStation], list[int]], ...
    ]
    tables = (
        (world.pilots, world.pilot_deadlines.due(now)),
        (world.ground, world.ground_deadlines.due(now)),
        (world.stations, world.station_deadlines.due(now)),
    )
    for objects, gone in tables:
        changes.extend(PendingChange(Action.REMOVE, objects.pop(addr), now) for addr in gone)
        left += gone
    changes.extend(PendingChange(Action.REMOVE, thermal, now) for thermal in world.thermals.expire(now))

    validator = world.validator
    for addr in left:
        if not world.on_map(addr):
            validator.drop(addr)  # back after a long silence: it proves itself again
    validator.forget(now, world.on_map)

    for addr in world.name_deadlines.due(now):
        del world.names[addr]
    return changes
