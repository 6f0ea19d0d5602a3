"""The modules of a QR code (error correction M, as the QR-bill asks), with
the data mask chosen as ISO/IEC 18004 7.8.3 asks: the lowest penalty of
the eight. The choice is the same as segno's, which scores the eight masks
module by module in Python (~20 ms a code, most of a QR-bill's time); here
each row is one int and the eight candidates differ only by XOR with
per-version constants, so scoring them is bit arithmetic and C-level
string scans (~2 ms). segno still encodes the data (with mask 0)."""
from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass

import segno
from segno import consts, encoder

_RUN = re.compile("0{5,}|1{5,}")
_FINDER_LIKE = "1011101"
_GAP = "    "  # between lines: no module, no run, no pattern crosses it
_GREY = str.maketrans("10", "\x00\xff")  # dark module: black pixel
_BITS = bytes.maketrans(b"\x00\x01", b"01")


@dataclass(frozen=True)
class _Layout:
    """What a version's symbols share: per row, the bits of the encoding
    region, of each mask inside it, and of the function patterns as
    scored (format areas light) and as printed (format info of each mask)."""

    width: int
    region: tuple[int, ...]
    masks: tuple[tuple[int, ...], ...]
    scored: tuple[int, ...]
    printed: tuple[tuple[int, ...], ...]
    masks_t: tuple[tuple[int, ...], ...]  # the same by column, to score columns without transposing each
    scored_t: tuple[int, ...]


def _row_ints(matrix, keep=lambda value: value == 1) -> tuple[int, ...]:
    return tuple(int("".join("1" if keep(v) else "0" for v in row), 2) for row in matrix)


def _function_patterns(width: int):
    matrix = encoder.make_matrix(width, width)
    encoder.add_finder_patterns(matrix, width, width)
    encoder.add_alignment_patterns(matrix, width, width)
    return matrix


def _build_layout(version: int) -> _Layout:
    width = encoder.calc_matrix_size(version)
    patterns = _function_patterns(width)
    outside = [bytearray(row) for row in patterns]
    outside[-8][8] = 0x1  # the dark module is no data module either (as segno has it)
    region = _row_ints(outside, keep=lambda value: value > 1)
    functions = encoder.get_data_mask_functions(False)
    masks = tuple(tuple(int("".join("1" if fn(i, j) else "0" for j in range(width)), 2) & region[i]
                        for i in range(width)) for fn in functions)
    printed = []
    for mask in range(8):
        final = [bytearray(row) for row in patterns]
        encoder.add_format_info(final, version, consts.ERROR_LEVEL_M, mask)
        encoder.add_version_info(final, version)
        printed.append(tuple(bits & ~area for bits, area in zip(_row_ints(final), region)))
    scored = _row_ints(patterns)
    return _Layout(width, region, masks, scored, tuple(printed), tuple(_transpose(mask, width) for mask in masks),
                   _transpose(scored, width))


def _transpose(rows, width: int) -> tuple[int, ...]:
    return tuple(int("".join(column), 2) for column in zip(*(format(row, f"0{width}b") for row in rows)))


_LOCK = threading.Lock()


@functools.lru_cache(maxsize=64)
def _cached_layout(version: int) -> _Layout:
    return _build_layout(version)


def _layout(version: int) -> _Layout:
    with _LOCK:  # built once per version, then shared read-only
        return _cached_layout(version)


def _n3(lines: str) -> int:
    """Finder-like patterns with 4 light modules on one side, counted as
    segno counts them (so both choose the same mask). `lines` are joined
    by 4 non-module characters: what lies beyond a line counts as light."""
    score, at = 0, lines.find(_FINDER_LIKE)
    while at != -1:
        after = at + 7
        if "1" not in lines[at - 4:at] or "1" not in lines[after:after + 4]:
            score += 40
        else:
            after = at + 4
        at = lines.find(_FINDER_LIKE, after)
    return score


def penalty(rows: list[int], columns: list[int], width: int) -> int:
    """N1 + N2 + N3 + N4 of ISO/IEC 18004 7.8.3.1 for a symbol given as
    one int per row and per column (first module in the highest bit)."""
    lines = _GAP.join([format(line, f"0{width}b") for line in rows + columns])  # one scan for rows and columns
    n1 = sum(len(run) - 2 for run in _RUN.findall(lines))
    pairs = (1 << (width - 1)) - 1
    n2 = 0
    for upper, lower in zip(rows, rows[1:]):
        same = ~(upper ^ lower)
        n2 += (same & (same >> 1) & ~(upper ^ (upper >> 1)) & pairs).bit_count()
    n3 = _n3(_GAP + lines)
    dark = sum(row.bit_count() for row in rows) / (width * width)
    return n1 + 3 * n2 + n3 + 10 * int(abs(dark * 100 - 50) / 5)


def one_bit_image(rows: list[str], box: int):
    """Rows of "1" (dark) and "0" as a 1-bit PIL image, `box` pixels a module
    (1-bit: fpdf stores it with CCITT G4, smaller and faster than greyscale
    Flate). The QR-bill's and the EPC code's images both come from here."""
    from PIL import Image

    side = len(rows)
    pixels = "".join(rows).translate(_GREY).encode("latin-1")
    image = Image.frombytes("L", (side, side), pixels).convert("1", dither=Image.Dither.NONE)
    return image.resize((side * box, side * box), Image.Resampling.NEAREST)


def modules(data: str) -> list[str]:
    """The symbol's rows as strings of "1" (dark) and "0" (light), no
    quiet zone: the same symbol segno.make(data, error="m",
    boost_error=False, encoding="utf-8") makes, the payload in UTF-8 as
    the QR-bill asks."""
    code = segno.make(data, error="m", micro=False, boost_error=False, encoding="utf-8", mask=0)
    layout = _layout(code.version)
    unmasked = [(int(bytes(row).translate(_BITS), 2) ^ mask0) & area
                for row, mask0, area in zip(code.matrix, layout.masks[0], layout.region)]
    unmasked_t = _transpose(unmasked, layout.width)
    scores = [penalty(_apply(layout.scored, unmasked, masks), _apply(layout.scored_t, unmasked_t, masks_t),
                      layout.width) for masks, masks_t in zip(layout.masks, layout.masks_t)]
    best = scores.index(min(scores))  # the first of equals, as segno
    return [format(row, f"0{layout.width}b") for row in _apply(layout.printed[best], unmasked, layout.masks[best])]


def _apply(fixed, unmasked, masks) -> list[int]:
    """The symbol with a mask: function patterns, then data XOR mask."""
    return [pattern | (bits ^ mask) for pattern, bits, mask in zip(fixed, unmasked, masks)]
