import os
import sys

import pytest

from qa.errors import UsageError
from qa.ingest.corpus import decode, parse_article, parse_date, scan_corpus, shown_path
from qa.text.sentences import MAX_SENTENCE_CHARS
from tests.conftest import SEEDS
from tests.helpers.corpora import PAGE


def _articles(corpus):
    return {s.id: parse_article(s) for s in scan_corpus(corpus).sources}


def test_seed_dates_titles_and_ids():
    articles = _articles(SEEDS)
    assert set(articles) == {"000_7e63e6485bed1ddb", "004_cffa3cfd4d8230b1"}
    lee, seoul = articles["000_7e63e6485bed1ddb"], articles["004_cffa3cfd4d8230b1"]
    assert lee.date == "2020-08-18"  # "date 2020-08-18 …" at the start of the text
    assert seoul.date == "2020-01-16"  # "16-Jan-2020 Intellasia | …" under the title
    assert seoul.title == "Seoul reaffirms focus on NK engagement"
    assert lee.title.startswith("Unification Minister Lee In-young met with US Ambassador Harry Harris")
    assert len(lee.sha256) == 64


def test_datelines_are_not_sentences():
    articles = _articles(SEEDS)
    first = articles["000_7e63e6485bed1ddb"].sentences[0].text
    assert first.startswith("Unification Minister")
    assert not any("Intellasia" in s.text for s in articles["004_cffa3cfd4d8230b1"].sentences)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("date 2020-08-18 Something happened.", "2020-08-18"),
        ("Title\n\n16-Jan-2020 Agency | 6:02 AM", "2020-01-16"),
        ("Title\nMarch 3, 2021 — Reuters", "2021-03-03"),
        ("Title\n3 Sept 2019", "2019-09-03"),
        ("No date here at all.", None),
        ("Title\n2020-02-31 is not a date", None),
    ],
)
def test_parse_date(text, expected):
    assert parse_date(text) == expected


def test_bad_files_are_skipped_with_the_reason(tmp_path):
    (tmp_path / "good.txt").write_text("Harris met Lee in Seoul on Tuesday.", encoding="utf-8")
    (tmp_path / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tmp_path / "empty.md").write_text("  \n")
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")  # not an article type: ignored silently
    scan = scan_corpus(tmp_path)
    assert [s.id for s in scan.sources] == ["good"]
    messages = sorted(s.message for s in scan.skipped)
    assert len(messages) == 2
    assert "empty.md: empty" in messages[0]
    assert "image.txt: binary content" in messages[1]


TEXT = "Café owners in Seoul said prices rose by 5% in March."


@pytest.mark.parametrize(
    "encoded",
    [
        TEXT.encode("utf-16"),  # with a byte-order mark
        TEXT.encode("utf-16-le"),
        TEXT.encode("utf-16-be"),
        TEXT.encode("utf-32"),
        TEXT.encode("utf-32-le"),
        TEXT.encode("utf-32-be"),
        TEXT.encode("utf-8-sig"),
    ],
)
def test_utf16_and_utf32_are_decoded_not_skipped(tmp_path, encoded):
    assert decode(encoded) == TEXT
    (tmp_path / "wide.txt").write_bytes(encoded)
    (article,) = _articles(tmp_path).values()
    assert article.sentences[0].text == TEXT


@pytest.mark.parametrize(
    ("front", "title", "date"),
    [
        (
            "---\ntitle: Floods in the north\ndate: 2020-01-02\nauthor: A. Writer\n---\n",
            "Floods in the north",
            "2020-01-02",
        ),
        ('+++\ntitle = "Floods in the north"\ndate = 2020-01-02\n+++\n', "Floods in the north", "2020-01-02"),
        ("---\ntitle: [unclosed\n---\n", None, None),  # does not parse: still metadata, never cited
    ],
)
def test_markdown_front_matter_is_metadata_never_cited(tmp_path, front, title, date):
    (tmp_path / "a.md").write_text(front + "The river flooded the town in March. Residents left.\n")
    (article,) = _articles(tmp_path).values()
    assert [s.text for s in article.sentences] == ["The river flooded the town in March.", "Residents left."]
    assert article.title == (title or "The river flooded the town in March.")
    assert article.date == date


def test_an_overlong_line_is_cut_into_bounded_sentences(tmp_path):
    (tmp_path / "long.txt").write_text("Title\n\n" + "word " * 400_000 + "\n\nThe end is near.\n")
    (article,) = _articles(tmp_path).values()
    assert max(len(s.text) for s in article.sentences) <= MAX_SENTENCE_CHARS
    assert article.sentences[-1].text == "The end is near."
    assert all(article.text[s.start : s.end] == s.text for s in article.sentences)


