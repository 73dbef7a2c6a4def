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
    NOT_TEXT + "\n\nDokument läggs till genom att filen läggs i kunskapsmappen och "
    "<code>rutinbot index</code> körs; uppladdning här i chatten kommer i en senare version."
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
