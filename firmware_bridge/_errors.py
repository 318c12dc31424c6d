"""The one exception this package raises."""


class BridgeError(Exception):
    """A command the module would reject, or one the connection cannot send in its current state.

    Raised by :class:`ModuleConnection`'s command methods and by :class:`InitSettings` — never by
    ``receive_data`` or ``handle_timeout``: whatever the module sends is reported as an event.
    ``field`` names the argument at fault (``"payload"``, ``"power_dbm"`` …) or ``"state"``.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
