"""Parley with the stock python-socketio client: the scenarios a real client runs.

Usage: socketio_scenario.py BASE_URL [SECOND_GATEWAY_URL]
Signs up its own users over REST, then checks transports, handshake auth and chat events. With a
second gateway, the receiving user's sockets connect there, so delivery crosses nodes.
Prints one line per check and exits non-zero if any failed.
"""
import sys
import threading

import requests
import socketio

from scenario import check, finish, signup

BASE = sys.argv[1].rstrip("/")
OTHER = sys.argv[2].rstrip("/") if len(sys.argv) > 2 else BASE




def connect(token=None, transports=None, header=False, auth=True, errors=None, url=None):
    client = socketio.Client(reconnection=False)
    received = []
    arrived = threading.Event()

    @client.event
    def connect_error(data):
        if errors is not None:
            errors.append(data.get("message") if isinstance(data, dict) else data)

    @client.on("message_received")
    def on_message(data):
        received.append(data)
        arrived.set()

    changes = []

    @client.on("message_updated")
    def on_updated(data):
        changes.append(("updated", data))

    @client.on("message_deleted")
    def on_deleted(data):
        changes.append(("deleted", data))

    @client.on("typing")
    def on_typing(data):
        changes.append(("typing", data))

    @client.on("stop_typing")
    def on_stop_typing(data):
        changes.append(("stop_typing", data))

    kwargs = {"transports": transports or ["websocket"], "wait_timeout": 5}
    if token and auth:
        kwargs["auth"] = {"token": token}
    if token and header:
        kwargs["headers"] = {"Authorization": f"Bearer {token}"}
    client.connect(url or BASE, **kwargs)
    client.received = received
    client.arrived = arrived
    client.changes = changes
    return client


def connect_error(**kwargs):
    """The CONNECT_ERROR message the server answered, or None if it accepted."""
    errors = []
    try:
        client = connect(errors=errors, **kwargs)
        client.disconnect()
        return None
    except socketio.exceptions.ConnectionError as error:
        return errors[0] if errors else str(error)


token_a, id_a = signup(BASE, "Ann")
token_b, id_b = signup(BASE, "Bob")
token_c, _ = signup(BASE, "Cid")
chat = requests.post(f"{BASE}/api/chats", json={"userId": id_b},
                     headers={"Authorization": f"Bearer {token_a}"}, timeout=10).json()["data"]

# Transports and authentication.
for transports in (["websocket"], ["polling"], ["polling", "websocket"]):
    client = connect(token_a, transports=transports)
    check(f"connect over {'+'.join(transports)}", client.connected and client.sid is not None)
    if transports == ["polling", "websocket"]:
        client.sleep(0.5)
        check("polling upgrades to websocket", client.transport() == "websocket", client.transport())
    client.disconnect()

client = connect(token_a, header=True, auth=False)
check("auth by Authorization header", client.connected)
client.disconnect()

error = connect_error(token=None)
check("missing token is refused", error == "Authentication token required", error)
error = connect_error(token="not-a-token")
check("bad token is refused", error == "Invalid authentication token", error)
forged = token_a[:-2] + ("AA" if not token_a.endswith("AA") else "BB")
error = connect_error(token=forged)
check("forged signature is refused", error == "Invalid authentication token", error)
error = connect_error(token=token_a, transports=["polling"])
check("a valid token is accepted over polling too", error is None, error)

# Chat: send with ack, delivery to the other member's two sockets and the sender's other device.
sender = connect(token_a)
sender_other_device = connect(token_a, transports=["polling"])
b_tab_1 = connect(token_b, url=OTHER)
b_tab_2 = connect(token_b, transports=["polling", "websocket"], url=OTHER)
stranger = connect(token_c)

answer = sender.call("send_message", {"chatId": chat["id"], "text": "hello from python", "clientMessageId": "py-1"}, timeout=10)
check("send_message acks ok with the message", answer.get("ok") is True and answer["data"]["content"]["text"] == "hello from python", answer)
message_id = answer.get("data", {}).get("id")
for name, receiver in (("B's first socket", b_tab_1), ("B's second socket", b_tab_2), ("A's other device", sender_other_device)):
    receiver.arrived.wait(5)
    ids = [m["id"] for m in receiver.received]
    check(f"message_received on {name}", message_id in ids, ids)
stranger.sleep(0.3)
check("strangers receive nothing", stranger.received == [], stranger.received)

again = sender.call("send_message", {"chatId": chat["id"], "text": "hello from python", "clientMessageId": "py-1"}, timeout=10)
check("a repeated clientMessageId acks the same message", again.get("data", {}).get("id") == message_id, again)

typing = sender.call("typing", {"chatId": chat["id"]}, timeout=10)
sender.call("stop_typing", {"chatId": chat["id"]}, timeout=10)
check("typing acks ok", typing.get("ok") is True, typing)
b_tab_1.sleep(0.3)
relayed = [kind for kind, data in b_tab_1.changes if kind in ("typing", "stop_typing") and data.get("userId") == id_a]
check("typing and stop_typing reach the other member", relayed == ["typing", "stop_typing"], b_tab_1.changes)
check("the typer's own devices get no typing notice", not any(k in ("typing", "stop_typing") for k, _ in sender_other_device.changes), sender_other_device.changes)
stranger_typing = stranger.call("typing", {"chatId": chat["id"]}, timeout=10)
check("a stranger cannot type into the chat", stranger_typing.get("ok") is False and stranger_typing["error"]["code"] == "forbidden", stranger_typing)

read = b_tab_1.call("mark_read", {"chatId": chat["id"], "messageId": message_id}, timeout=10)
check("mark_read acks the read mark", read.get("ok") is True and read["data"]["messageId"] == message_id, read)

edited = sender.call("edit_message", {"messageId": message_id, "text": "edited from python"}, timeout=10)
check("edit_message acks the edited message", edited.get("ok") is True and edited["data"]["isEdited"] is True, edited)
not_yours = b_tab_1.call("edit_message", {"messageId": message_id, "text": "nope"}, timeout=10)
check("editing someone else's message is refused", not_yours.get("ok") is False and not_yours["error"]["code"] == "forbidden", not_yours)
removed = sender.call("delete_message", {"messageId": message_id}, timeout=10)
check("delete_message acks the deleted message", removed.get("ok") is True and removed["data"]["isDeleted"] is True, removed)
b_tab_2.sleep(0.5)
kinds = [kind for kind, data in b_tab_2.changes if data.get("id") == message_id]
check("message_updated and message_deleted reach the other member", kinds == ["updated", "deleted"], b_tab_2.changes)

denied = stranger.call("send_message", {"chatId": chat["id"], "text": "let me in"}, timeout=10)
check("non-member gets an error ack", denied.get("ok") is False and denied["error"]["code"] == "forbidden", denied)
for junk in ("just a string", {"chatId": "nope", "text": "x"}, {"text": 5}, [1, 2], {"chatId": chat["id"], "text": "x", "clientMessageId": 5}):
    reply = sender.call("send_message", junk, timeout=10)
    check(f"junk payload {junk!r} gets an error ack", reply.get("ok") is False and "code" in reply.get("error", {}), reply)
check("the connection stays up after junk", sender.connected)
unknown = sender.call("no_such_event", {}, timeout=10)
check("unknown event gets an error ack", unknown.get("ok") is False, unknown)

for client in (sender, sender_other_device, b_tab_1, b_tab_2, stranger):
    client.disconnect()

finish("all scenarios passed")
