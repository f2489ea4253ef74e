"""Build tests/data/grading/arc.jsonl: the ARC-Challenge grading corpus (issue 13).

Every row is a model answer with the verdict a careful human grader gives it under
docs/grading.md, and a one-line reason. The verdicts are decided by hand (the oracle);
this script never imports lens_steer.

Four sources:
  written   -- answers written by hand for real ARC-Challenge items (LITERAL, NUMERIC below);
  data      -- answers built from templates over real ARC-Challenge items, with a fixed seed;
               the committed label is known by construction, verdict = (label == gold);
  old-cases -- the ARC rows of tests/data/scoring_cases.jsonl, re-judged (OLD_VERDICTS);
  real      -- real model outputs from tests/data/grading/real_outputs.jsonl, each read and
               graded by hand (REAL_VERDICTS, keyed by sha256 of the output text).

Run:  python tests/data/grading/make_arc.py        (standard library only, deterministic)
"""
from __future__ import annotations

import collections
import hashlib
import json
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
ARC_DIR = Path("/work/shared/data/arc_challenge")
OUT = HERE / "arc.jsonl"
OLD_CASES = REPO / "tests" / "data" / "scoring_cases.jsonl"
REAL_OUTPUTS = HERE / "real_outputs.jsonl"
SEED = 13
MAX_CHARS = 1000  # docs/grading.md s.5: longer answers are not graded; keep written rows under it

# --------------------------------------------------------------------------- items


