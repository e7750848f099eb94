"""Names that become file names and column names: one normaliser, and the checks on it.

Stage, channel and persona names end up in file names (``stages/<slug>.html``, artifact
folders) and in column names (``reached_<stage>``, ``channel_share_<channel>``). Both forms
come from here, so that the study file and the tables can be checked (by ``cjresearch
validate``) with exactly the functions a build uses:

- :func:`slugify`: a file-name-safe ASCII slug (pages; equal slugs of different names are
  told apart by ``-2``, ``-3`` when the pages are planned);
- :func:`sanitise_name`: a snake_case column-name fragment. Letters of any script are kept
  (``"認知"`` stays ``認知``), accents on Latin letters are dropped (``Café`` -> ``cafe``),
  symbols such as emoji are spelled by their Unicode name (``"🛒"`` -> ``shopping_trolley``),
  and the result is cut to 100 bytes of UTF-8 so that it fits in a file name;
- :func:`look_alike` and :func:`column_collisions` find distinct names that would be
  confused: names that differ only by invisible characters (``"web"`` and ``"web\\u200b"``)
  or Unicode compatibility forms, and names that become the same column name.

>>> sanitise_name("Sign-up (Web)"), slugify("Sign-up (Web)")
('sign_up_web', 'sign-up-web')
>>> look_alike(["web", "web\\u200b", "app"])
[('web', 'web\\u200b')]
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from cjresearch.errors import CJResearchError

__all__ = [
    "MAX_NAME_LENGTH",
    "column_collisions",
    "look_alike",
    "name_problems",
    "sanitise_name",
    "slugify",
]

#: The longest stage or persona name a study file may use (names become file names).
MAX_NAME_LENGTH = 100

_MAX_SLUG = 80
_MAX_COLUMN_BYTES = 100
# Names Windows refuses (a report folder may be copied to a share).
_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(10)),
    *(f"lpt{i}" for i in range(10)),
    "index",
    "manifest",
}


def slugify(name: str) -> str:
    """A file-name-safe slug of ``name`` that cannot leave its folder.

    Unicode is normalised (NFKD) and reduced to ASCII letters, digits and single hyphens;
    ``..``, ``/``, ``\\``, NUL and other control characters cannot survive. An empty result
    becomes ``report``; names reserved on Windows (``con``, ``nul``...) and the portal's own
    names (``index``, ``manifest``) get a ``-report`` suffix. At most 80 characters.

    >>> slugify("Price-sensitive Switchers")
    'price-sensitive-switchers'
    >>> slugify("../../etc/passwd")
    'etc-passwd'
    >>> slugify("Café Crème")
    'cafe-creme'
    >>> slugify("NUL")
    'nul-report'
    """
    text = unicodedata.normalize("NFKD", str(name))
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    text = text[:_MAX_SLUG].strip("-") or "report"
    if text in _RESERVED:
        text = f"{text}-report"
    return text


def sanitise_name(name: object) -> str:
    """A stage or channel name as a snake_case column-name fragment (see the module).

    Raises
    ------
    CJResearchError
        The name has no letter, digit or symbol to keep (e.g. ``"--"``).

    Examples
    --------
    >>> sanitise_name("Sign-up (Web)")
    'sign_up_web'
    >>> sanitise_name("Caf\u00e9 visit")
    'cafe_visit'
    >>> sanitise_name("お問い合わせ"), sanitise_name("🛒 Checkout")
    ('お問い合わせ', 'shopping_trolley_checkout')
    """
    kept: list[str] = []
    after_ascii = True
    for char in unicodedata.normalize("NFKD", str(name)):
        category = unicodedata.category(char)
        if char.isascii():
            kept.append(char if char.isalnum() else "_")
            after_ascii = True
        elif category.startswith("M"):
            # accents on Latin letters are dropped (Café -> cafe); marks of other scripts
            # are part of their letter (か + ゙ is が) and recomposed below
            if not after_ascii:
                kept.append(char)
        elif char.isalnum():
            kept.append(char)
            after_ascii = False
        elif category.startswith("S"):
            spelled = unicodedata.name(char, f"U{ord(char):04X}")
            kept.append("_" + re.sub(r"[^A-Za-z0-9]+", "_", spelled) + "_")
            after_ascii = True
        else:
            kept.append("_")
            after_ascii = True
    text = unicodedata.normalize("NFC", "".join(kept)).lower()
    text = re.sub(r"_+", "_", text).strip("_")
    while len(text.encode("utf-8")) > _MAX_COLUMN_BYTES:
        text = text[:-1].rstrip("_")
    if not text:
        msg = f"the name {name!r} has no letters or digits to put in a column name; rename it"
        raise CJResearchError(msg)
    return text


def _visible(name: str) -> str:
    """What a reader sees: compatibility forms folded, invisible characters removed."""
    text = unicodedata.normalize("NFKC", name)
    text = "".join(c for c in text if unicodedata.category(c) not in {"Cf", "Cc", "Cs", "Co"})
    return " ".join(text.split())


def look_alike(names: Iterable[str]) -> list[tuple[str, str]]:
    """Pairs of distinct names that look the same: equal once invisible characters
    (zero-width spaces, joiners, direction marks, control characters) are removed,
    whitespace is collapsed and Unicode compatibility forms (full-width letters,
    ligatures) are folded. Each pair is (first seen, second seen)."""
    seen: dict[str, str] = {}
    pairs = []
    for name in dict.fromkeys(names):
        key = _visible(name)
        if key in seen:
            pairs.append((seen[key], name))
        else:
            seen[key] = name
    return pairs


def column_collisions(names: Iterable[str]) -> list[tuple[str, str, str]]:
    """Pairs of distinct names that :func:`sanitise_name` turns into the same column name:
    (first seen, second seen, the shared column-name fragment). Names that cannot become a
    column name at all are left to :func:`sanitise_name`'s own error."""
    seen: dict[str, str] = {}
    out = []
    for name in dict.fromkeys(names):
        try:
            fragment = sanitise_name(name)
        except CJResearchError:
            continue
        if fragment in seen:
            out.append((seen[fragment], name, fragment))
        else:
            seen[fragment] = name
    return out


