"""papertrack's Datasette plugin (registered under `[project.entry-points.datasette]`).

* `.bib` output renderer: every row of a table view or query with the paper id column
  (all pages of the current filter, up to `BIB_CAP`), through `bibtex.export_ids`, the
  same code as `papertrack bibtex`.
* `m2m` facet (`?_facet_m2m=tags`): counts the rows' tags through the link table; each
  value links with Datasette's own `_through` filter.
* Paper row page (templates/row.html): abstract, summary, tags, authors, arXiv links.
* Compact cells: author and category lists instead of JSON, short link texts.
* metadata.json's `papers` block also describes any other database holding a `papers`
  table (`db/demo.db` is served as `demo`), so it is written once.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.parse
from pathlib import Path
from weakref import WeakKeyDictionary

import sqlite_utils
from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.utils import (
    escape_sqlite,
    path_with_added_args,
    path_with_removed_args,
    sqlite_timelimit,
    tilde_encode,
    urlsafe_components,
)
from datasette.utils.asgi import Response
from jinja2 import ChoiceLoader, FileSystemLoader
from markupsafe import Markup, escape

from .bibtex import export_ids
from .publish import DATABASE

BIB_CAP = 10_000
TEMPLATES = Path(__file__).parent / "templates"
LINK_TEXT = {"url": "abs", "pdf_url": "pdf", "code_url": "code"}
DATES = ("published", "updated", "first_seen", "last_seen")
CELL_COLUMNS = {*LINK_TEXT, *DATES, "id", "authors", "categories"}
_papertrack_dbs: WeakKeyDictionary = WeakKeyDictionary()  # Datasette -> {database name: has papers}


def papertrack_databases(datasette) -> set[str]:
    """Names of the attached databases that hold a `papers` table (checked once each)."""
    known = _papertrack_dbs.setdefault(datasette, {})
    for name, db in datasette.databases.items():
        if name not in known:
            known[name] = _has_papers(db)
    return {name for name, yes in known.items() if yes}


def is_papertrack(datasette, database: str | None) -> bool:
    """Whether `database` holds papertrack's papers (cheap: called for every cell)."""
    known = _papertrack_dbs.get(datasette) or {}
    if database not in known:
        return database in papertrack_databases(datasette)
    return known[database]


def _has_papers(db) -> bool:
    if db.is_memory or not db.path:
        return False
    try:
        conn = sqlite3.connect(f"file:{db.path}?mode=ro", uri=True)
        try:
            return (
                conn.execute("select 1 from sqlite_master where type = 'table' and name = 'papers'").fetchone() is not None
            )
        finally:
            conn.close()
    except sqlite3.Error:
        return False


@hookimpl
def get_metadata(datasette, key, database, table):
    local = (getattr(datasette, "_metadata_local", None) or {}).get("databases") or {}
    block = local.get(DATABASE)
    if not block:
        return {}
    return {"databases": {name: block for name in papertrack_databases(datasette) if name not in local}}


@hookimpl
def prepare_jinja2_environment(env, datasette):
    # Datasette only finds templates/ next to plugins that are packages; this one is a module.
    paths = [p for p in (datasette.template_dir, str(TEMPLATES)) if p]
    env.loader = ChoiceLoader([FileSystemLoader(paths), env.loader])


# ---------------------------------------------------------------- facet


@hookimpl
def register_facet_classes():
    return [ManyToManyFacet]


