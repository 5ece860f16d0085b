"""The ancestor's backend package: only its SMS part (:mod:`pymess.backend.sms`) is provided."""