def test_symlinked_folders_are_followed_once_loops_stop_and_links_out_need_asking(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "real").mkdir(parents=True)
    (corpus / "real" / "a.txt").write_text("Harris met Lee in Seoul on Tuesday.")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "b.txt").write_text("Moon visited Busan on Friday.")
    (corpus / "linked").symlink_to(outside, target_is_directory=True)
    (corpus / "real" / "loop").symlink_to(corpus, target_is_directory=True)
    scan = scan_corpus(corpus, follow_links=True)
    assert sorted(s.id for s in scan.sources) == ["linked/b", "real/a"]
    assert [s.reason for s in scan.skipped] == ["a link to a folder that is already indexed"]
    scan = scan_corpus(corpus)  # by default the corpus is a boundary
    assert [s.id for s in scan.sources] == ["real/a"]
    assert sorted(s.reason for s in scan.skipped) == [
        "a link to a folder outside the corpus (" + shown_path(outside.resolve()) + ")",
        "a link to a folder that is already indexed",
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_unreadable_folders_are_reported(tmp_path):
    (tmp_path / "a.txt").write_text("Harris met Lee in Seoul on Tuesday.")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        scan = scan_corpus(tmp_path)
    finally:
        locked.chmod(0o755)
    assert [s.id for s in scan.sources] == ["a"]
    assert "unreadable folder" in scan.skipped[0].reason


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file systems refuse names that are not UTF-8")
def test_file_names_that_are_not_utf8_work(tmp_path):
    name = os.fsencode(tmp_path) + b"/caf\xe9.txt"
    with open(name, "wb") as handle:
        handle.write(b"Harris met Lee in Seoul on Tuesday.")
    (article,) = _articles(tmp_path).values()
    assert article.id == "caf\\xe9"
    assert article.path.endswith("caf\\xe9.txt")
    article.path.encode("utf-8")


def test_non_utf8_text_is_decoded_not_dropped(tmp_path):
    (tmp_path / "latin.txt").write_bytes("Café owners in Seoul said prices rose.".encode("cp1252"))
    (article,) = _articles(tmp_path).values()
    assert article.sentences[0].text == "Café owners in Seoul said prices rose."


def test_nested_folders_give_path_ids(tmp_path):
    (tmp_path / "2020").mkdir()
    (tmp_path / "2020" / "a.md").write_text("# Heading here\n\nBody text of the article.")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "b.txt").write_text("Hidden text.")
    articles = _articles(tmp_path)
    assert list(articles) == ["2020/a"]
    assert articles["2020/a"].title == "Heading here"


def test_missing_corpus_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        scan_corpus(tmp_path / "nope")


def test_a_saved_web_page_gives_its_article_and_metadata_not_its_furniture(tmp_path):
    (tmp_path / "ferry.html").write_text(PAGE, encoding="utf-8")
    (article,) = _articles(tmp_path).values()
    texts = [s.text for s in article.sentences]
    assert "The port authority said repairs had cost about 2 million dollars and took eight weeks to finish." in texts
    assert not any(word in article.text for word in ("cookies", "Share on", "Related stories", "Copyright", "Sport"))
    assert article.title == "Harbour ferry sails again"
    assert (article.date, article.author, article.source) == ("2021-05-04", "Jane Reporter", "Coast News")
    assert article.url == "https://coast.example/ferry"
    assert all(article.text[s.start : s.end] == s.text for s in article.sentences)


def test_a_page_without_an_article_is_skipped_with_a_reason(tmp_path):
    from qa.ingest.formats import Unreadable

    (tmp_path / "menu.html").write_text("<html><body><nav><a href='/'>Home</a></nav></body></html>")
    (source,) = scan_corpus(tmp_path).sources
    with pytest.raises(Unreadable, match="no article text"):
        parse_article(source)


def test_a_text_pdf_gives_pages_without_running_headers_and_joins_hyphenation(tmp_path):
    from qa.ingest.formats import page_of
    from tests.helpers.pdfs import text_pdf

    pages = [
        [
            "Quarterly Report - ACME Corp",
            "The board met on Monday and approved the merger with",
            "its long-stand-",
            "ing rival for $2bn in cash.",
            "1",
        ],
        ["Quarterly Report - ACME Corp", "Shareholders will vote on the deal in March.", "2"],
        ["Quarterly Report - ACME Corp", "The chief executive said jobs would be safe.", "3"],
    ]
    (tmp_path / "report.pdf").write_bytes(text_pdf(pages, title="ACME merger", created="20200102120000"))
    (article,) = _articles(tmp_path).values()
    texts = [s.text.replace("\n", " ") for s in article.sentences]
    assert texts == [
        "The board met on Monday and approved the merger with its long-standing rival for $2bn in cash.",
        "Shareholders will vote on the deal in March.",
        "The chief executive said jobs would be safe.",
    ]  # no running header, no page numbers, the hyphenated word joined
    assert (article.title, article.date) == ("ACME merger", "2020-01-02")
    assert [page_of(article.pages, s.start) for s in article.sentences] == [1, 2, 3]


def test_a_pdf_without_a_text_layer_is_skipped_with_a_reason(tmp_path):
    from qa.ingest.formats import Unreadable
    from tests.helpers.pdfs import text_pdf

    (tmp_path / "scan.pdf").write_bytes(text_pdf([[], []]))
    (source,) = scan_corpus(tmp_path).sources
    with pytest.raises(Unreadable, match="no text layer"):
        parse_article(source)


@pytest.mark.parametrize("visible", ["<p>Subscribe to read this article in full.</p>", ""])
def test_a_page_whose_text_is_only_in_its_json_ld_is_read_from_there(tmp_path, visible):
    body = " ".join(
        f"Paragraph {i} of the column says the council met on Tuesday to discuss the budget." for i in range(8)
    )
    page = (
        "<html><head><title>Council budget | The Daily</title>"
        '<script type="application/ld+json">{"@context": "https://schema.org", "@graph": [{"@type": "NewsArticle", '
        f'"headline": "Council budget", "articleBody": "{body}"}}]}}</script></head>'
        f"<body>{visible}</body></html>"  # with nothing visible trafilatura finds no document at all
    )
    (tmp_path / "paywalled.html").write_text(page, encoding="utf-8")
    (article,) = _articles(tmp_path).values()
    assert len(article.sentences) >= 8 and "Paragraph 7 of the column" in article.text
