"""ONVIF cameras: events, PTZ, streams and health, many cameras in one process (see README.md)."""
