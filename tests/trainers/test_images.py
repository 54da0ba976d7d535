"""Decoding any image file to a square RGB array, and rejecting everything else with a reason."""

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from trainers import images as imgs
from trainers.demo_faces import demo_face
from trainers.explore import FaceOrigin, face_origin


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_transparent_pixels_become_white():
    img = Image.new("RGBA", (32, 32), (255, 0, 0, 0))
    img.paste((0, 0, 255, 255), (0, 0, 16, 32))
    out = imgs.decode_image(encode(img, "PNG"), 32).pixels
    assert out.shape == (3, 32, 32) and out.dtype == np.uint8
    assert tuple(out[:, 16, 28]) == (255, 255, 255)  # transparent red -> white, not red or black
    assert tuple(out[:, 16, 2]) == (0, 0, 255)


@pytest.mark.parametrize("mode", ["L", "1", "P", "CMYK", "LA", "I;16"])
def test_every_mode_becomes_rgb(mode):
    base = demo_face(3, 48)
    if mode == "I;16":
        gray = np.asarray(base.convert("L"), np.uint16) * 257
        img = Image.fromarray(gray)
        assert img.mode == "I;16"
    else:
        img = base.convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    out = imgs.decode_image(encode(img, fmt), 32).pixels
    assert out.shape == (3, 32, 32)
    if mode in ("L", "I;16"):
        expected = np.asarray(base.convert("L").resize((32, 32), Image.Resampling.LANCZOS))
        assert np.abs(out[0].astype(int) - expected).max() <= 2  # 16-bit scaled down, not clipped to white
        assert (out[0] == out[1]).all() and (out[1] == out[2]).all()


def test_palette_transparency_is_composited_on_white():
    img = Image.new("P", (16, 16), 0)
    img.putpalette([0, 0, 0] + [200, 10, 10] * 255)
    img.info["transparency"] = 0
    out = imgs.decode_image(encode(img, "PNG", transparency=0), 16).pixels
    assert (out == 255).all()


def test_exif_orientation_is_applied():
    img = Image.new("RGB", (40, 20), (0, 0, 0))
    img.paste((255, 255, 255), (0, 0, 20, 20))  # left half white as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: viewers turn it 90 degrees clockwise, so white goes on top
    out = imgs.decode_image(encode(img, "JPEG", exif=exif.tobytes(), quality=95), 20).pixels
    top, bottom = out[:, :5].mean(), out[:, -5:].mean()
    assert top > 200 and bottom < 50


def test_non_square_images_are_centre_cropped():
    img = Image.new("RGB", (60, 20), (255, 0, 0))
    img.paste((0, 255, 0), (20, 0, 40, 20))  # the centre square is green
    out = imgs.decode_image(encode(img, "PNG"), 20).pixels
    assert tuple(out[:, 10, 10]) == (0, 255, 0)
    assert out[1].min() > 200  # no red from the sides


def test_small_images_are_upscaled_and_flagged():
    decoded = imgs.decode_image(encode(demo_face(1, 16), "PNG"), 32)
    assert decoded.upscaled and decoded.pixels.shape == (3, 32, 32) and decoded.source_size == (16, 16)
    assert not imgs.decode_image(encode(demo_face(1, 64), "PNG"), 32).upscaled


def test_downscaling_is_antialiased():
    stripes = np.zeros((64, 64, 3), np.uint8)
    stripes[:, ::2] = 255  # one-pixel stripes average to grey, not to aliasing bands
    out = imgs.decode_image(encode(Image.fromarray(stripes), "PNG"), 16).pixels
    assert 100 < out.mean() < 155 and out.std() < 20


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (16, 16), c) for c in [(255, 0, 0), (0, 0, 255)]]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    out = imgs.decode_image(data, 16).pixels
    assert out[0].mean() > 200 and out[2].mean() < 50


@pytest.mark.parametrize("fmt", ["WEBP", "BMP", "JPEG"])
def test_other_formats(fmt):
    assert imgs.decode_image(encode(demo_face(2, 40), fmt), 32).pixels.shape == (3, 32, 32)


@pytest.mark.parametrize("data,reason", [
    (b"", imgs.ZERO_BYTE),
    (b"<html><body>not a face</body></html>", imgs.NOT_AN_IMAGE),
    (b"hello, world\n" * 10, imgs.NOT_AN_IMAGE),
])
def test_non_images_are_rejected_with_a_reason(data, reason):
    with pytest.raises(imgs.RejectedImage) as info:
        imgs.decode_image(data, 32)
    assert info.value.reason == reason


