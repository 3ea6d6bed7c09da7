"""Intent classification: an exact match of a normalised utterance, else a TF-IDF similarity model.

The statistical model needs no iterative training, so a bot is ready in well under a second even with
thousands of utterances: word (1-2 gram) and character (2-4 gram) TF-IDF vectors of every training
utterance; an intent scores by a mix of its best matching utterance and its centroid. The raw score is
turned into a calibrated probability by a logistic calibrator fitted on leave-one-out predictions over
the bot's own utterances (plus synthetic out-of-domain text), so the reported confidence means "how
often is the top intent right at this score" and a bot's `confidence_threshold` is meaningful.

Models are cached per process by (bot id, version); a definition change bumps the version, so the
next message trains a new model and the old one ages out of the cache.
"""

import logging
import math
import random
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass

import numpy as np
from django.core.cache import caches
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize as l2_normalize

from .text import normalize

logger = logging.getLogger(__name__)

MAX_SIMILARITY_WEIGHT = 0.4
CALIBRATION_SAMPLE = 2000
NEAR_MISSES = 40
CACHE_SIZE = 32
# Models are also shared through Django's cache so that each web process need not train its own;
# the format number changes whenever IntentModel's attributes do.
MODEL_FORMAT = 1
SHARED_CACHE_SECONDS = 7 * 86400
# Character n-grams found in more than this share of utterances say little and cost the most to score.
CHAR_MAX_DF = 0.2
CHAR_MAX_DF_FROM = 100  # utterances
WORD_PATTERN = r"(?u)\b\w+\b"  # single letters and digits count as words


@dataclass
class Prediction:
    label: str
    confidence: float
    source: str  # "DIRECT" or "CORE_NLP"


