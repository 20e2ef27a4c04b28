"""The `m2m` facet (`?_facet_m2m=tags`): counts the rows' tags through the link table;
each value links with Datasette's own `_through` filter."""

from __future__ import annotations

import json

from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args


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
