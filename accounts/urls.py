from django.urls import path

from accounts import activity_views, alert_views, team_views, views

app_name = "accounts"

urlpatterns = [
    path("", views.home, name="home"),
    path("businesses/", views.business_list, name="business_list"),
    path("businesses/new/", views.business_create, name="business_create"),
    path("businesses/<int:business_id>/switch/", views.business_switch, name="business_switch"),
    path("settings/", views.business_settings, name="business_settings"),
    path("profile/", views.profile, name="profile"),
    path("team/", views.team, name="team"),
    path("team/invite/", views.invitation_create, name="invitation_create"),
    path("team/invitations/<int:invitation_id>/resend/", views.invitation_resend, name="invitation_resend"),
    path("team/invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("team/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("team/<int:membership_id>/role/", views.member_role, name="member_role"),
    path("settings/assignment/", team_views.assignment_settings, name="assignment_settings"),
    path("activity/", activity_views.activity_log, name="activity_log"),
    path("activity/export.csv", activity_views.activity_export, name="activity_export"),
    path("activity/retention/", activity_views.activity_retention, name="activity_retention"),
    path("team/teams/new/", team_views.team_create, name="team_create"),
    path("team/teams/<int:team_id>/rename/", team_views.team_rename, name="team_rename"),
    path("team/teams/<int:team_id>/delete/", team_views.team_delete, name="team_delete"),
    path("team/teams/<int:team_id>/members/", team_views.team_members, name="team_members"),
    # The link mailed to an invitee (public: the token is the credential), then the page that accepts it.
    path("invitations/accept/", views.invitation_accept, name="invitation_accept"),
    path("invitations/<str:token>/", views.invitation_open, name="invitation_open"),
    path("profile/notifications/", alert_views.alert_preferences, name="alert_preferences"),
]
