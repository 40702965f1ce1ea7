"""Output side of ``animate``: the output path, and streaming GIF / MP4 / PNG writers.

Each writer takes one RGBA frame (H, W, 4) at a time and keeps nothing of it afterwards.

GIF: written here, block by block, with Pillow doing the palette mapping and LZW coding.
(imageio's and matplotlib's Pillow GIF writers both keep every frame until the file is closed,
so their memory grows with the frame count.) One global 256-colour palette, made up front from
sample frames, serves every frame: it keeps colours steady and mapping a frame to a fixed
palette is much cheaper than a fresh per-frame quantisation.

MP4: imageio's ffmpeg writer (imageio-ffmpeg) piping raw RGBA to libx264 / yuv420p.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import GifImagePlugin, Image

from ..errors import RuntimeFailure, UsageError
from ..store.atomic import publish
from ..store.rundir import animation_path

FORMATS = ("gif", "mp4")


def resolve_output(source: Path, out: Path | None, fmt: str | None) -> tuple[Path, str]:
    """The animation's path and format, from ``--format`` and/or the ``--out`` suffix."""
    if fmt is not None:
        fmt = fmt.lower()
        if fmt not in FORMATS:
            raise UsageError(f"--format: unknown format {fmt!r} (choose from gif, mp4)")
    if out is None:
        fmt = fmt or "gif"
        return animation_path(source, fmt), fmt
    suffix = out.suffix.lower().lstrip(".")
    if fmt is None:
        if suffix not in FORMATS:
            raise UsageError(f"--out: cannot tell the format from {out.name!r}; add --format")
        fmt = suffix
    elif suffix != fmt:
        raise UsageError(f"--out: {out.name!r} does not end in .{fmt} (the --format)")
    return out, fmt


def check_target(out: Path) -> None:
    if out.is_dir():
        raise UsageError(f"--out: {out} is a directory")
    if not out.parent.is_dir():
        raise UsageError(f"--out: directory not found: {out.parent}")