class ManyToManyFacet(Facet):
    """`{"m2m": "tags"}`: value counts of another table linked through a many-to-many table
    (the one with foreign keys to both); a value's link adds Datasette's `_through` filter."""

    type = "m2m"

    async def suggest(self):
        return []

    async def facet_results(self):
        results, timed_out = [], []
        if not self.table:
            return results, timed_out
        db = self.ds.get_database(self.database)
        size = self.get_facet_size()
        selected = {}
        for raw in self.request.args.getlist("_through"):
            try:
                t = json.loads(raw)
                selected[(t["table"], t["column"], str(t["value"]))] = raw
            except (ValueError, KeyError, TypeError):
                continue
        for source_and_config in self.get_configs():
            config = source_and_config["config"]
            other = config.get("table") or config["simple"]
            link = await _link(db, self.table, other)
            if link is None:
                continue
            through, our_column, our_pk, other_column, other_pk = link
            label = await db.label_column_for_table(other) or other_pk
            # Unfiltered (the landing page): count the link table alone, 10x faster on 100k papers.
            unfiltered = self.sql.rstrip().endswith(f"from {escape_sqlite(self.table)}")
            sql = (
                f"select o.[{other_pk}] as value, o.[{label}] as label, count(*) as count "
                f"from [{through}] l join [{other}] o on o.[{other_pk}] = l.[{other_column}] "
                + ("" if unfiltered else f"where l.[{our_column}] in (select [{our_pk}] from ({self.sql})) ")
                + f"group by o.[{other_pk}] order by count desc, label limit {size + 1}"
            )
            try:
                rows = (
                    await self.ds.execute(
                        self.database,
                        sql,
                        self.params,
                        truncate=False,
                        custom_time_limit=self.ds.setting("facet_time_limit_ms"),
                    )
                ).rows
            except QueryInterrupted:
                timed_out.append(other)
                continue
            values = []
            for row in rows[:size]:
                key = (through, other_column, str(row["value"]))
                if key in selected:
                    path = path_with_removed_args(self.request, {"_through": selected[key]})
                else:
                    value = json.dumps(
                        {"table": through, "column": other_column, "value": str(row["value"])}, separators=(",", ":")
                    )
                    path = path_with_added_args(self.request, {"_through": value})
                values.append(
                    {
                        "value": row["value"],
                        "label": row["label"],
                        "count": row["count"],
                        "selected": key in selected,
                        "toggle_url": self.ds.absolute_url(self.request, self.ds.urls.path(path)),
                    }
                )
            results.append(
                {
                    "name": other,
                    "type": self.type,
                    "results": values,
                    "truncated": len(rows) > size,
                    "hideable": source_and_config["source"] != "metadata",
                    "toggle_url": self.ds.urls.path(path_with_removed_args(self.request, {"_facet_m2m": other})),
                }
            )
        return results, timed_out


async def _link(db, table: str, other: str) -> tuple[str, str, str, str, str] | None:
    """(link table, its column to `table`, `table`'s key, its column to `other`, `other`'s key)."""
    fks = await db.get_all_foreign_keys()
    for incoming in fks.get(table, {}).get("incoming", []):
        outgoing = fks.get(incoming["other_table"], {}).get("outgoing", [])
        ours = [fk for fk in outgoing if fk["other_table"] == table]
        theirs = [fk for fk in outgoing if fk["other_table"] == other]
        if ours and theirs:
            return (
                incoming["other_table"],
                ours[0]["column"],
                ours[0]["other_column"],
                theirs[0]["column"],
                theirs[0]["other_column"],
            )
    return None


# ---------------------------------------------------------------- .bib renderer


def _id_column(columns: list[str], table: str | None) -> str | None:
    """The column holding paper ids: `id` of papers (or of a query), `papers_id` of link tables."""
    if "id" in columns and table in (None, "papers"):
        return "id"
    if "papers_id" in columns:
        return "papers_id"
    return None


def can_render_bib(datasette, columns, table, database, view_name):
    return (
        view_name in ("table", "row", "database")
        and is_papertrack(datasette, database)
        and _id_column(columns, table) is not None
    )


async def render_bib(datasette, request, database, table, columns, rows, sql, data, view_name):
    from datasette.views.base import DatasetteError
    from datasette.views.database import (
        MagicParameters,  # (imported late: datasette imports plugins first)
    )

    column = _id_column(columns, table)
    if column is None:
        raise DatasetteError("BibTeX needs a paper id column (id or papers_id)", status=400)
    if view_name == "row":
        ids, more = [row[column] for row in rows], False
    elif table:
        ids, more = await _table_ids(datasette, request, database, table, column)
    else:
        params = MagicParameters((data.get("query") or {}).get("params") or {}, request, datasette)
        ids, more = await _query_ids(datasette, database, sql, params, column)
    db = datasette.get_database(database)
    body = await db.execute_fn(lambda conn: export_ids(sqlite_utils.Database(conn), [str(i) for i in ids if i]))
    headers = {"content-disposition": f'inline; filename="{table or data.get("query_name") or database}.bib"'}
    if more:
        body = (
            f"@comment{{papertrack: more than {BIB_CAP:,} rows match and an export holds at most "
            f"{BIB_CAP:,}; narrow the filter to get the rest.}}\n\n"
        ) + body
        headers["x-papertrack-truncated"] = str(BIB_CAP)
    return Response(body, content_type="text/plain; charset=utf-8", headers=headers)


