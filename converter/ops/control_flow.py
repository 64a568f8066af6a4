"""IF, WHILE and CALL: refused. They run other subgraphs of the model at run time, chosen or
repeated by data; the generated code is one fixed sequence of layers. (A streaming model's
CALL_ONCE, which only initialises its resource variables, is supported: variable.py.)"""
from __future__ import annotations

from .base import OpDef


class ControlFlow(OpDef):
    kinds = ("IF", "WHILE", "CALL")
    refused = ("control flow (IF, WHILE, CALL: subgraphs run as data decides) is not supported; "
               "the generated code runs one fixed sequence of layers. Export the model without "
               "it (unroll loops, e.g. RNN layers with unroll=True); a second subgraph is "
               "supported only as the initialisation of resource variables run by CALL_ONCE")
