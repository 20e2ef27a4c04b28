"""An offline TL;DR: the contribution sentence plus, if any, the headline-result sentence."""
from __future__ import annotations

import bisect
import re

MAX_CHARS = 300
# End of a sentence: punctuation, space, then what starts a sentence. `end()` is where the
# next sentence begins. Matched against text whose whitespace is already collapsed.
_BOUNDARY = re.compile(r"[.!?] (?=[A-Z(\[])")
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
    """The sentences of `text` (whitespace collapsed)."""
    text = " ".join((text or "").split())
    starts = [0, *(m.end() for m in _BOUNDARY.finditer(text))]
    return [text[a:b].strip() for a, b in zip(starts, [*starts[1:], len(text)]) if text[a:b].strip()]


def summarize(abstract: str, limit: int = MAX_CHARS) -> str:
    """1-2 sentences, at most `limit` characters, taken verbatim from the abstract.

    The first sentence that states the contribution ("we propose", "this paper presents")
    or else the first sentence, followed by the next sentence with a headline result
    (a number with %, x or times; "state-of-the-art"; "outperforms") when both fit.
    """
    text = abstract or ""
    if "\n" in text or "  " in text or text[:1].isspace() or text[-1:].isspace():
        text = " ".join(text.split())
    if not text:
        return ""
    starts = [0, *(m.end() for m in _BOUNDARY.finditer(text))]
    ends = [*starts[1:], len(text)]
    lower = text.lower()
    m = _CONTRIBUTION.search(lower)
    i = bisect.bisect_right(starts, m.start()) - 1 if m else 0
    chosen = text[starts[i] : ends[i]].rstrip()
    found = [r.start() for r in (p.search(lower, ends[i]) for p in _RESULTS) if r]
    if found:
        j = bisect.bisect_right(starts, min(found)) - 1
        result = text[starts[j] : ends[j]].rstrip()
        if len(chosen) + 1 + len(result) <= limit:
            chosen = f"{chosen} {result}"
    if len(chosen) > limit:
        chosen = chosen[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return chosen
