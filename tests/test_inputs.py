"""Inputs users pass as texts (issue 16): pandas, polars, pyarrow columns and frames, the
sentence-transformers encode keywords, and the errors for what is not one column of texts."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sememe import _inputs
from sememe.errors import InvalidArgumentError, InvalidTypeError, SememeError

pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")

TEXTS = ["the cat sat on the mat", "a dog ran in the park", "", "stock market fell sharply"]


def columns_of(texts: list[str]) -> dict[str, object]:
    """The same texts in every container sememe reads as one column of texts."""
    half = len(texts) // 2
    return {
        "list": texts,
        "tuple": tuple(texts),
        "generator": (t for t in texts),
        "numpy": np.array(texts, dtype=object),
        "numpy str": np.array(texts, dtype=str) if texts else np.array([], dtype=str),
        "pandas Series": pd.Series(texts, dtype=object),
        "pandas Series str": pd.Series(texts, dtype="string"),
        "pandas one-column DataFrame": pd.DataFrame({"text": texts}, dtype=object),
        "pandas Index": pd.Index(texts, dtype=object),
        "polars Series": pl.Series("text", texts, dtype=pl.Utf8),
        "polars one-column DataFrame": pl.DataFrame({"text": texts}, schema={"text": pl.Utf8}),
        "pyarrow Array": pa.array(texts, type=pa.string()),
        "pyarrow large_string": pa.array(texts, type=pa.large_string()),
        "pyarrow dictionary": pa.array(texts, type=pa.string()).dictionary_encode(),
        "pyarrow ChunkedArray": pa.chunked_array([texts[:half], texts[half:]], type=pa.string()),
        "pyarrow Table": pa.table({"text": pa.array(texts, type=pa.string())}),
        "pyarrow RecordBatch": pa.record_batch([pa.array(texts, type=pa.string())], ["text"]),
    }


@pytest.mark.parametrize("kind", list(columns_of(TEXTS)))
def test_every_column_container_gives_the_texts_in_order(kind) -> None:
    assert _inputs.as_list(columns_of(TEXTS)[kind]) == TEXTS
    batches = list(_inputs.iter_batches(columns_of(TEXTS)[kind], 3))
    assert [len(b) for b in batches] == [3, 1]
    assert [t for b in batches for t in b] == TEXTS


@pytest.mark.parametrize("kind", list(columns_of(TEXTS)))
def test_encode_is_the_same_for_every_container(default, kind) -> None:
    expected = default.encode(TEXTS)
    got = default.encode(columns_of(TEXTS)[kind])
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("kind", list(columns_of(TEXTS)))
def test_empty_containers_give_no_rows(default, kind) -> None:
    out = default.encode(columns_of([])[kind])
    assert out.shape == (0, default.dim)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=12), st.integers(1, 5))
def test_batches_of_any_column_join_back_to_the_input(texts, batch_size) -> None:
    for kind in ("pandas Series", "polars Series", "pyarrow ChunkedArray", "pyarrow Table"):
        value = columns_of(texts)[kind]
        batches = list(_inputs.iter_batches(value, batch_size))
        assert [t for b in batches for t in b] == texts, kind
        assert all(1 <= len(b) <= batch_size for b in batches)


# --------------------------------------------------------------------------- refusals

TWO_COLUMNS = {
    "pandas": (pd.DataFrame({"title": ["a"], "body": ["b"]}), "pandas DataFrame"),
    "polars": (pl.DataFrame({"title": ["a"], "body": ["b"]}), "polars DataFrame"),
    "pyarrow": (pa.table({"title": ["a"], "body": ["b"]}), "pyarrow Table"),
    "record batch": (
        pa.record_batch([pa.array(["a"]), pa.array(["b"])], ["title", "body"]),
        "pyarrow RecordBatch",
    ),
}


@pytest.mark.parametrize("kind", list(TWO_COLUMNS))
def test_a_frame_with_several_columns_is_refused_naming_them(default, kind) -> None:
    frame, name = TWO_COLUMNS[kind]
    pattern = rf"texts is a {name} with 2 columns \('title', 'body'\); pass the one column"
    for call in (default.encode, default.encode_binary, default.count_tokens, default.tokenize):
        with pytest.raises(InvalidArgumentError, match=pattern):
            call(frame)
    with pytest.raises(InvalidArgumentError, match=r"e\.g\. texts\['title'\]"):
        _inputs.as_list(frame)


def test_the_chosen_column_of_a_frame_works(default) -> None:
    frame = pd.DataFrame({"title": ["x", "y"], "body": TEXTS[:2]})
    np.testing.assert_array_equal(default.encode(frame["body"]), default.encode(TEXTS[:2]))
    lazy = pl.DataFrame({"title": ["x", "y"], "body": TEXTS[:2]})
    np.testing.assert_array_equal(default.encode(lazy["body"]), default.encode(TEXTS[:2]))
    table = pa.table({"title": ["x", "y"], "body": TEXTS[:2]})
    np.testing.assert_array_equal(default.encode(table["body"]), default.encode(TEXTS[:2]))


def test_frames_without_columns_and_lazy_frames_are_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="pandas DataFrame with no columns"):
        _inputs.as_list(pd.DataFrame())
    with pytest.raises(InvalidArgumentError, match="polars DataFrame with no columns"):
        _inputs.as_list(pl.DataFrame())
    with pytest.raises(InvalidTypeError, match=r"polars LazyFrame; collect\(\) it"):
        _inputs.as_list(pl.DataFrame({"t": ["a"]}).lazy())


MISSING = {
    "pandas None": (pd.Series(["a", "b", None], dtype=object), "None"),
    "pandas NaN": (pd.Series(["a", "b", np.nan], dtype=object), r"NaN \(a missing value\)"),
    "pandas NA": (pd.Series(["a", "b", pd.NA], dtype=object), r"<NA> \(a missing value\)"),
    "pandas string NA": (pd.Series(["a", "b", None], dtype="string"), r"<NA> \(a missing value\)"),
    "polars null": (pl.Series(["a", "b", None]), "None"),
    "pyarrow null": (pa.array(["a", "b", None]), "None"),
    "pyarrow chunked null": (pa.chunked_array([["a"], ["b", None]]), "None"),
    "pyarrow table null": (pa.table({"t": ["a", "b", None]}), "None"),
}


@pytest.mark.parametrize("kind", list(MISSING))
def test_a_missing_value_is_refused_with_its_position(default, kind) -> None:
    value, what = MISSING[kind]
    with pytest.raises(InvalidTypeError, match=rf"texts\[2\] is {what}.*; expected str"):
        default.encode(value)


def test_non_text_columns_name_the_type_and_position(default) -> None:
    with pytest.raises(InvalidTypeError, match=r"texts\[0\] is of type int; expected str"):
        default.encode(pl.Series([1, 2]))
    with pytest.raises(InvalidTypeError, match=r"texts\[0\] is of type bytes; expected str"):
        default.encode(pa.array([b"x"], type=pa.binary()))
    with pytest.raises(InvalidArgumentError, match=r"2-D array of shape \(2, 2\)"):
        default.encode(np.array([["a", "b"], ["c", "d"]]))


def test_the_old_refusals_still_hold() -> None:
    for bad, pattern in [
        (None, "texts is None"),
        (b"abc", "decode it to str first"),
        ({"a": 1}, "keys or column names"),
        ({"a", "b"}, "keys or column names"),
        (3, "expected a str or an iterable of str"),
    ]:
        with pytest.raises(InvalidTypeError, match=pattern):
            _inputs.as_list(bad)
        with pytest.raises(InvalidTypeError, match=pattern):
            list(_inputs.iter_batches(bad, 4))


def test_importing_sememe_imports_no_frame_library() -> None:
    code = (
        "import sys, sememe; sememe.load().encode(['a text']); "
        "print(sorted(m for m in ('pandas', 'polars', 'pyarrow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- ST keywords


def test_sentence_transformers_keywords_are_sememe_options(default) -> None:
    texts = TEXTS
    np.testing.assert_array_equal(
        default.encode(texts, show_progress_bar=False, convert_to_numpy=True, batch_size=2),
        default.encode(texts),
    )
    np.testing.assert_array_equal(
        default.encode(texts, normalize_embeddings=False), default.encode(texts, normalize=False)
    )
    np.testing.assert_array_equal(
        default.encode(texts, truncate_dim=64), default.encode(texts, dim=64)
    )
    # the same value under both names is fine (numpy bools too)
    default.encode(texts, normalize=True, normalize_embeddings=True)
    default.encode(texts, normalize=np.True_, normalize_embeddings=True)
    with pytest.raises(InvalidArgumentError, match="disagree"):
        default.encode(texts, dim=1, truncate_dim=True)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"normalize": True, "normalize_embeddings": False}, "normalize_embeddings=False disagree"),
        ({"show_progress": True, "show_progress_bar": False}, "show_progress_bar=False disagree"),
        ({"dim": 64, "truncate_dim": 32}, "truncate_dim=32 disagree"),
        ({"convert_to_numpy": False}, "convert_to_numpy=False without convert_to_tensor"),
        ({"precision": "int8"}, "needs calibration ranges"),
        ({"precision": "uint8"}, "needs calibration ranges"),
        ({"precision": "float16"}, "precision must be one of 'float32', 'ubinary', 'binary'"),
        ({"truncate_dim": 0}, "dim must be between 1 and"),
    ],
)
def test_bad_sentence_transformers_keywords_are_clear_errors(default, kwargs, pattern) -> None:
    with pytest.raises(InvalidArgumentError, match=pattern):
        default.encode(TEXTS, **kwargs)


def test_keyword_types_are_checked(default) -> None:
    with pytest.raises(InvalidTypeError, match="convert_to_tensor must be a bool"):
        default.encode(TEXTS, convert_to_tensor="yes")
    with pytest.raises(InvalidTypeError, match="convert_to_numpy must be a bool"):
        default.encode(TEXTS, convert_to_numpy=None)
    with pytest.raises(TypeError, match="prompt_name"):
        default.encode(TEXTS, prompt_name="query")  # not a sememe option: Python's own error


def test_convert_to_tensor_gives_a_cpu_torch_tensor(default) -> None:
    torch = pytest.importorskip("torch")
    vectors = default.encode(TEXTS)
    tensor = default.encode(TEXTS, convert_to_tensor=True)
    assert isinstance(tensor, torch.Tensor)
    assert tensor.dtype == torch.float32 and tensor.device.type == "cpu"
    np.testing.assert_array_equal(tensor.numpy(), vectors)
    one = default.encode(TEXTS[0], convert_to_tensor=True, convert_to_numpy=False)
    assert tuple(one.shape) == (default.dim,)


def test_convert_to_tensor_without_torch_names_the_package(default, monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("no torch here")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(ImportError, match=r"convert_to_tensor=True\) needs torch") as info:
        default.encode(TEXTS, convert_to_tensor=True)
    assert isinstance(info.value, SememeError)


@pytest.mark.parametrize("precision", ["ubinary", "binary"])
def test_binary_precisions_are_sentence_transformers_bytes(default, precision) -> None:
    quantization = pytest.importorskip("sentence_transformers.util.quantization")
    vectors = default.encode(TEXTS)
    expected = quantization.quantize_embeddings(vectors, precision)
    got = default.encode(TEXTS, precision=precision)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    one = default.encode(TEXTS[0], precision=precision)
    np.testing.assert_array_equal(one, expected[0])


def test_ubinary_has_the_hamming_distances_of_encode_binary(default) -> None:
    st_codes = default.encode(TEXTS, precision="ubinary")
    faiss_codes = default.encode_binary(TEXTS)

    def hamming(codes: np.ndarray) -> np.ndarray:
        bits = np.unpackbits(codes, axis=1)
        return (bits[:, None, :] != bits[None, :, :]).sum(-1)

    np.testing.assert_array_equal(hamming(st_codes), hamming(faiss_codes))


class _Text(str):
    """A str subclass (as numpy.str_ is): a valid text."""


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=5),
            st.text(max_size=5).map(_Text),
            st.text(max_size=5).map(np.str_),
            st.none(),
            st.integers(),
            st.binary(max_size=3),
        ),
        max_size=12,
    ),
    st.integers(0, 1000),
)
def test_check_texts_accepts_every_str_and_names_the_first_other_item(items, offset):
    """The fast all-``str`` path and the per-item loop agree: ``str`` subclasses pass,
    anything else raises naming its global row, and a valid list comes back as is."""
    bad = [i for i, item in enumerate(items) if not isinstance(item, str)]
    if not bad:
        assert _inputs.check_texts(items, offset) is items
        return
    with pytest.raises(InvalidTypeError, match=rf"^texts\[{offset + bad[0]}\] "):
        _inputs.check_texts(items, offset)


class _Unhashable(type):
    __hash__ = None  # type: ignore[assignment]


class _PosesAsStr(type):
    def __eq__(cls, other: object) -> bool:
        return True

    def __hash__(cls) -> int:
        return hash(str)


def test_check_texts_judges_item_types_by_identity():
    """A type whose metaclass cannot be hashed, or claims to equal ``str``, is still not
    ``str``: the clear error naming the row, never a TypeError or a pass."""
    unhashable = _Unhashable("Unhashable", (), {})()
    poser = _PosesAsStr("Poser", (), {})()
    for items, row in (
        (["a", unhashable], 1),
        (["a", poser], 1),
        ([poser, "b"], 0),
    ):
        with pytest.raises(InvalidTypeError, match=rf"^texts\[{row + 3}\] "):
            _inputs.check_texts(items, 3)
