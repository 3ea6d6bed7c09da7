"""An optional language model: any OpenAI-compatible chat-completions endpoint named by a bot's `model`.

Providers come from settings (`BOTPORTAL["LLM_PROVIDERS"]`, filled from the environment): a name, a
base URL and a key. A bot whose `model` is `"<provider>/<model name>"` (or just `"<provider>"`, which
uses the provider's default model) is answered by that provider; any other bot by the built-in engine.
"""

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

from django.conf import settings


class LLMError(Exception):
    pass


def providers() -> dict:
    return getattr(settings, "BOTPORTAL", {}).get("LLM_PROVIDERS") or {}


def provider_for(model: str) -> tuple[dict, str] | None:
    """(provider settings, model name) when `model` names a configured provider, else None."""
    if not model:
        return None
    name, _, model_name = model.partition("/")
    provider = providers().get(name)
    if not provider or not provider.get("base_url"):
        return None
    return provider, model_name or provider.get("model", "")


def build_messages(*, backstory: str, records, history, text: str) -> list[dict]:
    system = backstory.strip() or "You are a helpful assistant."
    if records:
        knowledge = "\n".join(f"- {r.text}" + (f" (source: {r.source})" if r.source else "") for r in records)
        system += "\n\nUse these records when they answer the question:\n" + knowledge
    messages = [{"role": "system", "content": system}]
    for kind, past in history:
        if past:
            messages.append({"role": "assistant" if kind == "bot" else "user", "content": past})
    messages.append({"role": "user", "content": text})
    return messages


def stream_chat(provider: dict, model: str, messages: list[dict]) -> Iterator[str]:
    """Yield the answer's tokens as the provider streams them (server-sent events)."""
    url = provider["base_url"].rstrip("/") + "/chat/completions"
    if not url.startswith(("https://", "http://")):
        raise LLMError("the provider's base URL must be an http(s) URL")
    body = json.dumps({"model": model, "messages": messages, "stream": True}).encode()
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            "Authorization": f"Bearer {provider.get('api_key', '')}",
        },
    )
    timeout = float(provider.get("timeout", 30))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            content_type = response.headers.get("Content-Type", "")
            if "text/event-stream" not in content_type:
                # A provider may ignore `stream`; a whole JSON answer is one token then.
                data = json.loads(response.read(1024 * 1024))
                yield data["choices"][0]["message"]["content"] or ""
                return
            for raw in response:
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    return
                event = json.loads(payload)
                for choice in event.get("choices", []):
                    token = (choice.get("delta") or {}).get("content")
                    if token:
                        yield token
    except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError) as error:
        raise LLMError(f"the language model provider failed: {error.__class__.__name__}") from error
