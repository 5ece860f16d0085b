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
        report = json.loads(result.stdout)
        assert report["failed_chunks"] == 5
        assert report["failures"]["default"]["messages"] == 10
        assert result.stderr.strip().splitlines() == [
            "smscore: provider 'default': 10 message(s) not checked: ProviderError: ATS delivery check failed: "
            "gateway not reached (ConnectError)",
            "smscore: error: requests to 'default' failed; their messages are asked about again on the next run "
            "(-v shows each request)",
        ]

    def test_verbose_shows_each_request(self, cli: CLI, gateway: ATSGateway) -> None:
        """-v: every failed request is logged, as it happens."""
        (cli.cwd / "smscore.toml").write_text(_config(gateway.url, batch_sending=False))
        cli.env.update(PASSWORD)
        _campaign(cli, 10)
        gateway.close()
        result = cli("-v", "check-delivery")
        assert result.status == 1
        assert result.stderr.count("smscore: warning: ATS delivery check of 2 message(s) failed") == 5

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
        assert report["failures"]["default"]["messages"] == 10
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 2, result.stderr
        assert lines[0].startswith("smscore: provider 'default': 10 message(s) not published: ")
        assert "gateway not reached" in lines[0]
        assert lines[1].startswith("smscore: error: requests to 'default' failed; waiting messages are retried")

    def test_a_gateway_that_is_up_exits_0(self, cli: CLI, gateway: ATSGateway) -> None:
        """The same queue with the gateway answering: exit 0, all ten taken."""
        (cli.cwd / "smscore.toml").write_text(_config(gateway.url, batch_sending=True))
        cli.env.update(PASSWORD)
        _campaign(cli, 10)
        report = json.loads(cli.ok("worker", "--once", "--json"))
        assert report["states"] == {"sending": 10}
