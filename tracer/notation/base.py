"""The base of every theme: the problem's shape, the marks of a sample and of the update,
the writing of a symbol from its parts, and the lookup of the source's plain names.

A theme only says what each quantity is called, as parts (:meth:`Theme.parts`: letter,
subscript, superscript), and how its source marks a sample and an updated parameter
(:meth:`Theme.mark_sample`, :meth:`Theme.mark_after`). :meth:`Theme.symbol` adds the
marks to the parts; :meth:`Theme.quantity` (LaTeX), :meth:`Theme.label` (plain text, for
figures) and :meth:`Theme.ascii` (the source's own plain names, which ``tracer ask``
accepts) all write that one symbol.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property

from tracer import kinds as _kinds  # the registry of layer kinds (rank 1)
from tracer.keys import LOSS, Block, Partial, Quantity
from tracer.notation import blocks
from tracer.notation import optimizer as optimizer_letters
from tracer.notation.symbol import ETA, LAMBDA, Glyph, Symbol, marks
from tracer.notation.view import NamesView

#: an optimizer's state as the texts write it (v, G, s, m; Adam's bias-corrected m̂, v̂): the one table's letters
STATE_LETTERS = {name: letter.letter for name, letter in {**optimizer_letters.STATES, "clipped": optimizer_letters.CLIPPED}.items()}
#: an optimizer's hyperparameters (the rate is the theme's own letter), the step counter t and
#: loss.regularization's coefficients (λ_L2, λ_L1), as a theme writes them in a scalar equation
HYPER_SYMBOLS = {name: letter.symbol() for name, letter in {**optimizer_letters.HYPERPARAMETERS, **optimizer_letters.OTHERS,
                                                              **optimizer_letters.SCHEDULE}.items()}

_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def updates(q: Quantity) -> int:
    """How many updates made a parameter's value: the step whose update it is after (1 for ``W2[1,1]'``)."""
    return q.step if isinstance(q.step, int) and q.step >= 1 else 1


def canonical(q: Quantity) -> str:
    """A quantity's canonical name in a document, which shows one step per section: without its step
    (``z1[1]``), but a parameter after a later update with it (``W1[1,1]'@2``, after the second)."""
    return str(q) if q.after and updates(q) > 1 else str(q.at_step(1))


def plain_optimizer_name(q: Quantity, parameter: str, rate: str) -> str:
    """An optimizer's quantity in plain text: ``m₂(W5)`` (the state of parameter ``W5`` after
    step 2, ``parameter`` its name as the text names it), ``β₁``, ``ε``, ``t``, the rate."""
    if q.is_state:
        return f"{STATE_LETTERS[q.kind] if isinstance(STATE_LETTERS[q.kind], str) else STATE_LETTERS[q.kind].plain}{str(q.step).translate(_SUBSCRIPT)}({parameter})"  # type: ignore[union-attr]
    if q.name in ("l2", "l1", "max_norm", "clip_value"):
        return HYPER_SYMBOLS[q.name].plain()  # λ_L2, max_norm
    if q.name == "lr":
        return rate + str(q.step).translate(_SUBSCRIPT)  # η₃: the rate of update 3 under a schedule
    if q.name == "eta_min":
        return rate + "_min"
    if q.name in optimizer_letters.SCHEDULE:  # f₀, f₁, f_w, γ, T
        return HYPER_SYMBOLS[q.name].plain().replace("_0", "₀").replace("_1", "₁")
    return rate if q.name == "eta" else HYPER_SYMBOLS[q.name].plain().replace("_", "").translate(_SUBSCRIPT)


#: the kinds of quantity every theme has a rule for (another kind is written from its symbol spec)
KNOWN_KINDS = frozenset({"x", "y", "z", "a", "W", "U", "b", "loss", "loss_after", "zero", "node"})


def registered_symbol(kind: str):
    """The symbol spec a registered layer kind gives for a kind of quantity (``kinds.SymbolSpec``), or None."""
    for layer_kind in _kinds.layers():
        spec = getattr(layer_kind, "symbols", {}).get(kind)
        if spec is not None:
            return spec
    return None


class Theme:
    name = "base"
    rate: Glyph = LAMBDA
    #: the source text has plain names of its own (Mazur's ``w5``, ``out_h1``, ``E_total``),
    #: which :meth:`ascii` writes and ``tracer ask``/``check`` accept
    plain_names = False

    def __init__(self, problem):
        self.problem = problem
        loss = getattr(problem, "loss", None)
        if self.rate is LAMBDA and loss is not None and getattr(loss, "regularized", False):
            self.rate = ETA  # λ is the penalty's strength (λ_L2) here: the learning rate is η
        optimizer = getattr(getattr(problem, "training", None), "optimizer", None)
        if self.rate is LAMBDA and optimizer is not None and (optimizer.name == "adamw" or optimizer.decay > 0.0):
            self.rate = ETA  # λ is the weight decay here: the learning rate is η
        self.depth = len(problem.layers)
        self.units = [problem.inputs] + [layer.units for layer in problem.layers]
        self.samples = len(problem.data)

    # -- what a theme says ------------------------------------------------------------
    def parts(self, q: Quantity) -> Symbol:
        """The symbol of ``q``'s kind, layer and index, without the marks of its sample or
        of the update (which :meth:`symbol` adds)."""
        raise NotImplementedError

    def partial_parts(self, p: Partial) -> Symbol | None:
        """The symbol of a partial when the theme has one of its own (δ); else None."""
        return None

    def mark_sample(self, symbol: Symbol, sample: int, key: Quantity | Partial) -> Symbol:
        """``out_{h1}^{(1)}``: by default the sample in parentheses joins the superscript."""
        return symbol.with_sup(f"({sample})")

    def mark_after(self, symbol: Symbol, times: int = 1) -> Symbol:
        """``w_{5}^{+}``: by default a parameter after the update has a ``+`` superscript; after
        the second, ``w_{5}^{++}`` (:func:`~tracer.notation.symbol.marks`)."""
        return symbol.with_sup(marks("+", times))

    def parts_of(self, q: Quantity) -> Symbol:
        """:meth:`parts`, or for a kind the theme has no rule for, :meth:`registered_parts` from the
        registered kind's symbol spec."""
        spec = registered_symbol(q.kind) if q.kind not in KNOWN_KINDS else None
        return self.parts(q) if spec is None else self.registered_parts(q, spec)

    def registered_parts(self, q: Quantity, spec) -> Symbol:
        """The parts of a quantity of a kind the theme has no rule for, from the kind's symbol spec
        (``kinds.SymbolSpec``: ``letter``, its ``plain`` spelling when the letter is a LaTeX command,
        ``layer`` ``"sup"`` or ``"none"``, ``index`` ``"sub"`` or ``"none"``): ``c_{1}^{[2]}`` for a
        toy kind's ``c2[1]``. The layer is marked as the theme marks a layer in a block (``[2]`` by
        default). Any object with those four attributes will do."""
        letter = spec.letter
        plain = getattr(spec, "plain", "") or ""
        glyph: str | Glyph = Glyph(letter, plain or letter) if letter.startswith("\\") else letter
        sub = q.index if getattr(spec, "index", "sub") == "sub" else ()
        sup = (self.block_layer(q.layer).latex,) if (getattr(spec, "layer", "sup") == "sup" and q.layer is not None) else ()
        return Symbol(glyph, sub, sup)

    def block_layer(self, layer: int, form: blocks.BlockForm = blocks.MATRIX) -> Glyph:
        """A layer's mark on a block (and on a registered kind's symbol): ``[2]`` in the matrix form."""
        return Glyph(form.layer(layer), form.layer_plain(layer))

    # -- whole vectors and matrices, and the operators between them -----------------------
    def block(self, b: Block, form: blocks.BlockForm = blocks.MATRIX, *, time: int | str | None = None) -> Symbol:
        """A whole family as ``form`` writes it: ``W^{[2]}``, ``\\delta^{[2]}`` (the loss's gradient with
        respect to ``z2``), ``a^{(1)}`` in the δ form, ``h^{[1]}_{t}`` at a time step. By default
        :func:`tracer.notation.blocks.block_symbol`, the same in every theme (the views wrote it so)."""
        return blocks.block_symbol(b, form, time=time)

    def operator(self, name: str, dialect: str = "latex") -> str:
        """f, f′, ⊙, ᵀ, ∂ spelled in ``dialect`` (:data:`tracer.notation.blocks.OPERATORS`)."""
        return blocks.operator(name, dialect)

    # -- the one assembly: parts, then marks ------------------------------------------
    def symbol(self, q: Quantity) -> Symbol:
        if q.is_state:  # m_{w_5, 2}: the state of parameter w_5 after step 2
            return Symbol(STATE_LETTERS[q.kind], (self.symbol(q.parameter), str(q.step)))
        if q.kind == "hyper":
            if q.name == "lr":  # the rate of update t under a schedule: η_t
                return Symbol(self.rate, (str(q.step),))
            if q.name == "eta_min":  # CosineAnnealingLR's smallest rate, in the theme's letter of the rate
                return Symbol(self.rate, ("min",))
            return Symbol(self.rate) if q.name == "eta" else HYPER_SYMBOLS[q.name]
        if q.kind == "penalty":  # loss.regularization's term of the loss, Ω(w) as the texts write it
            return Symbol(Glyph(r"\Omega", "Ω"))
        if q.kind == "grad_norm":  # training.clip: the L2 norm of the gradients, ‖g‖
            return Symbol(Glyph(r"\lVert g\rVert", "‖g‖"))
        if q.kind == "grad_norm_sq":  # its square, Σ g²
            return Symbol(Glyph(r"\lVert g\rVert^{2}", "‖g‖²"))
        if q.kind == "clip_coef":  # torch's clip_coef = max_norm/(‖g‖ + 1e−6)
            return Symbol(Glyph(r"\mathrm{clip\_coef}", "clip_coef"))
        symbol = self.parts_of(q)
        if q.after:
            symbol = self.mark_after(symbol, updates(q))
        if q.sample is not None:
            symbol = self.mark_sample(symbol, q.sample, q)
        return symbol

    def quantity(self, q: Quantity) -> str:
        """LaTeX for a quantity, marks included."""
        return self.symbol(q).latex()

    def partial(self, p: Partial) -> str | None:
        """LaTeX for a partial when the theme has a symbol of its own for it (δ); else None
        (the printer writes the fraction ∂of/∂wrt)."""
        symbol = self.partial_parts(p)
        if symbol is None:
            return None
        if p.sample is not None:
            symbol = self.mark_sample(symbol, p.sample, p)
        return symbol.latex()

    def label(self, q: Quantity) -> str:
        """A quantity's symbol in plain text, for a label outside math (``out_h1``, ``ŷ_1``)."""
        return self.symbol(q).plain()

    @property
    def loss_name(self) -> str:
        """LaTeX for the total loss (``E_{\\text{total}}``, ``J``, ``\\mathcal{L}``)."""
        return self.quantity(LOSS)

    # -- the source's plain names ---------------------------------------------------------
    def ascii(self, key: Quantity | Partial) -> str | None:
        """The plain name the source text uses (``w5``, ``out_h1#2``, ``w5+``, ``dE_total/dw5``),
        if it has one; :meth:`parse_ascii` reads it back."""
        if isinstance(key, Partial):
            of, wrt = self.ascii(key.of), self.ascii(key.wrt)
            if of is None or wrt is None:
                return None
            return f"d{of}/d{wrt}" + (f"#{key.sample}" if key.sample is not None else "")
        name = self._plain_name(key)
        if name is None:
            return None
        return name + ("+" if key.after else "") + (f"#{key.sample}" if key.sample is not None else "")

    def _plain_name(self, q: Quantity) -> str | None:
        """The source's plain name of the quantity itself, written from its parts: the letter,
        then the subscript, joined by ``_`` unless a single letter takes a number (``w5``,
        ``i1``, ``b1``; ``out_h1``, ``E_o1``, ``E_total``). A symbol with a superscript of its
        own (Mazur's ``E_{total}^{+}``) has no plain name."""
        if not self.plain_names:
            return None
        parts = self.parts_of(q)
        letter, sub = parts.letter, [p for p in parts.sub if isinstance(p, str)]
        if parts.sup or parts.prime or not isinstance(letter, str) or len(sub) != len(parts.sub):
            return None
        if not sub:
            return letter
        joint = "" if len(letter) == 1 and all(p.isdigit() for p in sub) else "_"
        return letter + joint + ",".join(sub)

    # -- views for the printers ---------------------------------------------------------
    def names_view(self) -> NamesView:
        return NamesView(
            quantity=self.quantity,
            partial=self.partial,
            loss_name=self.loss_name,
            rate=self.rate.latex,
            times=r"\times",
            dot=r"\cdot",
            symbol=self.symbol,
            block=self.block,
            operator=self.operator,
        )

    def text_names_view(self) -> NamesView:
        """Plain names for the terminal: the source text's own (Mazur's ``w5⁺``, ``out_h1``,
        ``E_total``) where the theme has them, the canonical ones elsewhere."""

        def quantity(q: Quantity) -> str:
            if q.is_state or q.kind == "hyper":
                return plain_optimizer_name(q, quantity(q.parameter) if q.is_state else "", self.rate.plain)
            plain = self._plain_name(q)
            if plain is None:
                return canonical(q)
            if q.after:
                plain += marks("⁺", updates(q))
            return plain if q.sample is None else f"{plain}#{q.sample}"

        return NamesView(quantity=quantity, loss_name=self._plain_name(LOSS) or "loss", rate=self.rate.plain,
                         block=self.block, operator=self.operator)

    # -- every quantity of the problem, and the plain names read back -----------------------
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

    @cached_property
    def _ascii_table(self) -> dict[str, Quantity]:
        table: dict[str, Quantity] = {}
        for q in self.every_quantity():
            name = self._plain_name(q)
            if name:
                table[name.lower()] = q
        return table

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
        return replace(q, sample=sample)

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
            q = q.updated()
        return q
