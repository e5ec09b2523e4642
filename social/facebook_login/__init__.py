"""Sign in with Facebook through django-allauth, with Meta's URLs read when used, not at import.

allauth's Facebook provider fixes its dialog and Graph URLs when it is imported (docs/messenger-platform.md
§14.4); this package is the same provider with an adapter that reads FACEBOOK_DIALOG_URL and
FACEBOOK_GRAPH_URL on each request, and makes its Graph calls through social.graph.GraphClient.
It is selected by SOCIALACCOUNT_PROVIDERS["facebook"]["provider_class"]; allauth then serves its
login and callback views from this package's urls.py under /accounts/facebook/.
"""
