"""Encoders, fusion modules and the teacher/student models built from them."""

from g2d_lite.models.classifiers import (
    MultimodalClassifier,
    StudentOutput,
    TeacherOutput,
    UnimodalClassifier,
    build_student,
    build_teacher,
)
from g2d_lite.models.encoders import ENCODERS, build_encoder, init_official
from g2d_lite.models.fusion import FUSIONS, build_fusion

__all__ = [
    "ENCODERS",
    "FUSIONS",
    "MultimodalClassifier",
    "StudentOutput",
    "TeacherOutput",
    "UnimodalClassifier",
    "build_encoder",
    "build_fusion",
    "build_student",
    "build_teacher",
    "init_official",
]
