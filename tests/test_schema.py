"""The shipped JSON Schema (schema/problem.schema.json) is what editors use: it must be
current (equal to what spec.py generates) and accept every shipped example."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from tracer.spec import json_schema

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = json.loads((ROOT / "schema" / "problem.schema.json").read_text(encoding="utf-8"))
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def test_shipped_schema_is_current():
    assert SHIPPED == json_schema(), "regenerate: python3 -m tracer schema > schema/problem.schema.json"


def test_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(SHIPPED)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_validates_against_the_schema(path):
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    errors = sorted(jsonschema.Draft202012Validator(SHIPPED).iter_errors(raw), key=str)
    assert not errors, errors[0].message


def test_schema_rejects_what_the_loader_rejects():
    raw = yaml.safe_load((ROOT / "examples" / "mazur.yaml").read_text(encoding="utf-8"))
    raw["network"]["layers"][0]["activaton"] = "relu"  # a typo'd key
    assert not jsonschema.Draft202012Validator(SHIPPED).is_valid(raw)
    raw = yaml.safe_load((ROOT / "examples" / "mazur.yaml").read_text(encoding="utf-8"))
    raw["training"]["learning_rate"] = "fast"
    assert not jsonschema.Draft202012Validator(SHIPPED).is_valid(raw)
