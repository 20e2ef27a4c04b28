"""The taxonomy: patterns, exclusions, evidence, smart case, and the gates that make it fast."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from papertrack.config import parse_config
from papertrack.enrich.taxonomy import Taxonomy, TaxonomyRule, is_case_sensitive
from papertrack.errors import ConfigError
from tests.helpers import ROOT

SHIPPED = Taxonomy(parse_config((ROOT / "queries.yaml").read_text()).taxonomy)


def rule(tag, include=(), exclude=(), title=()):
    return TaxonomyRule(tag, tuple(include), tuple(exclude), None, tuple(title))


def test_evidence_is_the_matched_text_title_first():
    t = Taxonomy([rule("pruning", [r"(?:channel|filter)\W+pruning"])])
    assert t.match("Channel Pruning for Accelerating CNNs", "We use filter pruning.") == {"pruning": "Channel Pruning"}
    assert t.match("A title", "We use filter -\n pruning here.") == {"pruning": "filter - pruning"}
    assert t.match("A title", "We prune trees.") == {}


def test_exclusion_vetoes_the_tag():
    t = Taxonomy([rule("distillation", ["distillation"], exclude=["distillation columns?"])])
    assert t.match("Knowledge distillation", "") == {"distillation": "distillation"}
    assert t.match("Control of distillation columns", "We model a distillation column.") == {}


def test_title_patterns_ignore_the_abstract():
    t = Taxonomy([rule("efficient-architectures", title=["mobilenet\\w*"])])
    assert t.match("MobileNetV2: Inverted Residuals", "") == {"efficient-architectures": "MobileNetV2"}
    assert t.match("Detecting cats", "We use a MobileNetV2 backbone.") == {}


def test_smart_case():
    assert not is_case_sensitive(r"quantiz\w*\W+(?:\w+\W+){0,5}?deep")  # \W is not a capital
    assert is_case_sensitive("NAS-Bench")
    t = Taxonomy([rule("nas", ["NAS-Bench-\\d+"]), rule("quantization", ["quantized networks"])])
    assert t.match("On NAS-Bench-201", "") == {"nas": "NAS-Bench-201"}
    assert t.match("on nas-bench-201", "") == {}
    assert t.match("QUANTIZED NETWORKS", "") == {"quantization": "QUANTIZED NETWORKS"}


def test_word_boundaries():
    t = Taxonomy([rule("pruning", ["prun\\w*"])])
    assert t.match("Unpruned baselines", "") == {}
    assert t.match("Pruned", "") == {"pruning": "Pruned"}


@pytest.mark.parametrize(
    "title, abstract, tags",
    [
        ("Binarized Neural Networks", "We train BNNs with binary weights and activations.", {"binarization"}),
        ("Quantized Massive MU-MIMO-OFDM Uplink", "Coarse quantization at the base station of a MIMO system.", set()),
        ("Fixed Point Quantization of Deep Convolutional Networks", "", {"quantization"}),
        ("The One-dimensional Chiral Anomaly", "leads to the half-integer quantization of the Thouless pump", set()),
        ("Calculating the Unrooted Subtree Prune-and-Regraft Distance", "pruning the search space of trees", set()),
        ("Visual Saliency-Guided Channel Pruning for Deep Visual Detectors", "", {"pruning"}),
        ("Reaction dynamics on amorphous solid water", "preferential distillation of molecules in the medium", set()),
        ("FitNets: Hints for Thin Deep Nets", "The recently proposed knowledge distillation approach", {"distillation"}),
        ("Deep End2End Voxel2Voxel Prediction", "networks often require time-consuming architecture search", set()),
        ("MANAS: Multi-Scale Neural Architecture Search for CT Denoising", "", {"nas"}),
        ("Learning similarity-based word sense disambiguation from sparse data", "sparse training data", set()),
        (
            "Rigging the Lottery: Making All Tickets Winners",
            "we train sparse neural networks with dynamic sparse training",
            {"sparse-training"},
        ),
        ("SqueezeNet: AlexNet-level accuracy with 50x fewer parameters", "", {"efficient-architectures"}),
        ("Virtualizing Deep Neural Networks for Memory-Efficient Neural Network Design", "", set()),
        ("SkipCat: Low-Rank Compression of Large Language Models", "", {"bert-compression"}),
    ],
)
def test_shipped_taxonomy_on_real_titles(title, abstract, tags):
    assert set(SHIPPED.match(title, abstract)) == tags


ACCELERATION_AND_DEPLOYMENT = {
    "kernels", "compilers", "inference-engines", "accelerators", "speculative-decoding", "llm-serving",
    "efficient-training", "on-device", "tinyml",
}  # fmt: skip


@pytest.mark.parametrize(
    "title, abstract, tags",
    [  # real titles (and a phrase of the abstract) from the 2015-2016, 2023 and 2024 arXiv listings in ../shared
        ("Liger Kernel: Efficient Triton Kernels for LLM Training", "", {"kernels"}),
        ("Kernel Methods on the Riemannian Manifold of Symmetric Positive Definite Matrices", "", set()),
        ("A la Carte - Learning Fast Kernels", "Kernel methods have great promise for learning rich structure", set()),
        ("MATCH: Model-Aware TVM-based Compilation for Heterogeneous Edge Devices", "", {"compilers", "on-device"}),
        ("Active Libraries: Rethinking the roles of compilers and libraries", "", set()),
        ("Semantics and simulation of communication in quantum programming", "we present a cQPL compiler", set()),
        (
            "Optimization of Armv9 architecture general large language model inference performance based on Llama.cpp",
            "",
            {"inference-engines"},
        ),  # fmt: skip
        ("Panacea: Novel DNN Accelerator using Accuracy-Preserving Asymmetric Quantization", "", {"accelerators"}),
        (
            "Bayesian Optimization of the Beam Injection Process into a Storage Ring",
            "injection tuning in a circular accelerator",
            set(),
        ),  # fmt: skip
        ("Modelling Heavy Neutral Leptons in Accelerator Beamlines", "", set()),
        ("Dovetail: A CPU/GPU Heterogeneous Speculative Decoding for LLM inference", "", {"speculative-decoding"}),
        ("ProMoE: Fast MoE-based LLM Serving using Proactive Caching", "", {"llm-serving"}),
        ("Serving Content with Unknown Demand: the High-Dimensional Regime", "", set()),
        ("Adaptive Broadcast Suppression for Trickle-Based Protocols", "serving as the basic mechanism", set()),
        (
            "BitPipe: Bidirectional Interleaved Pipeline Parallelism for Accelerating Large Models Training",
            "",
            {"efficient-training"},
        ),  # fmt: skip
        ("EdgeFusion: On-Device Text-to-Image Generation", "", {"on-device"}),
        ("Learning low-rank latent mesoscale structures in networks", "denoising, and edge inference", set()),
        ("MCUBERT: Memory-Efficient BERT Inference on Commodity Microcontrollers", "", {"tinyml"}),
        ("Interactive Museum Exhibits with Microcontrollers: A Use-Case Scenario", "", set()),
        # noise a review found: plural colliders, graph "edge inference" in a title, mobile devices without a model,
        # and a motivating sentence ("... challenging to deploy on edge devices") instead of on-device work
        (
            "Efficient Compression of Sparse Accelerator Data Using Implicit Neural Representations",
            "data from particle colliders",
            set(),
        ),  # fmt: skip
        ("Edge inference in stochastic block models", "", set()),
        ("ARMageddon: Cache Attacks on Mobile Devices", "", set()),
        ("Iterative compilation on mobile devices", "", set()),
        (
            "Inf-MLLM: Efficient Streaming Inference of Multimodal Large Language Models on a Single GPU",
            "it is challenging to deploy streaming inference of MLLMs on edge devices",
            set(),
        ),  # fmt: skip
        ("Mixture of Cache-Conditional Experts for Efficient Mobile Device Inference", "", {"on-device"}),
        (
            "NeuFlow v2: High-Efficiency Optical Flow Estimation on Edge Devices",
            "runs at 20 FPS on Jetson Orin Nano",
            {"on-device"},
        ),
    ],
)
def test_acceleration_and_deployment_tags_on_real_titles(title, abstract, tags):
    assert set(SHIPPED.match(title, abstract)) & ACCELERATION_AND_DEPLOYMENT == tags


def reference(rules, title, abstract):
    """The taxonomy without any shortcut: each tag's patterns searched in full."""
    hits = {}
    for r in rules:

        def search(patterns, text):
            for p in patterns:
                m = re.search(rf"\b(?:{p})\b", text, 0 if is_case_sensitive(p) else re.IGNORECASE)
                if m:
                    return m
            return None

        m = search(r.title, title) or search(r.include, title) or search(r.include, abstract)
        if m and not (search(r.exclude, title) or search(r.exclude, abstract)):
            hits[r.tag] = m
    return hits


