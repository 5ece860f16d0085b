"""The ancestor's models package: only its SMS models (:mod:`pymess.models.sms`) are provided.

Importing it needs Django's app registry ready (it imports smscore's models), as importing any models module does.
"""
