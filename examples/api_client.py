"""List a business's unread conversations through the Social Inbox REST API, and answer one.

    SOCIAL_INBOX_URL=http://127.0.0.1:8000 SOCIAL_INBOX_KEY=si_... python examples/api_client.py
    SOCIAL_INBOX_KEY=si_... python examples/api_client.py --reply "Thanks, we're on it!"

The key comes from Settings → API keys (a "read and write" key to reply). Replies carry an
Idempotency-Key, so running the same reply twice (say after a timeout) sends it once. See docs/api.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid

import requests

TIMEOUT = (3.05, 15)


class Api:
    def __init__(self, base_url: str, key: str) -> None:
        self.base = base_url.rstrip("/") + "/api/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def request(self, method: str, path: str, **kwargs) -> dict:
        for _ in range(5):
            answer = self.session.request(method, self.base + path, timeout=TIMEOUT, **kwargs)
            if answer.status_code == 429:  # over the key's rate: wait as told, then try again
                time.sleep(int(answer.headers.get("Retry-After", "5")))
                continue
            if answer.status_code >= 400:
                error = answer.json().get("error", {})
                raise SystemExit(f"{method} {path}: {answer.status_code} {error.get('code')}: {error.get('message')}")
            return answer.json()
        raise SystemExit("Still rate limited; try again later.")

    def unread_conversations(self):
        """Every unread conversation, newest first, following the cursor from page to page."""
        cursor = None
        while True:
            params = {"unread": "true", "limit": 50, **({"cursor": cursor} if cursor else {})}
            page = self.request("GET", "/conversations", params=params)
            yield from page["data"]
            cursor = page["nextCursor"]
            if not cursor:
                return

    def reply(self, conversation_id: str, text: str, idempotency_key: str) -> dict:
        return self.request(
            "POST", f"/conversations/{conversation_id}/messages", json={"text": text},
            headers={"Idempotency-Key": idempotency_key},
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("SOCIAL_INBOX_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--reply", help="answer the newest unread conversation with this text")
    parser.add_argument("--idempotency-key", default=str(uuid.uuid4()),
                        help="reuse it to retry the same reply safely (a new one is made by default)")
    args = parser.parse_args()
    key = os.environ.get("SOCIAL_INBOX_KEY")
    if not key:
        parser.error("set SOCIAL_INBOX_KEY to an API key (Settings → API keys)")
    api = Api(args.url, key)

    unread = list(api.unread_conversations())
    for conversation in unread:
        who = next((n for n in conversation["participantNames"] if n), "") or "(no name)"
        print(f"{conversation['id']}  {conversation['platform']:<9}  {conversation['unreadCount']:>3} unread  "
              f"{who}: {conversation['lastMessagePreview']}")
    if not unread:
        print("No unread conversations.")
        return 0
    if args.reply:
        newest = unread[0]
        message = api.reply(newest["id"], args.reply, args.idempotency_key)
        print(f"Reply {message['id']} is {message['status']} (Idempotency-Key {args.idempotency_key}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
