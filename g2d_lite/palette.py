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
_SPARE = _SET2[5:]  # other modality names, picked by a stable hash of the name


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
    """The fixed colour of a modality; an unknown name always gets the same spare colour."""
    if name in MODALITY_COLOURS:
        return MODALITY_COLOURS[name]
    return _SPARE[zlib.crc32(name.encode()) % len(_SPARE)]


def _teacher_modality(name: str) -> str | None:
    """ "audio teacher" or "teacher (audio)" -> "audio"; None for anything else."""
    match = re.fullmatch(r"(\S+) teacher|teacher \((\S+?)(?:, .*)?\)", name)
    return (match.group(1) or match.group(2)) if match else None


def colour(name: str) -> RGB:
    """The colour of anything a figure labels: a method (name or label), a teacher (its
    modality's colour), a modality, "teacher", "all", or the paper's numbers."""
    base = re.sub(r" \(crossover\)$", "", name)
    key = canonical_method(base)
    if key is not None:
        return METHOD_COLOURS[key]
    if base == "teacher":
        return TEACHER_COLOUR
    if base == "all":
        return ALL_COLOUR
    if base.startswith("paper"):
        return PAPER_COLOUR
    modality = _teacher_modality(base)
    return modality_colour(modality or base)


def colours(names: list[str]) -> dict[str, RGB]:
    """:func:`colour` of every name, as a seaborn ``palette`` mapping."""
    return {name: colour(name) for name in names}