async def _table_ids(datasette, request, database, table, column) -> tuple[list, bool]:
    """Every id the table view's filter matches, from the first page on, read back through
    Datasette's own JSON API so that search, `_through`, `_where` and column filters mean
    exactly what they mean on the page.

    Pages are walked in primary-key order: Datasette 0.65 puts no tie-breaker on the first
    page of a sorted view, so `_next` pages of a sort with ties (papers submitted the same
    second) can skip rows. The ids are put back in the view's order afterwards."""
    from datasette.views.base import DatasetteError

    db = datasette.get_database(database)
    pks = await db.primary_keys(table)
    dropped = {"_next", "_size", "_col", "_nocol", "_shape", "_labels", "_extras", "_sort", "_sort_desc"}
    args = [
        (k, v)
        for k, v in urllib.parse.parse_qsl(request.query_string, keep_blank_values=True)
        if k not in dropped and not k.startswith("_facet")
    ]
    args += [
        ("_col", column),
        ("_size", "max"),
        ("_shape", "objects"),
        ("_nofacet", "1"),
        ("_nocount", "1"),
        ("_nosuggest", "1"),
    ]
    if len(pks) == 1:
        args.append(("_sort", pks[0]))
    path = datasette.urls.table(database, table, format="json")
    headers = {"cookie": request.headers["cookie"]} if "cookie" in request.headers else {}
    ids: list = []
    next_token = None
    while True:
        query = urllib.parse.urlencode(args + ([("_next", next_token)] if next_token else []))
        response = await datasette.client.get(f"{path}?{query}", headers=headers)
        page = response.json()
        if response.status_code != 200:
            raise DatasetteError(page.get("error") or f"HTTP {response.status_code}", status=response.status_code)
        ids += [row[column] for row in page["rows"]]
        next_token = page.get("next")
        if len(ids) > BIB_CAP or not next_token:
            break
    more, ids = len(ids) > BIB_CAP, ids[:BIB_CAP]
    metadata = datasette.table_metadata(database, table)
    sort = request.args.get("_sort") or (None if request.args.get("_sort_desc") else metadata.get("sort"))
    sort_desc = request.args.get("_sort_desc") or (None if request.args.get("_sort") else metadata.get("sort_desc"))
    if pks == [column] and (sort or sort_desc):
        ordered = await db.execute(
            f"select [{column}] from [{table}] where [{column}] in (select value from json_each(:ids)) "
            f"order by [{sort or sort_desc}]{' desc' if sort_desc else ''}, [{column}]",
            {"ids": json.dumps(ids)},
        )
        ids = [row[0] for row in ordered.rows]
    return ids, more


async def _query_ids(datasette, database, sql, params, column) -> tuple[list, bool]:
    """Re-run a query without Datasette's row limit (the view already validated it; the
    connection is read-only) and keep the id column, up to the cap."""

    from datasette.views.base import DatasetteError

    def fetch(conn):
        with sqlite_timelimit(conn, datasette.setting("sql_time_limit_ms")):
            cursor = conn.execute(sql, params)
            index = [d[0] for d in cursor.description].index(column)
            return [row[index] for row in cursor.fetchmany(BIB_CAP + 1)]

    try:
        ids = await datasette.get_database(database).execute_fn(fetch)
    except sqlite3.OperationalError as e:
        raise DatasetteError(f"BibTeX export failed: {e}", status=400) from None
    return ids[:BIB_CAP], len(ids) > BIB_CAP


