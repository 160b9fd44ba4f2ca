"""Fair admission to answering: who may start answering now, when more questions wait than there are slots.

In: each request says who asks (a user or browser session) and whether its question is heavy (long).
Out: a slot, held for the answer's work (``with gate.admit(user, heavy):``), or ``ServerBusyError`` when
none comes within the wait budget.

Why not one FIFO queue: a user who sends many questions at once, or many long ones, would fill every slot
and everyone behind would wait for all of them. Here
- one user holds at most ``per_user`` slots, so the other slots stay open to everybody else;
- long questions hold at most ``heavy_slots`` slots together, so a short question always finds a slot
  that no long question can take;
- among those waiting, the user served least so far goes first (arrival order breaks ties); a user who
  arrives new starts level with the least-served active user, so waiting longer never pays off later.
No web framework here: the chat server wraps each answering request in ``admit``.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .errors import ServerBusyError


@dataclass
class _Ticket:
    user: str
    heavy: bool
    seq: int


class FairGate:
    """At most ``slots`` requests answer at once; see the module docstring for who goes first."""

    def __init__(self, slots: int, heavy_slots: int = 1, per_user: int = 1, wait_budget_s: float = 30.0):
        if slots < 1 or heavy_slots < 1 or per_user < 1:
            raise ValueError("slots, heavy_slots and per_user must be >= 1")
        self.slots = slots
        self.heavy_slots = min(heavy_slots, slots)
        self.per_user = per_user
        self.wait_budget_s = wait_budget_s
        self._cond = threading.Condition()
        self._waiting: list[_Ticket] = []
        self._running: dict[str, int] = {}
        self._running_heavy = 0
        self._served: dict[str, int] = {}  # admissions so far, for users with a request running or waiting
        self._seq = itertools.count()

    @property
    def running(self) -> int:
        with self._cond:
            return sum(self._running.values())

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot now."""
        with self._cond:
            return len(self._waiting)

    def _eligible(self, t: _Ticket) -> bool:
        if sum(self._running.values()) >= self.slots:
            return False
        if self._running.get(t.user, 0) >= self.per_user:
            return False
        return not (t.heavy and self._running_heavy >= self.heavy_slots)

    def _next(self) -> _Ticket | None:
        eligible = [t for t in self._waiting if self._eligible(t)]
        return min(eligible, key=lambda t: (self._served[t.user], t.seq), default=None)

    def _forget_if_idle(self, user: str) -> None:
        if not self._running.get(user) and not any(t.user == user for t in self._waiting):
            self._running.pop(user, None)
            self._served.pop(user, None)

    @contextmanager
    def admit(self, user: str, heavy: bool = False) -> Iterator[None]:
        """Hold an answering slot for the body. Raises ServerBusyError after ``wait_budget_s`` of waiting."""
        deadline = time.monotonic() + self.wait_budget_s
        with self._cond:
            if user not in self._served:
                self._served[user] = min(self._served.values(), default=0)
            ticket = _Ticket(user, heavy, next(self._seq))
            self._waiting.append(ticket)
            while self._next() is not ticket:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._waiting.remove(ticket)
                    self._forget_if_idle(user)
                    self._cond.notify_all()  # this ticket may have been the one blocking another's turn
                    raise ServerBusyError(f"no answering slot within {self.wait_budget_s:g} s")
                self._cond.wait(remaining)
            self._waiting.remove(ticket)
            self._running[user] = self._running.get(user, 0) + 1
            self._running_heavy += heavy
            self._served[user] += 1
        try:
            yield
        finally:
            with self._cond:
                self._running[user] -= 1
                self._running_heavy -= heavy
                self._forget_if_idle(user)
                self._cond.notify_all()
