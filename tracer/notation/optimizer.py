"""The one table of an optimizer's letters: its states (v, G, s, m, Adam's m̂, v̂) and its
hyperparameters (β, α, β₁, β₂, ε, the weight decay λ, t, and the penalty's λ_L2, λ_L1), as every page writes them.

A theme's symbol of a state or hyperparameter (``Theme.symbol``), the matrix form's elementwise
equations, the document's statement of the optimizer and the calculus pages (``tracer descend``)
all read this table. One choice differs by page, and is kept here explicitly: the calculus pages
write RMSprop's ``alpha`` (torch's name for the smoothing constant) as ρ, since α is the learning
rate there; the network documents write it α (their rate is the theme's η, λ or r).
"""

from __future__ import annotations

from dataclasses import dataclass

from tracer.notation.symbol import LAMBDA, Glyph, Symbol

_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")

BETA = Glyph(r"\beta", "β")
ALPHA = Glyph(r"\alpha", "α")
RHO = Glyph(r"\rho", "ρ")
EPSILON = Glyph(r"\varepsilon", "ε")
#: any parameter, in the equations an optimizer is stated by (θ' = θ − …)
THETA = Glyph(r"\theta", "θ")


@dataclass(frozen=True)
class Letter:
    """A letter with an optional subscript (β₁), and where the calculus pages spell it otherwise."""

    letter: str | Glyph
    sub: str = ""
    calculus: str | Glyph | None = None  # the calculus pages' own letter (RMSprop's α written ρ)

    def symbol(self) -> Symbol:
        """As a theme writes it in a scalar equation: ``\\beta_{1}``, plain ``β_1``."""
        return Symbol(self.letter, (self.sub,) if self.sub else ())

    def spelled(self, dialect: str, page: str = "document") -> str:
        """As an optimizer's equations name it: ``\\beta_1`` (LaTeX, one-character subscript without
        braces), ``β₁`` (plain). ``page="calculus"``: the calculus pages' letter where they have one."""
        letter = self.calculus if (page == "calculus" and self.calculus is not None) else self.letter
        if dialect == "latex":
            text = letter.latex if isinstance(letter, Glyph) else letter
            return text + (f"_{self.sub}" if len(self.sub) == 1 else f"_{{{self.sub}}}" if self.sub else "")
        text = letter.plain if isinstance(letter, Glyph) else letter
        return text + self.sub.translate(_SUBSCRIPT)


#: an optimizer's states, by the name torch.optim's rules give them (tracer.core.optimizers.STATE)
STATES: dict[str, Letter] = {
    "v": Letter("v"), "G": Letter("G"), "s": Letter("s"), "m": Letter("m"),
    "m_hat": Letter(Glyph(r"\hat{m}", "m̂")), "v_hat": Letter(Glyph(r"\hat{v}", "v̂")),
}
#: training.clip: a parameter's gradient after clipping, g̃ (a state-like quantity of the parameter, not an optimizer's)
CLIPPED = Letter(Glyph(r"\tilde{g}", "g̃"))

#: an optimizer's hyperparameters (the learning rate is the theme's own letter, or the page's)
HYPERPARAMETERS: dict[str, Letter] = {
    "beta": Letter(BETA), "alpha": Letter(ALPHA, calculus=RHO), "beta1": Letter(BETA, "1"), "beta2": Letter(BETA, "2"),
    "eps": Letter(EPSILON),
    "weight_decay": Letter(LAMBDA),  # torch's weight_decay, λ as torch.optim's pages write it
}

#: the step counter and loss.regularization's coefficients, which a theme names beside the hyperparameters
OTHERS: dict[str, Letter] = {"t": Letter("t"), "l2": Letter(LAMBDA, "L2"), "l1": Letter(LAMBDA, "L1"),
                             # training.clip's thresholds, by torch's argument names
                             "max_norm": Letter(Glyph(r"\mathrm{max\_norm}", "max_norm")),
                             "clip_value": Letter(Glyph(r"\mathrm{clip\_value}", "clip_value"))}

#: a learning-rate schedule's letters (training.schedule; the rate of an update is the theme's rate with
#: the update's number): n the scheduler steps before the update (torch's last_epoch), k MultiStepLR's
#: decays so far, γ, s = step_size, T = T_max, η_min, f₀, f₁ (LinearLR's factors), N = total_iters,
#: w the warm-up's steps and f_w its start factor
SCHEDULE: dict[str, Letter] = {
    "n_sched": Letter("n"), "k_decays": Letter("k"), "gamma": Letter(Glyph(r"\gamma", "γ")), "step_size": Letter("s"),
    "T_max": Letter("T"), "eta_min": Letter(Glyph(r"\eta", "η"), "min"), "start_factor": Letter("f", "0"),
    "end_factor": Letter("f", "1"), "total_iters": Letter("N"), "warmup": Letter("w"), "warmup_factor": Letter("f", "w"),
}


def state_letter(name: str, dialect: str) -> str:
    """A state's letter: ``\\hat{m}`` / ``m̂``, ``v``."""
    return (CLIPPED if name == "clipped" else STATES[name]).spelled(dialect)


def hyper_name(name: str, dialect: str, page: str = "document") -> str:
    """A hyperparameter as an optimizer's equations name it: ``\\beta_1`` / ``β₁``; on the calculus pages
    RMSprop's ``alpha`` is ``\\rho`` / ``ρ``."""
    return HYPERPARAMETERS[name].spelled(dialect, page)


def schedule_letter(name: str, dialect: str) -> str:
    """A schedule's constant as its statement names it: ``\\gamma``, ``f_0``, ``f_w`` (LaTeX), ``γ``, ``f₀``, ``f_w`` (plain)."""
    letter = SCHEDULE[name]
    if dialect == "latex" or not letter.sub or letter.sub.isdigit():
        return letter.spelled(dialect)
    return letter.spelled(dialect) [: -len(letter.sub)] + "_" + letter.sub
