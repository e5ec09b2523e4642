from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Inbox"

    def ready(self) -> None:
        # signals: ends open inbox sockets when access ends, whatever path ended it (inbox.access).
        # report_tasks: the reports' rollup task lives outside `inbox.tasks`, which is all Celery's
        # autodiscovery reads; imported here, every process knows it (workers, beat, runserver's runner).
        # The activity log links an action to its conversation through the inbox (accounts knows no inbox).
        from accounts.activity import target_linker_register
        from inbox import report_tasks, signals  # noqa: F401
        from inbox.selectors import conversation_links

        target_linker_register("inbox.conversation", conversation_links)
