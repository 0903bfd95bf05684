"""`tracer check` decides a claim's last digit in decimal (issue 32, items 6 and 7): from the
exact value, not from its float, and a number may be written with a decimal comma.
"""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from tracer.core.derive import solve
from tracer.spec import load
from tracer.teach.check import check, parse_claims
from tracer.teach import digits

ROOT = Path(__file__).resolve().parent.parent
MAZUR = ROOT / "examples" / "mazur.yaml"
LOGISTIC = ROOT / "examples" / "graph_logistic.yaml"


def _verdicts(problem: Path, text: str):
    solution = solve(load(str(problem)), verify=False)
    return {v.claim.name: v for v in check(solution, parse_claims(text)).verdicts}


def test_an_exact_value_whose_float_is_below_it_is_not_truncated():
    """Mazur's net_h2 = 0.15·0.25 + 0.1·0.3 + 0.35 = 0.3925 exactly; its float is
    0.39249999999999996, which cut off at 4 decimals is 0.3924. So 0.3924 was a `habit` (twice:
    the truth, and its inputs rounded to 4 decimals); it is one unit off the exact value."""
    solution = solve(load(str(MAZUR)), verify=False)
    assert solution.value("z1[2]") == 0.39249999999999996
    assert digits.is_truncation(0.39249999999999996, "0.3924")  # the float's digits, cut off
    verdicts = _verdicts(MAZUR, "z1[2]: 0.3924\nz1[1]: 0.3775\n")
    assert verdicts["z1[2]"].verdict == "wrong"
    assert verdicts["z1[2]"].reason == "it is off by one unit in the last digit; its inputs give 0.3925 (0.3925 to the claim's 4 decimals)"
    assert verdicts["z1[1]"].verdict == "right"
    assert _verdicts(MAZUR, "z1[2]: 0.3925\n")["z1[2]"].verdict == "right"


def test_both_roundings_of_an_exact_tie_are_right():
    """graph_logistic's z after the update is 0.875 exactly (a float holds it): 0.87 and 0.88 are
    both right at two decimals. Half-even and half-up both give 0.88, so 0.87 was a `habit`."""
    verdicts = _verdicts(LOGISTIC, "z@end: 0.87\n\"w1'\": 0.62\n")
    assert verdicts["z@end"].truth == 0.875
    assert verdicts["z@end"].verdict == "right" and verdicts["z@end"].note == ""
    assert verdicts["w1'"].verdict == "right"
    assert _verdicts(LOGISTIC, "z@end: 0.88\n")["z@end"].verdict == "right"
    assert digits.is_right(-21.875, "-21.87") and digits.is_right(-21.875, "-21.88")
    assert not digits.is_truncation(Decimal("3.3"), "3.299") and digits.is_truncation(3.2999999999999998, "3.299")
    assert not digits.is_right(-21.8751, "-21.87") and digits.is_right(-21.8749, "-21.87")


def test_decimal_commas_in_a_claims_file():
    """A decimal comma where YAML reads the number as text: quoted, or alone on its line. Inside
    [ … ] YAML splits 0,5933 into 0 and 5933: that list is invalid, saying so."""
    text = ('w5+: "0,35891648"\n'
            '"dloss/dW1[1,1]": 0,000438568\n'
            'a2: ["0,7514", "0,7729"]\n'
            'z2: [1,1059, 1,2249]\n'
            'a1:\n  - 0,5933\n  - 0,5969\n')
    claims = parse_claims(text)
    assert [(c.name, c.text) for c in claims if not c.invalid] == [
        ("w5+", "0.35891648"), ("dloss/dW1[1,1]", "0.000438568"), ("a2[1]", "0.7514"), ("a2[2]", "0.7729"),
        ("a1[1]", "0.5933"), ("a1[2]", "0.5969")]
    (split,) = [c for c in claims if c.name == "z2"]
    assert split.error == 'a decimal comma inside [ … ] splits the number in two: quote each number ("0,75") or write 0.75'
    verdicts = _verdicts(MAZUR, 'w5+: "0,35891648"\na2: ["0,7514", "0,7729"]\n')
    assert [v.verdict for v in verdicts.values()] == ["right", "right", "right"]


def test_the_decimal_comma_rule():
    with_decimal_point = digits.with_decimal_point
    assert with_decimal_point("0,08030") == "0.08030"
    assert with_decimal_point("-1,5e-3") == "-1.5e-3"
    assert with_decimal_point("1,234") == "1.234"  # never a thousands separator
    assert with_decimal_point("1,234.5") == "1,234.5"  # two marks: left as written, so no number
    assert with_decimal_point("1.234,5") == "1.234,5"
    assert with_decimal_point("1,234,567") == "1,234,567"


def test_the_command_reads_a_quoted_decimal_comma(tmp_path):
    claims = tmp_path / "claims.yaml"
    claims.write_text('w5+: "0,35891648"\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "tracer", "check", str(MAZUR), str(claims)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "1 claims: 1 right, 0 habit, 0 carried, 0 wrong" in done.stdout


def test_a_moved_decimal_point_is_named():
    """The same digits with the point elsewhere (Mazur's net_h1 = 0.3775 written 3.775, out_h1 =
    0.5933 written 59.33, E = 0.2984 written 0.02984) is a moved decimal point; other digits in
    the same places are not: 1.2249 written 2.1249 has two digits swapped across the point."""
    def reason(claim: str) -> str:
        (verdict,) = _verdicts(MAZUR, claim + "\n").values()
        assert verdict.verdict == "wrong"
        return verdict.reason
    assert reason("z1[1]: 3.775").startswith("the decimal point is moved 1 place to the right (0.3775 written 3.775); its inputs give 0.3775")
    assert reason("a1[1]: 59.33").startswith("the decimal point is moved 2 places to the right (0.5933 written 59.33)")
    assert reason("loss: 0.02984").startswith("the decimal point is moved 1 place to the left (0.2984 written 0.02984)")
    assert reason("z2[2]: 2.1249").startswith("two digits are swapped (1.2 written 2.1); its inputs give 1.2249214")
    assert reason("z2[1]: 1.1509").startswith("two digits are swapped (05 written 50)")


def test_the_slips_of_the_pen_of_issue_32():
    """3.615 written 6.315 swaps the digits on either side of the point; 36.15 and 0.3615 move it."""
    from tracer.teach.diagnosis import digit_slip
    assert digit_slip(3.615, "6.315") == "two digits are swapped (3.6 written 6.3)"
    assert digit_slip(3.615, "36.15") == "the decimal point is moved 1 place to the right (3.615 written 36.15)"
    assert digit_slip(3.615, "0.3615") == "the decimal point is moved 1 place to the left (3.615 written 0.3615)"
    assert digit_slip(3.615, "3615") == "the decimal point is moved 3 places to the right (3.615 written 3615)"
    assert digit_slip(3.615, "3.616") == "it is off by one unit in the last digit"
    assert "decimal point" not in digit_slip(0.31, "3")  # one digit tells too little to say the point moved
