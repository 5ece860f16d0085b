"""How the SNS backend is configured: its options, and the boto3 clients built from them (with the HTTP session
that gives every request one deadline, :mod:`providers._boto_http`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import attrs
import boto3
import botocore.exceptions as boto_errors
from botocore.config import Config

from providers._boto_http import DeadlineSession, install
from providers._sns_wire import SENDER_ID, SMS_TYPES, log_group_name
from providers.options import Amount, Boolean, Choice, Integer, Option, OptionSpec, OptionValues, Seconds, Text
from smscore.errors import ConfigurationError

__all__ = ["OPTIONS", "Clients", "build_clients"]

_CREDENTIALS: Final = "without them boto3's default credential chain applies (environment, profile, role...)"

#: Every option of the SNS backend (the table of the module docstring).
OPTIONS: Final = OptionSpec(
    "SNS",
    Option("aws_access_key_id", Text(), needs=("aws_secret_access_key",), description=f"access key; {_CREDENTIALS}"),
    Option(
        "aws_secret_access_key",
        Text(),
        secret=True,
        needs=("aws_access_key_id",),
        description="secret of the access key",
    ),
    Option(
        "aws_session_token",
        Text(),
        secret=True,
        needs=("aws_access_key_id",),
        description="session token of temporary credentials",
    ),
    Option(
        "region",
        Text(),
        aliases=("aws_region",),
        description="AWS region of the SNS endpoint; required if boto3 has none",
    ),
    Option("endpoint_url", Text(), description="another endpoint (a VPC endpoint, a local emulator)"),
    Option(
        "sender_id",
        Text(SENDER_ID, "1-11 letters, digits or hyphens with at least one letter"),
        description="``AWS.SNS.SMS.SenderID``",
    ),
    Option("sms_type", Choice(SMS_TYPES), default="Transactional", description="``AWS.SNS.SMS.SMSType``"),
    Option("max_price", Amount("USD"), description="``AWS.SNS.SMS.MaxPrice`` in USD"),
    Option("origination_number", Text(), description="``AWS.MM.SMS.OriginationNumber``"),
    Option("connect_timeout", Seconds(), default=5.0, description="seconds to connect"),
    Option("read_timeout", Seconds(), default=10.0, description="seconds to wait for each read of the answer"),
    Option(
        "timeout",
        Seconds(),
        default=15.0,
        description="seconds one whole SNS or CloudWatch Logs call may take: connecting, sending, the whole "
        "answer, retries of reads included",
    ),
    Option(
        "max_attempts",
        Integer(1),
        default=3,
        description="attempts per message while SNS certainly did not take it",
    ),
    Option(
        "threads",
        Integer(1, 100),
        default=10,
        description="most SNS or CloudWatch Logs calls running at once under asyncio (the threads boto3 runs in); "
        "also the size of each client's connection pool",
    ),
    Option("check_delivery", Boolean(), default=False, description="read delivery status logs"),
    Option(
        "delivery_status_log_group",
        Text(),
        description="the success log group; implies ``check_delivery``",
    ),
    Option("account_id", Text(), description="AWS account of the log groups (asked from STS when missing)"),
    Option("logs_endpoint_url", Text(), description="endpoint of CloudWatch Logs (``endpoint_url`` by default)"),
    Option(
        "inbound_topic_arns",
        Text(),
        description="the topics (ARNs, comma-separated) whose HTTPS deliveries of two-way SMS are accepted",
    ),
)


def _session(values: OptionValues) -> Any:
    try:
        session = boto3.session.Session(
            aws_access_key_id=values["aws_access_key_id"],
            aws_secret_access_key=values["aws_secret_access_key"],
            aws_session_token=values["aws_session_token"],
            region_name=values["region"],
        )
    except boto_errors.BotoCoreError as exc:
        raise ConfigurationError(f"cannot set up the AWS session: {type(exc).__name__}") from None
    if not session.region_name:
        raise ConfigurationError("option 'region' is required (boto3 has no default region)", key="region")
    return session


def _config(values: OptionValues, *, attempts: int) -> Config:
    return Config(
        connect_timeout=values["connect_timeout"],
        read_timeout=values["read_timeout"],
        retries={"mode": "standard", "total_max_attempts": attempts},
    )


def _http_session(values: OptionValues) -> DeadlineSession:
    return DeadlineSession(
        timeout=values["timeout"],
        connect_timeout=values["connect_timeout"],
        read_timeout=values["read_timeout"],
        max_connections=values["threads"],
    )


def _delivery_log_group(values: OptionValues, session: Any, config: Config) -> str | Callable[[], str]:
    group: str | None = values["delivery_status_log_group"]
    if group is not None:
        return group
    if values["account_id"] is not None:
        return log_group_name(session.region_name, values["account_id"])
    return _log_group_from_sts(session, session.region_name, values["endpoint_url"], config)


def _log_group_from_sts(session: Any, region: str, endpoint_url: str | None, config: Config) -> Callable[[], str]:
    def resolve() -> str:
        sts = session.client("sts", endpoint_url=endpoint_url, config=config)
        try:
            account = sts.get_caller_identity()["Account"]
        finally:
            sts.close()
        return log_group_name(region, account)

    return resolve


@attrs.frozen
class Clients:
    """The clients of one backend: SNS, and for delivery checks CloudWatch Logs and the success log group's name
    (or a callable returning it, asked from STS at the first check)."""

    sns: Any
    logs: Any = None
    log_group: str | Callable[[], str] | None = None


def build_clients(values: OptionValues) -> Clients:
    """Build the clients the options ask for; no request is made. Raises
    :class:`~smscore.errors.ConfigurationError` keyed by the option botocore refuses (region, endpoint)."""
    session = _session(values)
    endpoint_url = values["endpoint_url"]
    # Reading logs is safe to retry (botocore's standard retries apply); publishing is not: botocore must not
    # retry it, as it would after a read timeout.
    read_config = _config(values, attempts=max(3, values["max_attempts"]))
    built: list[Any] = []
    try:
        built.append(session.client("sns", endpoint_url=endpoint_url, config=_config(values, attempts=1)))
        if values["check_delivery"] or values["delivery_status_log_group"] is not None:
            logs_endpoint_url = values["logs_endpoint_url"] or endpoint_url
            built.append(session.client("logs", endpoint_url=logs_endpoint_url, config=read_config))
        for client in built:
            install(client, _http_session(values))
    except ValueError as exc:
        # botocore refuses a malformed region name or endpoint URL with a ValueError subclass.
        for client in built:
            client.close()
        bad = "endpoint_url" if "endpoint" in str(exc).lower() else values.key("region")
        raise ConfigurationError(f"option {bad!r} is invalid: {type(exc).__name__}", key=bad) from None
    if len(built) == 1:
        return Clients(built[0])
    return Clients(built[0], built[1], _delivery_log_group(values, session, read_config))
