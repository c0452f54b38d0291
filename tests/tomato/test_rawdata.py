"""Raw data files after a writer died mid-line: what the service appends stays whole."""

from __future__ import annotations

from tomato.drivers import Column

from tomato.rawdata import DataFile, RecordFile, whole_points

VALUE = (Column("value", "V"),)


def append_after(path, text: str, point: list[float]) -> tuple[int, list[str]]:
    """`path` holding `text` as a killed writer left it: the points counted in it, then its
    lines once `point` is appended as the service does."""
    path.write_text(text)
    counted = whole_points(path, free_form=False)
    out = DataFile(path, VALUE)
    out.append([point])
    out.close()
    return counted, path.read_text().splitlines()


def test_a_torn_last_row_is_cut_off_before_more_are_appended(tmp_path):
    counted, lines = append_after(tmp_path / "00-worker-sequential.csv",
                                  "uts,value\ns,V\n1.0,1\n2.0,2\n3.0,", [3.0, 3.0])
    assert counted == 2
    assert lines[2:] == ["1.0,1", "2.0,2", "3.000000,3.000000"]


def test_a_torn_header_is_written_again(tmp_path):
    counted, lines = append_after(tmp_path / "00-worker-sequential.csv", "uts,val", [1.0, 1.0])
    assert counted == 0
    assert lines[:2] == ["uts,value", "s,V"]


def test_records_count_points_not_layout_lines(tmp_path):
    path = tmp_path / "00-probe-spectrum.jsonl"
    out = RecordFile(path)
    out.append([[1.0, {"x": [1, 2]}, {"units": {"x": "m"}}], [2.0, {"x": [3, 4]}]])
    out.close()
    with path.open("a") as f:
        f.write('{"uts": 3.0, "x": [5')
    assert whole_points(path, free_form=True) == 2
    assert path.read_text().endswith('"x": [3, 4]}\n')
    assert whole_points(tmp_path / "none.jsonl", free_form=True) == 0
