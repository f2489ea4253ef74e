"""lens_steer: concept steering vectors from a parent LLM, transferred to a smaller child model.

The method follows arXiv 2512.19069: ``extract`` (Algorithm 1) → ``transfer`` → ``steer`` → tune λ
(Algorithm 2, ``tune_lambda``) → test with λ* and inference-time scaling (Algorithm 3,
``evaluate``), with explicit choices for what the paper leaves open (layer maps, width bridging,
positions, λ scaling). The subpackages, one concern each: ``formats`` (vector files in and out:
llama.cpp, lm-eval, IBM), ``models`` (loading), ``transfer`` (layer and width maps), ``engine``
(decoding and scoring), ``experiment`` (tuning, ITS, evaluation, statistics), ``pipeline``
(configs, runs, CLI), ``tasks`` and ``analysis``.
"""

from .activations import last_token_activations, residual_norms
from .engine import GenerationCache, generate, score_choices_lams
from .experiment import (
    PAPER_LAMBDA_GRID,
    ConditionResult,
    EvalReport,
    TuneResult,
    evaluate,
    its_predictions,
    random_directions,
    search_layers,
    stats,
    tune_lambda,
)
from .extract import extract
from .models import load_model
from .options import Options
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
from .vectors import SteeringVectors

__version__ = "0.1.0"

__all__ = [
    # models and data
    "load_model",
    "get_task",
    "Example",
    "Splits",
    "PromptConfig",
    "ContrastivePair",
    "contrastive_pairs",
    # the method
    "extract",
    "SteeringVectors",
    "transfer",
    "steer",
    "Steering",
    "steering_ratio",
    "last_token_activations",
    "residual_norms",
    # the engine
    "Options",
    "generate",
    "score_choices",
    "score_choices_lams",
    "GenerationCache",
    # the experiment
    "PAPER_LAMBDA_GRID",
    "tune_lambda",
    "TuneResult",
    "search_layers",
    "its_predictions",
    "evaluate",
    "EvalReport",
    "ConditionResult",
    "random_directions",
    "stats",
]
