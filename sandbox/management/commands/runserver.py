"""`manage.py runserver` of the embedded default: daphne's, on any port, with tasks after the response.

Before serving, in the process that serves (the autoreloader's child):
- the sandbox URLs not set explicitly (SITE_URL, the Graph API and dialog URLs, the webhook target)
  follow the address actually bound, and that address is recorded for `simulate_customer`
  (config/served_url.py);
- without a broker, Celery tasks go to background threads of this process (config/inprocess_tasks.py),
  with the periodic entries of CELERY_BEAT_SCHEDULE, and a drain applies what the last run left pending.
"""

from __future__ import annotations

import atexit

from daphne.management.commands.runserver import Command as DaphneRunserverCommand
from django.conf import settings

from config import inprocess_tasks
from config.served_url import apply_served_url, forget_served_url, record_served_url, served_url


class Command(DaphneRunserverCommand):
    def inner_run(self, *args, **options):
        url = served_url(self.addr, self.port, protocol=self.protocol)
        apply_served_url(url)
        record_served_url(url)
        atexit.register(forget_served_url)
        runner_started = self._start_tasks()
        try:
            return super().inner_run(*args, **options)
        finally:
            if runner_started:
                inprocess_tasks.runner_stop()
            forget_served_url()

    def _start_tasks(self) -> bool:
        if not (getattr(settings, "TASKS_IN_BACKGROUND_THREAD", False) and settings.CELERY_TASK_ALWAYS_EAGER):
            return False
        inprocess_tasks.runner_start(periodic=settings.CELERY_BEAT_SCHEDULE)
        from inbox.ingest.wake import webhook_events_wake

        # Events stored but not applied when the last run stopped (it abandons its queue).
        webhook_events_wake(force=True)
        return True
