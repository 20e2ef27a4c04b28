"""Title + author matching used to link DBLP and BibTeX records to stored papers."""

from __future__ import annotations

from papertrack.store.identity import authors_overlap, find_by_title, surname, title_score
from papertrack.store.papers import save_papers
from tests.helpers import make_paper


def test_surnames():
    assert surname("Song Han") == "han"
    assert surname("Han, Song") == "han"
    assert surname("Miguel Á. Carreira-Perpiñán") == "carreiraperpinan"
    assert authors_overlap(["Song Han", "Jeff Pool"], ["Han, S.", "Dally, W."])
    assert not authors_overlap([], ["Han, S."])


def test_find_by_title_needs_close_title_and_a_shared_author(db):
    save_papers(
        db,
        [
            make_paper(
                1,
                title="Learning Efficient Convolutional Networks through Network Slimming",
                authors=["Zhuang Liu", "Jianguo Li"],
            ),
            make_paper(2, title="Binary Neural Networks", authors=["Ada Lovelace"]),
        ],
    )
    # LaTeX braces, case and a trailing period do not matter
    assert (
        find_by_title(db, "Learning {E}fficient Convolutional Networks through Network Slimming.", ["Liu, Zhuang"])
        == "2001.00001"
    )
    # same words in another order, by the same people: a different paper
    assert find_by_title(db, "Network Slimming: Learning Efficient Convolutional Networks through", ["Zhuang Liu"]) is None
    # same title, other authors: a different paper
    assert find_by_title(db, "Binary Neural Networks", ["Grace Hopper"]) is None
    assert find_by_title(db, "Binary Neural Networks", ["A. Lovelace"]) == "2001.00002"


def test_one_changed_word_is_another_paper_but_spelling_variants_are_not():
    from papertrack.models import normalize_title as n
    from papertrack.store.identity import best_match, same_title, words_agree

    # above the fuzzy threshold, yet different papers: a changed word, a changed version number
    assert title_score("Pruning Binary Neural Networks", "Pruning Ternary Neural Networks") > 91
    assert not same_title(n("Pruning Binary Neural Networks"), n("Pruning Ternary Neural Networks"), 90)
    assert not words_agree(n("MobileNetV2: Inverted Residuals"), n("MobileNetV3: Inverted Residuals"))
    # plural, British spelling, hyphens and small words are the same paper
    assert words_agree(
        n("Interpreting Deep Classifier by Visual Distillation"), n("Interpreting Deep Classifiers via Visual Distillation")
    )
    assert same_title(n("Born-Again Neural Networks for Optimisation"), n("Born Again Neural Networks for Optimization"))
    candidates = [
        ("a", "Pruning Binary Neural Networks", ["Ada Lovelace"]),
        ("b", "Pruning Binary Neural Network", ["Ada Lovelace"]),
    ]
    assert best_match("Pruning binary neural networks.", ["A. Lovelace"], candidates) == "a"  # the closer title wins
    assert best_match("Pruning binary neural networks.", ["Grace Hopper"], candidates) is None


def test_title_index_and_excluded_prefix(db):
    from papertrack.store.identity import TitleIndex

    save_papers(db, [make_paper(1, id="dblp:conf/x/A20", title="Quantized Sparse Transformers", authors=["Ada Lovelace"])])
    assert find_by_title(db, "Quantized sparse transformers", ["Ada Lovelace"]) == "dblp:conf/x/A20"
    assert find_by_title(db, "Quantized sparse transformers", ["Ada Lovelace"], exclude_prefix="dblp:") is None
    index = TitleIndex(
        [
            ("x", "Quantized Sparse Transformers", ["Ada Lovelace"]),
            ("y", "Quantized Sparse Transformer Kernels", ["Ada Lovelace"]),
        ]
    )
    assert index.find("Quantized sparse transformers.", ["Lovelace, A."]) == "x"
    assert index.find("Quantized sparse transformers.", ["Grace Hopper"]) is None
    index.remove("x")
    assert index.find("Quantized sparse transformers.", ["Lovelace, A."]) is None and len(index) == 1


def test_title_index_scores_a_bounded_pool_when_every_word_is_common():
    """A crafted file ("Junk title N qwzx" ten thousand times) costs each entry at most
    MAX_POOL comparisons, and a real duplicate among common words is still found."""
    from papertrack.models import normalize_title
    from papertrack.store.identity import MAX_POOL, TitleIndex

    index = TitleIndex([(str(i), f"Junk title {i} qwzx", [f"Author{i} Smith{i}"]) for i in range(3000)])
    index.add("dup", "Deep learning networks", ["Ada Lovelace"])
    for i in range(3000):
        index.add(f"c{i}", "Deep learning networks", [f"Someone{i} Else{i}"])
    assert index.pool(normalize_title("Junk title 99999 qwzx"), ["Author1 Smith1"]) == set()  # a word no row has
    assert len(index.pool(normalize_title("Junk title qwzx"))) <= MAX_POOL
    assert len(index.pool(normalize_title("Deep learning networks"), ["Else5"])) <= MAX_POOL
    assert index.find("Junk title 17 qwzx", ["Author17 Smith17"]) == "17"
    assert index.find("Junk title 17 qwzx", ["Grace Hopper"]) is None
    assert index.find("Deep learning networks.", ["A. Lovelace"]) == "dup"
