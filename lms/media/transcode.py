"""Transcoding with ffmpeg: commands built by ffmpeg-python as argument lists (never a shell),
run with a wall-time limit, progress read from `-progress pipe:1`. No database here.

Every output goes to a temporary file in the given folder (inside the media folder); the caller
renames finished files into place, so a killed worker never leaves a half file where it would be
served. On any failure the temporary files of the run are removed.
"""
from __future__ import annotations

import ctypes
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import ffmpeg

from lms.media.probe import FORMAT_WHITELIST, MediaRefused, ProbeResult, Tools, input_url
from lms.media.probe import tail as tail_of

#: rendition tiers by the short side of the picture (the height of a landscape video);
#: a tier is made only when the source is at least that large (never upscaled)
TIERS = (("720p", 720), ("360p", 360))
VIDEO_SETTINGS = {"vcodec": "libx264", "preset": "veryfast", "crf": 23}
AUDIO_BITRATE = {"720p": "128k", "360p": "96k", "audio": "128k"}
POSTER_AT = 0.10            # a frame at 10% of the duration
AUDIO_POSTER_SIZE = (640, 360)
#: an output this much shorter than the probed duration means the input was cut off
TRUNCATED_RATIO = 0.9

Progress = Callable[[int, int], None]


class TranscodeFailed(RuntimeError):
    """ffmpeg failed for a reason that may pass (crash, killed, disk full): worth a retry."""

    def __init__(self, returncode: int | None, detail: str) -> None:
        super().__init__(f"ffmpeg exited with {returncode}: {detail}")
        self.returncode = returncode
        self.detail = detail


@dataclass(frozen=True)
class Target:
    label: str
    width: int
    height: int


@dataclass
class Output:
    """A finished output in a temporary file, to be renamed into place."""
    label: str
    path: Path
    content_type: str
    width: int | None
    height: int | None

    @property
    def size(self) -> int:
        return self.path.stat().st_size


@dataclass
class Transcoded:
    outputs: list[Output]
    poster: Path
    duration: float
    width: int | None
    height: int | None
    has_video: bool
    has_audio: bool
    temp_files: list[Path] = field(default_factory=list)

    def discard(self) -> None:
        for path in self.temp_files:
            path.unlink(missing_ok=True)


def _even(value: float) -> int:
    return max(2, int(round(value / 2.0)) * 2)


def plan_targets(probe: ProbeResult) -> list[Target]:
    """The renditions for a video: 720p and 360p by the short side, only those not larger than
    the source; a source smaller than 360p gets one rendition at its own (even) size. The
    aspect ratio is kept, dimensions are even (H.264 with 4:2:0 chroma needs that)."""
    width, height = probe.display_size
    short = min(width, height)
    targets = []
    for label, size in TIERS:
        if size > short:
            continue
        if width >= height:
            targets.append(Target(label, _even(width * size / height), size))
        else:
            targets.append(Target(label, size, _even(height * size / width)))
    if not targets:
        targets.append(Target(TIERS[-1][0], _even(width) if width > 1 else 2,
                              _even(height) if height > 1 else 2))
    return targets


# ---------------------------------------------------------------- running ffmpeg

def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: ffmpeg gets SIGKILL when the worker that started it dies, even by SIGKILL."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def run_ffmpeg(args: list[str], *, timeout: float, duration: float | None = None,
               progress: Progress | None = None, started: Callable | None = None) -> float:
    """Run one ffmpeg command (an argument list) to completion within `timeout` seconds of wall
    time, killing it on expiry. Reports percent done against `duration` from `-progress`
    lines; returns the last out_time (seconds of output written). `started(popen)` is called
    with the process (tests use it to kill ffmpeg midway)."""
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=preexec)
    state = {"out_time": 0.0}
    lines: deque[str] = deque(maxlen=12)

    def read_progress():
        for raw in proc.stdout:
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            if key == "out_time_us" and value.lstrip("-").isdigit():
                state["out_time"] = max(state["out_time"], int(value) / 1_000_000)

    def read_errors():
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").strip()
            if line:
                lines.append(line[:300])

    readers = [threading.Thread(target=read_progress, daemon=True),
               threading.Thread(target=read_errors, daemon=True)]
    for reader in readers:
        reader.start()
    if started:
        started(proc)
    deadline = time.monotonic() + timeout
    reported, reported_at = -1, 0.0
    try:
        while True:
            try:
                returncode = proc.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            if now > deadline:
                _kill(proc)
                raise MediaRefused("media_transcode_timeout", seconds=int(timeout))
            if progress and duration:
                percent = min(99, int(state["out_time"] * 100 / duration))
                if percent != reported and now - reported_at >= 1.0:
                    progress(percent, 100)
                    reported, reported_at = percent, now
    finally:
        if proc.poll() is None:
            _kill(proc)
        for reader in readers:
            reader.join(timeout=5)
        proc.stdout.close()
        proc.stderr.close()
    if returncode != 0:
        detail = tail_of("\n".join(lines)) or f"exit status {returncode}"
        raise TranscodeFailed(returncode, detail)
    return state["out_time"]


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def _global(stream):
    return stream.global_args("-nostdin", "-hide_banner", "-nostats", "-loglevel", "error",
                              "-progress", "pipe:1")


