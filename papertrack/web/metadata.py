"""The Datasette publication: `metadata.json`, generated from the schema and the canned queries.

    python -m papertrack.web.metadata > metadata.json

Table and column descriptions come from `schema.describe()` (the schema is described once);
tests/test_publish.py checks that the committed metadata.json is current. Only keys that
Datasette 0.65 reads from metadata go here; its settings (page size, time limits) are
passed by `papertrack serve` (see `serve.SETTINGS`).

The per-database block is keyed `papers`, the name Datasette gives `db/papers.db`. The
plugin applies the same block to any other database that holds a `papers` table
(`db/demo.db` is served as `demo`), so nothing is repeated for the demo.
"""

from __future__ import annotations

import json
from typing import Any

from papertrack.models import window_sql
from papertrack.store import derived
from papertrack.store.runs import HEALTH_SQL
from papertrack.store.schema import FTS, TABLES
from papertrack.store.schema_docs import describe
from papertrack.web.guard import PUBLIC, with_profile

DATABASE = "papers"
CC0 = "https://creativecommons.org/publicdomain/zero/1.0/"

# Link tables are reached through facets and row pages; the rest is harvest bookkeeping
# (surfaced by the stale_queries query) and the browse page's derived tables. Hidden
# tables stay reachable by URL.
HIDDEN = (
    "papers_tags", "papers_authors", "papers_queries", "tag_edits", "queries", "harvest_runs",
    "rank_models", "related_terms", "related_papers", *derived.TABLES,
)  # fmt: skip
LABELS = {"papers": "title", "tags": "name", "authors": "name"}
# How the papers table reads (the plugin reorders the columns; the rest follow in schema order).
COLUMN_ORDER = [
    "id",
    "title",
    "authors",
    "published",
    "venue",
    "primary_category",
    "summary",
    "url",
    "pdf_url",
    "code_url",
    "abstract",
]

_TAGS = """(select group_concat(name, ', ') from (
      select t.name from papers_tags pt join tags t on t.id = pt.tags_id
      where pt.papers_id = p.id order by t.name)) as tags"""

CANNED_QUERIES: dict[str, dict[str, Any]] = {
    "latest": {
        "title": "Latest papers",
        "description": "Papers first submitted in the last so many days (14 when left empty), newest first.",
        "sql": f"""select p.id, p.title, p.published, p.primary_category, p.venue,
  {_TAGS},
  p.summary, p.url
from papers p
where p.published >= strftime('%Y-%m-%dT%H:%M:%SZ', 'now',
  '-' || coalesce(nullif(:days, ''), '14') || ' days')
order by p.published desc""",
        "params": ["days"],
    },
    "by_tag": {
        "title": "Papers with a tag",
        "description": "Every paper carrying a tag (for example pruning, quantization, nas), newest first.",
        "sql": f"""select p.id, p.title, p.published, p.venue,
  {_TAGS},
  p.summary, p.url
from papers p
join papers_tags pt on pt.papers_id = p.id
join tags t on t.id = pt.tags_id
where t.name = :tag
order by p.published desc""",
        "params": ["tag"],
    },
    "window": {
        "title": "Papers in a date window",
        "description": "Papers first submitted from one date to another (YYYY-MM-DD, both included), "
        "with their tags and summary: the newsletter's fortnight.",
        "sql": f"""select p.id, p.title, p.published, p.venue,
  {_TAGS},
  p.summary, p.code_url, p.url
from papers p
where {window_sql("p.published")}
order by p.published""",
        "params": ["from", "to"],
    },
    "candidates": {
        "title": "Candidates",
        "description": "A profile's papers best first (a profile is a tag, or picks; papertrack rank scores "
        "them), optionally only those first submitted from one date to another (YYYY-MM-DD, both included), "
        "with the reasons for each score.",
        "sql": f"""select p.id, p.title, round(s.score, 2) as score,
  (select group_concat(value, ', ') from json_each(s.why)) as why,
  p.published, p.venue,
  {_TAGS},
  p.url
from scores s
join papers p on p.id = s.papers_id
where s.profile = :profile
  and {window_sql("p.published")}
order by s.score desc""",
        "params": ["profile", "from", "to"],
    },
    "stale_queries": {
        "title": "Harvest health",
        "description": "Each saved query's last successful harvest and its last run, flagged failed, "
        "interrupted (stopped, or its process gone: no sign of life for 2 minutes), never or stale "
        "(no success for so many days, 14 when left empty); flagged queries first. The same flags as "
        "`papertrack status`.",
        "sql": HEALTH_SQL,
        "params": ["days"],
    },
    "authors": {
        "title": "Papers per author",
        "description": "Authors by number of papers, with their first and latest submission.",
        "sql": """select a.name as author, count(*) as papers,
  min(p.published) as first_paper, max(p.published) as latest_paper
from authors a
join papers_authors pa on pa.authors_id = a.id
join papers p on p.id = pa.papers_id
group by a.id
order by papers desc, author""",
    },
}


def metadata() -> dict:
    """The whole metadata.json as a dict."""
    descriptions = describe()
    tables: dict[str, dict] = {}
    for name, spec in {**TABLES, **derived.TABLES}.items():
        table: dict = {"description": spec["doc"], "columns": descriptions[name]}
        if name in LABELS:
            table["label_column"] = LABELS[name]
        if name in HIDDEN:
            table["hidden"] = True
        tables[name] = table
    tables["papers"].update(
        sort_desc="published",
        facets=[{"m2m": "tags"}, "primary_category", "venue", "year"],
        fts_table="papers_fts",
        size=50,
        facet_size=10,
        plugins={"papertrack": {"column_order": COLUMN_ORDER}},
    )
    for name, cols in FTS.items():
        tables[f"{name}_fts"] = {"description": f"Full-text index over {name}: {', '.join(cols)}.", "hidden": True}
    return with_profile(
        {
            "title": "papertrack: model-compression papers",
            "description": (
                "Papers on binarization, quantization, pruning, distillation, architecture search and "
                "efficient architectures, and on inference acceleration and deployment (kernels, compilers, "
                "inference engines, accelerators, LLM serving, on-device and TinyML), harvested from arXiv "
                "with saved queries, tagged and summarised. "
                "Search and browse them on the front page, or open the papers table to query them, narrow "
                "them by tag, category, venue or year, read a paper's abstract and summary, and export any "
                "selection as BibTeX (.bib)."
            ),
            "license": "arXiv metadata: CC0 1.0; summaries and notes belong to their authors",
            "license_url": CC0,
            "source": "arXiv API",
            "source_url": "https://info.arxiv.org/help/api/index.html",
            "databases": {
                DATABASE: {
                    "description": "Harvested papers, their tags and authors, editors' notes and newsletter picks.",
                    "tables": tables,
                    # hide_sql: the title and description say what a query does; "show" reveals the SQL
                    "queries": {name: {**query, "hide_sql": True} for name, query in CANNED_QUERIES.items()},
                }
            },
        },
        PUBLIC,  # what `datasette publish` gets; `papertrack serve` chooses (web.serve)
    )


def metadata_json() -> str:
    """metadata.json's exact text."""
    return json.dumps(metadata(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(metadata_json(), end="")
