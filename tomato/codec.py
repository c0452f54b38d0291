"""The codec of the service's own wire: tomato's, the drivers' and the runtime's messages.
(Clients use the lighter one in `_client`.)"""

from __future__ import annotations

from tomato.actors import Codec
from tomato.drivers.errors import ERRORS as DRIVER_ERRORS
from tomato.drivers.messages import MESSAGES as DRIVER_MESSAGES

from .childconfig import CONFIGS
from .errors import ERRORS
from .messages import MESSAGES
from .processmessages import PROCESS_MESSAGES

CODEC = Codec((*MESSAGES, *PROCESS_MESSAGES, *CONFIGS, *DRIVER_MESSAGES),
              (*ERRORS, *DRIVER_ERRORS))
