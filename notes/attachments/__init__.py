"""Attachments: files on notes, kept once per user per SHA-256.

`sniff` names a file's type from its bytes, `storage` reads and writes the
bytes through Django's storage API, `services` is the only code that adds
or removes attachments and the files behind them, `downloads` answers a
file with ranges and the headers that keep it from running as this site,
and `views` serves all of it over HTTP.
"""
