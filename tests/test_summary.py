"""The offline TL;DR: contribution sentence, then the headline result when both fit."""

from __future__ import annotations

from papertrack.enrich.summary import MAX_CHARS, sentences, summarize

DEEP_COMPRESSION = (
    "Neural networks are both computationally intensive and memory intensive, making them difficult to deploy "
    'on embedded systems with limited hardware resources. To address this limitation, we introduce "deep '
    'compression", a three stage pipeline: pruning, trained quantization and Huffman coding, that work together '
    "to reduce the storage requirement of neural networks by 35x to 49x without affecting their accuracy. Our "
    "method first prunes the network by learning only the important connections."
)
FIXED_POINT = (
    "In recent years increasingly complex architectures for deep convolution networks (DCNs) have been proposed. "
    "Fixed point implementation of these networks has the potential to alleviate some of the burden. In this "
    "paper, we propose a quantizer design for fixed point implementation for DCNs. We perform experiments on a "
    "recently proposed DCN architecture for CIFAR-10 benchmark that generates test error of less than 7%. Our "
    "experiments show that the fixed point DCNs with optimized bit width allocation offer >20% reduction in the "
    "model size without any loss in performance."
)


def test_contribution_then_the_best_result_sentence():
    s = summarize(FIXED_POINT)
    assert s == (
        "In this paper, we propose a quantizer design for fixed point implementation for DCNs. Our "
        "experiments show that the fixed point DCNs with optimized bit width allocation offer >20% "
        "reduction in the model size without any loss in performance."
    )


def test_contribution_sentence_holding_the_result_stands_alone():
    s = summarize(DEEP_COMPRESSION)
    assert s.startswith('To address this limitation, we introduce "deep compression"')
    assert s.endswith("without affecting their accuracy.")


def test_in_this_paper_without_a_listed_verb():
    abstract = (
        "Deep CNNs have millions of parameters. In this paper, we tackle this model storage issue by "
        "investigating vector quantization. We achieve 16-24 times compression with only 1% loss."
    )
    assert summarize(abstract) == (
        "In this paper, we tackle this model storage issue by investigating vector "
        "quantization. We achieve 16-24 times compression with only 1% loss."
    )


def test_earliest_strong_contribution_wins():
    abstract = "This paper describes a system for spoken dialogue. It is robust. We present an evaluation of the system."
    assert summarize(abstract) == "This paper describes a system for spoken dialogue."


def test_no_contribution_sentence_falls_back_to_the_first():
    assert summarize("Background only. Nothing else here.") == "Background only."


def test_a_word_without_a_number_is_not_a_result():
    abstract = "We propose X. Pedarsani provided an achievability result of this type."
    assert summarize(abstract) == "We propose X."


def test_at_most_300_characters_cut_at_a_word():
    abstract = "We propose " + "a very long method name " * 30 + "that works."
    s = summarize(abstract)
    assert len(s) <= MAX_CHARS and s.endswith("…") and not s[:-1].endswith(" ")


def test_result_only_when_both_fit():
    long_contribution = "We propose " + "x" * 275 + "."
    assert summarize(long_contribution + " It is 10x faster.") == long_contribution


def test_whitespace_and_empty():
    assert summarize("  We propose\n  a method.  ") == "We propose a method."
    assert summarize("") == "" and summarize(None) == ""  # type: ignore[arg-type]


def test_sentences():
    assert sentences("One. Two e.g. three! (Four) is it? yes") == ["One.", "Two e.g. three!", "(Four) is it? yes"]
