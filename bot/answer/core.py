"""The one core every front end calls: `Answerer.answer(question) -> Answer`."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from bot import __version__
from bot.answer import confidence
from bot.answer.asks import asked, share_met
from bot.answer.calibration import in_use
from bot.answer.passages import best_sentence, distinct, excerpt, to_citation
from bot.answer.terms import question_terms
from bot.clock import swedish_today
from bot.config import Settings
from bot.errors import IndexMissingError, QuestionError, RutinbotError
from bot.models import Answer, Chunk, Citation, Hit
from bot.safetext import clean_text
from bot.search import store
from bot.search.embedding import embed_text
from bot.search.encoders import Encoder, load_encoder
from bot.search.retriever import Ranking, Retriever

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexInfo:
    """What /om and `rutinbot docs` show about the index in service."""

    version: str
    built_at: str
    encoder: str
    chunk_count: int
    documents: tuple[store.DocumentRecord, ...]
    skipped: tuple[dict, ...]
    calibration: str = ""  # which calibration decides "answered" (shipped or the deployment's)
    calibration_sv: str = ""  # the same in Swedish, for /om


@dataclass(frozen=True)
class Search:
    """One question's retrieval: what `answer()` is made of, kept for benches and calibration."""

    retriever: Retriever
    ranking: Ranking
    hits: tuple[Hit, ...]
    citations: tuple[Citation, ...]
    features: dict[str, float]


# A question asking who, to whom, when or how long prefers, among the first few hits, the
# passage whose best window states a person, a recipient, a time or a deadline over one that
# only shares the topic (issue 11: a to-whom question ranked the feedback paragraph first and
# the reporting step second). The bonus is in fused-score units (a z-scored cosine mixed with
# scaled BM25). bench/fact_ranking.py, 0 -> 0.6: recall@3 266 -> 270 of 300 on the sample's
# sets, 38 -> 38 of 40 on corpus-b, where "vem ska jag rapportera lex sarah till?" goes 3 -> 1.
FACT_BONUS = 0.6
FACT_RERANK = 5
_RANKED_KINDS = frozenset({"person", "recipient", "time"})


def prefer_stated_facts(hits: tuple[Hit, ...], question: str) -> tuple[Hit, ...]:
    """The hits with the first FACT_RERANK reordered by fused score plus FACT_BONUS times the
    share of the asked kinds of fact their best window states."""
    kinds = asked(question) & _RANKED_KINDS
    if not kinds or not FACT_BONUS:
        return hits
    head = list(hits[:FACT_RERANK])

    def window_text(hit: Hit) -> str:
        chunk = hit.chunk
        first, last = chunk.windows[hit.window] if chunk.windows else (0, len(chunk.sentences))
        spans = chunk.sentences[first:last] or ((0, len(chunk.text)),)
        return chunk.text[spans[0][0] : spans[-1][1]]

    bonus = {id(h): FACT_BONUS * share_met(kinds, window_text(h), question) for h in head}
    head.sort(key=lambda h: -(h.score + bonus[id(h)]))  # stable: ties keep the fused order
    return (*head, *hits[FACT_RERANK:])


