"""Intent classification: an exact match of a normalised utterance, else a linear model over TF-IDF features.

Training (`train`) uses scikit-learn: word 1-2 gram and char_wb 2-4 gram `TfidfVectorizer`s joined by a
`FeatureUnion` into a one-vs-rest `LinearSVC`. The top decision score and its margin over the runner-up
are turned into a probability by a `LogisticRegression` calibrator fitted on held-out data of the
bot's own utterances: in each of a few folds, some intents are held out entirely (their utterances
play questions the bot cannot answer) and a slice of the others' utterances is held out (questions
it can), so the reported confidence means "how likely is the top intent the right answer" and a bot's
`confidence_threshold` separates in-scope from out-of-scope questions.

Serving (`IntentModel.predict`) needs numpy only: the fitted vocabularies, idf weights, the SVC's
weights and the calibrator's three numbers are plain arrays (`IntentModel.to_bytes` stores them with
`numpy.savez`, loaded with `allow_pickle=False`), and the per-message vector is computed by hand.
Measured: importing scikit-learn and scipy costs a web process about 70 MB, and
`FeatureUnion.transform` of one message takes 4.4 ms of CPU against 0.3 ms for this loop (docs/
performance.md); `test_classifier` checks that both give the same vector.

Models are built once per bot version (bots.services.intent_models) and read here, once per process.
"""

import io
import json
import logging
import math
import random
import re
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass

import numpy as np

from .text import normalize

logger = logging.getLogger(__name__)

FORMAT = 2
# Models kept per process; a bot of 150 intents x 100 utterances takes about 45 MB.
CACHE_SIZE = 16
WORD_PATTERN = r"(?u)\b\w+\b"  # single letters and digits count as words
WORD_NGRAMS = (1, 2)
CHAR_NGRAMS = (2, 4)
SVC_C = 0.5
CALIBRATION_FOLDS = 3
# Share of a fold's intents held out as out-of-scope, and of the remaining utterances held out as in-scope.
HELD_OUT_INTENTS = 0.2
HELD_OUT_UTTERANCES = 0.2
# Calibration folds train on at most this many utterances: enough for the calibrator's two inputs.
CALIBRATION_MAX_UTTERANCES = 6000
NOISE_SAMPLES = 200
NEAR_MISSES = 100
# Stands for "none of the intents" when a bot has a single intent (a classifier needs two classes).
NONE_LABEL = "\x00none"
# How often a process looks again for the model of a version still being built.
PENDING_RECHECK_SECONDS = 2.0

_WORD_RE = re.compile(WORD_PATTERN)
_SPACES = re.compile(r"\s\s+")


@dataclass
class Prediction:
    label: str
    confidence: float
    source: str  # "DIRECT" or "CORE_NLP"


def _word_terms(text: str) -> list[str]:
    """The terms of sklearn's word analyzer (lowercase, token_pattern, ngram_range=WORD_NGRAMS)."""
    tokens = _WORD_RE.findall(text.lower())
    terms = list(tokens) if WORD_NGRAMS[0] == 1 else []
    for n in range(max(2, WORD_NGRAMS[0]), WORD_NGRAMS[1] + 1):
        terms.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return terms


def _char_terms(text: str) -> list[str]:
    """The terms of sklearn's char_wb analyzer (lowercase, white space collapsed, each word padded)."""
    text = _SPACES.sub(" ", text.lower())
    terms = []
    low, high = CHAR_NGRAMS
    for word in text.split():
        padded = f" {word} "
        length = len(padded)
        for n in range(low, high + 1):
            if n > length:
                break
            terms.extend(padded[i : i + n] for i in range(length - n + 1))
            if n == length:
                break
    return terms


