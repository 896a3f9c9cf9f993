"""Courses: catalogue in four modules, chapters and lessons, authoring, publishing."""
from lms.courses.models import (Attachment, Chapter, Course, CourseAudience, CourseModule,
                                CourseStatus, CourseVisit, Lesson, LessonKind, TeachingForm)

__all__ = ["Attachment", "Chapter", "Course", "CourseAudience", "CourseModule", "CourseStatus",
           "CourseVisit", "Lesson", "LessonKind", "TeachingForm"]