WORDS = [
    "quantization",
    "quantized",
    "deep",
    "neural",
    "networks",
    "weights",
    "pruning",
    "pruned",
    "channel",
    "knowledge",
    "distillation",
    "teacher",
    "student",
    "model",
    "binary",
    "binarized",
    "1-bit",
    "4-bit",
    "architecture",
    "search",
    "neural architecture search",
    "sparse",
    "training",
    "lottery",
    "ticket",
    "bert",
    "compression",
    "language",
    "llms",
    "efficient",
    "mobilenet",
    "depthwise",
    "separable",
    "convolution",
    "we",
    "the",
    "a",
    "of",
    "for",
    "-",
    ",",
    ".",
    "(",
    ")",
    "Quantization",
    "NAS-Bench-201",
    "low-bit",
    "fixed-point",
    "ternary",
    "dequantization",
    "sparsification",
    "distilling",
    "into",
    "smaller",
    "cnn",
]


@given(st.lists(st.sampled_from(WORDS), max_size=14), st.lists(st.sampled_from(WORDS), max_size=40))
def test_gates_never_change_the_result(title_words, abstract_words):
    """The substring gates are an optimisation: same tags as searching every pattern."""
    title, abstract = " ".join(title_words), " ".join(abstract_words)
    rules = parse_config((ROOT / "queries.yaml").read_text()).taxonomy
    assert set(SHIPPED.match(title, abstract)) == set(reference(rules, title, abstract))


