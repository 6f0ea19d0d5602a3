"""The invoice fonts, parsed once per process and subset per document
without fontTools.

fpdf2 parses a TTF on every add_font (~15 ms for DejaVu Sans) and, at
output, subsets it with fontTools (~6 ms a font even for 50 glyphs): most
of an invoice's time. Here a font file is read once into an immutable
`FontProgram`; each document gets a cheap clone of one shared fpdf
`TTFFont`, and our `OutputProducer` writes the font objects itself,
cutting the glyph records it needs out of the program (plain byte slicing).
Everything shared is immutable after it is built, so documents may be
rendered in several threads at once."""
from __future__ import annotations

import functools
import logging
import struct
import threading

from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.fonts import PDFFontDescriptor, SubsetMap, TTFFont
from fpdf.output import (CIDSystemInfo, OutputProducer, PDFArray, PDFContentStream, PDFFont, PDFFontStream,
                         _build_cmap_blocks, _tt_font_widths)
from fpdf.syntax import Name

# tables copied as they are; glyf, loca, hmtx, maxp, hhea, head, post and
# name are rewritten; cmap is left out (a CIDFontType2 maps by CIDToGIDMap)
_KEPT = ("OS/2", "cvt ", "fpgm", "gasp", "prep")
_ARGS_ARE_WORDS, _HAS_SCALE, _MORE, _XY_SCALE, _TWO_BY_TWO = 0x1, 0x8, 0x20, 0x40, 0x80


def _checksum(data: bytes) -> int:
    data += b"\0" * (-len(data) % 4)
    return sum(struct.unpack(f">{len(data) // 4}I", data)) & 0xFFFFFFFF


def _components(record: bytes) -> tuple[tuple[int, int], ...]:
    """(offset of the glyph index, glyph id) of each part of a composite
    glyph record; () for a simple glyph."""
    if len(record) < 10 or struct.unpack_from(">h", record)[0] >= 0:
        return ()
    parts, at, flags = [], 10, _MORE
    while flags & _MORE:
        flags, gid = struct.unpack_from(">HH", record, at)
        parts.append((at + 2, gid))
        at += 4 + (4 if flags & _ARGS_ARE_WORDS else 2)
        at += 8 if flags & _TWO_BY_TWO else 4 if flags & _XY_SCALE else 2 if flags & _HAS_SCALE else 0
    return tuple(parts)


class FontProgram:
    """A TrueType font's glyph records and static tables, read once."""

    def __init__(self, path: str) -> None:
        font = TTFont(path, lazy=True)
        raw = font.reader
        loca = font["loca"]
        glyf = raw["glyf"]
        self.records = tuple(bytes(glyf[loca[i]:loca[i + 1]]) for i in range(len(loca) - 1))
        self.parts = {gid: parts for gid, record in enumerate(self.records) if (parts := _components(record))}
        order = font.getGlyphOrder()
        self.metrics = tuple(font["hmtx"].metrics[name] for name in order)
        self.gid_of = font.getReverseGlyphMap()
        self.tables = {tag: bytes(raw[tag]) for tag in _KEPT if tag in raw}
        names = font["name"]
        names.names = [n for n in names.names if n.nameID <= 6]  # not the 10 kB licence text
        self.name = names.compile(font)
        self.post = b"\x00\x03\x00\x00" + bytes(raw["post"])[4:32]  # format 3: no glyph names
        self.head, self.hhea, self.maxp = bytes(raw["head"]), bytes(raw["hhea"]), bytes(raw["maxp"])

    def closure(self, gids) -> list[int]:
        """The glyphs and the parts of the composite ones, .notdef first."""
        todo, seen = [0, *gids], set()
        while todo:
            gid = todo.pop()
            if gid not in seen and gid < len(self.records):
                seen.add(gid)
                todo.extend(part for _, part in self.parts.get(gid, ()))
        return sorted(seen)

    def subset(self, gids) -> tuple[bytes, dict[int, int]]:
        """A font with only `gids` (renumbered in order) and the new id of
        each old one."""
        keep = self.closure(gids)
        new = {old: i for i, old in enumerate(keep)}
        glyf, loca = bytearray(), [0]
        for old in keep:
            record = bytearray(self.records[old])
            for at, part in self.parts.get(old, ()):
                struct.pack_into(">H", record, at, new[part])
            glyf += record + b"\0" * (-len(record) % 4)
            loca.append(len(glyf))
        count = len(keep)
        tables = dict(self.tables)
        tables.update({
            "glyf": bytes(glyf), "loca": struct.pack(f">{count + 1}I", *loca),
            "hmtx": b"".join(struct.pack(">Hh", *self.metrics[old]) for old in keep),
            "hhea": self.hhea[:34] + struct.pack(">H", count) + self.hhea[36:],
            "maxp": self.maxp[:4] + struct.pack(">H", count) + self.maxp[6:],
            "head": self.head[:8] + b"\0\0\0\0" + self.head[12:50] + struct.pack(">h", 1) + self.head[52:],
            "name": self.name, "post": self.post})
        return _sfnt(tables), new


