"""Title + author matching used to link DBLP and BibTeX records to stored papers."""
from __future__ import annotations

from papertrack.matching import authors_overlap, find_by_title, surname
from papertrack.store import save_papers

from .conftest import make_paper


def test_surnames():
    assert surname("Song Han") == "han"
    assert surname("Han, Song") == "han"
    assert surname("Miguel Á. Carreira-Perpiñán") == "carreiraperpinan"
    assert authors_overlap(["Song Han", "Jeff Pool"], ["Han, S.", "Dally, W."])
    assert not authors_overlap([], ["Han, S."])


def test_find_by_title_needs_close_title_and_a_shared_author(db):
    save_papers(db, [
        make_paper(1, title="Learning Efficient Convolutional Networks through Network Slimming",
                   authors=["Zhuang Liu", "Jianguo Li"]),
        make_paper(2, title="Binary Neural Networks", authors=["Ada Lovelace"]),
    ])
    # LaTeX braces, case and a trailing period do not matter
    assert find_by_title(db, "Learning {E}fficient Convolutional Networks through Network Slimming.",
                         ["Liu, Zhuang"]) == "2001.00001"
    # same words in another order, by the same people: a different paper
    assert find_by_title(db, "Network Slimming: Learning Efficient Convolutional Networks through",
                         ["Zhuang Liu"]) is None
    # same title, other authors: a different paper
    assert find_by_title(db, "Binary Neural Networks", ["Grace Hopper"]) is None
    assert find_by_title(db, "Binary Neural Networks", ["A. Lovelace"]) == "2001.00002"
