"""Researchers' accounts and what they keep: the library database beside the papers.

The papers database stays read-only and publishable; everything a signed-in user does
lives in a second SQLite file (`library.db` next to it, `schema`): accounts with argon2
password hashes, sessions, feed tokens and sign-in throttling (`users`), saved, liked and
disliked papers, muted words and saved searches (`entries`), and each user's own ranking,
fitted by `rank.feedback` in a background process (`foryou`, `ranker`).
"""
