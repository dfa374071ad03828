"""The numpy sentence encoder and the essay model's optional embedding features, on a tiny
BERT model with random weights written by the tests."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.autoscore.embedding_model import reference_embedding, write_model
from tests.autoscore.test_cli import training_csv
from waa_ads.autoscore import embeddings as emb
from waa_ads.autoscore import synthetic
from waa_ads.autoscore.errors import (
    EmbeddingModelUnavailable,
    ModelCorrupt,
    ModelVersionMismatch,
)
from waa_ads.autoscore.model import MAGIC, MODEL_FILE, TrainConfig, TrainedModel, TrainingSet, train
from waa_ads.cli import app
from waa_ads.core.settings import get_settings

runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_model(tmp_path_factory.mktemp("emb") / "tiny-bert")


@pytest.fixture
def configured(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """WAA_ESSAY_EMBEDDING_MODEL_DIR points at the tiny model."""
    monkeypatch.setenv("WAA_ESSAY_EMBEDDING_MODEL_DIR", str(model_dir))
    get_settings.cache_clear()
    yield model_dir
    get_settings.cache_clear()


@pytest.fixture
def nothing_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("WAA_ESSAY_EMBEDDING_MODEL_DIR", raising=False)
    get_settings.cache_clear()
    assert emb.package_folder() is None  # the test environment has no model package
    yield
    get_settings.cache_clear()


# --- safetensors --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64, np.int64])
def test_safetensors_round_trip(tmp_path: Path, dtype: type) -> None:
    arrays = {
        "a.weight": (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype),
        "b": np.asarray([1.5, -2.25], dtype=dtype) if dtype != np.int64 else np.asarray([3, -4]),
    }
    path = tmp_path / "t.safetensors"
    emb.write_safetensors(path, arrays)
    raw = path.read_bytes()
    length = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + length])
    assert header["a.weight"]["shape"] == [2, 3, 4]
    back = emb.read_safetensors(path)
    for name, array in arrays.items():
        assert back[name].dtype == array.dtype
        np.testing.assert_array_equal(back[name], array)


def test_safetensors_bf16_and_damage(tmp_path: Path) -> None:
    values = np.asarray([1.0, -2.5, 0.15625], dtype=np.float32)
    bf16 = (values.view(np.uint32) >> 16).astype("<u2").tobytes()
    header = json.dumps({"x": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}}).encode()
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + bf16)
    np.testing.assert_array_equal(emb.read_safetensors(path)["x"], values)
    path.write_bytes(len(header).to_bytes(8, "little") + header + bf16[:4])
    with pytest.raises(ValueError, match="outside"):
        emb.read_safetensors(path)
    path.write_bytes((10**9).to_bytes(8, "little") + header)
    with pytest.raises(ValueError, match="header"):
        emb.read_safetensors(path)


# --- tokenizer ----------------------------------------------------------------------------


def tokenizer(max_length: int = 256) -> emb.WordPieceTokenizer:
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "hello", "world"]
    vocab += ["cafe", "isn", "t", "'", ",", "!", ".", "中", "a", "##a", "¿", "$"]
    return emb.WordPieceTokenizer(
        {t: i for i, t in enumerate(vocab)},
        lowercase=True,
        strip_accents=None,
        max_length=max_length,
    )


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Héllo, WORLD!", ["hello", ",", "world", "!"]),
        ("CAFÉ isn't", ["cafe", "isn", "'", "t"]),
        ("unaffable", ["un", "##aff", "##able"]),
        ("unaffablex world", ["[UNK]", "world"]),
        ("hello\u00a0world\u200b.", ["hello", "world", "."]),
        ("hello\x00\tworld", ["hello", "world"]),
        ("中文hello", ["中", "[UNK]", "hello"]),
        ("¿hello$", ["¿", "hello", "$"]),
        ("a" * 101, ["[UNK]"]),
        ("aaa", ["a", "##a", "##a"]),
        ("", []),
    ],
)
def test_tokenizer(text: str, tokens: list[str]) -> None:
    assert tokenizer().tokenize(text) == ["[CLS]", *tokens, "[SEP]"]


def test_tokenizer_cased_keeps_case_and_accents() -> None:
    t = emb.WordPieceTokenizer({"[UNK]": 0, "Café": 1, "cafe": 2}, lowercase=False)
    assert t.basic("Café") == ["Café"]
    assert t.tokenize("Café cafe") == ["[CLS]", "Café", "cafe", "[SEP]"]
    stripped = emb.WordPieceTokenizer({"[UNK]": 0}, lowercase=False, strip_accents=True)
    assert stripped.basic("Café") == ["Cafe"]


def test_tokenizer_truncates_to_max_length() -> None:
    tokens = tokenizer(max_length=6).tokenize("hello world unaffable hello world")
    assert tokens == ["[CLS]", "hello", "world", "un", "##aff", "[SEP]"]
    ids = tokenizer(max_length=6).encode("hello world unaffable hello world")
    assert ids == [2, 7, 8, 4, 5, 3]


# --- the forward pass ---------------------------------------------------------------------


TEXTS = [
    "Hello, world!",
    "the students said the library should keep its books",
    "Unaffable ideas. isn't it?",
    "",
    "中 world " * 12,
]


def test_encoder_matches_loop_reference(model_dir: Path) -> None:
    encoder = emb.SentenceEncoder(model_dir)
    tensors = emb.read_safetensors(model_dir / "model.safetensors")
    got = encoder.encode(TEXTS, batch_size=2)
    assert got.shape == (len(TEXTS), 32)
    for text, row in zip(TEXTS, got, strict=True):
        expected = reference_embedding(tensors, encoder.tokenizer.encode(text))
        np.testing.assert_allclose(row, expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)
    # Padding does not change a text's embedding: alone or batched with longer texts.
    np.testing.assert_allclose(encoder.encode([TEXTS[0]])[0], got[0], atol=1e-6)
    assert encoder.dims == 32 and encoder.tokenizer.max_length == 64


def test_half_precision_prefixed_weights_and_max_length(tmp_path: Path) -> None:
    folder = write_model(tmp_path / "half", dtype=np.float16, max_length=8, prefix="bert.")
    encoder = emb.SentenceEncoder(folder)
    assert encoder.tokenizer.max_length == 8
    text = "the students said the library should keep its books"
    ids = encoder.tokenizer.encode(text)
    assert len(ids) == 8
    tensors = {
        k.removeprefix("bert."): v
        for k, v in emb.read_safetensors(folder / "model.safetensors").items()
    }
    assert all(v.dtype == np.float16 for v in tensors.values())
    np.testing.assert_allclose(
        encoder.encode([text], long_texts="truncate")[0],
        reference_embedding(tensors, ids),
        atol=1e-5,
    )


# --- long texts: window by window -----------------------------------------------------------


def test_windows_cover_the_whole_text_sentence_by_sentence() -> None:
    tok = tokenizer(max_length=8)  # six tokens between [CLS] and [SEP]
    cls, sep = tok.vocab["[CLS]"], tok.vocab["[SEP]"]
    text = "hello world. unaffable hello! world world world world world world world world. cafe?"
    windows = tok.windows(text)
    unk = tok.vocab["[UNK]"]
    pieces = [tok.vocab.get(t, unk) for t in tok.pieces(text)]
    assert all(w[0] == cls and w[-1] == sep and len(w) <= 8 for w in windows)
    # Every token once, in order.
    assert [i for w in windows for i in w[1:-1]] == pieces
    # Whole sentences share a window while they fit; a longer sentence is cut at six tokens.
    assert [len(w) - 2 for w in windows] == [3, 5, 6, 5]
    # A text that fits is one window, the same ids as the truncating encoding.
    assert tok.windows("hello world.") == [tok.encode("hello world.")]
    assert tok.windows("") == [[cls, sep]]


def test_long_text_is_the_token_weighted_mean_of_its_windows(tmp_path: Path) -> None:
    folder = write_model(tmp_path / "short", max_length=10)
    encoder = emb.SentenceEncoder(folder)
    long_text = (
        "the students said the library should keep its books. hello world! "
        "unaffable ideas isn't it? the library should keep the books and the students. cafe"
    )
    texts = ["hello world", long_text, "the students said the library should keep its books"]
    got = encoder.encode(texts, batch_size=2)
    for text, row in zip(texts, got, strict=True):
        windows = encoder.tokenizer.windows(text)
        # Each window alone: its token vectors' mean, weighted by its number of tokens.
        means, sizes = [], []
        for w in windows:
            ids = np.asarray([w], dtype=np.int64)
            vectors = encoder.forward(ids, np.ones_like(ids, dtype=bool))[0]
            means.append(vectors.mean(axis=0))
            sizes.append(len(w))
        pooled = np.average(np.asarray(means, dtype=np.float64), axis=0, weights=sizes)
        np.testing.assert_allclose(row, pooled / np.linalg.norm(pooled), atol=1e-5)
    assert len(encoder.tokenizer.windows(long_text)) >= 4
    # A single window matches the loop-by-loop reference; truncation keeps the first only.
    tensors = emb.read_safetensors(folder / "model.safetensors")
    first = encoder.tokenizer.encode(long_text)
    np.testing.assert_allclose(
        encoder.encode([long_text], long_texts="truncate")[0],
        reference_embedding(tensors, first),
        atol=1e-5,
    )
    np.testing.assert_allclose(
        got[0], reference_embedding(tensors, encoder.tokenizer.encode(texts[0])), atol=1e-5
    )
    assert float(got[1] @ encoder.encode([long_text], long_texts="truncate")[0]) < 0.9999
    with pytest.raises(ValueError, match="long_texts"):
        encoder.encode(texts, long_texts="first")


def test_identity_and_cache(model_dir: Path, tmp_path: Path) -> None:
    a = emb.load(model_dir)
    assert emb.load(model_dir) is a
    other = emb.load(write_model(tmp_path / "model", seed=1))
    assert a.identity()["sha256"] != other.identity()["sha256"]
    assert a.identity()["vocab_sha256"] == other.identity()["vocab_sha256"]
    assert a.identity() == {
        "name": "tiny-bert",
        "sha256": a.sha256,
        "vocab_sha256": a.vocab_sha256,
        "dims": 32,
        "max_length": 64,
    }
    assert other.name.endswith("/model")  # a folder named just "model" keeps its parent


def test_missing_or_unreadable_model_folder(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingModelUnavailable, match=r"model\.safetensors missing"):
        emb.load(tmp_path)
    folder = write_model(tmp_path / "broken")
    (folder / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    with pytest.raises(EmbeddingModelUnavailable, match="cannot be read"):
        emb.load(folder)


# --- the essay model with embedding features ----------------------------------------------


def essays(n: int, seed: int) -> TrainingSet:
    e = synthetic.essays(n, seed=seed)
    return TrainingSet(e.ids, e.texts, e.scores, 0, 4)


@pytest.fixture(scope="module")
def with_embeddings(model_dir: Path) -> tuple[TrainingSet, TrainedModel]:
    data = essays(80, seed=5)
    model = train(data, TrainConfig(folds=3, embeddings=True), encoder=emb.load(model_dir))
    return data, model


def test_train_and_predict_with_embeddings(
    with_embeddings: tuple[TrainingSet, TrainedModel], model_dir: Path
) -> None:
    data, model = with_embeddings
    plain = train(data, TrainConfig(folds=3))
    assert model.report.features == plain.report.features + 32
    assert model.report.library_versions["embedding model"] == "tiny-bert"
    assert model.report.library_versions["embedding model sha256"] == emb.load(model_dir).sha256
    assert model.embedding_model is not None and model.embedding_model["dims"] == 32
    assert model.embedding_model["long_texts"] == "windows"
    assert plain.embedding_model is None
    assert model.report.qwk > 0.5
    live = synthetic.essays(20, seed=9).texts
    predictions = model.predict(live)
    assert {p.score for p in predictions} <= set(range(5))
    # The stored model scores alike once loaded with the same embedding model.
    again = TrainedModel.from_bytes(model.to_bytes(), emb.load(model_dir))
    assert [p.raw for p in again.predict(live)] == pytest.approx([p.raw for p in predictions])
    assert again.to_bytes() == model.to_bytes()
    names = [
        c.feature for c in model.explain(live[0], k=400).up + model.explain(live[0], k=400).down
    ]
    assert any(n.startswith("embedding dimension ") for n in names)
    # The embeddings change the predictions (they are used, not just stored).
    assert [p.raw for p in plain.predict(live)] != pytest.approx([p.raw for p in predictions])


def test_load_uses_the_configured_folder(
    with_embeddings: tuple[TrainingSet, TrainedModel], configured: Path, tmp_path: Path
) -> None:
    _, model = with_embeddings
    model.save(tmp_path / "m")
    loaded = TrainedModel.load(tmp_path / "m")
    assert loaded.predict(["the library should keep its books"])[0].raw == pytest.approx(
        model.predict(["the library should keep its books"])[0].raw
    )


def test_refused_when_the_embedding_model_differs(
    with_embeddings: tuple[TrainingSet, TrainedModel],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, model = with_embeddings
    data = model.to_bytes()
    other = write_model(tmp_path / "other-bert", seed=2)
    with pytest.raises(ModelVersionMismatch, match=r"other-bert .*differs in sha256"):
        TrainedModel.from_bytes(data, emb.load(other))
    monkeypatch.setenv("WAA_ESSAY_EMBEDDING_MODEL_DIR", str(other))
    get_settings.cache_clear()
    try:
        with pytest.raises(ModelVersionMismatch, match="tiny-bert"):
            TrainedModel.from_bytes(data)
    finally:
        get_settings.cache_clear()


def test_refused_when_no_embedding_model_is_installed(
    with_embeddings: tuple[TrainingSet, TrainedModel], nothing_installed: None
) -> None:
    _, model = with_embeddings
    with pytest.raises(ModelVersionMismatch, match="not available here"):
        TrainedModel.from_bytes(model.to_bytes())
    with pytest.raises(EmbeddingModelUnavailable, match="WAA_ESSAY_EMBEDDING_MODEL_DIR"):
        train(essays(30, seed=1), TrainConfig(folds=3, embeddings=True))
    # Models without embedding features need none.
    plain = train(essays(30, seed=1), TrainConfig(folds=3))
    assert TrainedModel.from_bytes(plain.to_bytes()).embedding_model is None


def test_installed_package_is_found_without_importing_it(
    tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch, nothing_installed: None
) -> None:
    package = tmp_path / "site" / emb.PACKAGE
    (package / "model").mkdir(parents=True)
    # Importing the package would fail: only its folder may be read.
    (package / "__init__.py").write_text("raise ImportError('needs torch')\n", encoding="utf-8")
    for name in ("config.json", "vocab.txt", "model.safetensors"):
        (package / "model" / name).write_bytes((model_dir / name).read_bytes())
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert emb.package_folder() == package / "model"
    assert emb.available()
    encoder = emb.installed_encoder()
    assert encoder.name == f"{emb.PACKAGE}/model"
    assert encoder.sha256 == emb.load(model_dir).sha256


# --- the command line ---------------------------------------------------------------------


def test_cli_trains_with_embeddings(configured: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    result = runner.invoke(
        app,
        ["essay-model", "train", str(training_csv(tmp_path / "train.csv")), "--out", str(out),
         "--folds", "3", "--embeddings"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    versions = json.loads(result.stdout)["metrics"]["library_versions"]
    assert versions["embedding model"] == "tiny-bert"
    answers = tmp_path / "answers.csv"
    answers.write_text("id,text\na1,the library should keep its books\n", encoding="utf-8")
    result = runner.invoke(app, ["essay-model", "predict", str(out), str(answers)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].startswith("a1,")


def test_cli_without_an_embedding_model(nothing_installed: None, tmp_path: Path) -> None:
    out = tmp_path / "model"
    result = runner.invoke(
        app,
        ["essay-model", "train", str(training_csv(tmp_path / "train.csv")), "--out", str(out),
         "--folds", "3", "--embeddings"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "error: --embeddings: no sentence-embedding model is installed" in result.stderr
    assert not (out / MODEL_FILE).exists() and not out.exists()


def _rewritten(data: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    """A model file with its ``model.json`` changed and its SHA-256 recomputed."""
    body = data[len(MAGIC) + 65 :]
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(body)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename == "model.json":
                meta = json.loads(content)
                change(meta)
                content = json.dumps(meta, sort_keys=True).encode()
            dst.writestr(info, content)
    new = out.getvalue()
    return MAGIC + hashlib.sha256(new).hexdigest().encode() + b"\n" + new


def test_models_trained_before_windows_keep_embedding_the_first_window(
    with_embeddings: tuple[TrainingSet, TrainedModel], model_dir: Path
) -> None:
    _, model = with_embeddings
    encoder = emb.load(model_dir)
    live = [" ".join(synthetic.essays(6, seed=11).texts)]  # longer than one window
    assert len(encoder.tokenizer.windows(live[0])) > 1
    old = TrainedModel.from_bytes(
        _rewritten(model.to_bytes(), lambda m: m["embedding"].pop("long_texts")), encoder
    )
    assert old.predict(live)[0].raw != pytest.approx(model.predict(live)[0].raw)
    # The old model's columns are those of the first window's embedding.
    rep = old._p.rep
    assert rep.embedding is not None and rep.embedding.long_texts == "truncate"
    np.testing.assert_allclose(
        rep.embedding.transform(live),
        rep.embedding.columns(encoder.encode(live, long_texts="truncate")),
    )
    with pytest.raises(ModelCorrupt, match="long answers"):
        TrainedModel.from_bytes(
            _rewritten(model.to_bytes(), lambda m: m["embedding"].update(long_texts="x")), encoder
        )
