"""adapters_sqlalchemy"""
