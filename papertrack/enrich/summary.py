"""An offline TL;DR: the contribution sentence plus, if any, the headline-result sentence."""

from __future__ import annotations

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
        re.compile(
            r"we (?:\w+ ){0,2}?(?:show|study|investigate|explore|extend|tackle|address|formulate|demonstrate"
            r"|provide|analy[sz]e|report|derive|prove|establish|offer|build|construct|consider|focus)"
        ),
    ),
)
# A headline result: a number with a unit of improvement, or the words papers use for one.
_NUMBER = re.compile(r"[0-9][0-9.,]*\s*(?:%|x\b|×|times\b|fold\b|-fold\b)")
_CLAIM = re.compile(
    r"state[- ]of[- ]the[- ]art|outperform|speed-?up|without (?:any |significant |much )?(?:loss|degradation|drop)"
)
_CLAIM_WORDS = ("state", "outperform", "speed", "without")  # one of them is in any claim: cheap test first
_SUPPORT = re.compile(r"achiev|reduc|improv|faster|fewer|smaller|less\b|compress|accelerat")  # counts next to a number


def sentences(text: str) -> list[str]:
    """The sentences of `text` (whitespace collapsed)."""
    text = " ".join((text or "").split())
    starts = [0, *(m.end() for m in _BOUNDARY.finditer(text))]
    return [text[a:b].strip() for a, b in zip(starts, [*starts[1:], len(text)]) if text[a:b].strip()]


def summarize(abstract: str, limit: int = MAX_CHARS, collapsed: bool = False) -> str:
    """1-2 sentences, at most `limit` characters, taken verbatim from the abstract.

    The contribution sentence: the first that says "we propose/present/introduce ...", else
    the first starting "In this paper ..."/"This work ...", else the first "we show/study ...",
    else the first sentence. Then, when both fit, the later sentence that best states a
    result: a number with %, x, times or fold (alone or with "reduces", "achieves", ...),
    or a claim (outperforms, state-of-the-art, without loss); earliest of the best.
    Sentence boundaries are looked up only around these matches: this runs on every paper.
    `collapsed` says the whitespace is collapsed already (as in `Paper.abstract`); only a
    line break is still looked for, which costs little.
    """
    text = abstract or ""
    if "\n" in text or (not collapsed and ("  " in text or text[:1].isspace() or text[-1:].isspace())):
        text = " ".join(text.split())
    if not text:
        return ""
    lower = text.lower()
    at = 0
    for tier in _CONTRIBUTION:
        found = [m.start() for m in (p.search(lower) for p in tier) if m]
        if found:
            at = min(found)
            break
    start, end = _sentence_start(text, at), _sentence_end(text, at)
    chosen = text[start:end].rstrip()
    result = _result_sentence(text, lower, end)
    if result is not None:
        extra = text[result[0] : result[1]].rstrip()
        if len(chosen) + 1 + len(extra) <= limit:
            chosen = f"{chosen} {extra}"
    if len(chosen) > limit:
        chosen = chosen[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return chosen


def _sentence_start(text: str, pos: int) -> int:
    """Where the sentence holding offset `pos` starts (the end of the last `_BOUNDARY` before)."""
    i = pos + 1
    while True:
        j = max(text.rfind(". ", 0, i), text.rfind("! ", 0, i), text.rfind("? ", 0, i))
        if j < 0:
            return 0
        after = text[j + 2 : j + 3]
        if j + 2 <= pos and after and ((after.isascii() and after.isupper()) or after in "(["):
            return j + 2
        i = j + 1


def _sentence_end(text: str, pos: int) -> int:
    m = _BOUNDARY.search(text, pos)
    return m.end() if m else len(text)


def _result_sentence(text: str, lower: str, after: int) -> tuple[int, int] | None:
    """(start, end) of the best result sentence starting at or after `after`."""

    def starts(pattern: re.Pattern) -> set[int]:
        return {_sentence_start(text, m.start()) for m in pattern.finditer(lower, after)}

    numbers = starts(_NUMBER)
    claims = starts(_CLAIM) if any(lower.find(w, after) >= 0 for w in _CLAIM_WORDS) else set()
    if not numbers and not claims:
        return None
    scores = {}
    for k in numbers | claims:
        supported = k in numbers and _SUPPORT.search(lower, k, _sentence_end(text, k)) is not None
        scores[k] = 2 * (k in numbers) + (k in claims) + supported
    best = max(sorted(scores), key=lambda k: scores[k])
    return best, _sentence_end(text, best)
