"""What the browse page, its feed and its BibTeX change for a signed-in reader.

`personalize` reads the request's user: their muted phrases join the query (`BrowseQuery.mute`),
and `sort=for-you` gets their ranking (`accounts.foryou`), asking the ranking process for
a new one when their library or the papers moved on. Anonymous visitors, and a reader whose
ranking is not ready, get the page sorted newest first with a notice saying why. After the
page's queries, `decorate` adds each card's library state (saved, liked, disliked) and, for
`for-you`, the reasons for and against.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from papertrack.accounts import entries
from papertrack.accounts.foryou import CURRENT, FOR_YOU, Status
from papertrack.accounts.users import User
from papertrack.rank.feedback import papers_signature
from papertrack.store.browse import BrowseQuery, Card, register_sort
from papertrack.web.accounts import Accounts, accounts_of, current_user

register_sort(FOR_YOU)


@dataclass
class Personal:
    """The reader of one request (None: anonymous) and what their page shows."""

    user: User | None = None
    accounts: Accounts | None = None
    mute: tuple[str, ...] = ()
    for_you: bool = False  # the page asked for sort=for-you
    sign_in_url: str | None = None  # anonymous on a site with accounts
    status: Status | None = None
    states: dict[str, set[str]] = field(default_factory=dict)
    reasons: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)

    def bind(self, fn: Callable[[sqlite3.Connection], object]) -> Callable[[sqlite3.Connection], object]:
        """`fn` run with this reader's ranking as the for-you sort's (in the query thread)."""
        ranking = self.status.ranking if self.status else None

        def run(conn: sqlite3.Connection):
            token = CURRENT.set(ranking)
            try:
                return fn(conn)
            finally:
                CURRENT.reset(token)

        return run

    def card(self, card: Card) -> dict:
        """A card's extras: library state and the ranking's reasons."""
        return {"lib": self.states.get(card.id, set()), "why": self.reasons.get(card.id)}

    def notice(self) -> str | None:
        """What the page says above a for-you list, if anything."""
        if not self.for_you:
            return None
        if self.user is None and self.sign_in_url is None:
            return "This copy of the site has no accounts: papers are ranked for you where your team signs in. Newest first."
        if self.user is None:
            return "Sign in to see papers ranked for you: newest first meanwhile."
        status = self.status
        if status is None:
            return None
        if status.needed:
            n = status.needed
            return (
                f"Your ranking needs {n} more saved or liked paper{'s' if n > 1 else ''} "
                "(or import your library: papertrack users import-bibtex). Newest first meanwhile."
            )
        if status.ranking is None:
            return (
                "Preparing your ranking (a few seconds; the first one after a restart takes longer). Newest first meanwhile."
            )
        if status.updating:
            return "Updating your ranking with your latest changes: reload in a few seconds."
        return None


async def personalize(datasette, request, query: BrowseQuery, database: str) -> tuple[BrowseQuery, Personal]:
    """The query as this reader sees it, and what their page needs."""
    asked = (query.sort or "").partition(":")[0] == FOR_YOU.name
    accounts = accounts_of(datasette)
    user = await current_user(datasette, request) if accounts else None
    if user is None or accounts is None:
        here = request.path + (f"?{request.query_string}" if request.query_string else "")
        sign_in = datasette.urls.path("/-/login") + "?" + urlencode({"next": here}) if accounts else None
        return (replace(query, sort=None, after=None) if asked else query), Personal(for_you=asked, sign_in_url=sign_in)
    mute = tuple(await accounts.read(lambda conn: entries.muted(conn, user.id)))
    me = Personal(user, accounts, mute, asked)
    query = replace(query, mute=mute)
    if asked:
        me.status = await _status(datasette, accounts, user, database)
        if me.status.ranking is None:
            query = replace(query, sort=None, after=None)
    return query, me


async def _status(datasette, accounts: Accounts, user: User, database: str) -> Status:
    recommender = accounts.recommender
    signature = await datasette.get_database(database).execute_fn(papers_signature)
    needed = 0
    if recommender.needs_fit(user.id, user.library_version, signature):
        positives, negatives = await accounts.read(lambda conn: entries.profile(conn, user.id))
        needed = recommender.ask(user.id, user.library_version, signature, positives, negatives)
    return recommender.status(user.id, user.library_version, signature, needed)


async def decorate(datasette, me: Personal, database: str, cards: list[Card]) -> None:
    """Fill the cards' library states and, on a for-you page, their reasons."""
    if me.user is None or me.accounts is None or not cards:
        return
    ids = [c.id for c in cards]
    user_id = me.user.id
    me.states = await me.accounts.read(lambda conn: entries.states(conn, user_id, ids))
    ranking = me.status.ranking if me.status else None
    if ranking is not None:
        recommender = me.accounts.recommender
        me.reasons = await datasette.get_database(database).execute_fn(lambda conn: recommender.reasons(conn, ranking, ids))
