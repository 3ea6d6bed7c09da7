"""The JavaScript client tests (ChatBotKit's SDK, directlinejs, Web Chat) answer a missing client the same way."""

import pytest

from .conftest import client_missing


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_a_missing_client_fails_in_ci_and_skips_elsewhere(monkeypatch, ci, outcome):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome):
        client_missing("not installed")
