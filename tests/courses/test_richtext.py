"""lms.richtext: what authors type is rendered and sanitised against an allowlist."""
import pytest

from lms.richtext import plain_text, render_markdown, sanitize_html


@pytest.mark.parametrize("dirty", [
    "<script>alert(1)</script>",
    "<SCRIPT src=//evil.example/x.js></SCRIPT>",
    "<svg><script>alert(1)</script></svg>",
    "<style>body{display:none}</style>",
    "<iframe src='https://evil.example'></iframe>",
    "<object data='x.swf'></object>",
])
def test_scripts_styles_and_frames_go_with_their_content(dirty):
    cleaned = sanitize_html(f"<p>前</p>{dirty}<p>后</p>")
    assert cleaned == "<p>前</p><p>后</p>"


def test_event_handlers_and_style_attributes_are_dropped():
    cleaned = sanitize_html('<p onclick="steal()" style="color:red" class="x" id="y">字</p>'
                            '<img src="/media/a.jpg" onerror="alert(1)" alt="图">')
    assert cleaned == '<p>字</p><img src="/media/a.jpg" alt="图">'
    for bad in ("onclick", "onerror", "style", "class", "id="):
        assert bad not in cleaned


@pytest.mark.parametrize("href", ["javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)",
                                  "jav&#x09;ascript:alert(1)", "data:text/html;base64,PHNjcmlwdD4=",
                                  "vbscript:msgbox(1)", "//evil.example/", "file:///etc/passwd"])
def test_dangerous_links_lose_their_href(href):
    cleaned = sanitize_html(f'<a href="{href}">点我</a>')
    assert "href" not in cleaned and ">点我</a>" in cleaned


def test_good_links_keep_their_href_and_get_rel():
    cleaned = sanitize_html('<a href="https://www.acftu.org" target="_blank">全总</a>'
                            '<a href="mailto:gh@example.cn">信</a><a href="/courses/3">课程</a>')
    assert 'href="https://www.acftu.org"' in cleaned and 'href="mailto:gh@example.cn"' in cleaned
    assert 'href="/courses/3"' in cleaned
    assert cleaned.count('rel="noopener noreferrer nofollow"') == 3
    assert "target" not in cleaned


@pytest.mark.parametrize("src,kept", [
    ("https://img.example.cn/a.png", True),
    ("/media/a.png", True),
    ("/courses/attachments/3", True),
    ("http://img.example.cn/a.png", False),
    ("data:image/png;base64,iVBORw0KGgo=", False),
    ("//evil.example/a.png", False),
    ("/admin/users", False),
    ("javascript:alert(1)", False),
])
def test_images_only_from_this_site_or_https(src, kept):
    cleaned = sanitize_html(f'<img src="{src}" alt="a">')
    assert (f'src="{src}"' in cleaned) is kept


def test_allowed_structure_survives():
    html = ("<h2>标题</h2><h3>小</h3><h4>更小</h4><p><strong>粗</strong><em>斜</em><u>下</u><s>删</s><br></p>"
            "<ul><li>一</li></ul><ol start=\"3\"><li>三</li></ol><blockquote>引</blockquote>"
            "<table><thead><tr><th colspan=\"2\">头</th></tr></thead><tbody><tr><td>1</td><td>2</td></tr></tbody></table>"
            "<pre><code>x = 1</code></pre>")
    assert sanitize_html(html) == html


def test_other_tags_are_unwrapped_and_headings_fit_the_page():
    assert sanitize_html("<div><span>字</span></div>") == "字"
    assert sanitize_html("<h1>大</h1><h6>小</h6>") == "<h2>大</h2><h4>小</h4>"


def test_markdown_renders_then_sanitises():
    html = render_markdown("## 要点\n\n**加粗** [链接](javascript:alert(1))\n\n<script>alert(1)</script>\n\n"
                           "| 项 | 值 |\n|---|---|\n| 会费 | 0.5% |\n\n<img src=x onerror=alert(1)>")
    assert "<h2>要点</h2>" in html and "<strong>加粗</strong>" in html
    assert "<table>" in html and "<td>会费</td>" in html
    assert "script" not in html and "javascript" not in html and "onerror" not in html
    assert render_markdown("") == "" and render_markdown("   \n") == ""


def test_plain_text():
    assert plain_text("<p>工会 &amp; 职工</p><p>权益</p>") == "工会 & 职工 权益"
