"""The layer kinds, one module each (ARCHITECTURE.md v3: "a layer kind is one module").

Importing this package registers the shipped kinds in :mod:`tracer.kinds`, in the order the
file format lists them (``dense, conv2d, maxpool2d, avgpool2d, flatten, rnn``: the order of the
JSON Schema's branches and of the "one of … expected" message), and the kind of a graph
problem's equations under the form ``"equations"``. :mod:`tracer.layers.kind` says what a kind provides.
"""

from tracer import kinds
from tracer.layers.conv2d import Conv2d
from tracer.layers.dense import Dense
from tracer.layers.equations import Equations
from tracer.layers.flatten import Flatten
from tracer.layers.pooling import Pooling
from tracer.layers.rnn import Rnn

#: the kinds shipped with the tracer, in registration order
SHIPPED = (Dense(), Conv2d(), Pooling(), Flatten(), Rnn())

for _kind in SHIPPED:
    kinds.register(_kind)
del _kind
kinds.register_form("equations", Equations())
