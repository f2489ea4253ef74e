#!/usr/bin/env python3
"""Build tests/data/grading/gsm8k.jsonl: the GSM8K grading corpus (issue 13).

Every row is a model answer with the verdict a careful human grader gives under docs/grading.md
and a one-line reason.  The verdicts are decided here, by construction or by a human read; this
script never imports lens_steer (its graders are what the corpus checks).

Sources:
  written   - hand-written answers (literal text below) to real GSM8K test questions
  data      - answers assembled from real GSM8K items (their questions, gold numbers and the gold
              solutions' own reasoning steps) in the styles small chat models write
  old-cases - the gsm8k rows of tests/data/scoring_cases.jsonl, re-judged under the policy
  real      - real model outputs from tests/data/grading/real_outputs.jsonl, read and judged by hand
              (verdicts in REAL_VERDICTS, keyed by a hash of the output text)

Deterministic: fixed seeds, standard library only.  Run:  python3 tests/data/grading/make_gsm8k.py
"""
from __future__ import annotations

import hashlib
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
DATA = Path("/work/shared/data/gsm8k")
if not DATA.exists():  # a checkout elsewhere: shared/ next to the repository
    DATA = REPO / "shared" / "data" / "gsm8k"
OUT = HERE / "gsm8k.jsonl"
OLD = REPO / "tests" / "data" / "scoring_cases.jsonl"  # removed in 1c7fd79: see _old_lines
REAL = HERE / "real_outputs.jsonl"


# --------------------------------------------------------------------------------------------
# GSM8K items
# --------------------------------------------------------------------------------------------

BAD_WORDS = re.compile(r"(?i)answer|boxed|question|problem|\bQ:|human:|user:|exercise:|####")
EQ = re.compile(r"(\$?[0-9][0-9.,]*(?:\s*[-+*/x×]\s*\(?\$?[0-9][0-9.,]*\)?)+)\s*=\s*\$?((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)(?![\d/]|,\d)")


def _num(s: str) -> float | None:
    try:
        return float(s.replace(",", "").replace("$", ""))
    except ValueError:
        return None


class Item:
    def __init__(self, split: str, idx: int, row: dict):
        self.split, self.idx = split, idx
        self.q = row["question"].strip()
        body, gold = row["answer"].split("####")
        self.gold_raw = gold.strip()
        self.g = int(self.gold_raw.replace(",", ""))
        clean = re.sub(r"<<[^>]*>>", "", body)
        self.steps = [s.strip() for s in clean.strip().split("\n") if s.strip()]
        self.solution = clean.strip()
        # equations "lhs = rhs" in the gold solution
        self.eqs = []
        for s in self.steps:
            for m in EQ.finditer(s):
                v = _num(m.group(2))
                lhs = m.group(1)
                if v is not None and lhs.count("(") == lhs.count(")") and not lhs.rstrip().endswith((".", ",")):
                    self.eqs.append((m.group(1).strip(), m.group(2), v))
        # intermediate results (positive integers that are not the gold)
        inter = []
        for _, _, v in self.eqs:
            if v == int(v) and int(v) != self.g and int(v) > 0 and int(v) not in inter:
                inter.append(int(v))
        self.inter = inter

    @property
    def ref(self) -> str:
        return f"{self.split}[{self.idx}]"

    def final_eq(self):
        """The last equation of the solution whose result is the gold, or None."""
        for lhs, rhs, v in reversed(self.eqs):
            if v == self.g:
                return lhs, rhs
        return None

    def inter_eq(self):
        """An equation whose result is an intermediate value (not the gold)."""
        for lhs, rhs, v in self.eqs:
            if v == int(v) and int(v) != self.g and int(v) > 0:
                return lhs, rhs, int(v)
        return None

    def unit(self) -> str:
        stop = {"every", "for", "because", "and", "in", "a", "per", "on", "to", "of", "this", "at",
                "so", "is", "the", "more", "less", "than", "left", "total", "altogether", "which"}
        m = re.search(rf"(?<![\d.,]){re.escape(f'{self.g:,}')}\s+([a-z]+)|(?<![\d.,]){self.g}\s+([a-z]+)",
                      self.steps[-1])
        if m:
            w = m.group(1) or m.group(2)
            if w not in stop:
                return w
        return ""

    def money(self) -> bool:
        return "$" in self.q or "dollar" in self.q.lower()


def load(split: str) -> list[Item]:
    items = []
    with open(DATA / f"{split}.jsonl", encoding="utf-8") as f:
        for i, line in enumerate(f):
            row = json.loads(line)
            it = Item(split, i, row)
            items.append(it)
    return items


TEST = load("test")
TRAIN = load("train")


def usable(it: Item) -> bool:
    return (not BAD_WORDS.search(it.solution) and 2 <= len(it.steps) <= 7 and len(it.q) < 520
            and it.g >= 0 and all(len(s) < 260 for s in it.steps))


class Pool:
    """Real test items in a fixed shuffled order; each is used by at most one generated row."""

    def __init__(self, items, seed):
        self.items = [it for it in items if usable(it)]
        random.Random(seed).shuffle(self.items)
        self.used: set[str] = set()

    def take(self, pred=lambda it: True) -> Item:
        for it in self.items:
            if it.ref not in self.used and pred(it):
                self.used.add(it.ref)
                return it
        raise RuntimeError("pool exhausted")


POOL = Pool(TEST, seed=1319)
OTHER = Pool(TRAIN, seed=7473)  # hallucinated next questions come from the train split
BY_GOLD: dict[int, list[Item]] = {}
for _it in OTHER.items:
    BY_GOLD.setdefault(_it.g, []).append(_it)


def test_item(i: int) -> Item:
    POOL.used.add(f"test[{i}]")
    return TEST[i]


# --------------------------------------------------------------------------------------------
# text helpers
# --------------------------------------------------------------------------------------------

ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen " \
       "sixteen seventeen eighteen nineteen".split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def words(n: int) -> str:
    if n < 0:
        return "negative " + words(-n)
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else "-" + ONES[n % 10])
    if n < 1000:
        return ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + words(n % 100))
    raise ValueError(n)


def comma(n: int) -> str:
    return f"{n:,}"


def prefix(n: int) -> str:
    """A number cut off mid-way by the token limit (differs from n)."""
    s = str(n)
    assert len(s) >= 2
    return s[:-1]


PREAMBLES = [
    "Sure! Let's solve this step by step.\n\n",
    "To solve this problem, we need to break it down into smaller steps.\n\n",
    "Let's break it down:\n\n",
    "Great question! 😊 Let's work through it together.\n\n",
    "Okay, let me think about this.\n",
    "**Solution:**\n\n",
    "",
    "Let's think step by step.\n",
    "We need to carefully read the problem and find the answer.\n\n",
    "",
    "Here's how to solve the problem:\n\n",
    "I'd be happy to help you with this problem!\n\n",
]
CLOSERS = [
    "\n\nLet me know if you have other questions!",
    "\n\nI hope this helps! 😊",
    "",
    "\n\nIs there anything else you would like to know?",
    "",
    "\n\nLet me know if you have any other questions. 😊",
    "\n\nThanks for asking!",
    "",
]


def restate(it: Item) -> str:
    return f"The question asks: {it.q}\n\n"


def latex_step(s: str) -> str:
    m = EQ.search(s)
    if not m or m.group(1).count("(") != m.group(1).count(")"):
        return s
    lhs = m.group(1).replace("*", r" \times ").replace("x", r" \times ").replace("$", r"\$")
    lhs = re.sub(r"\s+", " ", lhs).strip()
    return s + f"\n\\[ {lhs} = {m.group(2)} \\]"


def render(steps: list[str], style: int) -> str:
    style %= 7
    if style == 0:
        return "\n".join(steps)
    if style == 1:
        return "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))
    if style == 2:
        return "\n".join(f"Step {i}: {s}" for i, s in enumerate(steps, 1))
    if style == 3:
        return "\n".join(f"- {s}" for s in steps)
    if style == 4:
        return "\n\n".join(f"**Step {i}:** {s}" for i, s in enumerate(steps, 1))
    if style == 5:
        return "\n\n".join(latex_step(s) for s in steps)
    return " ".join(s if s.endswith(".") else s + "." for s in steps)


