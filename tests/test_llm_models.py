"""The helper models' server clients (verifier, translator): a server that fails is left alone for a while."""

from __future__ import annotations

import pytest

from rag.config import LLMSettings
from rag.llm_models import PAUSE_S, ServerPause, ServerPaused


def test_a_pause_refuses_calls_until_it_ends():
    now = [100.0]
    pause = ServerPause(seconds=60, clock=lambda: now[0])
    assert pause.call(lambda: "fine") == "fine"

    def down():
        raise ConnectionError("refused")

    with pytest.raises(ConnectionError):
        pause.call(down)
    with pytest.raises(ServerPaused):
        pause.call(lambda: "fine")
    now[0] += 61
    assert pause.call(lambda: "fine") == "fine"


def _verifier(clock):
    from rag.answer.verify import ChatVerifier

    verifier = ChatVerifier(LLMSettings(base_url="http://127.0.0.1:9/v1", timeout=1), clock=clock)
    return verifier, lambda n: _judgement(verifier, n)


def _judgement(verifier, n: int) -> str:
    from rag.answer.verify import VerifierError

    with pytest.raises(VerifierError):
        verifier.judge(f"问题{n}", "文段")
    return ""


def _translator(clock):
    from rag.translate import ChatTranslator, translation

    translator = ChatTranslator(LLMSettings(base_url="http://127.0.0.1:9/v1", timeout=60), clock=clock)
    return translator, lambda n: translation(translator, f"How many households, question {n}?")


@pytest.mark.parametrize("client", [_verifier, _translator], ids=["verifier", "translator"])
def test_a_server_that_fails_is_not_asked_again_for_a_while(client):
    """Each question would otherwise wait out the server's timeout; a failure gives no judgement or
    translation (the gate decides alone, the dictionary translates), never an error to the user."""
    now = [100.0]
    built, ask = client(lambda: now[0])
    calls = []

    class Down:
        def invoke(self, messages):
            calls.append(messages)
            raise ConnectionError("refused")

    built._model = Down()
    for n in range(3):
        assert ask(n) == ""
    assert len(calls) == 1
    now[0] += PAUSE_S + 1
    assert ask(3) == ""
    assert len(calls) == 2
