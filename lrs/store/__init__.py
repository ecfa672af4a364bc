"""Storage: Protocols in domain words (base.py) and one implementation per backend.

Only the modules in this package import sqlite3, motor or pymongo.
"""