class Answerer:
    """Loads the encoder once and the current index, and follows a reindex without a restart.

    `answer()` has no side effects: recording questions belongs to the front ends. It is safe to
    call from several threads (the Telegram bot runs it in a thread pool).
    """

    def __init__(
        self,
        settings: Settings,
        encoder: Encoder | None = None,
        today: Callable[[], date] = swedish_today,
    ) -> None:
        self.settings = settings
        self.encoder = encoder or load_encoder(settings.encoder)
        # Asked on every question: a document outside its validity on that day is never cited.
        self.today = today
        self._lock = threading.Lock()
        self._retriever: Retriever | None = None
        self._loaded_from: str | None = None
        # The deployment's own calibration (rutinbot calibrate --write) wins over the shipped one.
        used = in_use(settings.paths.index, self.encoder.name, settings.answer.min_confidence)
        self.calibration = used.model
        self.threshold = used.threshold
        self.calibration_description = used.description
        self.calibration_sv = used.sv
        self.retriever()  # fail now, with a clear message, if there is no usable index

    def retriever(self) -> Retriever:
        """The current index, reloaded when `rutinbot index` has published a new one."""
        link = self.settings.paths.index / store.CURRENT
        try:
            target = os.readlink(link)
        except OSError:
            target = None
        if self._retriever is not None and target == self._loaded_from:
            return self._retriever
        with self._lock:
            if self._retriever is None or target != self._loaded_from:
                try:
                    folder, manifest = store.open_current(
                        self.settings.paths.index, self.encoder.name
                    )
                    retriever = Retriever(folder, manifest, self.settings.retrieval)
                except RutinbotError as err:
                    if self._retriever is None:
                        raise
                    # A new index that cannot be used must not take down a serving process.
                    kept = self._retriever.folder.name
                    log.error("kept index %s: the new one is unusable: %s", kept, err)
                    self._loaded_from = target  # not retried until the index changes again
                    return self._retriever
                self._retriever = retriever
                if self._loaded_from is not None:
                    log.info("switched to new index %s", folder.name)
                self._loaded_from = target
        return self._retriever

    def check_question(self, question: object) -> str:
        """The question, tidied; QuestionError with a message for staff when it can't be asked."""
        if not isinstance(question, str):
            raise QuestionError(
                "the question must be text", sv="Jag kan bara svara på frågor skrivna som text."
            )
        text = " ".join(clean_text(question).split())
        if not text:
            raise QuestionError(
                "the question is empty",
                sv="Skriv en fråga, till exempel: ”Vem ska jag rapportera lex Sarah till?”",
            )
        limit = self.settings.answer.max_question_chars
        if len(text) > limit:
            raise QuestionError(
                f"the question is {len(text)} characters long; the limit is {limit}",
                sv=f"Frågan är för lång ({len(text)} tecken). Korta ner den till högst {limit} "
                "tecken och fråga om en sak i taget.",
            )
        if not any(ch.isalnum() for ch in text):
            raise QuestionError(
                "the question contains no words",
                sv="Frågan innehåller inga ord jag kan söka på. Skriv den med ord.",
            )
        return text

    def search(
        self,
        text: str,
        count: int,
        fusion: str | None = None,
        exclude: frozenset[int] = frozenset(),
    ) -> Search:
        """Rank a checked question and cite the first `count` distinct passages.

        A hit is cited by its best sentence not already shown in an earlier citation's excerpt,
        and left out when nothing relevant is left to show, as is a repeat of an earlier
        passage elsewhere in the corpus (search.dedup).
        Benches and calibration call this too, so they measure exactly what staff see
        (calibration also with `exclude`: chunks taken out, see Retriever.rank).
        """
        retriever = self.retriever()
        query_vector = self.encoder.queries([text])[0]
        ranking = retriever.rank(
            query_vector, text, fusion=fusion, exclude=exclude, day=self.today()
        )
        tokenize = retriever.lexical.tokenizer.tokens
        terms = question_terms(list(ranking.words))
        # Which sentence to mark is weighed by general Swedish word rarity, as the features
        # are: the corpus's own idf would make the marked sentence depend on the corpus.
        weights = terms.term_weights()
        query_tokens = set(ranking.query_tokens)

        def overlap(sentence: str) -> float:
            return len(query_tokens.intersection(tokenize(sentence)))

        shown: set[tuple[str, int, int]] = set()
        hits: list[Hit] = []
        citations: list[Citation] = []
        top_sentence: tuple[int, int] | None = None  # (chunk id, sentence) the first one marks
        marked: list[str] = []  # per citation: its marked sentence with its neighbours
        ranked = ranking.hits
        if (fusion or self.settings.retrieval.fusion) == "weighted":  # the bonus is in its units
            ranked = prefer_stated_facts(ranked, text)
        for hit in distinct(ranked):
            chunk = hit.chunk
            section = retriever.section_text(chunk.id)
            key = (chunk.document, chunk.section_id)
            seen = {
                i
                for i in range(len(chunk.sentences))
                if (*key, section.index[(chunk.id, i)]) in shown
            }
            best = best_sentence(
                chunk, query_tokens, tokenize, hit.window, lambda t: weights.get(t, 0.0), seen
            )
            if best is None:  # what it has to say is in earlier citations already
                continue
            passage, span, positions = excerpt(section, chunk, hit.window, best, overlap)
            shown.update((*key, p) for p in positions)
            hits.append(hit)
            citation = to_citation(hit, passage, span)
            citations.append(
                dataclasses.replace(citation, valid_from=chunk.valid_from, owner=chunk.owner)
            )
            center = section.index[(chunk.id, best)]
            marked.append(" ".join(section.sentences[max(center - 1, 0) : center + 2]))
            top_sentence = top_sentence or (chunk.id, best)
            if len(citations) >= count:
                break
        cosine = 0.0
        if top_sentence and len(ranking.sentences):
            cosine = float(ranking.sentences[retriever.sentence_row(*top_sentence)])
        cited = [f"{c.title} {c.date or ''} {c.text}" for c in citations[:3]]
        evidence = confidence.Evidence(
            question=text,
            terms=terms,
            top_tokens=frozenset(tokenize(embed_text(hits[0].chunk))) if hits else frozenset(),
            cited_tokens=frozenset(tokenize(" ".join(cited))),
            marked=tuple(marked[:3]),
            marked_tokens=frozenset(tokenize(marked[0])) if marked else frozenset(),
            text=" ".join(cited),
            sentence_cosine=cosine,
            top=hits[0] if hits else None,
        )
        feats = confidence.features(ranking, evidence)
        return Search(retriever, ranking, tuple(hits), tuple(citations), feats)

    def answer(self, question: object, *, limit: int | None = None, offset: int = 0) -> Answer:
        """Answer a question with ranked citations; `offset` pages further ("Fler källor")."""
        text = self.check_question(question)
        limit = limit or self.settings.answer.citations
        found = self.search(text, offset + limit)
        prob = self.calibration.probability(found.features) if found.hits else 0.0
        return Answer(
            question=text,
            answered=prob >= self.threshold,
            confidence=prob,
            citations=found.citations[offset:],
            index_id=found.retriever.folder.name,
        )

    def section(self, chunk_id: int, index_id: str | None = None) -> list[Chunk]:
        """The whole section a cited chunk belongs to ("Visa hela avsnittet").

        Chunk ids belong to one index: pass the answer's `index_id`, and a citation made before
        a reindex is refused instead of showing some other section. So is a section of a
        document that is no longer (or not yet) valid today, though it was when it was cited.
        """
        retriever = self.retriever()
        stale = index_id is not None and index_id != retriever.folder.name
        if stale or not 0 <= chunk_id < len(retriever.chunks):
            raise IndexMissingError(
                f"chunk {chunk_id} is not in the current index",
                sv="Avsnittet finns inte längre i kunskapsbanken (den har indexerats om). "
                "Ställ frågan igen.",
            )
        if not retriever.valid_on(chunk_id, self.today()):
            chunk = retriever.chunks[chunk_id]
            raise IndexMissingError(
                f"chunk {chunk_id}: its document is not valid today "
                f"(from {chunk.valid_from or '-'} to {chunk.valid_to or '-'})",
                sv="Dokumentet gäller inte längre (eller gäller inte ännu), så avsnittet visas "
                "inte. Ställ frågan igen.",
            )
        return retriever.section(chunk_id)

    def info(self) -> IndexInfo:
        m = self.retriever().manifest
        return IndexInfo(
            __version__,
            m.built_at,
            m.encoder,
            m.chunk_count,
            m.documents,
            m.skipped,
            self.calibration_description,
            self.calibration_sv,
        )
