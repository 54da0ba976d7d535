import pytest


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Dataset caches go to a temporary folder, never the user's cache."""
    monkeypatch.setenv("GAN_STUDIO_CACHE", str(tmp_path_factory.mktemp("cache")))