def _input(src: Path, probe: ProbeResult, **options):
    return ffmpeg.input(input_url(src), protocol_whitelist="file",
                        format_whitelist=FORMAT_WHITELIST, **options)


def _temp(tmp_dir: Path, label: str, suffix: str) -> Path:
    return tmp_dir / f"{secrets.token_hex(16)}.{label}.{suffix}.part"


# ---------------------------------------------------------------- commands

def video_command(src: Path, probe: ProbeResult, outputs: list[tuple[Target, Path]],
                  binary: str, poster: tuple[Target, float, Path] | None = None) -> list[str]:
    """One ffmpeg run decoding once and encoding every rendition: H.264 (libx264 veryfast,
    CRF 23, yuv420p) + AAC, MP4 with faststart, variable frame rate kept (no duplicated
    frames), metadata dropped. ffmpeg's default autorotation makes phone videos upright.
    With `poster` (size, seconds, path) the same decoded frames also give the poster JPEG: the
    first frame at or after that time (none is written when the video is shorter)."""
    inp = _input(src, probe)
    video = inp[str(probe.video_index)]
    count = len(outputs) + (1 if poster else 0)
    branches = video.split() if count > 1 else None
    nodes = []
    for number, (target, path) in enumerate(outputs):
        branch = branches[number] if branches is not None else video
        scaled = (branch.filter("scale", target.width, target.height)
                  .filter("setsar", 1).filter("format", "yuv420p"))
        streams = [scaled]
        options = dict(VIDEO_SETTINGS, format="mp4", movflags="+faststart",
                       map_metadata=-1, map_chapters=-1, max_muxing_queue_size=1024,
                       **{"fps_mode": "vfr"})
        if probe.has_audio:
            streams.append(inp[str(probe.audio_index)])
            options.update(acodec="aac", ac=2, **{"b:a": AUDIO_BITRATE.get(target.label, "128k")})
        nodes.append(ffmpeg.output(*streams, input_url(path), **options))
    if poster:
        target, at, path = poster
        branch = branches[len(outputs)] if branches is not None else video
        frame = (branch.trim(start=round(at, 3)).filter("select", "eq(n,0)")
                 .filter("scale", target.width, target.height).filter("setsar", 1))
        nodes.append(ffmpeg.output(frame, input_url(path), vframes=1, format="image2", update=1,
                                   **{"q:v": 3}))
    merged = nodes[0] if len(nodes) == 1 else ffmpeg.merge_outputs(*nodes)
    return _global(merged).compile(cmd=binary, overwrite_output=True)


def poster_command(src: Path, probe: ProbeResult, target: Target, at: float, dest: Path,
                   binary: str) -> list[str]:
    """One JPEG frame at `at` seconds (input seeking), upright, at the top rendition's size."""
    inp = _input(src, probe, ss=f"{at:.3f}")
    frame = (inp[str(probe.video_index)].filter("scale", target.width, target.height)
             .filter("setsar", 1))
    out = ffmpeg.output(frame, input_url(dest), vframes=1, format="image2", update=1,
                        map_metadata=-1, **{"q:v": 3})
    return _global(out).compile(cmd=binary, overwrite_output=True)


def audio_command(src: Path, probe: ProbeResult, dest: Path, binary: str) -> list[str]:
    """AAC in an MP4 (.m4a) with faststart; cover art and metadata dropped."""
    inp = _input(src, probe)
    out = ffmpeg.output(inp[str(probe.audio_index)], input_url(dest), acodec="aac", ac=2,
                        format="mp4", movflags="+faststart", map_metadata=-1, map_chapters=-1,
                        **{"b:a": AUDIO_BITRATE["audio"]})
    return _global(out).compile(cmd=binary, overwrite_output=True)


