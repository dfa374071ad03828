"""A tiny BERT-style embedding model with random weights, written by the tests, and a
straightforward loop-based implementation of its forward pass to check the encoder by."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import numpy.typing as npt

from waa_ads.autoscore import synthetic
from waa_ads.autoscore.embeddings import write_safetensors

HIDDEN = 32
HEADS = 4
LAYERS = 2
INTERMEDIATE = 64
POSITIONS = 64
EPS = 1e-12

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PIECES = ["un", "##aff", "##able", "##s", "##ing", "##ed", "hello", "world", "cafe", "isn", "t"]
PUNCT = list(".,;:!?'\"()-")
LETTERS = list("abcdefghijklmnopqrstuvwxyz") + ["##" + c for c in "abcdefghijklmnopqrstuvwxyz"]


def vocabulary() -> list[str]:
    """Special tokens, some pieces, punctuation, letters, ``中`` and the synthetic essays'
    most frequent words (a few hundred tokens)."""
    counts: dict[str, int] = {}
    for text in synthetic.essays(80, seed=3).texts:
        for w in text.lower().replace(".", " ").replace(",", " ").split():
            counts[w] = counts.get(w, 0) + 1
    common = sorted(counts, key=lambda w: (-counts[w], w))[:200]
    out: list[str] = []
    for token in [*SPECIAL, *PIECES, *PUNCT, *LETTERS, "中", *common]:
        if token not in out:
            out.append(token)
    return out


def write_model(
    folder: Path,
    *,
    seed: int = 0,
    dtype: type[np.floating] = np.float32,
    max_length: int | None = None,
    prefix: str = "",
) -> Path:
    """Random weights for a 2-layer BERT in ``folder`` (config.json, vocab.txt,
    model.safetensors and, with ``max_length``, sentence_bert_config.json)."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab = vocabulary()
    rng = np.random.default_rng(seed)

    def w(*shape: int, scale: float = 0.2) -> npt.NDArray[np.floating]:
        return (rng.normal(0.0, scale, size=shape)).astype(dtype)

    t: dict[str, npt.NDArray[np.floating]] = {
        "embeddings.word_embeddings.weight": w(len(vocab), HIDDEN, scale=1.0),
        "embeddings.position_embeddings.weight": w(POSITIONS, HIDDEN),
        "embeddings.token_type_embeddings.weight": w(2, HIDDEN),
        "embeddings.LayerNorm.weight": (1.0 + w(HIDDEN, scale=0.1)).astype(dtype),
        "embeddings.LayerNorm.bias": w(HIDDEN, scale=0.1),
    }
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        for name in ("query", "key", "value"):
            t[p + f"attention.self.{name}.weight"] = w(HIDDEN, HIDDEN, scale=0.4)
            t[p + f"attention.self.{name}.bias"] = w(HIDDEN, scale=0.1)
        t[p + "attention.output.dense.weight"] = w(HIDDEN, HIDDEN)
        t[p + "attention.output.dense.bias"] = w(HIDDEN, scale=0.1)
        t[p + "attention.output.LayerNorm.weight"] = (1.0 + w(HIDDEN, scale=0.1)).astype(dtype)
        t[p + "attention.output.LayerNorm.bias"] = w(HIDDEN, scale=0.1)
        t[p + "intermediate.dense.weight"] = w(INTERMEDIATE, HIDDEN)
        t[p + "intermediate.dense.bias"] = w(INTERMEDIATE, scale=0.1)
        t[p + "output.dense.weight"] = w(HIDDEN, INTERMEDIATE)
        t[p + "output.dense.bias"] = w(HIDDEN, scale=0.1)
        t[p + "output.LayerNorm.weight"] = (1.0 + w(HIDDEN, scale=0.1)).astype(dtype)
        t[p + "output.LayerNorm.bias"] = w(HIDDEN, scale=0.1)
    write_safetensors(folder / "model.safetensors", {prefix + k: v for k, v in t.items()})
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    config = {
        "architectures": ["BertModel"],
        "hidden_act": "gelu",
        "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE,
        "layer_norm_eps": EPS,
        "max_position_embeddings": POSITIONS,
        "model_type": "bert",
        "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS,
        "type_vocab_size": 2,
        "vocab_size": len(vocab),
    }
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    if max_length is not None:
        (folder / "sentence_bert_config.json").write_text(
            json.dumps({"max_seq_length": max_length}), encoding="utf-8"
        )
    return folder


def reference_embedding(
    tensors: dict[str, npt.NDArray[np.floating]], ids: list[int]
) -> list[float]:
    """One sequence through the encoder the slow, obvious way (float64, explicit loops over
    tokens and heads), then mean pooling and unit length."""
    g = {k: np.asarray(v, dtype=np.float64) for k, v in tensors.items()}
    n = len(ids)
    size = HIDDEN // HEADS

    def layer_norm(
        v: list[float], weight: npt.NDArray[np.float64], bias: npt.NDArray[np.float64]
    ) -> list[float]:
        mean = sum(v) / len(v)
        var = sum((x - mean) ** 2 for x in v) / len(v)
        return [(x - mean) / math.sqrt(var + EPS) * weight[j] + bias[j] for j, x in enumerate(v)]

    def linear(v: list[float], name: str) -> list[float]:
        weight, bias = g[name + ".weight"], g[name + ".bias"]
        return [
            sum(weight[o, i] * v[i] for i in range(len(v))) + bias[o]
            for o in range(weight.shape[0])
        ]

    states = [
        layer_norm(
            [
                g["embeddings.word_embeddings.weight"][tok, j]
                + g["embeddings.position_embeddings.weight"][pos, j]
                + g["embeddings.token_type_embeddings.weight"][0, j]
                for j in range(HIDDEN)
            ],
            g["embeddings.LayerNorm.weight"],
            g["embeddings.LayerNorm.bias"],
        )
        for pos, tok in enumerate(ids)
    ]
    for layer in range(LAYERS):
        p = f"encoder.layer.{layer}."
        q = [linear(s, p + "attention.self.query") for s in states]
        k = [linear(s, p + "attention.self.key") for s in states]
        v = [linear(s, p + "attention.self.value") for s in states]
        context = [[0.0] * HIDDEN for _ in range(n)]
        for h in range(HEADS):
            cols = range(h * size, (h + 1) * size)
            for i in range(n):
                logits = [sum(q[i][c] * k[j][c] for c in cols) / math.sqrt(size) for j in range(n)]
                top = max(logits)
                weights = [math.exp(x - top) for x in logits]
                total = sum(weights)
                for c in cols:
                    context[i][c] = sum(weights[j] / total * v[j][c] for j in range(n))
        new_states = []
        for i in range(n):
            attn = linear(context[i], p + "attention.output.dense")
            a = layer_norm(
                [attn[j] + states[i][j] for j in range(HIDDEN)],
                g[p + "attention.output.LayerNorm.weight"],
                g[p + "attention.output.LayerNorm.bias"],
            )
            inter = [
                0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0)))
                for x in linear(a, p + "intermediate.dense")
            ]
            out = linear(inter, p + "output.dense")
            new_states.append(
                layer_norm(
                    [out[j] + a[j] for j in range(HIDDEN)],
                    g[p + "output.LayerNorm.weight"],
                    g[p + "output.LayerNorm.bias"],
                )
            )
        states = new_states
    pooled = [sum(s[j] for s in states) / n for j in range(HIDDEN)]
    norm = math.sqrt(sum(x * x for x in pooled))
    return [x / norm for x in pooled]
