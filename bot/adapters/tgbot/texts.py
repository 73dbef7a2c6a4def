"""What the Telegram bot says, in Swedish, in one place (HTML, already escaped)."""

from __future__ import annotations

from bot.gaps.tables import THEME_STATUS_SV

HELP = (
    "<b>Hej! Jag är rutinbot.</b>\n"
    "Jag svarar på frågor om kommunens rutiner, riktlinjer och beslut med utdrag ur "
    "dokumenten och anger källan: dokument, avsnitt, sida och datum.\n\n"
    "<b>Exempel på frågor</b>\n"
    "• Vem ska jag rapportera ett missförhållande enligt lex Sarah till?\n"
    "• Hur snabbt ska en orosanmälan om ett barn bedömas?\n"
    "• Vad gäller för samordnad individuell plan (SIP)?\n\n"
    "Under varje svar finns knappar: 👍/👎 säger om svaret hjälpte, <i>Fler källor</i> visar "
    "nästa utdrag och <i>Visa hela avsnittet</i> visar avsnittet som det första utdraget "
    "kommer från.\n\n"
    "<b>Kommandon</b>\n"
    "/kallor – vilka dokument jag kan svara ur\n"
    "/om – version och när kunskapsbanken uppdaterades\n"
    "/help – den här hjälpen\n\n"
    "⚠️ <b>Skriv aldrig klienters namn, personnummer eller andra uppgifter om enskilda.</b> "
    "Telegram är en tjänst utanför kommunen. Fråga om hur något ska göras, inte om ett ärende."
)
GROUP_HINT = (
    "\n\nI en grupp svarar jag bara när du nämner mig (@{username}) eller svarar på mitt "
    "meddelande."
)

REFUSED = (
    "Hej! Den här boten är bara till för kommunens personal inom socialtjänsten, och du finns "
    "inte med bland användarna. Kontakta administratören om du ska ha tillgång och uppge ditt "
    "användar-id: <code>{user_id}</code>"
)
REFUSED_TOAST = "Du har inte behörighet att använda boten. Kontakta administratören."

NOT_TEXT = (
    "Jag kan bara svara på frågor skrivna som text. Röstmeddelanden, bilder, klistermärken och "
    "filer läser jag inte – skriv frågan i stället."
)
NOT_TEXT_ADMIN = (
    NOT_TEXT + "\n\nSom administratör kan du lägga till ett dokument genom att skicka det som "
    "fil (PDF, DOCX, TXT, MD eller HTML) här i den privata chatten."
)

HELPFUL_THANKS = "Tack! Skönt att svaret hjälpte."
UNHELPFUL_THANKS = "Tack! Frågan har noterats så att dokumenten kan kompletteras."
ALREADY_VOTED = "Du har redan lämnat återkoppling på det här svaret."
NO_MORE = "Det finns inga fler källor för den här frågan."
EXPIRED = (
    "Den här knappen fungerar inte längre (boten har startats om eller svaret är för gammalt). "
    "Ställ frågan igen."
)
SECTION_AS_FILE = "Avsnittet är långt, så du får det som fil: <b>{heading}</b>"
ERROR = "Något gick fel. Försök igen om en stund, eller kontakta administratören."

REVIEWER_HELP = (
    "\n\n<b>För granskare</b>\n"
    "/luckor – kunskapsluckor: teman av frågor som dokumenten inte besvarade, med antal"
)
REVIEWERS_ONLY = (
    "Kommandot /luckor är bara för granskare och administratörer. Kontakta administratören om "
    "du ska granska kunskapsluckor."
)
REVIEWERS_ONLY_TOAST = "Den här knappen är bara för granskare och administratörer."
PRIVATE_ONLY = (
    "Kunskapsluckorna visas bara i en privat chatt med mig, så att frågorna inte syns för hela "
    "gruppen. Skriv /luckor till mig där."
)
NO_THEMES = "Inga öppna kunskapsluckor just nu. 🎉"
THEMES_HEADING = "<b>Kunskapsluckor</b> – öppna teman, flest frågor först:"
THEMES_HINT = "Tryck på ett tema för att se frågorna och markera det som löst."
THEME_RESOLVED = "Temat är markerat som löst."
THEME_REOPENED = "Temat är öppet igen."
ANSWERED_NOW = "Besvaras nu: efter den senaste indexeringen svarar dokumenten på frågorna."
THEME_GONE = "Temat finns inte längre (det kan ha slagits ihop med ett annat)."
STATUS = THEME_STATUS_SV
REASON = {"unanswered": "obesvarad", "unhelpful": "👎"}

# -- document administration (admins, private chat only) --------------------------------------

