"""Chunking: exact offsets, hard token limits, Punkt equivalence, markdown units, metrics, CLI."""

from __future__ import annotations

import gzip
import json
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import numpy as np
import pytest
from conftest import SHARED, llama_like_tokenizer, tiny_encoder, word_tokenizer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import sememe
from sememe.chunking import Chunk, SemanticChunker, TokenChunker, pk, windowdiff
from sememe.chunking.metrics import boundaries_to_lengths, default_k
from sememe.chunking.sentences import (
    CODE,
    HEADING,
    ITEM,
    PARAGRAPH,
    SENTENCE,
    default_splitter,
    read_punkt_parameters,
    split_units,
)

# ----------------------------------------------------------------------------- helpers


def assert_valid(chunks: list[Chunk], source: str, max_tokens: int, count=None) -> None:
    """The contract of every chunker, checked on one result."""
    pos = 0
    for i, c in enumerate(chunks):
        assert c.index == i
        assert c.text == source[c.start : c.end]
        assert c.text and c.text == c.text.strip(), c
        assert c.start >= pos, "chunks overlap or are out of order"
        assert not source[pos : c.start].strip(), "non-whitespace text was dropped"
        assert 0 <= c.n_tokens <= max_tokens, c
        pos = c.end
    assert not source[pos:].strip(), "non-whitespace text was dropped at the end"
    if count is not None and chunks:
        assert [c.n_tokens for c in chunks] == [count(c.text) for c in chunks]


def encoder_count(enc: sememe.Encoder):
    return lambda text: int(enc.count_tokens(text))


TOPIC_A = [
    "The oven must be preheated before the bread goes in.",
    "Knead the dough for ten minutes until it is smooth.",
    "Let the dough rise in a warm place for an hour.",
    "Bake the loaf until the crust is golden brown.",
    "Fresh bread tastes best with butter and jam.",
    "Flour, water, yeast and salt are all you need for bread.",
]
TOPIC_B = [
    "The telescope was pointed at the distant galaxy.",
    "Astronomers measured the light from exploding stars.",
    "The planet orbits its star once every three days.",
    "Dark matter shapes the rotation of spiral galaxies.",
    "The comet's tail always points away from the sun.",
    "Black holes bend the light of stars behind them.",
]

# Text pieces chosen to stress splitting: markdown, code, unicode, punctuation, huge tokens.
PIECES = st.sampled_from(
    [
        "the",
        "cat",
        "sat.",
        "Dr.",
        "U.S.",
        "e.g.",
        "5.3.",
        "3.14",
        "end!",
        "why?",
        "(see",
        "this).",
        '"Quote."',
        "word",
        "\n",
        "\n\n",
        "  ",
        "\t",
        "# Heading",
        "\n## Sub\n",
        "\n```\n",
        "\n~~~py\n",
        "- item",
        "1. step",
        "| a | b |",
        "---",
        "日本語",
        "テキスト。",
        "😀",
        "👍🏽",
        "naïve",
        "x" * 300,
        "abc" * 80,
        "\u3000",
        "\x85",
        "\x1c",
        "\xa0",
        "\u2028",
        "\r\n",
        ".",
        "...",
        "?!",
    ]
)
TEXTS = st.one_of(
    st.lists(PIECES, max_size=60).map(" ".join),
    st.lists(PIECES, max_size=60).map("".join),
    st.text(max_size=300),
)


# ----------------------------------------------------------------------------- Chunk


def test_chunk_is_a_plain_record():
    c = Chunk("hello", 3, 8, 2, 0)
    assert len(c) == 5
    assert c.to_dict() == {"text": "hello", "start": 3, "end": 8, "n_tokens": 2, "index": 0}
    assert json.loads(json.dumps(c.to_dict()))["start"] == 3
    assert "n_tokens=2" in repr(c)
    assert "..." in repr(Chunk("x" * 100, 0, 100, 1, 0))
    with pytest.raises(AttributeError):
        c.start = 4  # frozen


def test_public_names_resolve_lazily():
    assert sememe.SemanticChunker is SemanticChunker
    assert sememe.TokenChunker is TokenChunker
    assert sememe.Chunk is Chunk


