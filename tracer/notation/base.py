"""The base of every theme: the problem's shape, sample/after marks, ASCII lookup."""

from __future__ import annotations

from functools import cached_property

from tracer.notation.view import NamesView
from tracer.core.keys import Partial, Quantity


class Theme:
    name = "base"
    loss = r"J"  # the total loss
    rate = r"\lambda"
    ascii_rate = "lambda"
    text_rate = "λ"  # the rate in terminal text

    def __init__(self, problem):
        self.problem = problem
        self.depth = len(problem.layers)
        self.units = [problem.inputs] + [layer.units for layer in problem.layers]
        self.samples = len(problem.data)

    # -- to override ------------------------------------------------------------------
    def base_name(self, q: Quantity) -> str:
        """LaTeX for a quantity without its sample and after-update marks."""
        raise NotImplementedError

    def mark_sample(self, text: str, q: Quantity) -> str:
        return _sup(text, f"({q.sample})")

    def mark_after(self, text: str, q: Quantity) -> str:
        return _sup(text, "+")

    def ascii(self, q: Quantity) -> str | None:
        """A plain name the source text uses for this quantity (for ``tracer ask``), if any."""
        return None

    def partial(self, p: Partial) -> str | None:
        """LaTeX for a partial when the theme has a symbol of its own for it (δ); else None."""
        return None

    # -- shared ---------------------------------------------------------------------
    def quantity(self, q: Quantity) -> str:
        text = self.base_name(q)
        if q.after:
            text = self.mark_after(text, q)
        if q.sample is not None:
            text = self.mark_sample(text, q)
        return text

    def names_view(self) -> NamesView:
        return NamesView(quantity=self.quantity, partial=self.partial, loss_name=self.loss, rate=self.rate, times=r"\times", dot=r"\cdot")

    def text_names_view(self) -> NamesView:
        """Plain names for the terminal: the source text's own (Mazur's ``w5⁺``, ``out_h1``,
        ``E_total``) where the theme has them, the canonical ones elsewhere."""

        def quantity(q: Quantity) -> str:
            plain = self.ascii(Quantity(q.base, q.layer, q.index))
            if plain is None:
                return str(q)
            if q.after:
                plain += "⁺"
            return plain if q.sample is None else f"{plain}#{q.sample}"

        return NamesView(quantity=quantity, loss_name=self.ascii(Quantity("loss")) or "loss", rate=self.text_rate)

    def hidden(self, l: int) -> bool:
        return l < self.depth

    @cached_property
    def _ascii_table(self) -> dict[str, Quantity]:
        table: dict[str, Quantity] = {}
        for q in self.every_quantity():
            name = self.ascii(q)
            if name:
                table[name.lower()] = q
        return table

    def every_quantity(self):
        for i in range(1, self.units[0] + 1):
            yield Quantity("x", None, (i,))
        for k in range(1, self.units[-1] + 1):
            yield Quantity("y", None, (k,))
            yield Quantity("loss", None, (k,))
        yield Quantity("loss")
        for l in range(1, self.depth + 1):
            layer = self.problem.layers[l - 1]
            for j in range(1, self.units[l] + 1):
                yield Quantity("z", l, (j,))
                yield Quantity("a", l, (j,))
                for i in range(1, self.units[l - 1] + 1):
                    yield Quantity("W", l, (j, i))
                if layer.bias is not None and not layer.shared_bias:
                    yield Quantity("b", l, (j,))
            if layer.bias is not None and layer.shared_bias:
                yield Quantity("b", l, ())

    def parse_ascii(self, text: str) -> Quantity | Partial | None:
        text = text.strip()
        sample = None
        if "#" in text:
            text, _, s = text.rpartition("#")
            if not s.isdigit():
                return None
            sample = int(s)
        if text.startswith("d") and "/d" in text:
            num, _, den = text[1:].partition("/d")
            of, wrt = self._ascii_quantity(num), self._ascii_quantity(den)
            if of is None or wrt is None:
                return None
            return Partial(of, wrt, sample)
        q = self._ascii_quantity(text)
        if q is None:
            return None
        return Quantity(q.base, q.layer, q.index, sample, q.after)

    def _ascii_quantity(self, text: str) -> Quantity | None:
        key = text.strip().lower()
        after = False
        if key.endswith(("+", "'")):
            key, after = key[:-1], True
        q = self._ascii_table.get(key)
        if q is None:
            return None
        if after:
            if not q.is_parameter:
                return None
            q = Quantity(q.base, q.layer, q.index, None, True)
        return q


def _sup(text: str, mark: str) -> str:
    """Add a superscript, merging with an existing one (``w^{[2]}`` + ``+`` → ``w^{[2]+}``)."""
    if text.endswith("}") and "^{" in text:
        head, sep, tail = text.rpartition("^{")
        if "_" not in tail:  # the superscript is the last group
            return f"{head}^{{{tail[:-1]},{mark}}}"
    if "^" not in text and not text.endswith("'"):
        return f"{text}^{{{mark}}}"  # w_{5}^{+}: the mark stacks over the subscript, as the texts write it
    return f"{{{text}}}^{{{mark}}}"


def _sub(text: str, mark: str) -> str:
    return f"{text}_{{{mark}}}"
