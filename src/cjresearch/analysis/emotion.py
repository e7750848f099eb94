"""One emotion scale: every feedback instrument and event valence as a number in [-1, 1].

-1 is the worst a customer can feel, 0 neutral, +1 the best. Each source maps onto it:

=========== ========= ===========================================================
source      range     emotion
=========== ========= ===========================================================
``nps``     0..10     ``(s - 5) / 5``
``csat``    1..5      ``(s - 3) / 2``
``ces``     1..7      ``(4 - s) / 3`` (low effort is good, so the scale is reversed)
``rating``  min..max  ``2 (s - min) / (max - min) - 1`` (the study declares min, max)
``text``    free text VADER compound score with the CX lexicon (below)
``event``   [-1, 1]   the event's own ``emotion`` value
``valence`` [-1, 1]   the study's ``[valence]`` for the event's touchpoint
=========== ========= ===========================================================

Text scoring
------------
:class:`TextScorer` uses VADER (``vaderSentiment``, whose lexicon ships inside the
package, so nothing is fetched) and its compound score, which is already in [-1, 1].
With ``cx_lexicon=True`` (the default) it is extended by :mod:`cjresearch.analysis._cx_lexicon`:

1. single CX words are added to the analyser's ``lexicon`` dict ("overcharged",
   "outage", "seamless", ...), and a few words VADER scores but that are neutral in
   CX text are removed ("support" is the department, "please" a polite request);
2. multi-word CX phrases are rewritten, before VADER sees the text, into one
   synthetic token each ("on hold" -> ``cx_on_hold``) whose valence is in the lexicon.
   The token is an ordinary lexicon word to VADER, so negation ("not on time"),
   boosters ("really quick response"), "but" and ALL CAPS still apply to it, and the
   phrase enters VADER's sum before normalisation like any other word;
3. typographic apostrophes are straightened first, so "didn’t" negates like "didn't".

Without the lexicon, plain VADER misreads typical complaints: "The setup was a
nightmare, support never answered" scores +0.40 ("support" is positive and
"nightmare" unknown), and "I waited 40 minutes on hold and nobody helped me" and
"Still waiting for my refund after three weeks" score 0.

Each distinct text is scored once, because real feedback repeats a lot. Texts
longer than 2,000 characters are scored sentence by sentence and the compound scores
averaged (VADER's own advice for paragraphs); this also keeps VADER, whose
rules are quadratic in the number of words, fast on long e-mails.

Missing is not neutral: a customer with no observation at a stage has no emotion
there, never a 0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from cjresearch._checks import require_columns
from cjresearch.analysis._cx_lexicon import CX_NEUTRAL_WORDS, CX_WORDS, PhraseRewriter
from cjresearch.data.schema import INSTRUMENT_SCALES, INSTRUMENTS
from cjresearch.errors import CJResearchError

__all__ = [
    "INSTRUMENTS",
    "INSTRUMENT_SCALES",
    "SCORED_INSTRUMENTS",
    "SOURCES",
    "TextAgreement",
    "TextScorer",
    "emotion_observations",
    "normalise_scores",
    "score_texts",
    "stage_emotion",
    "text_score_agreement",
]

#: Instruments that come with a numeric score (the ranges live with the tables, in schema).
SCORED_INSTRUMENTS: tuple[str, ...] = tuple(i for i in INSTRUMENTS if i != "text")
#: Every value of the ``source`` column of :func:`emotion_observations`.
SOURCES: tuple[str, ...] = ("event", "valence", *INSTRUMENTS)

# Instruments on which a high score means a bad experience.
_REVERSED = frozenset({"ces"})
_LONG_TEXT = 2_000
_CHUNK_WORDS = 200
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_CACHE_LIMIT = 500_000


def normalise_scores(
    scores: pd.Series,
    instrument: str | pd.Series,
    *,
    rating_scale: tuple[float, float] | None = None,
) -> pd.Series:
    """Map instrument scores onto the emotion scale [-1, 1].

    ``nps`` (0..10) gives ``(s - 5) / 5``, ``csat`` (1..5) ``(s - 3) / 2``, ``ces`` (1..7,
    low effort is good) ``(4 - s) / 3`` and ``rating`` on a declared (min, max) scale
    ``2 (s - min) / (max - min) - 1``. ``text`` rows have no numeric score and give NaN.

    Parameters
    ----------
    scores
        Numeric scores; missing values stay missing.
    instrument
        One instrument name for every row, or a Series of names with the same index as
        ``scores``.
    rating_scale
        ``(min, max)`` of the study's ``rating`` instrument; required when any row is a
        rating.

    Returns
    -------
    pandas.Series
        float64 emotions in [-1, 1] with the index and name of ``scores``.

    Raises
    ------
    CJResearchError
        For an unknown instrument, a rating without ``rating_scale``, a non-numeric
        score, or a score outside its instrument's range (the message names the
        instrument, the range and example values).

    Examples
    --------
    >>> normalise_scores(pd.Series([0, 5, 10]), "nps").tolist()
    [-1.0, 0.0, 1.0]
    >>> normalise_scores(pd.Series([1.0, 7.0]), "ces").tolist()
    [1.0, -1.0]
    """
    values = _numeric(scores)
    names = _instrument_values(instrument, scores)
    needs_rating = instrument == "rating" if isinstance(instrument, str) else "rating" in names
    scales = _scales(rating_scale, needs_rating=needs_rating)
    out = np.full(len(values), np.nan)
    for name in pd.unique(names):
        if name == "text":
            continue
        low, high = scales[name]
        rows = names == name
        chosen = values[rows]
        outside = ~np.isnan(chosen) & ((chosen < low) | (chosen > high))
        if outside.any():
            examples = ", ".join(f"{v:g}" for v in pd.unique(chosen[outside])[:5])
            msg = (
                f"{name} scores must lie in {low:g}..{high:g}; found {int(outside.sum())} "
                f"outside it, e.g. {examples}"
            )
            raise CJResearchError(msg)
        emotion = 2.0 * (chosen - low) / (high - low) - 1.0
        out[rows] = -emotion if name in _REVERSED else emotion
    # Floating-point rounding may step a hair outside the scale; the contract is [-1, 1].
    np.clip(out, -1.0, 1.0, out=out)
    return pd.Series(out, index=scores.index, name=scores.name, dtype="float64")


def _numeric(scores: pd.Series) -> np.ndarray:
    if not isinstance(scores, pd.Series):
        msg = f"scores must be a pandas Series, found {type(scores).__name__}"
        raise CJResearchError(msg)
    if pd.api.types.is_bool_dtype(scores.dtype):
        msg = f"scores must be numbers, found booleans in {scores.name or 'scores'!r}"
        raise CJResearchError(msg)
    try:
        numeric = pd.to_numeric(scores, errors="raise")
        return numeric.to_numpy(dtype="float64", na_value=np.nan)
    except (TypeError, ValueError) as exc:
        msg = f"scores must be numbers, found non-numeric values in {scores.name or 'scores'!r}"
        raise CJResearchError(msg) from exc


def _instrument_values(instrument: str | pd.Series, scores: pd.Series) -> np.ndarray:
    if isinstance(instrument, str):
        names = np.full(len(scores), instrument, dtype=object)
    elif isinstance(instrument, pd.Series):
        if not instrument.index.equals(scores.index):
            msg = "instrument must be one name or a Series with the same index as scores"
            raise CJResearchError(msg)
        names = instrument.to_numpy(dtype=object, na_value=None)
    else:
        msg = f"instrument must be a name or a pandas Series, found {type(instrument).__name__}"
        raise CJResearchError(msg)
    known = set(INSTRUMENTS)
    unknown = [v for v in pd.unique(names) if v not in known]
    if unknown or (isinstance(instrument, str) and instrument not in known):
        found = ", ".join(repr(v) for v in (unknown or [instrument])[:5])
        msg = f"unknown instrument {found}; expected one of {list(INSTRUMENTS)}"
        raise CJResearchError(msg)
    return names


def _scales(
    rating_scale: tuple[float, float] | None, *, needs_rating: bool
) -> dict[str, tuple[float, float]]:
    scales = {k: (float(lo), float(hi)) for k, (lo, hi) in INSTRUMENT_SCALES.items()}
    if rating_scale is not None:
        try:
            low, high = (float(v) for v in rating_scale)
        except (TypeError, ValueError) as exc:
            msg = f"rating_scale must be (min, max), found {rating_scale!r}"
            raise CJResearchError(msg) from exc
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            msg = f"rating_scale must be (min, max) with finite min < max, found {rating_scale!r}"
            raise CJResearchError(msg)
        scales["rating"] = (low, high)
    elif needs_rating:
        msg = (
            "instrument 'rating' needs its scale: pass rating_scale=(min, max), "
            "or set rating_scale in the study file's [emotion] section"
        )
        raise CJResearchError(msg)
    return scales


class TextScorer:
    """Sentiment of free-text feedback on the emotion scale [-1, 1].

    VADER's compound score, extended by the customer-experience lexicon of
    :mod:`cjresearch.analysis._cx_lexicon` unless ``cx_lexicon=False`` (see the module docstring).

    Parameters
    ----------
    cx_lexicon
        Add the CX words and phrases to VADER (default) or use plain VADER.

    Examples
    --------
    >>> scorer = TextScorer()
    >>> bool(scorer.score(["Still waiting for my refund after three weeks"]).iloc[0] < 0)
    True
    """

    def __init__(self, *, cx_lexicon: bool = True) -> None:
        self.cx_lexicon = cx_lexicon
        # Each scorer owns its analyser, so the lexicon edits never leak into plain VADER.
        self._analyzer = SentimentIntensityAnalyzer()
        self._rewriter: PhraseRewriter | None = None
        if cx_lexicon:
            lexicon = self._analyzer.lexicon
            for word in CX_NEUTRAL_WORDS:
                # Removed, not set to 0: VADER skips negation checks across lexicon words.
                lexicon.pop(word, None)
            lexicon.update(CX_WORDS)
            self._rewriter = PhraseRewriter()
            lexicon.update(self._rewriter.lexicon)
        self._cache: dict[str, float] = {}

    def score(self, texts: pd.Series | Iterable[str | None]) -> pd.Series:
        """Score texts, each distinct text once.

        Parameters
        ----------
        texts
            A Series or any iterable of strings; missing values (None, NaN, NA) and blank
            strings give NaN. Other values are scored as their ``str()``.

        Returns
        -------
        pandas.Series
            float64 ``text_score`` in [-1, 1]; a Series input keeps its index, any other
            input gets a RangeIndex.
        """
        if isinstance(texts, str):
            # A lone string is iterable too; scoring its characters is never what was meant.
            msg = "texts must be a Series or an iterable of strings, found a single string"
            raise CJResearchError(msg)
        series = texts if isinstance(texts, pd.Series) else pd.Series(list(texts), dtype=object)
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        distinct = np.fromiter(
            (self._score_one(v) for v in np.asarray(uniques, dtype=object)),
            dtype="float64",
            count=len(uniques),
        )
        out = np.full(len(series), np.nan)
        present = codes >= 0
        out[present] = distinct[codes[present]]
        return pd.Series(out, index=series.index, name="text_score", dtype="float64")

    def _score_one(self, value: object) -> float:
        text = value if isinstance(value, str) else str(value)
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        result = self._compound(text)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[text] = result
        return result

    def _compound(self, text: str) -> float:
        if not text.strip():
            return math.nan
        if len(text) > _LONG_TEXT:
            parts = [p for p in _chunks(text) if p.strip()]
            return float(np.clip(np.mean([self._compound_short(p) for p in parts]), -1, 1))
        return self._compound_short(text)

    def _compound_short(self, text: str) -> float:
        if self._rewriter is not None:
            text = self._rewriter.rewrite(text.replace("\u2019", "'").replace("\u2018", "'"))
        compound = float(self._analyzer.polarity_scores(text)["compound"])
        return min(1.0, max(-1.0, compound))


def _chunks(text: str) -> list[str]:
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        words = sentence.split()
        pieces.extend(
            " ".join(words[i : i + _CHUNK_WORDS]) for i in range(0, len(words), _CHUNK_WORDS)
        )
    return pieces


@cache
def _scorer(cx_lexicon: bool) -> TextScorer:
    return TextScorer(cx_lexicon=cx_lexicon)


def score_texts(texts: pd.Series | Iterable[str | None], *, cx_lexicon: bool = True) -> pd.Series:
    """Score texts with a shared :class:`TextScorer` (built once per ``cx_lexicon``).

    Parameters
    ----------
    texts
        A Series or any iterable of strings; missing or blank texts give NaN.
    cx_lexicon
        Use the customer-experience lexicon (default) or plain VADER.

    Returns
    -------
    pandas.Series
        float64 ``text_score`` in [-1, 1] aligned to the input.
    """
    return _scorer(bool(cx_lexicon)).score(texts)


def emotion_observations(
    events: pd.DataFrame,
    feedback: pd.DataFrame | None,
    *,
    valence: Mapping[str, float] | None = None,
    rating_scale: tuple[float, float] | None = None,
    cx_lexicon: bool = True,
) -> pd.DataFrame:
    """Every emotion signal as one long table.

    An event gives its own ``emotion`` when present (source ``event``), otherwise the
    study's ``valence`` for its touchpoint if there is one (source ``valence``). A
    feedback row gives its normalised score (source = its instrument) and, when it has
    a non-blank ``text``, a second observation from the text scorer (source ``text``).
    Rows without any signal give no observation.

    Parameters
    ----------
    events
        Canonical events: ``customer_id``, ``timestamp``, ``touchpoint``, ``stage``, and
        optionally ``emotion`` (in [-1, 1], may be missing).
    feedback
        Canonical feedback, or None: ``customer_id``, ``timestamp``, ``stage``,
        ``instrument``, ``score``, and optionally ``touchpoint`` and ``text``.
    valence
        ``{touchpoint: emotion}`` from the study, each in [-1, 1].
    rating_scale
        ``(min, max)`` of the ``rating`` instrument, if the feedback uses it.
    cx_lexicon
        Score texts with the customer-experience lexicon (default) or plain VADER.

    Returns
    -------
    pandas.DataFrame
        One row per observation, sorted by customer and time, with a RangeIndex:

        - ``customer_id``: the customer.
        - ``timestamp``: when the signal was given.
        - ``stage``: the journey stage (Categorical with the input's categories when the
          input stage is Categorical).
        - ``touchpoint``: the touchpoint, missing for feedback without one.
        - ``source``: Categorical with categories :data:`SOURCES`.
        - ``emotion``: float64 in [-1, 1].
    """
    require_columns(events, ("customer_id", "timestamp", "touchpoint", "stage"), "events")
    stages = [events["stage"]]
    parts = [_event_observations(events, valence)]
    if feedback is not None:
        require_columns(
            feedback, ("customer_id", "timestamp", "stage", "instrument", "score"), "feedback"
        )
        stages.append(feedback["stage"])
        parts.extend(
            _feedback_observations(
                feedback, rating_scale, cx_lexicon, touchpoint_dtype=events["touchpoint"].dtype
            )
        )
    out = pd.concat(parts, ignore_index=True)
    stage_dtype = _combined_stage_dtype(stages)
    if stage_dtype is not None:
        out["stage"] = pd.Categorical(out["stage"].astype(object), dtype=stage_dtype)
    out["source"] = pd.Categorical(out["source"], categories=SOURCES)
    out["emotion"] = out["emotion"].astype("float64")
    out = out.sort_values(["customer_id", "timestamp"], kind="stable", ignore_index=True)
    return out[list(_OBSERVATION_COLUMNS)]


_OBSERVATION_COLUMNS = ("customer_id", "timestamp", "stage", "touchpoint", "source", "emotion")


def _check_range(values: pd.Series, what: str) -> None:
    outside = values.notna() & ((values < -1.0) | (values > 1.0))
    if outside.any():
        examples = ", ".join(f"{v:g}" for v in pd.unique(values[outside])[:5])
        msg = f"{what} must lie in [-1, 1]; found {int(outside.sum())} outside it, e.g. {examples}"
        raise CJResearchError(msg)


def _valence_table(valence: Mapping[str, float]) -> pd.Series:
    try:
        table = pd.Series(dict(valence), dtype="float64")
    except (TypeError, ValueError) as exc:
        msg = f"valence must map touchpoints to numbers in [-1, 1], found {dict(valence)!r}"
        raise CJResearchError(msg) from exc
    _check_range(table, "valence")
    return table


def _valence_of(touchpoint: pd.Series, table: pd.Series) -> np.ndarray:
    """Each event's valence (NaN for a touchpoint without one); a categorical column is
    looked up once per name, not once per event."""
    if isinstance(touchpoint.dtype, pd.CategoricalDtype):
        names = touchpoint.cat.categories.to_numpy(dtype=object)
        per_name = np.append(table.reindex(names).to_numpy(dtype="float64"), np.nan)
        return per_name[touchpoint.cat.codes.to_numpy()]  # code -1 (missing): the NaN
    labels = touchpoint.to_numpy(dtype=object, na_value=None)
    return table.reindex(labels).to_numpy(dtype="float64")


def _event_observations(events: pd.DataFrame, valence: Mapping[str, float] | None) -> pd.DataFrame:
    n = len(events)
    if "emotion" in events.columns:
        own = _numeric(events["emotion"])
        _check_range(pd.Series(own), "events column 'emotion'")
    else:
        own = np.full(n, np.nan)
    if valence:
        mapped = _valence_of(events["touchpoint"], _valence_table(valence))
    else:
        mapped = np.full(n, np.nan)
    has_own = ~np.isnan(own)
    emotion = np.where(has_own, own, mapped)
    keep = ~np.isnan(emotion)
    return pd.DataFrame(
        {
            "customer_id": events["customer_id"].array[keep],
            "timestamp": events["timestamp"].array[keep],
            "stage": events["stage"].array[keep],
            "touchpoint": events["touchpoint"].array[keep],
            "source": np.where(has_own[keep], "event", "valence"),
            "emotion": emotion[keep],
        }
    )


def _feedback_observations(
    feedback: pd.DataFrame,
    rating_scale: tuple[float, float] | None,
    cx_lexicon: bool,
    *,
    touchpoint_dtype: object,
) -> list[pd.DataFrame]:
    if "touchpoint" in feedback.columns:
        touchpoint = feedback["touchpoint"].array
    else:
        # Same dtype as the events' touchpoints, so the combined column stays tidy.
        touchpoint = pd.Series([None] * len(feedback), dtype=object).astype(touchpoint_dtype).array
    scored = normalise_scores(feedback["score"], feedback["instrument"], rating_scale=rating_scale)
    signals = [(scored.to_numpy(), feedback["instrument"].to_numpy(dtype=object, na_value=None))]
    if "text" in feedback.columns:
        texts = score_texts(feedback["text"], cx_lexicon=cx_lexicon).to_numpy()
        signals.append((texts, np.full(len(feedback), "text", dtype=object)))
    parts = []
    for emotion, source in signals:
        keep = ~np.isnan(emotion)
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": feedback["customer_id"].array[keep],
                    "timestamp": feedback["timestamp"].array[keep],
                    "stage": feedback["stage"].array[keep],
                    "touchpoint": touchpoint[keep],
                    "source": source[keep],
                    "emotion": emotion[keep],
                }
            )
        )
    return parts


def _combined_stage_dtype(stages: Sequence[pd.Series]) -> pd.CategoricalDtype | None:
    """The input's stage categories (plus any stray labels), or None if no stage is categorical."""
    categorical = [s.dtype for s in stages if isinstance(s.dtype, pd.CategoricalDtype)]
    if not categorical:
        return None
    categories: dict[object, None] = {}
    for stage in stages:
        labels = (
            stage.cat.categories
            if isinstance(stage.dtype, pd.CategoricalDtype)
            else stage.dropna().unique()
        )
        categories.update(dict.fromkeys(labels))
    return pd.CategoricalDtype(list(categories), ordered=categorical[0].ordered)