@contextmanager
def temp_beside(out: Path) -> Iterator[Path]:
    """A temp path next to ``out`` (same suffix, so ffmpeg picks the container), moved onto
    ``out`` on success (with the mode of every file pointgan writes: 0644 under the usual
    umask, where mkstemp makes 0600) and removed on any failure."""
    check_target(out)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=f".tmp{out.suffix}", dir=out.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        publish(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _rgb(frame: memoryview | np.ndarray, size: tuple[int, int]) -> Image.Image:
    """RGBA buffer (H, W, 4) -> RGB PIL image (one C-level copy)."""
    return Image.frombuffer("RGBA", size, frame, "raw", "RGBA", 0, 1).convert(  # type: ignore[arg-type]
        "RGB")


def png_bytes(frame: memoryview | np.ndarray, size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    _rgb(frame, size).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _palette_image(colors: list[tuple[int, int, int]]) -> Image.Image:
    im = Image.new("P", (1, 1))
    im.putpalette(bytes(v for c in colors for v in c).ljust(768, b"\0"))
    return im


def _quantize(rgb: Image.Image, pal: Image.Image) -> Image.Image:
    return rgb.quantize(palette=pal, dither=Image.Dither.NONE)


def palette(sample: np.ndarray, exact: int = 32) -> Image.Image:
    """A 256-colour palette image for frames like ``sample`` (H, W, 3).

    The ``exact`` most frequent colours (white background, pure line colours, text) come first
    and must map to themselves; median cut adds colours for the anti-aliased edges. Pillow's
    palette lookup is coarse (it resolves colours in steps of 4), so a cut colour or a rarer
    exact colour that captures an exact colour is dropped, until every exact colour maps to
    itself: large areas then keep their true colour.
    """
    flat = sample.reshape(-1, 3).astype(np.uint32)
    values, counts = np.unique((flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2],
                               return_counts=True)
    top = values[np.argsort(-counts, kind="stable")[:exact]]
    keep = [((int(v) >> 16) & 255, (int(v) >> 8) & 255, int(v) & 255) for v in top]
    image = Image.fromarray(np.ascontiguousarray(sample), "RGB")
    cut_pal = image.quantize(256 - len(keep), method=Image.Quantize.MEDIANCUT,
                             dither=Image.Dither.NONE).getpalette() or []
    cut = [(cut_pal[i], cut_pal[i + 1], cut_pal[i + 2]) for i in range(0, len(cut_pal) - 2, 3)]
    for _ in range(64):
        table = keep + cut
        probe = Image.fromarray(np.array([keep], np.uint8), "RGB")  # (1, K, 3)
        got = np.asarray(_quantize(probe, _palette_image(table))).ravel().tolist()  # (K,)
        drop = {max(i, j) for i, j in enumerate(got) if j != i}  # the rarer one, or the cut one
        if not drop:
            break
        cut = [c for n, c in enumerate(cut, len(keep)) if n not in drop]
        keep = [c for n, c in enumerate(keep) if n not in drop]
    return _palette_image(keep + cut)


class GifWriter:
    """Animated GIF89a, streamed: header and global palette first, then one image block per
    ``append`` (no local palettes), then the trailer on ``close``."""

    def __init__(self, path: Path, size: tuple[int, int], fps: int, palette_from: np.ndarray):
        self.size = size
        # GIF delays are whole centiseconds; browsers treat < 2 as "slow", so 2 is the floor.
        self.delay_cs = max(2, round(100 / fps))
        self.frame_seconds = self.delay_cs / 100
        self._palette = palette(palette_from)
        colors = bytes(self._palette.getpalette() or []).ljust(768, b"\0")  # 256 RGB entries
        w, h = size
        self._f = open(path, "wb")  # noqa: SIM115 - closed in close()/abort()
        self._f.write(
            b"GIF89a" + w.to_bytes(2, "little") + h.to_bytes(2, "little")
            + bytes([0xF7, 0, 0])  # global table, 8-bit colour, 2^(7+1) = 256 entries
            + colors
            + b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"  # loop forever
        )
        # Graphic control: disposal 1 (leave in place), no transparency, the frame delay.
        self._gce = b"!\xf9\x04\x04" + self.delay_cs.to_bytes(2, "little") + b"\x00\x00"

    def append(self, frame: memoryview | np.ndarray) -> None:
        im = _quantize(_rgb(frame, self.size), self._palette)
        self._f.write(self._gce)
        # getdata: image descriptor (no local palette) + LZW-coded pixels, as byte chunks.
        for chunk in GifImagePlugin.getdata(im):
            self._f.write(chunk)

    def close(self) -> None:
        self._f.write(b";")
        self._f.close()

    def abort(self) -> None:
        self._f.close()


def ffmpeg_exe() -> str:
    """The ffmpeg that imageio-ffmpeg would run; RuntimeFailure (one line) when there is none."""
    hint = "MP4 needs ffmpeg (pip install imageio-ffmpeg, or ffmpeg on PATH); or use --format gif"
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        raise RuntimeFailure(f"ffmpeg not found: {hint}") from None
    if not (os.path.isfile(exe) or shutil.which(exe)):  # IMAGEIO_FFMPEG_EXE is not checked
        raise RuntimeFailure(f"ffmpeg not found at {exe}: {hint}")
    return exe


class Mp4Writer:
    """H.264 (libx264), yuv420p, through imageio's ffmpeg plugin; frames are piped as they come."""

    def __init__(self, path: Path, size: tuple[int, int], fps: int):
        ffmpeg_exe()
        import imageio.v2 as iio

        if size[0] % 2 or size[1] % 2:  # yuv420p halves chroma both ways
            raise ValueError(f"MP4 frames need even dimensions, got {size}")
        self.frame_seconds = 1.0 / fps
        self._w = iio.get_writer(
            path, format="FFMPEG", mode="I", fps=fps, codec="libx264", pixelformat="yuv420p",
            quality=8, macro_block_size=2, ffmpeg_log_level="error",
            output_params=["-movflags", "+faststart"],
        )

    def append(self, frame: memoryview | np.ndarray) -> None:
        try:
            self._w.append_data(np.asarray(frame))
        except OSError as exc:  # ffmpeg died (the pipe broke): say so in one line
            raise RuntimeFailure(f"ffmpeg failed while encoding: {exc}") from None

    def close(self) -> None:
        try:
            self._w.close()
        except (OSError, RuntimeError) as exc:
            raise RuntimeFailure(f"ffmpeg failed to finish the MP4: {exc}") from None

    def abort(self) -> None:
        with contextlib.suppress(Exception):  # already failing; the temp file goes anyway
            self._w.close()
