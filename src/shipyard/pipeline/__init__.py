"""Nodes and pipelines: what runs, on which data, in which order. Pure: no I/O here.

>>> from shipyard.pipeline import node, pipeline
>>> def double(x):
...     return 2 * x
>>> doubling = pipeline([node(double, "x", "y", name="double")])
>>> doubling.inputs(), doubling.outputs()
({'x'}, {'y'})
"""

from __future__ import annotations

from shipyard.pipeline._namespace import pipeline
from shipyard.pipeline._node import Node, node
from shipyard.pipeline._pipeline import Pipeline

__all__ = ["Node", "Pipeline", "node", "pipeline"]