def audio_poster_command(src: Path, probe: ProbeResult, dest: Path, binary: str) -> list[str]:
    """A still for an audio lesson: the waveform of (at most) the first ten minutes drawn by
    showwavespic on a light background."""
    width, height = AUDIO_POSTER_SIZE
    inp = _input(src, probe, t=600)
    wave = (inp[str(probe.audio_index)].filter("aformat", channel_layouts="mono")
            .filter("showwavespic", s=f"{width}x{height}", colors="0xb22222")
            .filter("format", "rgba").split())
    background = wave[0].drawbox(0, 0, "iw", "ih", color="0xf5f1e8@1", thickness="fill")
    picture = ffmpeg.overlay(background, wave[1], format="auto").filter("format", "yuvj420p")
    out = ffmpeg.output(picture, input_url(dest), vframes=1, format="image2", update=1,
                        **{"q:v": 3})
    return _global(out).compile(cmd=binary, overwrite_output=True)


# ---------------------------------------------------------------- the whole run

def _check_complete(out_time: float, probe: ProbeResult) -> None:
    """An output much shorter than the input's stated duration: the file was cut off."""
    if probe.duration and probe.duration > 1 and out_time < probe.duration * TRUNCATED_RATIO - 0.5:
        raise MediaRefused("media_truncated")


def _require_file(path: Path) -> None:
    if not path.is_file() or path.stat().st_size == 0:
        raise TranscodeFailed(0, f"no output written to {path.name}")


def transcode(src: Path, probe: ProbeResult, tmp_dir: Path, tools: Tools, *, timeout: float,
              progress: Progress | None = None, started: Callable | None = None) -> Transcoded:
    """Make every rendition and the poster of a probed file into temporary files.

    `timeout` bounds the wall time of the whole run. Raises MediaRefused (timeout, truncated
    input) or TranscodeFailed (worth a retry); temporary files are removed on any failure."""
    if tools.ffmpeg is None:
        raise MediaRefused("media_ffmpeg_missing")
    tmp_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    temps: list[Path] = []

    def remaining() -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise MediaRefused("media_transcode_timeout", seconds=int(timeout))
        return left

    try:
        if probe.has_video:
            targets = plan_targets(probe)
            planned = [(t, _temp(tmp_dir, t.label, "mp4")) for t in targets]
            temps.extend(path for _, path in planned)
            poster = _temp(tmp_dir, "poster", "jpg")
            temps.append(poster)
            at = (probe.duration or 0) * POSTER_AT
            out_time = run_ffmpeg(video_command(src, probe, planned, tools.ffmpeg,
                                                poster=(targets[0], at, poster)),
                                  timeout=remaining(), duration=probe.duration,
                                  progress=progress, started=started)
            for _, path in planned:
                _require_file(path)
            _check_complete(out_time, probe)
            if not poster.is_file() or poster.stat().st_size == 0:
                # fewer frames than the stated duration: the first frame will do
                run_ffmpeg(poster_command(src, probe, targets[0], 0.0, poster, tools.ffmpeg),
                           timeout=min(remaining(), 120))
                _require_file(poster)
            outputs = [Output(t.label, path, "video/mp4", t.width, t.height) for t, path in planned]
            width, height = probe.display_size
            result = Transcoded(outputs=outputs, poster=poster, duration=out_time or probe.duration,
                                width=width, height=height, has_video=True,
                                has_audio=probe.has_audio, temp_files=temps)
        else:
            audio = _temp(tmp_dir, "audio", "m4a")
            temps.append(audio)
            out_time = run_ffmpeg(audio_command(src, probe, audio, tools.ffmpeg),
                                  timeout=remaining(), duration=probe.duration,
                                  progress=progress, started=started)
            _require_file(audio)
            _check_complete(out_time, probe)
            poster = _temp(tmp_dir, "poster", "jpg")
            temps.append(poster)
            run_ffmpeg(audio_poster_command(src, probe, poster, tools.ffmpeg),
                       timeout=min(remaining(), 300))
            _require_file(poster)
            result = Transcoded(outputs=[Output("audio", audio, "audio/mp4", None, None)],
                                poster=poster, duration=out_time or probe.duration, width=None,
                                height=None, has_video=False, has_audio=True, temp_files=temps)
        return result
    except BaseException:
        for path in temps:
            path.unlink(missing_ok=True)
        raise
