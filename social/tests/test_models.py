from __future__ import annotations

import pytest
from django.db import IntegrityError

from social.models import Platform
from social.tests.factories import SocialAccountFactory

pytestmark = pytest.mark.django_db


def test_a_page_cannot_be_owned_twice(business, other_business):
    SocialAccountFactory(business=business, account_id="104857600123456")
    with pytest.raises(IntegrityError):
        SocialAccountFactory(business=other_business, account_id="104857600123456")


def test_the_same_id_on_another_platform_is_another_account(business):
    SocialAccountFactory(business=business, account_id="17841400000000000", platform=Platform.FACEBOOK)
    SocialAccountFactory(business=business, account_id="17841400000000000", platform=Platform.INSTAGRAM)


def test_instagram_sends_through_its_parent_page(business):
    page = SocialAccountFactory(business=business)
    instagram = SocialAccountFactory(business=business, platform=Platform.INSTAGRAM, page=page)
    assert instagram.send_account == page
    assert page.send_account == page
