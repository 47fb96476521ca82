"""The training pipeline on a tiny random BERT teacher and a tiny student (offline, seconds)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402

import sememe  # noqa: E402
from sememe.training import contrastive, distill, pairs, tokenlearn  # noqa: E402
from sememe.training.__main__ import main as train_main  # noqa: E402
from sememe.training.student import Student, to_encoder, tokenize  # noqa: E402
from sememe.training.teacher import Teacher, TeacherCache, encode_cached  # noqa: E402

SUBJECTS = ["the cat", "a dog", "my neighbour", "the old farmer", "a small child", "the teacher"]
VERBS = ["eats", "sees", "likes", "paints", "finds", "carries"]
OBJECTS = ["an apple", "the red ball", "a heavy box", "fresh bread", "a long letter", "the map"]


def _sentences(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        s, v, o = rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS)
        tail = rng.choice(["", " today", " in the garden", " at night", " again"])
        out.append(f"{s} {v} {o}{tail}.")
    return out


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return list(dict.fromkeys(_sentences(600)))


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory: pytest.TempPathFactory, corpus: list[str]) -> Path:
    """A sentence-transformers folder: random 1-layer BERT, WordPiece, mean pooling, Normalize."""
    folder = tmp_path_factory.mktemp("teacher")
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(
        corpus, trainers.WordPieceTrainer(vocab_size=120, special_tokens=special)
    )
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))],
    )
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    fast.save_pretrained(folder)
    config = transformers.BertConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(folder)
    (folder / "modules.json").write_text(
        json.dumps(
            [
                {
                    "idx": 0,
                    "name": "0",
                    "path": "",
                    "type": "sentence_transformers.models.Transformer",
                },
                {
                    "idx": 1,
                    "name": "1",
                    "path": "1_Pooling",
                    "type": "sentence_transformers.models.Pooling",
                },
                {
                    "idx": 2,
                    "name": "2",
                    "path": "2_Normalize",
                    "type": "sentence_transformers.models.Normalize",
                },
            ]
        )
    )
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True})
    )
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 64}))
    return folder


@pytest.fixture(scope="module")
def teacher(teacher_dir: Path) -> Teacher:
    return Teacher.load(teacher_dir)


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory: pytest.TempPathFactory, corpus: list[str]) -> Path:
    """A 16-d sememe model with its own small BPE tokenizer (the student's vocabulary)."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=150, special_tokens=["<unk>"]))
    rng = np.random.default_rng(0)
    table = rng.normal(size=(tok.get_vocab_size(), 16)).astype(np.float32)
    enc = to_encoder(
        tok,
        table,
        None,
        name="tiny",
        description="",
        provenance={},
        license="MIT",
        matryoshka_dims=(8, 16),
        max_tokens=64,
    )
    folder = tmp_path_factory.mktemp("student") / "tiny"
    enc.save(folder)
    return folder


# --------------------------------------------------------------------------- teacher


def test_teacher_matches_a_direct_transformers_pass(teacher: Teacher, teacher_dir: Path) -> None:
    texts = ["the cat eats an apple.", "a dog sees the map at night."]
    got = teacher.encode(texts)
    tok = transformers.AutoTokenizer.from_pretrained(teacher_dir)
    model = transformers.AutoModel.from_pretrained(teacher_dir).eval()
    with torch.no_grad():
        batch = tok(texts, padding=True, return_tensors="pt")
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        want = ((hidden * mask).sum(1) / mask.sum(1)).numpy()
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    assert got.shape == (2, 32)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert (teacher.pooling, teacher.normalize, teacher.max_length) == ("mean", True, 64)


def test_teacher_rejects_unknown_modules(tmp_path: Path) -> None:
    (tmp_path / "modules.json").write_text(json.dumps([{"path": "", "type": "x.Dense"}]))
    with pytest.raises(ValueError, match="unsupported module"):
        Teacher.load(tmp_path)
    with pytest.raises(FileNotFoundError):
        Teacher.load(tmp_path / "missing")


def test_cache_resumes_and_refuses_other_texts(
    teacher: Teacher, corpus: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = corpus[:250]
    cache = encode_cached(teacher, texts, tmp_path / "c", shard_size=100, max_shards=2, log=None)
    assert cache.done_shards() == [0, 1]
    got_texts, vectors = cache.load()
    assert got_texts == texts[:200] and vectors.shape == (200, 32)
    calls: list[int] = []
    real = teacher.encode
    monkeypatch.setattr(teacher, "encode", lambda t, **k: calls.append(len(t)) or real(t, **k))
    encode_cached(teacher, texts, tmp_path / "c", shard_size=100, log=None)
    assert calls == [50]  # only the missing shard was encoded
    full_texts, full = TeacherCache(tmp_path / "c").load()
    assert full_texts == texts
    np.testing.assert_allclose(full, real(texts).astype(np.float16), atol=2e-3)
    with pytest.raises(ValueError, match="other texts"):
        encode_cached(teacher, corpus[:20], tmp_path / "c", shard_size=100, log=None)
    with pytest.raises(ValueError, match="single lines"):
        encode_cached(teacher, ["a\nb"], tmp_path / "d", log=None)


# --------------------------------------------------------------------------- distillation


def test_token_texts_strip_piece_markers() -> None:
    tok = Tokenizer(models.WordLevel({"\u2581cat": 0, "##s": 1, "<unk>": 2}, unk_token="<unk>"))
    assert distill.token_texts(tok) == ["cat", "s", "<unk>"]


def test_pca_orders_and_nests() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 6)) * np.array([5, 4, 3, 2, 1, 0.5])
    pca = distill.fit_pca(x, 4)
    assert np.all(np.diff(pca.explained) <= 0)
    assert pca.transform(x).shape == (500, 4)
    assert abs(abs(pca.components[0, 0]) - 1) < 0.05
    with pytest.raises(ValueError):
        distill.fit_pca(x, 7)


