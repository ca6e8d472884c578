"""The request pipeline: one neutral request, the stages in one order, for every front door."""

from tokenomy.pipeline.calling import Finished
from tokenomy.pipeline.codecs import TextCodec, jsonable, replay_pieces
from tokenomy.pipeline.context import ContextStage, Prepared
from tokenomy.pipeline.frontdoor import FrontDoor, Methods, Outbound, answer_cap
from tokenomy.pipeline.pipeline import Codec, OutputPlanner, Pipeline, Recorder
from tokenomy.pipeline.request import (
    ROUTE_KEY,
    TRACE_KEY,
    Request,
    Sent,
    StageRecord,
    Trace,
    own_messages,
)

__all__ = [
    "ROUTE_KEY",
    "TRACE_KEY",
    "Codec",
    "ContextStage",
    "Finished",
    "FrontDoor",
    "Methods",
    "Outbound",
    "OutputPlanner",
    "Pipeline",
    "Prepared",
    "Recorder",
    "Request",
    "Sent",
    "StageRecord",
    "TextCodec",
    "Trace",
    "answer_cap",
    "jsonable",
    "own_messages",
    "replay_pieces",
]
