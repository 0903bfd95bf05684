"""The engine: typed keys of quantities, one class per operation, the graph of local equations, the generic forward and reverse sweep, the frozen solution and its verification."""
