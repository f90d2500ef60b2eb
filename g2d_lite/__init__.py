"""g2d-lite: a small, faithful, teachable implementation of G2D (Gradient-Guided Distillation).

Unimodal teachers are distilled into a multimodal student with feature and logit distillation,
while Sequential Modality Prioritization (SMP) lets the least confident modality lead.
"""

__version__ = "0.1.0"
