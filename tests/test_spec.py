"""Bad problem files: one clear line naming the file and the field, exit 2, never a traceback."""

import textwrap

import pytest
import yaml
from click.testing import CliRunner

from tracer.cli import cli
from tracer.spec import SpecError, from_mapping, load, loads

GOOD = textwrap.dedent(
    """
    title: t
    network:
      inputs: 2
      layers:
        - units: 2
          activation: sigmoid
          weights: [[0.15, 0.20], [0.25, 0.30]]
          bias: 0.35
        - units: 2
          activation: softmax
          weights: [[0.40, 0.45], [0.50, 0.55]]
          bias: [0.6, 0.7]
    loss: {kind: cross_entropy}
    data:
      - {x: [0.05, 0.10], label: 1}
    training: {learning_rate: 0.5}
    """
)


def mutate(change) -> str:
    raw = yaml.safe_load(GOOD)
    change(raw)
    return yaml.safe_dump(raw)


def error_of(text: str) -> str:
    with pytest.raises(SpecError) as err:
        loads(text, "hw3.yaml")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("hw3.yaml: ")
    return message


def test_good_file_loads():
    problem = loads(GOOD, "hw3.yaml")
    assert problem.layers[1].bias == (0.6, 0.7)
    assert problem.data[0].y == (0.0, 1.0)
    assert problem.parameter_names()[:3] == ["W1[1,1]", "W1[1,2]", "W1[2,1]"]
    assert "b1[2]" in problem.parameter_names() and "b2[2]" in problem.parameter_names()


@pytest.mark.parametrize(
    "change, field, words",
    [
        (lambda r: r.pop("loss"), "loss", "required"),
        (lambda r: r["network"].pop("inputs"), "network.inputs", "required"),
        (lambda r: r["network"]["layers"][1].__setitem__("weights", [[0.4, 0.45], [0.5, 0.55], [1, 2]]), "network.layers[1].weights", "2 rows expected (units), got 3"),
        (lambda r: r["network"]["layers"][0].__setitem__("weights", [[0.15], [0.25]]), "network.layers[0].weights[0]", "2 numbers expected (inputs), got 1"),
        (lambda r: r["network"]["layers"][0]["weights"][1].__setitem__(0, "0.25"), "network.layers[0].weights[1][0]", "a number expected"),
        (lambda r: r["training"].__setitem__("learning_rate", "fast"), "training.learning_rate", "a number expected"),
        (lambda r: r["network"]["layers"][0].__setitem__("activation", "softmax"), "network.layers[0].activation", "only allowed in the output layer"),
        (lambda r: r["data"][0].__setitem__("label", 2), "data[0].label", "from 0 to 1"),
        (lambda r: r.__setitem__("data", []), "data", "must not be empty"),
        (lambda r: r["network"]["layers"][0].__setitem__("activaton", "relu"), "network.layers[0].activaton", "unknown key"),
        (lambda r: r["network"]["layers"][0].__setitem__("activation", "mish"), "network.layers[0].activation", "one of"),
        (lambda r: r["data"][0].__setitem__("x", [1, 2, 3]), "data[0].x", "2 numbers expected"),
        (lambda r: r["data"][0].update({"y": [0, 1]}), "data[0]", "exactly one of y"),
        (lambda r: r["network"]["layers"][1].__setitem__("bias", [1, 2, 3]), "network.layers[1].bias", "2 numbers expected"),
        (lambda r: r["training"].__setitem__("update", ["W9[1,1]"]), "training.update[0]", "a parameter name expected"),
        (lambda r: r["network"]["layers"][0].__setitem__("units", 0), "network.layers[0].units", "greater than 0"),
        (lambda r: r["network"]["layers"][0].__setitem__("weights", [[True, 0.2], [0.25, 0.3]]), "network.layers[0].weights[0][0]", "a number expected"),
    ],
)
def test_bad_field_is_named(change, field, words):
    message = error_of(mutate(change))
    assert f": {field}: " in message, message
    assert words in message, message


def test_yaml_syntax_error_names_line():
    message = error_of("network: [1, 2\nloss: {kind: mse}\n")
    assert "YAML syntax error" in message and "line" in message


def test_not_a_mapping():
    assert "expected a mapping" in error_of("- 1\n- 2\n")


def test_missing_file():
    with pytest.raises(SpecError, match="no such file"):
        load("/nonexistent/problem.yaml")


def test_input_major_layout_is_transposed():
    raw = yaml.safe_load(GOOD)
    raw["network"]["layers"][0]["weights"] = [[0.15, 0.25], [0.20, 0.30]]
    raw["network"]["layers"][0]["weights_layout"] = "input_major"
    problem = from_mapping(raw)
    assert problem.layers[0].weights == ((0.15, 0.20), (0.25, 0.30))


def test_cli_bad_file_exit_2_one_line(tmp_path):
    path = tmp_path / "hw3.yaml"
    path.write_text(mutate(lambda r: r["network"]["layers"][1].__setitem__("weights", [[1, 2]])))
    for args in (["solve", str(path)], ["validate", str(path)], ["ask", str(path), "loss"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in result.output
        assert "network.layers[1].weights: 2 rows expected (units), got 1" in lines[0]


def test_cli_yaml_error_exit_2(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("network: [1, 2\n")
    result = CliRunner().invoke(cli, ["solve", str(path)])
    assert result.exit_code == 2
    assert "broken.yaml" in result.output and "YAML syntax error" in result.output
