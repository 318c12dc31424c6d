"""The base-station gateway: a FANET module on a serial port in, wrapped frames on MQTT out.

Built in the gateway issue; this package holds the edge process (serial link, module session, MQTT
publisher, disk spool).
"""