def test_a_pattern_without_literals_always_runs():
    t = Taxonomy([rule("any", [r"\w+ly"])])
    assert t.match("", "quickly") == {"any": "quickly"}


@pytest.mark.parametrize(
    "rule_yaml, problem",
    [
        ("include: ['prun(']", "bad pattern 'prun(': missing ), unterminated subpattern at position 4"),
        ("includes: [prun]", "unknown key 'includes'"),
        ("exclude: [tree]", "no include patterns"),
        ("include: [[prun]]", "patterns must be a list of strings"),
        ("include: ['(?:prun)?']", "pattern '(?:prun)?' matches empty text"),
    ],
)
def test_taxonomy_errors_name_file_and_line(rule_yaml, problem):
    text = f"queries:\n  - {{name: q, source: arxiv, query: 'ti:x'}}\ntaxonomy:\n  pruning:\n    {rule_yaml}\n"
    with pytest.raises(ConfigError, match=re.escape(f"q.yaml:5: taxonomy 'pruning': {problem}")):
        parse_config(text, "q.yaml")


def test_title_only_rule_is_valid():
    config = parse_config(
        "queries:\n  - {name: q, source: arxiv, query: 'ti:x'}\ntaxonomy:\n  nets:\n    title: [mobilenet]\n"
    )
    assert config.taxonomy[0].title == ("mobilenet",) and config.taxonomy[0].include == ()


# Random small taxonomies over a small vocabulary: the gates (literal clauses, word-start
# scan, shared roots) must never change which tags match.
ATOMS = ["prun", "quantiz", "bit", "net", "deep", "spars", "e", "ing", "ed", "Net", "BIT"]
SEPARATORS = ["", " ", "-", "[- ]", r"\W+", r"\s", "(?:e|ed|ing)?", r"\w*", "[sz]", r"\b", "(?<!-)", "^"]


def matches_something(pattern: str) -> bool:
    from re._parser import parse

    return parse(pattern).getwidth()[0] > 0


@st.composite
def patterns(draw):
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        atom = draw(st.sampled_from(ATOMS))
        if draw(st.booleans()):
            atom = f"(?:{atom}|{draw(st.sampled_from(ATOMS))})"
        if draw(st.integers(0, 4)) == 0:
            atom = f"(?:{atom})?"
        parts.append(atom)
        parts.append(draw(st.sampled_from(SEPARATORS)))
    pattern = "".join(parts)
    return pattern if matches_something(pattern) else pattern + "x"


TEXT = st.lists(
    st.sampled_from(ATOMS + ["de", "non-", "un", "4-", "(", ")", " ", "-", "é", "_", "Quantiz", "BIT"]), max_size=30
).map("".join)


@given(
    st.lists(
        st.tuples(st.lists(patterns(), min_size=1, max_size=3), st.lists(patterns(), max_size=2)), min_size=1, max_size=4
    ),
    TEXT,
    TEXT,
)
def test_gates_never_change_the_result_for_random_taxonomies(specs, title, abstract):
    rules = [rule(f"t{i}", include, title=titles) for i, (include, titles) in enumerate(specs)]
    assert set(Taxonomy(rules).match(title, abstract)) == set(reference(rules, title, abstract))
