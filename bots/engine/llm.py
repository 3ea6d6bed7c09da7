"""An optional language model: any OpenAI-compatible chat-completions endpoint named by a bot's `model`.

Providers come from settings (`BOTPORTAL["LLM_PROVIDERS"]`, filled from the environment): a name, a
base URL and a key. A bot whose `model` is `"<provider>/<model name>"` (or just `"<provider>"`, which
uses the provider's default model) is answered by that provider; any other bot by the built-in engine.
"""

import json
from collections.abc import AsyncIterator

from django.conf import settings

from . import transport

MAX_JSON_BYTES = 1024 * 1024


class LLMError(Exception):
    pass


class LLMTimeout(LLMError):
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


def deadline_seconds(provider: dict) -> float:
    """The one deadline of a whole answer: connecting, the response headers and every token."""
    return float(provider.get("timeout") or getattr(settings, "BOTPORTAL", {}).get("LLM_TIMEOUT", 30))


async def astream_chat(provider: dict, model: str, messages: list[dict]) -> AsyncIterator[str]:
    """Yield the answer's tokens as the provider streams them (server-sent events), or raise LLMError.

    An answer that ends without the closing `[DONE]` event, a redirect, an HTTP error or a provider still
    talking at the deadline fail the answer: half an answer is not an answer.
    """
    url = provider["base_url"].rstrip("/") + "/chat/completions"
    if not url.startswith(("https://", "http://")):
        raise LLMError("the provider's base URL must be an http(s) URL")
    body = json.dumps({"model": model, "messages": messages, "stream": True}).encode()
    # The key goes only to the provider's own URL: redirects are never followed (transport).
    headers = {
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
        "Authorization": f"Bearer {provider.get('api_key', '')}",
    }
    deadline = transport.deadline_in(deadline_seconds(provider))
    try:
        async with transport.stream("POST", url, deadline=deadline, content=body, headers=headers) as response:
            if response.status_code != 200:
                raise LLMError(f"the language model provider answered HTTP {response.status_code}")
            if "text/event-stream" not in response.headers.get("Content-Type", ""):
                # A provider may ignore `stream`; a whole JSON answer is one token then.
                data = json.loads(await transport.read_until(response, deadline=deadline, max_bytes=MAX_JSON_BYTES))
                yield data["choices"][0]["message"]["content"] or ""
                return
            async for raw in transport.lines_until(response, deadline=deadline):
                line = raw.strip()
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
            raise LLMError("the language model provider ended its answer early")
    except transport.DeadlineExceeded as error:
        raise LLMTimeout(f"the language model provider did not answer in time: {error}") from error
    except (transport.TransportError, ValueError, KeyError, IndexError, TypeError, AttributeError) as error:
        raise LLMError(f"the language model provider failed: {error.__class__.__name__}: {error}") from error
