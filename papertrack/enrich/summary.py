"""An offline TL;DR: the contribution sentence plus, if any, the headline-result sentence."""
from __future__ import annotations

import bisect
import re

MAX_CHARS = 300
# End of a sentence: punctuation, space, then what starts a sentence. `end()` is where the
# next sentence begins. Matched against text whose whitespace is already collapsed.
_BOUNDARY = re.compile(r"[.!?] (?=[A-Z(\[])")

# Contribution markers, strongest first, each matched against the lower-cased abstract.
# Every pattern starts with a literal so that the regex engine can skip ahead quickly:
# summaries are computed for every harvested paper.
_STRONG_VERBS = r"(?:propose|present|introduce|develop|design|devise|put forth|describe)"
# Within a tier the earliest match wins.
_CONTRIBUTION = (
    (
        re.compile(r"we (?:\w+ ){0,3}?" + _STRONG_VERBS),
        re.compile(r"this (?:paper|work|letter|article|note|study)s? (?:\w+ ){0,2}?" + _STRONG_VERBS),
        re.compile(r"our (?:paper|work|method|approach|framework)s? (?:\w+ ){0,2}?" + _STRONG_VERBS),
    ),
    (
        re.compile(r"in this (?:paper|work|letter|article|note|study)\b"),
        re.compile(r"this (?:paper|work|letter|article|note|study)\b"),
    ),
    (
        re.compile(r"we (?:\w+ ){0,2}?(?:show|study|investigate|explore|extend|tackle|address|formulate|demonstrate"
                   r"|provide|analy[sz]e|report|derive|prove|establish|offer|build|construct|consider|focus)"),
    ),
)
# A headline result: a number with a unit of improvement, or the words papers use for one.
_NUMBER = re.compile(r"[0-9][0-9.,]*\s*(?:%|x\b|×|times\b|fold\b|-fold\b)")
_CLAIM = re.compile(r"state[- ]of[- ]the[- ]art|outperform|speed-?up|without (?:any |significant |much )?(?:loss|degradation|drop)")
_CLAIM_WORDS = ("state", "outperform", "speed", "without")  # one of them is in any claim: cheap test first
_SUPPORT = re.compile(r"achiev|reduc|improv|faster|fewer|smaller|less\b|compress|accelerat")  # counts next to a number


def sentences(text: str) -> list[str]:
    """The sentences of `text` (whitespace collapsed)."""
    text = " ".join((text or "").split())
    starts = [0, *(m.end() for m in _BOUNDARY.finditer(text))]
    return [text[a:b].strip() for a, b in zip(starts, [*starts[1:], len(text)]) if text[a:b].strip()]


def summarize(abstract: str, limit: int = MAX_CHARS) -> str:
    """1-2 sentences, at most `limit` characters, taken verbatim from the abstract.

    The contribution sentence: the first that says "we propose/present/introduce ...", else
    the first starting "In this paper ..."/"This work ...", else the first "we show/study ...",
    else the first sentence. Then, when both fit, the later sentence that best states a
    result: a number with %, x, times or fold (alone or with "reduces", "achieves", ...),
    or a claim (outperforms, state-of-the-art, without loss); earliest of the best.
    """
    text = abstract or ""
    if "\n" in text or "  " in text or text[:1].isspace() or text[-1:].isspace():
        text = " ".join(text.split())
    if not text:
        return ""
    starts = [0, *(m.end() for m in _BOUNDARY.finditer(text))]
    ends = [*starts[1:], len(text)]
    lower = text.lower()
    i = 0
    for tier in _CONTRIBUTION:
        found = [m.start() for m in (p.search(lower) for p in tier) if m]
        if found:
            i = bisect.bisect_right(starts, min(found)) - 1
            break
    chosen = text[starts[i] : ends[i]].rstrip()
    j = _result_sentence(lower, starts, ends[i])
    if j is not None:
        result = text[starts[j] : ends[j]].rstrip()
        if len(chosen) + 1 + len(result) <= limit:
            chosen = f"{chosen} {result}"
    if len(chosen) > limit:
        chosen = chosen[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return chosen


def _result_sentence(lower: str, starts: list[int], after: int) -> int | None:
    """Index of the best result sentence starting at or after offset `after` (earliest wins ties)."""
    def hits(pattern: re.Pattern) -> set[int]:
        return {bisect.bisect_right(starts, m.start()) - 1 for m in pattern.finditer(lower, after)}

    numbers = hits(_NUMBER)
    claims = hits(_CLAIM) if any(lower.find(w, after) >= 0 for w in _CLAIM_WORDS) else set()
    if not numbers and not claims:
        return None
    ends = [*starts[1:], len(lower)]
    scores = {
        k: 2 * (k in numbers) + (k in claims) + (k in numbers and bool(_SUPPORT.search(lower, starts[k], ends[k])))
        for k in numbers | claims
    }
    return max(sorted(scores), key=lambda k: scores[k])
