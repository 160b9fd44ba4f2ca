"""What a user is told when a request fails, and what the server's log keeps.

In: an exception and the page's language. Out: one short sentence (``render.error_message``); the full error
goes to the log.
"""

from __future__ import annotations

import logging

from rag.errors import RagError

from .render import error_message

log = logging.getLogger("ui.app")


def user_error(exc: BaseException, lang: str = "zh") -> str:
    """Log ``exc`` for the server's operator (in full, with the traceback, when it is not a project error)
    and return the short sentence the user sees instead of it."""
    if isinstance(exc, RagError):
        log.warning("%s: %s", type(exc).__name__, exc)
    else:
        log.error("unexpected error while serving a request", exc_info=exc)
    return error_message(exc, lang)
