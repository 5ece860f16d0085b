"""Long commands against a gateway that is down: an exit status a cron job can act on, and a few lines on stderr
however many requests failed. The gateway is the loopback ATS fake, closed (connection refused)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.cli.conftest import CLI
from tests.providers.fake_gateways import ATSGateway

PASSWORD = {"SMSCORE_PROVIDER_OPTIONS__PASSWORD": "secret"}


def _config(url: str, *, batch_sending: bool) -> str:
    return (
        'provider = "ats"\n'
        f"batch_sending = {'true' if batch_sending else 'false'}\n"
        "check_chunk_size = 2\n"
        "[provider_options]\n"
        'username = "user"\nproject_keyword = "k"\noutput_sender_number = "123"\n'
        f'url = "{url}"\nmax_batch_size = 2\n'
    )


@pytest.fixture
def gateway() -> Iterator[ATSGateway]:
    """The ATS gateway, up until the test closes it."""
    with ATSGateway() as gateway:
        yield gateway


def _campaign(cli: CLI, count: int) -> None:
    rows = "".join(f"+42077700{i:04d},message {i}\n" for i in range(count))
    (cli.cwd / "campaign.csv").write_text("recipient,content\n" + rows)
    cli.ok("send-many", "campaign.csv", env=PASSWORD)


class TestCheckDelivery:
    def test_a_gateway_that_went_down_exits_1_with_a_few_lines(self, cli: CLI, gateway: ATSGateway) -> None:
        """Ten messages sent while it was up; the check after it went down fails every request (five chunks):
        exit 1, the report counts them, and stderr does not grow with the number of chunks."""
        (cli.cwd / "smscore.toml").write_text(_config(gateway.url, batch_sending=False))
        cli.env.update(PASSWORD)
        _campaign(cli, 10)
        gateway.close()
        result = cli("check-delivery", "--json")
        assert result.status == 1
        assert json.loads(result.stdout)["failed_chunks"] == 5
        lines = result.stderr.strip().splitlines()
        assert len(lines) <= 4, result.stderr
        assert "(-v shows each)" in result.stderr
        assert lines[-1] == (
            "smscore: error: 5 provider request(s) failed; their messages are asked about again on the next run"
        )

    def test_a_gateway_that_is_up_exits_0(self, cli: CLI, gateway: ATSGateway) -> None:
        """The same check with the gateway answering: exit 0, nothing on stderr."""
        (cli.cwd / "smscore.toml").write_text(_config(gateway.url, batch_sending=False))
        cli.env.update(PASSWORD)
        _campaign(cli, 10)
        report = json.loads(cli.ok("check-delivery", "--json"))
        assert (report["checked"], report["failed_chunks"]) == (10, 0)


class TestWorker:
    def test_a_gateway_that_is_down_exits_1_with_a_few_lines(self, cli: CLI, gateway: ATSGateway) -> None:
        """Ten queued messages, the gateway closed: the worker claims them, every request fails, the messages
        wait for a retry; exit 1 naming them, and stderr does not grow with the number of requests."""
        (cli.cwd / "smscore.toml").write_text(_config(gateway.url, batch_sending=True))
        cli.env.update(PASSWORD)
        _campaign(cli, 10)
        gateway.close()
        result = cli("worker", "--once", "--json")
        assert result.status == 1
        report = json.loads(result.stdout)
        assert (report["claimed"], report["states"]) == (10, {"waiting": 10})
        lines = result.stderr.strip().splitlines()
        assert len(lines) <= 4, result.stderr
        assert "gateway not reached" in result.stderr
        assert lines[-1].startswith("smscore: error: 10 of 10 claimed message(s) were not published")

    def test_a_gateway_that_is_up_exits_0(self, cli: CLI, gateway: ATSGateway) -> None:
        """The same queue with the gateway answering: exit 0, all ten taken."""
        (cli.cwd / "smscore.toml").write_text(_config(gateway.url, batch_sending=True))
        cli.env.update(PASSWORD)
        _campaign(cli, 10)
        report = json.loads(cli.ok("worker", "--once", "--json"))
        assert report["states"] == {"sending": 10}
