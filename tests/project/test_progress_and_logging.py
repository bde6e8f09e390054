"""Run progress and logging, observed through the streams a user would see."""

from __future__ import annotations

import io
import logging

import pytest

from shipyard.data import Catalog
from shipyard.errors import ConfigError
from shipyard.pipeline import node, pipeline
from shipyard.project import RunProgress, configure_logging, default_logging_config
from shipyard.runner import SequentialRunner, ThreadRunner, create_hook_manager


class Terminal(io.StringIO):
    """A text stream that says it is a terminal, as stderr does in an interactive shell."""

    def isatty(self) -> bool:
        return True


def inc(x: int) -> int:
    return x + 1


def chain(n: int):
    return pipeline([node(inc, f"x{i}", f"x{i + 1}", name=f"n{i}") for i in range(n)])


def run_with(progress: RunProgress, runner=None, n: int = 5) -> Catalog:
    catalog = Catalog()
    catalog.save("x0", 0)
    hooks = create_hook_manager(progress, load_entry_points=False)
    (runner or SequentialRunner()).run(chain(n), catalog, hooks=hooks)
    return catalog


def test_plain_lines_when_not_a_terminal():
    stream = io.StringIO()
    run_with(RunProgress(stream=stream), n=3)
    lines = stream.getvalue().splitlines()
    assert [line.split(" done")[0] for line in lines] == ["[1/3] n0", "[2/3] n1", "[3/3] n2"]


def test_quiet_shows_nothing():
    stream = Terminal()
    run_with(RunProgress(stream=stream, quiet=True))
    assert stream.getvalue() == ""


def test_a_progress_bar_on_a_terminal():
    stream = Terminal()
    run_with(RunProgress(stream=stream), n=4)
    output = stream.getvalue()
    assert "\x1b[" in output  # drawn with terminal control codes, then cleared
    assert "[1/4]" not in output


def test_counts_every_node_under_threads():
    stream = io.StringIO()
    catalog = Catalog()
    catalog.save("src", 1)
    fanout = pipeline([node(inc, "src", f"y{i}", name=f"f{i}") for i in range(200)])
    hooks = create_hook_manager(RunProgress(stream=stream), load_entry_points=False)
    ThreadRunner(max_workers=4).run(fanout, catalog, hooks=hooks)
    counts = sorted(int(line[1:].split("/")[0]) for line in stream.getvalue().splitlines())
    assert counts == list(range(1, 201))


@pytest.fixture(autouse=True)
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_default_logging_goes_to_stderr_not_stdout(capsys):
    configure_logging(default_logging_config("churn"))
    logging.getLogger("churn.nodes").info("trained the model")
    captured = capsys.readouterr()
    assert "trained the model" in captured.err
    assert "trained the model" not in captured.out


def test_quiet_logging_keeps_warnings_only():
    configure_logging(default_logging_config(), quiet=True)
    assert all(h.level == logging.WARNING for h in logging.getLogger().handlers)


def test_a_bad_logging_config_is_a_config_error():
    with pytest.raises(ConfigError, match="logging configuration is invalid") as info:
        configure_logging({"version": 1, "handlers": {"h": {"class": "no.such.Handler"}}})
    assert "logging" in info.value.hint
