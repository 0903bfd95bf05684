"""Independent NumPy passes, the cross-check of the SymPy engine: they import no SymPy and nothing of tracer.core."""
