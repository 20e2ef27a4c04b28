"""An offline TL;DR: the contribution sentence plus, if any, the headline-result sentence."""
from __future__ import annotations

import re

MAX_CHARS = 300
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[])")
_CONTRIBUTION = re.compile(
    r"\b(we|this (paper|work|article|letter)|in this (paper|work)|our (method|approach|framework))\b"
    r".{0,40}?\b(propose|present|introduce|develop|design|describe|show|study|investigate|explore)",
    re.IGNORECASE,
)
_RESULT = re.compile(
    r"(\d+(\.\d+)?\s*(%|x|×|times|fold)|\bstate[- ]of[- ]the[- ]art\b|\boutperform|\bspeed-?up|\bwithout (any )?loss)",
    re.IGNORECASE,
)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(" ".join((text or "").split())) if s.strip()]


def summarize(abstract: str, limit: int = MAX_CHARS) -> str:
    """1-2 sentences, at most `limit` characters, taken verbatim from the abstract."""
    parts = sentences(abstract)
    if not parts:
        return ""
    contribution = next((s for s in parts if _CONTRIBUTION.search(s)), parts[0])
    chosen = [contribution]
    result = next((s for s in parts[parts.index(contribution) + 1 :] if _RESULT.search(s)), None)
    if result and len(contribution) + 1 + len(result) <= limit:
        chosen.append(result)
    text = " ".join(chosen)
    if len(text) > limit:
        cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
        text = cut + "…"
    return text
