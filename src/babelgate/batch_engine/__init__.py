"""The batch engine: runs the lines of `/v1/batches` and `/v1/messages/batches` through the gateway's own
pipeline (line.py), a chunk of lines at a time under a lease (engine.py), and writes a finished batch's output
and error files (results.py)."""
