"""Presence with the stock python-socketio client, across two gateways, one of them killed.

Usage: presence_scenario.py DOOMED_GATEWAY_URL SURVIVING_GATEWAY_URL DOOMED_PID TTL_SECONDS
A's first tab is on the doomed gateway, everything else on the survivor. Checks that a second
tab announces nothing, that closing every tab announces offline with lastSeen, that strangers
hear nothing, that a hidden lastSeen is null, and finally kills the doomed gateway (SIGKILL) and
waits for A to go offline within twice the TTL. Prints one line per check; exits non-zero if any
failed.
"""
import os
import signal
import sys
import threading
import time

import requests
import socketio

from scenario import check, finish, signup

DOOMED = sys.argv[1].rstrip("/")
SURVIVOR = sys.argv[2].rstrip("/")
DOOMED_PID = int(sys.argv[3])
TTL = float(sys.argv[4])




class Watcher:
    """A connected user who records every user_status_change."""

    def __init__(self, token, url):
        self.client = socketio.Client(reconnection=False)
        self.changes = []
        self.arrived = threading.Condition()

        @self.client.on("user_status_change")
        def on_change(data):
            with self.arrived:
                self.changes.append(data)
                self.arrived.notify_all()

        self.client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=5)

    def next_change(self, user_id, timeout):
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                for i, change in enumerate(self.changes):
                    if change.get("userId") == user_id:
                        return self.changes.pop(i)
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.arrived.wait(left)


def tab(token, url):
    client = socketio.Client(reconnection=False)
    client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=5)
    return client


token_a, id_a = signup(SURVIVOR, "A")
token_b, id_b = signup(SURVIVOR, "B")
token_s, _ = signup(SURVIVOR, "Stranger")
requests.post(f"{SURVIVOR}/api/chats", json={"userId": id_b},
              headers={"Authorization": f"Bearer {token_a}"}, timeout=10).raise_for_status()
b = Watcher(token_b, SURVIVOR)
stranger = Watcher(token_s, SURVIVOR)

first = tab(token_a, DOOMED)
online = b.next_change(id_a, 10)
check("first tab: contacts hear A come online", online is not None and online["isOnline"] is True, online)

second = tab(token_a, SURVIVOR)
time.sleep(1)
second.disconnect()
time.sleep(1)
check("a second tab, opened and closed, announces nothing", b.next_change(id_a, 0.1) is None, b.changes)

first.disconnect()
offline = b.next_change(id_a, 10)
check("last tab closed: offline with lastSeen",
      offline is not None and offline["isOnline"] is False and offline.get("lastSeen"), offline)
status = requests.get(f"{SURVIVOR}/api/users/status", params={"ids": id_a},
                      headers={"Authorization": f"Bearer {token_b}"}, timeout=10).json()["data"]
check("GET /api/users/status agrees", status and status[0]["isOnline"] is False and status[0]["lastSeen"], status)
check("strangers hear nothing", stranger.next_change(id_a, 0.1) is None, stranger.changes)

requests.patch(f"{SURVIVOR}/api/users/me", json={"showLastSeen": False},
               headers={"Authorization": f"Bearer {token_a}"}, timeout=10).raise_for_status()
hidden_tab = tab(token_a, SURVIVOR)
b.next_change(id_a, 10)
hidden_tab.disconnect()
hidden = b.next_change(id_a, 10)
check("hidden lastSeen is null in the event", hidden is not None and hidden["isOnline"] is False and hidden["lastSeen"] is None, hidden)
answer = b.client.call("get_status", {"userIds": [id_a]}, timeout=10)
check("hidden lastSeen is null in get_status", answer.get("ok") and answer["data"][0]["lastSeen"] is None, answer)

doomed_tab = tab(token_a, DOOMED)
check("A is back online through the doomed gateway", (b.next_change(id_a, 10) or {}).get("isOnline") is True, b.changes)
killed_at = time.monotonic()
os.kill(DOOMED_PID, signal.SIGKILL)
gone = b.next_change(id_a, 2 * TTL + 5)
elapsed = time.monotonic() - killed_at
check(f"kill -9 of A's gateway: offline within 2 x TTL ({elapsed:.1f} s of {2 * TTL:.0f} s)",
      gone is not None and gone["isOnline"] is False and elapsed <= 2 * TTL, gone)

for client in (b.client, stranger.client):
    client.disconnect()
finish("all presence checks passed")