class IntentModel:
    """A trained model as plain arrays; `predict` answers one message."""

    def __init__(self, *, exact, labels, vocabularies, idfs, weights, bias, calibration):
        self.exact: dict[str, str] = exact
        self.labels: list[str] = labels
        self.vocabularies: list[dict[str, int]] = vocabularies  # word, char; char indices follow the word ones
        self.idfs: list[np.ndarray] = idfs
        self.weights: np.ndarray = weights  # (features, labels) float32
        self.bias: np.ndarray = bias  # (labels,)
        self.calibration: np.ndarray = calibration  # (top score, margin, intercept) of the logistic calibrator
        self.ready = bool(labels) and weights.size > 0

    # --- serving ----------------------------------------------------------------------------------

    def vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Feature indices and values of one normalised text: each block l2-normalised, as FeatureUnion does."""
        indices, values = [], []
        offset = 0
        for analyze, vocabulary, idf in zip((_word_terms, _char_terms), self.vocabularies, self.idfs, strict=True):
            block_indices, block_values = [], []
            for term, count in Counter(analyze(text)).items():
                j = vocabulary.get(term)
                if j is not None:
                    block_indices.append(j + offset)
                    block_values.append((1.0 + math.log(count)) * idf[j])
            norm = math.sqrt(sum(v * v for v in block_values))
            if norm:
                indices.extend(block_indices)
                values.extend(v / norm for v in block_values)
            offset += len(vocabulary)
        return np.array(indices, dtype=np.int64), np.array(values, dtype=np.float32)

    def scores(self, text: str) -> np.ndarray:
        indices, values = self.vector(text)
        if not len(indices):
            return self.bias.astype(np.float64)
        return (values @ self.weights[indices]).astype(np.float64) + self.bias

    def confidences(self, scores: np.ndarray) -> np.ndarray:
        """P(intent i is the right answer) for every intent, from its score and its margin over the best other."""
        if len(scores) > 1:
            order = np.argsort(-scores)
            best_other = np.full_like(scores, scores[order[0]])
            best_other[order[0]] = scores[order[1]]
        else:
            best_other = np.zeros_like(scores)
        a, b, c = self.calibration
        logits = a * scores + b * (scores - best_other) + c
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))

    def predict(self, text: str, top: int = 5) -> list[Prediction]:
        key = normalize(text)
        if not key:
            return []
        if key in self.exact:
            return [Prediction(self.exact[key], 1.0, "DIRECT")]
        if not self.ready:
            return []
        scores = self.scores(key)
        confidences = self.confidences(scores)
        order = np.argsort(-scores)[: top + 1]
        return [
            Prediction(self.labels[i], round(float(confidences[i]), 4), "CORE_NLP")
            for i in order
            if self.labels[i] != NONE_LABEL
        ][:top]

    def with_exact(self, exact: dict[str, str]) -> "IntentModel":
        """This model answering another version's exact utterances too (while that version's model is built)."""
        copy = object.__new__(IntentModel)
        copy.__dict__.update(self.__dict__)
        copy.exact = exact
        return copy

    # --- storage ----------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        header = {
            "format": FORMAT,
            "labels": self.labels,
            "exact": self.exact,
            "terms": [sorted(v, key=v.__getitem__) for v in self.vocabularies],
        }
        buffer = io.BytesIO()
        np.savez(
            buffer,
            header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
            word_idf=self.idfs[0],
            char_idf=self.idfs[1],
            weights=self.weights,
            bias=self.bias,
            calibration=self.calibration,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "IntentModel":
        # allow_pickle=False: the stored bytes can only ever be arrays of numbers, never code.
        with np.load(io.BytesIO(bytes(data)), allow_pickle=False) as arrays:
            header = json.loads(arrays["header"].tobytes().decode())
            if header.get("format") != FORMAT:
                raise ValueError(f"intent model format {header.get('format')!r}, expected {FORMAT}")
            return cls(
                exact=header["exact"],
                labels=header["labels"],
                vocabularies=[{term: i for i, term in enumerate(terms)} for terms in header["terms"]],
                idfs=[arrays["word_idf"], arrays["char_idf"]],
                weights=arrays["weights"],
                bias=arrays["bias"],
                calibration=arrays["calibration"],
            )


# --- training ----------------------------------------------------------------------------------------


def exact_matches(examples: list[tuple[str, str]]) -> dict[str, str]:
    """Normalised utterance -> intent label; the first intent to list an utterance keeps it."""
    exact: dict[str, str] = {}
    for label, text in examples:
        key = normalize(text)
        if key:
            exact.setdefault(key, label)
    return exact


def _union():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    return FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=WORD_NGRAMS, sublinear_tf=True, token_pattern=WORD_PATTERN)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=CHAR_NGRAMS, sublinear_tf=True)),
        ]
    )


def _svc(x, y: np.ndarray, noise):
    """A LinearSVC on rows `x`; a single intent is set against random text (`noise`) standing for "none"."""
    from scipy import sparse
    from sklearn.svm import LinearSVC

    if len(set(y.tolist())) < 2:
        x = sparse.vstack([x, noise]).tocsr()
        y = np.concatenate([y, np.full(noise.shape[0], NONE_LABEL, dtype=object)])
    return LinearSVC(C=SVC_C, random_state=0).fit(x, y)  # reproducible: the same utterances, the same model


def _scores(svc, x) -> tuple[np.ndarray, np.ndarray]:
    """Decision scores (rows: texts, columns: intents, "none" left out) and the intents in column order."""
    scores = svc.decision_function(x)
    classes = svc.classes_
    if scores.ndim == 1:  # two classes: sklearn gives one column, the second class's score
        scores = np.column_stack([-scores, scores])
    keep = classes != NONE_LABEL
    return scores[:, keep], classes[keep]


def _calibration_features(scores: np.ndarray) -> np.ndarray:
    if scores.shape[1] > 1:
        top2 = -np.partition(-scores, 1, axis=1)[:, :2]
    else:
        top2 = np.column_stack([scores[:, 0], np.zeros(len(scores))])
    return np.column_stack([top2[:, 0], top2[:, 0] - top2[:, 1]])


def _calibrate(x, y: np.ndarray, rng: random.Random, final, noise) -> np.ndarray:
    """Fit P(top intent is right | top score, margin) on held-out data; returns (a, b, intercept).

    The folds reuse the final vectorizers (fitted on every utterance): a held-out intent's own words
    then have features, but no weight in a fold's SVC, just as unknown words have none."""
    from sklearn.linear_model import LogisticRegression

    features, correct, in_scope = [], [], []
    rows = list(range(len(y)))
    if len(rows) > CALIBRATION_MAX_UTTERANCES:
        rows = sorted(rng.sample(rows, CALIBRATION_MAX_UTTERANCES))
    labels = sorted(set(y[rows].tolist()))
    rng.shuffle(labels)
    held_per_fold = max(1, round(len(labels) * HELD_OUT_INTENTS)) if len(labels) >= 3 else 0
    for fold in range(CALIBRATION_FOLDS if len(rows) >= 10 else 0):
        held = set(labels[fold * held_per_fold : (fold + 1) * held_per_fold])
        if held_per_fold and not held:
            held = set(rng.sample(labels, held_per_fold))
        known = [i for i in rows if y[i] not in held]
        rng.shuffle(known)
        cut = max(1, round(len(known) * HELD_OUT_UTTERANCES))
        validation, training = sorted(known[:cut]), sorted(known[cut:])
        if not training:
            continue
        svc = _svc(x[training], y[training], noise)
        scores, classes = _scores(svc, x[validation])
        features.append(_calibration_features(scores))
        correct.extend((classes[scores.argmax(axis=1)] == y[validation]).tolist())
        in_scope.extend([True] * len(validation))
        unknown = [i for i in rows if y[i] in held]
        if unknown:
            scores, _ = _scores(svc, x[unknown])
            features.append(_calibration_features(scores))
            correct.extend([False] * len(unknown))
            in_scope.extend([False] * len(unknown))
    # Random text is out of scope for every bot; it also gives a bot with one intent something to refuse.
    scores, _ = _scores(final, noise)
    features.append(_calibration_features(scores))
    correct.extend([False] * noise.shape[0])
    in_scope.extend([False] * noise.shape[0])
    x = np.vstack(features)
    target = np.array(correct, dtype=int)
    in_scope = np.array(in_scope)
    # Questions the bot can answer and questions it cannot weigh the same, whatever their counts.
    weight = np.where(in_scope, 0.5 / max(in_scope.mean(), 1e-9), 0.5 / max(1 - in_scope.mean(), 1e-9))
    if target.min() == target.max():  # all right (or all wrong): anchor the calibrator so it is still defined
        x = np.vstack([x, [[2.0, 2.0], [-1.0, 0.0]]])
        target = np.append(target, [1, 0])
        weight = np.append(weight, [1.0, 1.0])
    calibrator = LogisticRegression(C=10.0).fit(x, target, sample_weight=weight)
    return np.array([*calibrator.coef_[0], calibrator.intercept_[0]], dtype=np.float64)


