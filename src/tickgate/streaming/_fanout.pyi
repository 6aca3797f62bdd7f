# The compiled fan-out core (_fanout.c) has the interface of its pure-Python twin, call by call
# (tests/streaming/test_fanout_core.py compares the two): the twin's declarations are its types.
from tickgate.streaming._fanout_py import WRITE_SAMPLE_EVERY as WRITE_SAMPLE_EVERY
from tickgate.streaming._fanout_py import OutboxCore as OutboxCore
from tickgate.streaming._fanout_py import publish as publish
