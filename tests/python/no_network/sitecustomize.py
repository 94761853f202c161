"""Loaded at interpreter start-up when this folder is on PYTHONPATH: every network connection or
name lookup fails, and is logged to $VSP_NETWORK_LOG, so that a test can show that a process
never tried to reach the Hugging Face hub (even where a library would catch the error and go on)."""
import os
import socket


def _refuse(*args, **kwargs):
    log = os.environ.get("VSP_NETWORK_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"network access attempted: {args[1:] or args}\n")
    raise ConnectionRefusedError("network access is disabled in this test")


socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
