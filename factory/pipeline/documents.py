"""A run's documents: read, redacted, split into passages, written to OUT/documents/.

For a domain with a corpus (the knowledge domain), `plan_documents` builds it before anything
else is generated: the fabricated company's handbook, or the recipe's own files
(`knowledge.documents`, a path or glob inside the recipe's folder). Own files are read by type

    .md .markdown       as written (its #, ## and ### headings make the sections)
    .txt                paragraphs; a short line followed by a blank line is a heading
    .html .htm          headings, paragraphs, list items and tables (as markdown rows)
    .pdf                pypdf's text of each page (each page a section)

and every one is redacted first: the PII verifier's detectors (SSNs, card and account numbers,
IBANs, emails, phones) and person names (a capitalised first name from Faker's lists followed
by a capitalised word, or a name after Mr/Ms/Mrs/Dr), each replaced by [REDACTED KIND]. A file
that cannot be used (unsupported type, too large, unreadable, encrypted, empty) is skipped with
a one-line reason; the rest of the run goes on, and the manifest lists both.

pypdf reads PDFs: pure Python (no system library to install on CI or a user's machine),
maintained, and it reports encrypted files instead of failing on them.
"""

from __future__ import annotations

import glob
import hashlib
import html.parser
import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from factory.domains._documents import Corpus, Passage, corpus_to_json, write_passages
from factory.errors import RecipeError
from factory.recipe import RecipeBase, domain_settings
from factory.verify.numbers import extract_numbers
from factory.verify.pii import find_pii

DOCUMENTS = "documents"
CORPUS_FILE = "corpus.json"
PASSAGES_FILE = "passages.jsonl"
REPORT_FILE = "report.json"
SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf")

