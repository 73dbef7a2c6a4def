"""Small frozen dataclasses that cross module borders: Document, Chunk, Hit, Citation, Answer."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Block:
    """A piece of a read document: a heading or a paragraph, with the page it starts on."""

    text: str
    kind: str = "para"  # "heading" or "para"
    level: int = 0  # heading level (1 = top); 0 for paragraphs and unknown-level headings
    page: int | None = None


@dataclass(frozen=True)
class Document:
    """A file in the knowledge folder, read into blocks."""

    path: str  # file name relative to the knowledge folder
    title: str
    date: str | None  # ISO date (YYYY-MM-DD) when known
    sha256: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage with where it comes from."""

    id: int  # position in the index (its row in the vector matrix)
    document: str  # file name in knowledge/
    title: str
    date: str | None
    section: tuple[str, ...]  # heading path, outermost first
    section_id: int  # chunks of one section share this id
    page: int | None
    position: int  # order of the chunk within its document
    text: str
    sentences: tuple[tuple[int, int], ...]  # sentence spans in `text`, precomputed for highlighting
    sha: str  # hash of the text that was embedded (embedding cache key)
    dup_of: int | None = None  # id of an earlier chunk with (nearly) the same text
    # Sentence ranges [start, end) that are embedded one by one: a chunk is scored by its best
    # window, so a passage that answers in one sentence is not drowned by the rest of the chunk.
    windows: tuple[tuple[int, int], ...] = ()
    # From the document's sidecar (bot.ingest.metadata): who answers for it, and the days
    # (YYYY-MM-DD, both included) it may be cited; None: not given (always valid).
    owner: str | None = None
    valid_from: str | None = None
    valid_to: str | None = None

    @property
    def section_path(self) -> str | None:
        return " › ".join(self.section) if self.section else None


@dataclass(frozen=True)
class Hit:
    """A chunk with the scores that ranked it."""

    chunk: Chunk
    score: float  # fused score, higher is better
    dense: float | None = None  # cosine similarity
    lexical: float | None = None  # BM25 score
    dense_rank: int | None = None
    lexical_rank: int | None = None
    window: int = 0  # the chunk's best-matching window


@dataclass(frozen=True)
class Citation:
    """A passage as shown to a person."""

    document: str
    title: str
    section: str | None
    page: int | None
    date: str | None
    text: str  # at most ~1000 characters, trimmed around the most relevant sentences
    highlight: tuple[int, int] | None  # span of the most relevant sentence in `text`
    score: float
    chunk_id: int
    section_id: int
    valid_from: str | None = None  # "gäller från" (YYYY-MM-DD) when the document gives it
    owner: str | None = None  # "ansvarig" when the document gives it

    def to_json(self) -> dict:
        return {
            "document": self.document,
            "title": self.title,
            "section": self.section,
            "page": self.page,
            "date": self.date,
            "text": self.text,
            "score": round(float(self.score), 6),
            "highlight": list(self.highlight) if self.highlight else None,
            "chunk_id": self.chunk_id,
            "section_id": self.section_id,
            "valid_from": self.valid_from,
            "owner": self.owner,
        }


@dataclass(frozen=True)
class Answer:
    """What every front end renders: answered or not, a confidence, ranked citations."""

    question: str
    answered: bool
    confidence: float  # estimated probability that the top citations answer the question
    citations: tuple[Citation, ...] = field(default_factory=tuple)
    index_id: str = ""  # the index the citations' chunk ids refer to

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "answered": self.answered,
            "confidence": round(float(self.confidence), 4),
            "citations": [c.to_json() for c in self.citations],
            "index_id": self.index_id,
        }
