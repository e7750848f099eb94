"""Labels: the words a report uses for the names in the data.

Stages, touchpoints, channels and journey features reach the tables as the data name them
(``setup_failed``, ``channel_share_app``). A report shows them in human words: the study
file's ``[labels]`` table first (``setup_failed = "Setup failed"``), else an automatic
label (:func:`auto_label`). The same vocabulary turns a persona's traits into sentences
("use the app for 88% of their interactions, against 37% overall") and generated persona
names into names that read as words (:meth:`Labels.persona_name`).

:func:`labels_table` publishes every label a build used (``tables/labels.csv``), so that an
analyst can go from a page's words back to the data's names.

>>> labels = Labels({"setup_failed": "Setup failed"}, stages=["onboarding"])
>>> labels("setup_failed"), labels("account_setup"), labels("onboarding")
('Setup failed', 'Account setup', 'Onboarding')
>>> labels.feature("channel_share_app")
'Share of interactions in the app'
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from cjresearch.analysis.settings import Settings
from cjresearch.data.names import sanitise_name

__all__ = [
    "LABEL_COLUMNS",
    "Labels",
    "auto_label",
    "labels_table",
    "published_labels",
    "quoted",
]

#: Columns of ``tables/labels.csv``.
LABEL_COLUMNS = ("kind", "name", "label", "source")

#: Words that read in capitals.
_ACRONYMS = {
    "faq",
    "sms",
    "nps",
    "csat",
    "ces",
    "id",
    "url",
    "tv",
    "ios",
    "api",
    "ai",
    "pos",
    "vip",
    "b2b",
    "b2c",
    "kpi",
    "crm",
    "ivr",
    "qr",
}
#: How a sentence names a channel ("use the app for ...").
_CHANNEL_PHRASES = {
    "app": "the app",
    "mobile": "the mobile app",
    "web": "the website",
    "website": "the website",
    "phone": "the phone",
    "store": "stores",
    "shop": "shops",
    "email": "email",
    "e_mail": "email",
    "social": "social media",
    "chat": "chat",
    "sms": "SMS",
    "mail": "mail",
}
_SNAKE = re.compile(r"^[a-z0-9]+(?:[_\-][a-z0-9]+)*$")
_SUFFIX = re.compile(r"^(?P<base>.*?)(?P<suffix> \([A-Z]+\))?$")


def auto_label(name: object) -> str:
    """A readable label for a data name: snake_case and kebab-case become words.

    A name with capitals or spaces is the researcher's own spelling and is kept.

    >>> auto_label("setup_failed"), auto_label("faq_page"), auto_label("Sign up (web)")
    ('Setup failed', 'FAQ page', 'Sign up (web)')
    """
    text = str(name).strip()
    if not _SNAKE.match(text):
        return text
    words = [w.upper() if w in _ACRONYMS else w for w in re.split(r"[_\-]+", text)]
    phrase = " ".join(words)
    return phrase[:1].upper() + phrase[1:]


def quoted(name: object) -> str:
    """A name in quotation marks, so that commas inside it read within a sentence.

    >>> quoted("App-first, younger")
    '“App-first, younger”'
    """
    return f"\u201c{name}\u201d"


def _number(value: float) -> str:
    """A figure for a sentence: no scientific notation, one decimal below 10."""
    if not math.isfinite(value):
        return "not measured"
    return f"{value:,.1f}" if abs(value) < 10 else f"{value:,.0f}"


def _share(value: float) -> str:
    if not math.isfinite(value):
        return "not measured"
    return f"{100 * value:.0f}%" if value >= 0.01 or value == 0 else "under 1%"


def _signed(value: float) -> str:
    return f"{value:+.2f}".replace("-", "\u2212") if math.isfinite(value) else "not measured"


class Labels:
    """The labels of one study: the study file's ``[labels]``, else automatic ones.

    Parameters
    ----------
    given
        Data name -> label (the study file's ``[labels]``).
    stages, channels
        The study's stages and the channels seen, so that the names inside feature names
        (``reached_<stage>``, ``channel_share_<channel>``, sanitised) find their labels.
    """

    def __init__(
        self,
        given: Mapping[str, str] | None = None,
        *,
        stages: Iterable[str] = (),
        channels: Iterable[str] = (),
    ) -> None:
        self.given = {str(k): str(v) for k, v in (given or {}).items()}
        self._stages = {sanitise_name(s): str(s) for s in stages}
        self._channels = {sanitise_name(c): str(c) for c in channels}

    def __call__(self, name: object) -> str:
        """The label of a stage, touchpoint, channel or any other data name."""
        if name is None or (isinstance(name, float) and math.isnan(name)):
            return ""
        text = str(name)
        return self.given.get(text) or auto_label(text)

    def is_given(self, name: object) -> bool:
        """Whether the study file labels ``name``."""
        return str(name) in self.given

    # --- names inside feature names ---------------------------------------------------------

    def _stage(self, fragment: str) -> str:
        return self(self._stages.get(fragment, fragment))

    def _channel_name(self, fragment: str) -> str:
        return self._channels.get(fragment, fragment)

    def channel(self, fragment: str) -> str:
        """How a sentence names a channel: "the app", "the website" (or the study's label)."""
        name = self._channel_name(fragment)
        if self.is_given(name):
            return self(name)
        return _CHANNEL_PHRASES.get(sanitise_name(name), self(name).lower())

    def _split(self, feature: str) -> tuple[str, str]:
        """(kind, the stage or channel or column) of a journey feature."""
        for prefix, kind in (
            ("channel_share_", "channel_share"),
            ("n_emotion_", "n_emotion"),
            ("reached_", "reached"),
            ("events_per_30_days", "per_month"),
            ("events_", "events"),
            ("days_in_", "days_in"),
            ("emotion_", "emotion"),
        ):
            if feature.startswith(prefix):
                return kind, feature.removeprefix(prefix)
        if "=" in feature:
            return "level", feature
        return feature, ""

    def feature(self, feature: object) -> str:
        """A journey feature as a column heading ("Share of interactions in the app")."""
        text = str(feature)
        if self.is_given(text):
            return self(text)
        kind, rest = self._split(text)
        stage = self._stage(rest) if rest else ""
        if kind == "channel_share":
            return f"Share of interactions {self._via(rest)}"
        if kind == "level":
            column, level = text.split("=", 1)
            return f"{self(column)}: {self(level)}"
        staged = {
            "n_emotion": "Emotion signals at {}",
            "reached": "Reached {}",
            "events": "Interactions at {}",
            "days_in": "Days in {}",
            "emotion": "Emotion at {}",
        }
        if kind in staged:
            return staged[kind].format(stage)
        plain = {
            "per_month": "Interactions per 30 days",
            "n_events": "Interactions",
            "n_touchpoints": "Touchpoints used",
            "touchpoint_entropy": "Variety of touchpoints",
            "n_stages_reached": "Stages reached",
            "n_stages_skipped": "Stages skipped",
            "recency_days": "Days since the last interaction",
            "tenure_days": "Days from first to last interaction",
        }
        return plain.get(kind, self(text))

    def _via(self, fragment: str) -> str:
        phrase = self.channel(fragment)
        if phrase.startswith("the "):
            return "in " + phrase if phrase in ("the app", "the mobile app") else "on " + phrase
        return "by " + phrase if phrase in ("phone", "email", "mail") else "via " + phrase

    # --- traits as sentences ----------------------------------------------------------------

    def trait(
        self, feature: object, persona_value: float, overall_value: float, direction: str
    ) -> str:
        """One trait of a persona as a sentence about its customers.

        >>> Labels().trait("channel_share_app", 0.876, 0.37, "higher")
        'They use the app for 88% of their interactions, against 37% overall.'
        >>> Labels().trait("age", 27.0, 43.1, "lower")
        'They are 27 years old on average, against 43 overall.'
        """
        text = str(feature)
        mine, overall = float(persona_value), float(overall_value)
        kind, rest = self._split(text)
        stage = self._stage(rest) if rest else ""
        against = "against {} overall"
        if kind == "channel_share":
            body = f"use {self.channel(rest)} for {_share(mine)} of their interactions"
            return f"They {body}, {against.format(_share(overall))}."
        if kind == "reached" or kind == "level" or _is_share(mine, overall, text):
            if kind == "reached":
                what = f"reach {stage}"
            elif kind == "level":
                column, level = text.split("=", 1)
                what = f"have {self(column).lower()} {quoted(self(level))}"
            else:
                what = f"have {self.feature(text).lower()}"
            text = f"{_share(mine)} of them {what}, {against.format(_share(overall))}."
            return text[:1].upper() + text[1:]
        if kind == "emotion":
            return (
                f"They feel {_signed(mine)} at {stage} on average (\u22121 to +1), "
                f"{against.format(_signed(overall))}."
            )
        verbs = {
            "age": "are {} years old on average",
            "n_touchpoints": "use {} different touchpoints on average",
            "n_events": "have {} interactions on average",
            "per_month": "interact {} times a month on average",
            "events": f"have {{}} interactions at {stage} on average",
            "days_in": f"spend {{}} days in {stage} on average",
            "recency_days": "were last seen {} days before the end of the study on average",
            "tenure_days": "stay {} days from first to last interaction on average",
            "n_stages_reached": "reach {} stages on average",
            "n_stages_skipped": "skip {} stages on average",
            "n_emotion": f"give {{}} emotion signals at {stage} on average",
        }
        if kind in verbs:
            figure = f"{mine:.0f}" if kind == "age" else _number(mine)
            shown = f"{overall:.0f}" if kind == "age" else _number(overall)
            return f"They {verbs[kind].format(figure)}, {against.format(shown)}."
        if kind == "touchpoint_entropy":
            spread = "more widely" if direction == "higher" else "less widely"
            return (
                f"They spread their interactions {spread} across touchpoints (variety "
                f"{_number(mine)}, {against.format(_number(overall))})."
            )
        shown = against.format(_number(overall))
        return f"{self.feature(text)}: {_number(mine)} on average, {shown}."

    # --- persona names ----------------------------------------------------------------------

    def _name_phrase(self, feature: str, direction: str) -> str:
        """The human phrase for a trait the persona names' vocabulary spells raw."""
        higher = direction == "higher"
        kind, rest = self._split(feature)
        stage = self._stage(rest) if rest else ""
        if kind == "channel_share":
            label = self(self._channel_name(rest))
            return f"{label}-first" if higher else f"rarely {self._via(rest)}"
        words = {
            "n_touchpoints": ("many touchpoints", "few touchpoints"),
            "n_events": ("highly active", "occasional"),
            "per_month": ("highly active", "occasional"),
            "touchpoint_entropy": ("varied journeys", "focused journeys"),
            "n_stages_reached": ("long journeys", "short journeys"),
            "n_stages_skipped": ("skipping stages", "stage by stage"),
            "recency_days": ("long inactive", "recently active"),
            "tenure_days": ("long-standing", "new"),
            "reached": (f"often at {stage}", f"rarely at {stage}"),
            "events": (f"heavy {stage}", f"light {stage}"),
            "days_in": (f"slow {stage}", f"quick {stage}"),
            "emotion": (f"happy at {stage}", f"unhappy at {stage}"),
            "age": ("older", "younger"),
        }
        if kind in words:
            return words[kind][0 if higher else 1]
        if kind == "level":
            column, level = feature.split("=", 1)
            phrase = f"{self(level)} {self(column).lower()}"
            return phrase if higher else f"seldom {phrase}"
        return f"{'high' if higher else 'low'} {self.feature(feature).lower()}"

    def persona_name(self, name: str, traits: pd.DataFrame | None = None) -> str:
        """A generated persona name in human words.

        The persona names' generator spells some traits raw (``"n_touchpoints lower"``) and
        joins two channels as ``"Web-first, Email-first"``: such phrases are rewritten from the
        persona's ``traits`` (``feature, direction`` rows, as in ``tables/persona_traits.csv``);
        every other phrase, and a name the study file gives, is kept.

        >>> traits = pd.DataFrame({"feature": ["n_touchpoints"], "direction": ["lower"]})
        >>> Labels().persona_name("Highly active, n_touchpoints lower", traits)
        'Highly active, few touchpoints'
        >>> Labels().persona_name("Web-first, Email-first")
        'Web- and email-first'
        """
        if self.is_given(name):
            return self(name)
        match = _SUFFIX.match(str(name))
        base, suffix = (match["base"], match["suffix"] or "") if match else (str(name), "")
        raw: dict[str, str] = {}
        if traits is not None and len(traits):
            for feature, direction in zip(traits["feature"], traits["direction"], strict=True):
                raw[f"{feature} {direction}".lower()] = self._name_phrase(
                    str(feature), str(direction)
                )
                if str(feature).startswith("channel_share_") and direction == "higher":
                    plain = str(feature).removeprefix("channel_share_").capitalize() + "-first"
                    raw[plain.lower()] = raw[f"{feature} {direction}".lower()]
        phrases = [raw.get(p.strip().lower(), p.strip()) for p in base.split(", ") if p.strip()]
        firsts = [p for p in phrases if p.endswith("-first")]
        if len(firsts) >= 2:
            joined = " and ".join(
                [firsts[0].removesuffix("first"), *(f.removesuffix("-first") for f in firsts[1:])]
            )
            merged = joined[:1].upper() + joined[1:].lower() + "-first"
            merged = merged.replace("--first", "-first")
            at = phrases.index(firsts[0])
            phrases = [p for p in phrases if p not in firsts]
            phrases.insert(at, merged)
        text = ", ".join(phrases) or str(name)
        return text[:1].upper() + text[1:] + suffix

    def persona_names(
        self,
        personas: pd.DataFrame,
        traits: pd.DataFrame,
        *,
        fixed: Iterable[int] = (),
    ) -> dict[str, str]:
        """Persona name (as in the tables) -> the name the pages show; unique.

        Parameters
        ----------
        personas
            ``persona_id, persona_name`` (``tables/personas.csv``).
        traits
            ``persona_id, feature, direction`` (``tables/persona_traits.csv``).
        fixed
            Persona ids whose names the study file gives (kept as they are).
        """
        kept = {int(p) for p in fixed}
        shown: dict[str, str] = {}
        for pid, name in zip(personas["persona_id"], personas["persona_name"], strict=True):
            mine = traits[traits["persona_id"] == pid] if len(traits) else None
            if int(pid) in kept:
                shown[str(name)] = self(str(name)) if self.is_given(str(name)) else str(name)
            else:
                shown[str(name)] = self.persona_name(str(name), mine)
        counts: dict[str, int] = {}
        for value in shown.values():
            counts[value] = counts.get(value, 0) + 1
        return {k: (v if counts[v] == 1 or k == v else f"{v} ({k})") for k, v in shown.items()}


def _is_share(mine: float, overall: float, feature: str) -> bool:
    """Whether a trait is a 0/1 feature's share (a one-hot level or a ``reached_`` flag)."""
    return feature.startswith(("reached_",)) and 0 <= mine <= 1 and 0 <= overall <= 1


def labels_table(
    labels: Labels,
    *,
    stages: Sequence[str],
    touchpoints: Iterable[Any] = (),
    channels: Iterable[Any] = (),
    features: Iterable[Any] = (),
    personas: Mapping[str, str] | None = None,
    study_personas: Iterable[str] = (),
) -> pd.DataFrame:
    """Every label a build uses, for ``tables/labels.csv``.

    Returns
    -------
    pandas.DataFrame
        ``kind, name, label, source``: kind is ``stage``, ``touchpoint``, ``channel``,
        ``feature`` or ``persona``; source is ``study`` (the study file's ``[labels]``) or
        ``automatic`` (``study_personas``: the persona names the study file gives).
    """
    rows: list[dict[str, str]] = []
    groups: list[tuple[str, Iterable[Any], Any]] = [
        ("stage", stages, labels),
        ("touchpoint", touchpoints, labels),
        ("channel", channels, labels),
        ("feature", features, labels.feature),
    ]
    for kind, names, make in groups:
        for name in dict.fromkeys(str(n) for n in names if n is not None and not pd.isna(n)):
            source = "study" if labels.is_given(name) else "automatic"
            rows.append({"kind": kind, "name": name, "label": make(name), "source": source})
    named = set(study_personas)
    for name, shown in (personas or {}).items():
        source = "study" if labels.is_given(name) or name in named else "automatic"
        rows.append({"kind": "persona", "name": name, "label": shown, "source": source})
    return pd.DataFrame(rows, columns=list(LABEL_COLUMNS)).astype(str)


def published_labels(
    published: Mapping[str, pd.DataFrame],
    settings: Settings,
    given: Mapping[str, str],
    named_personas: Sequence[int],
) -> pd.DataFrame:
    """The ``labels`` table: every stage, touchpoint, channel, trait and persona name the
    published tables hold, with the words the pages use for it."""

    def names(table: str, column: str) -> list[Any]:
        frame = published.get(table)
        return [] if frame is None or column not in frame else frame[column].tolist()

    channels = names("channels", "channel")
    labels = Labels(given, stages=settings.require_stages(), channels=channels)
    personas, traits = published["personas"], published["persona_traits"]
    shown = labels.persona_names(personas, traits, fixed=named_personas)
    fixed = set(named_personas)
    return labels_table(
        labels,
        stages=settings.require_stages(),
        touchpoints=names("touchpoints", "touchpoint"),
        channels=channels,
        features=names("persona_traits", "feature"),
        personas=shown,
        study_personas=[
            str(n)
            for p, n in zip(personas["persona_id"], personas["persona_name"], strict=True)
            if int(p) in fixed
        ],
    )
