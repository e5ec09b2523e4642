from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.home, name="home"),
    path("businesses/", views.business_list, name="business_list"),
    path("businesses/new/", views.business_create, name="business_create"),
    path("businesses/<int:business_id>/switch/", views.business_switch, name="business_switch"),
    path("team/", views.team, name="team"),
    path("team/add/", views.member_add, name="member_add"),
    path("team/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("team/<int:membership_id>/role/", views.member_role, name="member_role"),
]
