"""DEPER's metrics: BLEU-1..4, ROUGE-L, CIDEr (pycocoevalcap's scorers), SSS, attention error, subject
discrimination, and bootstrap intervals.

pycocoevalcap's Bleu, Rouge and Cider are pure Python; its PTBTokenizer (and METEOR, SPICE) call Java,
so texts are tokenised here simply: lower-cased runs of letters, digits and inner hyphens/apostrophes
(`tokenize`), which is what PTB tokenisation leaves of these captions apart from punctuation tokens
that the scorers would drop anyway. METEOR is not reported (see docs/describe.md).

SSS (semantic sequence similarity, DEPER §4): the nouns of prediction and reference aligned by
Needleman–Wunsch, a pair scoring 1.0 if equal, 0.8 if they share a stem, 0.7 if synonyms, gaps 0; the
best alignment's score divided by the longer noun list. Nouns and synonyms come from a lexicon (by
default the world's object words, world/wording.py: words naming the same kind are synonyms); there is
no POS tagger offline.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from persona_lens.world.wording import KIND_WORDS

_TOKEN = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


def tokenize(text: str) -> str:
    """Lower-cased word tokens joined by spaces (the input format pycocoevalcap's scorers expect)."""
    return " ".join(_TOKEN.findall(text.lower()))


def caption_scores(preds: Sequence[str], refs: Sequence[Sequence[str]]) -> dict[str, np.ndarray]:
    """Per-caption BLEU-1..4, ROUGE-L and CIDEr of `preds[i]` against `refs[i]` (one or more references).

    CIDEr's document frequencies come from the references given, as in pycocoevalcap.
    """
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    if len(preds) != len(refs) or not preds:
        raise ValueError(f"need as many reference lists as predictions (> 0), got {len(preds)} and {len(refs)}")
    res = {i: [tokenize(p) or "empty"] for i, p in enumerate(preds)}
    gts = {i: [tokenize(r) for r in rs] for i, rs in enumerate(refs)}
    _, bleu = Bleu(4).compute_score(gts, res, verbose=0)
    _, rouge = Rouge().compute_score(gts, res)
    _, cider = Cider().compute_score(gts, res)
    out = {f"bleu{n + 1}": np.asarray(bleu[n], float) for n in range(4)}
    out["rouge_l"] = np.asarray(rouge, float)
    out["cider"] = np.asarray(cider, float)
    return out


# --- SSS ----------------------------------------------------------------------------------------------

def _stem(word: str) -> str:
    for suffix in ("ies", "es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


class NounLexicon:
    """Nouns (possibly several words) and their synonym groups; `nouns(text)` finds them in order."""

    def __init__(self, groups: dict[str, Sequence[str]]) -> None:
        self.group = {}
        for name, words in groups.items():
            for w in words:
                self.group[w] = name
                self.group.setdefault(_stem(w.split()[-1]) if " " not in w else w, name)
        self.longest = max(len(w.split()) for w in self.group)

    def nouns(self, text: str) -> list[str]:
        words = tokenize(text).split()
        out, i = [], 0
        while i < len(words):
            for n in range(min(self.longest, len(words) - i), 0, -1):
                phrase = " ".join(words[i:i + n])
                if phrase in self.group or (n == 1 and _stem(phrase) in self.group):
                    out.append(phrase)
                    i += n
                    break
            else:
                i += 1
        return out

    def kind(self, noun: str) -> str | None:
        """The synonym group a noun found by `nouns` belongs to."""
        return self.group.get(noun, self.group.get(_stem(noun)))

    def similarity(self, a: str, b: str) -> float:
        if a == b:
            return 1.0
        if _stem(a) == _stem(b):
            return 0.8
        ga, gb = self.kind(a), self.kind(b)
        return 0.7 if ga is not None and ga == gb else 0.0


WORLD_NOUNS = NounLexicon(KIND_WORDS)


def needleman_wunsch(a: Sequence[str], b: Sequence[str], sim: Callable[[str, str], float]) -> float:
    """The best global alignment score of `a` and `b` (match = sim, gaps 0)."""
    score = np.zeros((len(a) + 1, len(b) + 1))
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            score[i, j] = max(score[i - 1, j], score[i, j - 1], score[i - 1, j - 1] + sim(a[i - 1], b[j - 1]))
    return float(score[-1, -1])


def sss(pred: str, ref: str, lexicon: NounLexicon = WORLD_NOUNS) -> float:
    """Semantic sequence similarity of two captions in [0, 1] (1: same nouns in the same order).

    >>> sss("a mug next to a red cat", "I see a cup and a cat")
    0.85
    """
    a, b = lexicon.nouns(pred), lexicon.nouns(ref)
    if not a and not b:
        return 1.0
    return needleman_wunsch(a, b, lexicon.similarity) / max(len(a), len(b))


def object_f1(pred: str, ref: str, lexicon: NounLexicon = WORLD_NOUNS) -> float:
    """F1 of the *kinds of thing* two captions name (synonym groups; order and wording ignored), in [0, 1].

    What a persona learned from attention should change most: which of an image's objects a viewer
    names. CIDEr and ROUGE-L reward the viewer's wording too, SSS the order; this isolates the choice.

    >>> object_f1("a mug next to a red cat", "I see a cup, a lamp and a kitten")
    0.8
    """
    a = {lexicon.kind(n) for n in lexicon.nouns(pred)}
    b = {lexicon.kind(n) for n in lexicon.nouns(ref)}
    if not a and not b:
        return 1.0
    return 2 * len(a & b) / (len(a) + len(b))


# --- attention and personas ---------------------------------------------------------------------------

def attention_error(pred_xy: np.ndarray, pred_valid: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Predicted scanpath vs the true one, index-aligned: mean distance (image fractions) of the predicted
    fixation to the true one over the true fixations, and accuracy of the validity flags."""
    n = len(true)
    steps = min(n, len(pred_xy))
    dist = np.hypot(*(pred_xy[:steps] - true[:steps, :2]).T)
    valid_true = np.arange(len(pred_valid)) < n
    return {"fixation_distance": float(dist.mean()) if steps else float("nan"),
            "validity_accuracy": float(((pred_valid > 0.5) == valid_true).mean())}


def subject_discrimination(prototypes: np.ndarray, proto_ids: Sequence[str], queries: np.ndarray,
                           query_ids: Sequence[str]) -> np.ndarray:
    """Per query embedding: 1.0 if its nearest prototype (cosine) is its own viewer's, else 0.0."""
    p = prototypes / np.linalg.norm(prototypes, axis=1, keepdims=True).clip(1e-12)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True).clip(1e-12)
    best = np.asarray(proto_ids)[np.argmax(q @ p.T, axis=1)]
    return (best == np.asarray(query_ids)).astype(float)


def bootstrap_ci(values: np.ndarray, resamples: int = 1000, seed: int = 0, level: float = 0.95
                 ) -> tuple[float, float, float]:
    """Mean and percentile bootstrap interval of the mean of per-item `values`."""
    values = np.asarray(values, float)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (resamples, len(values)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(values.mean()), float(lo), float(hi)


def paired_bootstrap_ci(a: np.ndarray, b: np.ndarray, resamples: int = 1000, seed: int = 0,
                        level: float = 0.95) -> tuple[float, float, float]:
    """Relative gain mean(a)/mean(b) - 1 and its paired percentile bootstrap interval."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), (resamples, len(a)))
    gains = a[idx].mean(1) / np.maximum(b[idx].mean(1), 1e-12) - 1
    lo, hi = np.quantile(gains, [(1 - level) / 2, (1 + level) / 2])
    return float(a.mean() / max(b.mean(), 1e-12) - 1), float(lo), float(hi)
