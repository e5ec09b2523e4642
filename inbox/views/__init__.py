"""The inbox's pages and actions, one module per feature; each view is thin (forms in, services and
selectors do the work, templates out):

- ``conversations``: the list, a conversation, replies, read/unread, statuses, priority, the dashboard;
- ``assignment``: the assignee and team picker and its action;
- ``labels``: labels on a conversation, and their settings page;
- ``saved_replies``: the composer's saved replies, and their settings page;
- ``notes``: private notes in a thread;
- ``notifications``: a member's notifications and mentions.
- ``bulk``: the list's bulk actions on the selected conversations.
"""