def stage_emotion(
    observations: pd.DataFrame, *, sources: Sequence[str] | None = None
) -> pd.DataFrame:
    """Each customer's mean emotion at each stage.

    Parameters
    ----------
    observations
        The output of :func:`emotion_observations` (at least ``customer_id``, ``stage``,
        ``emotion``, and ``source`` when ``sources`` is given).
    sources
        Keep only these sources (values of :data:`SOURCES`) before averaging.

    Returns
    -------
    pandas.DataFrame
        One row per customer and stage with at least one observation (missing is not
        neutral: no observation, no row), sorted by customer and stage, RangeIndex:

        - ``customer_id``: the customer.
        - ``stage``: the stage (Categorical stays Categorical).
        - ``emotion_mean``: float64 mean of the observations, in [-1, 1].
        - ``n_observations``: int64 number of observations averaged.
    """
    require_columns(observations, ("customer_id", "stage", "emotion"), "observations")
    frame = observations
    if sources is not None:
        if isinstance(sources, str):
            sources = [sources]
        unknown = [s for s in sources if s not in SOURCES]
        if unknown:
            msg = f"unknown source(s) {unknown}; expected some of {list(SOURCES)}"
            raise CJResearchError(msg)
        require_columns(observations, ("source",), "observations")
        frame = frame[frame["source"].isin(list(sources))]
    frame = frame.loc[frame["emotion"].notna(), ["customer_id", "stage", "emotion"]]
    out = frame.groupby(["customer_id", "stage"], observed=True, sort=True, as_index=False).agg(
        emotion_mean=("emotion", "mean"), n_observations=("emotion", "size")
    )
    return out.astype({"emotion_mean": "float64", "n_observations": "int64"}).reset_index(drop=True)


