"""Storage: Protocols in domain words (base.py) and one implementation per backend.

`engine` is the public part other packages build their stores on (`open_store`). Only the
modules in this package, and the other packages' `store` packages, import sqlite3, motor or
pymongo.
"""
