"""Checks of a data folder against its spec: one error listing every missing or different file."""

import shutil

import pytest

from kit.data.schema import check, read_header, require, verify
from kit.errors import KitError
from kit.spec import get, registry

NAMES = sorted(registry())


@pytest.mark.parametrize("name", NAMES)
def test_every_twin_matches_its_spec(tiny_twin, name):
    # the twin must look exactly like the download, so `verify` is the contract both meet
    assert check(get(name).spec, tiny_twin(name)) == ()
    verify(get(name).spec, tiny_twin(name))


@pytest.fixture()
def rossmann(tiny_twin, tmp_path):
    src = tiny_twin("rossmann")
    for p in src.iterdir():
        if p.is_file():
            shutil.copy(p, tmp_path / p.name)
    return tmp_path


def test_read_header_handles_quotes_crlf_and_bom(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b'\xef\xbb\xbf"Store","Date","a,b"\r\n1,2015-01-01,3\r\n')
    assert read_header(path) == ["Store", "Date", "a,b"]
    (tmp_path / "empty.csv").write_bytes(b"")
    assert read_header(tmp_path / "empty.csv") == []


def test_all_problems_in_one_error(rossmann):
    spec = get("rossmann").spec
    (rossmann / "store.csv").unlink()
    text = (rossmann / "test.csv").read_bytes().split(b"\r\n", 1)[1]
    (rossmann / "test.csv").write_bytes(b'"Id","Store","Date","Open","Promo","StateHoliday","SchoolHoliday","Extra"\r\n'
                                        + text)
    problems = check(spec, rossmann)
    assert [(p.file, p.kind) for p in problems] == [("test.csv", "header"), ("store.csv", "missing")]
    with pytest.raises(KitError, match=r"does not match what rossmann ships \(2 problems\): test.csv header "
                                       r"differs: missing column DayOfWeek; unexpected column Extra; "
                                       r"store.csv is missing\. Download it again with `kit download rossmann "
                                       r"--force`"):
        verify(spec, rossmann)


def test_reordered_columns_named(rossmann):
    spec = get("rossmann").spec
    body = (rossmann / "sample_submission.csv").read_bytes().split(b"\r\n", 1)[1]
    (rossmann / "sample_submission.csv").write_bytes(b'"Sales","Id"\r\n' + body)
    with pytest.raises(KitError, match=r"sample_submission.csv header differs: column 1 is Sales, expected Id "
                                       r"\(same names, another order\)"):
        verify(spec, rossmann)


def test_empty_file_and_optional_files(rossmann):
    spec = get("rossmann").spec
    (rossmann / "store_states.csv").unlink()  # optional: its absence is fine
    assert check(spec, rossmann) == ()
    (rossmann / "store.csv").write_bytes(b"")
    with pytest.raises(KitError, match=r"store.csv is empty \(no header line\)"):
        verify(spec, rossmann)


def test_names_limit_the_check(rossmann):
    spec = get("rossmann").spec
    (rossmann / "train.csv").unlink()
    assert check(spec, rossmann, names=("test.csv",)) == ()
    assert [p.kind for p in check(spec, rossmann, names=("train.csv",))] == ["missing"]
    with pytest.raises(KitError, match=r"rossmann ships no file 'nope.csv'; its files: train.csv"):
        check(spec, rossmann, names=("nope.csv",))


def test_image_folders_must_hold_images(tiny_twin, tmp_path):
    spec = get("planet").spec
    src = tiny_twin("planet")
    for p in src.iterdir():
        if p.is_file():
            shutil.copy(p, tmp_path / p.name)
    (tmp_path / "train-jpg").mkdir()
    (tmp_path / "test-jpg").write_text("not a folder")
    problems = {p.file: p.kind for p in check(spec, tmp_path)}
    assert problems == {"train-jpg": "empty", "test-jpg": "not_a_folder", "test-jpg-additional": "missing"}


def test_require_asks_only_for_required_files_each_with_its_download(tiny_twin, tmp_path):
    spec = get("bulldozers").spec
    folder = tmp_path / "b"
    shutil.copytree(tiny_twin("bulldozers"), folder)
    for optional in ("Valid.csv", "ValidSolution.csv", "TrainAndValid.csv", "Machine_Appendix.csv"):
        (folder / optional).unlink()
    require(spec, folder)  # optional files may be absent
    (folder / "random_forest_benchmark_test.csv").unlink()
    (folder / "Test.csv").unlink()
    with pytest.raises(KitError, match=r"^bulldozers cannot start: .* lacks 2 required files: Test.csv \(`kit download "
                                       r"bulldozers --file Test.csv`\), random_forest_benchmark_test.csv \(`kit "
                                       r"download bulldozers --file random_forest_benchmark_test.csv`\); add"):
        require(spec, folder)
