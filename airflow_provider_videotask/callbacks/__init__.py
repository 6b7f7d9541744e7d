"""Vendor callbacks: the capability in each callback URL (``address.py``), the api-server's receiver
(``receiver.py``, shipped as the plugin of ``plugin.py``) and how it resumes a deferred wait (``resume.py``).

A callback is only a hint: the receiver reads the tasks from the vendor and applies the waiting rules
(``wait_rules.py``) before it resumes anything; the shared poller goes on reading as the safety net.
See ``docs/callbacks.md``.
"""
