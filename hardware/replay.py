"""``fanet replay``'s engine: a capture played to a host through a pty, answered by the module emulator.

One loop drives the three sans-I/O pieces (as ``firmware_bridge`` shows for the gateway): the pty
(:class:`PtyDevice`), the emulator (:class:`ModuleEmulator`) and the schedule (:class:`Playback`).
Each turn it notices the host opening or closing the device, feeds what the host wrote to the
emulator, plays the capture chunks that are due, writes what the emulator printed, then waits for
the host's next bytes or the next deadline. A second task turns signals into actions: SIGINT and
SIGTERM end the replay (the link is removed, a summary logged), SIGUSR1 unplugs the device.

The capture's clock is held whenever the emulated module waits for the host to switch the radio on
(after every boot: the host opening the device, a reboot in the capture, a replug), so every frame
of the capture reaches a host that keeps up, however long its initialisation takes. Otherwise the
clock runs: frames due while the host has switched the radio off are dropped, and those due while no
host has the device open (or it is unplugged) are lost — both counted in the summary.
"""

import contextlib
import math
import signal
from dataclasses import asdict, dataclass, field
from pathlib import Path

import structlog
import trio

from fanet.hardware._capture import Capture
from fanet.hardware._emulator import (
    Booted,
    CommandAnswered,
    EmulatorSettings,
    ModuleEmulator,
    RadioSwitched,
)
from fanet.hardware._host_commands import Transmit
from fanet.hardware._playback import Playback
from fanet.hardware._pty import DeviceError, PtyDevice

__all__ = ["DeviceError", "Replay", "ReplayOptions", "replay_capture"]

ATTACH_POLL_S = 0.02
"""How often the device is checked for a host opening it, while none has it open."""

log = structlog.get_logger("fanet.replay")


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    link: Path
    speed: float = 1.0
    loop: bool = False
    unplug_after_s: float | None = None
    """Unplug the device this long after the start (once)."""
    unplug_for_s: float = 2.0
    """How long an unplugged device stays away before it is plugged in again."""
    emulator: EmulatorSettings = field(default_factory=EmulatorSettings)


def replay_capture(capture: Capture, options: ReplayOptions) -> None:
    """Run a replay until SIGINT or SIGTERM; raises :class:`DeviceError` if the link path is taken."""
    # Ctrl-C before the signal handler is installed raises here; the device is removed all the same.
    with contextlib.suppress(KeyboardInterrupt):
        trio.run(Replay(capture, options).run)


