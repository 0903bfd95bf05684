"""`tracer ask`: one quantity with only the steps it needs, in the names it was asked in."""

from pathlib import Path

from click.testing import CliRunner

from tracer.cli import cli

MAZUR = str(Path(__file__).resolve().parent.parent / "examples" / "mazur.yaml")
RELU = str(Path(__file__).resolve().parent.parent / "examples" / "relu_softmax_3class.yaml")


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_asked_in_mazurs_names_answered_in_them():
    out = run("ask", MAZUR, "dE_total/dw5")
    assert "(10) ∂E_total/∂w5 = ∂E_total/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5 = 0.74136507 × 0.186815602 × 0.593269992 = 0.0821670406   [from (7), (8), (9)]" in out
    assert "(8) ∂out_o1/∂net_o1 = out_o1·(1 − out_o1) = 0.75136507 × (1 − 0.75136507) = 0.186815602" in out
    assert out.rstrip().endswith("dE_total/dw5 = 0.0821670406")


def test_asked_in_canonical_names_answered_in_them():
    out = run("ask", MAZUR, "dloss/dW2[1,1]")
    assert "(10) ∂loss/∂W2[1,1] = ∂loss/∂a2[1] · ∂a2[1]/∂z2[1] · ∂z2[1]/∂W2[1,1]" in out
    assert "E_total" not in out


def test_an_update_in_mazurs_names_and_only_the_steps_it_needs():
    out = run("ask", MAZUR, "w1+")
    assert "w1⁺ = w1 − η · ∂E_total/∂w1 = 0.15 − 0.5 × 0.000438567734 = 0.149780716" in out
    assert "w5⁺" not in out and "∂E_total/∂w6" not in out  # not needed for w1+


def test_solve_text_in_a_theme_and_relu_written_max():
    out = run("solve", MAZUR, "--notation", "mazur")
    assert "(1) net_h1 = w1 · i1 + w2 · i2 + b1 = 0.15 × 0.05 + 0.2 × 0.1 + 0.35 = 0.3775" in out
    out = run("solve", RELU)
    assert "(3) a1[1]#1 = max(0, z1[1]#1) = max(0, 1.752) = 1.752   [from (1)]" in out  # the sample kept inside the formula


def fails(*args: str) -> str:
    """Bad input: exit 2 and one line (Click's output holds what the command wrote to stderr)."""
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    return result.output


def test_a_step_that_is_not_there_is_bad_input_not_a_traceback(tmp_path):
    assert "there is 1 training step" in fails("ask", MAZUR, "dE_total/dw5@2")
    assert "there is 1 training step" in fails("ask", MAZUR, "dloss/dW2[1,1]@3")
    claims = tmp_path / "claims.yaml"
    claims.write_text("dE_total/dw5@2: 0.5\n")
    assert "there is 1 training step" in fails("check", MAZUR, str(claims))


def test_the_forward_pass_with_the_final_parameters_is_asked_with_at_end():
    out = run("ask", MAZUR, "a2[1]@end")
    assert out.rstrip().endswith("a2[1]@end = 0.742088111")
    assert "W2[1,1]' = W2[1,1] − η · ∂loss/∂W2[1,1] = 0.4 − 0.5 × 0.0821670406 = 0.35891648" in out
    assert run("ask", MAZUR, "out_o1@end").rstrip().endswith("out_o1@end = 0.742088111")
    assert run("ask", MAZUR, "loss@end").rstrip().endswith("loss@end = 0.291027774")
