"""``python -m fanet`` is the same as the ``fanet`` command."""

from fanet.main import main

main()
