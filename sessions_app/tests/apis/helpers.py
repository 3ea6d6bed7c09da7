import json

from rest_framework.test import APIClient

PREFIXES = ["/api/v1", "/v1"]


def token_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def post(client, path: str, body=None, **extra):
    return client.post(path, body if body is not None else {}, format="json", **extra)


def open_session(client, bot, body=None, prefix="/api/v1") -> dict:
    response = post(client, f"{prefix}/bot/{bot.pk}/session/create", body or {})
    assert response.status_code == 200, response.content
    return response.json()


def jsonl_events(response) -> list[dict]:
    raw = (b"".join(response) if response.streaming else response.content).decode()
    return [json.loads(line) for line in raw.splitlines() if line.strip()]


def assert_error(response, status: int, code: str, contains: str = ""):
    assert response.status_code == status, response.content
    assert response["Content-Type"].split(";")[0] == "application/json"
    body = response.json()
    assert set(body) == {"message", "code"}, body
    assert body["code"] == code
    assert contains in body["message"], body["message"]
    return body


def scripted_turn_run(stream):
    """An engine.TurnRun stand-in answering every turn with the last piece of `stream(turn)` (an
    EngineReply), without the network: to check how the protocols render any kind of reply."""

    class ScriptedRun:
        pending = None
        streamed = False

        def __init__(self, turn):
            self.turn, self.reply, self.intents, self.entities = turn, None, [], []

        def advance(self, result=None):
            self.reply = list(stream(self.turn))[-1]
            self.intents, self.entities = self.reply.intents, self.reply.entities
            return self

    return ScriptedRun