class Replay:
    """One replay run; :meth:`run` returns when SIGINT or SIGTERM arrives or its scope is cancelled."""

    def __init__(self, capture: Capture, options: ReplayOptions) -> None:
        self.options = options
        self.emulator = ModuleEmulator(options.emulator)
        self.playback = Playback(capture, speed=options.speed, loop=options.loop)
        self.device = PtyDevice(options.link)
        self.unplugs = 0
        self._unplug_at: float | None = None
        self._replug_at: float | None = None
        self._wait_scope = trio.CancelScope()
        self._started = False
        self._finished_logged = False
        self._loops_logged = 0

    async def run(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        """Plug the device, then serve until cancelled or signalled; ``task_status`` gets the pty's path."""
        start = trio.current_time()
        if self.options.unplug_after_s is not None:
            self._unplug_at = start + self.options.unplug_after_s
        name = self.device.plug()
        log.info("device ready", link=str(self.options.link), device=name, speed=self.options.speed)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._signals, nursery.cancel_scope)
                task_status.started(name)
                await self._serve()
        finally:
            self.device.unplug()
            log.info(
                "replay finished",
                seconds=round(trio.current_time() - start, 3),
                loops=self.playback.loops,
                unplugs=self.unplugs,
                **asdict(self.emulator.stats),
            )

    def request_unplug(self) -> None:
        """Unplug now (and plug in again after ``unplug_for_s``); ignored while unplugged."""
        if self.device.plugged:
            self._unplug_at = trio.current_time()
            self._wait_scope.cancel()

    async def _signals(self, scope: trio.CancelScope) -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGUSR1) as signals:
            async for signum in signals:
                if signum == signal.SIGUSR1:
                    self.request_unplug()
                else:
                    log.info("stopping", signal=signal.Signals(signum).name)
                    scope.cancel()
                    return

    async def _serve(self) -> None:
        while True:
            now = trio.current_time()
            self._plugging(now)
            self._attachment(now)
            if self.emulator.attached:
                data = self.device.read()
                if data is None:
                    self._detach("host closed the device")
                elif data:
                    self.emulator.receive_data(data, now)
            self.emulator.handle_timeout(now)
            self._play(now)
            output = self.emulator.data_to_send()
            if output and self.device.plugged:
                await self.device.write(output)
            self._log_events()
            await self._wait(now)

    def _plugging(self, now: float) -> None:
        if self._unplug_at is not None and now >= self._unplug_at and self.device.plugged:
            self._unplug_at = None
            self._detach("device unplugged")
            self.device.unplug()
            self.unplugs += 1
            self._replug_at = now + self.options.unplug_for_s
            log.info("device unplugged", link=str(self.options.link), back_in_s=self.options.unplug_for_s)
        if self._replug_at is not None and now >= self._replug_at:
            self._replug_at = None
            name = self.device.plug()
            log.info("device plugged in", link=str(self.options.link), device=name)

    def _attachment(self, now: float) -> None:
        attached = self.device.host_attached()
        if attached and not self.emulator.attached:
            log.info("host opened the device")
            self.emulator.attach(now)
        elif not attached and self.emulator.attached:
            self._detach("host closed the device")

    def _detach(self, reason: str) -> None:
        if self.emulator.attached:
            log.info(reason)
            self.emulator.detach()

    def _play(self, now: float) -> None:
        """Feed the due chunks; hold the capture while the module waits for ``#DGP 1``."""
        self._hold_or_run(now)
        while (chunk := self.playback.pop_due(now)) is not None:
            self.emulator.air_data(chunk, now)
            if self.emulator.waiting_for_radio:  # the capture's module rebooted
                break
        self._hold_or_run(now)
        if self.playback.loops > self._loops_logged:
            self._loops_logged = self.playback.loops
            log.info("capture starts over", loop=self.playback.loops)
        if self.playback.finished and not self._finished_logged:
            self._finished_logged = True
            log.info("capture finished; the module keeps answering", **asdict(self.emulator.stats))

    def _hold_or_run(self, now: float) -> None:
        self._log_events()  # what led here first: the radio switch, the boot
        if self.emulator.waiting_for_radio and self.playback.running:
            self.playback.pause(now)
            log.info("capture held until the host switches the radio on", position_s=self._position(now))
        elif not self.emulator.waiting_for_radio and not self.playback.running:
            self.playback.resume(now)
            log.info(
                "capture started" if not self._started else "capture resumed", position_s=self._position(now)
            )
            self._started = True

    def _position(self, now: float) -> float:
        return round(self.playback.position(now), 3)

    def _log_events(self) -> None:
        for event in self.emulator.events():
            if isinstance(event, Booted):
                log.info("module booted", reason=event.reason)
            elif isinstance(event, RadioSwitched):
                log.info("radio switched", on=event.on)
            elif isinstance(event, CommandAnswered):
                command = event.command
                if isinstance(command, Transmit):
                    log.info(
                        "host transmitted a frame",
                        type=command.frame_type,
                        dest=f"{command.dest:06X}" if command.dest else None,
                        ack=command.ack,
                        payload=command.payload.hex().upper(),
                        reply=event.reply.decode("ascii").strip(),
                    )
                else:
                    log.debug("command", line=event.line, reply=event.reply.decode("ascii").strip())

    async def _wait(self, now: float) -> None:
        deadlines = [
            deadline
            for deadline in (
                self.playback.next_due(),
                self.emulator.next_deadline(),
                self._unplug_at,
                self._replug_at,
            )
            if deadline is not None
        ]
        deadline = min(deadlines, default=math.inf)
        self._wait_scope = trio.CancelScope(deadline=deadline)
        with self._wait_scope:
            if self.emulator.attached:
                await self.device.wait_readable()
            else:
                await trio.sleep_until(min(deadline, now + ATTACH_POLL_S))
        await trio.lowlevel.checkpoint()
