"""The `.bib` output renderer: every row of a table view or query with the paper id column
(all pages of the current filter, up to `BIB_CAP`), through `bibtex.export.export_ids`,
the same code as `papertrack bibtex`, one export at a time (`guard.export_slot`)."""

from __future__ import annotations

import json
import sqlite3
import urllib.parse

import sqlite_utils
from datasette.utils import sqlite_timelimit
from datasette.utils.asgi import Response

from papertrack.bibtex.export import export_ids
from papertrack.web.databases import is_papertrack
from papertrack.web.guard import RETRY_AFTER, Busy, export_slot

BIB_CAP = 2_000  # entries per web export (about 0.2 s of work); `papertrack bibtex` has no cap


def truncated(body: str, what: str) -> str:
    """An export cut at BIB_CAP, saying so and how to get everything."""
    return (
        f"@comment{{papertrack: more than {BIB_CAP:,} {what} and a web export holds at most {BIB_CAP:,}; "
        "narrow the selection, or export everything with the command line: papertrack bibtex --help}\n\n"
    ) + body


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

    column = _id_column(columns, table)
    if column is None:
        raise DatasetteError("BibTeX needs a paper id column (id or papers_id)", status=400)
    try:
        async with export_slot(datasette):
            return await _export(datasette, request, database, table, column, rows, sql, data, view_name)
    except Busy as e:
        return Response.text(f"Error: {e}\n", status=503, headers={"Retry-After": str(RETRY_AFTER)})


async def _export(datasette, request, database, table, column, rows, sql, data, view_name) -> Response:
    from datasette.views.database import (
        MagicParameters,  # (imported late: datasette imports plugins first)
    )

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
        body, headers["x-papertrack-truncated"] = truncated(body, "rows match"), str(BIB_CAP)
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
