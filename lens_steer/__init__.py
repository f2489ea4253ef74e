"""lens_steer: concept steering vectors from a parent LLM, transferred to a smaller child model.

The method follows arXiv 2512.19069: extract (Algorithm 1) → transfer → steer, with explicit
choices for what the paper leaves open (layer maps, width bridging, positions, λ scaling).
"""

from . import layer_maps, stats, testing, width_maps
from .activations import last_token_activations, residual_norms
from .extract import directions_from_differences, extract
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
from .vectors import SteeringVectors

__version__ = "0.1.0"

__all__ = [
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
    "stats",
    "steer",
    "steering_ratio",
    "testing",
    "transfer",
    "width_maps",
]
