"""One colour per modality and per method, and readable method names, fixed across the kit.

Every figure of :mod:`g2d_lite.plots` takes its colours from here, so "audio" or "G²D" is the
same colour in every notebook and a reader never has to re-learn a legend. Internal method
names (``g2d_no_smp``) are for code and files; figures and tables show :func:`method_label`.
"""

from __future__ import annotations

import re
import zlib

import seaborn as sns

RGB = tuple[float, float, float]

# Method colours: the colour-blind palette; the two students every notebook compares (joint
# training and G²D) get its two strongest colours, their SMP and partial variants neighbours.
_CB = sns.color_palette("colorblind", 10)
_DARK = sns.color_palette("dark", 10)
METHOD_COLOURS: dict[str, RGB] = {
    "joint": _CB[0],
    "joint+smp": _CB[9],
    "ogm": _CB[3],
    "ogm_ge": _CB[6],
    "umt": _CB[4],
    "umt+smp": _CB[2],
    "logit_kd": _CB[8],
    "g2d_no_smp": _CB[5],
    "g2d": _CB[1],
    "g2d_partial": _CB[7],
    # The comparison methods (notebook 04's peers chart shows them beside joint, OGM-GE, UMT and
    # G²D): darker hues of the colours those four do not use there.
    "agm": _DARK[2],
    "mla": _DARK[3],
    "reconboost": _DARK[5],
    "mmpareto": _DARK[8],
    "pmr": _DARK[7],
}
TEACHER_COLOUR: RGB = (0.6, 0.6, 0.6)  # a teacher bar beside the students (figure 1)
PAPER_COLOUR: RGB = (0.15, 0.15, 0.15)  # the paper's reported numbers
ALL_COLOUR: RGB = (0.85, 0.85, 0.85)  # SMP steps on which every modality trained

METHOD_LABELS: dict[str, str] = {
    "joint": "joint training",
    "joint+smp": "joint + SMP",
    "ogm": "OGM",
    "ogm_ge": "OGM-GE",
    "umt": "UMT (feature KD)",
    "umt+smp": "UMT + SMP",
    "logit_kd": "logit KD only",
    "g2d_no_smp": "G²D loss, no SMP",
    "g2d": "G²D",
    "g2d_partial": "G²D, partial suppression",
    "agm": "AGM",
    "mla": "MLA",
    "reconboost": "ReconBoost",
    "mmpareto": "MMPareto",
    "pmr": "PMR",
}
# Names the notebooks use for the same methods.
_ALIASES: dict[str, str] = {"G²D": "g2d", "joint training": "joint"}

# Modality colours: a second palette (Set2), so a modality is never mistaken for a method.
_SET2 = sns.color_palette("Set2", 8)
MODALITY_COLOURS: dict[str, RGB] = {
    "audio": _SET2[1],
    "visual": _SET2[0],
    "video": _SET2[0],  # the paper's name for CREMA-D's visual modality
    "image": _SET2[2],
    "text": _SET2[3],
    "vector": _SET2[4],
}
# Other modality names (and co-leader labels such as "depth+flow"): a stable hash of the name
# picks the first choice; colours() moves a name on when another in its figure has it.
# Set1's yellow, orange and grey are left out: too near Set2's yellow, audio and grey.
_SET1 = sns.color_palette("Set1", 9)
_SPARE = (*_SET2[5:], *(_SET1[i] for i in (0, 1, 2, 3, 6, 7)))


def canonical_method(name: str) -> str | None:
    """The METHODS key behind a method name or label ("G²D" -> "g2d"), or None."""
    name = _ALIASES.get(name, name)
    if name in METHOD_LABELS:
        return name
    for key, label in METHOD_LABELS.items():
        if name == label:
            return key
    return None


def method_label(name: str) -> str:
    """A readable name for a method ("g2d_no_smp" -> "G²D loss, no SMP"); other names are
    returned unchanged, and a crossover or teacher suffix such as " (crossover)" is kept."""
    base, suffix = re.fullmatch(r"(.*?)( \(.*\))?", name).groups()
    key = canonical_method(base)
    return (METHOD_LABELS[key] if key else base) + (suffix or "")


def modality_colour(name: str) -> RGB:
    """The fixed colour of a modality; an unknown name always gets the same spare colour
    (alone; in a figure with other unknown names, :func:`colours` keeps them apart)."""
    if name in MODALITY_COLOURS:
        return MODALITY_COLOURS[name]
    return _SPARE[_first_spare(name)]


def _first_spare(name: str) -> int:
    return zlib.crc32(name.encode()) % len(_SPARE)


def _teacher_modality(name: str) -> str | None:
    """ "audio teacher" or "teacher (audio)" -> "audio"; None for anything else."""
    match = re.fullmatch(r"(\S+) teacher|teacher \((\S+?)(?:, .*)?\)", name)
    return (match.group(1) or match.group(2)) if match else None


def colour(name: str) -> RGB:
    """The colour of anything a figure labels: a method (name or label), a teacher (its
    modality's colour), a modality, "teacher", "all", or the paper's numbers."""
    fixed = _fixed_colour(name)
    return fixed if fixed is not None else modality_colour(_spare_name(name))


def _fixed_colour(name: str) -> RGB | None:
    """The colour ``name`` always has, or None for a name that takes a spare colour."""
    base = re.sub(r" \(crossover\)$", "", name)
    key = canonical_method(base)
    if key is not None:
        return METHOD_COLOURS[key]
    fixed = {"teacher": TEACHER_COLOUR, "all": ALL_COLOUR}.get(base)
    if fixed is None and base.startswith("paper"):
        fixed = PAPER_COLOUR
    return fixed or MODALITY_COLOURS.get(_spare_name(name))


def _spare_name(name: str) -> str:
    """The modality a label stands for ("teacher (depth)" -> "depth")."""
    base = re.sub(r" \(crossover\)$", "", name)
    return _teacher_modality(base) or base


def colours(names: list[str]) -> dict[str, RGB]:
    """:func:`colour` of every name, as a seaborn ``palette`` mapping, with the names that take
    spare colours kept apart: each keeps its first choice unless another (in sorted order) took
    it, so a figure never draws two modalities alike and the choice depends on the names only."""
    spares = sorted({_spare_name(n) for n in names if _fixed_colour(n) is None})
    taken: set[int] = set()
    chosen: dict[str, RGB] = {}
    for modality in spares:
        index = _first_spare(modality)
        while index in taken and len(taken) < len(_SPARE):
            index = (index + 1) % len(_SPARE)
        taken.add(index)
        chosen[modality] = _SPARE[index]
    return {name: _fixed_colour(name) or chosen[_spare_name(name)] for name in names}
