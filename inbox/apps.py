from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Inbox"

    def ready(self) -> None:
        # signals: ends open inbox sockets when access ends, whatever path ended it (inbox.access).
        # report_tasks: the reports' rollup task lives outside `inbox.tasks`, which is all Celery's
        # autodiscovery reads; imported here, every process knows it (workers, beat, runserver's runner).
        from inbox import report_tasks, signals  # noqa: F401