def train(examples: list[tuple[str, str]]) -> IntentModel:
    """Build the model of `examples`, (intent label, utterance text) pairs. Seconds for thousands of utterances."""
    exact = exact_matches(examples)
    pairs = sorted({(label, key) for label, key in ((label, normalize(text)) for label, text in examples) if key})
    if not pairs:
        return _empty(exact)
    rng = random.Random(len(pairs) * 7919 + len({label for label, _ in pairs}))
    union = _union()
    x = union.fit_transform([text for _, text in pairs]).tocsr()
    y = np.array([label for label, _ in pairs], dtype=object)
    noise = union.transform(
        [_gibberish(rng) for _ in range(NOISE_SAMPLES)] + _near_misses([text for _, text in pairs], rng)
    ).tocsr()
    svc = _svc(x, y, noise)
    calibration = _calibrate(x, y, rng, svc, noise)
    word, char = (transformer for _, transformer in union.transformer_list)
    coef = svc.coef_
    bias = svc.intercept_
    classes = [str(c) for c in svc.classes_]
    if coef.shape[0] == 1:  # two classes: sklearn keeps one row, the second class's
        coef = np.vstack([-coef[0], coef[0]])
        bias = np.array([-bias[0], bias[0]])
    return IntentModel(
        exact=exact,
        labels=classes,
        vocabularies=[
            {term: int(i) for term, i in word.vocabulary_.items()},
            {term: int(i) for term, i in char.vocabulary_.items()},
        ],
        idfs=[word.idf_.astype(np.float64), char.idf_.astype(np.float64)],
        weights=np.ascontiguousarray(coef.T, dtype=np.float32),
        bias=bias.astype(np.float64),
        calibration=calibration,
    )