@dataclass(frozen=True)
class TextAgreement:
    """How well text scores agree with the scores given on the same feedback rows.

    Attributes
    ----------
    n_pairs
        Rows with both a score and a non-blank text.
    spearman_rho
        Spearman rank correlation; NaN when ``n_pairs < 3`` or either side is constant.
    p_value
        Two-sided p-value of ``spearman_rho`` (NaN likewise).
    """

    n_pairs: int
    spearman_rho: float
    p_value: float


def text_score_agreement(
    feedback: pd.DataFrame,
    *,
    rating_scale: tuple[float, float] | None = None,
    cx_lexicon: bool = True,
) -> TextAgreement:
    """Spearman agreement between text scores and normalised scores on the same rows.

    Parameters
    ----------
    feedback
        Canonical feedback (``instrument``, ``score``, optional ``text``).
    rating_scale
        ``(min, max)`` of the ``rating`` instrument, if used.
    cx_lexicon
        Score texts with the customer-experience lexicon (default) or plain VADER.

    Returns
    -------
    TextAgreement
        ``n_pairs``, ``spearman_rho`` and ``p_value`` (``scipy.stats.spearmanr``).
    """
    require_columns(feedback, ("instrument", "score"), "feedback")
    if "text" not in feedback.columns:
        return TextAgreement(0, math.nan, math.nan)
    scored = normalise_scores(feedback["score"], feedback["instrument"], rating_scale=rating_scale)
    texts = score_texts(feedback["text"], cx_lexicon=cx_lexicon)
    both = (scored.notna() & texts.notna()).to_numpy()
    x = scored.to_numpy()[both]
    y = texts.to_numpy()[both]
    n_pairs = int(both.sum())
    # spearmanr warns and returns NaN on constant input; say NaN without the noise.
    if n_pairs < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return TextAgreement(n_pairs, math.nan, math.nan)
    # Imported here: scipy.stats takes half a second to import, and the schema module
    # (hence every CLI start) imports this module for its constants.
    from scipy import stats

    result = stats.spearmanr(x, y)
    return TextAgreement(n_pairs, float(result.statistic), float(result.pvalue))