def test_truncated_files_are_rejected():
    data = encode(demo_face(5, 64), "PNG")
    with pytest.raises(imgs.RejectedImage) as info:
        imgs.decode_image(data[: len(data) // 2], 32)
    assert info.value.reason == imgs.CORRUPT
    jpeg = encode(demo_face(5, 64), "JPEG")
    with pytest.raises(imgs.RejectedImage) as info:
        imgs.decode_image(jpeg[: len(jpeg) // 2], 32)
    assert info.value.reason == imgs.CORRUPT


def test_pixel_bombs_are_refused_before_decoding():
    big = encode(Image.new("L", (3000, 3000)), "PNG")  # compresses to a few KB
    assert len(big) < 100_000
    with pytest.raises(imgs.RejectedImage) as info:
        imgs.decode_image(big, 32, max_pixels=1000 * 1000)
    assert info.value.reason == imgs.BOMB


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_give_an_image_or_a_reported_rejection(data):
    try:
        out = imgs.decode_image(data, 16)
    except imgs.RejectedImage as exc:
        assert exc.reason
    else:
        assert out.pixels.shape == (3, 16, 16)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2000), st.integers(1, 4000), st.binary(min_size=1, max_size=64))
def test_damaged_real_images_never_crash(cut, offset, junk):
    data = bytearray(encode(demo_face(7, 32), "PNG"))
    data = data[: max(1, len(data) - cut)]
    pos = offset % len(data)
    data[pos : pos + len(junk)] = junk
    try:
        imgs.decode_image(bytes(data), 16)
    except imgs.RejectedImage:
        pass


def test_grid_layout():
    faces = np.zeros((5, 3, 4, 4), np.uint8)
    faces[4] = 255
    grid = imgs.make_grid(faces, columns=3, padding=1)
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1, 3)
    assert grid[6:10, 6:10].min() == 255  # fifth face: row 1, column 1


def test_saved_images_are_in_the_format_their_name_says(tmp_path):
    pixels = np.asarray(demo_face(3, 48))
    text = {"seeds": "0-3", "model": "runs/a/step-1.pt"}
    imgs.save_image(tmp_path / "grid.png", pixels, text)
    imgs.save_image(tmp_path / "grid.JPG", pixels, text)
    imgs.save_image(tmp_path / "grid.webp", pixels, text)
    png, jpeg, webp = (Image.open(tmp_path / name) for name in ("grid.png", "grid.JPG", "grid.webp"))
    assert (png.format, jpeg.format, webp.format) == ("PNG", "JPEG", "WEBP")
    assert png.text["seeds"] == "0-3" and b"seeds: 0-3" in jpeg.info["comment"]  # how to make it again
    assert np.array_equal(np.asarray(webp.convert("RGB")), pixels)  # lossless
    error = np.abs(np.asarray(jpeg, np.int16) - pixels).mean()
    assert 0 < error < 3  # quality 95: a small loss
    with pytest.raises(ValueError, match="use .png, .jpg or .webp"):
        imgs.save_image(tmp_path / "grid.gif", pixels)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.JPG", "grid.png", "grid.webp"]  # nothing else


def test_only_faces_saved_by_the_studio_say_what_made_them(tmp_path):
    pixels = np.asarray(demo_face(3, 32))
    ours = {"seed": "7", "truncation": "0.5", "model": "/models/a.onnx", "step": "120", "software": "GAN Studio"}
    imgs.save_png(tmp_path / "face.png", pixels, ours)
    assert face_origin(tmp_path / "face.png") == FaceOrigin("/models/a.onnx", 7, 1, 0.5, 120)
    unreadable = [{}, {**ours, "software": "another tool"}, {**ours, "seed": "-3"}, {**ours, "seed": "seven"},
                  {**ours, "truncation": "nan"}, {k: v for k, v in ours.items() if k != "model"},
                  {**{k: v for k, v in ours.items() if k != "seed"}, "seeds": "9-2"}]
    for i, text in enumerate(unreadable):
        imgs.save_png(tmp_path / f"other{i}.png", pixels, text)
        assert face_origin(tmp_path / f"other{i}.png") is None, text
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    assert face_origin(tmp_path / "broken.png") is None and face_origin(tmp_path / "missing.png") is None
    grid = {**{k: v for k, v in ours.items() if k != "seed"}, "seeds": "0-99999"}
    imgs.save_png(tmp_path / "grid.png", pixels, grid)
    assert face_origin(tmp_path / "grid.png").count == 100_000
    imgs.save_png(tmp_path / "huge.png", pixels, {**grid, "seeds": "0-9999999999"})  # no grid of ours: nothing
    assert face_origin(tmp_path / "huge.png") is None  # is made of it, not ten billion faces
