"""A language model for the tests, registered the way an llm plugin registers one (the
`register_models` hook), in-process: it answers a draft prompt from the paper's title
and abstract in the prompt, and records every prompt it gets."""

from __future__ import annotations

import re

import llm
import pytest
from llm.plugins import pm

MODEL_ID = "papertrack-fake"


class FakeModel(llm.Model):
    model_id = MODEL_ID
    can_stream = False

    def __init__(self) -> None:
        self.prompts: list[str] = []
        self.answer: str | None = None  # a fixed answer instead of the made-up one
        self.fail_on: str | None = None  # a paper title that makes it fail

    def execute(self, prompt, stream, response, conversation):
        text = prompt.prompt
        self.prompts.append(text)
        title = _field(text, "Title")
        if self.fail_on and self.fail_on in title:
            raise llm.ModelError("quota exceeded for this key")
        if self.answer is not None:
            yield self.answer
            return
        first = _field(text, "Abstract").split(". ")[0]
        if "用中文" in text or "中文标题" in text:
            yield f"**headline:** {title.split(':')[0]}：一种更小更快的网络\nsummary：本文提出 {first}。\n在 ImageNet 上更快。"
        else:
            yield f"headline: {title.split(':')[0]}: smaller and faster\nsummary: {first}."


def _field(text: str, name: str) -> str:
    m = re.search(rf"^{name}: (.*)$", text, re.MULTILINE)
    return m.group(1) if m else ""


class _Plugin:
    __name__ = "PapertrackFakeModels"

    def __init__(self, model: FakeModel):
        self.model = model

    @llm.hookimpl
    def register_models(self, register):
        register(self.model)


@pytest.fixture
def fake_model():
    """The fake model, registered with llm for the test's duration."""
    model = FakeModel()
    pm.register(_Plugin(model), name="papertrack-fake-models")
    try:
        yield model
    finally:
        pm.unregister(name="papertrack-fake-models")