def wrong(it: Item, rng: random.Random, avoid=()) -> int:
    cands = [v for v in it.inter if v not in avoid and v != it.g]
    if cands and rng.random() < 0.6:
        return rng.choice(cands)
    g = it.g
    opts = [g + 1, g - 1, g + 2, g * 2, g + 10, g * 10, g // 2, g + 5]
    opts = [o for o in opts if o != g and o > 0 and o not in avoid]
    return rng.choice(opts)


def cut_mid_word(text: str, rng: random.Random) -> str:
    """Cut a text inside a word, in its second half (a token limit)."""
    spots = [i for i in range(len(text) // 2, len(text) - 1)
             if text[i - 3:i].isalpha() and text[i].isalpha()]
    return text[: rng.choice(spots)]


# --------------------------------------------------------------------------------------------
# rows
# --------------------------------------------------------------------------------------------

ROWS: list[dict] = []


def add(kind, item_or_gold, output, verdict, reason, source):
    if isinstance(item_or_gold, Item):
        gold, question, ref = str(item_or_gold.g), item_or_gold.q, item_or_gold.ref
    else:
        gold, question, ref = str(item_or_gold), None, None
    assert isinstance(verdict, bool) and reason and "\n" not in reason, reason
    row = {"kind": kind, "output": output, "gold": gold, "verdict": verdict, "reason": reason,
           "source": source}
    if question is not None:
        row["question"] = question
        row["item"] = ref
    ROWS.append(row)


# --------------------------------------------------------------------------------------------
# hand-written answers to real GSM8K test questions (source "written")
# (kind, test index, gold as a check, output, verdict, reason)
# --------------------------------------------------------------------------------------------

WRITTEN = [
    ("right", 0, 18,
     "Sure! Let's solve this step by step.\n\n**Step 1: Find the number of eggs left.**\nJanet's ducks lay 16 eggs per day. "
     "She eats 3 for breakfast and uses 4 for muffins.\n16 - 3 - 4 = 9 eggs\n\n**Step 2: Find how much money she makes.**\n"
     "She sells each egg for $2.\n9 × 2 = $18\n\n#### The final answer is: 18\n\nLet me know if you have other questions! 😊",
     True, "prompt format '#### The final answer is: 18' with a chatty preamble and closer"),
    ("right", 57, 83,
     "We need to find the maximum number of boxes.\n\nThe weight limit is 5000 pounds, and the truck with the driver weighs 3755 pounds.\n\n"
     "\\[ 5000 - 3755 = 1245 \\]\n\nEach box weighs 15 pounds:\n\n\\[ \\frac{1245}{15} = 83 \\]\n\n#### The final answer is: 83",
     True, "LaTeX working, then the prompt format with 83"),
    ("format", 3, 540,
     "To find the total meters, we multiply:\n\n$$3 \\times 3 \\times 60 = 540$$\n\nSo James runs **540 meters** a week.\n\n**Answer:** 540 meters",
     True, "bold '**Answer:** 540 meters' (unit allowed)"),
    ("format", 2, 70000,
     "He bought the house for $80,000 and spent $50,000 on repairs, so his cost was $130,000.\n"
     "The value went up by 150%, so the new value is $80,000 + $120,000 = $200,000.\n"
     "Profit = $200,000 - $130,000 = $70,000\n\n#### 70 000",
     True, "'#### 70 000' with a space as thousands separator is 70000"),
    ("format", 11, 694,
     "The total cost is:\n- Donuts: 3 x $68 = $204\n- Mini cupcakes: 2 x $80 = $160\n- Mini cheesecakes: 6 x $55 = $330\n\n"
     "Total = $204 + $160 + $330 = $694\n\nThe answer is $\\boxed{694}$.",
     True, "'The answer is $\\boxed{694}$'"),
    ("format", 14, 60,
     "20% of 20 students is 4 students in contemporary dance. That leaves 16. 25% of 16 is 4 students in jazz. "
     "So 12 students are in hip-hop.\n12 out of 20 is 60%.\n\nFinal answer: 60%",
     True, "'Final answer: 60%' (the question asks for a percentage)"),
    ("format", 22, 7,
     "Billy sold 3 DVDs to his first 3 customers and 4 DVDs to the next 2 customers. His last 3 customers did not buy anything.\n\n"
     "So Billy sold **seven** DVDs on Tuesday.\n\n#### The final answer is: seven",
     True, "number word 'seven' in the answer statement"),
    ("format", 6, 260,
     "Charleston has 4 x 20 = 80 sheep and Toulouse has 2 x 80 = 160 sheep.\nAll together: 20 + 80 + 160 = 260.\n\n"
     "The answer is two hundred sixty.",
     True, "number words 'two hundred sixty' = 260 in the answer statement"),
    ("format", 50, 294,
     "Lloyd's chickens produce 252 eggs per day, so in a week they produce 252 × 7 = 1,764 eggs.\n1,764 ÷ 12 = 147 dozen\n"
     "147 × $2 = $294\n\n**Final Answer:** $294.00",
     True, "'**Final Answer:** $294.00' is 294"),
    ("format", 18, 7,
     "Claire eats 3 eggs a day, so in 4 weeks she eats 3 x 28 = 84 eggs. That is 84 / 12 = 7 dozen eggs.",
     True, "no answer phrase; finished sentence whose last number is 7 (fallback)"),
    ("format", 489, -10,
     "First add the three temperatures: -48 + 21 + (-3) = -30.\nThen divide by 3: -30 / 3 = -10.\n\n#### - 10",
     True, "'#### - 10' is -10"),
    ("format", 1113, -3,
     "The temperature starts at 2 degrees. It drops 8 degrees: 2 - 8 = -6. Then it goes up 3 degrees: -6 + 3 = -3.\n\n"
     "The answer is negative 3 degrees Celsius.",
     True, "'negative 3' is -3"),
    ("wrong", 1113, -3,
     "The temperature was 2 degrees. It dropped 8 degrees, so 8 - 2 = 6. Then it increased 3 degrees: 6 + 3 = 9.\n\n"
     "#### The final answer is: 9",
     False, "9 is not -3 (subtracted the wrong way round)"),
    ("wrong", 489, -10,
     "We add the temperatures: 48 + 21 + 3 = 72, and 72 / 3 = 24. But two of them are below zero, so the average is 10 degrees.\n\n"
     "#### The final answer is: 10",
     False, "10 is not -10 (sign lost)"),
    ("wrong", 6, 260,
     "Seattle has 20 sheep.\nCharleston has 4 times as many: 4 x 20 = 80 sheep.\nToulouse has twice as many as Charleston: 2 x 80 = 160 sheep.\n\n"
     "Together, Toulouse and Charleston have 160 + 80 = 240 sheep.\n\n#### The final answer is: 240",
     False, "240 leaves out Seattle's 20 sheep; gold is 260"),
    ("wrong", 0, 18,
     "Janet sells 16 - 3 - 4 = 9 eggs a day. She makes 9 * 2 = $18 every day. In a week, she makes 18 x 7 = $126.\n\n"
     "#### The final answer is: 126",
     False, "18 appears in the working but the stated answer is the weekly 126"),
    ("wrong", 47, 800,
     "He bought 200 / 40 = 5 blue ties and 10 red ties.\nRed ties cost 50% more: $40 * 1.5 = $60.\n"
     "So he spent 10 * $60 = $600 on red ties.\n\n**Answer:** $600",
     False, "$600 is only the red ties; the total is 800"),
    ("hedged", 6, 260,
     "Charleston has 4 x 20 = 80 sheep. Toulouse has 2 x 80 = 160 sheep.\nTogether they have 20 + 80 + 160 = 260 sheep. "
     "But if we count Seattle twice it could be 280.\n\nThe answer is 260 or 280.",
     False, "hedges between 260 and 280"),
    ("hedged", 5, 64,
     "Kylar buys 16 glasses. 8 of them cost $5 and 8 of them cost 60% of $5 = $3.\n8 x 5 = 40\n8 x 3 = 24\n40 + 24 = 64\n\n"
     "So he needs to pay between $64 and $80.\n\n#### The final answer is: between 64 and 80",
     False, "the final statement is a range 'between 64 and 80'"),
    ("hedged", 8, 45,
     "When he turned around he was 3 x 60 = 180 miles from home. He drove 15 + 120 = 135 miles back.\n"
     "So he is 180 - 135 = 45 miles from home. But if the traffic was only 1.5 hours, he would be 30 miles away.\n\n"
     "The answer is either 45 or 30 miles.",
     False, "hedges between 45 and 30"),
    ("truncated", 4, 20,
     "Wendi has 20 chickens and each one gets 3 cups of feed a day.\nSo in total the chickens need 20 x 3 = 60 cups.\n"
     "In the morning she gives 15 cups and in the afternoon 25 cups, so that is 15 + 25 = 40 cups.\n"
     "There are 20 chickens in total. So, 20 /",
     False, "cut off mid-calculation before any final answer (20 only appears as the chicken count)"),
    ("truncated", 0, 18,
     "Janet sells 16 - 3 - 4 = 9 eggs every day.\nShe makes 9 x $2 = $18.\n\nThe final answer is $\\boxed{",
     False, "cut off inside an unclosed \\boxed{ ; the earlier $18 does not rescue it"),
    ("truncated", 3, 540,
     "He runs 3 sprints 3 times a week, so he runs 3 x 3 = 9 sprints.\nEach sprint is 60 meters, so 9 x 60 = 540 meters.\n\n"
     "#### The final answer is: 54",
     False, "final statement cut mid-number: 54 is not 540"),
    ("truncated", 0, 18,
     "Janet sells 16 - 3 - 4 = 9 duck eggs a day. She makes 9 * 2 = $18 every day, which means that in one week she will make 18 *",
     False, "no answer statement and the text stops mid-sentence"),
    ("hallucinated_turn", 23, 8,
     "The candle burns from 1:00 PM to 5:00 PM, which is 4 hours.\n2 cm x 4 = 8 cm\n\n#### The final answer is: 8\n\n"
     "Question: A baker makes 12 cookies per batch. How many cookies does she make in 3 batches?\nAnswer: 12 x 3 = 36\n"
     "#### The final answer is: 36",
     True, "own answer 8; the 36 belongs to the hallucinated next question"),
    ("hallucinated_turn", 21, 14,
     "Raymond was 23 when his son was born, and Samantha is 6 years younger, so she was 23 - 6 = 17.\nSamantha is now 31, so\n\n"
     "Q: Tom is 10 years old and his sister is 4 years older. How old is his sister?\nA: 10 + 4 = 14\n#### 14",
     False, "own turn breaks off with no answer; 14 only in the hallucinated 'Q:' turn"),
    ("hallucinated_turn", 40, 8,
     "Ben's iPhone is 1 x 2 = 2 years old. Brandon's iPhone is 4 x 2 = 8 years old. The answer is 8. Question: Sarah has 3 cats "
     "and 2 dogs. How many pets does she have? The answer is 5.",
     True, "answer 8 before an inline hallucinated 'Question:' whose answer is 5"),
    ("hallucinated_turn", 48, 8,
     "Tracy's wire is 4 feet long. 4 feet = 4 x 12 = 48 inches. Each piece is 6 inches.\nSo she cut the wire into 6 pieces.\n"
     "#### The final answer is: 6<|im_end|>\n<|im_start|>user\nAre you sure?<|im_end|>\n<|im_start|>assistant\n"
     "Sorry, 48 / 6 = 8 pieces.\n#### The final answer is: 8",
     False, "own answer is 6; the correction to 8 is in a hallucinated later turn"),
    ("hallucinated_turn", 1, 3,
     "Question: A robe takes 2 bolts of blue fiber and half that much white fiber. How many bolts in total does it take?\n"
     "Answer: Half of 2 is 1, so 2 + 1 = 3 bolts.\n#### The final answer is: 3",
     True, "'Question:' at the very start restates the question and is not a cut; answer 3"),
    ("hallucinated_turn", 20, 15,
     "To answer the question: how much water is in the remaining 24 liters, we first find the water in each drink.\n"
     "Pineapple drink: 15 x 3/5 = 9 liters of water.\nOrange drink after spilling: 9 liters, and 9 x 2/3 = 6 liters of water.\n"
     "Total water = 9 + 6 = 15 liters.\n\nThe answer is 15.",
     True, "lower-case prose 'the question:' is not a turn marker; answer 15"),
    ("hallucinated_turn", 49, 30,
     "Total units = 15 x 8 = 120.\nOccupied = 3/4 x 120 = 90.\nUnoccupied = 120 - 90 = 30.\n\nSo there are 30 unoccupied units.\n\n"
     "Human: What about if half the building was occupied?\n\nAssistant: Then 120 / 2 = 60 units would be unoccupied. The answer is 60.",
     True, "own turn ends with 30 unoccupied units; the 60 is after the hallucinated 'Human:' turn"),
    ("heading", 9, 460,
     "#### Step 1: Regular pay for 40 hours\n$10 x 40 = $400\n\n#### Step 2: Overtime rate\n$10 x 1.2 = $12 per hour\n\n"
     "#### Step 3: 5 hours of overtime\n45 - 40 = 5 hours, 5 x $12 = $60\n\n#### Step 4: Total earnings\n$400 + $60 = $460\n\n"
     "#### The final answer is: 460",
     True, "'#### Step N:' lines are headings; the real answer line says 460"),
    ("heading", 9, 460,
     "#### 1. Regular pay\nEliza earns $10 x 40 = $400 for the first 40 hours.\n\n#### 2. Overtime pay\n"
     "She works 5 extra hours at $12 per hour, so she earns $60.\n\n#### 3. Final Answer\nEliza earns $460 this week.",
     True, "'#### 3. Final Answer' is a numbered heading, not an answer of 3; the answer under it is 460"),
    ("heading", 10, 366,
     "#### Step 1: Downloads in the second month\n3 x 60 = 180\n\n#### Step 2: Downloads in the third month\n"
     "180 - 30% = 126\n\n#### Step 3: Total downloads\n60 + 180 + 126 =",
     False, "cut off at '=' under a heading; never states the total"),
    ("phrase_expression", 28, 25,
     "Henry traveled 20 miles before his first stop and 15 miles after his second stop.\nThe answer is 60 - 20 - 15 = 25.",
     True, "answer phrase followed by a calculation: its result 25 counts"),
    ("phrase_expression", 34, 23,
     "The answer is not 25, because 25 is how many jewels Aaron has. Siobhan has 2 fewer, so it is 23.",
     True, "'the answer is not 25' is negated; the finished answer is 23"),
    ("phrase_expression", 0, 18,
     "At first glance the answer is 16, because the ducks lay 16 eggs. But she eats 3 and bakes with 4, so she sells 9 eggs "
     "at $2 each.\n\n\\boxed{18}",
     True, "first impression 16 superseded by the final \\boxed{18}"),
    ("phrase_expression", 23, 8,
     "The candle burns from 1 PM to 5 PM.\nThe answer is 5 - 1 = 4.",
     False, "the stated result 4 is the hours burned, not the 8 cm"),
    ("phrase_expression", 31, 80,
     "The first friend says 80.\nThe second says 20 more than half of 80: 80 / 2 + 20 = 60.\n"
     "The third says 25% more than 80: 80 x 1.25 = 100.\nThe answer is (80 + 60 + 100) / 3 = 240 / 3 = 80.",
     True, "result after the last '=' of the answer statement is 80"),
    ("phrase_expression", 31, 80,
     "The guesses are 80, 60 and 100.\nThe answer is 80 + 60 + 100 = 240.",
     False, "the statement's result 240 is the sum, not the average 80"),
    ("correction", 33, 70,
     "Let x be the number of silver coins. Then gold coins = x + 30.\nx + x + 30 = 110\n2x = 80\nx = 40\n\n"
     "#### The final answer is: 40\n\nWait, the question asks for gold coins, not silver coins. Gold coins = 40 + 30 = 70.\n\n"
     "#### The final answer is: 70",
     True, "correction to 70 is the final answer"),
    ("correction", 35, 9,
     "In the second 20 minutes he scores 25% more: 4 x 1.25 = 5 points.\nSo the answer is 5.\n"
     "Hmm, wait. The question asks for the total points. 4 + 5 = 9.\nSo the answer is 9.",
     True, "corrected from 5 to 9; last statement 9"),
    ("correction", 25, 2,
     "The chicken meal, milk and apples cost $12 + $15 + $6 = $33.\nMarie has $50 - $33 = $17 left for pizza.\n"
     "$17 / $8.50 = 2 boxes.\n\n#### The final answer is: 2\n\nWait, let me double check. 5 packs of milk x $3 = $15, "
     "4 apples x $1.50 = $6... Actually, I think she ordered 3 boxes because she paid $50.\n\n#### The final answer is: 3",
     False, "right 2 first, then 'corrected' to 3, which is the final answer"),
    ("correction", 0, 18,
     "The answer is 20 dollars. No wait, that's wrong: she only sells 16 - 3 - 4 = 9 eggs, so she makes 9 x 2 = 18 dollars.",
     True, "explicit retraction of 20 ('No wait, that's wrong'); a human reads the corrected 18 as the final answer"),
    ("no_answer", 7, 160,
     "To solve this problem, we need to find out how long it takes Carla to download the file. First, we need to calculate how "
     "much of the file she downloaded before the restart. Then we need to figure out how long the restart takes, and finally "
     "we add everything together. Let's start with the first part:",
     False, "only a plan; stops at ':' with no answer"),
    ("no_answer", 41, 200,
     "I'm sorry, but I cannot answer this question because it does not give enough information about the dragon.",
     False, "refusal; no number at all"),
    ("whitespace_flood", 55, 14,
     "Jean has 30 - 2 = 28 lollipops left.\n28 / 2 = 14 bags.\n\n#### The final answer is: 14" + "\n" * 300,
     True, "complete answer 14 followed by 300 newlines"),
    ("whitespace_flood", 56, 3,
     "It costs $7 + $7 = $14 each time.\n42 / 14 = 3\n\n#### The final answer is:" + " " * 400,
     False, "answer line with no value, then only spaces to the token limit (cut off)"),
    ("repetition", 51, 5,
     "He sails for 3 hours at 10 mph, so he travels 30 miles. To get back at 6 mph it takes 30 / 6 = 5 hours.\n"
     + "The answer is 5 hours.\n" * 15,
     True, "the same complete answer 5 repeated 15 times"),
    ("repetition", 32, 35,
     "He spends 10 x 0.5 = 5 hours per day.\n" + "He spends 5 hours per day.\n" * 20 + "He spends 5 hours per",
     False, "loops on an intermediate and is cut mid-sentence; never answers 35"),
    ("repetition", 27, 16,
     "Cynthia needs 60 / 15 = 4 cartons.\n4 cartons x $4.00 = $16.00\n" + "#### The final answer is: 16\n" * 5,
     True, "the prompt-format answer 16 repeated"),
    ("repetition", 36, 75,
     "He needs 2 x 30 = 60 yogurts.\n60 / 4 = 15 packs\n15 x $5 = $75\n\n" + "The answer is $75.\n" * 12 + "The answer is $",
     False, "repetition cut off inside the last answer statement ('The answer is $')"),
    ("right", 45, 104,
     "Okay, let's see.\n\nMonday: 5 articles\nTuesday: 5 + 2/5 x 5 = 5 + 2 = 7 articles\nWednesday: 2 x 7 = 14 articles\n"
     "Total articles: 5 + 7 + 14 = 26\nHours: 26 x 4 = 104\n\n#### The final answer is: 104",
     True, "prompt format, 104"),
    ("format", 17, 57500,
     "Per week she makes $20 x 35 = $700 teaching and $30 x 15 = $450 coaching, so $1,150 a week.\n"
     "Over 50 weeks: $1,150 x 50 = $57,500\n\n**Answer:** $57,500",
     True, "'**Answer:** $57,500' is 57500"),
    ("wrong", 17, 57500,
     "Per week she makes $20 x 35 = $700 teaching and $30 x 15 = $450 coaching.\n$700 + $450 = $1,150\n\n"
     "#### The final answer is: $1,150",
     False, "$1,150 is the weekly pay, not the annual 57500"),
    ("format", 24, 26,
     "Let the original price be x. After a 25% discount, 0.75x = 19.50.\nx = 19.50 / 0.75 = 26\n\n"
     "The final answer is $26.00.",
     True, "'The final answer is $26.00.' is 26"),
    ("truncated", 13, 18,
     "Before the orange house she had 5 x 2 = 10. Before the red house she had 10 + 2 = 12.\n12 is two thirds of what she "
     "started with, so she started with 12 x 3 / 2 = 18.\n\n#### The final answer is: 18\n\nTo check: 18 / 3 = 6 at the "
     "green house, 18 - 6 - 2 = 10, half of",
     True, "complete answer 18, then cut off in a check that is not an answer statement"),
    ("no_answer", 12, 13,
     "#### The final answer is: [Insert final answer here]",
     False, "template placeholder, no value"),
    ("hedged", 12, 13,
     "He earns 7 x 1.5 - 3 = $7.50 each year. 90 / 7.5 = 12 years to pay off the tree.\n\n"
     "So he starts earning money after 12 or 13 years.\n\n#### The final answer is: 12 or 13",
     False, "hedges between 12 and 13"),
    ("correction", 38, 10,
     "He runs 3 hours the first day and 1.5 hours on each of the other two days, so 3 + 1.5 + 1.5 = 6 hours.\n"
     "60 / 6 = 10\n\n\\boxed{10}\n\nHmm, but maybe he runs 3 hours every day, so 60 / 9 = 6.67. Actually no, the question says "
     "half as much on the other days, so 10 is right.\n\n\\boxed{10}",
     True, "doubts, then reconfirms \\boxed{10} as the last statement"),
    ("correction", 52, 15,
     "30 comic books weigh 30 x 1/4 = 7.5 pounds. He still needs to remove 15 - 7.5 = 7.5 pounds.\n"
     "Each toy weighs 1/2 pound, so 7.5 / 0.5 = 15 toys.\n\n#### The final answer is: 15\n\n"
     "Wait, I made a mistake, the toys weigh 1/2 pound so it is 7.5 x 0.5 = 3.75.\n\n#### The final answer is: 3.75",
     False, "'correction' to 3.75 is the final answer; gold 15"),
]

for kind, idx, g, out, verdict, reason in WRITTEN:
    it = test_item(idx)
    assert it.g == g, (idx, it.g, g)
    add(kind, it, out, verdict, reason, "written")


# --------------------------------------------------------------------------------------------
# answers assembled from real items (source "data")
# each template takes its own real item(s) and returns (item, output, verdict, reason)
# --------------------------------------------------------------------------------------------

def pre(rng):
    return rng.choice(PREAMBLES)


def close(rng):
    return rng.choice(CLOSERS)


def other_item(it: Item, same_gold: bool) -> Item:
    """A real train question to serve as a hallucinated next turn."""
    if same_gold:
        for o in BY_GOLD.get(it.g, []):
            if o.ref not in OTHER.used:
                OTHER.used.add(o.ref)
                return o
        return None
    return OTHER.take(lambda o: o.g != it.g and len(o.steps) <= 4)


def synth_same_gold(g: int, rng) -> tuple[str, str]:
    a = rng.randint(1, max(1, min(9, g - 1))) if g > 1 else 0
    return (f"Tom has {g - a} marbles and his friend gives him {a} more. How many marbles does Tom have now?",
            f"Tom has {g - a} + {a} = {g} marbles.")


# ---- right: the prompt format "#### The final answer is: N" -------------------------------
def t_right(rng, n):
    it = POOL.take()
    style = n % 7
    body = pre(rng) + (restate(it) if n % 5 == 2 else "") + render(it.steps, style)
    out = body + f"\n\n#### The final answer is: {it.g}" + close(rng)
    return it, out, True, f"prompt format '#### The final answer is: {it.g}'"


# ---- format: other legitimate answer forms --------------------------------------------------
def _fmt_templates():
    T = []

    def f(pred, make, why):
        T.append((pred, make, why))

    f(lambda it: True, lambda it: f"The answer is {it.g}.", "'The answer is {g}.'")
    f(lambda it: it.money(), lambda it: f"**Answer:** ${comma(it.g)}", "bold '**Answer:** ${c}'")
    f(lambda it: True, lambda it: f"Therefore, the final answer is $\\boxed{{{it.g}}}$.", "\\boxed{{{g}}}")
    f(lambda it: True, lambda it: f"#### {it.g}", "'#### {g}'")
    f(lambda it: it.g >= 1000, lambda it: f"#### {comma(it.g).replace(',', ' ')}", "'#### {s}' with space separators")
    f(lambda it: it.g >= 1000, lambda it: f"#### The final answer is: {comma(it.g)}", "comma thousands separator {c}")
    f(lambda it: 0 < it.g < 100, lambda it: f"#### The final answer is: {words(it.g)}", "number word '{w}'")
    f(lambda it: 0 < it.g < 100, lambda it: f"So the answer is {words(it.g)}.", "number word '{w}' after 'the answer is'")
    f(lambda it: it.money(), lambda it: f"#### The final answer is: ${it.g}.00", "'${g}.00' is {g}")
    f(lambda it: True, lambda it: f"The final answer is: **{it.g}**", "bold number after 'The final answer is:'")
    f(lambda it: True, lambda it: f"Answer: {it.g}", "'Answer: {g}'")
    f(lambda it: True, lambda it: f"**Final Answer:** \\boxed{{{it.g}}}", "bold 'Final Answer' with \\boxed{{{g}}}")
    f(lambda it: True, lambda it: f"The final answer is ${it.g}$. I hope it is correct.", "LaTeX-wrapped '${g}$'")
    f(lambda it: True, lambda it: f"#### The final answer is: {it.g}.0", "trailing '.0'")
    f(lambda it: it.money(), lambda it: f"So the total is $\\boxed{{\\${it.g}}}$.", "\\boxed{{\\${g}}} with a dollar sign")
    f(lambda it: it.unit() != "", lambda it: f"#### The final answer is: {it.g} {it.unit()}", "unit after the number ({g} {u})")
    f(lambda it: it.unit() != "", lambda it: f"The answer is {it.g} {it.unit()}.", "'The answer is {g} {u}.'")
    f(lambda it: True, lambda it: f"Final answer: {it.g}", "'Final answer: {g}'")
    f(lambda it: True, lambda it: f"####{it.g}", "'####{g}' without a space")
    f(lambda it: re.search(r"(?i)what (?:percent|percentage)|how many percent|percentage of", it.q) is not None,
      lambda it: f"#### The final answer is: {it.g}%", "'{g}%' for a percentage question")
    f(lambda it: True, lambda it: f"Putting it all together, we get:\n\n$$\\boxed{{{it.g}}}$$",
      "display-math \\boxed{{{g}}}")
    return T


FMT = _fmt_templates()


def t_format(rng, n):
    pred, make, why = FMT[n % len(FMT)]
    it = POOL.take(pred)
    end = make(it)
    style = (n * 3) % 7
    out = pre(rng) + render(it.steps, style) + "\n\n" + end + close(rng)
    u = it.unit()
    return it, out, True, why.format(g=it.g, c=comma(it.g), s=comma(it.g).replace(",", " "),
                                     w=words(it.g) if 0 <= it.g < 1000 else "", u=u)


def t_format_fallback(rng, n):
    it = POOL.take()
    style = n % 4
    lead = ["So the total is", "Therefore, we get", "That means the result is", "In the end we have"][n % 4]
    out = pre(rng) + render(it.steps, style) + f"\n\n{lead} {it.g}."
    return it, out, True, f"no answer phrase; the turn ends with a finished sentence whose last number is {it.g}"


# ---- wrong -----------------------------------------------------------------------------------
def t_wrong(rng, n):
    k = n % 9
    it = POOL.take(lambda it: bool(it.inter) and it.g > 2)
    g = it.g
    if k == 0:  # stopped at an intermediate step
        lhs, rhs, v = it.inter_eq()
        j = next(i for i, s in enumerate(it.steps) if rhs in s)
        out = pre(rng) + render(it.steps[: j + 1], n) + f"\n\n#### The final answer is: {v}" + close(rng)
        return it, out, False, f"stopped at an intermediate result {v}; gold {g}"
    if k == 1:  # right working, wrong number copied
        w = g + rng.choice([1, -1, 2, 10])
        out = render(it.steps, n) + f"\n\n#### The final answer is: {w}"
        return it, out, False, f"working reaches {g} but the stated answer is {w}"
    if k == 2:
        w = wrong(it, rng)
        out = pre(rng) + render(it.steps[:-1], n) + f"\n\nSo the answer is $\\boxed{{{w}}}$."
        return it, out, False, f"\\boxed{{{w}}} is not {g}"
    if k == 3:
        w = g * 10
        out = f"The answer is {w}."
        return it, out, False, f"{w} is ten times the gold {g}"
    if k == 4:
        out = render(it.steps, n) + f"\n\n#### The final answer is: -{g}"
        return it, out, False, f"-{g} has the wrong sign (gold {g})"
    if k == 5:  # fallback gives an intermediate
        lhs, rhs, v = it.inter_eq()
        j = next(i for i, s in enumerate(it.steps) if rhs in s)
        out = pre(rng) + render(it.steps[: j + 1], n) + f"\nSo the total is {v}."
        return it, out, False, f"no answer phrase; the finished last line gives {v}, not {g}"
    if k == 6:  # one step too many
        out = render(it.steps, n) + f"\nThen we multiply by 2: {g} x 2 = {2 * g}.\n\n#### The final answer is: {2 * g}"
        return it, out, False, f"an extra doubling step: {2 * g}, gold {g}"
    if k == 7:
        w = wrong(it, rng)
        out = pre(rng) + render(it.steps[:-1], n) + f"\n\n**Answer:** {w}" + close(rng)
        return it, out, False, f"'**Answer:** {w}' is not {g}"
    w = wrong(it, rng)
    out = render(it.steps, n) + f"\n\n#### {w}"
    return it, out, False, f"'#### {w}' is not {g} although {g} appears in the working"


# ---- hedged ----------------------------------------------------------------------------------
def t_hedged(rng, n):
    k = n % 8
    it = POOL.take(lambda it: it.g > 3)
    g = it.g
    w = wrong(it, rng)
    steps = render(it.steps, n)
    if k == 0:
        return it, steps + f"\n\nThe answer is {g} or {w}.", False, f"hedges between {g} and {w}"
    if k == 1:
        return it, steps + f"\n\n#### The final answer is: {w} or {g}", False, f"hedges between {w} and {g}"
    if k == 2:
        lo, hi = g - rng.randint(1, 3), g + rng.randint(1, 3)
        return (it, steps + f"\n\nSo the answer is between {lo} and {hi}.", False,
                f"a range 'between {lo} and {hi}', not one value")
    if k == 3:
        return (it, steps + f"\n\nThe final answer is $\\boxed{{{g}}}$ or $\\boxed{{{w}}}$.", False,
                f"two boxed values {g} and {w}")
    if k == 4:
        return (it, steps + f"\n\nThe answer is either {w} or {g}, depending on how you read the question.", False,
                f"'either {w} or {g}'")
    if k == 5:
        return (it, steps + f"\n\nFinal answer: {g} (or {w} if we round differently)", False,
                f"offers {w} as an alternative to {g}")
    if k == 6:
        return (it, steps + f"\n\n**Answer:** It could be {g} or it could be {w}.", False,
                f"hedges between {g} and {w}")
    return (it, steps + f"\n\n\\boxed{{{g} \\text{{ or }} {w}}}", False, f"one box holding two values {g} and {w}")


# ---- truncated -------------------------------------------------------------------------------
def t_truncated(rng, n):
    k = n % 10
    it = POOL.take(lambda it: it.g >= 10 and len(it.steps) >= 2)
    g = it.g
    if k == 0:
        s = cut_mid_word(render(it.steps, 0), rng)
        return it, pre(rng) + s, False, "cut off mid-word inside the working; no final answer"
    if k == 1:
        return (it, render(it.steps, n) + "\n\nThe final answer is $\\boxed{", False,
                "cut off inside an unclosed \\boxed{")
    if k == 2:
        return (it, render(it.steps, n) + f"\n\n#### The final answer is: {prefix(g)}", False,
                f"cut mid-number: {prefix(g)} is not {g}")
    if k == 3:
        return (it, pre(rng) + render(it.steps, n) + "\n\n#### The final answer is:", False,
                "the answer line has no value before the output ends")
    if k == 4:
        return (it, render(it.steps, n) + f"\n\nSo the final answer is \\boxed{{{g}", False,
                f"\\boxed{{{g} is never closed: cut off inside the last answer statement")
    if k == 5:
        return (it, render(it.steps, n) + "\n\nTherefore, the answer is", False,
                "'the answer is' with no value before the output ends")
    if k == 6:  # complete answer, then the limit hits inside a check
        chk = cut_mid_word("Let me double check this: " + " ".join(it.steps[:2]), rng)
        return (it, render(it.steps, n) + f"\n\n#### The final answer is: {g}\n\n" + chk, True,
                f"complete answer {g}; the cut falls later, in a check that is not an answer statement")
    if k == 7:  # answer first, explanation cut off
        exp = cut_mid_word("Explanation:\n" + "\n".join(it.steps), rng)
        return (it, f"The answer is {g}.\n\n" + exp, True,
                f"answers {g} first; the explanation after it is cut off")
    if k == 8:  # earlier complete statement, restated and cut mid-number
        return (it, render(it.steps, n) + f"\n\n#### The final answer is: {g}\n\n#### The final answer is: {prefix(g)}",
                False, f"the last statement is cut mid-number ({prefix(g)}); the earlier {g} does not rescue it")
    # the last step's own number (the gold where it appears) cut mid-way, no statement
    last = it.steps[-1]
    nums = [m for m in re.finditer(r"\d[\d,]*(?:\.\d+)?", last) if len(m.group(0)) >= 2]
    gm = [m for m in nums if _num(m.group(0)) == g]
    m = (gm or nums or [None])[-1]
    if m is None:
        return (it, render(it.steps, n) + "\n\n#### The final answer is:", False,
                "the answer line has no value before the output ends")
    head = last[: m.start()] + m.group(0)[:-1]
    assert _num(m.group(0)[:-1]) != g
    out = render(it.steps[:-1] + [head], 0)
    return it, out, False, "cut off mid-number in the last step; no answer statement"


# ---- hallucinated turn -----------------------------------------------------------------------
def _turn(o: Item, marker: str, style: str) -> str:
    sol = "\n".join(o.steps)
    if style == "hash":
        return f"{marker} {o.q}\nAnswer: {sol}\n#### The final answer is: {o.g}"
    if style == "qa":
        return f"{marker} {o.q}\nA: {sol}\n#### {o.g}"
    if style == "box":
        return f"{marker} {o.q}\nSolution: {sol}\nThe answer is $\\boxed{{{o.g}}}$."
    return f"{marker} {o.q}\n{sol}\nThe answer is {o.g}."


HALLUC_ORDER = [0, 9, 1, 10, 2, 11, 7, 13, 8, 14, 3, 15, 12, 16, 4, 5, 6]


def t_halluc(rng, n):
    k = HALLUC_ORDER[n % len(HALLUC_ORDER)]
    it = POOL.take(lambda it: len(it.steps) >= 2 and it.g > 1)
    g = it.g
    own = render(it.steps, n)
    if k in (0, 1, 2, 3, 4, 5, 6):  # right answer, then a new turn with its own different answer
        o = other_item(it, same_gold=False)
        marker, style, ans = [
            ("Question:", "hash", f"#### The final answer is: {g}"),
            ("Q:", "qa", f"The answer is {g}."),
            ("Problem:", "box", f"The final answer is $\\boxed{{{g}}}$."),
            ("Question 2:", "hash", f"#### {g}"),
            ("User:", "plain", f"**Answer:** {g}"),
            ("Exercise:", "plain", f"#### The final answer is: {g}"),
            ("Problem 3:", "box", f"Final answer: {g}"),
        ][k]
        out = own + f"\n\n{ans}\n\n" + _turn(o, marker, style)
        return it, out, True, f"own answer {g}; the {o.g} after the hallucinated '{marker}' turn is ignored"
    if k == 7:  # chat template tokens
        o = other_item(it, same_gold=False)
        out = (own + f"\n#### The final answer is: {g}<|im_end|>\n<|im_start|>user\n{o.q}<|im_end|>\n"
               f"<|im_start|>assistant\n" + "\n".join(o.steps) + f"\n#### The final answer is: {o.g}")
        return it, out, True, f"answer {g} before <|im_end|>; the next-turn {o.g} is ignored"
    if k == 8:  # inline sentence marker
        o = other_item(it, same_gold=False)
        out = render(it.steps, 6) + f" The answer is {g}. Question: {o.q} The answer is {o.g}."
        return it, out, True, f"inline 'Question:' sentence after the answer {g} starts a new turn"
    if k == 9:  # no answer of its own, the gold only after the cut
        o = other_item(it, same_gold=True)
        head = render(it.steps[:-1], n) + "\nSo the total is"
        if o is None:
            q, sol = synth_same_gold(g, rng)
            out = head + f"\n\nQuestion: {q}\nAnswer: {sol}\n#### The final answer is: {g}"
        else:
            out = head + "\n\n" + _turn(o, "Question:", "hash")
        return it, out, False, f"own turn breaks off with no answer; {g} appears only in the hallucinated next question"
    if k == 10:  # wrong own answer, gold after the cut
        w = wrong(it, rng)
        o = other_item(it, same_gold=True)
        if o is None:
            q, sol = synth_same_gold(g, rng)
            nxt = f"Q: {q}\nA: {sol}\nThe answer is {g}."
        else:
            nxt = _turn(o, "Q:", "plain")
        out = render(it.steps[:-1], n) + f"\n\nThe answer is {w}.\n\n" + nxt
        return it, out, False, f"own answer is {w}; the {g} belongs to the hallucinated 'Q:' turn"
    if k == 11:  # end-of-text token, then a boxed gold
        out = (render(it.steps[:-1], n) + "\nNow we need to add" + "<|endoftext|>" +
               f"Problem: What is {g} + 0?\nSolution: {g} + 0 = {g}, so the answer is $\\boxed{{{g}}}$.")
        return it, out, False, f"own turn has no answer before <|endoftext|>; the boxed {g} is in a new problem"
    if k == 12:  # human/assistant continuation after a right answer
        out = (own + f"\n\nSo the answer is {g}.\n\nHuman: Can you explain it more simply?\n\n"
               f"Assistant: Sure! It is just {it.inter[0] if it.inter else 1} plus a bit more. The answer is {g + 1}.")
        return it, out, True, f"own answer {g}; the {g + 1} comes after the hallucinated 'Human:' turn"
    if k == 14:  # llama-3 turn tokens; no own answer, the gold after the cut
        q, sol = synth_same_gold(g, rng)
        out = (render(it.steps[:-1], n) + "\nNow we can find the final result by" +
               "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n" + q +
               "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n" + sol + f"\nThe answer is {g}.")
        return it, out, False, f"own turn stops mid-sentence at <|eot_id|>; {g} is in the hallucinated next exchange"
    if k == 15:  # wrong own answer, then a 'Problem:' whose boxed answer is the gold
        w = wrong(it, rng)
        o = other_item(it, same_gold=True)
        if o is None:
            q, sol = synth_same_gold(g, rng)
            nxt = f"Problem: {q}\nSolution: {sol} The answer is $\\boxed{{{g}}}$."
        else:
            nxt = _turn(o, "Problem:", "box")
        out = render(it.steps[:-1], n) + f"\n\n#### The final answer is: {w}\n\n" + nxt
        return it, out, False, f"own answer {w}; the boxed {g} belongs to the hallucinated 'Problem:'"
    if k == 16:  # inline 'Q:' sentence after a wrong answer
        w = wrong(it, rng)
        q, sol = synth_same_gold(g, rng)
        out = render(it.steps[:-1], 6) + f" The answer is {w}. Q: {q} A: {sol} The answer is {g}."
        return it, out, False, f"own answer {w}; the {g} is after the inline hallucinated 'Q:'"
    # gemma-style turn tokens; wrong own answer and corrected only in the next turn
    w = wrong(it, rng)
    out = (render(it.steps[:-1], n) + f"\n\n#### The final answer is: {w}<end_of_turn>\n<start_of_turn>user\n"
           f"That's wrong, try again.<end_of_turn>\n<start_of_turn>model\n{it.steps[-1]}\n#### The final answer is: {g}")
    return it, out, False, f"own answer {w}; the corrected {g} is in a hallucinated later turn"


# ---- heading ---------------------------------------------------------------------------------
TITLES = ["Understand the problem", "Set up the calculation", "Do the math", "Combine the results",
          "Work out the total", "Check the result", "Compute the next value"]


def _headed(it: Item, numbers: bool) -> str:
    parts = []
    for i, s in enumerate(it.steps, 1):
        m = EQ.search(s)
        title = f"{m.group(1).strip()} = {m.group(2)}" if numbers and m else TITLES[(i - 1) % len(TITLES)]
        parts.append(f"#### Step {i}: {title}\n{s}")
    return "\n\n".join(parts)


def t_heading(rng, n):
    k = n % 9
    it = POOL.take(lambda it: len(it.steps) >= 2 and it.g > 2)
    g = it.g
    if k == 0:
        return (it, _headed(it, False) + f"\n\n#### The final answer is: {g}", True,
                f"'#### Step N:' lines are headings; answer line {g}")
    if k == 1:
        return (it, _headed(it, True) + f"\n\n#### {g}", True,
                f"headings carry step numbers and results; the real '#### {g}' comes last")
    if k == 2:
        w = wrong(it, rng)
        return (it, _headed(it, True) + f"\n\n#### The final answer is: {w}", False,
                f"after the headings the answer line says {w}, not {g}")
    if k == 3:
        s = cut_mid_word(_headed(it, False), rng)
        return it, s, False, "cut off mid-word under a heading; no answer statement and the text stops mid-sentence"
    if k == 4:
        parts = [f"#### {i}. {TITLES[(i - 1) % len(TITLES)]}\n{s}" for i, s in enumerate(it.steps, 1)]
        j = len(it.steps) + 1
        out = "\n\n".join(parts) + f"\n\n#### {j}. Final Answer\nThe final answer is {g}."
        return it, out, True, f"'#### {j}. Final Answer' is a numbered heading; the answer under it is {g}"
    if k == 5:
        out = "## Solution\n\n" + render(it.steps, 3) + f"\n\n## Final Answer\n\n**{g}**"
        return it, out, True, f"'## Final Answer' heading followed by a lone bold {g}"
    if k == 6:
        out = _headed(it, False) + f"\n\n#### Answer\n{g}"
        return it, out, True, f"'#### Answer' heading with the lone number {g} under it"
    if k == 7:
        parts = [f"#### {i}. {TITLES[(i - 1) % len(TITLES)]}\n{s}" for i, s in enumerate(it.steps, 1)]
        j = len(it.steps) + 1
        out = "\n\n".join(parts) + f"\n\n#### {j}. Final Answer\nPutting this together, the total is"
        return it, out, False, f"'#### {j}. Final Answer' is a heading and the text under it is cut off; no answer"
    w = wrong(it, rng)
    out = _headed(it, True) + f"\n\n### Final Answer\nThe answer is {w}."
    return it, out, False, f"headed working, then 'The answer is {w}', not {g}"


# ---- phrase followed by an expression, negations ---------------------------------------------
def t_phrase(rng, n):
    k = n % 10
    it = POOL.take(lambda it: it.final_eq() is not None and it.inter_eq() is not None and it.g > 2)
    g = it.g
    lhs, rhs = it.final_eq()
    body = render(it.steps[:-1], n)
    if k == 0:
        return it, body + f"\nThe answer is {lhs} = {rhs}.", True, f"answer phrase then a calculation whose result is {rhs}"
    if k == 1:
        w = wrong(it, rng)
        return (it, body + f"\nThe answer is not {w}, it is {g}.", True,
                f"'the answer is not {w}' is negated; the answer given is {g}")
    if k == 2:
        w = wrong(it, rng)
        return (it, f"At first glance the answer is {w}. But let's work it out properly.\n" + render(it.steps, n) +
                f"\n\nSo the correct answer is $\\boxed{{{g}}}$.", True, f"first guess {w} superseded by \\boxed{{{g}}}")
    if k == 3:
        l2, r2, v = it.inter_eq()
        return (it, f"The answer is {l2} = {r2}.", False, f"the statement's result {r2} is an intermediate, not {g}")
    if k == 4:
        return (it, body + f"\nThe final answer is {g} because {lhs} = {rhs}.", True,
                f"'The final answer is {g}' with its justification")
    if k == 5:
        return it, body + f"\n\nAnswer: {lhs} = {rhs}", True, f"'Answer:' followed by a calculation whose result is {rhs}"
    if k == 6:
        w = wrong(it, rng)
        return it, body + f"\n\nThe answer is {w}, not {g}.", False, f"commits to {w} and explicitly rejects {g}"
    if k == 7:
        return (it, body + f"\n\n#### The final answer is: {lhs} = {rhs}", True,
                f"prompt format with a calculation; its result {rhs} counts")
    if k == 8:
        return (it, body + f"\n\nThe answer is {g} x 2 = {2 * g}.", False,
                f"the statement's calculation ends in {2 * g}, not {g}")
    w = wrong(it, rng)
    return (it, body + f"\n\nThe answer is not {w}. The answer is {g}.", True,
            f"negated '{w}' is not a statement; the answer is {g}")


# ---- correction ------------------------------------------------------------------------------
def t_correction(rng, n):
    k = n % 9
    it = POOL.take(lambda it: it.g > 2 and len(it.steps) >= 2)
    g = it.g
    w = wrong(it, rng)
    if k == 0:
        out = (render(it.steps[:-1], n) + f"\n\n#### The final answer is: {w}\n\nWait, I made a mistake. "
               f"{it.steps[-1]}\n\n#### The final answer is: {g}")
        return it, out, True, f"corrected from {w} to {g}; the correction is the last statement"
    if k == 1:
        out = (render(it.steps, n) + f"\n\n#### The final answer is: {g}\n\nWait, I think I made a mistake. "
               f"Let me recalculate... yes, it should be {w}.\n\n#### The final answer is: {w}")
        return it, out, False, f"right {g} first, then changed to {w}, which is the final answer"
    if k == 2:
        out = (f"The answer is {w}. Hmm, wait, let me recheck.\n" + render(it.steps, n) +
               f"\nSo the answer is {g}." + close(rng))
        return it, out, True, f"first says {w}, rechecks, last statement {g}"
    if k == 3:
        out = (render(it.steps[:-1], n) + f"\n\n$\\boxed{{{w}}}$\n\nActually, I forgot the last step: {it.steps[-1]}\n\n"
               f"$\\boxed{{{g}}}$")
        return it, out, True, f"boxed {w}, then the forgotten step, then boxed {g} last"
    if k == 4:
        out = (render(it.steps, n) + f"\n\n#### The final answer is: {g}\n\nActually, I think I made a mistake. "
               f"The correct answer is {w}.")
        return it, out, False, f"the final 'correct answer is {w}' replaces {g}"
    if k == 5:
        out = f"Answer: {w}\n\nCorrection: " + render(it.steps, 6) + f" So the answer is {g}."
        return it, out, True, f"'Answer: {w}' corrected; last statement {g}"
    if k == 6:
        out = (render(it.steps[:-1], n) + f"\n\nThe answer is {g}.\n\nWait, no. Let me think again. "
               f"Hmm, I believe the answer is {w}.")
        return it, out, False, f"'corrects' {g} to {w}; the last statement is {w}"
    if k == 7:  # slip in the result, fixed, then the prompt format
        out = (render(it.steps, n) + f"\nSo the result is {g + 1}... wait, let me recount. No, it is {g}."
               f"\n\n#### The final answer is: {g}")
        return it, out, True, f"a slip ({g + 1}) fixed before the answer line {g}"
    out = (render(it.steps, n) + f"\n\n\\boxed{{{g}}}\n\nHmm, let me reconsider. Maybe I should not have done the last "
           f"step. Then it would be {w}.\n\n\\boxed{{{w}}}")
    return it, out, False, f"second-guesses {g} and boxes {w} last"


# ---- no answer -------------------------------------------------------------------------------
def t_noanswer(rng, n):
    k = n % 8
    it = POOL.take(lambda it: len(it.steps) >= 2)
    g = it.g
    if k == 0:
        return it, "Let's think step by step.", False, "only 'Let's think step by step.'"
    if k == 1:
        return it, restate(it) + "Let me think about how to solve this", False, "restates the question and stops; no answer"
    if k == 2:
        return (it, "I'm sorry, but I don't have enough information to solve this problem. Could you please provide more details?",
                False, "refusal; no number")
    if k == 3:
        return (it, "Sure! Here is a similar problem for you to practice:", False, "offers a practice problem; no answer")
    if k == 4:
        return (it, render(it.steps[:1], 0) + "\nNext, we need to find", False,
                "one step, then breaks off; never reaches an answer")
    if k == 5:
        return (it, "To solve this problem, we can use the following formula:\n\nTotal = ", False,
                "a formula with no value")
    if k == 6:
        return it, "The answer is N.", False, "the letter N is not a value"
    return it, " \n\n   \n", False, "whitespace only"


# ---- whitespace flood ------------------------------------------------------------------------
def t_flood(rng, n):
    k = n % 10
    it = POOL.take(lambda it: len(it.steps) >= 2 and it.g > 1)
    g = it.g
    size = rng.randint(200, 800)
    if k == 0:
        return (it, render(it.steps, n) + f"\n\n#### The final answer is: {g}" + "\n" * size, True,
                f"answer {g} followed by {size} newlines")
    if k == 1:
        return (it, " " * size + "\n" + render(it.steps, n) + f"\n\nThe answer is {g}.", True,
                f"{size} leading spaces, then the answer {g}")
    if k == 2:
        return (it, render(it.steps, n) + f"\n\n**Answer:** {g}" + " " * size + "\n\nLet me know if you have other questions!",
                True, f"answer {g}; a flood of spaces before the closing line")
    if k == 3:
        s = cut_mid_word(render(it.steps, 0), rng)
        return it, s + " " * size, False, "working stops mid-word, then only spaces; no answer"
    if k == 4:
        return (it, render(it.steps, n) + "\n\n#### The final answer is:" + " " * size, False,
                "answer line without a value, then spaces to the limit")
    if k == 5:
        return (it, render(it.steps, n) + "\n\nThe final answer is $\\boxed{" + "\n" * size, False,
                "unclosed \\boxed{ followed only by newlines")
    if k == 6:
        w = wrong(it, rng)
        return (it, render(it.steps[:-1], n) + f"\n\n#### The final answer is: {w}" + "\n" * size, False,
                f"wrong answer {w} followed by newlines")
    if k == 7:
        return (it, render(it.steps, n) + "\n" * size + f"#### The final answer is: {g}", True,
                f"{size} blank lines between the working and the answer {g}")
    if k == 8:
        q, sol = synth_same_gold(g, rng)
        return (it, render(it.steps[:-1], n) + "\nSo the total is" + "\n" * size +
                f"Question: {q}\nAnswer: {sol}\n#### {g}", False,
                f"no answer in the own turn; {g} only after the hallucinated 'Question:' that follows the flood")
    flood = "".join(rng.choice([" ", "\t", "\n", " \n"]) for _ in range(size))
    return (it, render(it.steps, n) + f"\n\n\\boxed{{{g}}}" + flood, True,
            f"\\boxed{{{g}}} then mixed tabs/spaces/newlines")


# ---- repetition ------------------------------------------------------------------------------
def t_repeat(rng, n):
    k = n % 9
    it = POOL.take(lambda it: it.g >= 10 and len(it.steps) >= 2)
    g = it.g
    r = rng.randint(8, 25)
    if k == 0:
        return (it, render(it.steps, n) + "\n" + f"The answer is {g}.\n" * r, True,
                f"complete answer {g} repeated {r} times")
    if k == 1:
        return (it, render(it.steps, n) + "\n\n" + f"#### The final answer is: {g}\n" * r, True,
                f"prompt-format answer {g} repeated {r} times")
    if k == 2:
        return (it, f"The answer is {g}. " * r + "The answer is", False,
                "repetition ends inside the last answer statement (no value)")
    if k == 3:
        line = it.steps[0].rstrip(".") + "."
        s = render(it.steps[:1], 0) + "\n" + (line + "\n") * r
        s = s + cut_mid_word(line, rng)
        return it, s, False, "loops on the first step and is cut mid-sentence; no answer"
    if k == 4:
        w = wrong(it, rng)
        return (it, render(it.steps[:-1], n) + "\n" + f"#### The final answer is: {w}\n" * r, False,
                f"wrong answer {w} repeated")
    if k == 5:
        return (it, render(it.steps, n) + "\n\n" + f"#### The final answer is: {g}\n" * r +
                f"#### The final answer is: {prefix(g)}", False,
                f"the last repetition is cut mid-number ({prefix(g)}); the last statement counts")
    if k == 6:
        loop = (it.steps[0] + "\n") * rng.randint(3, 6)
        return (it, loop + "\n".join(it.steps[1:]) + f"\n\n#### The final answer is: {g}", True,
                f"a looped first step, then the answer {g}")
    if k == 7:
        return (it, render(it.steps, n) + "\n\n" + f"\\boxed{{{g}}} " * r + "\\boxed{", False,
                "the repeated \\boxed{} ends in an unclosed \\boxed{")
    return (it, render(it.steps, n) + f"\n\nThe answer is {g}. I hope it helps! " * r, True,
            f"answer {g} with a repeated closing line")


PLAN = [  # kind, template, number of rows
    ("right", t_right, 16),
    ("format", t_format, 21),
    ("format", t_format_fallback, 4),
    ("wrong", t_wrong, 60),
    ("hedged", t_hedged, 22),
    ("truncated", t_truncated, 36),
    ("hallucinated_turn", t_halluc, 30),
    ("heading", t_heading, 18),
    ("phrase_expression", t_phrase, 18),
    ("correction", t_correction, 18),
    ("no_answer", t_noanswer, 16),
    ("whitespace_flood", t_flood, 16),
    ("repetition", t_repeat, 14),
]


def build_data():
    rng = random.Random(13)
    for kind, fn, count in PLAN:
        for n in range(count):
            it, out, verdict, reason = fn(rng, n)
            add(kind, it, out, verdict, reason, "data")


# --------------------------------------------------------------------------------------------
# old cases (tests/data/scoring_cases.jsonl, task gsm8k), re-judged under docs/grading.md
# key: sha1(output + "\x00" + gold)[:12]  ->  (kind, verdict, reason)
# --------------------------------------------------------------------------------------------

def case_key(output: str, gold: str) -> str:
    return hashlib.sha1((output + "\x00" + gold).encode("utf-8")).hexdigest()[:12]


OLD_VERDICTS: dict[str, tuple[str, bool, str]] = {
    "9e6fe04b482a": ("right", True, "prompt format '#### The final answer is: 18'"),
    "47d630c6d881": ("format", True, "'$18' in the prompt format: dollar sign allowed"),
    "b59da58f934c": ("format", True, "'18.' - a full stop after the number"),
    "5169fe956347": ("format", True, "'18.00' is 18"),
    "957802bd706b": ("format", True, "'$18 per day': unit text after the number"),
    "99dc05ad3e1f": ("format", True, "'####18' without a space is a #### line starting with 18"),
    "654bfaa6cde6": ("format", True, "'#### 18'"),
    "c1269f573347": ("format", True, "'The final answer is: **18**' (bold)"),
    "13db89374d30": ("format", True, "'The final answer is $\\boxed{18}$'"),
    "6ed99acbd6f2": ("format", True, '\\boxed{18} inside a sentence'),
    "0d5719585fd0": ("format", True, 'no answer phrase; the turn ends with the equation 9x2=18 (fallback)'),
    "5d30641c9923": ("correction", True, "no answer phrase; 'no wait, 18 dollars' corrects 20 and the finished sentence ends with 18"),
    "fa9206319d04": ("format", True, "'**Answer:** 18'"),
    "8b0b7a3a2552": ("format", True, "'70,000' with a thousands comma is 70000"),
    "728d69380c2c": ("format", True, "'1,080 dollars' is 1080"),
    "f2010ca36c6f": ("format", True, "'5,000,000' is 5000000"),
    "d236b57eb936": ("format", True, "'3.50' equals 3.5"),
    "42abdedbb724": ("format", True, "'$0.75' is 0.75"),
    "fdd50297c4ca": ("format", True, 'the simple fraction 1/2 equals 0.5'),
    "0e15d0175138": ("format", True, "'.5' equals 0.5"),
    "1dcb019bebb6": ("format", True, "'25%' is 25 (percent sign allowed)"),
    "6e4f95dc72f1": ("format", True, "'100%' is 100"),
    "195f71527299": ("right", True, 'prompt format with -5'),
    "4a4270346e7f": ("format", True, "Unicode minus '−3' is -3"),
    "784e1a20f224": ("format", True, "'The answer is -12 degrees.'"),
    "b04f971511b0": ("format", True, 'no answer phrase; finished sentence ending in -4 (fallback)'),
    "36e4cb25f629": ("format", True, "'The answer is 540 meters.'"),
    "d9128e309f8c": ("format", True, "'3 bolts': unit after the number"),
    "250eb8b49b38": ("format", True, "'x = 12' after the answer phrase: a human reads the value 12 (policy silent on 'x =')"),
    "c5147e037189": ("hedged", False, 'the statement names two values (6 apples and 2 oranges): hedged rule, not one committed number'),
    "9346719640d3": ("format", True, "'Therefore, the answer is 35.'"),
    "c4ed2694070b": ("format", True, "'Answer: The answer is 8'"),
    "09f5c1e6380f": ("right", True, 'prompt format, 72'),
    "14825e935521": ("format", True, "'12.0' is 12"),
    "a110f40fbd9c": ("format", True, "'$1,234.50' is 1234.5"),
    "f28a4c717ee0": ("heading", True, "'#### Step-by-step derivation:' is a heading; the answer line says 18"),
    "28557f6fcc74": ("format", True, "number word 'eighteen'"),
    "a276fa1bbea6": ("format", True, "rambling working, then 'The final answer is 18.'"),
    "6d71eaa2ac22": ("repetition", False, "the repetition is cut off inside the last 'The answer is' (no value); earlier 18s do not rescue it"),
    "ccf2afc810bf": ("wrong", False, 'no answer statement; the finished text ends with the weekly $126, not the daily 18'),
    "78bb0be9a164": ("repetition", True, "'#### The final answer is: 7' repeated"),
    "b4cae299913c": ("wrong", False, '17 is not 18'),
    "da77d04e83f6": ("wrong", False, '9 is the eggs, not the 18 dollars'),
    "27884d002c16": ("wrong", False, '180 is not 18'),
    "8a5d4ce89610": ("wrong", False, '1.8 is not 18'),
    "3f77a3083f6d": ("wrong", False, "'2 hours and 30 minutes' is not the number 150 the question asks for (value after the phrase is 2)"),
    "4970806b5181": ("wrong", False, '70001 is not 70000'),
    "7c8f2a1b44a4": ("wrong", False, '-18 has the wrong sign'),
    "2e0cf0015a47": ("correction", True, '15 corrected to 16; the last statement 16 is the gold'),
    "03874d86b432": ("correction", False, 'the correction to 16 is the final answer; gold is 15'),
    "6ef43eefece6": ("hedged", False, 'hedges between 10 and 12'),
    "3f1ce68cb85a": ("hallucinated_turn", True, "answer 18; the 3 is after the hallucinated 'Question:' turn"),
    "82ca25656f51": ("hallucinated_turn", True, "answer 24; the inline '#### 3' mid-line belongs to a made-up follow-up and is not a #### answer line"),
    "0391ec1833db": ("repetition", True, "'72 clips' stated twice"),
    "14ea0c4a5969": ("no_answer", False, 'no answer'),
    "1a75912b331f": ("no_answer", False, 'empty output'),
    "5ec5c4a0649b": ("no_answer", False, "only 'Let's think step by step.'"),
    "da28f0aee595": ("no_answer", False, 'answer line with no value'),
    "27ee62a68d4a": ("no_answer", False, 'a plan with no number'),
    "01ddb14fbc77": ("truncated", False, "cut off at '9 * 2 =' before the result"),
    "485e17098895": ("truncated", False, "ends with an empty '#### The final answer is:' (cut off); the earlier $18 does not rescue it"),
    "72e6cae689ec": ("truncated", False, 'cut mid-number: $1 is not 18'),
    "0fce2b648287": ("truncated", False, "cut off at '48+24' before the total"),
    "492c5cb219f3": ("heading", True, 'heading then numbered working ending with the equation 9 * 2 = 18 (fallback)'),
}


OLD_COMMIT = "82b8837a93adfb3f532a66ea22e0041c75804254"  # last commit that has scoring_cases.jsonl


def _old_lines() -> list[str]:
    if OLD.exists():
        return OLD.read_text(encoding="utf-8").splitlines()
    import subprocess  # the file was removed in 1c7fd79; read it from the commit before

    try:
        text = subprocess.run(["git", "-C", str(REPO), "show", f"{OLD_COMMIT}:tests/data/scoring_cases.jsonl"],
                              check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        sys.exit("tests/data/scoring_cases.jsonl not found, neither on disk nor at " + OLD_COMMIT)
    return text.splitlines()


def build_old():
    n = 0
    for line in _old_lines():
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("task") != "gsm8k":
            continue
        key = case_key(row["output"], str(row["gold"]))
        if key not in OLD_VERDICTS:
            sys.exit(f"old case without a re-judged verdict: {key} {row['output'][:60]!r}")
        kind, verdict, reason = OLD_VERDICTS[key]
        add(kind, row["gold"], row["output"], verdict, reason, "old-cases")
        n += 1
    return n


# --------------------------------------------------------------------------------------------
# real model outputs (tests/data/grading/real_outputs.jsonl), each read and judged by hand
# key: sha1(output)[:16]  ->  (verdict, reason)
# --------------------------------------------------------------------------------------------

def real_key(output: str) -> str:
    return hashlib.sha1(output.encode("utf-8")).hexdigest()[:16]


REAL_VERDICTS: dict[str, tuple[bool, str]] = {
    "5cbebf7ea3748db9": (False, 'wrong: answers 560 (misreads 4 times 125 as 480, adds 8); gold 623'),
    "0195d4cd07236767": (False, 'wrong: answers 15000 after runaway multiplication; gold 5'),
    "8803b9d3aa7bf9ee": (False, 'wrong: answers 20 (crayons, not change); gold 10'),
    "22bbf8b430c1ed39": (True, "right: '#### The final answer is: 100' matches gold 100 (one garbled step, correct final value)"),
    "f4129dce98a90367": (False, 'wrong: answers 15 (took twice as +2); gold 21'),
    "d07c63a41e667270": (False, 'wrong: answers 20; gold 90'),
    "08d502f46d0cc624": (False, 'wrong: answers 32; gold 78'),
    "10312637eff5ffcb": (False, "repetition/truncated: loops on 'Joey has ... points' and is cut at '220 - 185 = '; no answer"),
    "4e4bcf13effc5741": (False, 'wrong: answers 100 (the clothes spending); gold 300'),
    "ca73462c41abbe7b": (False, 'wrong: answers 64; gold 36'),
    "37c2aeac78d6eea8": (False, 'repetition: loops listing birds per day and stops mid-list; no answer'),
    "9e1a7a8a407aca7f": (False, 'wrong: answers 1025; gold 3000'),
    "e48a3e5d1272e6d5": (False, 'wrong: answers 20; gold 4'),
    "5005af4b094c931d": (False, 'wrong: answers 6 (divides by 3 people, not 4); gold 5'),
    "2b32d95ce6ef1ded": (False, 'wrong: answers 20; gold 100'),
    "0d8427f7a7e2b262": (False, 'truncated: cut off mid-calculation with no answer statement; gold 14000 never stated'),
    "61c69c688ef675c0": (False, "repetition: runaway 'N girl badges every N years' chain cut at '='; no answer"),
    "7df4088a68a49917": (False, 'wrong: last statement 25 (both #### lines say 25); gold 540'),
    "565bf5974138e6af": (False, 'wrong: answers 48; gold 12'),
    "5ac1dadd792fd502": (False, 'wrong: answers 168; gold 2'),
    "51fcf1f047e9b61d": (False, 'wrong: answers 60; gold 10'),
    "35eeb90290032596": (False, 'wrong: answers 15 (mixes feet and inches); gold 72'),
    "e907ade9b39d4423": (False, 'wrong: answers 120; gold 1200'),
    "c0b36accc3e27f36": (False, 'wrong: answers 10; gold 15'),
    "8d6904af10c0028e": (False, 'wrong: answers 15 (one day of shepherds only); gold 147'),
    "445c097609599cb0": (False, "repetition: steered output loops '25 - 25 = 25' and is cut mid-number; no answer"),
    "5327ec8900f8860d": (False, 'whitespace_flood: steered output is nothing but newlines; no answer'),
    "1957a46de1490ed8": (False, 'repetition: steered output loops an unrelated sentence, no number, cut mid-sentence'),
    "33af2254ad019930": (False, "repetition: steered output loops 'The phone is 5 minutes behind her phone.' and is cut; no answer"),
    "debe00944bbdceaa": (False, "repetition: steered output loops 'The difference in height is 20 feet...' and is cut mid-sentence; no answer"),
    "feadefa59e5d8874": (False, 'repetition: loops an off-topic sentence about 25 years; the last line has no full stop and no answer statement'),
    "6e5868b3cfb3198e": (False, "repetition: loops 'The phone is 250...' and is cut mid-number; no answer"),
    "ca13bb16655e8956": (False, "repetition: loops 'he was going to be late' and is cut mid-sentence; no answer"),
    "c9c1d63a9a4555c1": (False, "repetition: loops '225 - 25 = 225' and is cut mid-sentence; no answer"),
    "7e4b4fbbad3fe5c2": (False, "hallucinated_turn: own answer 115 (gold 623), then a hallucinated 'Question:' turn"),
    "6aa4266c756a046a": (False, "repetition: counts up 'He spent N hours in one week' and is cut mid-sentence; no answer"),
    "2e7f78de10c2098b": (False, "repetition: loops 'The physical therapy cost ...' and is cut mid-sentence; no answer"),
    "db628c855da1abb0": (False, "repetition: loops 'They each got $...' and is cut at '$'; no answer statement"),
    "f4fc91a769f81cc2": (False, "hallucinated_turn: own answer 85 (gold 100), then a hallucinated 'Question:' turn"),
    "38880cfbde1f8565": (False, 'repetition: lists weeks without an answer statement; the finished last line gives 40,000, not 14000'),
    "c3b1b3f16235dd00": (False, "repetition: '#### The final answer is: 1' inside a loop; 1 is not 30 and the loop is cut mid-sentence"),
    "8210ecb2c46746f9": (False, 'repetition: restates the question in a loop and is cut mid-sentence; no answer'),
    "f6fae0eb6d60977e": (False, "repetition: loops 'He had $0 to contribute' and is cut mid-sentence; $0 is wrong anyway (gold 12)"),
    "68b4842d7c7f2604": (False, 'repetition: loops about 19/20/21 balls and is cut mid-sentence; no answer'),
    "9c73c8930fce1e6b": (False, "repetition: steered output is one repeated token ('Yên'); no answer"),
    "a4912dee5f38295c": (False, "repetition: steered output is one repeated token ('Слу'); no answer"),
    "c790594f43a1f3e9": (False, 'truncated: cut mid-sentence after wrong working; no answer'),
    "17f196b81937fdb4": (False, 'truncated: cut mid-sentence; no answer'),
    "3ad6c6d6051b2c98": (False, 'truncated: cut mid-sentence in the set-up; no answer'),
    "190d6b27863c63f5": (False, "truncated: working reaches 540 but the answer line reads '#### 54' (cut mid-number by the token limit); 54 is not 540"),
    "97508e2492e6efc5": (False, "truncated: cut mid-sentence after '15 * 3 = 40 cups'; no answer"),
    "e267c7c140add1fb": (False, "truncated: cut at 'We can do'; no answer"),
    "4fd604124ce28053": (False, 'truncated: cut mid-sentence; no answer'),
    "0e5d271db1831071": (False, "truncated: cut at 'The load time to'; no answer"),
    "159291402c31edd9": (False, "truncated: cut at 'dividing 4 by'; no answer"),
    "ffd95a0c21007267": (False, "truncated: cut at '$12.20 /'; no answer"),
    "48bae7fa2288aa8b": (False, "truncated: cut at 'The second month had 30'; no answer"),
    "92ad1d8b9a8bc6af": (False, "truncated: cut mid-sentence at '16'; no answer"),
    "1d78c874849b6de1": (False, 'wrong: no answer statement; the finished last sentence gives 480, not 540'),
    "ee9e05d3c892a617": (False, "truncated: 'There are 20 chickens in total. So, 20 /' stops mid-calculation; no answer (20 is the chicken count)"),
    "8d55b61bc2bbad83": (False, "truncated: cut at 'She bakes muffins for'; no answer"),
    "87b4962fce877e59": (False, "truncated: cut at 'for her friends'; no answer"),
    "4fbcd0948818e772": (False, "truncated: cut at '1 * 2'; no answer"),
    "acc8c7134f26e124": (False, 'wrong: no answer statement; the last sentence ends with the nonsense 120,00000, not 70000'),
    "cfcd0d05e5ea18ca": (False, "truncated: cut at '150 * 80'; no answer"),
    "f245b0a372000ca4": (False, "truncated: cut at 'he runs 200 times'; no answer"),
    "64d2f513036a5224": (False, "truncated: cut at 'and the'; no answer"),
    "4389b5f9b2d28dd5": (False, "truncated: cut at 'dividing 16 by'; no answer"),
    "0945116639524fc4": (False, "truncated: cut at 'so 2'; no answer"),
    "a4264275ab04d945": (False, 'truncated: cut mid-sentence; no answer'),
    "b395fcd268543c9f": (False, "truncated: cut at 'is'; no answer"),
    "ab5d282789fb1023": (False, "truncated: cut at 'by the speed'; no answer"),
    "4df14d40d524709a": (False, "truncated: cut at '$12.40 /'; no answer"),
    "67bd90d1b89855f8": (False, "truncated: cut at 'is 60' mid-sentence; no answer"),
    "46163ca9d908d160": (False, "truncated: cut at '2 * 80 ='; no answer"),
    "d10d1dcb0f4d88ff": (False, 'truncated: cut mid-sentence; no answer'),
    "054f9f8ba36303f2": (False, "truncated: cut at 'per day is'; no answer"),
    "b256681060154f3a": (False, "truncated: cut at '1 bolt of white'; no answer"),
    "cad96a7de3e8abac": (False, "truncated: cut mid-number at '$160,0'; no answer"),
    "1f559c564ebe5ede": (False, "truncated: cut at '($50,000'; no answer"),
    "a5cab6db71540476": (False, "truncated: cut at 'divide 2'; no answer"),
    "ad444ca53c246f8c": (False, "truncated: cut at 'Toulouse has'; no answer"),
    "e18e27bdd6a9b08b": (False, "truncated: cut at '40% of'; no answer"),
    "7bcf70cc8edc8d5e": (False, "truncated: cut at 'the time it takes to'; no answer"),
}


def build_real():
    if not REAL.exists():
        print(f"note: {REAL.name} not found; no real outputs included", file=sys.stderr)
        return 0
    n, missing, seen = 0, [], set()
    with open(REAL, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row.get("task") != "gsm8k":
                continue
            key = real_key(row["output"])
            if key in seen:
                continue
            seen.add(key)
            if key not in REAL_VERDICTS:
                missing.append(key)
                continue
            verdict, reason = REAL_VERDICTS[key]
            out = {"kind": "real", "output": row["output"], "gold": str(row["gold"]).replace(",", ""),
                   "verdict": verdict, "reason": reason, "source": "real"}
            for extra in ("question", "model", "steering", "example_id"):
                if extra in row:
                    out[extra] = row[extra]
            ROWS.append(out)
            n += 1
    if missing:
        print(f"warning: {len(missing)} real outputs have no verdict yet (e.g. {missing[:3]})", file=sys.stderr)
    return n


# --------------------------------------------------------------------------------------------

def main():
    build_data()
    build_old()
    build_real()
    seen = set()
    with open(OUT, "w", encoding="utf-8") as f:
        for i, row in enumerate(ROWS, 1):
            k = (row["output"], row["gold"])
            assert k not in seen, row
            seen.add(k)
            row = {"id": f"gsm8k-{i:04d}", **row}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    kinds = Counter(r["kind"] for r in ROWS)
    verdicts = Counter(r["verdict"] for r in ROWS)
    sources = Counter(r["source"] for r in ROWS)
    print(f"wrote {len(ROWS)} rows to {OUT}")
    for k, c in sorted(kinds.items()):
        t = sum(1 for r in ROWS if r["kind"] == k and r["verdict"])
        print(f"  {k:18s} {c:4d}  (true {t}, false {c - t})")
    print(f"  verdicts: true {verdicts[True]}, false {verdicts[False]}")
    print(f"  sources: {dict(sources)}")


if __name__ == "__main__":
    main()
