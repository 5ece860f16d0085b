"""adapters_django"""
