"""Tests of the smscore command line, run as a real subprocess."""
