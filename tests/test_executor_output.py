"""Output capping fed synthetic iopub messages (no kernel)."""
import nbformat
import pytest

from autograder.executor.outputs import TRUNCATION_NOTE, OutputCapper, clip


def stream(text, name="stdout"):
    return {"msg_type": "stream", "content": {"name": name, "text": text}}


def display(data, mtype="display_data", **extra):
    return {"msg_type": mtype, "content": {"data": data, **extra}}


def error(ename="ValueError", evalue="bad", traceback=("Traceback", "line")):
    return {"msg_type": "error", "content": {"ename": ename, "evalue": evalue, "traceback": list(traceback)}}


def notes(outputs):
    return [o for o in outputs if o.get("metadata", {}).get("autograder_truncated")]


def text_of(outputs, name=None):
    return "".join(o["text"] for o in outputs if o["output_type"] == "stream"
                   and (name is None or o["name"] == name) and not o.get("metadata"))


@pytest.fixture
def capper():
    hits = []
    c = OutputCapper(max_output_bytes=1000, max_traceback_bytes=50, on_limit=lambda: hits.append(1))
    c.hits = hits
    return c


def test_streams_merge_per_name_and_unknown_names_become_stdout(capper):
    outs = []
    sink = capper.cell(outs, 500)
    for m in (stream("a"), stream("b"), stream("E", "stderr"), stream("c"), stream("d", "/etc/passwd")):
        sink.handle(m)
    assert [(o["name"], o["text"]) for o in outs] == [("stdout", "ab"), ("stderr", "E"), ("stdout", "cd")]
    assert sink.used == capper.total == 5 and capper.hits == []


def test_a_stream_over_the_cell_cap_is_cut_and_one_note_added(capper):
    outs = []
    sink = capper.cell(outs, 100)
    sink.handle(stream("x" * 60))
    sink.handle(stream("y" * 60))   # 40 fit
    sink.handle(stream("z" * 10))   # nothing fits any more
    sink.handle(display({"text/plain": "later"}))
    assert text_of(outs) == "x" * 60 + "y" * 40
    assert len(notes(outs)) == 1 and notes(outs)[0]["text"] == TRUNCATION_NOTE
    assert outs[-1] is notes(outs)[0] and notes(outs)[0]["name"] == "stderr"
    assert capper.total == 100 and sink.used == 100
    assert len(capper.hits) == 1


def test_the_notebook_budget_is_shared_between_cells(capper):
    first, second, third = [], [], []
    capper.cell(first, 800).handle(stream("a" * 700))
    s2 = capper.cell(second, 800)
    s2.handle(stream("b" * 700))
    capper.cell(third, 800).handle(stream("c"))
    assert text_of(first) == "a" * 700
    assert text_of(second) == "b" * 300 and len(notes(second)) == 1
    assert notes(third) == third and len(third) == 1   # nothing left for it
    assert capper.total == 1000
    assert len(capper.hits) == 2


def test_a_display_over_the_room_is_dropped_whole(capper):
    outs = []
    sink = capper.cell(outs, 100)
    sink.handle(display({"text/plain": "p" * 500}))
    assert len(outs) == 1 and notes(outs) == outs
    assert capper.total == 0 and len(capper.hits) == 1


def test_display_data_is_filtered_and_execute_result_keeps_an_int_count(capper):
    outs = []
    sink = capper.cell(outs, 1000)
    sink.handle(display({"text/plain": "1", "k" * 300: "v", "bad": 3, "image/png": None}))
    sink.handle(display({"text/plain": "2"}, "execute_result", execution_count=7))
    sink.handle(display({"text/plain": "3"}, "execute_result", execution_count="7; rm -rf /"))
    sink.handle(display({"text/plain": "4"}, "update_display_data"))
    sink.handle(display("not a dict"))
    assert set(outs[0]["data"]) == {"text/plain", "k" * 200}
    assert outs[1]["output_type"] == "execute_result" and outs[1]["execution_count"] == 7
    assert outs[2]["execution_count"] is None
    assert outs[3]["output_type"] == "display_data" and outs[3]["data"] == {"text/plain": "4"}
    assert len(outs) == 4
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=outs)])
    nbformat.validate(nb)


def test_a_traceback_keeps_its_end_and_the_error_is_recorded():
    capper = OutputCapper(max_output_bytes=10_000, max_traceback_bytes=50)
    outs = []
    sink = capper.cell(outs, 10_000)
    lines = [f"frame {i}" for i in range(40)] + ["ValueError: the end"]
    sink.handle(error("E" * 500, "v" * 5000, lines + [3, None]))
    (out,) = outs
    tb = "\n".join(out["traceback"])
    assert tb.startswith("…[traceback truncated]\n") and tb.endswith("ValueError: the end")
    assert len(tb) == len("…[traceback truncated]\n") + 50
    assert out["ename"] == "E" * 200 + "…[truncated]" and len(out["evalue"]) == 1000 + len("…[truncated]")
    assert sink.error == (out["ename"], out["evalue"])
    assert capper.total == len("\n".join(lines)[-50:]) + len("…[traceback truncated]\n") + len(out["evalue"])


def test_an_error_without_a_traceback_list(capper):
    outs = []
    sink = capper.cell(outs, 1000)
    sink.handle({"msg_type": "error", "content": {"traceback": "not a list"}})
    assert sink.error == ("Error", "") and outs[0]["traceback"] == [""]


def test_status_idle_and_header_msg_type(capper):
    sink = capper.cell([], 100)
    sink.handle({"header": {"msg_type": "status"}, "content": {"execution_state": "busy"}})
    assert not sink.idle
    sink.handle({"header": {"msg_type": "status"}, "content": {"execution_state": "idle"}})
    assert sink.idle
    sink.handle({"msg_type": "stream", "content": None})  # no content: ignored
    assert sink.outputs == []


def test_clear_output_clears_and_a_new_note_can_follow(capper):
    outs = []
    sink = capper.cell(outs, 10)
    sink.handle(stream("x" * 20))
    assert len(notes(outs)) == 1
    sink.handle({"msg_type": "clear_output", "content": {}})
    assert outs == []
    sink.handle(stream("y"))  # the request already overflowed: dropped, but said so again
    assert len(notes(outs)) == 1 and text_of(outs) == ""


def test_stream_text_is_never_merged_into_the_note(capper):
    outs = []
    sink = capper.cell(outs, 10)
    sink.handle(stream("x" * 20, "stderr"))
    sink.handle(stream("more", "stderr"))
    assert notes(outs)[0]["text"] == TRUNCATION_NOTE


def test_a_dropped_message_is_noted_once_and_reported_each_time(capper):
    outs = []
    sink = capper.cell(outs, 100)
    sink.handle(stream("before"))
    sink.note_dropped()
    sink.note_dropped()
    assert text_of(outs) == "before" and len(notes(outs)) == 1
    assert len(capper.hits) == 2
    sink.handle(stream("after", "stderr"))  # the request's own cap is not spent by a drop
    assert text_of(outs) == "beforeafter" and outs[-1]["text"] == "after"
    assert notes(outs)[0]["text"] == TRUNCATION_NOTE


def test_clip():
    assert clip("abc", 3) == "abc"
    assert clip("abcd", 3) == "abc…[truncated]"
    assert clip(12345, 2) == "12…[truncated]"


def test_an_error_too_large_to_keep_is_still_recorded(capper):
    outs = []
    sink = capper.cell(outs, 100)
    sink.handle(error("MemoryError", "m" * 500))
    assert notes(outs) == outs and sink.error == ("MemoryError", "m" * 500)
