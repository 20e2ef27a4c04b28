"""TeX in titles and names: decoding to Unicode on the way in, escaping on the way out.

Stored text is Unicode; TeX math (`$\\ell_1$`, as arXiv titles carry it) is kept verbatim
between dollars, and a literal dollar is stored as `\\$` (arXiv's own convention), so the
two stay distinguishable. Decoding uses pylatexenc (the decoder bibtexparser's
`LatexDecodingMiddleware` wraps) without its ligature rules, so `--` and `~` stay as typed.
"""

from __future__ import annotations

import re

from pylatexenc import latex2text, latexwalker

# $...$ not preceded by a backslash on either dollar
_MATH = re.compile(r"(?<!\\)\$[^$]+?(?<!\\)\$")
_BRACED_MATH = re.compile(r"\{(\$[^$]+\$)\}")
_BRACE = re.compile(r"[{}]")
_TEX = re.compile(r"[\\{$]")
_BARE_SPECIAL = re.compile(r"(?<!\\)([%&#])")
# \$ survives decoding as this placeholder, so that it can be told apart from math
_DOLLAR = "\ue000"
_ESCAPES = str.maketrans({c: "\\" + c for c in "&%$#_{}"} | {"\\": r"\textbackslash{}"})
_WORD = re.compile(r"(?<![\\\w])[^\W_]+")

# built once: pylatexenc would rebuild its default parsing context for every string
_WALKER_CONTEXT = latexwalker.get_default_latex_context_db()
_decoder = latex2text.LatexNodes2Text(
    latex_context=latex2text.get_default_latex_context_db().filter_context(exclude_categories=["nonascii-specials"]),
    math_mode="verbatim",
)


def split_math(text: str) -> list[tuple[bool, str]]:
    """`'On $\\ell_1$ norms'` -> `[(False, 'On '), (True, '$\\ell_1$'), (False, ' norms')]`."""
    parts, pos = [], 0
    for m in _MATH.finditer(text):
        if m.start() > pos:
            parts.append((False, text[pos : m.start()]))
        parts.append((True, m.group()))
        pos = m.end()
    if pos < len(text):
        parts.append((False, text[pos:]))
    return parts


def _latex_to_text(text: str) -> str:
    # a bare % would start a TeX comment, a bare & or # would be read as table or macro syntax
    text = _BARE_SPECIAL.sub(r"\\\1", text)
    try:
        return _decoder.latex_to_text(text, latex_context=_WALKER_CONTEXT)
    except Exception:  # pylatexenc gives up on badly unbalanced input; keep the text as it came
        return text


def decode(text: str | None) -> str:
    """BibTeX/arXiv TeX to papertrack's stored form: `Schr\\"odinger {BERT} 50\\%` ->
    `Schrödinger BERT 50%`; math kept verbatim, a literal dollar kept as `\\$`."""
    text = text or ""
    if "\\" in text or "{" in text:
        text = _latex_to_text(text.replace("\\$", _DOLLAR)).replace(_DOLLAR, "\\$")
    return " ".join(text.split())


def escape(text: str | None) -> str:
    """Stored text to a BibTeX value: `& % $ # _ { }` escaped outside math, UTF-8 kept."""
    return _pair_braces("".join(_render(text or "", protect=False)))


def title(text: str | None) -> str:
    """Like `escape`, and capitals that matter protected from BibTeX styles' lowercasing:
    words with a capital after their first letter (BERT, CNNs, GhostNet, MobileNetV2, 3D)
    and math (`{$O(N)$}`)."""
    return _pair_braces("".join(_render(text or "", protect=True)))


def _pair_braces(value: str) -> str:
    """BibTeX counts every brace, escaped or not, so an unpaired `\\{` or `\\}` (a literal
    brace without its partner) would end the value early or swallow the rest of the file:
    those become `\\textbraceleft{}` / `\\textbraceright{}`."""
    opened, unpaired = [], []
    for m in _BRACE.finditer(value):
        if m.group() == "{":
            opened.append(m.start())
        elif opened:
            opened.pop()
        else:
            unpaired.append(m.start())
    unpaired += opened
    if not unpaired:
        return value
    out, pos = [], 0
    for i in sorted(unpaired):  # in practice escaped ones: ours and verbatim math's pair up
        out.append(value[pos : i - 1 if i and value[i - 1] == "\\" else i])
        out.append(r"\textbraceleft{}" if value[i] == "{" else r"\textbraceright{}")
        pos = i + 1
    return "".join(out) + value[pos:]


def _render(text: str, protect: bool) -> list[str]:
    text = " ".join(text.split())
    if not _TEX.search(text):  # the common case: nothing to decode, nothing math
        text = text.translate(_ESCAPES)
        return [_WORD.sub(_protect_word, text) if protect else text]
    out = []
    for math, part in split_math(_BRACED_MATH.sub(r"\1", text)):
        if math and _balanced(part):
            out.append("{" + part + "}" if protect else part)
            continue
        if "\\" in part or "{" in part:  # outside math every dollar is a literal one
            part = _latex_to_text(part.replace("\\$", "$").replace("$", _DOLLAR)).replace(_DOLLAR, "$")
        part = part.translate(_ESCAPES)
        out.append(_WORD.sub(_protect_word, part) if protect else part)
    return out


def _balanced(math: str) -> bool:
    """Can this math go out verbatim? Only if its braces pair up both as BibTeX counts them
    (every brace) and as bibtexparser does (escaped ones skipped), or one of the two would
    end the value in the wrong place."""
    for braces in (_BRACE.finditer(math), re.finditer(r"(?<!\\)[{}]", math)):
        depth = 0
        for m in braces:
            depth += 1 if m.group() == "{" else -1
            if depth < 0:
                return False
        if depth:
            return False
    return True


def _protect_word(m: re.Match) -> str:
    word = m.group()
    return "{" + word + "}" if word[1:] != word[1:].lower() else word


def plain(text: str | None) -> str:
    """Decoded text without math markup, for keys and comparisons: `$\\ell_1$-Norm` ->
    `ell_1-Norm`."""
    return re.sub(r"[$\\{}]", "", decode(text))
