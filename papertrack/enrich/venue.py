"""Venue labels from arXiv comments and journal references ("Accepted by CVPR 2020")."""
from __future__ import annotations

import re

# Acronyms of venues the newsletter cares about; the full rule table grows in venues.py data.
VENUES = [
    "CVPR", "ICCV", "ECCV", "NeurIPS", "NIPS", "ICML", "ICLR", "AAAI", "IJCAI", "ACL", "EMNLP",
    "NAACL", "COLING", "MLSys", "SysML", "KDD", "WACV", "BMVC", "ISCA", "MICRO", "HPCA", "DAC",
    "ASPLOS", "FPGA", "ICASSP", "INTERSPEECH", "TPAMI", "TNNLS", "IJCV",
]
_NEGATIVE = re.compile(r"\b(submitted|under review|in submission|to be submitted)\b", re.IGNORECASE)
_VENUE = re.compile(r"\b(" + "|".join(VENUES) + r")[\s'’]*((?:19|20)\d\d)\b", re.IGNORECASE)
_CANON = {v.lower(): v for v in VENUES} | {"nips": "NeurIPS"}


JOURNALS = {"TPAMI", "TNNLS", "IJCV"}


def venue_from(comment: str | None, journal_ref: str | None = None) -> tuple[str | None, str | None]:
    """`'Accepted by CVPR 2020'` -> `('CVPR 2020', 'conference')`; (None, None) when no
    publication is stated."""
    for text in (journal_ref, comment):
        if not text:
            continue
        for clause in re.split(r"[;]|\.\s", text):
            m = _VENUE.search(clause)
            if m and not _NEGATIVE.search(clause[: m.start()]):
                name = _CANON[m.group(1).lower()]
                return f"{name} {m.group(2)}", "journal" if name in JOURNALS else "conference"
    return None, None