ADMIN_HELP = (
    "\n\n<b>För administratörer</b>\n"
    "Skicka ett dokument som fil (PDF, DOCX, TXT, MD eller HTML) för att lägga till det.\n"
    "/dokument – dokumenten i kunskapsbanken\n"
    "/tabort – ta bort ett dokument\n"
    "/reindex – indexera om dokumenten\n"
    "/papperskorg – borttagna dokument, som kan återställas"
)
ADMINS_ONLY = (
    "Det här kommandot är bara för administratörer. Kontakta administratören om du ska hantera "
    "dokumenten."
)
ADMINS_ONLY_TOAST = "Den här knappen är bara för administratörer."
ADMIN_PRIVATE_ONLY = "Dokumenten hanteras bara i en privat chatt med mig. Skriv till mig där."
TOO_BIG = (
    "Filen är {size} MB. Telegram låter mig bara hämta filer på högst 20 MB, så den har inte "
    "sparats. Lägg in den via webbsidan eller direkt i kunskapsmappen i stället."
)
DOWNLOAD_FAILED = "Jag kunde inte hämta filen från Telegram. Försök skicka den igen."
SAVED = "📄 <b>{name}</b> är sparat."
REPLACED = "📄 <b>{name}</b> är ersatt (dokumentets metadata är kvar)."
REPLACE_BUTTON = "Ersätt"
CANCEL_BUTTON = "Avbryt"
CANCELLED = "Avbrutet. Ingenting har ändrats."
DOWNLOADING = "Hämtar filen igen …"
REMOVE_QUESTION = "Ta bort <b>{name}</b>?"
REMOVE_PICK = "Vilket dokument vill du ta bort?"
REMOVE_YES = "Ja"
REMOVE_NO = "Nej"
REMOVED = (
    "🗑 <b>{name}</b> är borttaget och ligger i papperskorgen. Det försvinner ur svaren när "
    "omindexeringen är klar."
)
RESTORED = "♻️ <b>{name}</b> är återställt."
NO_SUCH_DOCUMENT = "Det finns inget dokument som heter <b>{name}</b>. Skriv /dokument för listan."
NO_DOCUMENTS = "Kunskapsmappen innehåller inga dokument ännu. Skicka ett dokument som fil."
DOCUMENTS_HEADING = "<b>Dokument</b> ({count} st, sida {page} av {pages})"
PASSAGES = "{n} passager"
ONE_PASSAGE = "1 passage"
PAGE_BACK, PAGE_NEXT = "◀", "▶"
DOC_STATE = {
    "indexed": "indexerat",
    "waiting": "väntar på omindexering",
    "skipped": "hoppades över",
    "removed": "borttaget, finns kvar tills omindexeringen är klar",
}
TRASH_EMPTY = "Papperskorgen är tom."
TRASH_HEADING = "<b>Papperskorgen</b> – tryck på ett dokument för att återställa det:"
TRASH_LINE = "{name} – borttaget {at} av {by}"
RESTORE_BUTTON = "Återställ {name}"

REINDEX_STARTED = "⏳ Omindexeringen har startat."
REINDEX_QUEUED = (
    "⏳ En omindexering pågår redan; en ny körs direkt efter den så att ändringen kommer med."
)
PROGRESS = "⏳ <b>Omindexering pågår</b>{by}"
PROGRESS_BY = " (startad av {by})"
PROGRESS_PHASE = {
    "reading": "Läser dokumenten",
    "embedding": "Beräknar passagerna",
    "publishing": "Publicerar det nya indexet",
    "re-asking": "Prövar kunskapsluckornas frågor mot det nya indexet",
}
PROGRESS_DOCUMENTS = "Dokument: {done} av {total}"
PROGRESS_PASSAGES = "Passager: {done} av {total}"
PROGRESS_ETA = "Klart om {eta}"
ETA_SECONDS = "mindre än en minut"
DONE = "✅ <b>Omindexeringen är klar</b> ({seconds})."
FAILED = "❌ <b>Omindexeringen misslyckades:</b> {reason}"
FAILED_REASON = "okänt fel; se loggen på servern"
STILL_RUNNING = (
    "⏳ Omindexeringen pågår fortfarande. Skriv /reindex senare för att se hur det gick."
)
SUMMARY_ADDED = "Tillagda"
SUMMARY_REPLACED = "Ersatta"
SUMMARY_REMOVED = "Borttagna"
SUMMARY_SKIPPED = "Hoppades över"
SUMMARY_NOTHING = "Inga dokument ändrades."
SUMMARY_COUNTS = "Oförändrade dokument: {unchanged}. Passager i indexet: {passages}."
SUMMARY_ANSWERED = "Kunskapsluckor som dokumenten nu besvarar: {n}."