# --------------------------------------------------------------------------- student and losses


def test_student_pooling_is_what_the_encoder_serves(student_dir: Path, corpus: list[str]) -> None:
    base = sememe.load(student_dir)
    rng = np.random.default_rng(1)
    weights = rng.uniform(0.2, 2.0, base.vocab_size).astype(np.float32)
    student = Student(np.asarray(base._embeddings, np.float32), weights)
    with torch.no_grad():
        student.projection.copy_(torch.tensor(rng.normal(size=(16, 16)), dtype=torch.float32))
    data = tokenize(base.tokenizer, corpus[:50])
    with torch.no_grad():
        pooled = student(*data.batch(np.arange(50))).numpy()
    table, w = student.arrays()
    served = to_encoder(
        base.tokenizer, table, w, name="x", description="", provenance={}, license="MIT"
    ).encode(corpus[:50])
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    np.testing.assert_allclose(served, pooled, atol=5e-3)  # float16 table


def test_binary_loss_passes_gradients_through_sign() -> None:
    x = torch.randn(8, 16, requires_grad=True)
    tokenlearn.binary_similarity_loss(x, torch.randn(8, 32)).backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_cosent_prefers_the_gold_order() -> None:
    a = torch.eye(3)
    good = contrastive.cosent_loss(a, a, torch.tensor([1.0, 1.0, 1.0]), (3,), 20.0)
    b = torch.tensor([[1.0, 0, 0], [0, 0, 1.0], [0, 0, 1.0]])
    scores = torch.tensor([0.0, 1.0, 0.5])  # pair 0 is identical but scored lowest
    assert float(contrastive.cosent_loss(a, b, scores, (3,), 20.0)) > float(good)


def test_tokenlearn_learns_and_resumes(
    teacher: Teacher, student_dir: Path, corpus: list[str], tmp_path: Path
) -> None:
    base = sememe.load(student_dir)
    targets = teacher.encode(corpus)
    data = tokenize(base.tokenizer, corpus)
    table = np.asarray(base._embeddings, np.float32)
    config = tokenlearn.TrainConfig(
        epochs=4, batch_size=64, lr=0.05, validation=100, matryoshka_dims=(8,), loss="relational"
    )
    student = Student(table)
    log = tokenlearn.train(student, data, targets, config, tmp_path / "ck", log=None)
    losses = [row["val_loss"] for row in log.history]
    assert losses[-1] < 0.9 * losses[0]
    # an interrupted run continues from its checkpoint rather than starting again
    resumed = Student(table)
    again = tokenlearn.train(resumed, data, targets, config, tmp_path / "ck", log=None)
    assert [r["epoch"] for r in again.history] == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(resumed.arrays()[0], student.arrays()[0])
    with pytest.raises(ValueError, match="targets"):
        tokenlearn.train(Student(table), data, targets[:10], config, log=None)


