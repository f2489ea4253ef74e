"""A small built-in set of varied texts for fitting width maps and CKA layer maps standalone.

The pipeline passes the task's own train questions instead (never validation or test items).
"""

from __future__ import annotations

__all__ = ["ANCHOR_TEXTS"]

_SUBJECTS = [
    "A baker sells 24 muffins in the morning and 17 in the afternoon.",
    "The train leaves the station at 9:15 and arrives two hours later.",
    "Water boils at a lower temperature on a high mountain.",
    "Plants turn sunlight, water and carbon dioxide into sugar.",
    "If a rectangle is 7 cm long and 3 cm wide, its area is 21 square centimetres.",
    "The square root of 144 is 12.",
    "Maria saved 5 dollars each week for 12 weeks.",
    "A triangle's angles always add up to 180 degrees.",
    "Copper is a good conductor of electricity.",
    "The moon reflects light from the sun.",
    "Solve for x: 3x + 5 = 20.",
    "A farmer has 3 fields with 48 apple trees in each.",
    "Ice floats because it is less dense than liquid water.",
    "The probability of rolling a six on a fair die is one in six.",
    "Tom read 45 pages on Monday and twice as many on Tuesday.",
    "Sound travels faster in water than in air.",
    "An even number times an odd number is always even.",
    "The library closes at eight in the evening on weekdays.",
    "Magnets attract iron but not aluminium.",
    "A car uses 6 litres of fuel per 100 kilometres.",
    "The sum of the first ten positive integers is 55.",
    "Birds migrate south when the days grow shorter.",
    "A recipe needs two eggs for every cup of flour.",
    "The derivative of x squared is two x.",
    "Heat moves from warmer objects to cooler ones.",
    "She bought 4 notebooks at 3 dollars each and paid with a 20 dollar bill.",
    "Earth takes about 365 days to orbit the sun.",
    "A prime number has exactly two divisors.",
    "The shop gives a 15 percent discount on all shoes.",
    "Volcanoes form where magma reaches the surface.",
    "Half of the class chose pizza and a third chose pasta.",
    "The perimeter of a square with side 9 is 36.",
]
_FRAMES = [
    "{}",
    "Question: {} What follows from this?",
]

ANCHOR_TEXTS: tuple[str, ...] = tuple(f.format(s) for f in _FRAMES for s in _SUBJECTS)
