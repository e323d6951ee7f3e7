"""Checked by clients no one here wrote: drive the APNs stand-in with `aioapns` and the
FCM stand-in with `firebase-admin` (both from PyPI), unchanged but for the host they talk to, and
show that each accepts a good request and answers a bad token with the vendor's error.

Run by .ci/run after the Rust tests: python3 .ci/vendor_clients.py
"""

import asyncio
import warnings
import json
import ssl
import subprocess
import sys
import uuid
from urllib.parse import urlparse


def start_mocks():
    proc = subprocess.Popen(
        ["cargo", "run", "-q", "-p", "openpush-vendor-mock", "--example", "mock_vendors", "--", "--apns-tls"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    return proc, json.loads(proc.stdout.readline())


async def check_apns(info):
    from aioapns import APNs, NotificationRequest
    from aioapns import connection

    url = urlparse(info["apns_url"])
    # The only change: where the client connects. TLS, HTTP/2 and the ES256 token are aioapns's own.
    for cls in (connection.APNsProductionClientProtocol, connection.APNsDevelopmentClientProtocol):
        cls.APNS_SERVER = url.hostname
        cls.APNS_PORT = url.port
    ctx = ssl.create_default_context(cadata=info["apns_cert_pem"])
    client = APNs(
        key=info["apns_p8"],
        key_id=info["apns_key_id"],
        team_id=info["apns_team_id"],
        topic=info["apns_bundle_id"],
        use_sandbox=False,
        ssl_context=ctx,
        max_connection_attempts=2,
    )
    good = await client.send_notification(
        NotificationRequest(device_token="a1" * 32, message={"aps": {"alert": {"title": "t", "body": "b"}}}, notification_id=str(uuid.uuid4()))
    )
    assert good.is_successful, f"APNs refused a good push: {good.status} {good.description}"
    bad = await client.send_notification(
        NotificationRequest(device_token="not-a-token", message={"aps": {"alert": "x"}}, notification_id=str(uuid.uuid4()))
    )
    assert not bad.is_successful and bad.status == "400" and bad.description == "BadDeviceToken", (
        f"APNs answered a bad token with {bad.status} {bad.description}"
    )
    print(f"aioapns: good push accepted ({good.notification_id}); bad token -> {bad.status} {bad.description}")


def check_fcm(info):
    import firebase_admin
    from firebase_admin import credentials, messaging
    from firebase_admin import exceptions

    sa = info["fcm_service_account"]
    # The only change: the send URL. The OAuth token URL comes from the service account, as with Google's.
    messaging._MessagingService.FCM_URL = info["fcm_url"].rstrip("/") + "/v1/projects/{0}/messages:send"
    app = firebase_admin.initialize_app(credentials.Certificate(sa), name="openpush-ci")
    token = "dGVzdC10b2tlbi0x:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx-test-token-0001"
    name = messaging.send(messaging.Message(token=token, notification=messaging.Notification(title="t", body="b"), data={"k": "v"}), app=app)
    assert name.startswith(f"projects/{sa['project_id']}/messages/"), name
    try:
        messaging.send(messaging.Message(token="bad token", data={"k": "v"}), app=app)
    except exceptions.InvalidArgumentError as e:
        print(f"firebase-admin: good message accepted ({name}); bad token -> InvalidArgumentError: {e}")
    else:
        raise AssertionError("FCM accepted a malformed registration token")


def main():
    # firebase-admin 7 deprecates Message.token in favour of fid; the wire format is the same.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    proc, info = start_mocks()
    try:
        asyncio.run(check_apns(info))
        check_fcm(info)
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