def name_problems(names: Iterable[str], *, what: str, max_length: int | None = None) -> list[str]:
    """Every reason the ``what`` names (e.g. ``"stage"``) cannot all be used, as sentences:
    too long, not usable in a column name, look-alike pairs and column-name collisions.

    >>> name_problems(["Sign up", "sign-up"], what="stage")
    ["the stage names 'Sign up' and 'sign-up' both become 'sign_up' in column names (letters \
lowercased, other characters as '_'); rename one of them"]
    """
    names = list(dict.fromkeys(names))
    problems = []
    if max_length is not None:
        long = [n for n in names if len(n) > max_length]
        problems += [
            f"the {what} name {_short(n)} has {len(n)} characters; names become file names, "
            f"so at most {max_length} are allowed"
            for n in long
        ]
    for name in names:
        try:
            sanitise_name(name)
        except CJResearchError:
            problems.append(
                f"the {what} name {name!r} has no letters, digits or symbols to put in a "
                "column name; rename it"
            )
    twins = look_alike(names)
    problems += [
        f"the {what} names {a!r} and {b!r} look the same (they differ only in invisible "
        "characters, spacing or Unicode compatibility forms); use one spelling"
        for a, b in twins
    ]
    reported = {frozenset(pair) for pair in twins}
    problems += [
        f"the {what} names {a!r} and {b!r} both become {fragment!r} in column names (letters "
        "lowercased, other characters as '_'); rename one of them"
        for a, b, fragment in column_collisions(names)
        if frozenset((a, b)) not in reported
    ]
    return problems


def _short(name: str, limit: int = 40) -> str:
    return repr(name) if len(name) <= limit else repr(name[: limit - 3] + "...")
