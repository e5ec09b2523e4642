from django.apps import AppConfig


class SocialConfig(AppConfig):
    name = "social"
    verbose_name = "Connected accounts"

    def ready(self) -> None:
        from social import checks  # noqa: F401 - registers the system checks
