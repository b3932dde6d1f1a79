"""Cache helpers: atomic writes and content digests."""

import pytest

from si_amortized.datasets._paths import atomic_output, file_digest


def test_atomic_output_replaces_on_success_and_leaves_nothing_on_failure(tmp_path):
    out = tmp_path / "recording.h5"
    with atomic_output(out) as partial:
        assert partial.name == "recording.partial.h5" and not out.exists()
        partial.write_bytes(b"done")
    assert out.read_bytes() == b"done"
    with pytest.raises(RuntimeError):
        with atomic_output(tmp_path / "failed.h5") as partial:
            partial.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recording.h5"]


def test_file_digest_follows_content_not_name(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "t.h5").write_bytes(b"x" * (5 << 20))  # more than one read block
    (tmp_path / "b" / "t.h5").write_bytes(b"x" * (5 << 20) + b"y")
    assert file_digest(tmp_path / "a" / "t.h5") != file_digest(tmp_path / "b" / "t.h5")
    (tmp_path / "c.h5").write_bytes(b"x" * (5 << 20))
    assert file_digest(tmp_path / "c.h5") == file_digest(tmp_path / "a" / "t.h5")