@hookimpl
def register_output_renderer(datasette):
    return {"extension": "bib", "render": render_bib, "can_render": can_render_bib}


# ---------------------------------------------------------------- cells and the paper page


@hookimpl
def render_cell(value, column, table, database, datasette):
    if (
        column not in CELL_COLUMNS
        or table not in (None, "papers")
        or not isinstance(value, str)
        or not is_papertrack(datasette, database)
    ):
        return None
    if column in LINK_TEXT:
        if value.startswith(("https://", "http://")):
            return Markup(f'<a href="{escape(value)}">{LINK_TEXT[column]}</a>')
    elif column in DATES:
        if len(value) > 10 and value[4:5] == "-":
            return Markup(f'<span title="{escape(value)}" style="white-space: nowrap">{escape(value[:10])}</span>')
    elif column == "id":
        if table is None:
            url = datasette.urls.row(database, "papers", tilde_encode(value))
            return Markup(f'<a href="{escape(url)}">{escape(value)}</a>')
    elif value.startswith("["):  # authors, categories: JSON lists
        try:
            names = [str(n) for n in json.loads(value)]
        except ValueError:
            return None
        if column == "authors" and len(names) > 4:
            return f"{', '.join(names[:3])} … ({len(names)} authors)"
        return ", ".join(names)
    return None


@hookimpl
def extra_template_vars(view_name, table, database, request, datasette):
    if database is None or table is None or not is_papertrack(datasette, database):
        return {}
    order = (datasette.plugin_config("papertrack", database=database, table=table) or {}).get("column_order") or []
    facets = [
        f if isinstance(f, str) else next(iter(f.values()))
        for f in datasette.table_metadata(database, table).get("facets", [])
    ]
    extra = {
        "papertrack": True,
        "papertrack_reorder": (lambda columns, rows: _reorder(columns, rows, order)) if order else None,
        "papertrack_facets": lambda results: sorted(
            results, key=lambda f: facets.index(f["name"]) if f["name"] in facets else len(facets)
        ),
    }
    if view_name != "row" or table != "papers" or request is None:
        return extra

    async def with_paper():
        paper_id = urlsafe_components(request.url_vars["pks"])[0]
        return {**extra, "paper": await _paper(datasette, database, paper_id)}

    return with_paper


def _reorder(columns: list[dict], rows: list, order: list[str]) -> tuple[list[dict], list[list[dict]]]:
    """Datasette's display columns and rows with the configured columns first, in order."""
    names = [c["name"] for c in columns]
    first = [names.index(n) for n in order if n in names]
    index = first + [i for i in range(len(names)) if i not in first]
    return [columns[i] for i in index], [[row.cells[i] for i in index] for row in rows]


async def _paper(datasette, database: str, paper_id: str) -> dict | None:
    """What the paper page shows beyond the row: tags and authors, each linking to their papers."""
    db = datasette.get_database(database)
    row = (await db.execute("select * from papers where id = ?", [paper_id])).first()
    if row is None:
        return None
    tags = (
        await db.execute(
            "select t.id, t.name from papers_tags pt join tags t on t.id = pt.tags_id "
            "where pt.papers_id = ? order by t.name",
            [paper_id],
        )
    ).rows
    authors = (
        await db.execute(
            "select a.id, a.name from papers_authors pa join authors a on a.id = pa.authors_id "
            "where pa.papers_id = ? order by pa.position",
            [paper_id],
        )
    ).rows
    papers_url = datasette.urls.table(database, "papers")

    def through(link_table: str, column: str, value) -> str:
        arg = json.dumps({"table": link_table, "column": column, "value": str(value)}, separators=(",", ":"))
        return f"{papers_url}?{urllib.parse.urlencode({'_through': arg})}"

    names = [(a["name"], through("papers_authors", "authors_id", a["id"])) for a in authors]
    if not names:  # no author links stored: fall back to the JSON list
        names = [(n, None) for n in json.loads(row["authors"] or "[]")]
    return {
        **dict(row),
        "tag_links": [(t["name"], through("papers_tags", "tags_id", t["id"])) for t in tags],
        "author_links": names,
        "category_list": json.loads(row["categories"] or "[]"),
    }
