"""Model names and aliases: one spelling per name, so two names never look alike.

A name is NFKC-normalised (full-width and compatibility forms become plain ASCII letters),
stripped of surrounding whitespace and lower-cased: ``Churn`` and ``churn`` are the same
model. What remains must be ASCII letters, digits, ``_``,
``-`` and ``.``, must not start with ``.`` or ``-`` nor contain ``..``, and is at most
200 characters. Everything else is refused, not repaired:

- ``/`` and ``\\`` (a name is a path segment in URIs and folders);
- ``%``: URL-encoded text is never decoded, so ``churn%2Fx`` or ``ch%75rn`` cannot
  become another spelling of an existing name;
- letters from other scripts that look like ASCII ones (a Cyrillic "es" for the ``c`` of
  ``churn``): the error suggests the ASCII spelling;
- control characters and whitespace inside the name.

>>> normalize_model_name("  Churn-Model ")
'churn-model'
"""

from __future__ import annotations

import unicodedata

from shipyard.errors import ModelError

__all__ = ["MAX_ALIAS_LENGTH", "MAX_NAME_LENGTH", "normalize_alias", "normalize_model_name"]

MAX_NAME_LENGTH = 200
MAX_ALIAS_LENGTH = 100
#: A reference to the newest version; no alias may be called so.
LATEST = "latest"
_NAME_HINT = (
    "A model name uses ASCII letters, digits, '_', '-' and '.' (at most 200 characters), "
    "e.g. 'churn' or 'churn-model_v2'; it is stored in lower case."
)
_ALIAS_HINT = (
    "An alias uses ASCII letters, digits, '_', '-' and '.', is not a number and not "
    "'latest', e.g. 'champion' or 'challenger'."
)
# Letters of other scripts that render like ASCII ones, for the suggested spelling.
_LOOK_ALIKES = str.maketrans(
    "авсеһіјкмнорѕтхуԁӏαβεικνορτυχ",  # Cyrillic, then Greek (upper case is lowered first)
    "abcehijkmhopstxydlabeikvoptux",
)


def normalize_model_name(raw: str) -> str:
    """The one stored spelling of model name ``raw``; :class:`ModelError` if it is not one.

    >>> normalize_model_name("Churn")
    'churn'
    """
    return _normalize(raw, "Model name", MAX_NAME_LENGTH, _NAME_HINT)


def normalize_alias(raw: str) -> str:
    """The stored spelling of alias ``raw`` (same rules as names, lower case); numbers
    and ``latest`` are refused because ``name@3`` and ``name@latest`` would be ambiguous.

    >>> normalize_alias("Champion")
    'champion'
    """
    alias = _normalize(raw, "Alias", MAX_ALIAS_LENGTH, _ALIAS_HINT)
    if alias.isdigit() or alias == LATEST:
        raise ModelError(
            f"Alias '{alias}' is reserved: it would read as "
            + ("a version number." if alias.isdigit() else "the newest version."),
            hint=_ALIAS_HINT,
        )
    return alias


def _normalize(raw: str, what: str, max_length: int, hint: str) -> str:
    if not isinstance(raw, str):
        raise ModelError(f"{what} must be text, not {type(raw).__name__}.", hint=hint)
    text = unicodedata.normalize("NFKC", raw).strip()
    problem = _problem(text, max_length)
    if problem is None:
        return text.lower()
    suggestion = _suggestion(text, max_length)
    raise ModelError(
        f"{what} {text!r} {problem}.",
        hint=(f"Did you mean '{suggestion}'? " if suggestion else "") + hint,
    )


_PATH_LIKE = (
    ("/", "'/' (names are not paths)"),
    ("\\", "'\\' (names are not paths)"),
    ("%", "'%' (URL-encoded text is not decoded; write the name itself)"),
    ("..", "'..' (names are not paths)"),
)


def _problem(text: str, max_length: int) -> str | None:
    """What makes ``text`` (NFKC, stripped) unusable as a name, or None."""
    control = next((c for c in text if unicodedata.category(c).startswith("C")), None)
    other = next((c for c in text if not (c.isascii() and (c.isalnum() or c in "_.-"))), None)
    checks = (
        (not text, "is empty"),
        (len(text) > max_length, f"is {len(text)} characters long (at most {max_length})"),
        (
            control is not None,
            f"contains the invisible or control character U+{ord(control or ' '):04X}",
        ),
        *((bad in text, f"contains {why}") for bad, why in _PATH_LIKE),
        (text[:1] in (".", "-"), f"starts with '{text[:1]}'"),
        (other is not None, f"contains {_describe(other or ' ')}"),
    )
    return next((problem for failed, problem in checks if failed), None)


def _describe(char: str) -> str:
    if char == " ":
        return "a space"
    if char.isascii():
        return f"'{char}', which is not allowed"
    name = unicodedata.name(char, "an unnamed character")
    return f"'{char}' (U+{ord(char):04X} {name}), which is not an ASCII letter"


def _suggestion(text: str, max_length: int) -> str | None:
    """An ASCII spelling of ``text`` when look-alike letters or accents were its only
    problem (Cyrillic letters in ``churn``, ``modèle`` -> ``modele``)."""
    plain = unicodedata.normalize("NFKD", text.lower().translate(_LOOK_ALIKES))
    plain = "".join(char for char in plain if not unicodedata.combining(char))
    if plain == text.lower() or _problem(plain, max_length) is not None:
        return None
    return plain
