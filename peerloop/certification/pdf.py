"""A certificate as a one-page landscape PDF (fpdf2), with its verification link.

Labels are set in a core font (Helvetica). What people typed (the holder's and the issuer's names,
the course title, a revocation's reason) is set in DejaVu Sans when the machine has it (Debian's
fonts-dejavu-core) and the text needs more than Latin-1; any character neither font can draw is
transliterated or replaced, so no name ever breaks the PDF.
"""

from __future__ import annotations

import logging
import unicodedata
from pathlib import Path

from fpdf import FPDF

logging.getLogger("fontTools").setLevel(logging.WARNING)  # its subsetter logs every step at INFO
UNICODE_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
)
_EXTRA = str.maketrans(
    {"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "Đ": "D", "đ": "d", "Œ": "OE", "œ": "oe", "ı": "i", "’": "'", "–": "-"}
)


def unicode_font_path() -> str | None:
    return next((path for path in UNICODE_FONT_CANDIDATES if Path(path).is_file()), None)


def latin1_text(text: str) -> str:
    """``text`` in Latin-1: accents kept where Latin-1 has them, else dropped; the rest becomes ``?``."""
    out = []
    for char in text.translate(_EXTRA):
        if unicodedata.category(char).startswith("C"):
            continue
        try:
            char.encode("latin-1")
            out.append(char)
            continue
        except UnicodeEncodeError:
            pass
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        out.append(base if base and all(ord(c) < 256 for c in base) else "?")
    return "".join(out)


class CertificatePDF(FPDF):
    def __init__(self, *, font_path: str | None):
        super().__init__(orientation="L", unit="mm", format="A4")
        self.set_auto_page_break(False)
        self.font_path = font_path
        self.cmap: dict | None = None

    def _unicode_font(self) -> bool:
        """Embed the Unicode font the first time a text needs it (an unused font would be embedded too)."""
        if self.cmap is None and self.font_path:
            self.add_font("peerloop-unicode", "", self.font_path)
            self.cmap = self.fonts["peerloop-unicode"].cmap
            bold = Path(self.font_path).with_name(Path(self.font_path).stem + "-Bold.ttf")
            if bold.is_file():
                self.add_font("peerloop-unicode", "B", str(bold))
        return self.cmap is not None

    def typed(self, text: str, size: float, *, bold: bool = False) -> str:
        """Choose the font for text someone typed and return what can be drawn of it."""
        text = " ".join((text or "").split())
        try:
            text.encode("latin-1")
            self.set_font("helvetica", "B" if bold else "", size)
            return latin1_text(text)
        except UnicodeEncodeError:
            pass
        if not self._unicode_font():
            self.set_font("helvetica", "B" if bold else "", size)
            return latin1_text(text)
        self.set_font("peerloop-unicode", "B" if bold and "peerloop-unicodeB" in self.fonts else "", size)
        return "".join(
            c if ord(c) in self.cmap else (latin1_text(c) if latin1_text(c) != "?" else "?")
            for c in text
            if not unicodedata.category(c).startswith("C")
        )

    def line_of(self, text: str, size: float, *, bold: bool = False, typed: bool = True, h: float = 10) -> None:
        """One centred line, shrunk (then cut) until it fits the page's width."""
        width = self.w - 2 * self.l_margin
        while True:
            shown = self.typed(text, size, bold=bold) if typed else text
            if not typed:
                self.set_font("helvetica", "B" if bold else "", size)
            if self.get_string_width(shown) <= width or size <= 9:
                break
            size -= 1
        while self.get_string_width(shown) > width and len(shown) > 4:
            shown = shown[:-4] + "..."
        self.cell(width, h, shown, align="C", new_x="LMARGIN", new_y="NEXT")


def render(
    *,
    type_words: str,
    course_title: str,
    holder_name: str,
    holder_handle: str,
    issued: str,
    issued_by: str,
    certificate_id: str,
    verify_url: str,
    revoked: str | None = None,
    revoke_reason: str | None = None,
    compress: bool = True,
    font_path: str | None = "auto",
) -> bytes:
    """The certificate's PDF. ``revoked`` (a date as text) marks it revoked: a banner, no clean certificate."""
    pdf = CertificatePDF(font_path=unicode_font_path() if font_path == "auto" else font_path)
    pdf.set_compression(compress)
    pdf.set_title(f"{type_words}: {latin1_text(course_title)}")
    pdf.set_creator("PeerLoop")
    pdf.add_page()
    pdf.set_margins(20, 15, 20)
    # A frame.
    pdf.set_draw_color(*((180, 30, 30) if revoked else (40, 70, 140)))
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, pdf.w - 20, pdf.h - 20)
    pdf.set_y(20)
    if revoked:
        pdf.set_fill_color(180, 30, 30)
        pdf.set_text_color(255, 255, 255)
        pdf.set_font("helvetica", "B", 26)
        pdf.cell(pdf.w - 40, 14, f"REVOKED on {revoked}", align="C", fill=True, new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(180, 30, 30)
        reason = (revoke_reason or "").strip()
        if len(reason) > 160:
            reason = reason[:157] + "..."
        pdf.line_of(f"Reason: {reason}" if reason else "No reason given.", 13, h=9)
        pdf.set_font("helvetica", "B", 12)
        pdf.cell(pdf.w - 40, 7, "This certificate is no longer valid.", align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(120, 120, 120)
    else:
        pdf.set_text_color(40, 70, 140)
        pdf.set_font("helvetica", "B", 14)
        pdf.cell(pdf.w - 40, 10, "PeerLoop", align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(6)
        pdf.set_text_color(20, 20, 20)
    pdf.line_of(type_words, 30, bold=True, typed=False, h=16)
    pdf.ln(2)
    pdf.set_font("helvetica", "", 13)
    pdf.cell(pdf.w - 40, 8, "awarded to", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.line_of(holder_name, 30, bold=True, h=16)
    pdf.line_of(f"@{holder_handle}", 12, h=7)
    pdf.ln(4)
    pdf.set_font("helvetica", "", 13)
    pdf.cell(pdf.w - 40, 8, "for the course", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.line_of(course_title, 22, bold=True, h=12)
    pdf.ln(6)
    pdf.line_of(f"Issued {issued} by {issued_by}, the course's creator", 12, h=8)
    pdf.set_font("helvetica", "", 10)
    pdf.cell(pdf.w - 40, 7, f"Certificate ID: {certificate_id}", align="C", new_x="LMARGIN", new_y="NEXT")
    # The verification link: as text, and clickable.
    pdf.set_y(pdf.h - 38)
    pdf.set_font("helvetica", "", 10)
    pdf.cell(pdf.w - 40, 6, "Verify this certificate at", align="C", new_x="LMARGIN", new_y="NEXT")
    url = latin1_text(verify_url)
    pdf.set_text_color(40, 70, 140)
    pdf.set_font("helvetica", "U", 11)
    pdf.cell(pdf.w - 40, 7, url, align="C", link=verify_url, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