# ----------------------------------------------------------------------------- contract


@pytest.mark.parametrize("make_tok", [word_tokenizer, llama_like_tokenizer])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, max_tokens=st.integers(5, 48))
def test_semantic_contract_on_random_text(make_tok, text, max_tokens):
    enc = _tiny(make_tok)
    chunks = SemanticChunker(enc, max_tokens=max_tokens, window=2).chunk(text)
    assert_valid(chunks, text, max_tokens, encoder_count(enc))


@pytest.mark.parametrize("make_tok", [word_tokenizer, llama_like_tokenizer])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, max_tokens=st.integers(5, 48))
def test_token_contract_on_random_text(make_tok, text, max_tokens):
    enc = _tiny(make_tok)
    chunks = TokenChunker(enc, max_tokens=max_tokens).chunk(text)
    assert_valid(chunks, text, max_tokens, encoder_count(enc))


@settings(max_examples=25, deadline=None)
@given(text=TEXTS, max_tokens=st.integers(6, 64))
def test_contract_with_the_bundled_model(default, text, max_tokens):
    for chunker in (
        SemanticChunker(default, max_tokens=max_tokens),
        TokenChunker(default, max_tokens=max_tokens),
    ):
        assert_valid(chunker.chunk(text), text, max_tokens, encoder_count(default))


