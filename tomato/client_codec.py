"""The codec of the service's clients (ketchup, passata, the web process): the client
messages and every error; not the drivers' messages, so a command starts without importing
them. (The service's own wire: `codec`.)"""

from __future__ import annotations

from tomato.actors import Codec
from tomato.drivers.errors import ERRORS as DRIVER_ERRORS

from .errors import ERRORS
from .messages import CLIENT_MESSAGES

CLIENT_CODEC = Codec(CLIENT_MESSAGES, (*ERRORS, *DRIVER_ERRORS))


def component_codec() -> Codec:
    """The client's codec and the drivers' messages: what component requests exchange."""
    from tomato.drivers.messages import MESSAGES as DRIVER_MESSAGES

    return Codec((*CLIENT_MESSAGES, *DRIVER_MESSAGES), (*ERRORS, *DRIVER_ERRORS))
