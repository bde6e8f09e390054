"""Model names and aliases: one spelling per name; look-alikes, paths and URL-encoded forms
are refused with a message that names the problem and a hint with a valid example."""

from __future__ import annotations

import pytest

from shipyard.errors import ModelError
from shipyard.models._names import MAX_NAME_LENGTH, normalize_alias, normalize_model_name

_CYRILLIC_ES = "\u0441"  # looks like a Latin "c"
_FULLWIDTH_CHURN = "\uff23\uff28\uff35\uff32\uff2e"  # "CHURN" in full-width letters


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("churn", "churn"),
        ("Churn", "churn"),  # names are case-insensitive: stored in lower case
        ("  CHURN  ", "churn"),
        (_FULLWIDTH_CHURN, "churn"),  # NFKC turns compatibility forms into ASCII
        ("churn-model_v2.1", "churn-model_v2.1"),
        ("_private", "_private"),
        ("x" * MAX_NAME_LENGTH, "x" * MAX_NAME_LENGTH),
    ],
)
def test_valid_names_have_one_spelling(raw, stored):
    assert normalize_model_name(raw) == stored


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("a/b", "Model name 'a/b' contains '/' (names are not paths)."),
        ("a\\b", "Model name 'a\\\\b' contains '\\' (names are not paths)."),
        ("..", "Model name '..' contains '..' (names are not paths)."),
        ("churn..v2", "Model name 'churn..v2' contains '..' (names are not paths)."),
        (
            "churn%2F..",
            "Model name 'churn%2F..' contains '%' (URL-encoded text is not decoded; "
            "write the name itself).",
        ),
        (
            "ch%75rn",
            "Model name 'ch%75rn' contains '%' (URL-encoded text is not decoded; "
            "write the name itself).",
        ),
        ("\uff0fetc", "Model name '/etc' contains '/' (names are not paths)."),  # full-width /
        ("", "Model name '' is empty."),
        ("   ", "Model name '' is empty."),
        (".hidden", "Model name '.hidden' starts with '.'."),
        ("-rf", "Model name '-rf' starts with '-'."),
        ("my model", "Model name 'my model' contains a space."),
        ("churn:3", "Model name 'churn:3' contains ':', which is not allowed."),
        ("a\x00b", "Model name 'a\\x00b' contains the invisible or control character U+0000."),
        ("a\u200bb", "Model name 'a\\u200bb' contains the invisible or control character U+200B."),
        ("x" * 201, f"Model name '{'x' * 201}' is 201 characters long (at most 200)."),
    ],
)
def test_faulty_names_are_refused_with_the_problem_named(raw, message):
    with pytest.raises(ModelError) as caught:
        normalize_model_name(raw)
    assert caught.value.message == message
    assert "e.g. 'churn' or 'churn-model_v2'" in caught.value.hint


def test_a_cyrillic_look_alike_is_refused_with_the_ascii_spelling_suggested():
    with pytest.raises(ModelError) as caught:
        normalize_model_name(f"{_CYRILLIC_ES}hurn")
    assert caught.value.message == (
        f"Model name '{_CYRILLIC_ES}hurn' contains '{_CYRILLIC_ES}' "
        "(U+0441 CYRILLIC SMALL LETTER ES), which is not an ASCII letter."
    )
    assert caught.value.hint.startswith("Did you mean 'churn'? A model name uses ASCII letters")


@pytest.mark.parametrize(
    ("raw", "suggested"),
    [
        ("\u0421HURN", "churn"),  # Cyrillic capital ES
        ("m\u043edel", "model"),  # Cyrillic o
        ("\u03bfrder", "order"),  # Greek omicron
        ("mod\u00e8le", "modele"),  # an accent is dropped in the suggestion
    ],
)
def test_other_look_alikes_suggest_their_ascii_spelling(raw, suggested):
    with pytest.raises(ModelError, match="which is not an ASCII letter") as caught:
        normalize_model_name(raw)
    assert caught.value.hint.startswith(f"Did you mean '{suggested}'?")


def test_a_name_with_no_ascii_spelling_gets_no_suggestion():
    with pytest.raises(ModelError) as caught:
        normalize_model_name("\u6a21\u578b")  # Chinese for "model"
    assert caught.value.hint.startswith("A model name uses ASCII letters")


def test_a_name_must_be_text():
    with pytest.raises(ModelError, match=r"Model name must be text, not int\."):
        normalize_model_name(3)  # type: ignore[arg-type]


def test_aliases_follow_the_name_rules_and_refuse_version_references():
    assert normalize_alias(" Champion ") == "champion"
    for raw, message in (
        ("3", "Alias '3' is reserved: it would read as a version number."),
        ("Latest", "Alias 'latest' is reserved: it would read as the newest version."),
        ("champ/ion", "Alias 'champ/ion' contains '/' (names are not paths)."),
        (f"{_CYRILLIC_ES}hamp", f"Alias '{_CYRILLIC_ES}hamp' contains '{_CYRILLIC_ES}' "),
    ):
        with pytest.raises(ModelError) as caught:
            normalize_alias(raw)
        assert caught.value.message.startswith(message)
        assert "e.g. 'champion' or 'challenger'" in caught.value.hint