@settings(max_examples=30, deadline=None)
@given(text=TEXTS, max_tokens=st.integers(8, 40))
def test_contract_with_a_callable_tokenizer(text, max_tokens):
    def count(s: str) -> int:  # one token per 3 characters, rounded up
        return -(-len(s) // 3)

    for chunker in (
        SemanticChunker(_tiny(word_tokenizer), max_tokens=max_tokens, tokenizer=count),
        TokenChunker(max_tokens=max_tokens, tokenizer=count),
    ):
        assert_valid(chunker.chunk(text), text, max_tokens, count)


@settings(max_examples=30, deadline=None)
@given(text=TEXTS, max_tokens=st.integers(5, 40))
def test_contract_with_a_tokenizer_that_is_not_word_local(text, max_tokens):
    """Special tokens make summing over words impossible: whole texts are counted."""
    enc = tiny_encoder(word_tokenizer(), add_special_tokens=True)
    chunks = SemanticChunker(enc, max_tokens=max_tokens).chunk(text)
    assert_valid(chunks, text, max_tokens, encoder_count(enc))


_TINY: dict = {}


def _tiny(make_tok):
    if make_tok not in _TINY:
        _TINY[make_tok] = tiny_encoder(make_tok())
    return _TINY[make_tok]


# ----------------------------------------------------------------------------- hard limit


def test_one_enormous_token_is_cut_at_token_boundaries(default):
    text = "x" * 1_000_000  # a single 1 MB token
    for chunker in (TokenChunker(default, max_tokens=512), SemanticChunker(default)):
        chunks = chunker.chunk(text)
        assert_valid(chunks, text, 512)
        assert "".join(c.text for c in chunks) == text
        assert min(c.n_tokens for c in chunks[:-1]) > 400


def test_long_sentence_without_punctuation(default):
    words = ("river bank money loan interest rate water fish " * 400).strip()
    for chunker in (SemanticChunker(default, max_tokens=64), TokenChunker(default, max_tokens=64)):
        chunks = chunker.chunk(words)
        assert_valid(chunks, words, 64, encoder_count(default))
        assert len(chunks) > 40
        assert all(c.text.split()[0] in words.split() for c in chunks)  # cut between words


def test_never_splits_a_character_of_byte_fallback_tokens():
    enc = _tiny(llama_like_tokenizer)  # emoji become 4 byte tokens sharing one offset
    text = "😀👍🏽日本" * 200
    chunks = TokenChunker(enc, max_tokens=9).chunk(text)
    assert_valid(chunks, text, 9, encoder_count(enc))
    assert "".join(c.text for c in chunks) == text


def test_limit_too_small_for_one_character_is_a_clear_error():
    enc = _tiny(llama_like_tokenizer)
    with pytest.raises(ValueError, match=r"max_tokens=2 is too small.*offset 4"):
        TokenChunker(enc, max_tokens=2).chunk("cat 😀")


def test_max_tokens_is_filled_by_the_token_chunker(default):
    text = " ".join(TOPIC_A * 20)
    chunks = TokenChunker(default, max_tokens=100).chunk(text)
    assert_valid(chunks, text, 100, encoder_count(default))
    for a, b in pairwise(chunks):
        nxt = text[a.start : b.start + len(b.text.split()[0])]
        assert default.count_tokens(nxt) > 100  # the next word would not have fit


# ----------------------------------------------------------------------------- semantics


def test_cuts_at_the_topic_change(default):
    text = " ".join(TOPIC_A + TOPIC_B)
    switch = text.index(TOPIC_B[0])
    chunks = SemanticChunker(default, max_tokens=512, min_tokens=8).chunk(text)
    assert_valid(chunks, text, 512)
    assert switch in [c.start for c in chunks]


def test_float_threshold_cuts_where_similarity_drops(default):
    text = " ".join(TOPIC_A + TOPIC_B)
    counts = [
        len(SemanticChunker(default, threshold=t, min_tokens=0, window=2).chunk(text))
        for t in (-1.0, 0.5, 0.9, 1.0)
    ]
    assert counts[0] == 1
    assert counts == sorted(counts) and counts[-1] > 2


def test_min_tokens_merges_tiny_pieces(default):
    text = "Results are in section 5.3. " + " ".join(TOPIC_B)
    chunks = SemanticChunker(default, max_tokens=512, min_tokens=20).chunk(text)
    assert all(c.n_tokens >= 20 for c in chunks)
    assert not any(c.text.strip() == "5.3." for c in chunks)


def test_headings_start_chunks_and_code_stays_whole(default):
    code = "\n".join(f"    value_{i} = compute({i}) + offset  # step {i}." for i in range(30))
    text = (
        "# Baking\n\n" + " ".join(TOPIC_A) + "\n\n```python\n" + code + "\n```\n\n"
        "# Stars\n\n" + " ".join(TOPIC_B)
    )
    chunks = SemanticChunker(default, max_tokens=200).chunk(text)
    assert_valid(chunks, text, 200, encoder_count(default))
    assert text.index("# Stars") in [c.start for c in chunks]
    whole_lines = {line.strip() for line in code.splitlines()}
    for c in chunks:  # code lines are never cut in the middle
        for line in c.text.splitlines():
            if "compute" in line:
                assert line.strip() in whole_lines


def test_batch_and_sentences(default):
    texts = [" ".join(TOPIC_A), "", "One sentence only."]
    chunker = SemanticChunker(default)
    out = chunker.chunk_batch(texts)
    assert [len(x) for x in out] == [1, 0, 1]
    assert out[0] == chunker.chunk(texts[0])
    sents = chunker.split_sentences(texts[0])
    assert [s.text for s in sents] == TOPIC_A
    assert all(s.n_tokens == default.count_tokens(s.text) for s in sents)


def test_chunking_is_deterministic_across_threads(default):
    text = " ".join((TOPIC_A + TOPIC_B) * 10)
    chunker = SemanticChunker(default, max_tokens=128)
    first = chunker.chunk(text)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(chunker.chunk, [text] * 8))
    assert all(r == first for r in results)


def test_user_tokenizer_sets_the_limit(default):
    tok = word_tokenizer()  # counts words and punctuation
    text = " ".join(TOPIC_A * 5)
    chunks = SemanticChunker(default, max_tokens=40, tokenizer=tok).chunk(text)
    count = lambda s: len(tok.encode(s, add_special_tokens=False).ids)  # noqa: E731
    assert_valid(chunks, text, 40, count)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("chunker_cls", [SemanticChunker, TokenChunker])
