"""The `openai` backend: any OpenAI-compatible chat-completions server (vLLM's own above all).

Requests go out concurrently, at most `max_concurrency` in flight, each with `timeout_s`. The
API key is read from the environment variable the recipe names, at load time, and is never
stored on the object (distilabel serializes its steps and logs their fields). Retries and
backoff are ChatLLM's, so every failure ends as a per-row reason rather than an exception.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from pydantic import PrivateAttr

from factory.errors import BackendError
from factory.recipe import LLMSettings
from factory.teachers.llm import Attempt, ChatLLM

#: The one short request that checks a server before a run (servers answer it in one token).
PROBE_MESSAGE = "Reply with OK."

#: Sent when the recipe's key variable is unset: servers started without --api-key ignore it,
#: and the client library refuses an empty key.
NO_KEY = "no-key"


class OpenAITeacher(ChatLLM):
    """Chat completions from an OpenAI-compatible server.

    Attributes:
        base_url: the server's API root, e.g. http://127.0.0.1:8000/v1.
        api_key_env: environment variable holding the key.
        timeout_s: per-request timeout.
        max_concurrency: requests in flight.
    """

    backend: str = "openai"
    base_url: str
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = 120.0
    max_concurrency: int = 8

    _api_key: str | None = PrivateAttr(None)

    def load(self) -> None:
        super().load()
        self._api_key = os.environ.get(self.api_key_env) or NO_KEY

    def _complete(self, chats: list[list[dict[str, str]]], seeds: list[int]) -> list[Attempt]:
        return asyncio.run(self._complete_all(chats, seeds))

    async def _complete_all(
        self, chats: list[list[dict[str, str]]], seeds: list[int]
    ) -> list[Attempt]:
        import openai

        # One client per attempt: its connection pool belongs to this event loop. The library's
        # own retries are off; ChatLLM retries with the row's next seed.
        client = openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=self._api_key,
            timeout=self.timeout_s,
            max_retries=0,
        )
        limit = asyncio.Semaphore(self.max_concurrency)

        async def one(chat: list[dict[str, str]], seed: int) -> Attempt:
            async with limit:
                try:
                    response = await client.chat.completions.create(
                        model=self.model,
                        messages=chat,  # type: ignore[arg-type]
                        temperature=self.temperature,
                        top_p=self.top_p,
                        max_tokens=self.max_new_tokens,
                        seed=seed,
                        stop=self.stop or None,
                    )
                except Exception as err:
                    return err
                return _message_text(response)

        try:
            pairs = zip(chats, seeds, strict=True)
            return list(await asyncio.gather(*(one(chat, seed) for chat, seed in pairs)))
        finally:
            await client.close()


def _message_text(response: Any) -> Attempt:
    """The first choice's text, or why there is none."""
    choices = getattr(response, "choices", None) or []
    if not choices:
        return ValueError("the server returned no choices")
    content = getattr(choices[0].message, "content", None)
    if content is None:
        return ValueError("the server returned no message content")
    return str(content)


def probe(settings: LLMSettings, field: str) -> None:
    """Sends one short chat request to the server a teacher or judge section names.

    Args:
        settings: the section (its base_url, model, api_key_env and timeout_s).
        field: the section's path in the recipe ("teacher", "filters.judge"), for the message.

    Raises:
        BackendError: the server is unreachable or too slow, refuses the key, has no such
            model, or fails the request; one line says which and what to change.
    """
    import openai

    url, model = settings.base_url, settings.model
    client = openai.OpenAI(
        base_url=url,
        api_key=os.environ.get(settings.api_key_env) or NO_KEY,
        timeout=settings.timeout_s,
        max_retries=0,
    )
    try:
        client.chat.completions.create(
            model=str(model),
            messages=[{"role": "user", "content": PROBE_MESSAGE}],
            max_tokens=1,
            temperature=0.0,
        )
    except openai.APITimeoutError:
        raise BackendError(
            f"{field}: the server at {url} did not answer a one-token request within "
            f"{settings.timeout_s:g} s: check that it is up and not overloaded, or raise "
            f"{field}.timeout_s"
        ) from None
    except openai.APIConnectionError as err:
        cause = describe_cause(err)
        raise BackendError(
            f"{field}: cannot reach the server at {url} ({cause}): start it, or set "
            f"{field}.base_url (or --base-url) to the address it listens on"
        ) from None
    except (openai.AuthenticationError, openai.PermissionDeniedError) as err:
        key = settings.api_key_env
        state = "is set" if os.environ.get(key) else "is not set"
        raise BackendError(
            f"{field}: the server at {url} refused the API key (HTTP {err.status_code}); "
            f"${key} {state}: export the key this server accepts in {key}, or name another "
            f"variable in {field}.api_key_env"
        ) from None
    except openai.NotFoundError:
        served = _served_models(client)
        if served is not None and model not in served:
            raise BackendError(
                f"{field}: the server at {url} has no model {model!r} (it serves "
                f"{', '.join(map(repr, served)) or 'none'}): set {field}.model (or --model) "
                "to one of them"
            ) from None
        raise BackendError(
            f"{field}: {url}/chat/completions was not found (HTTP 404): {field}.base_url "
            "must be the API root of an OpenAI-compatible server, usually ending in /v1"
        ) from None
    except openai.APIStatusError as err:
        raise BackendError(
            f"{field}: the server at {url} failed a one-token request for model {model!r} "
            f"(HTTP {err.status_code}: {describe_cause(err)}); check {field}.model and the "
            "server's log"
        ) from None
    finally:
        client.close()


def describe_cause(error: BaseException) -> str:
    """The innermost cause of a client error, in a few words ("connection refused")."""
    while error.__cause__ is not None:
        error = error.__cause__
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if "refused" in text.lower():
        return "connection refused"
    return text[:200]


def _served_models(client: Any) -> list[str] | None:
    """The model ids the server lists, or None when it lists none (GET /models)."""
    try:
        return sorted(model.id for model in client.models.list())
    except Exception:  # an optional hint: a server without /models still gets a clear error
        return None
