"""Problem → graph: one builder per architecture (a dense network; later convolutions, recurrences, equations, optimizers). Builders know nothing of derivation or output."""
