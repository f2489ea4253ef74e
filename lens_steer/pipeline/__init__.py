"""The pipeline: a run config in, a resumable run directory out (``lens-steer run``, ``demo``, CLI).

``config`` validates a run config before any model loads; ``preflight`` checks model specs, devices
and grids before anything is written; ``run_dir`` owns the run directory (lock, stamp, atomic
files); ``run`` executes extract → transfer → tune → evaluate; ``sweep`` expands a grid of runs
and runs it in this process (``pool`` shares loaded models, ``sweep_board`` keeps ``sweep.json``)
or on Ray (``sweep_ray``); ``demo`` is the offline demo's config; ``cli`` is the ``lens-steer``
command.
"""

from .config import ConfigError, load_config, validate_config
from .demo import demo_config, find_data_root
from .run import run_pipeline

__all__ = [
    "run_pipeline",
    "load_config",
    "validate_config",
    "ConfigError",
    "demo_config",
    "find_data_root",
]
