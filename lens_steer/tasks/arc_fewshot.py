"""Hand-written reasoning for the fixed ARC few-shot exemplars (train rows, keyed by ARC id).

ARC ships no worked solutions, and answer-only exemplars would teach a model to skip the
reasoning its system prompt asks for, so each exemplar gets a short rationale written for this
project. The final "The answer is (X)" line is added by the task.
"""

from __future__ import annotations

__all__ = ["RATIONALES", "FEWSHOT_IDS"]

FEWSHOT_IDS: dict[str, tuple[str, ...]] = {
    "arc_challenge": (
        "Mercury_7009538",
        "Mercury_7093993",
        "Mercury_7200848",
        "MCAS_2007_8_5179",
        "Mercury_SC_415424",
    ),
    "arc_easy": (
        "MCAS_2000_8_4",
        "Mercury_7205485",
        "Mercury_7207008",
        "NCEOGA_2013_5_53",
        "VASoL_2007_5_18",
    ),
}

RATIONALES: dict[str, str] = {
    # ARC-Challenge train
    "Mercury_7009538": (
        "A rolling car slows down because something acts against its motion. Motion does not "
        '"run out" on its own, rest is not a preferred state, and inertia is not something that '
        "fades. Friction between the tyres, axles and road opposes the motion until the car stops."
    ),
    "Mercury_7093993": (
        "A dam floods the valley upstream and changes how the river flows downstream. That "
        "removes the land and stream conditions many animals live in, and it blocks fish rather "
        "than helping them. It does not stop pollution or change how much water people drink."
    ),
    "Mercury_7200848": (
        "Red crossed with white giving pink is a blend of the two parent traits. When neither "
        "allele fully masks the other, the heterozygous offspring show an intermediate colour, "
        "which is incomplete dominance; a mutation or asexual reproduction would not explain it."
    ),
    "MCAS_2007_8_5179": (
        "Time equals distance divided by speed. The distance is 10 m and the speed is 0.5 m/s, "
        "so the time is 10 / 0.5 = 20 s."
    ),
    "Mercury_SC_415424": (
        "Grass is a producer: it makes its own food by photosynthesis. Soil, water and air supply "
        "materials, but the energy stored in the grass comes from light, so the source is sunlight."
    ),
    # ARC-Easy train
    "MCAS_2000_8_4": (
        "A chemical change makes a new substance. Spinning, spilling and melting only change "
        "motion, position or state, but rust is iron oxide, a new substance formed when iron "
        "reacts with oxygen and water."
    ),
    "Mercury_7205485": (
        "A rainbow appears when sunlight bends as it enters and leaves water droplets. Each colour "
        "bends by a slightly different amount, so white light is refracted and spread into its "
        "colours, which is dispersion."
    ),
    "Mercury_7207008": (
        "A greenhouse gas absorbs the heat radiated by Earth's surface. Nitrogen, argon and oxygen "
        "barely absorb it, while water vapour absorbs it strongly, so water vapour is the "
        "greenhouse gas here."
    ),
    "NCEOGA_2013_5_53": (
        "Decomposers break down dead material and return nutrients to the soil. A hawk and a "
        "mouse are consumers and a flower belongs to a producer, while a mushroom is a fungus "
        "that feeds on decaying matter, so it is the decomposer."
    ),
    "VASoL_2007_5_18": (
        "The student speaks before the experiment has started, so nothing has been observed and "
        "no result is known yet. Saying what is expected to happen is a prediction."
    ),
}
