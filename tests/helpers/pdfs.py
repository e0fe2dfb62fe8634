"""Tiny text PDFs written byte by byte (no PDF library needed to make them): the fixtures of the PDF tests."""

from __future__ import annotations


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_pdf(
    pages: list[list[str]], title: str | None = None, created: str | None = None, claimed_pages: int | None = None
) -> bytes:
    """A PDF whose page i shows the lines pages[i] top to bottom in Helvetica; an empty list of lines makes a
    page without a text layer, as a scanned page is. `claimed_pages` is a page count for the page tree to claim
    instead of the true one (a damaged or hostile file)."""
    objects: list[bytes] = []
    page_ids = []
    font_id = 3
    for lines in pages:
        stream = "".join(
            f"BT /F1 11 Tf 72 {760 - 16 * i} Td ({_escape(line)}) Tj ET\n" for i, line in enumerate(lines)
        ).encode("latin-1")
        content_id = 4 + len(objects)
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"endstream")
        page_id = 4 + len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 %d 0 R >> >> "
            b"/Contents %d 0 R >>" % (font_id, content_id)
        )
        page_ids.append(page_id)
    info = ""
    if title:
        info += f"/Title ({_escape(title)}) "
    if created:
        info += f"/CreationDate (D:{created}) "
    info_id = 4 + len(objects)
    head = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (" ".join(f"{i} 0 R" for i in page_ids).encode(), claimed_pages or len(page_ids)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return _assemble([*head, *objects, f"<< {info}>>".encode("latin-1")], info_id)


def repeated_page_tree(levels: int, fanout: int, line: str) -> bytes:
    """A PDF of a few hundred bytes whose page tree lists one node `fanout` times on each of `levels` levels:
    fanout ** levels pages, all the same one page (a page-count bomb)."""
    stream = f"BT /F1 11 Tf 72 760 Td ({_escape(line)}) Tj ET\n".encode("latin-1")
    nodes = []
    for level in range(levels):
        child = 3 + level  # the next node, the page itself below the last level
        kids = " ".join([f"{child} 0 R"] * fanout).encode()
        parent = b"/Parent %d 0 R " % (1 + level) if level else b""
        nodes.append(b"<< /Type /Pages %s/Kids [%s] /Count %d >>" % (parent, kids, fanout ** (levels - level)))
    content_id, font_id = 3 + levels, 4 + levels
    everything = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        *nodes,
        b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 %d 0 R >> >> "
        b"/Contents %d 0 R >>" % (1 + levels, font_id, content_id),
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"endstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< >>",
    ]
    return _assemble(everything, len(everything))


def _assemble(everything: list[bytes], info_id: int) -> bytes:
    """Numbered objects, the cross-reference table and the trailer around the object bodies."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(everything, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(everything) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(everything) + 1,
        info_id,
        xref,
    )
    return bytes(out)
