"""Analyses and reports: what a researcher opens after ``lens-steer run``.

Each analysis is a function that returns a plotly figure (or a result with ``.figure()``); the
scripts in the top-level ``analyses/`` folder and ``lens-steer report`` are thin wrappers.

- run directories: :func:`load_run`, :func:`load_runs`
- PC1 similarity (paper Fig. 2): :func:`pc1_similarity` (same width), :func:`projection_similarity`
  and :func:`cka_similarity` (any widths), :func:`transfer_similarity` (child space, per width map)
- per-layer ablation: :func:`layer_ablation`; layer search: :func:`run_layer_search`,
  :func:`layer_search_figure`
- λ robustness (Fig. 3): :func:`lambda_curve`, :func:`lambda_curves`
- ITS gains (Fig. 1/4): :func:`its_gains`
- Table 1: :func:`table1`
- steering ratio: :func:`steering_ratio_figure` (runs), :func:`steering_ratio_curves` (models)
- the report: :func:`write_report`; one figure to HTML: :func:`write_figure`; the report's
  figures as PNG / SVG / PDF: :func:`write_figures`
"""

from .ablation import AblationResult, layer_ablation, run_layer_ablation
from .curves import LambdaCurves, lambda_curves
from .export import write_figures
from .figures import its_gains, lambda_curve, steering_ratio_figure, vectors_figure
from .gallery import report_figures
from .layer_search import layer_search_figure, run_layer_search
from .plots import write_figure
from .ratio import steering_ratio_curves
from .report import report_html, write_report
from .rundir import NotARunError, Run, TaskRun, load_run, load_runs
from .similarity import (
    SimilarityResult,
    TransferSimilarity,
    cka_similarity,
    pc1_similarity,
    projection_similarity,
    similarity_figure,
    transfer_similarity,
)
from .table1 import Table1, table1

__all__ = [
    "AblationResult",
    "LambdaCurves",
    "NotARunError",
    "Run",
    "SimilarityResult",
    "Table1",
    "TaskRun",
    "TransferSimilarity",
    "cka_similarity",
    "its_gains",
    "lambda_curve",
    "lambda_curves",
    "layer_ablation",
    "layer_search_figure",
    "load_run",
    "load_runs",
    "pc1_similarity",
    "projection_similarity",
    "report_figures",
    "run_layer_ablation",
    "run_layer_search",
    "report_html",
    "similarity_figure",
    "write_figures",
    "steering_ratio_curves",
    "steering_ratio_figure",
    "table1",
    "transfer_similarity",
    "vectors_figure",
    "write_figure",
    "write_report",
]
