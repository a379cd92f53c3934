"""Cupmark's colour analysis: pure colour science on Pillow, NumPy, SciPy and OpenCV, no Flask, no database.

Public API: :func:`analyze_photo`, :func:`analyze_image`, :func:`open_photo`,
:func:`assess_course`, :func:`expected_ceiling`, :class:`PhotoReading`,
:class:`CourseAssessment`, :class:`PhotoRefused` and ``ANALYZER_VERSION``.
"""

from .analyze import analyze_image, analyze_photo
from .course import CourseAssessment, assess_course, expected_ceiling
from .photo import PhotoRefused, open_photo
from .reading import ANALYZER_VERSION, PhotoReading

__all__ = [
    "ANALYZER_VERSION",
    "CourseAssessment",
    "PhotoReading",
    "PhotoRefused",
    "analyze_image",
    "analyze_photo",
    "assess_course",
    "expected_ceiling",
    "open_photo",
]
