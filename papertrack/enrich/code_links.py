"""Code repository links in abstracts and comments."""

from __future__ import annotations

import re

_REPO = re.compile(
    r"https?://(?:www\.)?(?:github\.com|gitlab\.com)/[A-Za-z0-9_.\-]+/[A-Za-z0-9_.\-]+",
    re.IGNORECASE,
)


def code_url(*texts: str | None) -> str | None:
    """The first GitHub or GitLab repository URL in `texts`, trailing punctuation removed."""
    for text in texts:
        if not text or "git" not in text.lower():  # cheap test first: most texts have no link
            continue
        m = _REPO.search(text)
        if m:
            return re.sub(r"(\.git)?[.,;:)]*$", "", m.group(0))
    return None
