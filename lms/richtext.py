"""Rich text typed by authors (lessons, course summaries, later questions): Markdown with a safe
subset of HTML, rendered and then sanitised on the server with nh3 against an allowlist.

Whatever the author sends, only these survive: paragraphs and line breaks, strong/em/u/s,
headings h2–h4 (h1 becomes h2, h5/h6 become h4), lists, quotes, code, tables, links to http(s),
mailto or a path on this site, and images from this site (/media/…, /courses/…) or https.
Scripts and styles are removed with their content; event handlers, style and class attributes,
javascript: and data: URLs are dropped.
"""
from __future__ import annotations

import re

import markdown
import nh3

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "u", "s", "h2", "h3", "h4", "ul", "ol", "li", "blockquote",
    "a", "img", "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td", "code", "pre",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
    "ol": {"start"},
}
LINK_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "noopener noreferrer nofollow"
#: same-site paths an <img> may load from (the pages' CSP allows images from 'self' only)
IMAGE_PATHS = ("/media/", "/courses/")
MARKDOWN_EXTENSIONS = ["tables", "fenced_code", "sane_lists"]

_HEADING_UP = re.compile(r"<(/?)h1(?=[\s>])", re.IGNORECASE)
_HEADING_DOWN = re.compile(r"<(/?)h[56](?=[\s>])", re.IGNORECASE)
#: a line break inside a paragraph between two CJK characters (or CJK punctuation): in Chinese
#: it is no space, so the lines are joined
_CJK_BREAK = re.compile(r"(?<=[\u2e80-\u9fff\u3000-\u303f\uff00-\uffef])[ \t]*\n[ \t]*"
                        r"(?=[\u2e80-\u9fff\u3000-\u303f\uff00-\uffef])")
#: where words of neighbouring blocks would run together once the tags are gone
_BLOCK_END = re.compile(r"<(?:/(?:p|li|h[1-6]|blockquote|tr|td|th|pre|caption)|br\s*/?)\s*>",
                        re.IGNORECASE)


def _site_path(value: str) -> bool:
    """A path on this site ("/courses/3"), never a scheme-relative "//host" or a "\\" trick."""
    return value.startswith("/") and not value.startswith("//") and "\\" not in value


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    value = value.strip()
    if tag == "img" and attr == "src":
        if value.lower().startswith("https://"):
            return value
        if _site_path(value) and value.startswith(IMAGE_PATHS):
            return value
        return None
    if tag == "a" and attr == "href":
        lowered = value.lower()
        if lowered.startswith(("http://", "https://", "mailto:")) or _site_path(value):
            return value
        if value.startswith("#"):
            return value
        return None
    if attr in ("colspan", "rowspan", "start"):
        return value if value.isdigit() and 0 < int(value) <= 1000 else None
    return value


def sanitize_html(html: str | None) -> str:
    """Sanitised HTML from untrusted HTML: the allowlist above, nothing else."""
    if not html:
        return ""
    html = _HEADING_UP.sub(r"<\1h2", html)
    html = _HEADING_DOWN.sub(r"<\1h4", html)
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style", "iframe", "object", "embed", "noscript",
                            "template", "svg", "math"},
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes=LINK_SCHEMES,
        link_rel=LINK_REL,
        strip_comments=True,
    )
    return cleaned.strip()


def render_markdown(source: str | None) -> str:
    """Sanitised HTML from Markdown that may contain HTML (the editor's and content/'s format)."""
    if not source or not source.strip():
        return ""
    html = markdown.markdown(source, extensions=MARKDOWN_EXTENSIONS, output_format="html")
    return _CJK_BREAK.sub("", sanitize_html(html))


def plain_text(html: str | None) -> str:
    """The text of sanitised HTML (for search documents and summaries), whitespace collapsed."""
    if not html:
        return ""
    text = nh3.clean(_BLOCK_END.sub(" ", html), tags=set())
    text = (text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
            .replace("&#39;", "'").replace("&nbsp;", " ").replace("&amp;", "&"))
    return re.sub(r"\s+", " ", text).strip()
