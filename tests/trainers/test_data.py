"""Folder datasets: recursive scans, the bad-file report, the cache, and batches on the tensor."""

import io
import os
import tarfile
import zipfile

import numpy as np
import pytest
import torch

from trainers import images as imgs
from trainers.data import STREAM_CUT, DatasetError, ScanCancelled, TensorBatches, load_folder
from trainers.demo_faces import demo_face, write_demo_folder


@pytest.fixture
def hostile(tmp_path):
    """Good faces in nested folders, in several formats and extension cases, beside every kind of bad file."""
    root = tmp_path / "data"
    write_demo_folder(root, 6, size=40)
    write_demo_folder(root / "deep" / "er" / "still", 2, size=40, first_seed=100, fmt="jpg")
    demo_face(200, 40).save(root / "UPPER.JPG")
    demo_face(201, 40).save(root / "named ünïcödé face.webp")
    demo_face(202, 16).save(root / "tiny.png")  # smaller than 32: upscaled, kept, warned
    (root / "empty.jpg").write_bytes(b"")
    (root / "page.png").write_text("<html>404 not found</html>")
    good = (root / "face-00000.png").read_bytes()
    (root / "cut.png").write_bytes(good[: len(good) // 2])
    (root / "notes.txt").write_text("ignored: no image extension")
    (root / "README").write_text("ignored too")
    os.symlink("loop_b.jpg", root / "loop_a.jpg")
    os.symlink("loop_a.jpg", root / "loop_b.jpg")
    os.symlink("missing.png", root / "dangling.png")
    os.symlink(".", root / "deep" / "self")  # a folder link that loops
    os.mkfifo(root / "pipe.jpg")
    return root


def test_hostile_folder_keeps_every_good_image_and_reports_every_bad_file(hostile, tmp_path):
    result = load_folder(hostile, 32, cache_dir=tmp_path / "cache")
    report = result.report
    assert len(result) == 11 and result.images.shape == (11, 3, 32, 32)
    assert "deep/er/still/face-00100.jpg" in result.paths and "UPPER.JPG" in result.paths
    assert report.upscaled == ["tiny.png"]
    assert report.rejected == {
        imgs.ZERO_BYTE: ["empty.jpg"],
        imgs.NOT_AN_IMAGE: ["page.png"],
        imgs.CORRUPT: ["cut.png"],
        imgs.SYMLINK_LOOP: ["deep/self", "loop_a.jpg", "loop_b.jpg"],
        imgs.BROKEN_LINK: ["dangling.png"],
        imgs.NOT_A_FILE: ["pipe.jpg"],
    }
    text = report.summary()
    assert "11 of" in text and "1 zero-byte file" in text and "upscaled" in text
    assert "pipe.jpg" in report.details()


def test_pixels_match_the_files(tmp_path):
    write_demo_folder(tmp_path / "d", 3, size=32)
    result = load_folder(tmp_path / "d", 32, cache_dir=tmp_path / "c")
    expected = np.asarray(demo_face(1, 32)).transpose(2, 0, 1)
    assert np.array_equal(result.images[result.paths.index("face-00001.png")], expected)


def test_folder_without_images_is_a_clear_error(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("x")
    with pytest.raises(DatasetError, match="no usable image"):
        load_folder(tmp_path / "d", 32)
    (tmp_path / "d" / "b.jpg").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="not an image"):
        load_folder(tmp_path / "d", 32)
    with pytest.raises(DatasetError, match="nope does not exist"):
        load_folder(tmp_path / "nope", 32)
    with pytest.raises(DatasetError, match=r"a.txt is not a folder \(nor a .zip or .tar of images\)"):
        load_folder(tmp_path / "d" / "a.txt", 32)


def test_second_open_comes_from_the_cache_until_a_file_changes(tmp_path):
    folder = tmp_path / "d"
    write_demo_folder(folder, 5, size=32)
    first = load_folder(folder, 32, cache_dir=tmp_path / "c")
    again = load_folder(folder, 32, cache_dir=tmp_path / "c")
    assert not first.report.from_cache and again.report.from_cache
    assert np.array_equal(first.images, again.images) and again.paths == first.paths
    demo_face(99, 32).save(folder / "face-00002.png")
    os.utime(folder / "face-00002.png", ns=(1, 1))  # a different mtime even on coarse clocks
    changed = load_folder(folder, 32, cache_dir=tmp_path / "c")
    assert not changed.report.from_cache
    assert not np.array_equal(changed.images[2], first.images[2])
    assert not load_folder(folder, 16, cache_dir=tmp_path / "c").report.from_cache  # other resolution


def test_progress_and_cancel(tmp_path):
    write_demo_folder(tmp_path / "d", 10, size=24)
    seen = []
    load_folder(tmp_path / "d", 16, use_cache=False, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (10, 10)
    with pytest.raises(ScanCancelled):
        load_folder(tmp_path / "d", 16, use_cache=False, cancel=lambda: True)


def test_batches_are_in_range_flipped_on_the_tensor_and_cover_an_epoch():
    images = np.zeros((10, 3, 4, 4), np.uint8)
    images[:, :, :, :2] = 255  # left half white
    images[:, 0, 0, 0] = np.arange(10)  # a tag per image
    batches = TensorBatches(images, "cpu", seed=0, flip=True)
    x = torch.cat([batches.next(5), batches.next(5)])
    assert x.shape == (10, 3, 4, 4) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    flipped = x[:, 1, 0, 0] < 0  # left edge dark: flipped
    assert 0 < flipped.sum() < 10
    tags = torch.where(flipped, x[:, 0, 0, 3], x[:, 0, 0, 0])
    assert sorted(((tags + 1) * 127.5).round().int().tolist()) == list(range(10))  # each image once per epoch


def test_batch_order_restores_exactly():
    images = np.random.default_rng(0).integers(0, 255, (7, 3, 2, 2), dtype=np.uint8)
    a = TensorBatches(images, "cpu", seed=3)
    a.next(5)
    state = a.state_dict()
    expected = [a.next(4) for _ in range(3)]
    b = TensorBatches(images, "cpu", seed=99)
    b.load_state_dict(state)
    assert all(torch.equal(e, b.next(4)) for e in expected)



def test_a_dataset_left_in_host_memory_gives_the_same_batches_and_restores_the_same():
    """Images too big for the GPU stay in host memory; each batch is gathered there (on the CPU here)."""
    images = np.random.default_rng(0).integers(0, 255, (7, 3, 2, 2), dtype=np.uint8)
    on_device = TensorBatches(images, "cpu", seed=3)
    in_host = TensorBatches(images, "cpu", seed=3, on_device=False)
    assert on_device.on_device and not in_host.on_device
    for _ in range(5):  # batches of 3 from 7 images: every other batch spans two epochs
        assert torch.equal(on_device.next(3), in_host.next(3))
    restored = TensorBatches(images, "cpu", seed=99, on_device=False)
    restored.load_state_dict(on_device.state_dict())
    assert all(torch.equal(on_device.next(4), restored.next(4)) for _ in range(3))


def test_a_dataset_takes_at_most_a_third_of_the_gpus_free_memory():
    from trainers.data import fits_on_device

    gib = 2**30
    assert fits_on_device(2 * gib, free_bytes=7 * gib)  # 20,000 faces at 256 px on an 8 GB card
    assert not fits_on_device(10 * gib, free_bytes=7 * gib)  # 50,000 at 256 px: kept in host memory


def test_a_run_whose_images_stay_in_host_memory_says_so_and_trains_the_same_weights(tmp_path, monkeypatch):
    import trainers.loop as loop
    from tests.helpers import faces_folder, tiny_config
    from trainers import events as ev
    from trainers.checkpoint import latest_checkpoint, load_checkpoint

    data = faces_folder(tmp_path)
    plain = list(loop.train(tiny_config("dcgan", data, tmp_path / "plain")))
    assert not [e for e in plain if isinstance(e, ev.Notice) and "host memory" in e.message]

    class InHost(TensorBatches):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs, on_device=False)

    monkeypatch.setattr(loop, "TensorBatches", InHost)
    events = list(loop.train(tiny_config("dcgan", data, tmp_path / "host")))
    assert isinstance(events[-1], ev.Finished), events[-1]
    notes = [e.message for e in events if isinstance(e, ev.Notice)]
    assert any("GiB of images" in m and "stay in host memory" in m for m in notes), notes
    a, b = (load_checkpoint(latest_checkpoint(tmp_path / run))["models"] for run in ("plain", "host"))
    assert all(torch.equal(a[net][k], b[net][k]) for net in a for k in a[net])

def test_worker_processes_give_the_same_result_as_one_process(hostile, tmp_path, monkeypatch):
    import trainers.data as data

    single = load_folder(hostile, 32, use_cache=False, workers=1)
    monkeypatch.setattr(data, "PARALLEL_MIN_FILES", 0)
    monkeypatch.setattr(data, "CHUNK", 3)
    pooled = load_folder(hostile, 32, use_cache=False, workers=2)
    assert pooled.paths == single.paths and np.array_equal(pooled.images, single.images)
    assert pooled.report.rejected == single.report.rejected and pooled.report.upscaled == single.report.upscaled


def zip_folder(folder, path, compression=zipfile.ZIP_DEFLATED):
    """`folder` zipped as a file manager does (its name as the top folder), members in no particular order."""
    with zipfile.ZipFile(path, "w", compression) as zf:
        for p in sorted(folder.rglob("*"), reverse=True):
            if p.is_file() and not p.is_symlink() and p.name != "pipe.jpg":
                zf.write(p, p.relative_to(folder.parent).as_posix())
    return path


def test_a_zip_gives_the_images_of_its_folder_in_the_same_order(tmp_path):
    folder = tmp_path / "data"
    write_demo_folder(folder, 6, size=40)
    # a folder walk reads face/ before face-00000.png; a plain sort of the names would not ('-' < '/')
    write_demo_folder(folder / "face", 2, size=40, first_seed=100, fmt="jpg")
    demo_face(200, 40).save(folder / "UPPER.JPG")
    unpacked = load_folder(folder, 32, use_cache=False)
    packed = load_folder(zip_folder(folder, tmp_path / "faces.zip"), 32, use_cache=False)
    assert packed.report.folder == str(tmp_path / "faces.zip") and packed.report.used == 9
    assert packed.paths == ["data/" + p for p in unpacked.paths]  # so --holdout keeps out the same files
    assert np.array_equal(packed.images, unpacked.images)


def test_a_zips_bad_members_are_reported_and_skipped(hostile, tmp_path, monkeypatch):
    demo_face(300, 200).save(hostile / "huge.bmp")  # 120 KB unpacked: over the limit set below
    path = zip_folder(hostile, tmp_path / "hostile.zip")
    odd = (hostile / "face-00001.png").read_bytes()
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("data/__MACOSX-free/flipped.png", odd, compress_type=zipfile.ZIP_STORED)
        zf.writestr("__MACOSX/data/._face-00000.png", b"\x00\x05\x16\x07 resource fork")  # not an image: ignored
        zf.writestr("data/folder/", b"")  # a folder entry
    raw = bytearray(path.read_bytes())
    at = raw.rindex(odd) + len(odd) // 2
    raw[at] ^= 0xFF  # one damaged byte in the stored copy: its CRC no longer matches
    path.write_bytes(bytes(raw))
    monkeypatch.setattr(imgs, "MEMBER_MAX_BYTES", 100_000)

    result = load_folder(path, 32, use_cache=False)
    assert len(result) == 11 and "data/deep/er/still/face-00100.jpg" in result.paths
    assert result.report.upscaled == ["data/tiny.png"]
    assert result.report.rejected == {
        imgs.ZERO_BYTE: ["data/empty.jpg"],
        imgs.NOT_AN_IMAGE: ["data/page.png"],
        imgs.CORRUPT: ["data/__MACOSX-free/flipped.png", "data/cut.png"],
        imgs.TOO_LARGE: ["data/huge.bmp"],
    }
    assert "Bad CRC" in imgs.decode_members(zipfile.ZipFile(path), ["data/__MACOSX-free/flipped.png"], 32)[0].detail


def test_a_zip_is_read_from_the_cache_until_a_member_changes(tmp_path):
    folder = tmp_path / "data"
    write_demo_folder(folder, 4, size=32)
    path = zip_folder(folder, tmp_path / "faces.zip")
    first = load_folder(path, 32, cache_dir=tmp_path / "c")
    again = load_folder(path, 32, cache_dir=tmp_path / "c")
    assert not first.report.from_cache and again.report.from_cache and again.paths == first.paths
    demo_face(99, 32).save(folder / "face-00002.png")  # the same name, another face
    zip_folder(folder, path)
    changed = load_folder(path, 32, cache_dir=tmp_path / "c")
    assert not changed.report.from_cache and not np.array_equal(changed.images, first.images)
    # the unpacked folder and its zip do not share a cache entry
    assert not load_folder(folder, 32, cache_dir=tmp_path / "c").report.from_cache


def test_a_file_named_zip_that_is_not_one_is_a_clear_error(tmp_path):
    (tmp_path / "faces.zip").write_bytes(b"PK but not really")
    with pytest.raises(DatasetError, match="faces.zip is not a readable zip archive"):
        load_folder(tmp_path / "faces.zip", 32)
    with zipfile.ZipFile(tmp_path / "notes.zip", "w") as zf:
        zf.writestr("notes.txt", "no images here")
    with pytest.raises(DatasetError, match="no usable image in .*notes.zip"):
        load_folder(tmp_path / "notes.zip", 32)


def test_worker_processes_read_a_zip_as_one_process_does(hostile, tmp_path, monkeypatch):
    import trainers.data as data

    path = zip_folder(hostile, tmp_path / "hostile.zip")
    single = load_folder(path, 32, use_cache=False, workers=1)
    monkeypatch.setattr(data, "PARALLEL_MIN_FILES", 0)
    monkeypatch.setattr(data, "CHUNK", 3)
    pooled = load_folder(path, 32, use_cache=False, workers=2)
    assert len(single) == 11 and pooled.paths == single.paths and np.array_equal(pooled.images, single.images)
    assert pooled.report.rejected == single.report.rejected


def tar_folder(folder, path, mode="w"):
    """`folder` packed as `tar cf` does (its name as the top folder; links kept as links), in no particular order."""
    with tarfile.open(path, mode) as tar:
        for p in sorted(folder.rglob("*"), reverse=True):
            if p.name != "pipe.jpg" and (p.is_symlink() or p.is_file()):
                tar.add(p, p.relative_to(folder.parent).as_posix(), recursive=False)
    return path


def test_a_tar_gives_the_images_of_its_folder_and_reports_its_bad_members(hostile, tmp_path, monkeypatch):
    import trainers.data as data

    unpacked = load_folder(hostile, 32, use_cache=False)
    path = tar_folder(hostile, tmp_path / "faces.tar")
    with tarfile.open(path, "a") as tar:  # what a Mac's tar adds beside each file: not an image, left out
        fork = b"\x00\x05\x16\x07 apple double"
        info = tarfile.TarInfo("data/._face-00000.png")
        info.size = len(fork)
        tar.addfile(info, io.BytesIO(fork))
    packed = load_folder(path, 32, use_cache=False)
    assert packed.paths == ["data/" + p for p in unpacked.paths]  # the same order: --holdout keeps the same files
    assert np.array_equal(packed.images, unpacked.images) and packed.report.upscaled == ["data/tiny.png"]
    assert packed.report.rejected == {imgs.ZERO_BYTE: ["data/empty.jpg"], imgs.NOT_AN_IMAGE: ["data/page.png"],
                                      imgs.CORRUPT: ["data/cut.png"]}  # links are not files to read: not listed
    monkeypatch.setattr(data, "PARALLEL_MIN_FILES", 0)
    monkeypatch.setattr(data, "CHUNK", 3)
    pooled = load_folder(path, 32, use_cache=False, workers=2)  # worker processes read it as one process does
    assert pooled.paths == packed.paths and np.array_equal(pooled.images, packed.images)

    write_demo_folder(tmp_path / "plain", 5, size=32)
    whole = tar_folder(tmp_path / "plain", tmp_path / "plain.tar")
    last = tarfile.open(whole).getmembers()[-1]  # an archive cut short inside its last image: that one is reported
    (tmp_path / "cut.tar").write_bytes(whole.read_bytes()[: last.offset_data + last.size // 2])
    cut = load_folder(tmp_path / "cut.tar", 32, use_cache=False)
    assert cut.report.rejected == {imgs.CORRUPT: [last.name]} and len(cut) == 4  # and the others kept


def test_a_tar_is_cached_by_its_members(tmp_path):
    folder = tmp_path / "data"
    write_demo_folder(folder, 4, size=32)
    path = tar_folder(folder, tmp_path / "faces.tar")
    first = load_folder(path, 32, cache_dir=tmp_path / "c")
    assert load_folder(path, 32, cache_dir=tmp_path / "c").report.from_cache
    demo_face(99, 32).save(folder / "face-00002.png")
    os.utime(folder / "face-00002.png", (1, 1))  # another face, another time
    tar_folder(folder, path)
    changed = load_folder(path, 32, cache_dir=tmp_path / "c")
    assert not changed.report.from_cache and not np.array_equal(changed.images, first.images)

    tar_folder(folder, tmp_path / "faces.tar.gz", "w:gz")
    (tmp_path / "gz.tar").write_bytes((tmp_path / "faces.tar.gz").read_bytes())  # compressed, misnamed
    with pytest.raises(DatasetError, match="gz.tar is not a readable uncompressed tar archive"):
        load_folder(tmp_path / "gz.tar", 32)


@pytest.mark.parametrize("suffix", [".tar.gz", ".tgz", ".tar.bz2", ".tar.xz"])
def test_a_compressed_tar_is_read_in_one_pass_with_the_folder_s_images_order_and_rejections(hostile, tmp_path,
                                                                                            monkeypatch, suffix):
    import trainers.data as data

    unpacked = load_folder(hostile, 32, use_cache=False)
    path = tar_folder(hostile, tmp_path / f"faces{suffix}", "w:" + data.COMPRESSED_TARS[suffix])
    seen = []
    packed = load_folder(path, 32, use_cache=False, progress=lambda done, total: seen.append((done, total)))
    assert packed.paths == ["data/" + p for p in unpacked.paths]  # the same order: --holdout keeps the same files
    assert np.array_equal(packed.images, unpacked.images) and packed.report.upscaled == ["data/tiny.png"]
    assert packed.report.rejected == {imgs.ZERO_BYTE: ["data/empty.jpg"], imgs.NOT_AN_IMAGE: ["data/page.png"],
                                      imgs.CORRUPT: ["data/cut.png"]}
    assert seen[-1] == (14, 14) and all(done <= total for done, total in seen)  # 11 images and 3 rejected files
    monkeypatch.setattr(data, "PARALLEL_MIN_FILES", 0)
    monkeypatch.setattr(data, "CHUNK", 3)
    pooled = load_folder(path, 32, use_cache=False, workers=2)  # worker processes decode it as one process does
    assert pooled.paths == packed.paths and np.array_equal(pooled.images, packed.images)
    assert pooled.report.rejected == packed.report.rejected


def test_a_compressed_tar_cut_short_keeps_what_came_before_and_is_cached_by_its_size_and_time(tmp_path):
    folder = tmp_path / "data"
    write_demo_folder(folder, 5, size=32)
    whole = tar_folder(folder, tmp_path / "faces.tgz", "w:gz")
    cache = tmp_path / "c"
    first = load_folder(whole, 32, cache_dir=cache)
    assert len(first) == 5 and load_folder(whole, 32, cache_dir=cache).report.from_cache
    faces = [folder / f"face-{i:05d}.png" for i in range(5)]
    demo_face(99, 32).save(faces[2])  # another face: the archive is packed again, and read again
    tar_folder(folder, whole, "w:gz")
    changed = load_folder(whole, 32, cache_dir=cache)
    assert not changed.report.from_cache and not np.array_equal(changed.images, first.images)

    packed = whole.read_bytes()
    (tmp_path / "cut.tgz").write_bytes(packed[: len(packed) * 2 // 3])
    cut = load_folder(tmp_path / "cut.tgz", 32, use_cache=False)
    kept = 5 - len(cut)  # tar_folder packs the last name first: the first names are the ones cut off
    assert 0 < len(cut) < 5 and cut.paths == [f"data/{f.name}" for f in faces[kept:]]
    assert np.array_equal(cut.images, changed.images[kept:])
    # the image the cut fell in, or the rest of the archive
    assert cut.report.rejected[imgs.CORRUPT] in ([f"data/{faces[kept - 1].name}"], [STREAM_CUT])


def test_a_compressed_tar_can_be_cancelled_and_one_this_python_cannot_unpack_says_so(tmp_path):
    folder = tmp_path / "data"
    write_demo_folder(folder, 3, size=32)
    path = tar_folder(folder, tmp_path / "faces.tar.xz", "w:xz")
    with pytest.raises(ScanCancelled):
        load_folder(path, 32, use_cache=False, cancel=lambda: True)
    if "zst" not in tarfile.TarFile.OPEN_METH:  # zstd is read from Python 3.14 on
        (tmp_path / "faces.tar.zst").write_bytes(b"(\xb5/\xfd")
        with pytest.raises(DatasetError, match=r"faces.tar.zst cannot be read by this Python \(.*\): unpack it, "
                                               r"or pack its images as a .zip or an uncompressed .tar"):
            load_folder(tmp_path / "faces.tar.zst", 32)
