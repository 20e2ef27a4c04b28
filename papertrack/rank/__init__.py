"""Ranking papers by what a researcher or the editor cares about, and related papers.

A profile is a tag (its papers are the positives) or `picks` (every paper ever picked).
`fit` learns a linear model per profile on sparse text and metadata features
(`features`), stores it in the database (`model`) and writes `scores`; `profiles` runs
that for `papertrack rank`, and after harvests and imports scores the new papers with
the stored model (refitting a profile whose positives changed). `scores` reads the
scores back (candidates, digests, the browse page) and `related` finds a paper's
nearest papers through the full-text index; neither imports numpy or scikit-learn, so
the commands and pages that only read stay fast.
"""