_HONORIFIC = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?\s+[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?")
_CAPITALISED_PAIR = re.compile(r"\b([A-Z][a-z]+)\s+([A-Z][a-z]+(?:-[A-Z][a-z]+)?)\b")
_HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*#*$")


def plan_documents(recipe: RecipeBase, out_dir: Path) -> tuple[RecipeBase, Corpus | None]:
    """The run's corpus and the recipe pointing at it (OUT/documents/corpus.json).

    Returns (recipe, None) for a domain without a corpus.

    Raises:
        RecipeError: `knowledge.documents` matches no file, or none of its files is usable.
    """
    settings = domain_settings(recipe)
    domain = recipe.domain_impl
    seed = recipe.profiles.seed
    pattern = getattr(settings, "documents", None)
    if settings is None:
        return recipe, None
    if pattern is None:
        corpus = domain.corpus(settings, seed)
    else:
        root = Path(getattr(settings, "root", None) or Path.cwd())
        passages, documents, report = read_documents(
            root, pattern, chunk_words=settings.chunk_words,  # type: ignore[attr-defined]
            max_bytes=settings.max_file_bytes,  # type: ignore[attr-defined]
            source=str(recipe.source or recipe.name),
        )  # fmt: skip
        built = domain.corpus(settings, seed, passages=passages)
        corpus = None if built is None else replace(built, documents=documents, report=report)
    if corpus is None:
        return recipe, None
    blob = json.dumps(corpus_to_json(corpus), sort_keys=True).encode()
    key = domain.settings_section[0]  # type: ignore[index]
    prepared = settings.model_copy(
        update={
            "corpus": (out_dir / DOCUMENTS / CORPUS_FILE).resolve(),
            "corpus_sha256": hashlib.sha256(blob).hexdigest(),
        }
    )
    return recipe.model_copy(update={key: prepared}), corpus


def write_documents(corpus: Corpus, folder: Path) -> None:
    """Writes the documents (as redacted), corpus.json, passages.jsonl and report.json."""
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in corpus.documents.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    for name, data in ((CORPUS_FILE, corpus_to_json(corpus)), (REPORT_FILE, corpus.report)):
        partial = folder / f"{name}.partial"
        partial.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
        partial.replace(folder / name)
    write_passages(corpus.passages, folder / PASSAGES_FILE)


def read_documents(
    root: Path, pattern: str, *, chunk_words: int, max_bytes: int, source: str
) -> tuple[list[Passage], dict[str, str], dict[str, Any]]:
    """Reads, redacts and splits the files `pattern` matches inside `root`.

    Returns the passages, the redacted text of each used document (by relative path, with a
    .md suffix for the converted ones) and the report: per document what was removed, and the
    skipped files with why.
    """
    root = root.resolve()
    files = _matches(root, pattern)
    if not files:
        raise RecipeError(source, f"matches no file under {root}", field="knowledge.documents")
    passages: list[Passage] = []
    documents: dict[str, str] = {}
    report: dict[str, Any] = {"source": "documents", "pattern": pattern, "documents": {},
                              "skipped": []}  # fmt: skip
    for path in files:
        relative = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
        text, problem = _read(path, root, max_bytes)
        if problem is None and not (text or "").strip():
            problem = "empty: no text to read"
        if problem is not None:
            report["skipped"].append({"path": relative, "reason": problem})
            continue
        assert text is not None
        clean, removed = redact(text)
        name = relative if path.suffix.lower() in (".md", ".markdown", ".txt") else relative + ".md"
        documents[name] = clean
        sections = _sections(clean, path.suffix.lower(), Path(relative).stem)
        found = [
            Passage(name, heading, body, tuple(n.value for n in extract_numbers(body)))
            for heading, body in _chunks(sections, chunk_words)
        ]
        passages += found
        report["documents"][name] = {"passages": len(found), "redacted": dict(removed)}
    if not passages:
        reasons = "; ".join(f"{s['path']}: {s['reason']}" for s in report["skipped"])
        raise RecipeError(source, f"no usable document ({reasons})", field="knowledge.documents")
    return passages, documents, report


def _matches(root: Path, pattern: str) -> list[Path]:
    base = root / pattern
    if base.is_dir():
        candidates = [p for p in base.rglob("*") if p.is_file()]
    else:
        candidates = [Path(p) for p in glob.glob(str(base), recursive=True) if Path(p).is_file()]
    # A link that leads out of the recipe's folder is not the recipe's to read.
    return sorted(p for p in candidates if p.resolve().is_relative_to(root))


def _read(path: Path, root: Path, max_bytes: int) -> tuple[str | None, str | None]:
    """(text, None), or (None, why the file is skipped)."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        return None, f"unsupported file type {suffix or '(none)'}; use {', '.join(SUFFIXES)}"
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return None, f"too large: {size:,} bytes (knowledge.max_file_bytes is {max_bytes:,})"
        if suffix == ".pdf":
            return _read_pdf(path)
        raw = path.read_bytes()
    except OSError as err:
        return None, f"unreadable ({err.strerror or err})"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    return (_html_to_markdown(text) if suffix in (".html", ".htm") else text), None


def _read_pdf(path: Path) -> tuple[str | None, str | None]:
    import pypdf

    try:
        reader = pypdf.PdfReader(str(path))
        if reader.is_encrypted:
            try:
                opened = bool(reader.decrypt(""))
            except Exception:  # pypdf raises several kinds for ciphers it cannot open
                opened = False
            if not opened:
                return None, "encrypted PDF (no password to open it)"
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as err:  # a damaged PDF raises anything from pypdf's parser
        return None, f"unreadable PDF ({type(err).__name__}: {err})"
    text = "\n\n".join(f"# Page {i}\n\n{page.strip()}" for i, page in enumerate(pages, 1)
                       if page.strip())  # fmt: skip
    return text, None


class _HtmlText(html.parser.HTMLParser):
    """HTML to markdown-ish text: headings, paragraphs, list items, table rows."""

    _BLOCKS = frozenset({"p", "div", "li", "br", "tr", "section", "article", "ul", "ol", "table"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.cells: list[str] | None = None
        self.skip = 0
        self.prefix = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self.skip += 1
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._flush()
            self.prefix = "#" * min(int(tag[1]), 3) + " "
        elif tag == "tr":
            self._flush()
            self.cells = []
        elif tag in ("td", "th") and self.cells is not None:
            self.current = []
        elif tag in self._BLOCKS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self.skip = max(0, self.skip - 1)
        elif tag in ("td", "th") and self.cells is not None:
            self.cells.append(" ".join("".join(self.current).split()))
            self.current = []
        elif tag == "tr" and self.cells is not None:
            header = not any(line.startswith("|") for line in self.lines[-1:])
            self.lines.append("| " + " | ".join(self.cells) + " |")
            if header:
                self.lines.append("|" + "---|" * len(self.cells))
            self.cells = None
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6") or tag in self._BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.current.append(data)

    def _flush(self) -> None:
        text = " ".join("".join(self.current).split())
        if text and self.cells is None:
            if self.lines and self.lines[-1].startswith("|"):
                self.lines.append("")
            self.lines.append(self.prefix + text)
        self.current, self.prefix = [], ""


def _html_to_markdown(text: str) -> str:
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    parser._flush()
    return "\n".join(parser.lines)


def redact(text: str) -> tuple[str, Counter[str]]:
    """`text` with PII and person names replaced by [REDACTED KIND]; the count of each kind."""
    removed: Counter[str] = Counter()
    spans = [(h.start, h.start + len(h.text), h.kind) for h in find_pii(text)]
    spans += [(m.start(), m.end(), "name") for m in _HONORIFIC.finditer(text)]
    first = _first_names()
    for match in _CAPITALISED_PAIR.finditer(text):
        if match.group(1) in first and match.group(2) not in first:
            spans.append((match.start(), match.end(), "name"))
    out, last = [], 0
    for start, end, kind in sorted(spans):
        if start < last:
            continue  # overlaps a span already redacted
        out.append(text[last:start])
        out.append(f"[REDACTED {kind.upper()}]")
        removed[kind] += 1
        last = end
    out.append(text[last:])
    return "".join(out), removed


def _first_names() -> frozenset[str]:
    cached = globals().get("_FIRST_NAMES")
    if cached is None:
        from faker.providers.person.en_US import Provider

        # Words that open sentences of documents far more often than they name someone.
        common = {"Will", "May", "June", "Grant", "Bill", "Chase", "Page", "Mark", "Rich"}
        cached = frozenset(Provider.first_names) - common
        globals()["_FIRST_NAMES"] = cached
    return cached


def _clean_heading(text: str) -> str:
    return " ".join(re.sub(r"[\[\]§|*_`]", " ", text).split())[:120] or "Untitled"


def _sections(text: str, suffix: str, stem: str) -> list[tuple[str, str]]:
    """(heading, body) of each section: markdown headings, or a plain text's short lines."""
    sections: list[tuple[str, list[str]]] = [(_clean_heading(stem), [])]
    lines = text.splitlines()
    for i, line in enumerate(lines):
        marked = _HEADING.match(line.strip())
        if suffix == ".txt" and marked is None:
            after = lines[i + 1].strip() if i + 1 < len(lines) else ""
            before = lines[i - 1].strip() if i else ""
            short = 0 < len(line.strip()) <= 60 and not line.strip().endswith((".", ":", ","))
            if short and not before and not after:
                sections.append((_clean_heading(line), []))
                continue
        if marked is not None:
            sections.append((_clean_heading(marked.group(2)), []))
        else:
            sections[-1][1].append(line)
    out = []
    for heading, body in sections:
        joined = "\n".join(body).strip()
        if joined:
            out.append((heading, joined))
    return out


def _chunks(sections: list[tuple[str, str]], chunk_words: int) -> list[tuple[str, str]]:
    """Sections of at most `chunk_words` words: a longer one is cut between paragraphs (or
    lines), its parts headed "<heading> (part N)"; repeated headings are numbered too."""
    out: list[tuple[str, str]] = []
    seen: Counter[str] = Counter()
    for heading, body in sections:
        parts: list[list[str]] = [[]]
        words = 0
        for block in re.split(r"\n\s*\n|\n(?=\S)", body):
            size = len(block.split())
            if parts[-1] and words + size > chunk_words:
                parts.append([])
                words = 0
            parts[-1].append(block.strip())
            words += size
        for n, part in enumerate(parts, 1):
            name = heading if len(parts) == 1 else f"{heading} (part {n})"
            seen[name] += 1
            if seen[name] > 1:
                name = f"{name} ({seen[name]})"
            out.append((name, "\n".join(p for p in part if p)))
    return out