def test_bad_input(chunker_cls, default):
    chunker = chunker_cls(default)
    assert chunker.chunk("") == []
    assert chunker.chunk(" \n\t ") == []
    with pytest.raises(TypeError, match="text is None; expected str"):
        chunker.chunk(None)
    with pytest.raises(TypeError, match="of type bytes"):
        chunker.chunk(b"bytes")
    with pytest.raises(TypeError, match=r"texts\[1\] is None"):
        chunker.chunk_batch(["ok", None])
    for text in (".", "?!.,;:" * 300, "...." * 1000):
        assert_valid(chunker.chunk(text), text, 512, encoder_count(default))


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_tokens must be >= 1, got 0"):
        SemanticChunker(max_tokens=0)
    with pytest.raises(TypeError, match="max_tokens must be an int"):
        TokenChunker(max_tokens=1.5)
    with pytest.raises(ValueError, match=r"min_tokens \(600\) must not exceed max_tokens \(512\)"):
        SemanticChunker(min_tokens=600)
    with pytest.raises(ValueError, match="threshold must be 'auto' or a float"):
        SemanticChunker(threshold="high")
    with pytest.raises(ValueError, match=r"cosine similarity in \[-1, 1\]"):
        SemanticChunker(threshold=2.0)
    with pytest.raises(ValueError, match="window must be >= 1"):
        SemanticChunker(window=0)
    with pytest.raises(TypeError, match="tokenizer must be None"):
        TokenChunker(tokenizer=42)
    with pytest.raises(TypeError, match=r"encoder must be a sememe\.Encoder"):
        SemanticChunker(3.5).chunk("text")
    # a str is a model name or path, resolved as everywhere else (issue 14)
    with pytest.raises(sememe.ModelNotFoundError, match="not an encoder"):
        SemanticChunker("not an encoder").chunk("text")


def test_callable_tokenizer_must_return_a_count():
    with pytest.raises(TypeError, match="returned 'x'"):
        TokenChunker(tokenizer=lambda s: "x").chunk("some text")


def test_repr_shows_parameters():
    assert repr(SemanticChunker(max_tokens=64)) == (
        "SemanticChunker(max_tokens=64, min_tokens=None, threshold='auto', window=4)"
    )
    assert repr(TokenChunker(max_tokens=9)) == "TokenChunker(max_tokens=9)"


# ----------------------------------------------------------------------------- sentences


ABBREV = st.lists(
    st.sampled_from(
        [
            "Mr.",
            "Dr.",
            "U.S.",
            "J.",
            "Smith",
            "went",
            "home.",
            "It",
            "was",
            "late.",
            "3.",
            "5",
            "(see",
            "p. 4).",
            '"Yes."',
            "he",
            "said.",
            "No!",
            "Why?",
            "etc.",
            "e.g.",
            "the",
            "i.e.",
            "Inc.",
            "Bach",
            "A.",
            "v.",
            "1999.",
            "...",
            "And",
            "then",
            "\n",
            "\n\n",
            "'",
            ")",
            "Ph.D.",
            "St.",
            "Jan.",
            "—",
            "“Hi.”",
            "a.m.",
            "so.",
            "x\x1c.",
            "word.)",
            "end.\u3000Next",
        ]
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(words=ABBREV, sep=st.sampled_from([" ", "\n", "  ", ""]))
def test_punkt_fast_path_equals_nltk(words, sep):
    splitter = default_splitter()
    text = sep.join(words)
    assert splitter.spans(text) == list(splitter.reference.span_tokenize(text))


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("aB1 .?!\n\"')(-:,;\u2019\x1c\xa0")), max_size=80)
)
@example(text="?\n\x1c 1")  # a '?' whose next token Punkt drops as a blank line
@example(text=")?\n\x1c 1")
@example(text=":.\n\x1c 1")
def test_punkt_fast_path_equals_nltk_on_symbol_soup(text):
    splitter = default_splitter()
    assert splitter.spans(text) == list(splitter.reference.span_tokenize(text))


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is not available")
def test_punkt_fast_path_equals_nltk_on_corpora():
    splitter = default_splitter()
    for name in ("wikipedia_en_wikitasks", "nltk_gutenberg", "nltk_state_union"):
        path = SHARED / "corpus" / "sentences" / f"{name}.txt.gz"
        with gzip.open(path, "rt", encoding="utf-8") as f:
            lines = [next(f) for _ in range(3000)]
        text = "".join(lines)
        assert splitter.spans(text) == list(splitter.reference.span_tokenize(text))


