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

from factory.teachers.llm import Attempt, ChatLLM

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