def test_pairs_loaders(tmp_path: Path) -> None:
    (tmp_path / "stsb").mkdir()
    (tmp_path / "stsb" / "train.tsv").write_text("score\ts1\ts2\n4.5\ta b\ta c\n1.0\tx\ty\n")
    (tmp_path / "quora").mkdir()
    (tmp_path / "quora" / "dev.tsv").write_text("label\ts1\ts2\n1\tq1\tq2\n0\tq3\tq4\n")
    found = pairs.eval_pairs(tmp_path)
    assert list(zip(found.anchors, found.positives, strict=True)) == [("a b", "a c"), ("q1", "q2")]
    scored = pairs.scored_pairs(tmp_path)
    assert scored.score == [0.9, 0.2]
    wn = tmp_path / "wn.jsonl.gz"
    with gzip.open(wn, "wt") as f:
        f.write(
            json.dumps(
                {
                    "lemmas": ["big_cat", "lion"],
                    "gloss": "large feline",
                    "examples": ["a lion roared"],
                }
            )
            + "\n"
        )
    got = pairs.wordnet_pairs(wn)
    assert set(got.sources) == {"wordnet-gloss", "wordnet-synonym", "wordnet-example"}
    assert ("big cat", "large feline") in zip(got.anchors, got.positives, strict=True)
    vectors = np.array([[1, 0], [0.95, 0.31], [0, 1]], dtype=np.float32)
    mined = pairs.mined_pairs(["a", "b", "c"], vectors, sample=3, threshold=0.9)
    assert sorted(zip(mined.anchors, mined.positives, strict=True)) == [("a", "b"), ("b", "a")]


# --------------------------------------------------------------------------- the command line


def _shared(root: Path, corpus: list[str]) -> Path:
    sentences = root / "corpus" / "sentences"
    sentences.mkdir(parents=True)
    with gzip.open(sentences / "tiny.txt.gz", "wt") as f:
        f.write("\n".join(corpus) + "\n")
    with gzip.open(root / "corpus" / "wordnet.jsonl.gz", "wt") as f:
        for lemma, gloss in (("apple", "a round red fruit"), ("map", "a drawing of a place")):
            f.write(json.dumps({"lemmas": [lemma], "gloss": gloss, "examples": []}) + "\n")
    for name in ("stsb", "sick"):
        (root / "eval" / name).mkdir(parents=True)
        rows = [
            f"{(i % 5) + (name == 'sick')}.0\t{corpus[i]}\t{corpus[i + 1]}"
            for i in range(0, 120, 2)
        ]
        (root / "eval" / name / "train.tsv").write_text("score\ta\tb\n" + "\n".join(rows) + "\n")
    # a scored dev text that also stands in one train pair of each set: those pairs must go
    (root / "eval" / "stsb" / "dev.tsv").write_text(f"score\ta\tb\n3.0\t{corpus[0]}\tzzz\n")
    return root