def load_items():
    items = {}
    for split in ("Train", "Dev", "Test"):
        with open(ARC_DIR / f"ARC-Challenge-{split}.jsonl", encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                items[r["id"]] = r
    return items


class Item:
    def __init__(self, r):
        self.id = r["id"]
        self.stem = r["question"]["stem"].strip()
        self.labels = [c["label"] for c in r["question"]["choices"]]
        self.texts = [c["text"].strip() for c in r["question"]["choices"]]
        self.gold = r["answerKey"]

    def q(self):  # the stem, closed off when it is a fill-in-the-blank
        return self.stem if self.stem[-1] in ".?!:" else self.stem + " ..."

    def raw(self, lab):
        return self.texts[self.labels.index(lab)]

    def bare(self, lab):  # option text without a final period
        return self.raw(lab).rstrip(". ")

    def tx(self, lab):  # capitalised, no final period
        t = self.bare(lab)
        return t[:1].upper() + t[1:]

    def lo(self, lab):  # lower-case first letter (not for acronyms / proper nouns)
        t = self.bare(lab)
        first = t.split()[0]
        if first in PROPER or (len(first) > 1 and first[1].isupper()):
            return t
        return t[:1].lower() + t[1:]

    def opts(self):
        return "\n".join(f"({l}) {t}" for l, t in zip(self.labels, self.texts))

    def wrong(self, rng, avoid=()):
        return rng.choice([l for l in self.labels if l != self.gold and l not in avoid])


PROPER = {"Earth", "Earth's", "Sun", "Moon", "Pluto", "Saturn", "Jupiter", "Mars", "Venus",
          "Mercury", "Neptune", "Uranus", "I", "Newton's", "North", "South"}
MARKERS = ("Question", "Q:", "Problem", "Human:", "User:", "Exercise:", "<|", "</s>", "<start_of",
           "<end_of", "answer", "Answer")


def clean(r):
    """Items used by the templates: four A-D options, short distinct texts, no label-like text."""
    ch = r["question"]["choices"]
    t = [c["text"].strip() for c in ch]
    if [c["label"] for c in ch] != list("ABCD"):
        return False
    if any(len(x) > 70 or len(x) < 2 for x in t):
        return False
    if any(re.search(r"\([A-Ea-e1-5]\)|\b[A-E]\b|[0-9]", x) for x in t):
        return False
    low = [x.lower().rstrip(". ") for x in t]
    if len(set(low)) < 4 or any(a != b and a in b for a in low for b in low):
        return False
    stem = r["question"]["stem"]
    if len(stem) > 260 or re.search(r"\([A-Ea-e1-5]\)", stem):
        return False
    if any(m in s for m in MARKERS for s in [stem] + t):
        return False
    return True


# --------------------------------------------------------------------------- hand-written rows
# (item id, kind, committed label or None, verdict, output, reason)
# The script asserts verdict == (committed == gold) for every row.

LITERAL = [
    # MSA_2013_5_33  gold C  A watching birds / B collecting seashells / C eating a picnic lunch / D building a sand castle
    ("MSA_2013_5_33", "right", "C", True,
     "Beach pollution comes from things people leave behind, like paper plates, plastic cups and food wrappers. Watching birds, collecting shells and building sand castles don't leave much trash.\n\nThe answer is (C)",
     "short explanation, then 'The answer is (C)' as asked"),
    ("MSA_2013_5_33", "hedged", None, False,
     "Eating a picnic lunch can leave paper and plastic on the sand, but collecting seashells also disturbs the beach. So the answer is (B) or (C).",
     "hedges between B and C"),
    ("MSA_2013_5_33", "hallucinated_turn", "D", False,
     "The answer is (D).\n\nQuestion: Which of these is a renewable resource?\n(A) coal\n(B) oil\n(C) wind\n(D) natural gas\nThe answer is (C)",
     "own answer is D; the (C) belongs to the hallucinated next question"),
    # AKDE&ED_2012_8_9  gold D  an atom. / a mixture. / an element. / a compound.
    ("AKDE&ED_2012_8_9", "format", "D", True,
     "The answer is a compound.",
     "'the answer is' + the full text of option D"),
    ("AKDE&ED_2012_8_9", "wrong", "B", False,
     "A mixture is when two substances are combined. Since two pure substances combined here, this is a mixture.\n\nThe answer is (B)",
     "commits to B (mixture); the leading 'A' is an article, not a label"),
    ("AKDE&ED_2012_8_9", "correction", "D", True,
     "The answer is (B) a mixture. Wait, actually, a mixture can be separated physically, and this new substance cannot. So it must be a compound. The answer is (D).",
     "corrects B to D; the correction is the last answer statement"),
    # Mercury_SC_402164  gold C  research / interviews / observation / measurement
    ("Mercury_SC_402164", "option_review", "C", True,
     "Let's look at each option:\n(A) research - this is reading what others found, not collecting data. This is incorrect.\n(B) interviews - you can't interview light. This is incorrect.\n(C) observation - the student watches which colors come out of the prism. This is correct.\n(D) measurement - the student is not measuring a number. This is incorrect.",
     "review marks only (C) correct; the others are marked incorrect"),
    ("Mercury_SC_402164", "hedged", None, False,
     "The student could use observation or measurement to collect data, since you can see the colors and also measure the angles. Both C and D seem plausible.",
     "both C and D called plausible, no decision"),
    # Mercury_7230353  gold B  marine / terrestrial / photosynthetic / eukaryotic
    ("Mercury_7230353", "right", "B", True,
     "**Step 1:** The ozone layer blocks harmful ultraviolet (UV) radiation from the Sun.\n**Step 2:** Water also absorbs UV, so organisms in the ocean were already protected.\n**Step 3:** Organisms living on land had no such protection until the ozone layer formed.\n\nThe answer is (B).",
     "Markdown steps, then 'The answer is (B)'; '(UV)' is not a label"),
    ("Mercury_7230353", "truncated", None, False,
     "The ozone layer absorbs ultraviolet radiation. Before it formed, life could only survive in the water, because water blocks UV rays. Once the ozone layer formed, living things could move onto",
     "cut off mid-sentence before any answer"),
    ("Mercury_7230353", "wrong", "A", False,
     "Marine organisms live in the ocean, and the ozone layer protects the ocean from UV rays. So the answer is (A) marine.",
     "commits to A (marine); gold is B"),
    # Mercury_7206553  gold D  sexual reproduction / specialized cells / organ systems / waste production
    ("Mercury_7206553", "format", "D", True,
     "D. waste production",
     "label with option text at the very start"),
    ("Mercury_7206553", "hedged", None, False,
     "The answer is (A) sexual reproduction or (D) waste production, because both kinds of organisms can do these.",
     "hedges between A and D"),
    ("Mercury_7206553", "no_answer", None, False,
     "Unicellular organisms are made of one cell, such as bacteria and amoebas. Multicellular organisms are made of many cells, such as plants and animals. Both types of organisms are living things and carry out life processes.",
     "explains the terms but never picks an option"),
    # Mercury_191625  gold D  shielding from predators / increasing food / eliminating diseases / reducing the herd
    ("Mercury_191625", "correction", "D", True,
     "The answer is (C) by eliminating diseases. Hmm, on second thought, cold doesn't really get rid of diseases. Harsh winters kill weaker deer, so there are fewer deer to share the food in spring. The answer is (D).",
     "second thought corrects C to D; last statement is D"),
    ("Mercury_191625", "option_review", None, False,
     "(A) by shielding them from predators - snow could hide deer, maybe.\n(B) by increasing their food supplies - plants don't grow in winter.\n(C) by eliminating diseases - some germs die in the cold.\n(D) by reducing the herd population - fewer deer means more food for the rest.\n\nEach of these options has some truth to it, and it depends on the situation.",
     "reviews every option but never decides"),
    # VASoL_2008_3_32  gold B  read a story / use a ruler / cut up some leaves / use a magnifying glass
    ("VASoL_2008_3_32", "format", "B", True,
     "To measure how big something is, you need a tool that shows length.\n\nAnswer: B",
     "'Answer: B' after a short explanation"),
    ("VASoL_2008_3_32", "wrong", "D", False,
     "The answer is (D) use a magnifying glass. A magnifying glass helps you see the leaves bigger so you can measure them better! \U0001F50D\U0001F343",
     "commits to D; gold is B"),
    ("VASoL_2008_3_32", "hallucinated_turn", None, False,
     "Measuring needs a tool that shows length in centimeters or inches.\n\nQ: Which tool is used to measure mass?\n(A) ruler\n(B) balance\n(C) thermometer\n(D) stopwatch\nA: The answer is (B)",
     "own turn picks nothing; '(B)' is the answer to the hallucinated next question"),
    # Mercury_SC_407689  gold D  earthquake / landslide / volcano / wind
    ("Mercury_SC_407689", "right", "D", True,
     "Earthquakes, landslides and volcanoes change the land in minutes or days. Wind wears rock away a tiny bit at a time over thousands of years.\n\nThe answer is (D)",
     "explanation, then 'The answer is (D)'"),
    ("Mercury_SC_407689", "truncated", None, False,
     "Let's analyze each option.\n(A) earthquake: happens suddenly and changes the land fast.\n(B) landslide: also happens quickly.\n(C) volcano: can build new land in a few days.\n(D) wind:",
     "cut off mid-review, before any verdict on D or a final answer"),
    # Mercury_7041458  gold A  runoff / evaporation / condensation / transpiration
    ("Mercury_7041458", "format", "A", True,
     "**A**",
     "bold lone label at the very start"),
    ("Mercury_7041458", "option_review", "B", False,
     "(A) runoff - this happens after the ground is wet, so it is not first. Incorrect.\n(B) evaporation - heavy rain means lots of water to evaporate. This is the correct answer.\n(C) condensation - incorrect.\n(D) transpiration - incorrect.",
     "review calls (B) the correct answer; gold is A"),
    ("Mercury_7041458", "no_answer", None, False,
     "A lot of rain in a short time cannot soak into the ground fast enough, so the extra water flows over the surface.",
     "leading 'A' is the article of 'A lot of rain', not a label; no option is picked"),
    ("Mercury_7041458", "right", "A", True,
     "A heavy rainstorm drops more water than the soil can absorb, so the water runs off.\n\nThe answer is (A).",
     "'The answer is (A)' at the end; the leading 'A' is an article"),
    # NCEOGA_2013_8_28  gold B  low pH / unsafe to drink / too hot / a lot of chemicals
    ("NCEOGA_2013_8_28", "format", "B", True,
     "The correct answer is B. It is unsafe to drink.",
     "'The correct answer is B' with option text"),
    ("NCEOGA_2013_8_28", "hedged", None, False,
     "High turbidity means the water is cloudy with particles. This could mean it is unsafe to drink or that it contains a lot of chemicals, so the answer is B or D.",
     "hedges between B and D"),
    # MCAS_1999_4_8  gold C  a cotton shirt / a wooden chair / a plastic spoon / a grass basket
    ("MCAS_1999_4_8", "format", "C", True,
     "(C) a plastic spoon",
     "parenthesised label with option text at the very start"),
    ("MCAS_1999_4_8", "wrong", "B", False,
     "The answer is a wooden chair.",
     "full text of option B; gold is C"),
    ("MCAS_1999_4_8", "correction", "A", False,
     "The answer is (C). Hmm, wait. Cotton, wood and grass all grow in nature, and plastic is made from oil... oil comes from nature too. So the answer is (A).",
     "changes its answer from C to A; the last statement (A) counts"),
    # ACTAAP_2015_7_9  gold D  closest to Sun / longest day / most moons / farthest from Sun
    ("ACTAAP_2015_7_9", "right", "D", True,
     "# Answer\n\nA planet's year is the time it takes to go around the Sun once. The farther a planet is from the Sun, the longer its path and the slower it moves.\n\nThe answer is (D).",
     "heading and explanation, then 'The answer is (D)'"),
    ("ACTAAP_2015_7_9", "hallucinated_turn", "D", True,
     "The answer is (D).<|im_end|>\n<|im_start|>user\nWhich planet is closest to the Sun?\n(A) Mercury\n(B) Venus\n(C) Earth\n(D) Mars<|im_end|>\n<|im_start|>assistant\nThe answer is (A).",
     "own answer D before <|im_end|>; the (A) after the chat tokens is ignored"),
    ("ACTAAP_2015_7_9", "truncated", "D", True,
     "The answer is (D). The planet farthest from the Sun has the longest orbit, so it takes the most time to travel around the Sun. For example, Neptune takes about 165 Earth years to",
     "complete statement D; the cut falls in the explanation, not in the answer"),
    # Mercury_SC_401157  gold C  keeps wire cool / heat moves freely / good electrical insulator / magnetic
    ("Mercury_SC_401157", "format", "C", True,
     "I choose C. Plastic does not let electricity pass through it, so it keeps the current inside the wire.",
     "'I choose C'"),
    ("Mercury_SC_401157", "no_answer", None, False,
     "Plastic is used on wires for safety. Electricity is dangerous and can cause shocks or fires. Always be careful around electrical wires and never touch a wire that is damaged!\n\nLet me know if you have other questions!",
     "safety advice, no option chosen"),
    # Mercury_SC_400012  gold D  large / slippery / run on ice / float in water
    ("Mercury_SC_400012", "right", "D", True,
     "\U0001F43B\u200d\u2744\ufe0f Great question!\n\nFat is less dense than water, so a thick layer of fat helps a polar bear stay afloat while it swims between ice floes looking for seals.\n\nThe answer is (D). \U0001F30A",
     "emoji and chat, then 'The answer is (D)'"),
    ("Mercury_SC_400012", "hedged", None, False,
     "Fat keeps the polar bear warm and helps it float. The answer is either (C) or (D).",
     "hedges: 'either (C) or (D)'"),
    ("Mercury_SC_400012", "correction", "D", True,
     "The answer is (A). Wait, actually it is (D).",
     "'Wait, actually it is (D)' corrects the answer; a human reads D as the final answer"),
    # Mercury_SC_405303  gold C  fog / rain / snow / clouds
    ("Mercury_SC_405303", "format", "C", True,
     "The answer is snow.",
     "full text of option C"),
    ("Mercury_SC_405303", "format", "C", True,
     "$\\boxed{C}$",
     "\\boxed{C}"),
    ("Mercury_SC_405303", "hallucinated_turn", "B", False,
     "Answer: B\n\nQuestion: What is the freezing point of water in degrees Celsius?\nAnswer: 0\n\nQuestion: Which form of water is most likely to appear when the temperature is below freezing?\nAnswer: C",
     "own answer is B; the C comes after the hallucinated 'Question:' turns"),
    # Mercury_7214498  gold C  Pluto / Saturn / the Sun / the Moon
    ("Mercury_7214498", "format", "C", True,
     "Saturn has rings, but the asteroid belt goes around the Sun between Mars and Jupiter. So the answer is not (B).\n\nThe correct answer is (C) the Sun.",
     "'the answer is not (B)' is negated; 'The correct answer is (C)' counts"),
    ("Mercury_7214498", "wrong", "B", False,
     "Saturn is orbited by rings made of rocks and ice, which are like a belt of asteroids.\n\nThe answer is (B) Saturn.",
     "commits to B (Saturn); gold is C"),
    ("Mercury_7214498", "option_review", "C", True,
     "Let me review the options:\n\n- (A) Pluto \u274c \u2014 Pluto is a dwarf planet and has no asteroid belt.\n- (B) Saturn \u274c \u2014 Saturn has rings, not an asteroid belt.\n- (C) the Sun \u2705 \u2014 the asteroid belt orbits the Sun between Mars and Jupiter.\n- (D) the Moon \u274c \u2014 the Moon orbits Earth.\n\n**Answer: (C)**",
     "emoji review ticks (C), then '**Answer: (C)**'"),
    # WASL_2005_8_11  gold D  Eye color / Hair color / Height / Verbal accent
    ("WASL_2005_8_11", "format", "D", True,
     "D is the best choice. You learn an accent from the people around you; it is not inherited like eye color or hair color.",
     "'D is the best choice'"),
    ("WASL_2005_8_11", "hedged", None, False,
     "Acquired characteristics are learned, not inherited. Height can change with diet and verbal accent is learned, so both C and D seem plausible.",
     "both C and D called plausible, no decision"),
    # CSZ30169  gold A  moons, planets, comets / moons, comets, stars / planets, stars, comets / planets, stars, moons
    ("CSZ30169", "right", "A", True,
     "Stars make their own light. Moons, planets and comets do not; they only reflect sunlight. So the set without stars is the answer.\n\nThe answer is (A)",
     "'The answer is (A)' after reasoning"),
    ("CSZ30169", "wrong", "B", False,
     "The answer is (B) moons, comets, and stars",
     "commits to B; gold is A"),
    ("CSZ30169", "correction", "A", True,
     "The answer is (D). Wait, stars produce their own light, so any set with stars is wrong. Actually, the answer is (A).",
     "corrects D to A; last statement is A"),
    # Mercury_7011130  gold A  endo/absorbed, endo/released, exo/absorbed, exo/released
    ("Mercury_7011130", "option_review", "A", True,
     "(A) Endothermic because energy is absorbed. The beaker got so cold the water froze, so the reaction took in heat. This is correct.\n(B) Endothermic because energy is released. Endothermic reactions do not release energy, so this is incorrect.\n(C) Exothermic because energy is absorbed. This is incorrect.\n(D) Exothermic because energy is released. This would make the beaker warm, so it is incorrect.\n\nSo the answer is (A).",
     "review marks (A) correct and ends 'So the answer is (A)'"),
    ("Mercury_7011130", "correction", "D", False,
     "The answer is (A) Endothermic because energy is absorbed.\n\nHmm, but the water froze, which means it released heat. So actually the answer is (D).",
     "switches from A to D; the last statement (D) counts"),
    # MEA_2013_8_15  gold A  the floor / gravity / air friction / the person
    ("MEA_2013_8_15", "wrong", "B", False,
     "Gravity pulls the ball down and then it bounces back up.\nThe answer is (B)",
     "commits to B (gravity); gold is A"),
    ("MEA_2013_8_15", "format", "A", True,
     "A. the floor\n\nWhen the ball pushes down on the floor, the floor pushes back up on the ball (Newton's third law).",
     "'A. the floor' at the very start, explanation after"),
    ("MEA_2013_8_15", "hallucinated_turn", "A", True,
     "The answer is (A).\n\nHuman: Thanks! Can you explain Newton's third law?\n\nAssistant: Sure! For every action there is an equal and opposite reaction. The answer is (B).",
     "own answer A; the (B) is after the hallucinated 'Human:' turn"),
    # Mercury_LBS10252  gold C  g,kg,cg / dL,L,mL / ft,yd,mi / N,J,W
    ("Mercury_LBS10252", "format", "C", True,
     "\\boxed{C}",
     "\\boxed{C} without dollar signs"),
    ("Mercury_LBS10252", "no_answer", None, False,
     "All of the following contain metric units of measurement except:\nA. g, kg, cg\nB. dL, L, mL\nC. ft, yd, mi\nD. N, J, W",
     "only restates the question and its options; picks none"),
    # Mercury_SC_405341  gold A  moisture on mirror / sweat / ice melting / rivers drying
    ("Mercury_SC_405341", "truncated", None, False,
     "When water vapor cools it turns into liquid water. This is called condensation. Let's look at the choices:\n(A) moisture forming on a mirror when you breathe on it - your breath has water vapor that cools on the mirror.\n(B) sweat forming on your body when you exercise - sweat comes from",
     "cut off mid-review; no option is called correct and no answer is stated"),
    ("Mercury_SC_405341", "right", "A", True,
     "The answer is (A) moisture forming on a mirror when you breathe on it.",
     "'The answer is (A)' with option text"),
    # Mercury_7085225  gold B  heating / burying / eroding / weathering
    ("Mercury_7085225", "format", "B", True,
     "Answer: (B) burying",
     "'Answer: (B)' with option text"),
    ("Mercury_7085225", "wrong", "A", False,
     "After the sediment settles, it is heated until it becomes rock. The answer is (A).",
     "commits to A (heating); gold is B"),
    ("Mercury_7085225", "hedged", None, False,
     "The next step is burying or heating, so the answer is (A) or (B).",
     "hedges between A and B"),
    # Mercury_192220  gold D  oxygen / carbon dioxide / iron sulfide / glucose
    ("Mercury_192220", "right", "D", True,
     "During photosynthesis, plants use sunlight, water and carbon dioxide (CO2) to make glucose, a sugar that stores energy. Oxygen is released as a by-product.\n\nThe answer is (D)",
     "'The answer is (D)' after explanation; '(CO2)' is not a label"),
    ("Mercury_192220", "correction", "D", True,
     "The answer is (A) oxygen. Wait, oxygen is the waste product, not the food. The answer is (D) glucose.",
     "corrects A to D; last statement is D"),
    ("Mercury_192220", "hallucinated_turn", "A", False,
     "The answer is (A).\n\nQuestion 2: During photosynthesis, plants convert sunlight into what substance to be used for energy?\nThe answer is (D).",
     "own answer is A; the (D) is after the hallucinated 'Question 2:' turn"),
    # Mercury_7219643  gold D  nesting / feeding / reproduction / camouflage
    ("Mercury_7219643", "format", "D", True,
     "The correct answer is camouflage.",
     "'the correct answer is' + full text of option D"),
    ("Mercury_7219643", "hedged", None, False,
     "The grey owl blends in with dark bark, which helps it hide while feeding and nesting. The answer is B or D.",
     "hedges between B and D"),
    # Mercury_7270165  gold C
    ("Mercury_7270165", "option_review", "C", True,
     "(A) The oceanic crust is thicker than the continental crust. Incorrect, oceanic crust is thinner.\n(B) The continental crust is thicker than oceanic crust. True, but thickness is not why it sinks.\n(C) The oceanic crust is denser than the continental crust. Basalt is denser than granite, so the oceanic plate sinks. This is the correct answer.\n(D) The continental crust is denser than the oceanic crust. Incorrect.",
     "review names (C) as the correct answer; (B) is only called a true fact"),
    ("Mercury_7270165", "wrong", "A", False,
     "The answer is (A). Thicker crust is heavier so it sinks under the thinner crust.",
     "commits to A; gold is C"),
    # VASoL_2009_3_10  gold D  Chicken / Puppy / Lizard / Horse
    ("VASoL_2009_3_10", "format", "D", True,
     "Horse",
     "the whole answer is option D's text; a human reads it as D"),
    ("VASoL_2009_3_10", "truncated", None, False,
     "A horse is much bigger than a chicken, a puppy or a lizard. A horse can weigh more than 500 kilograms. The answer is (",
     "cut off inside the final 'The answer is ('"),
    # Mercury_408090  gold D  mech,chem,elec / elec,chem,mech / elec,mech,chem / chem,elec,mech
    ("Mercury_408090", "right", "D", True,
     "The battery stores chemical energy. The chemical energy becomes electrical energy in the wires, and the motor turns the electrical energy into mechanical energy (motion).\n\nThe answer is (D)",
     "'The answer is (D)' after explanation"),
    ("Mercury_408090", "hedged", None, False,
     "The answer is (B) or (D).",
     "hedges between B and D"),
    ("Mercury_408090", "correction", "B", False,
     "The answer is (D). Hmm, no \u2014 the train is turned on with electricity first, so the answer is (B).",
     "changes D to B; last statement (B) counts"),
    # Mercury_SC_402985  gold B  double pan balance / graduated cylinder / centimeter ruler / thermometer
    ("Mercury_SC_402985", "format", "B", True,
     "The answer is graduated cylinder.",
     "'the answer is' + full text of option B"),
    ("Mercury_SC_402985", "wrong", "C", False,
     "Answer: C",
     "'Answer: C'; gold is B"),
    ("Mercury_SC_402985", "no_answer", None, False,
     "I'm sorry, but I can't see the rain gauge you are talking about. Could you provide more details?",
     "declines to answer"),
    # Mercury_7186778  gold A  reflects most sunlight / hotter / larger / closest to Sun
    ("Mercury_7186778", "truncated", None, False,
     "Venus is covered in thick clouds that reflect most of the sunlight that hits them, and it is the closest planet to Earth.\n\n**Answer:**",
     "ends on '**Answer:**' with no label"),
    ("Mercury_7186778", "right", "A", True,
     "The answer is (A)\n\nLet me know if you have other questions!",
     "'The answer is (A)' with a trailing pleasantry"),
    ("Mercury_7186778", "hedged", None, False,
     "Venus is the closest planet to the Sun and it also reflects a lot of sunlight. So the answer is (A) or (D).",
     "hedges between A and D"),
    # MCAS_1999_4_26  gold C
    ("MCAS_1999_4_26", "format", "C", True,
     "C) ice turning into water.",
     "'C)' label with option text at the very start"),
    ("MCAS_1999_4_26", "wrong", "A", False,
     "The answer is (A) steam turning into water.",
     "commits to A; gold is C"),
    ("MCAS_1999_4_26", "hallucinated_turn", "C", True,
     "Ice is a solid and water is a liquid, so ice turning into water is melting.\nThe answer is (C).\nUser: What about water turning into steam?\nAssistant: That is a liquid turning into a gas. The answer is (B).",
     "own answer C; the (B) is after the hallucinated 'User:' turn"),
    # Mercury_SC_409139  gold C  colorful / clean water / release oxygen / reproduce quickly
    ("Mercury_SC_409139", "correction", "C", True,
     "The answer is (B). Wait, actually, the answer is (C).",
     "corrects B to C; last statement is C"),
    ("Mercury_SC_409139", "wrong", "B", False,
     "Plankton are eaten by many animals and they clean the water by filtering it.\n\nThe answer is (B).",
     "commits to B; gold is C"),
    # Mercury_7142520  gold C  skeletal / digestive / endocrine / reproductive
    ("Mercury_7142520", "option_review", None, False,
     "Let's go through the options.\n(A) skeletal system - supports the body.\n(B) digestive system - breaks down food, which gives energy and heat.\n(C) endocrine system - makes hormones.\n(D) reproductive system - makes babies.\n\nThe body temperature is controlled by many systems working together.",
     "describes each option, never picks one"),
    ("Mercury_7142520", "right", "C", True,
     "The endocrine system releases hormones that control how fast the body burns energy, which keeps body temperature near 98.6\u00b0F.\n\nThe answer is (C).",
     "'The answer is (C)' after explanation"),
    # Mercury_SC_401587  gold A  growth / dormancy / hibernation / metamorphosis
    ("Mercury_SC_401587", "format", "A", True,
     "A",
     "lone label A is the whole answer"),
    ("Mercury_SC_401587", "wrong", "D", False,
     "Frogs go through metamorphosis from tadpole to frog, and trees also change shape as they grow. The answer is (D) metamorphosis.",
     "commits to D; gold is A"),
    ("Mercury_SC_401587", "hedged", None, False,
     "Both trees and frogs grow, and both can be dormant in winter. The answer is (A) or (B).",
     "hedges between A and B"),
    # Mercury_7102270  gold D  satellite / seismic / volcanic / hurricane
    ("Mercury_7102270", "truncated", "D", True,
     "The answer is (D) hurricane. Weather maps show storms, fronts, and pressure systems, and a hurricane is a very large storm that",
     "complete statement D; the cut falls in the explanation"),
    ("Mercury_7102270", "wrong", "A", False,
     "The answer is (A) satellite.",
     "commits to A; gold is D"),
    # Mercury_7123358  gold A  mass of the Sun / size of the Moon / other planets / distance between planets
    ("Mercury_7123358", "correction", "A", True,
     "**Answer: C**\n\nWait, I made a mistake. The other planets are too far away to control Earth's path. The Sun has most of the mass in the solar system, and its gravity holds Earth in orbit.\n\n**Answer: A**",
     "bold answer corrected from C to A; last statement is A"),
    ("Mercury_7123358", "hallucinated_turn", "A", True,
     "The answer is (A).\n<|user|>\nWhat keeps the Moon in orbit around Earth?\n<|assistant|>\nThe answer is (C).",
     "own answer A; the (C) is after the <|user|> token"),
    # ACTAAP_2013_5_17  gold A  hammer / rust / heating / vinegar
    ("ACTAAP_2013_5_17", "format", "A", True,
     "A. breaking an object into smaller pieces by using a hammer",
     "'A.' with option text at the very start"),
    ("ACTAAP_2013_5_17", "format", "A", True,
     "The answer is breaking an object into smaller pieces by using a hammer.",
     "'the answer is' + full text of option A"),
    ("ACTAAP_2013_5_17", "wrong", "B", False,
     "Rusting changes how the chain looks, so it is a physical change. The answer is (B).",
     "commits to B; gold is A"),
    # Mercury_7131758  gold A  skeletal / immune / endocrine / reproductive
    ("Mercury_7131758", "option_review", "B", False,
     "(A) skeletal system - bones support the body. Not related to blood, so it is incorrect.\n(B) immune system - white blood cells fight germs. This is correct.\n(C) endocrine system - incorrect.\n(D) reproductive system - incorrect.\n\nSo the answer is (B).",
     "review and conclusion pick B; gold is A"),
    ("Mercury_7131758", "right", "A", True,
     "Red blood cells are made in the bone marrow, which is inside the bones. So Michael should also research the skeletal system.\n\nThe answer is (A).",
     "'The answer is (A)' after explanation"),
    # MCAS_2002_5_6  gold D
    ("MCAS_2002_5_6", "format", "D", True,
     "I select D. Hovering and flying fast do not help a bird keep its eggs warm; sitting on the nest does.",
     "'I select D'"),
    ("MCAS_2002_5_6", "wrong", "C", False,
     "The answer is (C).",
     "commits to C; gold is D"),
    # Mercury_7090773  gold D
    ("Mercury_7090773", "option_review", None, False,
     "Option (A) is not related to carbon dioxide. Option (B) is not affected. Option (C) is not correct.",
     "eliminates A, B and C but never states an answer"),
    # Mercury_7027720 gold B  holes / weights / smaller shape / copper
    ("Mercury_7027720", "hedged", None, False,
     "Ocean plates are denser, so the student could attach small weights or use copper instead. **Answer:** B/D",
     "'B/D' names two options"),
    # Mercury_7215740  gold B
    ("Mercury_7215740", "truncated", None, False,
     "The answer is (B). The answer is (B). The answer is (B). The answer is",
     "repetition loop cut inside the last 'The answer is' (s.3: an earlier complete statement does not rescue it)"),
    ("Mercury_7215740", "truncated", "B", True,
     "The answer is (B",
     "the label B is stated; only the closing parenthesis is cut (s.3 cut-off needs a statement with no value)"),
    # Mercury_7263148 gold A  endocrine / lymphatic / excretory / integumentary
    ("Mercury_7263148", "format", "A", True,
     "## Answer\nA",
     "an 'Answer' heading followed by the lone label A; a human reads A as the answer"),
    ("Mercury_7263148", "hallucinated_turn", "A", True,
     "Question: Inside cells, special molecules carry messages from the membrane to the nucleus. Which body system uses a similar process?\nAnswer: The answer is (A).",
     "'Question:' at the very start restates the question (not a cut); answer A"),
    # Mercury_7099768 gold D
    ("Mercury_7099768", "hallucinated_turn", "D", True,
     "Let's think about the question: where does the energy of the ball go? Some of it becomes heat and sound when the ball hits the floor.\n\nThe answer is (D).",
     "lower-case 'the question:' inside prose is not a new turn; answer D"),
    # MEA_2010_8_7-v1 gold B
    ("MEA_2010_8_7-v1", "whitespace_flood", "B", True,
     "\n" * 450 + "The answer is (B)",
     "450 newlines before 'The answer is (B)'; the answer is in the turn"),
    ("MEA_2010_8_7-v1", "correction", "B", True,
     "My first thought was (A), but that is wrong: trees do not move. They use sunlight to make sugar. The answer is (B).",
     "first thought A is rejected; 'The answer is (B)' is the only statement"),
    # Mercury_7219345 gold B
    ("Mercury_7219345", "whitespace_flood", None, False,
     " " * 350 + "\n" * 350,
     "only whitespace; no answer"),
    # Mercury_7230388 gold D
    ("Mercury_7230388", "whitespace_flood", "D", True,
     "The answer is (D)." + " " * 650,
     "'The answer is (D).' followed by 650 spaces"),
    # Mercury_7219083 gold D
    ("Mercury_7219083", "whitespace_flood", None, False,
     "Radioactive isotopes decay at a steady rate, so they work like a clock.\n\nThe answer is (" + " " * 600,
     "cut off inside 'The answer is (' followed only by spaces"),
    # MCAS_2006_8_12 gold D
    ("MCAS_2006_8_12", "whitespace_flood", "B", False,
     "The answer is (B)" + "\n" * 600,
     "commits to B, then a newline flood; gold is D"),
    # Mercury_7159530 gold D
    ("Mercury_7159530", "whitespace_flood", "D", True,
     "\t" * 300 + "**D**",
     "leading tabs, then the bold lone label D; whitespace is not content"),
    # Mercury_7043015 gold C
    ("Mercury_7043015", "whitespace_flood", "C", True,
     "The answer is (A)." + " " * 500 + "The answer is (C).",
     "two statements split by a flood; the last statement (C) counts (s.2)"),
    # Mercury_407125 gold C
    ("Mercury_407125", "whitespace_flood", "C", True,
     "The answer is (C)." + "\n" * 300 + "\nQuestion: Which of these is a chemical change?\n(A) melting ice\n(B) burning wood\nThe answer is (B)",
     "own answer C; the (B) after the flood belongs to a hallucinated 'Question:' turn"),
    # Mercury_7230073 gold B
    ("Mercury_7230073", "whitespace_flood", None, False,
     "Let's think step by step." + " " * 700,
     "one sentence then a space flood; no answer"),
    # Mercury_SC_401587 already used; Mercury_7193935 gold B
    ("Mercury_7193935", "whitespace_flood", "B", True,
     "Answer: B" + "\n \n" * 200,
     "'Answer: B' followed by 200 blank-ish lines"),
    ("Mercury_7193935", "no_answer", None, False,
     "\U0001F52D\U0001F52C\u2728\U0001F60A",
     "only emoji; no answer"),
    # Mercury_7131828 gold C
    ("Mercury_7131828", "whitespace_flood", None, False,
     "Mosquitoes carry parasites that make people sick, so both are living things affecting each other." + " " * 400 + "The answer is",
     "ends on 'The answer is' with no label after the flood"),
    # Mercury_7282608 gold C
    ("Mercury_7282608", "no_answer", None, False,
     "Greywater is wastewater from sinks and tubs. It can be reused for many things around the house, which saves water and helps the environment! \U0001F4A7\U0001F331",
     "talks about greywater, picks no option"),
    # Mercury_7206378 gold B
    ("Mercury_7206378", "no_answer", None, False,
     "A. record the numbers of leaves in a data table\nB. photograph each leaf type using a camera\nC. record the sizes of different leaves in a notebook\nD. calculate the percentages of all leaf types using a calculator",
     "only lists all four options; picks none"),
    # MDSA_2007_8_16 gold A
    ("MDSA_2007_8_16", "no_answer", None, False,
     "A scientist must always be honest and careful when doing experiments, and should follow the scientific method step by step.",
     "leading 'A' is an article; no option is picked"),
    ("MDSA_2007_8_16", "hedged", None, False,
     "Scientists analyze all results and use safety precautions. The answer is (A) and (B).",
     "names two options A and B"),
    # Mercury_SC_406725 gold A
    ("Mercury_SC_406725", "correction", "A", True,
     "Answer: D\n\nCorrection: the answer is A. The student should check the bread each day to see when mold appears.",
     "'Correction: the answer is A' replaces D"),
    # ACTAAP_2015_7_9 / Mercury_7186778 done; Mercury_SC_409171-like: Mercury_7043015 done.
]

# Items with digit labels (1-4, or 1-3) and items with 3 or 5 options.
NUMERIC = [
    # NYSEDREGENTS_2004_8_31  gold 2  1 breaks / 2 bubbles with acid / 3 scratched / 4 reflects light
    ("NYSEDREGENTS_2004_8_31", "numeric_labels", "2", True,
     "The answer is (2)",
     "digit label 2 as the prompt asks"),
    ("NYSEDREGENTS_2004_8_31", "numeric_labels", "2", True,
     "A chemical property shows how a substance reacts with other substances. Bubbling with acid is a chemical reaction.\n\nThe answer is (B)",
     "letter B maps to the second option, label 2; the leading 'A' is an article"),
    # NYSEDREGENTS_2006_8_6  gold 4
    ("NYSEDREGENTS_2006_8_6", "numeric_labels", "4", True,
     "The answer is 4",
     "bare digit 4 is a label here (labels are digits)"),
    ("NYSEDREGENTS_2006_8_6", "numeric_labels", "1", False,
     "Global warming changes the weather, so forecasts are different now.\nThe answer is (1)",
     "commits to 1 (global warming); gold is 4"),
    ("NYSEDREGENTS_2006_8_6", "numeric_labels", "4", True,
     "The answer is use of images from space.",
     "full text of option 4"),
    # NYSEDREGENTS_2005_8_44  gold 1
    ("NYSEDREGENTS_2005_8_44", "numeric_labels", "1", True,
     "1",
     "lone digit label 1"),
    ("NYSEDREGENTS_2005_8_44", "numeric_labels", "3", False,
     "The answer is (3) habitat",
     "commits to 3; gold is 1"),
    ("NYSEDREGENTS_2005_8_44", "numeric_labels", "1", True,
     "A",
     "lone letter A maps to the first option, label 1"),
    # NYSEDREGENTS_2011_8_43  gold 3 (10 N)
    ("NYSEDREGENTS_2011_8_43", "numeric_labels", "3", True,
     "The tree does not move, so it pushes back on the student with the same force, 10 N.\nThe answer is (3)",
     "commits to 3; '10 N' in the reasoning is the option text, not a label"),
    ("NYSEDREGENTS_2011_8_43", "numeric_labels", "3", True,
     "The answer is 10 N.",
     "full text of option 3 ('10 N')"),
    ("NYSEDREGENTS_2011_8_43", "numeric_labels", "2", False,
     "The answer is (2) 5 N",
     "commits to 2; gold is 3"),
    ("NYSEDREGENTS_2011_8_43", "numeric_labels", "3", True,
     "The answer is (C)",
     "letter C maps to the third option, label 3"),
    # NYSEDREGENTS_2007_8_31  gold 1
    ("NYSEDREGENTS_2007_8_31", "numeric_labels", "1", True,
     "Heat energy is absorbed when a liquid turns into a gas (evaporation).\n\nAnswer: 1",
     "'Answer: 1'"),
    ("NYSEDREGENTS_2007_8_31", "numeric_labels", "4", False,
     "Answer: 4",
     "'Answer: 4'; gold is 1"),
    # NYSEDREGENTS_2004_8_3  gold 4
    ("NYSEDREGENTS_2004_8_3", "numeric_labels", "4", True,
     "(4) transport materials",
     "parenthesised digit label with option text at the start"),
    ("NYSEDREGENTS_2004_8_3", "numeric_labels", None, False,
     "The answer is (2) or (4).",
     "hedges between 2 and 4"),
    # NYSEDREGENTS_2008_8_5  gold 2 (47)  1 23 / 2 47 / 3 94 / 4 188
    ("NYSEDREGENTS_2008_8_5", "numeric_labels", "2", True,
     "Sex cells have half the chromosomes of body cells. Half of 94 is 47.\n\nThe answer is 47.",
     "47 is not a label (labels are 1-4) but the full text of option 2"),
    ("NYSEDREGENTS_2008_8_5", "numeric_labels", "3", False,
     "94 / 2 = 47\nThe answer is (3)",
     "commits to label 3 (94) although it computed 47; gold is 2"),
    ("NYSEDREGENTS_2008_8_5", "numeric_labels", "3", False,
     "The answer is 94.",
     "full text of option 3; gold is 2"),
    # NYSEDREGENTS_2012_8_42  labels 1-3, gold 2
    ("NYSEDREGENTS_2012_8_42", "numeric_labels", "2", True,
     "The answer is (2) increase.",
     "commits to 2 on a three-option item"),
    ("NYSEDREGENTS_2012_8_42", "numeric_labels", "D", False,
     "The answer is (D).",
     "D would be a fourth option; this item has only three"),
    ("NYSEDREGENTS_2012_8_42", "numeric_labels", "2", True,
     "B",
     "lone letter B maps to the second option, label 2"),
    # NYSEDREGENTS_2008_8_11  gold 4
    ("NYSEDREGENTS_2008_8_11", "numeric_labels", "4", True,
     "The answer is (4).\n\nQuestion: What is the main source of energy for most food chains?\n(1) the Sun\n(2) water\n(3) soil\n(4) animals\nThe answer is (1)",
     "own answer 4; the (1) belongs to the hallucinated next question"),
    ("NYSEDREGENTS_2008_8_11", "numeric_labels", None, False,
     "Fungi cannot make their own food, so they get nutrients by breaking down",
     "cut off mid-sentence before any answer"),
    # NYSEDREGENTS_2015_8_29  gold 3
    ("NYSEDREGENTS_2015_8_29", "numeric_labels", "3", True,
     "The answer is (4). Wait, a nail rusting is a chemical change. Ice cream melting only changes its state, so the answer is (3).",
     "corrects 4 to 3; last statement is 3"),
    ("NYSEDREGENTS_2015_8_29", "numeric_labels", "3", True,
     "The answer is (C) ice cream melting",
     "letter C with option 3's text"),
    # NYSEDREGENTS_2013_8_10  gold 2
    ("NYSEDREGENTS_2013_8_10", "numeric_labels", "2", True,
     "**2**",
     "bold lone digit label 2"),
    ("NYSEDREGENTS_2013_8_10", "numeric_labels", "4", False,
     "The answer is (4) endocrine",
     "commits to 4; gold is 2"),
    # NYSEDREGENTS_2009_8_29  gold 4
    ("NYSEDREGENTS_2009_8_29", "numeric_labels", "4", True,
     "(1) humans - they take many years to have children, so this is incorrect.\n(2) fish - incorrect.\n(3) birds - incorrect.\n(4) bacteria - they reproduce every 20 minutes, so this is correct.",
     "digit-label review marks only (4) correct"),
    # NYSEDREGENTS_2008_8_32  gold 1
    ("NYSEDREGENTS_2008_8_32", "numeric_labels", "1", True,
     "$\\boxed{1}$",
     "\\boxed{1} with digit labels"),
    ("NYSEDREGENTS_2008_8_32", "numeric_labels", "2", False,
     "Earthquakes can change things suddenly.\n\nThe answer is 2",
     "commits to 2; gold is 1"),
    # NYSEDREGENTS_2014_8_38  gold 1
    ("NYSEDREGENTS_2014_8_38", "numeric_labels", "1", True,
     "A solid keeps its shape and its volume.\n\n**Answer: (1)**",
     "'**Answer: (1)**'; the leading 'A' is an article"),
    # Three- and five-option items with letter labels.
    ("NYSEDREGENTS_2014_4_4", "right", "A", True,
     "A gas spreads out to fill any container, so it has no definite volume and no definite shape.\n\nThe answer is (A) gas",
     "'The answer is (A)' on a three-option item; the leading 'A' is an article"),
    ("NYSEDREGENTS_2014_4_4", "wrong", "D", False,
     "The answer is (D).",
     "D does not exist on this three-option item; gold is A"),
    ("NYSEDREGENTS_2014_4_19", "format", "B", True,
     "The answer is increases.",
     "full text of option B on a three-option item"),
    ("NYSEDREGENTS_2014_4_19", "wrong", "C", False,
     "Answer: C",
     "commits to C (remains the same); gold is B"),
    ("NYSEDREGENTS_2010_4_4", "right", "A", True,
     "Sand makes more friction than a smooth surface, so the truck would roll slower. The answer is (A).",
     "'The answer is (A)' on a three-option item"),
    ("TIMSS_2003_8_pg29", "right", "E", True,
     "The heart is in the chest, not in the abdomen.\nThe answer is (E)",
     "'The answer is (E)' on a five-option item"),
    ("TIMSS_2003_8_pg29", "wrong", "D", False,
     "The answer is (D) bladder",
     "commits to D; gold is E"),
    ("TIMSS_1995_8_N4", "hedged", None, False,
     "The answer is (B) or (E).",
     "hedges between B and E"),
    ("TIMSS_1995_8_N4", "format", "B", True,
     "Answer: B",
     "'Answer: B' on a five-option item"),
    ("TIMSS_2007_8_pg53", "right", "A", True,
     "Sally saw the bubbles with her own eyes, so the statement is something she observed. The answer is (A) an observation.",
     "'The answer is (A)' on a five-option item"),
    ("NYSEDREGENTS_2007_8_23", "numeric_labels", None, False,
     "Dark colors absorb more light than light colors. A black sweater and a snowball are very different, so it is either 2 or 4.",
     "hedges between 2 and 4"),
    ("NYSEDREGENTS_2008_8_27", "numeric_labels", "3", True,
     "1. 5 N\n2. 10 N\n3. 20 N\n4. 30 N\n\nTo double the acceleration you need double the force: 2 x 10 N = 20 N.\n\nThe answer is (3)",
     "relists the options, then 'The answer is (3)'"),
]

# --------------------------------------------------------------------------- templates
# Each template: (kind, needs, fn(item, t, o, n) -> output, committed(t, o) -> label or None, reason)
# t = target label, o = another label, n = another item (for hallucinated turns).

RIGHT_T = [
    (lambda c, t, o, n: f"Let's think step by step.\n\nThe question asks: {c.stem}\n\nLooking at the options, {c.lo(t)} fits best.\n\nThe answer is ({t})",
     "step-by-step preamble, then 'The answer is ({t})'"),
    (lambda c, t, o, n: f"Sure! Let's break this down.\n\n{c.stem}\n\nThe key idea is \"{c.bare(t)}\", which matches what the question describes. The other options do not fit as well.\n\nThe answer is ({t}).",
     "chatty preamble restating the question, then 'The answer is ({t})'"),
    (lambda c, t, o, n: f"## Step-by-step reasoning\n\n1. Read the question carefully.\n2. Eliminate the options that do not fit.\n3. The option left is: {c.lo(t)}.\n\nThe answer is ({t}). Let me know if you have other questions!",
     "Markdown list, 'The answer is ({t})' and a trailing pleasantry"),
    (lambda c, t, o, n: f"The answer is ({t}) {c.raw(t)}",
     "'The answer is ({t})' with the option text"),
    (lambda c, t, o, n: f"Great question! \U0001F60A\n\n\"{c.tx(t)}\" \u2014 that is the right idea here.\n\nThe answer is ({t}). \U0001F389",
     "emoji chat, then 'The answer is ({t})'"),
    (lambda c, t, o, n: f"The answer is ({t}).\n\nExplanation: \"{c.tx(t)}\" is the best match for the question, because the other choices describe something different.",
     "'The answer is ({t})' first, explanation after"),
    (lambda c, t, o, n: " ".join([f"The answer is ({t})."] * 6),
     "repetition loop of the same answer {t}"),
    (lambda c, t, o, n: f"**Question:** {c.stem}\n\n**Reasoning:** \"{c.tx(t)}\" is the only option that answers the question directly.\n\n**The answer is ({t})**",
     "restates the question in bold, then '**The answer is ({t})**'"),
]

FORMAT_T = [
    (lambda c, t, o, n: f"Answer: {t}", "'Answer: {t}'"),
    (lambda c, t, o, n: f"**{t}**", "bold lone label {t}"),
    (lambda c, t, o, n: f"{t}. {c.raw(t)}", "'{t}.' with option text at the very start"),
    (lambda c, t, o, n: f"({t}) {c.raw(t)}", "'({t})' with option text at the very start"),
    (lambda c, t, o, n: f"$\\boxed{{{t}}}$", "\\boxed{{{t}}}"),
    (lambda c, t, o, n: f"The correct answer is {t}.", "'The correct answer is {t}'"),
    (lambda c, t, o, n: f"I choose {t}.", "'I choose {t}'"),
    (lambda c, t, o, n: f"The answer is {c.bare(t)}.", "'the answer is' + full text of option {t}"),
    (lambda c, t, o, n: f"{t} is the best choice. \"{c.tx(t)}\" is what the question is asking about.", "'{t} is the best choice'"),
    (lambda c, t, o, n: f"**Answer:** ({t})", "'**Answer:** ({t})'"),
    (lambda c, t, o, n: f"Option {t} is correct.", "'Option {t} is correct'"),
    (lambda c, t, o, n: f"I would pick ({t}), since it makes the most sense.", "'I would pick ({t})'"),
    (lambda c, t, o, n: f"The correct option is ({t}) {c.raw(t)}", "'The correct option is ({t})'"),
    (lambda c, t, o, n: f"{t}\n\nExplanation: \"{c.tx(t)}\" is the best fit for the question.", "lone label {t} first, explanation after"),
    (lambda c, t, o, n: f"### Final Answer\nThe answer is **({t})**", "heading, then 'The answer is **({t})**'"),
    (lambda c, t, o, n: f"The correct choice is {t}: {c.raw(t)}", "'The correct choice is {t}'"),
    (lambda c, t, o, n: f"the answer is ({t.lower()})", "lower-case 'the answer is ({tl})'"),
    (lambda c, t, o, n: f"Answer: ({t}) {c.raw(t)}\n\nI hope this helps! Let me know if you have any other questions. \U0001F60A", "'Answer: ({t})' with trailing chat"),
    (lambda c, t, o, n: f"The answer is \\boxed{{{t}}}.", "'The answer is \\boxed{{{t}}}'"),
    (lambda c, t, o, n: f"The answer is: **{t}) {c.raw(t)}**", "'The answer is: **{t})'"),
    (lambda c, t, o, n: f"Based on the information given, I select {t}.", "'I select {t}'"),
    (lambda c, t, o, n: f"My answer: {t}", "'My answer: {t}'"),
    (lambda c, t, o, n: f"The answer is ({t}), not ({o}).", "'The answer is ({t}), not ({o})'; the negated label is not an answer"),
    (lambda c, t, o, n: f"Final Answer: The final answer is $\\boxed{{{t}}}$. I hope it is correct.", "minerva-style final answer line with \\boxed{{{t}}}"),
]

WRONG_T = [
    (lambda c, t, o, n: f"Let's think step by step. The most likely answer here is \"{c.bare(t)}\".\n\nThe answer is ({t})", "commits to {t}; gold is {g}"),
    (lambda c, t, o, n: f"The answer is ({t}).", "'The answer is ({t})'; gold is {g}"),
    (lambda c, t, o, n: f"Answer: {t}", "'Answer: {t}'; gold is {g}"),
    (lambda c, t, o, n: f"I think the best answer is ({t}) {c.raw(t)}, because it fits what the question describes.", "commits to {t}; gold is {g}"),
    (lambda c, t, o, n: f"The answer is {c.bare(t)}.", "full text of option {t}; gold is {g}"),
    (lambda c, t, o, n: f"{t}", "lone label {t}; gold is {g}"),
    (lambda c, t, o, n: f"**The answer is ({t})** \U0001F60A\n\nLet me know if you have other questions!", "commits to {t}; gold is {g}"),
    (lambda c, t, o, n: f"Hmm, this is a tricky one! After thinking about it, I choose {t}.", "'I choose {t}'; gold is {g}"),
    (lambda c, t, o, n: f"The correct answer is ({t}) {c.bare(t)}, because it best explains the situation in the question.", "commits to {t}; gold is {g}"),
]

HEDGED_T = [
    (lambda c, a, b, n: f"The answer is ({a}) or ({b}).", "hedges between {a} and {b}"),
    (lambda c, a, b, n: f"It could be either {a} or {b}. Both seem reasonable to me.", "'either {a} or {b}', no decision"),
    (lambda c, a, b, n: f"Both {a} and {b} seem plausible. \"{c.tx(a)}\" makes sense, but \"{c.bare(b)}\" also makes sense.", "both {a} and {b} called plausible, no decision"),
    (lambda c, a, b, n: f"The answer is {a} or {b}, depending on how you look at it.", "hedges between {a} and {b}"),
    (lambda c, a, b, n: f"The answer is ({a}), or possibly ({b}).", "hedges: '({a}), or possibly ({b})'"),
    (lambda c, a, b, n: f"Between {a} and {b}, I can't decide which one is better. They are both good answers.", "cannot decide between {a} and {b}"),
    (lambda c, a, b, n: f"The answer is either ({a}) {c.bare(a)} or ({b}) {c.bare(b)}", "hedges between {a} and {b}"),
    (lambda c, a, b, n: f"The answer is ({a}) and ({b}).", "names two options, {a} and {b}"),
    (lambda c, a, b, n: f"I think the answer is {a} or maybe {b}. \U0001F914", "hedges between {a} and {b}"),
]


def review(c, mark, tail):
    lines = []
    for l in c.labels:
        verdict = "This is correct." if l == mark else "This is incorrect."
        lines.append(f"({l}) {c.bare(l)} - {verdict}")
    return "Let's review each option:\n" + "\n".join(lines) + tail


REVIEW_T = [  # decided: committed = t
    (lambda c, t, o, n: review(c, t, f"\n\nSo the answer is ({t})."), "review marks ({t}) correct and concludes ({t})"),
    (lambda c, t, o, n: review(c, t, ""), "review marks only ({t}) correct"),
    (lambda c, t, o, n: "Let me check each choice:\n\n" + "\n".join(
        f"- ({l}) {c.bare(l)} " + ("\u2705" if l == t else "\u274c") for l in c.labels) + f"\n\n**Answer: ({t})**",
     "tick/cross review, then '**Answer: ({t})**'"),
    (lambda c, t, o, n: "\n".join(
        f"Option {l}: {c.bare(l)}. " + ("This is the correct answer." if l == t else "This does not answer the question.")
        for l in c.labels) + f"\n\nTherefore, option {t} is correct.",
     "review ends 'Therefore, option {t} is correct'"),
]
REVIEW_UNDECIDED_T = [
    (lambda c, t, o, n: "Let's look at each option.\n" + "\n".join(
        f"({l}) {c.bare(l)}: " + w for l, w in zip(c.labels, ["this could be true.", "this is also possible.", "this might play a role.", "this may also happen."]))
     + "\n\nAll of these options have some merit, so it depends on the situation.",
     "reviews every option but never decides"),
    (lambda c, t, o, n: "Let's analyze the options one by one.\n\n" + "\n\n".join(
        f"**({l}) {c.bare(l)}**\nThis option is related to the question." for l in c.labels)
     + "\n\nEach option has something to do with the topic.",
     "bold review that never decides"),
]

CORRECTION_T = [  # committed = final label y; x = first label
    (lambda c, x, y, n: f"The answer is ({x}). Wait, actually, the answer is ({y}).", "corrects {x} to {y}; last statement is {y}"),
    (lambda c, x, y, n: f"I think the answer is ({x}) {c.bare(x)}. Hmm, no. Let me reconsider. \"{c.tx(y)}\" fits the question better. So the correct answer is ({y}).", "reconsiders {x} and settles on {y}"),
    (lambda c, x, y, n: f"**Answer: {x}**\n\nWait, I made a mistake. Let me re-read the question.\n\n{c.stem}\n\n**Answer: {y}**", "bold answer corrected from {x} to {y}"),
    (lambda c, x, y, n: f"The answer is ({x}).\n\nHmm, on second thought, the answer is ({y}).", "second thought changes {x} to {y}"),
    (lambda c, x, y, n: f"Answer: {x}\n\nCorrection: the answer is {y}.", "'Correction: the answer is {y}' replaces {x}"),
    (lambda c, x, y, n: f"The answer is ({x})... no wait. \"{c.tx(x)}\" does not fit. The answer is ({y}).", "rejects {x}; last statement is {y}"),
]
CONFIRM_T = [  # same label twice
    (lambda c, x, y, n: f"The answer is ({y}). Let me double-check... yes, \"{c.bare(y)}\" is right. The answer is ({y}).", "states {y}, double-checks and repeats {y}"),
]

TRUNC_FALSE_T = [
    (lambda c, t, o, n: f"Let's think step by step. The question asks: {c.stem}\n\nThe answer is (", "cut off inside 'The answer is ('"),
    (lambda c, t, o, n: f"Let's analyze each option.\n({c.labels[0]}) {c.bare(c.labels[0])}: this does not fit.\n({c.labels[1]}) {c.bare(c.labels[1])}: this", "cut off mid-review before any answer"),
    (lambda c, t, o, n: f"Let's think step by step. {c.q()} We need to find the best option. Therefore, the correct answer is", "ends on 'the correct answer is' with no label"),
    (lambda c, t, o, n: f"Let's think step by step. The question is about {c.lo(o)} and related ideas.\n\n**Answer:**", "ends on '**Answer:**' with no label"),
    (lambda c, t, o, n: f"The answer is ({t}). Hmm, wait. Actually, the answer is", "restarts its answer and is cut inside the last statement (s.3)"),
    (lambda c, t, o, n: f"The final answer is $\\boxed{{", "cut off inside an unclosed \\boxed{"),
    (lambda c, t, o, n: f"Let's think step by step. \"{c.tx(t)}\" sounds right to me.\n\n**Answer:** (", "cut off inside '**Answer:** ('"),
    (lambda c, t, o, n: f"After looking at all the options, I choose", "ends on 'I choose' with no label"),
    (lambda c, t, o, n: f"The answer is ({t}) {c.bare(t)}. The answer is ({t}) {c.bare(t)}. The answer is (", "repetition loop cut inside the last 'The answer is (' (s.3)"),
    (lambda c, t, o, n: f"Let's review the options.\n\n({c.labels[0]}) {c.bare(c.labels[0])} - not likely.\n({c.labels[1]}) {c.bare(c.labels[1])} - also not likely.\n({c.labels[2]}) {c.bare(c.labels[2])} - this could be the", "cut off mid-review before any verdict"),
    (lambda c, t, o, n: f"Let's think step by step. The question asks: {c.q()} To answer this, we need to think about what happens when", "cut off mid-sentence before any answer"),
]
TRUNC_TRUE_T = [
    (lambda c, t, o, n: f"The answer is ({t}). This is because \"{c.bare(t)}\" is the only option that", "complete statement {t}; the cut falls in the explanation"),
    (lambda c, t, o, n: f"Answer: {t}\n\nExplanation: The question asks: {c.q()} The best choice is {c.lo(t)}, since the other options", "'Answer: {t}' complete; cut off in the explanation"),
    (lambda c, t, o, n: f"The answer is ({t}) {c.bare(t)}. Let me explain why. First, we need to look at", "complete statement {t}; cut off in the explanation"),
]

HALL_T = [  # (fn, committed(g, x), reason); g = gold, x = wrong label, n = next item
    (lambda c, g, x, n: f"The answer is ({g}).\n\nQuestion: {n.stem}\n{n.opts()}\nThe answer is ({x})",
     lambda g, x: g, "own answer {g}; the ({x}) is from the hallucinated 'Question:' turn"),
    (lambda c, g, x, n: f"The answer is ({x}).\n\nQuestion: {n.stem}\n{n.opts()}\nThe answer is ({g})",
     lambda g, x: x, "own answer is {x}; the ({g}) belongs to the hallucinated next question"),
    (lambda c, g, x, n: f"Let's think about this question carefully.\n\nQ: {n.stem}\n{n.opts()}\nA: The answer is ({g})",
     lambda g, x: None, "own turn picks nothing; the ({g}) answers a hallucinated 'Q:' question"),
    (lambda c, g, x, n: f"The answer is ({g}).<|im_end|>\n<|im_start|>user\n{n.stem}\n{n.opts()}<|im_end|>\n<|im_start|>assistant\nThe answer is ({x})",
     lambda g, x: g, "own answer {g} before <|im_end|>; the later ({x}) is ignored"),
    (lambda c, g, x, n: f"Answer: {x}<|endoftext|>Question: {c.stem}\nAnswer: {g}",
     lambda g, x: x, "own answer is {x}; the {g} comes after <|endoftext|>"),
    (lambda c, g, x, n: f"I choose {g}.\n\nHuman: Can you explain why?\n\nAssistant: Sure! Actually, the answer is ({x}).",
     lambda g, x: g, "own answer {g}; the ({x}) is after the hallucinated 'Human:' turn"),
    (lambda c, g, x, n: f"The answer is ({g}). Question: {n.q()} The answer is ({x}).",
     lambda g, x: g, "own answer {g}; a same-line sentence starting 'Question:' opens a new turn"),
    (lambda c, g, x, n: f"The answer is ({x})<end_of_turn>\n<start_of_turn>user\nAre you sure? I think the answer is ({g}).<end_of_turn>",
     lambda g, x: x, "own answer is {x}; the ({g}) is in a hallucinated user turn"),
    (lambda c, g, x, n: f"**Answer: ({x})**\nUser: That's wrong. The correct answer is ({g}).",
     lambda g, x: x, "own answer is {x}; the ({g}) is in a hallucinated 'User:' turn"),
    (lambda c, g, x, n: f"The answer is ({g}).\n\nExercise: {n.stem}\n{n.opts()}\nAnswer: {x}",
     lambda g, x: g, "own answer {g}; the {x} answers a hallucinated 'Exercise:'"),
    (lambda c, g, x, n: f"The answer is ({g}).</s>\nThe answer is ({x}).",
     lambda g, x: g, "own answer {g} before </s>; the ({x}) after it is ignored"),
    (lambda c, g, x, n: f"The answer is ({x}).<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nThe answer is ({g}).",
     lambda g, x: x, "own answer is {x}; the ({g}) comes after <|eot_id|>"),
    (lambda c, g, x, n: f"The answer is ({x}).\n\nProblem 3: {n.stem}\nThe answer is ({g}).",
     lambda g, x: x, "own answer is {x}; the ({g}) is after the hallucinated 'Problem 3:'"),
    (lambda c, g, x, n: f"Question: {c.stem}\n{c.opts()}\nAnswer: The answer is ({g}).",
     lambda g, x: g, "'Question:' at the very start restates the question (not a cut); answer {g}"),
]

NOANSWER_T = [
    (lambda c, t, o, n: "I'm not sure about this one. Could you give me more information?", "asks for more information; no answer"),
    (lambda c, t, o, n: "", "empty output"),
    (lambda c, t, o, n: "I'm sorry, but I cannot answer this question.", "refuses to answer"),
    (lambda c, t, o, n: c.stem, "only restates the question"),
    (lambda c, t, o, n: "This question is about science. Science helps us understand the world around us. \U0001F30D", "generic remark; no option picked"),
    (lambda c, t, o, n: "None of the above.", "'None of the above' is not an option"),
    (lambda c, t, o, n: "The answer is a mystery! \U0001F914", "'a mystery' is not an option"),
    (lambda c, t, o, n: "Let's think step by step.\n\nStep 1: Read the question.\nStep 2: Look at the options.\nStep 3: Choose the best answer.", "describes a method, never picks"),
    (lambda c, t, o, n: "\n".join(f"{l}. {x}" for l, x in zip(c.labels, c.texts)), "only lists all the options; picks none"),
    (lambda c, t, o, n: "I don't know.", "says it does not know"),
    (lambda c, t, o, n: "Hmm, that's a great question! Let me think... \U0001F914\n\nScientists have studied this for many years, and there are many factors to consider.", "chat without any option"),
    (lambda c, t, o, n: f"As an AI language model, I don't have personal opinions, but I can help you think about it. What do you already know about \"{c.bare(t)}\"?", "mentions one option's text in a question back, commits to nothing"),
    (lambda c, t, o, n: "The answer is the one that makes the most sense based on the information given.", "'the answer is' names no option"),
    (lambda c, t, o, n: "You should ask your teacher about this question. \U0001F4DA", "deflects; no answer"),
    (lambda c, t, o, n: f"\"{c.tx(t)}\" and \"{c.bare(o)}\" are both important ideas in science.", "mentions two options' texts, chooses neither"),
    (lambda c, t, o, n: " ".join(["Let's think step by step."] * 8), "repetition loop with no answer"),
]

WS_T = [  # (fn, committed(g, x), reason)
    (lambda c, g, x, n: f"The answer is ({g})." + " " * 600, lambda g, x: g, "'The answer is ({g}).' then 600 spaces"),
    (lambda c, g, x, n: "\n" * 500 + f"The answer is ({g})", lambda g, x: g, "500 newlines, then 'The answer is ({g})'"),
    (lambda c, g, x, n: f"The answer is ({x})" + "\n" * 600, lambda g, x: x, "commits to {x}, then a newline flood; gold is {g}"),
    (lambda c, g, x, n: f"Answer: {g}" + " \n" * 300, lambda g, x: g, "'Answer: {g}' then a space/newline flood"),
    (lambda c, g, x, n: "\n\n\n\n" + f"{g}", lambda g, x: g, "blank lines, then the lone label {g}"),
    (lambda c, g, x, n: " " * 400 + "\n" * 300, lambda g, x: None, "only whitespace; no answer"),
    (lambda c, g, x, n: "The answer is (" + "\n" * 600, lambda g, x: None, "cut off inside 'The answer is (' followed only by newlines"),
    (lambda c, g, x, n: f"The answer is ({g}).\n\n" + " \t" * 250 + f"\nQuestion: {n.stem}\nThe answer is ({x})", lambda g, x: g, "own answer {g}; the ({x}) after the flood answers a hallucinated question"),
    (lambda c, g, x, n: "Let me think about this." + " " * 650, lambda g, x: None, "one sentence then a space flood; no answer"),
]


def build_templated(items, used, rng):
    pool = sorted((i for i, r in items.items() if clean(r) and i not in used))
    rng.shuffle(pool)
    short_next = [Item(items[i]) for i in pool if len(items[i]["question"]["stem"]) < 140][:60]
    it = iter(pool)

    def nxt():
        return Item(items[next(it)])

    rows = []

    def add(kind, c, out, committed, reason):
        rows.append(dict(item=c, kind=kind, output=out, committed=committed, reason=reason, source="data"))

    def fmt(reason, **kw):
        return reason.format(**kw)

    # right: every template once, on the gold label
    for rep in range(1):
        for fn, why in RIGHT_T:
            c = nxt()
            t = c.gold
            add("right", c, fn(c, t, None, None), t, fmt(why, t=t))
    # format: each template on gold; every third also on a wrong label
    for k, (fn, why) in enumerate(FORMAT_T):
        c = nxt()
        o = c.wrong(rng)
        add("format", c, fn(c, c.gold, o, None), c.gold, fmt(why, t=c.gold, o=o, tl=c.gold.lower()))
        if k % 2 == 1:
            c = nxt()
            t = c.wrong(rng)
            o = c.gold
            # "(t), not (gold)" would be a wrong answer too, still committed to t
            add("format", c, fn(c, t, o, None), t, fmt(why, t=t, o=o, tl=t.lower()) + f"; gold is {c.gold}")
    # wrong
    for rep in range(3):
        for fn, why in WRONG_T:
            c = nxt()
            t = c.wrong(rng)
            add("wrong", c, fn(c, t, None, None), t, fmt(why, t=t, g=c.gold))
    for _ in range(1):
        c = nxt()
        add("wrong", c, "The answer is (E).", "E", f"E is not an option of this four-option item; gold is {c.gold}")
    # hedged: mostly gold + a wrong label, in both orders; some between two wrong labels
    for k, (fn, why) in enumerate(HEDGED_T):
        for rep in range(2):
            c = nxt()
            w = c.wrong(rng)
            if rep == 1 and k % 3 == 2:
                a, b = w, c.wrong(rng, avoid=(w,))
            else:
                a, b = (c.gold, w) if (k + rep) % 2 == 0 else (w, c.gold)
            add("hedged", c, fn(c, a, b, None), None, fmt(why, a=a, b=b))
    # option reviews
    for fn, why in REVIEW_T:
        for rep in range(3):
            c = nxt()
            t = c.gold if rep < 2 else c.wrong(rng)
            add("option_review", c, fn(c, t, None, None), t, fmt(why, t=t) + ("" if t == c.gold else f"; gold is {c.gold}"))
    for fn, why in REVIEW_UNDECIDED_T:
        for rep in range(2):
            c = nxt()
            add("option_review", c, fn(c, None, None, None), None, why)
    # corrections: wrong -> gold, and gold -> wrong
    for fn, why in CORRECTION_T:
        for rep in range(2):
            c = nxt()
            w = c.wrong(rng)
            x, y = (w, c.gold) if rep == 0 else (c.gold, w)
            add("correction", c, fn(c, x, y, None), y, fmt(why, x=x, y=y) + ("" if y == c.gold else f"; gold is {c.gold}"))
    for fn, why in CONFIRM_T:
        for rep in range(2):
            c = nxt()
            y = c.gold if rep == 0 else c.wrong(rng)
            add("correction", c, fn(c, y, y, None), y, fmt(why, y=y) + ("" if y == c.gold else f"; gold is {c.gold}"))
    # truncated
    for k, (fn, why) in enumerate(TRUNC_FALSE_T):
        for rep in range(1 if k in (5, 7) else 2):
            c = nxt()
            t = c.gold if rep != 1 else c.wrong(rng)
            add("truncated", c, fn(c, t, c.wrong(rng), None), None, why)
    for fn, why in TRUNC_TRUE_T:
        c = nxt()
        add("truncated", c, fn(c, c.gold, None, None), c.gold, fmt(why, t=c.gold))
    # hallucinated turns
    for k, (fn, com, why) in enumerate(HALL_T):
        for rep in range(2 if (k < 6 or com("g", "x") != "g") else 1):
            c = nxt()
            n = short_next[len(rows) % len(short_next)]
            if n.id == c.id:
                n = short_next[(len(rows) + 1) % len(short_next)]
            x = c.wrong(rng)
            committed = com(c.gold, x)
            add("hallucinated_turn", c, fn(c, c.gold, x, n), committed, fmt(why, g=c.gold, x=x))
    # no answer
    for k, (fn, why) in enumerate(NOANSWER_T):
        c = nxt()
        add("no_answer", c, fn(c, c.gold, c.wrong(rng), None), None, why)
    # whitespace floods
    for fn, com, why in WS_T:
        c = nxt()
        n = short_next[len(rows) % len(short_next)]
        x = c.wrong(rng)
        add("whitespace_flood", c, fn(c, c.gold, x, n), com(c.gold, x), fmt(why, g=c.gold, x=x))
    return rows


# --------------------------------------------------------------------------- old cases, re-judged
# key: (output, gold) -> (kind, verdict, reason).  Old kinds "rambling"/"two_answers" are mapped
# onto this corpus's categories.
# The rows are embedded here (output, gold, item) because scoring_cases.jsonl is being retired:
# they are the 65 task == "arc" rows of tests/data/scoring_cases.jsonl at commit d2da31b.  When that
# file is present, main() checks that its ARC rows are exactly these.
OLD_ITEMS = {  # tag -> (labels, choices)
    "fog": (["A", "B", "C", "D"], ["fog", "rain", "drought", "tornado"]),
    "solid": (["1", "2", "3", "4"], ["solid", "liquid", "gas", "plasma"]),
    "meters": (["A", "B", "C", "D"], ["1 m", "2 m", "3 m", "4 m"]),
    "abcde": (["A", "B", "C", "D", "E"], ["a", "b", "c", "d", "e"]),
    "xyz": (["A", "B", "C"], ["x", "y", "z"]),
}
OLD_VERDICTS = {}  # (output, gold) -> (kind, verdict, reason, item tag); filled below


def _old(kind, verdict, reason, output, gold, tag="fog"):
    assert (output, gold) not in OLD_VERDICTS
    OLD_VERDICTS[(output, gold)] = (kind, verdict, reason, tag)


for _o, _k, _v, _r in [
    ("A high-pressure system keeps air from rising, so clouds cannot form and it stays dry for a long time.\nThe answer is (C)", "right", True, "explanation, then 'The answer is (C)'"),
    ("The answer is (C).", "right", True, "'The answer is (C)' as asked"),
    ("Answer: C", "format", True, "'Answer: C'"),
    ("answer: c", "format", True, "lower-case 'answer: c' is still 'Answer: C'"),
    ("the answer is c", "format", True, "lower-case 'the answer is c'"),
    ("The answer is C because without rising air there is no rain.", "right", True, "'The answer is C' with a reason"),
    ("(C)", "format", True, "lone '(C)'"),
    ("C", "format", True, "lone label C"),
    ("C. drought", "format", True, "'C.' with option text at the start"),
    ("C) drought", "format", True, "'C)' with option text at the start"),
    ("**C**", "format", True, "bold lone label"),
    ("$\\boxed{C}$", "format", True, "\\boxed{C}"),
    ("Final Answer: The final answer is $\\boxed{\\text{C}}$.", "format", True, "\\boxed{\\text{C}} in a final-answer line"),
    ("The correct option is C.", "format", True, "'The correct option is C'"),
    ("Option C is correct since dry air persists.", "format", True, "'Option C is correct'"),
    ("The best answer is (C) drought.", "format", True, "'The best answer is (C)' commits to C"),
    ("The answer is: C", "format", True, "'The answer is: C'"),
    ("The answer is [C]", "format", True, "'The answer is [C]'; brackets around the label"),
    ("I would choose C.", "format", True, "'I would choose C'"),
    ("Answer: (c)", "format", True, "'Answer: (c)', lower-case label"),
    ("**Answer: C**", "format", True, "bold 'Answer: C'"),
    ("The answer is drought.", "format", True, "full text of option C"),
    ("The answer is (C) drought\n\nQuestion: Which gas do plants take in?\n(A) oxygen\n(B) carbon dioxide\nThe answer is (B)", "hallucinated_turn", True, "own answer C; the (B) is from the hallucinated next question"),
    ("(A) fog needs moist air, which is unlikely. (B) rain needs rising air, which is blocked. (C) drought fits a long dry period. (D) tornadoes need unstable air. So the answer is (C).", "option_review", True, "reviews the options and concludes 'the answer is (C)'"),
    ("Let's think. High pressure means sinking air. Sinking air warms and dries. Over a long time, dryness builds up. Therefore, the answer is C. Drought is a long period without rain.", "right", True, "'Therefore, the answer is C'"),
    ("Option (A) does not fit. Option (B) does not fit either. Option (D) is unlikely.", "option_review", False, "eliminates A, B and D but never states an answer"),
    ("Most likely a drought, which is option (C), since the air stays dry.", "format", True, "no statement form, but commits to drought; (C) is the only label named (s.4 fallback)"),
    ("Both (A) and (C) could happen, it depends on the humidity.", "hedged", False, "hedges between A and C"),
    ("The answer is (B)", "wrong", False, "commits to B; gold is C"),
    ("Answer: A", "wrong", False, "commits to A; gold is C"),
    ("the answer is d", "wrong", False, "commits to D; gold is C"),
    ("(D) tornado", "wrong", False, "'(D) tornado' at the start; gold is C"),
    ("The answer is rain.", "wrong", False, "full text of option B; gold is C"),
    ("B", "wrong", False, "lone label B; gold is C"),
    ("The answer is (E)", "wrong", False, "E is not an option; gold is C"),
    ("The answer is A and B", "hedged", False, "names two options, A and B (and neither is C)"),
    ("The answer is (A). Wait, actually, the answer is (C).", "correction", True, "corrects A to C; last statement is C"),
    ("The answer is (C). Hmm, on second thought the answer is (B).", "correction", False, "changes C to B; last statement B counts"),
    ("The answer is (B) or (C).", "hedged", False, "hedges between B and C"),
    ("I don't know.", "no_answer", False, "no answer"),
    ("", "no_answer", False, "empty output"),
    ("All of the above.", "no_answer", False, "'All of the above' is not an option"),
    ("The answer is a rock.", "no_answer", False, "'a rock' is not an option"),
    ("This question is about weather patterns and air pressure.", "no_answer", False, "remark about the topic; no option"),
    ("The answer is", "truncated", False, "ends on 'The answer is' with no label"),
    ("High pressure means sinking air, which suppresses clouds. Over a long period this would lead to", "truncated", False, "cut off mid-sentence before any answer"),
    ("Let's analyze each option.\n(A) fog: needs moisture near the ground.\n(B) rain:", "truncated", False, "cut off mid-review before any answer"),
    ("The answer is (", "truncated", False, "cut off inside 'The answer is ('"),
    ("Sinking air stays dry. Consider (C)", "truncated", True, "no statement; (C) is the only label named, so s.4's fallback reads C"),
    ("Answer: The answer is (C)", "format", True, "'Answer: The answer is (C)'"),
    ("The correct answer is C) drought", "format", True, "'The correct answer is C)'"),
    ("I'd pick (C).", "format", True, "'I'd pick (C)'"),
    ("After weighing the options, the best choice is C.", "format", True, "'the best choice is C'"),
    ("The answer is not A; it is drought, option C.", "format", True, "negates A, then commits to 'drought, option C'; a human reads C"),
    ("The answer is (C)\n\n\n\nThe answer is (A)", "correction", False, "two statements; the last one (A) counts"),
]:
    _old(_k, _v, _r, _o, "C")

for _o, _g, _k, _v, _r, _t in [
    ("The answer is (2)", "2", "numeric_labels", True, "digit label 2", "solid"),
    ("The answer is 2", "2", "numeric_labels", True, "bare digit 2 is a label here (labels are digits)", "solid"),
    ("2", "2", "numeric_labels", True, "lone digit label 2", "solid"),
    ("The answer is (B)", "2", "numeric_labels", True, "letter B maps to the second option, label 2", "solid"),
    ("The answer is liquid.", "2", "numeric_labels", True, "full text of option 2", "solid"),
    ("The answer is (3)", "2", "numeric_labels", False, "commits to 3; gold is 2", "solid"),
    ("The answer is 25.", "2", "numeric_labels", False, "25 is neither a label nor an option text", "solid"),
    ("The answer is 2 meters.", "B", "format", True, "'2 meters' is option B's text '2 m' with the unit spelled out; the digit alone is not a label", "meters"),
    ("The answer is (E)", "E", "right", True, "'The answer is (E)' on a five-option item", "abcde"),
    ("The answer is (D)", "C", "wrong", False, "D is not an option of this three-option item; gold is C", "xyz"),
]:
    _old(_k, _v, _r, _o, _g, _t)


# --------------------------------------------------------------------------- real outputs
# (example_id, sha256(output)[:16]) -> (verdict, reason).  Filled in by reading every ARC row of
# real_outputs.jsonl by hand (smollm2-135m-instruct, unsteered and with random steering).  The key
# holds the example id too, because identical outputs ("The answer is (C)", a 480-newline flood)
# occur for different items with different golds.  The reason starts with a more specific kind.
REAL_VERDICTS = {
    ('MCAS_2005_5_25', '81c2488b0841c1d7'): (True, "[right] garbled reasoning, then 'The answer is (C)'; gold C"),
    ('Mercury_400811', 'a0af8b9b23e18657'): (False, "[wrong] 'The answer is (C)'; gold D"),
    ('Mercury_7222793', '6e46907fc6347658'): (False, "[wrong] 'The answer is (C)'; gold B"),
    ('Mercury_7137165', '7716697994deeea4'): (False, "[wrong] 'The answer is (C)'; gold A"),
    ('Mercury_407517', '00649a1758fda308'): (True, "[right] reasoning, then 'The answer is (C)'; gold C"),
    ('Mercury_405950', '07b3b3e55fc75373'): (False, "[no_answer] the whole output is option A's text, no answer statement; gold C"),
    ('MCAS_2000_4_30', 'b8f995039f807c4b'): (False, '[wrong] reasoning names a pencil (A), the statement says (C); gold D'),
    ('Mercury_SC_400162', '53b3efe9453f1388'): (True, "[correction] first '(C)' with option D's text, then 'The answer is (D)'; the last statement D counts"),
    ('NYSEDREGENTS_2013_4_17', 'dbab5b5a4c3a44be'): (False, "[wrong] 'The answer is (C)'; gold D"),
    ('NYSEDREGENTS_2008_8_9', 'd4374f69d33dd41b'): (True, "[numeric_labels] reviews (1)-(4) without verdicts, then '(D)', which maps to label 4"),
    ('Mercury_7159285', '99837bdfd2baf5ea'): (True, "[right] 'The answer is (C)'; gold C"),
    ('MCAS_2013_8_29416', '1464ed149e90eda0'): (False, "[no_answer] talks about beakers and cylinders, never states an answer; leading 'A' is an article"),
    ('ACTAAP_2011_5_1', '650d765c902b4161'): (False, "[wrong] '(C)' with option D's text; neither is gold B"),
    ('TIMSS_1995_8_J6', '99837bdfd2baf5ea'): (False, "[wrong] 'The answer is (C)'; gold B"),
    ('Mercury_7056525', '99837bdfd2baf5ea'): (True, "[right] 'The answer is (C)'; gold C"),
    ('Mercury_7111178', 'a22d8f2ea8ba6dde'): (True, "[right] repetitive reasoning, then 'The answer is (C)'; gold C"),
    ('Mercury_416633', '3d81f845d319436b'): (False, "[wrong] 'The answer is (C)'; gold A"),
    ('MDSA_2010_4_20', 'de535ffd781a8480'): (False, "[wrong] 'The answer is (C)'; gold B"),
    ('Mercury_7173583', '758d121e578d7a9f'): (False, "[wrong] 'The answer is (B)'; gold C"),
    ('NAEP_2000_8_S11+11', '7b4dc9275495b7bc'): (False, "[wrong] 'The answer is (C)'; gold B"),
    ('Mercury_7129640', '619a4f1f5e6f4c59'): (False, "[wrong] 'The answer is (C)'; gold B"),
    ('OHAT_2010_5_18', '99837bdfd2baf5ea'): (False, "[wrong] 'The answer is (C)'; gold D"),
    ('Mercury_7270165', '99837bdfd2baf5ea'): (True, "[right] 'The answer is (C)'; gold C"),
    ('LEAP_2007_4_10280', '575985d20b66c71d'): (False, "[wrong] 'The correct answer is (C)' and 'The answer is (C)'; gold A"),
    ('Mercury_401426', '105aa35a302770dd'): (False, "[wrong] 'The answer is (C)'; gold D"),
    ('MCAS_2005_5_25', '08d20993784e3a90'): (False, '[no_answer] steered loop of lines labelled (B)/(C)/(D), no answer statement, cut off'),
    ('MCAS_2005_5_25', 'c2d1151adc22f71c'): (False, '[whitespace_flood] only newlines; no answer'),
    ('Mercury_400811', '3bec4d6e75e9cdac'): (False, '[truncated] steered repetition loop about electromagnetic radiation, no answer statement, cut off mid-sentence'),
    ('Mercury_400811', 'c2d1151adc22f71c'): (False, '[whitespace_flood] only newlines; no answer'),
    ('Mercury_7222793', '53397c38b47e3222'): (True, "[right] 'The answer is (B)'; gold B"),
    ('Mercury_7222793', 'c2d1151adc22f71c'): (False, '[whitespace_flood] only newlines; no answer'),
    ('Mercury_7137165', '1e927ca73aedac23'): (False, "[no_answer] 'the answer to the question of the day is' names no option; then a (B)/(C)/(D) loop"),
    ('Mercury_7137165', 'c2d1151adc22f71c'): (False, '[whitespace_flood] only newlines; no answer'),
    ('Mercury_407517', '60f9af0faa05b658'): (False, "[no_answer] steered loop about the sun, no answer statement, cut off; leading 'A' is an article"),
    ('Mercury_407517', 'c2d1151adc22f71c'): (False, '[whitespace_flood] only newlines; no answer'),
    ('Mercury_405950', '99837bdfd2baf5ea'): (True, "[right] 'The answer is (C)'; gold C"),
    ('Mercury_405950', 'c2d1151adc22f71c'): (False, '[whitespace_flood] only newlines; no answer'),
    ('MCAS_2000_4_30', '99837bdfd2baf5ea'): (False, "[wrong] 'The answer is (C)'; gold D"),
    ('MCAS_2000_4_30', 'c2d1151adc22f71c'): (False, '[whitespace_flood] only newlines; no answer'),
    ('Mercury_SC_400162', '94b4087f6d522bbb'): (False, "[wrong] 'The answer is (C)', then a junk (B)/(C)/(D) list that states nothing; gold D"),
    ('Mercury_SC_400162', 'c2d1151adc22f71c'): (False, '[whitespace_flood] only newlines; no answer'),

    # gemma-3-270m (base model), no steering: a line of prose, 'The answer is (X)', then a hallucinated
    # 'Question:' turn with its own options and answers, which is cut (section 1) and never graded
    ('MCAS_2005_5_25', 'd95dabff22c9625b'): (False, "[wrong] 'A liquid is a gas.' (leading 'A' is an article), 'The answer is (D)'; gold C; the (D) after the Question: cut is not graded"),
    ('NYSEDREGENTS_2008_8_9', '968bf2401ef7d18f'): (True, "[correction] opens '1) recycle materials.', then 'The answer is (2)', '(3)', then '(4)' twenty times to the end; the last statement (4) is gold; no cut, not cut off"),
    ('MCAS_2013_8_29416', '1ceb3051b4ae7b50'): (False, "[wrong] 'A 500 mL beaker is the most precise...' ('A' is an article), 'The answer is (D)'; gold B; the Question: turn is cut"),
    ('Mercury_7056525', 'e0e5eb96e1d0b897'): (True, "[hallucinated_turn] muddled prose, then 'The answer is (C)' (gold); the unclosed 'The answer is (' comes after the Question: cut, so it is no cut-off"),
    ('Mercury_7111178', 'bd8ecfbca7eec210'): (True, "[right] opens with option A's text as prose, then 'The answer is (C)'; the statement counts, C is gold; Question: turn cut"),
    ('Mercury_416633', 'd8b75cb766821d2b'): (False, "[wrong] prose about water vapor (gold A's text), but 'The answer is (D)'; the statement counts; the (B) after the cut is not graded"),
    ('MDSA_2010_4_20', 'd1792fd00f068a5d'): (False, "[wrong] prose picks land (option C's text), 'The answer is (D)'; gold B"),
    ('NAEP_2000_8_S11+11', '41eaf3c7985d1add'): (False, "[wrong] 'closer to the Sun than it is to the Earth.', 'The answer is (D)'; gold B"),
    ('Mercury_7129640', '04dab1dd14f1dce5'): (False, "[wrong] option D's text as prose, 'The answer is (C)'; gold B; Question: turn cut"),
    ('Mercury_7270165', '4e1f2edd460fcc8e'): (False, "[wrong] 'Oceanic crust is generally thicker...', 'The answer is (D)'; gold C"),

    # gemma-3-270m, random-direction steering: one token repeated until the budget
    ('MCAS_2005_5_25', '4f7c89ce1aded260'): (False, "[token_flood] 'Yên' repeated to the end; no answer"),
    ('MCAS_2005_5_25', '803f165a8c2dcd03'): (False, "[token_flood] 'Слу' repeated to the end; no answer"),
    ('NYSEDREGENTS_2008_8_9', '4f7c89ce1aded260'): (False, "[token_flood] 'Yên' repeated to the end; no answer"),
    ('NYSEDREGENTS_2008_8_9', '803f165a8c2dcd03'): (False, "[token_flood] 'Слу' repeated to the end; no answer"),
    ('MCAS_2013_8_29416', '4f7c89ce1aded260'): (False, "[token_flood] 'Yên' repeated to the end; no answer"),
    ('MCAS_2013_8_29416', '803f165a8c2dcd03'): (False, "[token_flood] 'Слу' repeated to the end; no answer"),
    ('Mercury_7056525', '4f7c89ce1aded260'): (False, "[token_flood] 'Yên' repeated to the end; no answer"),
    ('Mercury_7056525', '803f165a8c2dcd03'): (False, "[token_flood] 'Слу' repeated to the end; no answer"),
}


def sha(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# --------------------------------------------------------------------------- assemble


def main():
    items = load_items()
    rows = []

    def lit(rec, source):
        iid, kind, committed, verdict, output, reason = rec
        c = Item(items[iid])
        rows.append(dict(item=c, kind=kind, output=output, committed=committed,
                         verdict=verdict, reason=reason, source=source))

    for rec in LITERAL + NUMERIC:
        lit(rec, "written")
    used = {r["item"].id for r in rows}
    rng = random.Random(SEED)
    rows += build_templated(items, used, rng)

    out = []
    for r in rows:
        c = r["item"]
        committed = r["committed"]
        verdict = committed is not None and committed == c.gold
        if "verdict" in r and r["verdict"] != verdict:
            raise SystemExit(f"verdict/label mismatch in {c.id}: {r['output'][:80]!r}")
        if committed is not None and committed not in c.labels:
            # a letter on a digit-labelled item maps by position; anything else is not an option
            if c.labels[0].isdigit() and committed.isalpha() and "ABCDE".index(committed) < len(c.labels):
                pass
            elif verdict:
                raise SystemExit(f"committed label not an option: {c.id}")
        if committed is not None and committed.isalpha() and c.labels[0].isdigit():
            pos = "ABCDE".index(committed)
            verdict = pos < len(c.labels) and c.labels[pos] == c.gold
        if "verdict" in r and r["verdict"] != verdict:
            raise SystemExit(f"verdict mismatch in {c.id}: {r['output'][:80]!r}")
        if len(r["output"]) > MAX_CHARS:
            raise SystemExit(f"output over {MAX_CHARS} chars in {c.id}: {len(r['output'])}")
        out.append(dict(kind=r["kind"], output=r["output"], gold=c.gold, verdict=verdict,
                        reason=r["reason"], source=r["source"], labels=c.labels, choices=c.texts))

    # old cases (embedded; cross-checked against scoring_cases.jsonl when it exists)
    if OLD_CASES.exists():
        with open(OLD_CASES, encoding="utf-8") as f:
            present = {}
            for line in f:
                o = json.loads(line)
                if o.get("task") == "arc":
                    present[(o["output"], o["gold"])] = (o["labels"], o["choices"])
        if set(present) != set(OLD_VERDICTS):
            raise SystemExit("scoring_cases.jsonl's ARC rows differ from OLD_VERDICTS; re-judge them")
        for key, (labels, choices) in present.items():
            if OLD_ITEMS[OLD_VERDICTS[key][3]] != (labels, choices):
                raise SystemExit(f"old case with other options: {key!r}")
    for (output, gold), (kind, verdict, reason, tag) in OLD_VERDICTS.items():
        labels, choices = OLD_ITEMS[tag]
        out.append(dict(kind=kind, output=output, gold=gold, verdict=verdict, reason=reason,
                        source="old-cases", labels=list(labels), choices=list(choices)))

    # real outputs
    if REAL_OUTPUTS.exists():
        missing = []
        with open(REAL_OUTPUTS, encoding="utf-8") as f:
            for line in f:
                o = json.loads(line)
                if o.get("task") != "arc":
                    continue
                h = (o["example_id"], sha(o["output"]))
                if h not in REAL_VERDICTS:
                    missing.append(h)
                    continue
                verdict, reason = REAL_VERDICTS[h]
                out.append(dict(kind="real", output=o["output"], gold=str(o["gold"]), verdict=verdict,
                                reason=reason, source="real", labels=o["labels"], choices=o["choices"]))
        if missing:
            raise SystemExit(f"{len(missing)} real ARC outputs have no hand verdict, e.g. {missing[:3]}")

    seen, unique = set(), []
    for r in out:
        key = (r["output"], r["gold"], tuple(r["choices"]))
        if key in seen:
            if r["source"] == "real":  # the same output for the same item under another steering
                continue
            raise SystemExit(f"duplicate row: {r['output'][:60]!r}")
        seen.add(key)
        unique.append(r)
    out = unique
    with open(OUT, "w", encoding="utf-8") as f:
        for k, r in enumerate(out, 1):
            row = {"id": f"arc-{k:04d}", **r}
            row = {k2: row[k2] for k2 in ("id", "kind", "output", "gold", "verdict", "reason", "source", "labels", "choices")}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")

    by_kind = collections.Counter(r["kind"] for r in out)
    by_kv = collections.Counter((r["kind"], r["verdict"]) for r in out)
    print(f"wrote {len(out)} rows to {OUT}")
    for k in sorted(by_kind):
        print(f"  {k:18s} {by_kind[k]:4d}   true {by_kv[(k, True)]:3d}  false {by_kv[(k, False)]:3d}")
    v = collections.Counter(r["verdict"] for r in out)
    print(f"  verdict: true {v[True]}  false {v[False]}  ({v[True] / len(out):.0%} true)")
    print("  source:", dict(collections.Counter(r["source"] for r in out)))


if __name__ == "__main__":
    sys.exit(main())
