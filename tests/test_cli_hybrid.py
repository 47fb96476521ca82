"""The command line of hybrid search and the RAG path (issue 15): index build --lexical
--chunk --max-tokens, search --mode/--alpha/--fusion, passages with document ids and offsets."""

from __future__ import annotations

import json
import re

import pytest

from sememe.cli.main import main
from sememe.index import Index

DOCS = [
    {
        "id": "pets",
        "text": "The cat sat on the mat. The dog ran in the park. Cats and dogs are pets "
        "that many families keep at home.",
        "lang": "en",
    },
    {
        "id": "money",
        "text": "The stock market fell sharply today. Interest rates at the bank rose, and "
        "loans became more expensive for everyone.",
        "lang": "en",
    },
    {"id": "blank", "text": "   ", "lang": "en"},
    {"id": "fr", "text": "Le chat est sur le tapis. Le chien court dans le parc.", "lang": "fr"},
]


pytestmark = pytest.mark.usefixtures("memory_tempdir")


@pytest.fixture
def docs(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in DOCS), encoding="utf-8")
    return path


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("sememe: error:") and "Traceback" not in err
    return lines[0]


def test_build_chunked_hybrid_and_search_passages(tmp_path, capsys, docs):
    out = tmp_path / "ix"
    args = ["index", "build", str(docs), "-o", str(out), "--lexical", "--chunk"]
    assert main([*args, "--max-tokens", "12"]) == 0
    err = capsys.readouterr().err
    assert re.search(r"indexed \d+ passages of 3 documents, 1 blank skipped", err), err
    assert "hybrid" in err
    index = Index.load(out)
    assert index.lexical and len(index) > 3
    texts = {r["id"]: r["text"] for r in DOCS}
    for chunk_id in index.ids:
        m = index.get(chunk_id).metadata
        assert texts[m["document"]][m["start"] : m["end"]] == index.get(chunk_id).text
        assert m["lang"] in ("en", "fr")  # the record's other fields are kept

    assert main(["search", str(out), "interest rates at the bank", "-k", "3"]) == 0
    table = capsys.readouterr().out.splitlines()
    first = table[0].split()
    assert first[0] == "1" and first[2] == "money"
    start, end = map(int, re.fullmatch(r"\[(\d+):(\d+)\]", first[3]).groups())
    assert table[1].strip() == " ".join(texts["money"][start:end].split())

    assert main(["search", str(out), "cat on the mat", "--json", "-k", "3"]) == 0
    row = json.loads(capsys.readouterr().out)
    hits = row["hits"]
    assert hits and hits[0]["metadata"]["document"] == "pets"
    assert all("dense_score" in h for h in hits)
    assert any("lexical_score" in h for h in hits)
    for h in hits:
        m = h["metadata"]
        assert texts[m["document"]][m["start"] : m["end"]] == h["text"]


def test_search_modes_alpha_and_fusion(tmp_path, capsys, docs):
    out = tmp_path / "ix"
    assert main(["-q", "index", "build", str(docs), "-o", str(out), "--lexical"]) == 0
    capsys.readouterr()
    assert main(["search", str(out), "stock market", "--json", "--mode", "lexical"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert [h["id"] for h in hits] == ["money"]
    assert "dense_score" not in hits[0] and hits[0]["lexical_score"] == hits[0]["score"]
    assert main(["search", str(out), "stock market", "--json", "--mode", "dense"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert len(hits) == 3 and all(set(h) == {"id", "score", "text", "metadata"} for h in hits)
    for extra in (["--alpha", "0.0"], ["--fusion", "rrf"], ["--alpha", "1", "--fusion", "zscore"]):
        assert main(["search", str(out), "stock market", "--json", *extra]) == 0
        hits = json.loads(capsys.readouterr().out)["hits"]
        assert hits[0]["id"] == "money" and hits[0]["lexical_score"] > 0
    assert main(["search", str(out), "stock", "--alpha", "1.5"]) == 1
    assert "alpha" in one_error_line(capsys)
    assert main(["search", str(out), "stock", "--mode", "dense", "--alpha", "0.5"]) == 1
    assert "alpha" in one_error_line(capsys)
    assert main(["search", str(out), "stock", "--where", "lang=fr", "--json"]) == 0
    assert [h["id"] for h in json.loads(capsys.readouterr().out)["hits"]] == ["fr"]


def test_build_saves_alpha_and_fusion(tmp_path, capsys, docs):
    out = tmp_path / "ix"
    args = ["-q", "index", "build", str(docs), "-o", str(out), "--lexical"]
    assert main([*args, "--alpha", "0.7", "--fusion", "rrf"]) == 0
    loaded = Index.load(out)
    assert (loaded.alpha, loaded.fusion) == (0.7, "rrf")
    other = tmp_path / "other"
    assert main(["-q", "index", "build", str(docs), "-o", str(other), "--alpha", "0.7"]) == 1
    assert "--lexical" in one_error_line(capsys)
    assert not other.exists()
    assert main([*args, "--alpha", "nan", "--overwrite"]) == 1
    assert "alpha" in one_error_line(capsys)
    assert Index.load(out).alpha == 0.7  # the failed build left the folder alone


def test_max_tokens_without_chunk_is_one_line_error(tmp_path, capsys, docs):
    out = tmp_path / "ix"
    assert main(["index", "build", str(docs), "-o", str(out), "--max-tokens", "8"]) == 1
    assert "--chunk" in one_error_line(capsys)
    assert not out.exists()


def test_lexical_mode_on_a_dense_index_is_one_line_error(tmp_path, capsys, docs):
    out = tmp_path / "ix"
    assert main(["-q", "index", "build", str(docs), "-o", str(out)]) == 0
    capsys.readouterr()
    for mode in ("lexical", "hybrid"):
        assert main(["search", str(out), "cat", "--mode", mode]) == 1
        assert "lexical" in one_error_line(capsys)
    assert main(["search", str(out), "cat", "--json"]) == 0  # dense by default
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert all("dense_score" not in h and "lexical_score" not in h for h in hits)


def test_bad_mode_is_refused_by_argparse(tmp_path, capsys, docs):
    with pytest.raises(SystemExit):
        main(["search", str(tmp_path / "none"), "cat", "--mode", "sparse"])
    assert "--mode" in capsys.readouterr().err
