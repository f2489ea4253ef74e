"""lens_steer: concept steering vectors from a parent LLM, transferred to a smaller child model.

The method follows arXiv 2512.19069: extract (Algorithm 1, ``extract``) → ``transfer`` → ``steer``
→ tune λ (Algorithm 2, ``tune``) → test with λ* and inference-time scaling (Algorithm 3, ``its``,
``evaluate``), with explicit choices for what the paper leaves open (layer maps, width bridging,
positions, λ scaling).
"""

from . import its, layer_maps, stats, testing, tune, width_maps
from .activations import last_token_activations, residual_norms
from .cache import GenerationCache
from .eval_report import ConditionResult, EvalReport
from .evaluate import CONTROLS, evaluate, random_directions
from .extract import directions_from_differences, extract
from .generate import decoder_stats, free_decoder_memory, generate
from .its import its_predictions, majority_vote
from .loglik import score_choices_lams
from .models import load_model
from .steer import Steering, steer, steering_ratio
from .tasks import (
    ContrastivePair,
    Example,
    PromptConfig,
    Splits,
    contrastive_pairs,
    get_task,
    score_choices,
)
from .transfer import transfer
from .tune import PAPER_LAMBDA_GRID, TuneResult, tune_lambda
from .vectors import SteeringVectors

__version__ = "0.1.0"

__all__ = [
    "CONTROLS",
    "ConditionResult",
    "EvalReport",
    "GenerationCache",
    "PAPER_LAMBDA_GRID",
    "TuneResult",
    "decoder_stats",
    "evaluate",
    "free_decoder_memory",
    "generate",
    "its",
    "its_predictions",
    "majority_vote",
    "random_directions",
    "tune",
    "tune_lambda",
    "ContrastivePair",
    "Example",
    "PromptConfig",
    "Splits",
    "Steering",
    "SteeringVectors",
    "contrastive_pairs",
    "directions_from_differences",
    "extract",
    "get_task",
    "last_token_activations",
    "layer_maps",
    "load_model",
    "residual_norms",
    "score_choices",
    "score_choices_lams",
    "stats",
    "steer",
    "steering_ratio",
    "testing",
    "transfer",
    "width_maps",
]