def _sfnt(tables: dict[str, bytes]) -> bytes:
    """The font file: directory, then the tables 4-byte aligned, with the
    head checksum adjustment the TrueType spec asks for."""
    tags = sorted(tables)
    power = 1 << (len(tags).bit_length() - 1)
    header = struct.pack(">IHHHH", 0x00010000, len(tags), power * 16, power.bit_length() - 1,
                         (len(tags) - power) * 16)
    offset, entries, body = 12 + 16 * len(tags), [], []
    for tag in tags:
        data = tables[tag]
        entries.append(struct.pack(">4sIII", tag.encode("latin-1"), _checksum(data), offset, len(data)))
        body.append(data + b"\0" * (-len(data) % 4))
        offset += len(body[-1])
    directory = header + b"".join(entries)
    total = (_checksum(directory) + sum(struct.unpack_from(">I", e, 4)[0] for e in entries)) & 0xFFFFFFFF
    head_at = tags.index("head")
    body[head_at] = body[head_at][:8] + struct.pack(">I", (0xB1B0AFBA - total) & 0xFFFFFFFF) + body[head_at][12:]
    return directory + b"".join(body)


class SharedFont(TTFFont):
    """A document's copy of a font parsed once per process: the parsed
    tables (cmap, widths) are shared and never written to; what fpdf
    changes while drawing (the subset map, widths it guesses, the
    descriptor it numbers at output) is the document's own."""

    __slots__ = ("program", "_ttfont")

    @property
    def ttfont(self):  # only fpdf's own output path subsets it: give it a private copy
        if self._ttfont is None:
            self._ttfont = TTFont(self.ttffile, recalcTimestamp=False, lazy=True)
        return self._ttfont

    @ttfont.setter
    def ttfont(self, value) -> None:
        self._ttfont = value

    def close(self) -> None:
        if self._ttfont is not None:
            self._ttfont.close()


_LOCK = threading.Lock()


def _parsed(path: str, style: str) -> tuple[TTFFont, FontProgram]:
    with _LOCK:  # one parse per font even when several threads ask at once
        return _parse(path, style)


@functools.lru_cache(maxsize=8)
def _parse(path: str, style: str) -> tuple[TTFFont, FontProgram]:
    return TTFFont(FPDF(), path, "shared", style), FontProgram(path)


def add_shared_font(pdf: FPDF, family: str, style: str, path: str) -> None:
    """What pdf.add_font(family, style, path) does, without parsing again."""
    template, program = _parsed(str(path), style)
    font = SharedFont.__new__(SharedFont)
    for slot in TTFFont.__slots__:
        if slot != "ttfont" and hasattr(template, slot):
            object.__setattr__(font, slot, getattr(template, slot))
    font.i, font.fontkey, font.program, font.ttfont = len(pdf.fonts) + 1, f"{family.lower()}{style}", program, None
    font.cw = template.cw.copy()  # a defaultdict: reading a missing width writes it
    font.missing_glyphs = []
    font.desc = _copy_descriptor(template.desc)  # output numbers it and names it
    font.subset = SubsetMap(font)
    pdf.fonts[font.fontkey] = font