def test_punkt_patterns_are_the_installed_nltks():
    """The splitter's written-out patterns are the ones NLTK builds (no NLTK import needed)."""
    from nltk.tokenize.punkt import PunktLanguageVars

    from sememe.chunking import sentences

    def same_order(pattern: str) -> str:
        # NLTK joins "?" and "!" from a set: their order follows the process's hash seed.
        return pattern.replace("!\\?", "\\?!")

    lang = PunktLanguageVars()
    for ours, theirs in (
        (sentences._NLTK_PERIOD_CONTEXT, lang.period_context_re()),
        (sentences._NLTK_REALIGN, lang.re_boundary_realignment),
        (sentences._NLTK_WORD_TOKENIZER, lang._word_tokenizer_re()),
    ):
        assert (same_order(ours[0]), ours[1]) == (same_order(theirs.pattern), theirs.flags)


def test_chunking_does_not_import_nltk():
    """NLTK's package import (about a second) is no part of a chunker's set-up."""
    import subprocess
    import sys

    code = (
        "import sys, sememe\n"
        "from sememe.chunking import SemanticChunker\n"
        "SemanticChunker(sememe.load(), max_tokens=64).chunk('Dr. Smith went home. It was late.')\n"
        "print('nltk' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_bundled_punkt_parameters_load_without_nltk_data(monkeypatch):
    import nltk

    def refuse(*args, **kwargs):
        raise AssertionError("nltk tried to find or download data")

    monkeypatch.setattr(nltk, "download", refuse)
    monkeypatch.setattr(nltk.data, "find", refuse)
    monkeypatch.setattr(nltk.data, "load", refuse)
    params = read_punkt_parameters()
    assert "dr" in params.abbrev_types and len(params.ortho_context) > 20_000
    chunks = SemanticChunker(_tiny(word_tokenizer)).chunk("Dr. Smith went home. It was late.")
    assert len(chunks) == 1


def test_markdown_units():
    text = (
        "# Title\n\nIntro one. Intro two!\n\n- item one. Still one.\n- item two\n  more.\n\n"
        "```python\nx = 1. # not a sentence end\n\ny = 2\n```\n\n| a | b |\n|---|---|\n\n"
        "---\nLast words."
    )
    units = split_units(text)
    got = [
        (text[s:e], int(k)) for s, e, k in zip(units.starts, units.ends, units.kinds, strict=True)
    ]
    assert got == [
        ("# Title", HEADING),
        ("Intro one.", PARAGRAPH),
        ("Intro two!", SENTENCE),
        ("- item one.", PARAGRAPH),
        ("Still one.", SENTENCE),
        ("- item two\n  more.", ITEM),
        ("```python", PARAGRAPH),
        ("x = 1. # not a sentence end", CODE),
        ("y = 2", CODE),
        ("```", CODE),
        ("| a | b |", PARAGRAPH),
        ("|---|---|", ITEM),
        ("---", PARAGRAPH),
        ("Last words.", PARAGRAPH),
    ]


def test_unclosed_code_fence_runs_to_the_end():
    text = "Intro.\n\n```\nline one. line two.\nline three"
    units = split_units(text)
    assert [text[s:e] for s, e in zip(units.starts, units.ends, strict=True)] == [
        "Intro.",
        "```",
        "line one. line two.",
        "line three",
    ]


# ----------------------------------------------------------------------------- metrics


def test_pk_and_windowdiff_hand_worked():
    # 5 units; reference boundary after unit 1, hypothesis after unit 2.
    assert default_k([2, 3]) == 1
    assert pk([2, 3], [3, 2]) == 0.5  # windows (1,2) and (2,3) disagree, of 4
    assert windowdiff([2, 3], [3, 2]) == 0.5
    assert pk([2, 3], [3, 2], k=2) == pytest.approx(2 / 3)
    # Two reference boundaries in one window: Pk cannot see it, WindowDiff can.
    assert pk([1, 1, 3], [2, 3], k=2) == 0.0
    assert windowdiff([1, 1, 3], [2, 3], k=2) == pytest.approx(1 / 3)
    # No hypothesis boundary at all against one in the middle of 10 units (k = 3).
    assert pk([5, 5], [10]) == pytest.approx(3 / 7)
    assert pk([4, 6], [4, 6]) == windowdiff([4, 6], [4, 6]) == 0.0
    assert boundaries_to_lengths([5, 8], 10) == [5, 3, 2]


def test_metric_errors():
    with pytest.raises(ValueError, match="covers 5 units but hypothesis covers 4"):
        pk([2, 3], [4])
    with pytest.raises(ValueError, match="segment length below 1"):
        windowdiff([2, 0, 3], [5])
    with pytest.raises(ValueError, match="k must be between 1 and 4"):
        pk([2, 3], [5], k=5)


@settings(max_examples=200, deadline=None)
@given(
    ref=st.lists(st.integers(1, 8), min_size=1, max_size=10),
    cuts=st.sets(st.integers(1, 79)),
)
def test_windowdiff_bounds_pk(ref, cuts):
    n = sum(ref)
    if n < 2:
        return
    hyp = boundaries_to_lengths([c for c in cuts if c < n], n)
    p, w = pk(ref, hyp), windowdiff(ref, hyp)
    assert 0.0 <= p <= w <= 1.0
    assert pk(ref, ref) == windowdiff(ref, ref) == 0.0


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is not available")
def test_beats_the_token_baseline_on_choi(default):
    path = SHARED / "eval" / "choi" / "choi_sets1-3.jsonl"
    with open(path, encoding="utf-8") as f:
        docs = [json.loads(line) for _, line in zip(range(30), f, strict=False)]
    scores = {}
    for name, chunker in (
        ("semantic", SemanticChunker(default)),
        ("token", TokenChunker(default)),
    ):
        errors = []
        for d in docs:
            text = " ".join(d["sentences"])
            starts = np.cumsum([0] + [len(s) + 1 for s in d["sentences"][:-1]])
            cuts = [int(np.argmin(abs(starts - c.start))) for c in chunker.chunk(text)[1:]]
            n = len(d["sentences"])
            errors.append(
                pk(boundaries_to_lengths(d["boundaries"], n), boundaries_to_lengths(cuts, n))
            )
        scores[name] = float(np.mean(errors))
    assert scores["semantic"] < 0.3 < scores["token"]


# ----------------------------------------------------------------------------- CLI


def test_cli_jsonl_and_text(tmp_path, capsys):
    from sememe.cli.main import main

    doc = "# Baking\n\n" + " ".join(TOPIC_A) + "\n\n# Stars\n\n" + " ".join(TOPIC_B) + "\n"
    path = tmp_path / "doc.md"
    path.write_text(doc, encoding="utf-8")
    assert main(["chunk", str(path), "--max-tokens", "64", "-q"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records and all(r["text"] == doc[r["start"] : r["end"]] for r in records)
    assert all(r["n_tokens"] <= 64 and r["source"] == str(path) for r in records)
    assert main(["chunk", str(path), "--format", "text", "--chunker", "token", "-q"]) == 0
    assert "--- " in capsys.readouterr().out
    out = tmp_path / "out" / "chunks.jsonl"
    assert main(["chunk", str(path), "-o", str(out), "--mkdir", "--max-tokens", "64"]) == 0
    assert "chunked 1 file(s)" in capsys.readouterr().err
    assert len(out.read_text().splitlines()) >= 2


def test_cli_errors(tmp_path, capsys):
    from sememe.cli.main import main

    assert main(["chunk", str(tmp_path / "missing.txt")]) == 1
    assert "no such file" in capsys.readouterr().err
    path = tmp_path / "a.txt"
    path.write_text("text", encoding="utf-8")
    with pytest.raises(SystemExit):  # refused by argparse (exit 2) before any work
        main(["chunk", str(path), "--max-tokens", "0"])
    assert "argument --max-tokens: must be a positive integer" in capsys.readouterr().err
    assert main(["chunk", str(path), "--threshold", "high"]) == 1
    assert "--threshold must be 'auto' or a number" in capsys.readouterr().err
