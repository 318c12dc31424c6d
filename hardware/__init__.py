"""Hardware in the loop: serial captures, replay over a pty, the module emulator and the simulator.

Built in the gateway issue.
"""
