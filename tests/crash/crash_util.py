"""Helpers shared by the crash tests (log_crash_test.py, engine_crash_test.py,
order_crash_test.py)."""


def complete_lines(path):
    """The file's complete lines: a last line cut by the kill (no newline) is dropped."""
    with open(path, "rb") as f:
        data = f.read()
    cut = data.rfind(b"\n")
    return data[:cut + 1] if cut >= 0 else b""


def tail(path, limit=4000):
    """The end of a file, as text, for failure messages."""
    with open(path, "rb") as f:
        data = f.read()
    return data[-limit:].decode("utf-8", "replace")