def test_pipeline_end_to_end(
    teacher_dir: Path, student_dir: Path, corpus: list[str], tmp_path: Path
) -> None:
    shared = _shared(tmp_path / "shared", corpus)
    work = tmp_path / "work"
    common = ["--work", str(work), "--shared", str(shared)]
    teach = ["--teacher", str(teacher_dir)]
    assert train_main(["teacher", *common, *teach]) == 0
    assert TeacherCache(work / "teacher" / "corpus").done_shards() == [0]
    assert (
        train_main(
            ["distill", *common, *teach, "--tokenizer-from", str(student_dir), "--dim", "16"]
        )
        == 0
    )
    distilled = sememe.load(work / "distilled")
    assert distilled.dim == 16 and distilled._weights is not None
    assert train_main(["tokenlearn", *common, "--epochs", "2", "--batch-size", "64"]) == 0
    merge = ["--models", f"{student_dir},tokenlearn", "--alphas", "1,0.5", "--dim", "16"]
    assert train_main(["merge", *common, *merge]) == 0
    assert sememe.load(work / "merged").dim == 16
    contrast = ["--init", "merged", "--epochs", "1", "--batch-size", "32", "--mined", "200"]
    assert train_main(["contrastive", *common, *contrast]) == 0
    assert train_main(["rotate", *common]) == 0
    rotated = sememe.load(work / "rotated")
    texts = ["the cat eats an apple.", "a dog sees the map.", "the teacher finds a heavy box."]
    contrasted = sememe.load(work / "contrastive")
    for d in rotated.config.matryoshka_dims:  # block rotations keep each prefix's cosines
        np.testing.assert_allclose(
            rotated.similarity(texts, texts, dim=d),
            contrasted.similarity(texts, texts, dim=d),
            atol=2e-2,
        )
    final = sememe.load(work / "contrastive")
    vectors = final.encode(["the cat eats an apple.", "a dog sees the map."])
    assert vectors.shape == (2, 16) and np.all(np.isfinite(vectors))
    provenance = final.config.provenance
    assert provenance["scored_pairs"] == 2 * 60 - 2  # the pair holding the dev text is dropped
    assert provenance["stage"] == "contrastive" and provenance["previous"]["stage"] == "merge"
    assert final.encode_binary("the cat").shape == (2,)


def test_merge_is_one_table_of_the_concatenation(student_dir: Path, corpus: list[str]) -> None:
    from sememe.training.merge import merge_tables

    a = sememe.load(student_dir)
    rng = np.random.default_rng(3)
    b = to_encoder(
        a.tokenizer,
        rng.normal(size=(a.vocab_size, 16)),
        None,
        name="b",
        description="",
        provenance={},
        license="MIT",
    )
    table = merge_tables([a, b], [1.0, 0.5], corpus, dim=32)  # full rank: a rotation
    merged = to_encoder(
        a.tokenizer, table, None, name="m", description="", provenance={}, license="MIT"
    )
    va = a.encode(corpus[:40], normalize=False)
    vb = b.encode(corpus[:40], normalize=False)
    sims = merged.similarity(corpus[:40], corpus[:40])
    assert sims.shape == (40, 40)
    # with dim = 32 nothing is dropped, so merged cosines equal those of the scaled concatenation
    sa = np.median(np.linalg.norm(a.encode(corpus, normalize=False), axis=1))
    sb = np.median(np.linalg.norm(b.encode(corpus, normalize=False), axis=1))
    cat = np.concatenate([va / sa, 0.5 * vb / sb], axis=1)
    cat /= np.linalg.norm(cat, axis=1, keepdims=True)
    np.testing.assert_allclose(sims, cat @ cat.T, atol=2e-2)
    with pytest.raises(ValueError, match="same tokenizer"):
        other = Tokenizer(models.WordLevel({"x": 0, "<unk>": 1}, unk_token="<unk>"))
        merge_tables(
            [
                a,
                to_encoder(
                    other,
                    np.ones((2, 16)),
                    None,
                    name="o",
                    description="",
                    provenance={},
                    license="MIT",
                ),
            ],
            [1, 1],
            corpus,
            16,
        )


def test_scored_texts_never_reach_training(tmp_path: Path) -> None:
    """A dev/trial sentence hidden in a train split (STS-B dev pairs come from MRPC) is dropped."""
    (tmp_path / "stsb").mkdir()
    (tmp_path / "stsb" / "dev.tsv").write_text("score\ts1\ts2\n3.0\tThe Dev  sentence.\tother\n")
    (tmp_path / "stsb" / "train.tsv").write_text(
        "score\ts1\ts2\n5.0\tthe dev sentence.\tx y\n4.5\ta\tb\n"
    )
    (tmp_path / "mrpc").mkdir()
    (tmp_path / "mrpc" / "train.tsv").write_text(
        "label\ts1\ts2\n1\tp q\tThe dev sentence.\n1\tc\td\n"
    )
    exclude = pairs.scored_texts(tmp_path)
    assert "the dev sentence." in exclude
    found = pairs.eval_pairs(tmp_path, exclude)
    assert list(zip(found.anchors, found.positives, strict=True)) == [("a", "b"), ("c", "d")]
    assert pairs.scored_pairs(tmp_path, exclude).a == ["a"]
    (tmp_path / "mrpc" / "train.tsv").write_text("label\ts1\ts2\n1\tonly two\n")
    with pytest.raises(ValueError, match=r"train.tsv:2: expected 3"):
        pairs.eval_pairs(tmp_path)


