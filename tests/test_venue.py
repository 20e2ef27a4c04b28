"""Venue labels from arXiv comments and journal references, by the rule table venues.yaml."""

from __future__ import annotations

import pytest
import yaml

from papertrack.enrich.venue import Venue, compact, rules, venue_from
from tests.helpers import ROOT


@pytest.mark.parametrize(
    "comment, journal_ref, expected",
    [
        # the examples
        ("Accepted by CVPR 2020", None, Venue("CVPR 2020", "conference")),
        ("CVPR 2020. Code is available at https://github.com/huawei-noah/CARS", None, Venue("CVPR 2020", "conference")),
        ("Proceedings of the 3rd MLSys Conference, Austin, TX, USA, 2020", None, Venue("MLSys 2020", "conference")),
        ("12 pages. Accepted to AAAI 2020", None, Venue("AAAI 2020", "conference")),
        ("EMNLP 2020", None, Venue("EMNLP 2020", "conference")),
        (None, "Pattern Recognition 105 (2020) 107281", Venue("Pattern Recognition 2020", "journal", "105", "107281")),
        # other spellings seen on arXiv
        ("Accepted at CVPR'20", None, Venue("CVPR 2020", "conference")),
        ("Accepted to CVPR2023", None, Venue("CVPR 2023", "conference")),
        ("To appear in NIPS 2015", None, Venue("NeurIPS 2015", "conference")),
        ("Published as a conference paper at ICLR 2016", None, Venue("ICLR 2016", "conference")),
        (
            "Accepted by IEEE International Conference on Acoustics, Speech, and Signal Processing 2023",
            None,
            Venue("ICASSP 2023", "conference"),
        ),
        ("8 pages, epsf.sty, LaTeX, ACL'94", None, Venue("ACL 1994", "conference")),
        ("Accepted in MICRO 2020", None, Venue("MICRO 2020", "conference")),
        ("Accepted to DAC2020", None, Venue("DAC 2020", "conference")),  # an exact-case name glued to its year
        ("Accepted at COLT2019", None, Venue("COLT 2019", "conference")),
        ("Camera ready version for ICML 2019; submitted to JMLR", None, Venue("ICML 2019", "conference")),
        ("Preprint of a paper accepted at CVPR 2020", None, Venue("CVPR 2020", "conference")),
        # workshops
        ("workshop contribution at ICLR 2015", None, Venue("ICLR 2015 Workshop", "workshop")),
        ("Accepted to the NIPS2015 Deep Reinforcement Learning Workshop", None, Venue("NeurIPS 2015 Workshop", "workshop")),
        # journal references
        (
            None,
            "IEEE Transactions on Pattern Analysis and Machine Intelligence, vol. 42, no. 3, pp. 123-145, 2020",
            Venue("TPAMI 2020", "journal", "42", "123-145"),
        ),
        (None, "Journal of Machine Learning Research 11: 873-903 (2010)", Venue("JMLR 2010", "journal", "11", "873-903")),
        (None, "Neurocomputing, Volume 398, 2020, Pages 185-196", Venue("Neurocomputing 2020", "journal", "398", "185-196")),
        (
            None,
            "Pattern Recognition Letters 125 (2019) 1-7",
            Venue("Pattern Recognition Letters 2019", "journal", "125", "1-7"),
        ),
        (None, "Phys. Rev. A 91, 032326 (2015)", Venue("Phys. Rev. A 2015", "journal", "91", "032326")),
        (
            None,
            "Proceedings of the 33rd International Conference on Machine Learning, PMLR 48:1-10, 2016",
            Venue("ICML 2016", "conference"),
        ),
        (
            "To appear in Pattern Recognition",
            "Pattern Recognition 40(12): 3393-3400 (2007)",
            Venue("Pattern Recognition 2007", "journal", "40", "3393-3400"),
        ),
    ],
)
def test_venue_labels(comment, journal_ref, expected):
    assert venue_from(comment, journal_ref) == expected


