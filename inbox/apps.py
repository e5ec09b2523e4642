from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Inbox"

    def ready(self) -> None:
        # Ends open inbox sockets when access ends, whatever path ended it (inbox.access).
        from inbox import signals  # noqa: F401