def _copy_descriptor(desc: PDFFontDescriptor) -> PDFFontDescriptor:
    return PDFFontDescriptor(desc.ascent, desc.descent, desc.cap_height, desc.flags, desc.font_b_box,
                             desc.italic_angle, desc.stem_v, desc.missing_width)


class Producer(OutputProducer):
    """fpdf's output, with our shared fonts written from their programs;
    any other font (core Helvetica, a PDF/A-1 document) goes fpdf's way."""

    def _add_fonts(self, *args):
        fonts = sorted(self.fpdf.fonts.values(), key=lambda font: font.i)
        if self.fpdf._compliance or not fonts or not all(isinstance(font, SharedFont) for font in fonts):
            return super()._add_fonts(*args)
        written = {font.i: self._add_shared_font(font) for font in fonts}
        # fpdf caches these per SubsetMap in class-wide caches and empties them after output, as we must
        SubsetMap.pick.cache_clear()
        SubsetMap.get_glyph.cache_clear()
        return written

    def _add_shared_font(self, font: SharedFont) -> PDFFont:
        fontname = f"MPDFAA+{font.name}"
        if font.missing_glyphs:  # drawn as .notdef boxes, as fpdf warns too
            logging.getLogger(__name__).warning("%s lacks %r", fontname, "".join(map(chr, font.missing_glyphs[:10])))
        used = {glyph: code for glyph, code in font.subset.items() if glyph is not None}
        program = font.program
        stream, new_gid = program.subset(program.gid_of.get(glyph.glyph_name, 0) for glyph in used)
        composite = PDFFont(subtype="Type0", base_font=fontname, encoding="Identity-H")
        self._add_pdf_obj(composite, "fonts")
        cid_font = PDFFont(subtype="CIDFontType2", base_font=fontname, d_w=font.desc.missing_width,
                           w=_tt_font_widths(font))
        self._add_pdf_obj(cid_font, "fonts")
        composite.descendant_fonts = PDFArray([cid_font])
        composite.to_unicode = self._add_obj(_to_unicode(used))
        cid_font.c_i_d_system_info = self._add_obj(CIDSystemInfo())
        descriptor = font.desc
        descriptor.font_name = Name(fontname)
        cid_font.font_descriptor = self._add_obj(descriptor)
        cid_to_gid = bytearray(2 * (max(used.values(), default=0) + 1))  # codes past its end map to glyph 0
        for glyph, code in used.items():
            struct.pack_into(">H", cid_to_gid, 2 * code, new_gid[program.gid_of.get(glyph.glyph_name, 0)])
        cid_font.c_i_d_to_g_i_d_map = self._add_obj(PDFContentStream(contents=bytes(cid_to_gid), compress=True))
        descriptor.font_file2 = self._add_obj(PDFFontStream(contents=stream))
        return composite

    def _add_obj(self, obj):
        self._add_pdf_obj(obj, "fonts")
        return obj


def _to_unicode(used: dict) -> PDFContentStream:
    """The ToUnicode CMap, as fpdf writes it: text stays searchable."""
    pairs = [f"<{code:04X}> <{''.join(_utf16(u) for u in glyph.unicode)}>\n" for glyph, code in used.items()
             if isinstance(glyph.unicode, tuple) and glyph.unicode]
    return PDFContentStream((
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo\n"
        "<</Registry (Adobe)\n/Ordering (UCS)\n/Supplement 0\n>> def\n/CMapName /Adobe-Identity-UCS def\n"
        "/CMapType 2 def\n1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        f"{_build_cmap_blocks(pairs, 'bfchar')}endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
    ).encode("latin-1"))


def _utf16(unicode: int) -> str:
    if unicode > 0xFFFF:
        return f"{0xD800 | (unicode - 0x10000) >> 10:04X}{0xDC00 | (unicode & 0x3FF):04X}"
    return f"{unicode:04X}"
