"""Mounted at /sandbox/ only when settings.SANDBOX is true (config/urls.py); never in production."""

from __future__ import annotations

from django.urls import path, re_path

from sandbox import compliance, graph_comments, graph_handover, history, views

app_name = "sandbox"

urlpatterns = [
    path("", views.index, name="index"),
    path("dialog/oauth", views.dialog, name="dialog"),
    re_path(r"^graph/(?P<version>v\d+\.\d+)/(?P<path>.+)$", views.graph_api, name="graph"),
    path("cdn/<path:name>", views.cdn, name="cdn"),
    # The customer simulator's attachment URLs use this prefix; same fake media.
    path("media/<path:name>", views.cdn, name="media"),
    path("control/tokens/<slug:action>", views.control_tokens, name="control_tokens"),
    path("control/faults", views.control_faults, name="control_faults"),
    path("control/sent.json", views.control_sent, name="control_sent"),
    path("control/calls.json", views.control_calls, name="control_calls"),
    path("control/config", views.control_config, name="control_config"),
    path("control/unsubscribe", views.control_unsubscribe, name="control_unsubscribe"),
    path("control/customers", views.control_customers, name="control_customers"),
    path("control/message", views.control_message, name="control_message"),
    path("control/reset", views.control_reset, name="control_reset"),
    path("control/thread", graph_handover.control_thread, name="control_thread"),
    # Meta's compliance callbacks, as Meta sends them, for a sandbox Facebook user (sandbox/compliance.py).
    path("control/data-deletion", compliance.control_data_deletion, name="control_data_deletion"),
    path("control/deauthorize", compliance.control_deauthorize, name="control_deauthorize"),
    path("control/history", history.control_history, name="control_history"),
    # Someone comments on a post or media, and answers a private reply (sandbox/graph_comments.py).
    path("control/comment", graph_comments.control_comment, name="control_comment"),
    path("control/comment-answer", graph_comments.control_comment_answer, name="control_comment_answer"),
]
