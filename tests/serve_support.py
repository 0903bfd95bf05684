"""What the tests of ``tracer serve`` share: a small quiz of Mazur's network with open answers, and
the three kinds of answer a teacher marks — right, wrong (a mistake made for real), carried."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tracer import keys

ROOT = Path(__file__).resolve().parent.parent
MAZUR = ROOT / "examples" / "mazur.yaml"


def make_quiz(folder: Path, count: int = 3, seed: int = 5, ask: list[str] | None = None) -> Path:
    """``tracer quiz`` of Mazur's network with open (numerical) answers: a student types each number."""
    folder.mkdir(parents=True, exist_ok=True)
    text = MAZUR.read_text(encoding="utf-8").replace("  options: 4\n", "  options: 0\n")
    if ask is not None:
        text = text.replace('  ask: ["dloss/dW2[1,1]", "dloss/dW1[1,1]", "W2[1,1]\'", "loss_after"]\n',
                            "  ask: [" + ", ".join(f'"{a}"' for a in ask) + "]\n")
    problem = folder / "mazur_open.yaml"
    problem.write_text(text, encoding="utf-8")
    quiz = folder / "hw"
    done = subprocess.run([sys.executable, "-m", "tracer", "quiz", str(problem), "--count", str(count), "--seed", str(seed),
                           "-o", str(quiz), "--formats", "csv", "--jobs", "1"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return quiz


def four(value: float) -> str:
    """A number as a student writes it to 4 significant digits."""
    return f"{float(f'{value:.4g}'):g}" if abs(value) >= 1e-4 else f"{value:.4g}"


@dataclass(frozen=True)
class Answers:
    """For one variant of the quiz (questions dloss/dW2[1,1], dloss/dW1[1,1], W2[1,1]', loss_after)."""

    right: list[str]  # the key's answers
    doubled: str  # question 1 with the ½ of the squared error left out: wrong, diagnosed
    carried: str  # question 3 from that doubled gradient: W2[1,1] − η·(2g), right from the student's own number


def answers(marking, variant: int) -> Answers:
    entries = marking.questions(variant)
    problem = marking.variant(variant).problem
    gradient = entries[0].value
    doubled = four(2 * gradient)
    weight = problem.parameters()[keys.W(2, 1, 1)]
    carried = four(weight - problem.training.learning_rate * float(doubled))
    return Answers([e.answer for e in entries], doubled, carried)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``python3 -m tracer serve`` in a process group of its own (killed by its id)."""

    def __init__(self, quiz: Path, db: str, roster: Path, links: Path, port: int, *options: str):
        self.command = [sys.executable, "-m", "tracer", "serve", str(quiz), "--db", db, "--roster", str(roster),
                        "--links", str(links), "--port", str(port), *options]
        self.base = f"http://127.0.0.1:{port}"
        self.log = links.parent / f"server-{port}.log"

    def start(self) -> "ServerProcess":
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                        stderr=self.log.open("ab"), start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("the server did not start: " + self.log.read_text())

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
