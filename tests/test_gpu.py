"""GPU runners: the sandbox exposes NVIDIA devices, and a PyTorch answer trained on the GPU is graded.

The `gpu` tests are skipped where CUDA is absent (conftest.py) and run on the self-hosted `gpu`
runner (.github/workflows/grade-gpu.yml). The first test runs everywhere: it pins down which
device nodes enter the sandbox.
"""
import nbformat
import pytest
from grading_support import answer_notebook, grade, submit, temp_course

from autograder.executor import Limits, execute_notebook, sandbox_available
from autograder.executor import bwrap

GPU_TRAINING = '''device = "cuda"
model = model.to(device)
images = torch.from_numpy(x_train).permute(0, 3, 1, 2).to(device)
labels = torch.from_numpy(y_train).long().to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(5):
    order = torch.randperm(len(images), device=device)
    for start in range(0, len(images), 64):
        batch = order[start:start + 64]
        optimizer.zero_grad()
        loss_fn(model(images[batch]), labels[batch]).backward()
        optimizer.step()
model = model.cpu().eval()
print("trained on", torch.cuda.get_device_name(0))'''


def test_device_nodes_enter_the_sandbox_only_when_asked(monkeypatch, tmp_path):
    nodes = {"/dev/nvidia0", "/dev/nvidiactl", "/dev/nvidia-uvm"}
    monkeypatch.setattr(bwrap.glob, "glob", lambda pattern: sorted(nodes) if pattern == "/dev/nvidia*" else [])
    monkeypatch.setattr(bwrap.os.path, "exists", lambda path: path in nodes or path.startswith("/"))
    monkeypatch.setattr(bwrap, "bwrap_path", lambda: "/usr/bin/bwrap")
    with_gpu = bwrap.build_command(["python"], scratch=tmp_path, limits=Limits(gpu=True))
    without = bwrap.build_command(["python"], scratch=tmp_path, limits=Limits(gpu=False))
    bound = {with_gpu[i + 1] for i, arg in enumerate(with_gpu) if arg == "--dev-bind"}
    assert bound == nodes
    assert "--dev-bind" not in without


@pytest.mark.gpu
def test_sandboxed_kernel_sees_the_gpu(tmp_path):
    assert sandbox_available()[0]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import torch\nx = torch.ones(1024, 1024, device='cuda')\nprint('sum', float((x @ x).sum()))")])
    result = execute_notebook(notebook, tmp_path, Limits(cell_timeout_s=120))
    assert result.status == "ok", result.cell_failures
    assert "sum 1073741824.0" in "".join(o.get("text", "") for o in result.notebook.cells[0].outputs)


@pytest.mark.gpu
def test_a_keras_answer_trains_on_the_gpu_too(tmp_path):
    """The GPU install path (make install-gpu) has TensorFlow's CUDA build: Keras sees the device."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import tensorflow as tf\nprint('gpus', len(tf.config.list_physical_devices('GPU')))")])
    result = execute_notebook(notebook, tmp_path, Limits(cell_timeout_s=300))
    assert result.status == "ok", result.cell_failures
    text = "".join(o.get("text", "") for o in result.notebook.cells[0].outputs)
    assert "gpus 0" not in text and "gpus " in text, "TensorFlow's CPU build: run `make install-gpu`"


@pytest.mark.gpu
def test_pytorch_answer_trained_on_the_gpu_earns_full_marks(tmp_path):
    course = temp_course(tmp_path)
    notebook = answer_notebook("mnist_cnn", {"cnn_train_solution": GPU_TRAINING}, student="pytorch")
    submit(course, "gpu_student", "mnist_cnn", notebook)
    result = grade(course)["gpu_student", "mnist_cnn"]
    assert (result.status, result.score) == ("graded", 10), result.checks
