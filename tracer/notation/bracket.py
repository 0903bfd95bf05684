"""The CS230 bracket notation (sources 001 and 003): w_{i,j}^{[l]} from node i to node j,
b_j^{[l]}, z_j^{[l]}, a_j^{[l]} (h_j for a single hidden layer), \\hat{y}_k; J; λ.
Samples are a subscript (t), as in source 001's z_{1,(1)}^{[1]}."""

from __future__ import annotations

from tracer.core.keys import Quantity
from tracer.notation.base import Theme


class BracketTheme(Theme):
    name = "bracket"
    loss = "J"
    rate = r"\lambda"

    def _parts(self, q: Quantity) -> tuple[str, str, str]:
        """(letter, subscript, superscript) so that sample/after marks can join the subscript."""
        if q.base == "x":
            return "x", f"{q.index[0]}", ""
        if q.base == "y":
            return "y", f"{q.index[0]}", ""
        if q.base == "z":
            return "z", f"{q.index[0]}", f"[{q.layer}]"
        if q.base == "a":
            if q.layer == self.depth:
                return r"\hat{y}", f"{q.index[0]}", ""
            if self.depth == 2:
                return "h", f"{q.index[0]}", ""
            return "a", f"{q.index[0]}", f"[{q.layer}]"
        if q.base == "W":
            j, i = q.index
            return "w", f"{i},{j}", f"[{q.layer}]"
        if q.base == "b":
            return "b", (f"{q.index[0]}" if q.index else ""), f"[{q.layer}]"
        if q.base == "loss":
            return "J", (f"{q.index[0]}" if q.index else ""), ""
        return "J", "", "+"

    def quantity(self, q: Quantity) -> str:
        letter, sub, sup = self._parts(q)
        subs = [s for s in (sub,) if s]
        if q.after:
            subs.append(r"\mathrm{new}")
        if q.sample is not None:
            subs.append(f"({q.sample})")
        text = letter
        if subs:
            text += "_{" + ",".join(subs) + "}"
        if sup:
            text += "^{" + sup + "}"
        return text

    def base_name(self, q: Quantity) -> str:
        return self.quantity(Quantity(q.base, q.layer, q.index))
