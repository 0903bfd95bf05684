"""Calculus at the command line: the safe expression parser, derivatives rule by rule, gradient descent on a function."""
