"""Response length control: planned caps, boundary cuts, continuation, stream monitoring."""

from tokenomy.output.boundary import (
    CUT_AT,
    BoundaryKind,
    Completeness,
    Cut,
    CutAt,
    boundaries,
    check_complete,
    cut_at_boundary,
)
from tokenomy.output.continuation import (
    CONTINUE_PROMPT,
    continuation_messages,
    join_parts,
    resume_point,
)
from tokenomy.output.control import CRITERIA, OutputControl
from tokenomy.output.monitor import (
    BaseCriterion,
    JsonComplete,
    LengthBudget,
    MonitorResult,
    RepetitionLoop,
    Stop,
    StopPatterns,
    StreamMonitor,
    Validator,
)
from tokenomy.output.planner import LengthSample, OutputPlanner, template_key

__all__ = [
    "CONTINUE_PROMPT",
    "CRITERIA",
    "CUT_AT",
    "BaseCriterion",
    "BoundaryKind",
    "Completeness",
    "Cut",
    "CutAt",
    "JsonComplete",
    "LengthBudget",
    "LengthSample",
    "MonitorResult",
    "OutputControl",
    "OutputPlanner",
    "RepetitionLoop",
    "Stop",
    "StopPatterns",
    "StreamMonitor",
    "Validator",
    "boundaries",
    "check_complete",
    "continuation_messages",
    "cut_at_boundary",
    "join_parts",
    "resume_point",
    "template_key",
]
