"""gunicorn settings, given with ``--config python:app.gunicorn_conf`` (the Procfile's web process).

The access line leaves out the query string (``%(U)s`` is the path alone, not ``%(r)s``), the
Basic-auth user name, and the Referer, which carries the dashboard's search terms: an API key sent
in a URL by mistake, or a person's number in a search, must not be written to the log. The request
id (the ``X-Request-ID`` response header) ties the line to the app's JSON log lines.
"""
access_log_format = '%(h)s - [%(t)s] "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s" %({x-request-id}o)s'
