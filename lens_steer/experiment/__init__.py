"""The experiment: how steering is tuned and tested, and the statistics every number carries.

``lambda_sweep`` (λ grids and the columns a sweep decodes), ``tune`` (Algorithm 2: choose λ* on
validation), ``its`` (Algorithm 3's inference-time scaling: a vote over λ), ``evaluate`` (Algorithm 3
and its controls on the test split, planned by ``conditions``), ``report`` (what ``evaluate``
returns) and ``stats`` (Wilson intervals, paired bootstrap, exact McNemar).
"""

from . import its, stats, tune
from .evaluate import CONTROLS, evaluate, random_directions
from .its import its_predictions, majority_vote
from .lambda_sweep import PAPER_LAMBDA_GRID
from .layer_search import LayerSearch, search_layers
from .report import ConditionResult, EvalReport
from .tune import TuneResult, tune_lambda

__all__ = [
    "PAPER_LAMBDA_GRID",
    "tune_lambda",
    "TuneResult",
    "search_layers",
    "LayerSearch",
    "its_predictions",
    "majority_vote",
    "evaluate",
    "random_directions",
    "CONTROLS",
    "EvalReport",
    "ConditionResult",
    "its",
    "stats",
    "tune",
]
