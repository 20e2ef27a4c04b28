"""Editorial history: past issues of the newsletter (markdown) into picks and notes.

An issue's `## 论文` section holds entries like

    - [CVPR2020] [IR-Net：信息保留的二值神经网络 | 机器学习研究组](https://mp.weixin.qq.com/s/...)
    文章：https://arxiv.org/abs/1909.10788
    代码：https://github.com/htqin/IR-Net
    摘要：...

Each entry with an arXiv link (in a 链接/文章/论文/地址 line, the headline link or an
arXiv-id label) becomes a pick for the issue, and its headline, source, commentary link,
code link and summary the paper's note. Papers not yet stored are fetched from arXiv by
id, all of them in one request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from papertrack.enrich.taxonomy import Taxonomy
from papertrack.errors import ConfigError, UsageError
from papertrack.models import arxiv_id, parse_day
from papertrack.newsletter.editorial import Note, add_picks, write_note
from papertrack.sources.arxiv import ArxivClient
from papertrack.store.papers import save_papers
from papertrack.store.schema import transaction

_SECTION = re.compile(r"^##\s*论文\s*$")
_FIELD = re.compile(r"^\s*(标题|链接|文章|论文|论文链接|地址|代码|项目|摘要)\s*[：:]\s*(.*?)\s*$")
_PAPER_FIELDS = ("链接", "文章", "论文", "论文链接", "地址")
_HEADLINE = re.compile(
    r"^-\s+(?:\[(?P<label>[^\[\]]+)\]\s+(?=\[))?"
    r"\[(?P<text>(?:[^\[\]]|\[[^\[\]]*\])*)\]\((?P<url>[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)\)"
)
_ID_LABEL = re.compile(r"^(\d{4}\.\d{4,5})(?:v\d+)?$")
_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")  # a backslash before ASCII punctuation: markdown's escape
_DATE = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)")


@dataclass
class Featured:
    """One entry of an issue's papers section."""

    line: int
    headline: str
    source: str | None = None
    source_url: str | None = None
    paper: str | None = None  # arXiv id
    code_url: str | None = None
    summary: str | None = None
    label: str | None = None


@dataclass
class IssueFile:
    path: str
    issue: str
    entries: list[Featured] = field(default_factory=list)


@dataclass
class IssueReport:
    """What one file gave: featured papers recorded, and entries skipped with the reason."""

    path: str
    issue: str
    featured: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def parse_issue(text: str, path: str = "issue.md") -> IssueFile:
    """The issue date and the entries of the `## 论文` section of one newsletter file."""
    lines = text.splitlines()
    issue = IssueFile(path, _issue_date(lines, path))
    in_section, entry, summary = False, None, None
    for n, raw in enumerate(lines, 1):
        line = raw.rstrip()
        if line.startswith("## ") or line == "##":
            in_section, entry = bool(_SECTION.match(line)), None
            continue
        if not in_section or not line.strip():
            continue
        if line.startswith("- "):
            entry, summary = _headline(line, n), None
            issue.entries.append(entry)
            continue
        if entry is None:
            continue
        m = _FIELD.match(line)
        if m and (summary is None or m.group(1) != "摘要"):
            name, value = m.groups()
            if name in _PAPER_FIELDS:
                entry.paper = entry.paper or arxiv_id_in(value)
            elif name in ("代码", "项目") and value.startswith("http") and not entry.code_url:
                entry.code_url = value
            elif name == "摘要":
                summary = [value]
                entry.summary = value
            continue
        if summary is not None:  # a continuation of the summary
            summary.append(line.strip())
            entry.summary = "\n".join(s for s in summary if s)
    return issue


def arxiv_id_in(text: str | None) -> str | None:
    """The arXiv id of an arxiv.org link (abs or pdf) in `text`, or None."""
    if not text or "arxiv.org/" not in text.lower():
        return None
    return arxiv_id(text)


def _headline(line: str, n: int) -> Featured:
    m = _HEADLINE.match(line)
    if not m:
        return Featured(n, line[2:].strip())
    text, url, label = m.group("text").strip(), m.group("url").strip(), m.group("label")
    headline, _, source = text.rpartition(" | ") if " | " in text else (text, "", "")
    labelled = _ID_LABEL.match(label.strip()) if label else None
    paper = arxiv_id_in(url) or (labelled.group(1) if labelled else None)
    headline, source = _MD_ESCAPE.sub(r"\1", headline.strip()), _MD_ESCAPE.sub(r"\1", source.strip())
    return Featured(n, headline, source or None, url or None, paper, label=label)


def _issue_date(lines: list[str], path: str) -> str:
    """From front matter (`date:`), else the file name, else the title line."""
    if lines and lines[0].strip() == "---":
        for line in lines[1:]:
            if line.strip() == "---":
                break
            m = re.match(r"\s*date\s*:\s*['\"]?(\d{4}-\d{2}-\d{2})", line)
            if m:
                return _valid(m.group(1), path)
    m = _DATE.search(Path(path).name)
    if m:
        return _valid(m.group(1), path)
    for line in lines:
        if line.startswith("# "):
            m = _DATE.search(line)
            if m:
                return _valid(m.group(1), path)
    raise ConfigError(path, None, "no issue date: name the file YYYY-MM-DD.md or add 'date:' front matter")


def _valid(date: str, path: str) -> str:
    try:
        return parse_day(date).isoformat()
    except UsageError:
        raise ConfigError(path, None, f"issue date {date!r} is not a valid date") from None


def read_issues(paths: Iterable[str | Path]) -> list[IssueFile]:
    out = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(str(path), None, f"cannot read file: {getattr(e, 'strerror', None) or e}") from None
        out.append(parse_issue(text, str(path)))
    return out


def import_issues(
    db: sqlite_utils.Database,
    paths: Iterable[str | Path],
    client: ArxivClient | None = None,
    taxonomy: Taxonomy | None = None,
) -> list[IssueReport]:
    """Record every featured paper of these issues (picks + notes), fetching unknown papers
    from arXiv in one request first. Nothing is written if a file or the fetch fails."""
    issues = read_issues(paths)
    wanted = list(dict.fromkeys(e.paper for i in issues for e in i.entries if e.paper))
    known = {
        r[0] for r in db.execute("select id from papers where id in (select value from json_each(?))", [json.dumps(wanted)])
    }
    missing = [p for p in wanted if p not in known]
    fetched = []
    if missing:
        client = client or ArxivClient()
        fetched = list(client.fetch_ids(missing, batch=len(missing)))  # one id_list request
    found = known | {p.id for p in fetched}
    reports = []
    with transaction(db):
        if fetched:
            save_papers(db, fetched, taxonomy=taxonomy)
        for issue in issues:
            report = IssueReport(issue.path, issue.issue)
            for e in issue.entries:
                if not e.paper:
                    report.skipped.append(f"line {e.line}: no arXiv link ({_short(e.headline)})")
                    continue
                if e.paper not in found:
                    report.skipped.append(f"line {e.line}: {e.paper} not found on arXiv ({_short(e.headline)})")
                    continue
                note = Note(
                    headline=e.headline or None,
                    summary=e.summary or None,
                    source=e.source,
                    source_url=e.source_url if e.source_url and e.source_url.startswith("http") else None,
                    code_url=e.code_url,
                )
                write_note(db, e.paper, note, only_missing=True)
                add_picks(db, [e.paper], issue.issue)
                report.featured.append(e.paper)
            reports.append(report)
    return reports


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
