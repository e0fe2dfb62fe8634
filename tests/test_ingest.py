import warnings

import pytest

from qa.errors import UsageError
from qa.ingest import SkippedFile, parse_article, parse_date, scan_corpus
from tests.conftest import SEEDS


def _articles(corpus):
    return {s.id: parse_article(s) for s in scan_corpus(corpus)}


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


def test_bad_files_are_skipped_with_a_warning_naming_them(tmp_path):
    (tmp_path / "good.txt").write_text("Harris met Lee in Seoul on Tuesday.", encoding="utf-8")
    (tmp_path / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tmp_path / "empty.md").write_text("  \n")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")  # not an article type: ignored silently
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ids = [s.id for s in scan_corpus(tmp_path)]
    assert ids == ["good"]
    messages = sorted(str(w.message) for w in caught if w.category is SkippedFile)
    assert len(messages) == 2
    assert "empty.md: empty" in messages[0]
    assert "image.txt: binary content" in messages[1]


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
        list(scan_corpus(tmp_path / "nope"))
