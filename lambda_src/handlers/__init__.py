"""Thin Lambda entry points: parse the event, call the domain, shape the response.

Lambda imports one of these modules once per execution environment, and nearly all that the
import creates (the libraries, the clients, the models) lives as long as the environment. The
cycle collector, run every few hundred allocations, would only traverse it again and again while
it grows: where Lambda runs the module (LAMBDA_TASK_ROOT is set, as the local runner sets it too),
it is paused for the import, and the module's last line, `init_done()`, moves everything made so
far out of its reach for good (gc.freeze: the few cycles init leaves as garbage stay) and resumes it.
"""

import gc
import os

_PAUSED_FOR_INIT = bool(os.environ.get("LAMBDA_TASK_ROOT")) and gc.isenabled()
if _PAUSED_FOR_INIT:
    gc.disable()


def init_done() -> None:
    """The end of a handler module's init: what it made is frozen, and collection resumes."""
    if _PAUSED_FOR_INIT and not gc.isenabled():
        gc.freeze()
        gc.enable()
