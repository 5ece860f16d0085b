"""``make bench`` keeps working: the harness runs end to end at small counts and writes the documented format."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_service

ROOT = Path(__file__).resolve().parents[2]

#: Figure name -> (unit, whether it is compared with a limit, whether it has a floor).
FIGURES = {
    "send": ("msgs/s", True, False),
    "send_template": ("msgs/s", True, False),
    "async_send": ("msgs/s", True, False),
    "send_many": ("msgs/s", True, True),
    "ats_single": ("msgs/s", True, True),
    "outbox_ats_batch": ("msgs/s", True, True),
    "check_delivery": ("msgs/s", True, False),
    "async_outbox_twilio": ("msgs/s", True, False),
    "sync_outbox_twilio": ("msgs/s", True, False),
    "claim_with_backlog": ("msgs/s", True, False),
    "check_delivery_peak_rss_mib": ("MiB", False, False),
    "import_ms": ("ms", False, False),
    "pg_send": ("msgs/s", True, False),
    "pg_send_many": ("msgs/s", True, True),
    "pg_outbox_ats_batch": ("msgs/s", True, True),
    "pg_outbox_workers_1": ("msgs/s", False, False),
    "pg_outbox_workers_2": ("msgs/s", False, False),
    "pg_outbox_workers_4": ("msgs/s", False, False),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    output = tmp_path_factory.mktemp("bench") / "results.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert str(output) in run.stdout
    chart = output.with_name("scaling.svg").read_text(encoding="utf-8")
    assert chart.startswith("<svg")
    assert "4 worker(s)" in chart
    loaded: dict[str, object] = json.loads(output.read_text(encoding="utf-8"))
    return loaded


@pytest.mark.slow
def test_every_figure_is_written_with_its_runs_limit_and_unit(results: dict[str, object]) -> None:
    """Every figure (PostgreSQL's included: the benchmark machine runs it), each a median (claims past a backlog:
    the best) of at least three positive runs (memory: one run per message count), with a
    limit where one is defined and a floor where the limit covers only part of the job."""
    figures = results["figures"]
    assert isinstance(figures, dict)
    assert set(figures) == set(FIGURES)
    for name, (unit, has_limit, has_floor) in FIGURES.items():
        figure = figures[name]
        assert figure["unit"] == unit, name
        # Memory is not timed: its runs are the peaks at each message count, the value the largest count's.
        assert len(figure["runs"]) >= (2 if unit == "MiB" else 3), name
        assert all(run > 0 for run in figure["runs"]), name
        assert min(figure["runs"]) <= figure["value"] <= max(figure["runs"]), name
        assert (figure["limit"] is not None and figure["limit"] > 0) is has_limit, name
        assert ("floor" in figure and figure["floor"] > 0) is has_floor, name


@pytest.mark.slow
def test_the_details_that_make_a_figure_trustworthy_are_recorded(results: dict[str, object]) -> None:
    """Queries per chunk, memory by count, the import's adapter check, how the asyncio figures were measured
    and the machine are part of the output."""
    figures = results["figures"]
    assert isinstance(figures, dict)
    check = figures["check_delivery"]
    assert check["queries_per_chunk"] > 0
    assert check["http_requests"] == check["chunks"]
    assert set(figures["check_delivery_peak_rss_mib"]["by_count"]) == {"1000", "10000"}
    assert figures["import_ms"]["adapter_dependencies_loaded"] == 0
    assert figures["async_send"]["storage"] == "sync storage in threads"
    drain = figures["async_outbox_twilio"]
    # --quick divides the counts, and the asyncio drain's requests at once, by ten.
    assert (drain["max_in_flight"], drain["gateway_delay_ms"]) == (20, 50)
    assert drain["limit"] == max(drain["limit_one_client"], drain["limit_clients"])
    assert drain["times_sync"] > 0
    assert figures["sync_outbox_twilio"]["threads"] == 1
    for workers in (1, 2, 4):
        scaling = figures[f"pg_outbox_workers_{workers}"]
        assert scaling["worker_cpu_ms_per_msg"] > 0
        assert scaling["db_cpu_ms_per_msg"] > 0
        assert scaling["gateway_cpu_ms_per_msg"] >= 0
    assert "worker_cpu_growth_from_1" in figures["pg_outbox_workers_4"]
    machine = results["machine"]
    assert isinstance(machine, dict)
    assert {"python", "platform", "cpus", "sqlite", "seconds"} <= set(machine)
