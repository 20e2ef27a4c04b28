"""An offline TL;DR: the contribution sentence plus, if any, the headline-result sentence."""
from __future__ import annotations

import bisect
import re

MAX_CHARS = 300
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[])")
# Matched against the lower-cased abstract. Leading literals (no \b, no IGNORECASE) let
# the regex engine skip ahead quickly: summaries are computed for every harvested paper.
_CONTRIBUTION = re.compile(
    r"(?:we|this (?:paper|work|article|letter)|our (?:method|approach|framework))\b"
    r"[^.!?]{0,40}?\b(?:propose|present|introduce|develop|design|describe|show|study|investigate|explore)"
)
_RESULTS = (
    re.compile(r"\d[\d.]*\s*(?:%|x\b|×|times|fold)"),
    re.compile(r"state[- ]of[- ]the[- ]art|outperform|speed-?up|without (?:any )?loss"),
)


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(" ".join((text or "").split())) if s]


def summarize(abstract: str, limit: int = MAX_CHARS) -> str:
    """1-2 sentences, at most `limit` characters, taken verbatim from the abstract.

    The first sentence that states the contribution ("we propose", "this paper presents")
    or else the first sentence, followed by the next sentence with a headline result
    (a number with %, x or times; "state-of-the-art"; "outperforms") when both fit.
    """
    text = " ".join((abstract or "").split())
    parts = [s for s in _SENTENCE_END.split(text) if s]
    if not parts:
        return ""
    starts, pos = [], 0
    for part in parts:  # offsets of each sentence in `text` (separators are single spaces)
        starts.append(pos)
        pos += len(part) + 1
    lower = text.lower()
    m = _CONTRIBUTION.search(lower)
    i = bisect.bisect_right(starts, m.start()) - 1 if m else 0
    chosen = parts[i]
    after = starts[i] + len(parts[i])
    found = [m.start() for m in (p.search(lower, after) for p in _RESULTS) if m]
    if found:
        j = bisect.bisect_right(starts, min(found)) - 1
        if len(chosen) + 1 + len(parts[j]) <= limit:
            chosen = f"{chosen} {parts[j]}"
    if len(chosen) > limit:
        chosen = chosen[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return chosen
