"""Fair admission to answering (rag/admission.py), with real threads. Orders are asserted through events,
never through timings: who is admitted while whom is still working."""

from __future__ import annotations

import threading

import pytest

from rag.admission import FairGate
from rag.errors import ServerBusyError


class Worker:
    """One request on its own thread: waits for a slot, records its admission, works until released."""

    def __init__(self, gate: FairGate, user: str, heavy: bool, log: list, lock: threading.Lock):
        self.name = f"{user}{'-heavy' if heavy else ''}"
        self.admitted = threading.Event()
        self.release = threading.Event()
        self.error: BaseException | None = None

        def run():
            try:
                with gate.admit(user, heavy):
                    with lock:
                        log.append(self.name)
                    self.admitted.set()
                    self.release.wait(10)
            except BaseException as exc:  # noqa: BLE001 -- handed to the test
                self.error = exc
                self.admitted.set()

        self.thread = threading.Thread(target=run, daemon=True)

    def start(self) -> "Worker":
        self.thread.start()
        return self

    def finish(self) -> None:
        self.release.set()
        self.thread.join(5)


def start_waiting(gate: FairGate, specs, log, lock) -> list[Worker]:
    """Start requests one after the other, each once it is admitted or known to be waiting."""
    workers = []
    for user, heavy in specs:
        before = len(gate._waiting)
        w = Worker(gate, user, heavy, log, lock).start()
        while not w.admitted.is_set() and len(gate._waiting) == before:
            w.admitted.wait(0.005)
        workers.append(w)
    return workers


def test_one_user_holds_one_slot_and_another_user_is_not_queued_behind_their_burst():
    """A user's burst of questions filled every slot of a first-come queue; everyone else waited for all of it."""
    gate, log, lock = FairGate(slots=2, per_user=1), [], threading.Lock()
    burst = start_waiting(gate, [("a", False)] * 5, log, lock)
    assert log == ["a"]  # the other four wait although a slot is free
    other = start_waiting(gate, [("b", False)], log, lock)[0]
    assert other.admitted.is_set() and log == ["a", "b"]
    other.finish()
    burst[0].finish()
    burst[1].admitted.wait(2)
    assert log == ["a", "b", "a"]
    for w in burst:
        w.finish()
    assert log.count("a") == 5 and gate.running == 0 and not gate._waiting


def test_long_questions_share_one_slot_so_a_short_question_always_finds_one():
    """Three 2,000-character questions at once made a normal question wait for all three."""
    gate, log, lock = FairGate(slots=2, heavy_slots=1), [], threading.Lock()
    heavy = start_waiting(gate, [("a", True), ("b", True), ("c", True)], log, lock)
    assert log == ["a-heavy"]
    short = start_waiting(gate, [("d", False)], log, lock)[0]
    assert short.admitted.is_set() and log == ["a-heavy", "d"]
    for w in [short, *heavy]:
        w.finish()
    assert sorted(log) == ["a-heavy", "b-heavy", "c-heavy", "d"]


def test_the_least_served_user_goes_first():
    """Fair queueing: a user with a backlog does not keep the slot; newcomers are served level with them."""
    gate, log, lock = FairGate(slots=1, per_user=1), [], threading.Lock()
    first = start_waiting(gate, [("a", False)], log, lock)[0]
    # while a's first answer runs, a queues two more, then b and c arrive (both start level with a: served once)
    rest = start_waiting(gate, [("a", False), ("a", False), ("b", False), ("c", False)], log, lock)
    first.finish()
    for _ in rest:  # release whoever holds the slot, one at a time
        current = None
        while current is None:
            current = next((w for w in rest if w.admitted.is_set() and not w.release.is_set()), None)
        current.finish()
    assert log == ["a", "a", "b", "c", "a"]  # a's third waits until b and c have had theirs


def test_a_question_that_cannot_start_within_the_budget_is_told_the_server_is_busy():
    gate, log, lock = FairGate(slots=1, wait_budget_s=0.2), [], threading.Lock()
    holder = start_waiting(gate, [("a", False)], log, lock)[0]
    with pytest.raises(ServerBusyError):
        with gate.admit("b"):
            pass
    assert not gate._waiting and "b" not in gate._served  # a refused request leaves nothing behind
    holder.finish()
    with gate.admit("b"):
        assert gate.running == 1


def test_a_failing_answer_gives_its_slot_back():
    gate = FairGate(slots=1)
    with pytest.raises(KeyError):
        with gate.admit("a"):
            raise KeyError("boom")
    assert gate.running == 0
    with gate.admit("a"):
        pass


def test_gate_settings_are_checked():
    from rag.config import load_settings

    with pytest.raises(ValueError):
        FairGate(slots=0)
    for name in ("heavy_slots", "per_user_slots", "answer_wait_budget_s", "heavy_question_chars"):
        with pytest.raises(Exception, match=name):
            load_settings(overrides={f"server.{name}": 0})