@pytest.mark.parametrize(
    "comment",
    [
        # real negatives from the 2015-2016 corpus
        "Rejected conference (CVPR 2015) submission",
        "ICLR 2016 submission",
        "Under review as a conference paper at ICLR 2016",
        "Submitted to NeurIPS 2020",
        "Submitted to ICLR 2016 workshop track",
        "Extended version of our CVPR 2019 paper",
        "Journal version of a COLT conference paper",
        "12 pages, 5 figures",
        "8 pages, accepted in the micro-architecture track",
        "Comments welcome",
        "",
    ],
)
def test_not_a_venue(comment):
    assert venue_from(comment, None) == Venue()


def test_journal_ref_is_read_before_the_comment():
    assert venue_from("Submitted to CVPR 2020", "IJCV 128 (2020) 1-20").label == "IJCV 2020"
    assert venue_from("Accepted by CVPR 2020", "submitted to IJCV").label == "CVPR 2020"


def test_compact_newsletter_labels():
    assert compact("CVPR 2020") == "CVPR2020"
    assert compact("ICLR 2015 Workshop") == "ICLR2015 Workshop"
    assert compact("Pattern Recognition 2020") == "Pattern Recognition 2020"
    assert compact(None) is None


def test_rule_table_is_data_in_the_package():
    r = rules()
    assert r.words["cvpr"] == ("CVPR", "conference")
    assert r.words["MICRO"] == ("MICRO", "conference") and "micro" not in r.words
    assert r.words["tpami"] == ("TPAMI", "journal")
    assert len({label for label, _ in r.words.values()}) >= 70


def test_a_venue_found_later_updates_the_paper(db):
    from papertrack.store.papers import save_papers
    from papertrack.store.schema import transaction
    from tests.helpers import make_paper

    def save(paper, **kw):
        with transaction(db):
            save_papers(db, [paper], **kw)

    save(make_paper(1, comment="Submitted to CVPR 2020"))
    assert db["papers"].get("2001.00001")["venue"] is None
    save(make_paper(1, comment="Accepted by CVPR 2020", version=2, updated="2020-03-01T00:00:00Z"))
    row = db["papers"].get("2001.00001")
    assert (row["venue"], row["venue_type"], row["venue_source"], row["year"]) == ("CVPR 2020", "conference", "arxiv", 2020)
    save(make_paper(2, comment="workshop contribution at ICLR 2015"))
    assert (db["papers"].get("2001.00002")["venue"], db["papers"].get("2001.00002")["year"]) == ("ICLR 2015 Workshop", 2015)
    save(make_paper(1, comment="Code released", version=3, updated="2020-04-01T00:00:00Z"))
    assert db["papers"].get("2001.00001")["venue"] == "CVPR 2020"  # a venue once stated stays
    save(make_paper(1, venue="CVPR 2020", venue_type="conference"), venue_source="dblp")
    save(make_paper(1, comment="Accepted by ECCV 2020", version=4, updated="2020-05-01T00:00:00Z"))
    assert db["papers"].get("2001.00001")["venue_source"] == "dblp"  # a higher-ranked source wins


def test_every_venue_has_a_full_name_for_citations_and_it_reads_back():
    from papertrack.enrich.venue import citation_name, label_for, rules

    data = yaml.safe_load((ROOT / "papertrack" / "enrich" / "venues.yaml").read_text(encoding="utf-8"))
    labels = [str(label) for section in ("conferences", "journals") for label in data[section]]
    assert set(labels) <= set(rules().long_names)
    for label in labels:
        name = citation_name(f"{label} 2020")
        assert name and "2020" not in name, label
        assert label_for(name, 2020) == f"{label} 2020"
        if label in data["conferences"]:
            assert label_for(citation_name(f"{label} 2020 Workshop") or "", 2020) == f"{label} 2020 Workshop"
    assert citation_name("Some Symposium 2020") == "Some Symposium"
    assert citation_name("Proceedings of X, Seattle, June 2020") == "Proceedings of X, Seattle, June 2020"
