"""The base-station gateway: a FANET module on a serial port in, wrapped frames on MQTT out.

``fanet gateway`` (``commands``) runs ``app.Gateway``: the module link (``module``, ``serial_link``,
``beacon``) feeds every received frame into an on-disk spool (``spool``, ``spooler``), from which the
publisher (``publisher``) publishes in order with the Trio MQTT client (``mqtt``); ``health``,
``metrics`` and ``systemd`` (sd_notify: readiness, watchdog) report. The server reuses ``mqtt`` and the serial path (``module.run_module``).
The README beside this file explains how to run it and what it guarantees.
"""
