#!/usr/bin/env python3
"""A real SMTP server for the e-mail notifier tests: aiosmtpd on 127.0.0.1, a free port
(written to --port-file), every mail parsed and logged as one JSON line to --log.

  --user U --password P   require AUTH (PLAIN/LOGIN), allowed without TLS
  --fail-first N          answer the first N mails' DATA with 451 (a transient failure)
  --tls-cert C --tls-key K --tls MODE
                          MODE "starttls": offer and require STARTTLS; "implicit": TLS
                          from the first byte (smtps)
  --max-lifetime S        exit after S seconds whatever happens

Each log line: {"status": 250|451, "mail_from", "rcpt_tos", "auth_user",
"headers": {name: value}, "text": text/plain part, "html": text/html part,
"content_type": the top-level type}.
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import ssl
import signal
import sys

try:
    from aiosmtpd.smtp import SMTP, AuthResult
except ImportError:
    sys.stderr.write(
        "smtp_sink: aiosmtpd is missing: install python3-aiosmtpd (apt) or `pip install aiosmtpd`\n"
    )
    sys.exit(3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--max-lifetime", type=float, default=600)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--tls", choices=["starttls", "implicit"])
    args = ap.parse_args()

    state = {"seen": 0}

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            state["seen"] += 1
            status = 451 if state["seen"] <= args.fail_first else 250
            msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
            text = msg.get_body(preferencelist=("plain",))
            html = msg.get_body(preferencelist=("html",))
            rec = {
                "status": status,
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "auth_user": getattr(session, "auth_data", None) and session.auth_data.login.decode(),
                "tls": tls_version(server, session),
                "content_type": msg.get_content_type(),
                "headers": {k: str(v) for k, v in msg.items()},
                "text": text.get_content() if text else None,
                "html": html.get_content() if html else None,
            }
            with open(args.log, "a") as f:
                f.write(json.dumps(rec) + "\n")
            if status == 451:
                return "451 4.3.0 Try again later"
            return "250 OK"

    def tls_version(server, session):
        obj = server.transport.get_extra_info("ssl_object")
        if obj is None and session.ssl:
            obj = session.ssl.get("ssl_object")
        return obj.version() if obj is not None else None

    ctx = None
    if args.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            auth_data.login.decode() == args.user
            and auth_data.password.decode() == args.password
        )
        return AuthResult(success=ok, auth_data=auth_data)

    async def serve():
        loop = asyncio.get_running_loop()
        kwargs = {}
        if args.user:
            kwargs = dict(
                authenticator=authenticator,
                auth_required=True,
                auth_require_tls=False,
            )
        if args.tls == "starttls":
            kwargs.update(tls_context=ctx, require_starttls=True, auth_require_tls=True)
        server = await loop.create_server(
            lambda: SMTP(Handler(), hostname="sink.test", **kwargs),
            "127.0.0.1",
            0,
            ssl=ctx if args.tls == "implicit" else None,
        )
        port = server.sockets[0].getsockname()[1]
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(port))
        os.replace(tmp, args.port_file)
        loop.add_signal_handler(signal.SIGTERM, server.close)
        try:
            await asyncio.wait_for(server.serve_forever(), args.max_lifetime)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            pass

    asyncio.run(serve())


if __name__ == "__main__":
    main()