def _near_misses(texts: list[str], rng: random.Random) -> list[str]:
    """Off-topic text that shares a word or two with some utterance, as a question about something else
    that happens to use an intent's words does ("tell me about gift cards" to "help me")."""
    words = sorted({word for text in texts for word in text.split()})
    if not words:
        return []
    return [
        " ".join(
            rng.sample(words, min(len(words), rng.randint(1, 2))) + [_gibberish(rng) for _ in range(rng.randint(1, 3))]
        )
        for _ in range(NEAR_MISSES)
    ]


def _gibberish(rng: random.Random) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return " ".join("".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(rng.randint(1, 6)))


# --- the model a turn uses ---------------------------------------------------------------------------

_cache: OrderedDict = OrderedDict()
# Versions whose model is still being built: (bot id, version) -> (stand-in model, monotonic time checked).
_pending: dict = {}
_lock = threading.Lock()


def model_for(bot) -> IntentModel:
    """The model of the bot's current version, read from the database once per process.

    Never trains: while the version's model is being built, the newest model of an earlier version
    answers, with this version's exact utterances (and without any model, exact utterances alone).
    """
    key = (str(bot.pk), bot.version)
    with _lock:
        model = _cache.get(key)
        if model is not None:
            _cache.move_to_end(key)
            return model
        pending = _pending.get(key)
    if pending is not None and time.monotonic() - pending[1] < PENDING_RECHECK_SECONDS:
        return pending[0]
    from bots.selectors import intent_model_data
    from bots.services.intent_models import intent_model_requested

    data = intent_model_data(bot_id=bot.pk, version=bot.version)
    if data is None:
        # A bot saved before models were stored, or a build that was lost: ask for one, answer meanwhile.
        intent_model_requested(bot_id=bot.pk, version=bot.version)
        data = intent_model_data(bot_id=bot.pk, version=bot.version)
    if data is not None:
        model = IntentModel.from_bytes(data)
        with _lock:
            _pending.pop(key, None)
            _cache[key] = model
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
        return model
    stand_in = pending[0] if pending is not None else _stand_in(bot)
    with _lock:
        _pending[key] = (stand_in, time.monotonic())
        while len(_pending) > CACHE_SIZE:  # versions that moved on before their build finished
            _pending.pop(next(iter(_pending)))
    return stand_in


def _stand_in(bot) -> IntentModel:
    from bots.selectors import intent_model_data, intent_utterances

    exact = exact_matches(intent_utterances(bot_id=bot.pk))
    data = intent_model_data(bot_id=bot.pk, version=None, before=bot.version)
    if data is not None:
        return IntentModel.from_bytes(data).with_exact(exact)
    return _empty(exact)


def _empty(exact: dict[str, str]) -> IntentModel:
    """A model that knows exact utterances only."""
    return IntentModel(
        exact=exact,
        labels=[],
        vocabularies=[{}, {}],
        idfs=[np.zeros(0), np.zeros(0)],
        weights=np.zeros((0, 0), dtype=np.float32),
        bias=np.zeros(0),
        calibration=np.zeros(3),
    )


def classify(bot, text: str, top: int = 5) -> list[Prediction]:
    return model_for(bot).predict(text, top=top)