class IntentModel:
    def __init__(self, examples: list[tuple[str, str]]):
        """`examples` are (intent label, utterance text) pairs."""
        self.exact: dict[str, str] = {}
        pairs = []
        for label, text in examples:
            key = normalize(text)
            if not key:
                continue
            self.exact.setdefault(key, label)
            pairs.append((label, key))
        pairs.sort(key=lambda pair: pair[0])
        self.labels: list[str] = sorted({label for label, _ in pairs})
        self.ready = bool(pairs)
        if not self.ready:
            return
        index = {label: i for i, label in enumerate(self.labels)}
        texts = [text for _, text in pairs]
        self.row_intent = np.array([index[label] for label, _ in pairs], dtype=np.int64)
        self.starts = np.searchsorted(self.row_intent, np.arange(len(self.labels)))
        self.word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=WORD_PATTERN)
        # A small bot keeps every n-gram: it has few to spare, and scoring them is cheap.
        max_df = CHAR_MAX_DF if len(texts) >= CHAR_MAX_DF_FROM else 1.0
        self.char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, max_df=max_df)
        self.matrix = self._fit(texts)
        # Terms dropped for being too common; only kept for introspection, and large.
        for vectorizer in (self.word, self.char):
            vectorizer.__dict__.pop("stop_words_", None)
        self._prepare()
        self.matrix_t = self.matrix.T.tocsr()
        sums = (
            sparse.csr_matrix(
                (np.ones(len(texts)), (self.row_intent, np.arange(len(texts)))), shape=(len(self.labels), len(texts))
            )
            @ self.matrix
        )
        self.centroids_t = l2_normalize(sums).T.tocsr()
        self.calibrator = self._calibrate(sums)

    def _prepare(self):
        self._parts = [
            (self.word.build_analyzer(), self.word.vocabulary_, self.word.idf_, 0),
            (self.char.build_analyzer(), self.char.vocabulary_, self.char.idf_, len(self.word.vocabulary_)),
        ]

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_parts", None)  # closures: rebuilt after unpickling
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self.ready:
            self._prepare()

    def _fit(self, texts):
        words = self.word.fit_transform(texts)
        chars = self.char.fit_transform(texts)
        return l2_normalize(sparse.hstack([words, chars]).tocsr())

    def _vectors(self, texts):
        return l2_normalize(sparse.hstack([self.word.transform(texts), self.char.transform(texts)]).tocsr())

    def _vector(self, text: str):
        """The same vector as `_vectors([text])`, without the batch machinery: this is the per-message path."""
        indices, values = [], []
        for analyze, vocabulary, idf, offset in self._parts:
            part_indices, part_values = [], []
            for term, count in Counter(analyze(text)).items():
                j = vocabulary.get(term)
                if j is not None:
                    part_indices.append(j + offset)
                    part_values.append((1.0 + math.log(count)) * idf[j])
            norm = math.sqrt(sum(v * v for v in part_values))
            if norm:
                indices.extend(part_indices)
                values.extend(v / norm for v in part_values)
        total = math.sqrt(sum(v * v for v in values)) or 1.0
        width = self.matrix.shape[1]
        data = np.array(values, dtype=np.float64) / total
        indptr = np.array([0, len(indices)])
        return sparse.csr_matrix((data, np.array(indices, dtype=np.int32), indptr), shape=(1, width))

    def _scores(self, vectors) -> np.ndarray:
        """Intent scores (rows: queries, columns: intents) for L2-normalised query vectors."""
        utterance_sims = (vectors @ self.matrix_t).toarray()
        best = np.maximum.reduceat(utterance_sims, self.starts, axis=1)
        centroid = (vectors @ self.centroids_t).toarray()
        return MAX_SIMILARITY_WEIGHT * best + (1 - MAX_SIMILARITY_WEIGHT) * centroid

    @staticmethod
    def _features(scores: np.ndarray) -> np.ndarray:
        if scores.shape[1] > 1:
            top2 = -np.partition(-scores, 1, axis=1)[:, :2]
        else:
            top2 = np.hstack([scores, np.zeros_like(scores)])
        return np.column_stack([top2[:, 0], top2[:, 0] - top2[:, 1]])

    def _calibrate(self, sums) -> LogisticRegression:
        """Fit P(top intent is right | top score, margin) on leave-one-out predictions."""
        rng = random.Random(len(self.row_intent) * 7919 + len(self.labels))
        rows = list(range(len(self.row_intent)))
        if len(rows) > CALIBRATION_SAMPLE:
            rows = sorted(rng.sample(rows, CALIBRATION_SAMPLE))
        features, correct = [], []
        if rows:
            vectors = self.matrix[rows]
            utterance_sims = (vectors @ self.matrix_t).toarray()
            utterance_sims[np.arange(len(rows)), rows] = -1.0  # leave the utterance itself out
            best = np.maximum.reduceat(utterance_sims, self.starts, axis=1)
            dots = (vectors @ sums.T).toarray()
            norms_sq = np.asarray(sums.multiply(sums).sum(axis=1)).ravel()
            own = self.row_intent[rows]
            counts = np.diff(np.append(self.starts, len(self.row_intent)))
            with np.errstate(divide="ignore", invalid="ignore"):
                centroid = dots / np.sqrt(norms_sq)[None, :]
                own_dot = dots[np.arange(len(rows)), own] - 1.0
                own_norm = np.sqrt(np.maximum(norms_sq[own] - 2 * dots[np.arange(len(rows)), own] + 1.0, 1e-12))
                centroid[np.arange(len(rows)), own] = np.where(counts[own] > 1, own_dot / own_norm, 0.0)
            best = np.maximum(best, 0.0)
            scores = MAX_SIMILARITY_WEIGHT * best + (1 - MAX_SIMILARITY_WEIGHT) * np.nan_to_num(centroid)
            features.append(self._features(scores))
            correct.extend((scores.argmax(axis=1) == own).astype(int).tolist())
        noise = [_gibberish(rng) for _ in range(200)] + self._near_misses(rng, NEAR_MISSES)
        features.append(self._features(self._scores(self._vectors(noise))))
        correct.extend([0] * len(noise))
        # Anchors keep the calibrator monotone and defined even for a bot with a handful of utterances.
        features.append(np.array([[1.0, 1.0]] * 5 + [[0.0, 0.0]] * 5))
        correct.extend([1] * 5 + [0] * 5)
        calibrator = LogisticRegression(C=10.0)
        calibrator.fit(np.vstack(features), np.array(correct))
        return calibrator

    def _near_misses(self, rng: random.Random, count: int) -> list[str]:
        """Off-topic text that shares one word with some utterance, as a question about something else
        that happens to use an intent's word does ("do gift *cards* expire" to a payments intent)."""
        words = sorted({w for text in self.exact for w in text.split() if len(w) > 3})
        if not words:
            return []
        return [
            " ".join([rng.choice(words), *(_gibberish(rng) for _ in range(rng.randint(1, 3)))]) for _ in range(count)
        ]

    def predict(self, text: str, top: int = 5) -> list[Prediction]:
        key = normalize(text)
        if not key:
            return []
        if key in self.exact:
            label = self.exact[key]
            return [Prediction(label, 1.0, "DIRECT")]
        if not self.ready:
            return []
        scores = self._scores(self._vector(key))[0]
        order = np.argsort(-scores)[:top]
        logit = float(self._features(scores[None, :])[0] @ self.calibrator.coef_[0] + self.calibrator.intercept_[0])
        confidence = float(1.0 / (1.0 + np.exp(-logit)))
        best = scores[order[0]]
        if best <= 0:
            return []
        return [
            Prediction(self.labels[i], round(confidence * max(float(scores[i]), 0.0) / float(best), 4), "CORE_NLP")
            for i in order
            if scores[i] > 0
        ]