def test_a_checkpoint_of_another_run_is_not_resumed(
    teacher: Teacher, student_dir: Path, corpus: list[str], tmp_path: Path
) -> None:
    base = sememe.load(student_dir)
    targets = teacher.encode(corpus[:200])
    data = tokenize(base.tokenizer, corpus[:200])
    table = np.asarray(base._embeddings, np.float32)
    config = tokenlearn.TrainConfig(epochs=1, batch_size=64, validation=40, loss="relational")
    tokenlearn.train(Student(table), data, targets, config, tmp_path, log=None)
    messages: list[str] = []
    other = tokenlearn.TrainConfig(epochs=2, batch_size=64, validation=40, loss="relational")
    log = tokenlearn.train(Student(table), data, targets, other, tmp_path, log=messages.append)
    assert any("another run" in m for m in messages)
    assert [r["epoch"] for r in log.history] == [0, 1, 2]
    with pytest.raises(ValueError, match="at least 1"):
        tokenlearn.train(Student(table), data, targets, tokenlearn.TrainConfig(epochs=0), log=None)


def test_contrastive_does_not_train_on_its_held_out_pairs(student_dir: Path) -> None:
    base = sememe.load(student_dir)
    scored = pairs.ScoredPairs(
        ["a cat"] * 10, [f"dog {i}" for i in range(10)], [0.1 * i for i in range(10)]
    )
    _, held = scored.split(0.5, seed=0)
    only_held = pairs.Pairs(list(held.a), list(held.b), ["x"] * len(held))
    config = contrastive.ContrastiveConfig(epochs=1, held_out=0.5)
    with pytest.raises(ValueError, match="held out"):
        contrastive.fine_tune(
            Student(np.asarray(base._embeddings, np.float32)),
            base.tokenizer,
            only_held,
            scored,
            config,
            log=None,
        )


def test_itq_rotation_is_orthogonal_and_lowers_quantisation_error() -> None:
    from sememe.training.binarize import block_bounds, itq_rotation

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 8)) * np.array([8, 4, 2, 1, 0.5, 0.25, 0.1, 0.05])
    r = itq_rotation(x)
    np.testing.assert_allclose(r @ r.T, np.eye(8), atol=1e-5)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)

    def error(m: np.ndarray) -> float:
        y = xn @ m
        return float(np.linalg.norm(np.sign(y) / np.sqrt(8) - y))

    assert error(r) < error(np.eye(8))
    assert block_bounds(256, (64, 128, 256)) == [(0, 64), (64, 128), (128, 256)]


def test_wikipedia_pairs_title_heading_first_paragraph_and_blocklist(tmp_path):
    """(title or "title heading", the section's first paragraph) for every section with a
    paragraph, texts as in the file; a pair holding a blocked text is dropped."""
    articles = [
        {
            "title": "Ada Lovelace",
            "sections": [
                {"heading": None, "paragraphs": ["She wrote the first program.", "More."]},
                {"heading": "Early life", "paragraphs": []},
                {"heading": "Work", "paragraphs": [" Notes on the engine. "]},
            ],
        },
        {"title": "Blocked", "sections": [{"heading": None, "paragraphs": ["A scored TEXT"]}]},
    ]
    path = tmp_path / "articles.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(a) + "\n" for a in articles)
    queries, paragraphs = pairs.wikipedia_pairs(path, {pairs.text_key("a  scored text")})
    assert queries == ["Ada Lovelace", "Ada Lovelace Work"]
    assert paragraphs == ["She wrote the first program.", " Notes on the engine. "]
    assert len(pairs.wikipedia_pairs(path)[0]) == 3  # nothing blocked without a blocklist
