"""Every user mistake in dedupe is a sememe error naming the argument; a failed
``Deduplicator.update`` changes nothing."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import WORDS, tiny_encoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sememe import Deduplicator, dedupe
from sememe.errors import InvalidArgumentError, InvalidTypeError, SememeError

TINY = tiny_encoder(dim=16, seed=3)
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 0.0, -0.1, 1.0001, True])
def test_bad_thresholds_everywhere(bad):
    with pytest.raises(SememeError, match="threshold"):
        dedupe(["a", "b"], threshold=bad, encoder=TINY)
    with pytest.raises(SememeError, match="min_threshold"):
        dedupe(["a", "b"], min_threshold=bad, encoder=TINY)
    result = dedupe(["cat sat", "dog ran"], encoder=TINY)
    with pytest.raises(SememeError, match="threshold"):
        result.rethreshold(bad)
    with pytest.raises(SememeError, match="threshold"):
        Deduplicator(bad, encoder=TINY).update(["a"])


def test_nan_threshold_is_a_value_error_naming_it():
    with pytest.raises(InvalidArgumentError, match=r"threshold must be a finite number, got nan"):
        dedupe(["a"], threshold=float("nan"), encoder=TINY)
    with pytest.raises(InvalidTypeError, match="threshold must be a number"):
        dedupe(["a"], threshold="0.9", encoder=TINY)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"keep": "random"}, InvalidArgumentError, "keep must be one of"),
        ({"keep": None}, InvalidArgumentError, "keep must be one of"),
        ({"key": 3}, InvalidTypeError, "key must be None, a field name"),
        ({"target_size": -1}, InvalidArgumentError, "target_size"),
        ({"target_size": 2.5}, InvalidTypeError, "target_size"),
        ({"search": "fast"}, InvalidArgumentError, "search must be one of"),
        ({"nprobe": 0}, InvalidArgumentError, "nprobe"),
        ({"cell_size": 1.5}, InvalidTypeError, "cell_size"),
        ({"encoder": 3.5}, InvalidTypeError, "encoder must be a sememe.Encoder"),
        ({"against": [None]}, InvalidTypeError, r"against\[0\] is None"),
        ({"against": ["ok", 3]}, InvalidTypeError, r"against\[1\] is of type int"),
        ({"against": "one text"}, InvalidTypeError, "against is a single str"),
    ],
)
def test_argument_mistakes_are_sememe_errors(kwargs, error, match):
    kwargs = {"encoder": TINY, **kwargs}
    with pytest.raises(error, match=match):
        dedupe(["cat sat", "dog ran"], **kwargs)


def test_record_mistakes_keep_their_builtin_types():
    with pytest.raises(InvalidTypeError, match=r"records\[1\] is None"):
        dedupe(["a", None], encoder=TINY)
    with pytest.raises(InvalidTypeError, match="single bytes"):
        dedupe(b"ab", encoder=TINY)
    with pytest.raises(InvalidTypeError, match="is a dict"):  # its keys are not the texts
        dedupe({"cat sat": 1, "dog ran": 2}, encoder=TINY)
    with pytest.raises(KeyError, match=r"records\[0\] has no field 'body'") as info:
        dedupe([{"text": "a"}], key="body", encoder=TINY)
    assert isinstance(info.value, SememeError)
    assert str(info.value).startswith("records[0]")  # not quoted like a plain KeyError
    result = dedupe(["a", "b"], encoder=TINY)
    with pytest.raises(IndexError, match="out of range") as info:
        result.explain(2)
    assert isinstance(info.value, SememeError)
    with pytest.raises(InvalidTypeError, match="must be an integer"):
        result.explain("0")
    with pytest.raises(InvalidArgumentError, match="format must be one of"):
        result.write("out.txt", format="xml")


# ---------------------------------------------------------------------- failed updates

word = st.sampled_from(WORDS[:12])
text = st.lists(word, min_size=0, max_size=4).map(" ".join)
bad_item = st.sampled_from([None, 3, b"bytes", 2.5, ["a"], float("nan")])


def snapshot(dd: Deduplicator) -> tuple:
    return (
        dd.n_seen_,
        dd._ids.tolist(),
        dict(dd._hashes),
        dd._index.vectors.tobytes(),
        len(dd._index),
    )


@FAST
@given(
    batches=st.lists(
        st.tuples(st.lists(text, max_size=8), st.none() | st.tuples(st.integers(0, 8), bad_item)),
        min_size=1,
        max_size=6,
    )
)
def test_a_failed_update_changes_nothing_and_good_ones_conserve(batches):
    dd = Deduplicator(0.95, encoder=TINY)
    dd.reset()
    position = 0
    for texts, bad in batches:
        if bad is None:
            r = dd.update(texts)
            assert sorted(r.kept + [d.index for d in r.removed]) == list(range(len(texts)))
            assert r.offset == position
            position += len(texts)
        else:
            at, item = bad
            broken = list(texts)
            broken.insert(min(at, len(broken)), item)
            before = snapshot(dd)
            with pytest.raises(SememeError):
                dd.update(broken)
            assert snapshot(dd) == before
        assert dd.n_seen_ == position


def test_a_failed_update_with_a_bad_parameter_changes_nothing():
    dd = Deduplicator(0.95, encoder=TINY)
    dd.update(["cat sat", "dog ran"])
    before = snapshot(dd)
    dd.threshold = float("nan")
    with pytest.raises(InvalidArgumentError, match="threshold"):
        dd.update(["fish swim"])
    assert snapshot(dd) == before
    dd.threshold = 0.95
    assert dd.update(["fish swim"]).offset == 2
    assert np.all(dd._ids < dd.n_seen_)
