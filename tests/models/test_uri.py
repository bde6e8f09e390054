"""Model references: every accepted form, the canonical URI, and malformed ones refused with
the accepted forms named."""

from __future__ import annotations

import pytest

from shipyard.errors import ModelError
from shipyard.models._uri import ModelRef, parse_model_ref


@pytest.mark.parametrize(
    ("text", "ref", "canonical"),
    [
        ("models:/churn/3", ModelRef("churn", version=3), "models:/churn/3"),
        ("models:/churn@champion", ModelRef("churn", alias="champion"), "models:/churn@champion"),
        ("churn@champion", ModelRef("churn", alias="champion"), "models:/churn@champion"),
        ("churn:3", ModelRef("churn", version=3), "models:/churn/3"),
        ("churn", ModelRef("churn"), "models:/churn"),
        ("models:/churn", ModelRef("churn"), "models:/churn"),
        ("models:/churn/latest", ModelRef("churn"), "models:/churn"),
        ("churn:latest", ModelRef("churn"), "models:/churn"),
        (" Models:/Churn@Champion ", ModelRef("churn", alias="champion"), "models:/churn@champion"),
        ("churn:0012", ModelRef("churn", version=12), "models:/churn/12"),
    ],
)
def test_accepted_forms(text, ref, canonical):
    parsed = parse_model_ref(text)
    assert parsed == ref
    assert str(parsed) == canonical
    assert parse_model_ref(canonical) == parsed  # the canonical form reads back the same


_FORMS_HINT = "models:/NAME/VERSION, models:/NAME@ALIAS, NAME@ALIAS, NAME:VERSION or NAME"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "'' is not a model reference: it is empty."),
        (
            "churn/3",
            "'churn/3' is not a model reference: '/' is only for models:/NAME/VERSION; "
            "write NAME:VERSION.",
        ),
        (
            "churn:3@champion",
            "'churn:3@champion' is not a model reference: it names both a version and an alias.",
        ),
        (
            "models:/churn/3@x",
            "'models:/churn/3@x' is not a model reference: it names both a version and an alias.",
        ),
        ("churn@", "'churn@' is not a model reference: no alias follows '@'."),
        (
            "churn:0",
            "'churn:0' is not a model reference: the version '0' is not a number from 1 up.",
        ),
        (
            "churn:x",
            "'churn:x' is not a model reference: the version 'x' is not a number from 1 up.",
        ),
        (
            "churn:-1",
            "'churn:-1' is not a model reference: the version '-1' is not a number from 1 up.",
        ),
        (
            "models:/a/b/3",
            "'models:/a/b/3' is not a model reference: the version 'b/3' is not "
            "a number from 1 up.",
        ),
    ],
)
def test_malformed_references_name_the_accepted_forms(text, message):
    with pytest.raises(ModelError) as caught:
        parse_model_ref(text)
    assert caught.value.message == message
    assert _FORMS_HINT in caught.value.hint


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models:/", "Model name '' is empty."),
        ("\u0441hurn@champion", "Model name '\u0441hurn' contains '\u0441'"),
        ("churn%2F..@champion", "Model name 'churn%2F..' contains '%'"),
        ("models:/..", "Model name '..' contains '..'"),
        ("churn@3", "Alias '3' is reserved: it would read as a version number."),
        ("churn@latest", "Alias 'latest' is reserved"),
        ("models:/churn:3", "Model name 'churn:3' contains ':'"),
    ],
)
def test_bad_names_and_aliases_inside_references_are_refused(text, message):
    with pytest.raises(ModelError) as caught:
        parse_model_ref(text)
    assert caught.value.message.startswith(message)


def test_a_reference_must_be_text():
    with pytest.raises(ModelError, match="is not a model reference: it is empty"):
        parse_model_ref(None)  # type: ignore[arg-type]
