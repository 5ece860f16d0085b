import boto3  # noqa: F401  # a module that needs the sns extra, for the missing-SDK test
