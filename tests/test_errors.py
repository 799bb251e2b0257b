"""``positive_int``: the one check of integer parameters (counts, lengths, strides, batch sizes);
``memory_errors``: failed allocations as OutOfMemoryError."""

from __future__ import annotations

import re
import weakref

import numpy as np
import pytest
import torch

from tsmamba.errors import ConfigError, OutOfMemoryError, memory_errors, positive_int


def test_positive_int_returns_a_plain_int_for_python_and_numpy_integers():
    assert positive_int(3, "stride") == 3
    value = positive_int(np.int64(7), "horizon")
    assert value == 7 and type(value) is int


@pytest.mark.parametrize("value", [0, -1, 2.5, 2.0, True, "4", None])
def test_positive_int_names_the_parameter_and_the_value_it_rejects(value):
    message = re.escape(f"stride must be a positive integer, got {value!r}") + "$"
    with pytest.raises(ConfigError, match=message):
        positive_int(value, "stride")


def test_positive_int_lets_none_through_when_allowed_and_appends_the_hint():
    assert positive_int(None, "n_windows", allow_none=True) is None
    with pytest.raises(ConfigError, match=r"got 0; pass None to use every window$"):
        positive_int(0, "n_windows", allow_none=True, hint="pass None to use every window")


def test_memory_errors_turns_failed_allocations_into_out_of_memory_errors_saying_the_size():
    cpu = ("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
           "you tried to allocate 12030197760 bytes. Error code 12 (Cannot allocate memory)")
    cuda = "CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a total capacity of 79.1 GiB"
    for raised, size in ((RuntimeError(cpu), "11.2 GiB"), (RuntimeError(cuda), "20.00 GiB"),
                         (MemoryError(), None)):
        with pytest.raises(OutOfMemoryError) as caught, memory_errors("fit", "lower batch_size"):
            raise raised
        assert isinstance(caught.value, MemoryError) and caught.value.__cause__ is raised
        expected = "fit ran out of memory" + ("" if size is None else f" (it asked for {size} more)")
        assert str(caught.value) == f"{expected}: lower batch_size"


def test_memory_errors_says_the_size_numpy_and_torch_failed_to_allocate():
    numpy_says = r"^predict ran out of memory \(it asked for 1.00 PiB more\): x$"
    with pytest.raises(OutOfMemoryError, match=numpy_says), memory_errors("predict", "x"):
        np.empty(2**50, dtype=np.uint8)
    torch_says = r"^fit ran out of memory \(it asked for 1,048,576.0 GiB more\): x$"
    with pytest.raises(OutOfMemoryError, match=torch_says), memory_errors("fit", "x"):
        torch.empty(2**50, dtype=torch.uint8)


def test_memory_errors_lets_other_errors_through_untouched():
    for raised in (RuntimeError("mat1 and mat2 shapes cannot be multiplied"), ValueError("out of memory"),
                   ConfigError("d_model must be positive")):
        with pytest.raises(type(raised)) as caught, memory_errors("fit", "x"):
            raise raised
        assert caught.value is raised


def test_memory_errors_frees_what_the_failed_work_held():
    """The failed frames' locals (a step's activations) are released while the error is handled,
    so a smaller retry has the memory back."""

    class Activations:
        pass

    def step(held: list) -> None:
        activations = Activations()
        held.append(weakref.ref(activations))
        raise MemoryError

    held: list = []
    with pytest.raises(OutOfMemoryError) as caught, memory_errors("fit", "x"):
        step(held)
    assert caught.value.__cause__.__traceback__ is not None  # --debug still shows where
    assert held[0]() is None


def test_run_script_prints_a_tsmamba_error_in_one_line_with_status_2(capsys, monkeypatch):
    from tsmamba.errors import DataNotFoundError, run_script

    def missing():
        raise DataNotFoundError("ETTh1 not found locally.\nPut ETTh1.csv in one of these folders: /data")

    monkeypatch.setattr("sys.argv", ["/repo/experiments/ltsf.py", "--horizon", "96"])
    monkeypatch.delenv("TSMAMBA_DEBUG", raising=False)
    assert run_script(missing) == 2
    assert capsys.readouterr().err == ("ltsf.py: error: ETTh1 not found locally. Put ETTh1.csv in one of "
                                       "these folders: /data\n")
    assert run_script(lambda: None) == 0 and run_script(lambda: 3) == 3
    with pytest.raises(ZeroDivisionError):  # a bug keeps its traceback
        run_script(lambda: 1 / 0)
    monkeypatch.setenv("TSMAMBA_DEBUG", "1")
    with pytest.raises(DataNotFoundError):
        run_script(missing)
