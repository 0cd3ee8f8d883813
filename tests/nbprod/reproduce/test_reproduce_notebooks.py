"""nbprod.reproduce.notebooks: two executions of one notebook compare equal once timings,
ids, execution metadata and the project's folder are left out; what it computed does not."""

from __future__ import annotations

import nbformat

from nbprod.reproduce.notebooks import folders_of, loose_form, normal_form
from nbprod.schema import RunRecord


def executed(root: str, *, started: str, stdout: str = "rows 344\n", stderr: str | None = None,
             address: str = "0x7f3a12345678", cell_id: str = "a1") -> bytes:
    """An executed notebook as papermill and ploomber write it."""
    nb = nbformat.v4.new_notebook()
    nb.metadata.update({
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python", "version": "3.11.9"},
        "papermill": {"start_time": started, "end_time": started, "duration": 1.25,
                      "input_path": f"{root}/job.ipynb", "output_path": f"{root}/out/job.ipynb",
                      "parameters": {"n": 2}, "environment_variables": {}},
    })
    injected = nbformat.v4.new_code_cell(f'n = 2\nproduct = {{"nb": "{root}/out/job.ipynb"}}\n', execution_count=1)
    injected.metadata = {"tags": ["injected-parameters"], "papermill": {"duration": 0.01, "start_time": started}}
    injected.id = cell_id
    outputs = [nbformat.v4.new_output("stream", name="stdout", text=stdout)]
    if stderr:
        outputs.append(nbformat.v4.new_output("stream", name="stderr", text=stderr))
    outputs.append(nbformat.v4.new_output("execute_result", data={"text/plain": f"<Model at {address}>"},
                                          execution_count=2))
    work = nbformat.v4.new_code_cell("print('rows', 344)\nModel()", execution_count=2, outputs=outputs)
    work.metadata = {"execution": {"iopub.execute_input": started}, "papermill": {"duration": 0.5}}
    nb.cells = [injected, work]
    return nbformat.writes(nb).encode()


A, B = "/home/ada/project", "/tmp/nbprod-reproduce-x/project"


def test_timings_ids_execution_metadata_and_the_project_folder_are_left_out():
    one = executed(A, started="2026-12-01T10:00:00", cell_id="a1")
    two = executed(B, started="2026-12-02T11:30:00", cell_id="b2")
    assert one != two
    assert normal_form(one, [(A, "<project>")]) == normal_form(two, [(B, "<project>")])
    assert normal_form(one) != normal_form(two)  # without the folders, the injected cell differs


def test_what_a_notebook_computed_is_kept():
    one = executed(A, started="t1")
    other = executed(A, started="t2", stdout="rows 343\n")
    assert normal_form(one, [(A, "<project>")]) != normal_form(other, [(A, "<project>")])
    assert loose_form(one, [(A, "<project>")]) != loose_form(other, [(A, "<project>")])


def test_the_loose_form_drops_stderr_and_masks_addresses():
    one = executed(A, started="t1", address="0x7f3a12345678")
    other = executed(A, started="t1", stderr="UserWarning: slow\n", address="0x55d0ffee0000")
    assert normal_form(one) != normal_form(other)
    assert loose_form(one) == loose_form(other)


def test_a_runs_folders_are_its_project_and_repository():
    record = RunRecord(run_id="r", status="succeeded", started_at="t", project={"root": A}, git={"root": "/home/ada"})
    assert folders_of(record) == [(A, "<project>"), ("/home/ada", "<repository>")]
    # longest first: the project is replaced before the repository that holds it
    text = normal_form(executed(A, started="t"), folders_of(record))
    assert "<project>/out/job.ipynb" in text and "/home/ada" not in text