def _gibberish(rng: random.Random) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return " ".join("".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(rng.randint(1, 6)))


_cache: OrderedDict = OrderedDict()
_cache_lock = threading.Lock()
_build_locks: dict = {}


def model_for(bot) -> IntentModel:
    """The bot's model for its current version, trained on first use and cached per process."""
    key = (str(bot.pk), bot.version)
    with _cache_lock:
        model = _cache.get(key)
        if model is not None:
            _cache.move_to_end(key)
            return model
        build_lock = _build_locks.setdefault(key, threading.Lock())
    with build_lock:  # one thread trains; the others wait for its model
        with _cache_lock:
            model = _cache.get(key)
        if model is None:
            model = _shared_get(key)
        if model is None:
            model = IntentModel(_examples(bot))
            _shared_set(key, model)
            with _cache_lock:
                _cache[key] = model
                while len(_cache) > CACHE_SIZE:
                    _cache.popitem(last=False)
                _build_locks.pop(key, None)
    return model


def _shared_key(key) -> str:
    return f"botportal:intent-model:{key[0]}:{key[1]}:{MODEL_FORMAT}"


def _shared_get(key) -> IntentModel | None:
    """A model another process already trained, from the shared cache (Redis in production)."""
    try:
        model = caches["default"].get(_shared_key(key))
    except Exception:  # a cache outage must not stop the bot from answering
        logger.warning("The intent model cache is not available", exc_info=True)
        return None
    return model if isinstance(model, IntentModel) else None


def _shared_set(key, model: IntentModel) -> None:
    try:
        caches["default"].set(_shared_key(key), model, timeout=SHARED_CACHE_SECONDS)
    except Exception:
        logger.warning("Could not store the intent model in the cache", exc_info=True)


def _examples(bot) -> list[tuple[str, str]]:
    from bots.models import Utterance

    return list(Utterance.objects.filter(intent__bot=bot).values_list("intent__label", "text").order_by("id"))


def classify(bot, text: str, top: int = 5) -> list[Prediction]:
    return model_for(bot).predict(text, top=top)
