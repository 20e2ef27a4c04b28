"""papertrack's Datasette plugin (registered under `[project.entry-points.datasette]`).

* `.bib` output renderer (`bib.py`) for any view with a paper id column.
* `m2m` facet (`facets.py`, `?_facet_m2m=tags`): tag counts through the link table.
* Paper row page (templates/row.html): abstract, summary, tags, authors, arXiv links,
  and related papers (`rank.related`: the list `papertrack rank` stored, as `papertrack related` prints it).
* Compact cells: author and category lists instead of JSON, short link texts.
* The researchers' site (`browse.py`): `/` and `/browse` (paper cards, search, facets,
  the chart of papers per tag per month), `/browse.atom`, `/browse.bib`; Datasette's
  list of databases moves to `/-/index`.
* `/-/paper/<id>`: any way of writing a paper id (`arXiv:1909.04977v2`, an abs or pdf
  URL; `store.identity.paper_key`, as every command reads it) redirects to its page.
* The serving profiles, the bound on SQLite values and the export slot (`guard.py`).
* metadata.json's `papers` block also describes any other database holding a `papers`
  table (`db/demo.db` is served as `demo`), so it is written once.
* Accounts, when `serve` found a library (`accounts.py`: the actor, permissions, `/-/login`,
  `/-/logout`), the reader's library (`library.py`: `/-/library` and its JSON, BibTeX and
  forms; save and like buttons on cards and paper pages), their feeds (`feeds.py`) and
  their ranking and muted words on the browse page (`personal.py`); POST bodies bounded
  in front of Datasette's CSRF check (`posts.py`); the editor's desk (`desk.py`).
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

from datasette import hookimpl
from datasette.utils import tilde_encode, urlsafe_components
from datasette.utils.asgi import NotFound, Response
from jinja2 import ChoiceLoader, FileSystemLoader
from markupsafe import Markup, escape

from papertrack.rank.related import related_ids
from papertrack.store.identity import paper_key
from papertrack.web import accounts, browse, desk, feeds, guard, library, posts
from papertrack.web.accounts import current_user
from papertrack.web.bib import can_render_bib, render_bib
from papertrack.web.databases import is_papertrack, papertrack_databases
from papertrack.web.facets import ManyToManyFacet
from papertrack.web.metadata import DATABASE

TEMPLATES = Path(__file__).parent / "templates"
LINK_TEXT = {"url": "abs", "pdf_url": "pdf", "code_url": "code"}
DATES = ("published", "updated", "first_seen", "last_seen")
RELATED = 10  # related papers on a paper's page
CELL_COLUMNS = {*LINK_TEXT, *DATES, "id", "authors", "categories"}


@hookimpl
def get_metadata(datasette, key, database, table):
    local = (getattr(datasette, "_metadata_local", None) or {}).get("databases") or {}
    block = local.get(DATABASE)
    if not block:
        return {}
    return {"databases": {name: block for name in papertrack_databases(datasette) if name not in local}}


@hookimpl
def startup(datasette):
    guard.apply_settings(datasette)


@hookimpl
def prepare_connection(conn, database, datasette):
    guard.limit_values(conn)


@hookimpl
def handle_exception(datasette, request, exception):
    return guard.bad_request(datasette, request, exception)


@hookimpl
def prepare_jinja2_environment(env, datasette):
    # Datasette only finds templates/ next to plugins that are packages; this one is a module.
    paths = [p for p in (datasette.template_dir, str(TEMPLATES)) if p]
    env.loader = ChoiceLoader([FileSystemLoader(paths), env.loader])


@hookimpl
def register_facet_classes():
    return [ManyToManyFacet]


@hookimpl
def register_output_renderer(datasette):
    return {"extension": "bib", "render": render_bib, "can_render": can_render_bib}


@hookimpl
def register_routes(datasette):
    from datasette.views.index import IndexView

    # the browse page takes `/`; Datasette's own list of databases stays reachable
    return [
        (r"^/-/paper/(?P<paper>.+)$", paper_page),
        (r"^/-/index(\.(?P<format>jsono?))?$", IndexView.as_view(datasette)),
        *browse.routes(),
        *accounts.routes(),
        *library.routes(),
        *feeds.routes(),
        *desk.routes(),
    ]


@hookimpl
def actor_from_request(datasette, request):
    return accounts.actor_from_request(datasette, request)


@hookimpl
def permission_allowed(datasette, actor, action, resource):
    decided = guard.table_allowed(datasette, actor, action, resource)
    return decided if decided is not None else accounts.permission_allowed(datasette, actor, action, resource)


@hookimpl
def asgi_wrapper(datasette):
    return lambda app: posts.bounded(guard.hide_pages(datasette, app))


@hookimpl
def menu_links(datasette, actor, request):
    return accounts.menu_links(datasette, actor, request)


async def paper_page(datasette, request):
    """Redirect to the paper's row page, in the first database that holds it."""
    text = urllib.parse.unquote(request.url_vars["paper"])
    key = paper_key(text)
    found = papertrack_databases(datasette)
    for name in (n for n in datasette.databases if n in found):
        if (await datasette.get_database(name).execute("select 1 from papers where id = ?", [key])).first():
            return Response.redirect(datasette.urls.row(name, "papers", tilde_encode(key)))
    raise NotFound(f"No paper {text!r} in the database")


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
        "papertrack_hidden": guard.hidden_tables(datasette, request.actor if request else None),
    }
    if view_name != "row" or table != "papers" or request is None:
        return extra

    async def with_paper():
        paper_id = urlsafe_components(request.url_vars["pks"])[0]
        paper = await _paper(datasette, database, paper_id)
        user = await current_user(datasette, request)
        if paper is not None and user is not None:
            states = await accounts.library_state(datasette, user, [paper_id])
            paper["library"] = states.get(paper_id, set())
        return {**extra, "paper": paper}

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

    names: list[tuple[str, str | None]] = [(a["name"], through("papers_authors", "authors_id", a["id"])) for a in authors]
    if not names:  # no author links stored: fall back to the JSON list
        names = [(n, None) for n in json.loads(row["authors"] or "[]")]
    return {
        **dict(row),
        "tag_links": [(t["name"], through("papers_tags", "tags_id", t["id"])) for t in tags],
        "author_links": names,
        "category_list": json.loads(row["categories"] or "[]"),
        "related": await _related(datasette, database, paper_id),
    }


async def _related(datasette, database: str, paper_id: str) -> list[dict]:
    """The paper's closest papers: id, title, score and the link to each page (none before
    the database was first ranked: the look-up needs its word statistics)."""
    db = datasette.get_database(database)
    found = await db.execute_fn(lambda conn: related_ids(conn, paper_id, RELATED))
    if not found:
        return []
    titles = dict(
        (
            await db.execute(
                "select id, title from papers where id in (select value from json_each(?))",
                [json.dumps([i for i, _ in found])],
            )
        ).rows
    )
    return [
        {
            "id": pid,
            "title": titles.get(pid) or pid,
            "score": score,
            "url": datasette.urls.row(database, "papers", tilde_encode(pid)),
        }
        for pid, score in found
    ]
