"""Your own documents end to end: markdown, text, HTML and a PDF the test writes, redacted,
split, asked about and verified; unusable files are skipped with a reason each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factory.dataset import read_manifest, read_split
from factory.errors import RecipeError
from factory.output import parse_output
from factory.pipeline.documents import read_documents, redact
from factory.pipeline.run import generate
from factory.recipe import load_recipe


def tiny_pdf(lines: list[str]) -> bytes:
    """A one-page PDF showing `lines` in Helvetica (a minimal hand-written writer)."""
    text = (
        "BT /F1 11 Tf 50 760 Td 14 TL "
        + " ".join(
            "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") Tj T*"
            for line in lines
        )
        + " ET"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(text) + text.encode("latin-1") + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "fees.md").write_text(
        "# Fees\n\n## Card fees\n\n| Card | Annual fee | Purchase APR |\n|---|---|---|\n"
        "| Harbor Card | $45 | 19.9% |\n| Summit Card | $0 | 24.5% |\n\n"
        "## Contacts\n\nQuestions go to Jennifer Walsh at jennifer.walsh@example.com or "
        "415-555-0134.\n",
        encoding="utf-8",
    )
    (folder / "glossary.txt").write_text(
        "Glossary\n\nGrace period: the 21 days after a statement closes in which no interest "
        "is charged.\n\nLate fee\n\nThe late fee is $29.\n",
        encoding="utf-8",
    )
    (folder / "service.html").write_text(
        "<html><head><style>p{}</style></head><body><h1>Service</h1><h2>Branch hours</h2>"
        "<p>The branch opening time is 9 a.m. on weekdays.</p>"
        "<table><tr><th>Channel</th><th>Response time</th></tr>"
        "<tr><td>Email</td><td>2 days</td></tr></table></body></html>",
        encoding="utf-8",
    )
    (folder / "policy.pdf").write_bytes(
        tiny_pdf(["Dispute policy", "The dispute window is 60 days.", "Refunds take 10 days."])
    )
    (folder / "empty.md").write_text("   \n", encoding="utf-8")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (folder / "notes.docx").write_bytes(b"PK\x03\x04")
    return folder


def test_every_format_is_read_redacted_and_split(docs: Path) -> None:
    passages, documents, report = read_documents(
        docs.parent, "docs/*", chunk_words=200, max_bytes=10_000, source="recipe.yaml"
    )
    ids = {p.id for p in passages}
    # Paths are the recipe folder's; converted files are kept as markdown beside their name.
    assert "docs/fees.md § Card fees" in ids
    assert "docs/glossary.txt § Glossary" in ids and "docs/glossary.txt § Late fee" in ids
    assert "docs/service.html.md § Branch hours" in ids
    assert any(p.path == "docs/policy.pdf.md" and "60 days" in p.text for p in passages)
    contacts = next(p for p in passages if p.heading == "Contacts").text
    assert "Jennifer" not in contacts and "example.com" not in contacts and "555" not in contacts
    assert report["documents"]["docs/fees.md"]["redacted"] == {"name": 1, "email": 1, "phone": 1}
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    assert skipped["docs/empty.md"].startswith("empty")
    assert skipped["docs/broken.pdf"].startswith("unreadable PDF")
    assert skipped["docs/notes.docx"].startswith("unsupported file type")
    assert "| Email | 2 days |" in documents["docs/service.html.md"]


def test_encrypted_and_huge_files_are_skipped_with_a_reason(tmp_path: Path) -> None:
    import io

    import pypdf

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(tiny_pdf(["Secret"]))))
    writer.encrypt(user_password="pw", algorithm="RC4-128")
    (tmp_path / "locked.pdf").write_bytes(_bytes(writer))
    (tmp_path / "big.txt").write_text("word " * 5000, encoding="utf-8")
    (tmp_path / "ok.md").write_text("# A\n\nThe fee is $5.\n", encoding="utf-8")
    _, _, report = read_documents(tmp_path, "*", chunk_words=200, max_bytes=2_000, source="r")
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    assert skipped["locked.pdf"] == "encrypted PDF (no password to open it)"
    assert skipped["big.txt"].startswith("too large")


def _bytes(writer) -> bytes:
    import io

    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_redaction_counts_each_kind() -> None:
    text, removed = redact("Call Dr. Smith or Maria Lopez on 415-555-0134; SSN 123-45-6789.")
    assert "[REDACTED NAME]" in text and "Lopez" not in text and "6789" not in text
    assert removed == {"name": 2, "phone": 1, "ssn": 1}


def test_a_recipe_may_not_read_outside_its_folder(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    for pattern in ("../elsewhere/*.md", "/etc/passwd"):
        recipe.write_text(
            f"name: k\ndomain: knowledge\ndescription: d\nknowledge:\n  documents: {pattern}\n"
        )
        with pytest.raises(RecipeError, match=r"knowledge\.documents"):
            load_recipe(recipe)
    recipe.write_text("name: k\ndomain: knowledge\ndescription: d\nknowledge:\n  corpus: /x\n")
    with pytest.raises(RecipeError, match="set by fin-factory"):
        load_recipe(recipe)


def test_own_documents_end_to_end(docs: Path) -> None:
    recipe_file = docs.parent / "mine.yaml"
    recipe_file.write_text(
        "name: mine\ndomain: knowledge\ndescription: my docs\nknowledge:\n  documents: docs\n"
        "profiles:\n  count: 30\n  shard_size: 100\n",
        encoding="utf-8",
    )
    out = docs.parent / "out"
    result = generate(load_recipe(recipe_file), out)
    manifest = read_manifest(out)
    assert result.final.kept > 0
    assert {s["path"] for s in manifest["documents"]["skipped"]} == {
        "docs/empty.md", "docs/broken.pdf", "docs/notes.docx",
    }  # fmt: skip
    assert manifest["documents"]["documents"]["docs/fees.md"]["redacted"]["email"] == 1
    assert "jennifer" not in (out / "documents" / "docs" / "fees.md").read_text().lower()
    assert json.loads((out / "documents" / "corpus.json").read_text())["passages"]
    train = read_split(out, "train")
    kinds = set(train["kind"])
    assert {"table", "unanswerable"} <= kinds | set(read_split(out, "test")["kind"])
    parsed = parse_output(train["messages"][0][-1]["content"])
    assert parsed.ok and parsed.decision == train["decision"][0]
    assert manifest["verifiers"]["grounding"]["rejected"] == 0
